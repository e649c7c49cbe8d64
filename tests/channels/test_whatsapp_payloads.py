"""Every kind of webhook call Meta's Cloud API documents, and Twilio's forms, played
against the real app, its sends going to the Graph stand-in; each with its effect.

Answered:
- text; a reply with context; forwarded; from an ad (referral);
- a template quick reply, a list item, a button we did not make: their title is the
  message; a finished flow: the text fields filled in; our own button id with a
  non-ASCII digit ("more:²"): its title, never an apology for a parse error;
- an image, video or document with a caption: the caption, with a line saying the file
  itself was not read;
- an edit: the new text;
- small talk: the assistant's own reply; a Russian question: the languages, in Russian;
- a user known by a username (``from_user_id``, no ``from``): through ``recipient``;
- a message to our second number: from that number;
- several entries, changes and messages in one call: each once; the same message twice
  in one call: once.

One polite reply asking for text: media without caption, voice notes, stickers,
locations, contacts, orders, ``unsupported`` and ``unknown`` messages.

Nothing sent (recorded): reactions and their removal, revokes (deletions), ``system``
notices, ``request_welcome``; delivery statuses sent / delivered / read.

Logged with code, title and details, counted, listed for the helpdesk: failed statuses,
a call's top-level ``errors``.

Never answered: a message from one of our own numbers (in the same call, a later one,
or after a restart), echoes (``message_echoes``); a message to a number not in
``whatsapp_allowed_phone_number_ids`` (logged, not stored).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from assistant.language import message
from tests.api.conftest import open_client
from tests.channels.conftest import (
    DISPLAY_NUMBER,
    HELPDESK_KEY,
    PHONE_NUMBER_ID,
    SECOND_DISPLAY_NUMBER,
    SECOND_NUMBER_ID,
    deliver,
    new_wa_id,
    new_wamid,
    post_signed,
)
from tests.channels.test_twilio import form, post

pytestmark = pytest.mark.slow

FACTORING = "How much of an invoice can I borrow with invoice factoring?"
POLITE = message("non_text", "en")
UNREAD = message("attachment_unread", "en")
APOLOGY = message("answer_failed", "en")


def value(
    messages: list[dict] = (),
    *,
    sender: str = "",
    number: str = PHONE_NUMBER_ID,
    display: str = DISPLAY_NUMBER,
    **more: object,
) -> dict:
    """One ``changes[].value`` as Meta documents it for the ``messages`` field."""
    found: dict = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display, "phone_number_id": number},
        **more,
    }
    if messages:
        found["contacts"] = [{"profile": {"name": "Test User"}, "wa_id": sender}]
        found["messages"] = list(messages)
    return found


def call(*values: dict, entries: int = 1) -> dict:
    """A webhook call: its values spread over ``entries`` entries, one change each."""
    per_entry: list[list[dict]] = [[] for _ in range(entries)]
    for i, one in enumerate(values):
        per_entry[i % entries].append({"value": one, "field": "messages"})
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": changes} for changes in per_entry],
    }


def incoming(sender: str, kind: str, content: object = None, **extra: object) -> dict:
    found = {"from": sender, "id": new_wamid(), "timestamp": "1764230400", "type": kind}
    if content is not None:
        found[kind] = content
    return {**found, **extra}


def text(sender: str, body: str = FACTORING, **extra: object) -> dict:
    return incoming(sender, "text", {"body": body}, **extra)


def one(message: Callable[[str], dict]) -> Callable[[str], dict]:
    """A call holding the one message ``message(sender)`` builds."""
    return lambda sender: call(value([message(sender)], sender=sender))


def sent_text(graph, sender: str) -> str:
    return "\n".join(r.text for r in graph.sent_to(sender))


# ------------------------------------------------------------ one message, one effect

ANSWERED: dict[str, Callable[[str], dict]] = {
    "text": one(text),
    "reply with context": one(
        lambda s: text(s, context={"from": DISPLAY_NUMBER, "id": "wamid.out-9"})
    ),
    "forwarded": one(lambda s: text(s, context={"forwarded": True, "frequently_forwarded": True})),
    "referral from an ad": one(
        lambda s: text(
            s,
            referral={
                "source_url": "https://fb.me/ad",
                "source_id": "120",
                "source_type": "ad",
                "headline": "Export finance",
                "body": "Ask us",
                "media_type": "image",
                "image_url": "https://example.org/a.jpg",
                "ctwa_clid": "ARAkL",
            },
        )
    ),
    "template quick reply": one(
        lambda s: incoming(s, "button", {"payload": "CAMPAIGN_7", "text": FACTORING})
    ),
    "interactive button we did not make": one(
        lambda s: incoming(
            s,
            "interactive",
            {"type": "button_reply", "button_reply": {"id": "opt-1", "title": FACTORING}},
        )
    ),
    "list reply": one(
        lambda s: incoming(
            s,
            "interactive",
            {
                "type": "list_reply",
                "list_reply": {"id": "row-2", "title": FACTORING, "description": "Finance"},
            },
        )
    ),
    "flow completion": one(
        lambda s: incoming(
            s,
            "interactive",
            {
                "type": "nfm_reply",
                "nfm_reply": {
                    "name": "flow",
                    "body": "Sent",
                    "response_json": json.dumps({"question": FACTORING, "flow_token": "t-1"}),
                },
            },
        )
    ),
    "edit": one(
        lambda s: incoming(
            s,
            "edit",
            {
                "original_message_id": "wamid.in-original",
                "message": {"type": "text", "text": {"body": FACTORING}},
            },
        )
    ),
}


@pytest.mark.parametrize("kind", list(ANSWERED))
def test_messages_with_words_are_answered(client, graph, kind):
    sender = new_wa_id()
    deliver(client, ANSWERED[kind](sender))
    reply = sent_text(graph, sender)
    assert graph.problems == []
    assert "90%" in reply
    assert POLITE not in reply and APOLOGY not in reply


CAPTIONED = ["image", "video", "document"]


@pytest.mark.parametrize("kind", CAPTIONED)
def test_a_caption_is_the_question_and_the_attachment_is_said_unread(client, graph, kind):
    sender = new_wa_id()
    content = {"id": "MEDIA9", "mime_type": "application/octet-stream", "caption": FACTORING}
    if kind == "document":
        content["filename"] = "invoice.pdf"
    deliver(client, one(lambda s: incoming(s, kind, content))(sender))
    first = graph.sent_to(sender)[0].text
    assert "90%" in sent_text(graph, sender)
    assert f"_{UNREAD}_" in first


POLITE_KINDS: dict[str, object] = {
    "image without caption": ("image", {"id": "M1", "mime_type": "image/jpeg"}),
    "video without caption": ("video", {"id": "M2", "mime_type": "video/mp4"}),
    "document without caption": (
        "document",
        {"id": "M3", "mime_type": "application/pdf", "filename": "x.pdf"},
    ),
    "voice note": ("audio", {"id": "M4", "mime_type": "audio/ogg; codecs=opus", "voice": True}),
    "sticker": ("sticker", {"id": "M5", "mime_type": "image/webp", "animated": False}),
    "location": ("location", {"latitude": 48.85, "longitude": 2.35, "name": "Paris"}),
    "contacts": ("contacts", [{"name": {"formatted_name": "A B"}, "phones": [{"phone": "+1"}]}]),
    "order": (
        "order",
        {"catalog_id": "c1", "text": "", "product_items": [{"product_retailer_id": "p"}]},
    ),
    "unsupported": ("unsupported", None),
    "unknown": ("unknown", None),
}


@pytest.mark.parametrize("kind", list(POLITE_KINDS))
def test_messages_without_words_get_one_polite_reply(client, graph, kind):
    sender = new_wa_id()
    kind_name, content = POLITE_KINDS[kind]
    extra = {}
    if kind_name in ("unsupported", "unknown"):
        extra["errors"] = [{"code": 131051, "title": "Message type unknown"}]
    deliver(client, one(lambda s: incoming(s, kind_name, content, **extra))(sender))
    (reply,) = graph.sent_to(sender)
    assert reply.text == POLITE


SILENT: dict[str, Callable[[str], dict]] = {
    "reaction": one(
        lambda s: incoming(s, "reaction", {"message_id": "wamid.out-1", "emoji": "👍"})
    ),
    "reaction removed": one(
        lambda s: incoming(s, "reaction", {"message_id": "wamid.out-1", "emoji": ""})
    ),
    "revoke": one(lambda s: incoming(s, "revoke", {"original_message_id": "wamid.in-1"})),
    "system: number changed": lambda s: call(
        value(
            [
                incoming(
                    s,
                    "system",
                    {
                        "body": f"User A changed from {s} to 33699999999",
                        "wa_id": "33699999999",
                        "type": "user_changed_number",
                    },
                )
            ]
        )
    ),
    "request_welcome": one(lambda s: incoming(s, "request_welcome")),
}


@pytest.mark.parametrize("kind", list(SILENT))
def test_reactions_deletions_and_notices_send_nothing(client, graph, kind):
    sender = new_wa_id()
    payload = SILENT[kind](sender)
    deliver(client, payload)
    assert graph.attempts_to(sender) == []
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert client.app.state.phone_bridge.records.message(wamid).state == "answered"


def test_our_button_with_a_unicode_digit_is_no_parse_error(client, graph):
    sender = new_wa_id()
    deliver(client, one(text)(sender))
    graph.reset()
    tapped = {"type": "button_reply", "button_reply": {"id": "more:²", "title": "More"}}
    deliver(client, one(lambda s: incoming(s, "interactive", tapped))(sender))
    (reply,) = graph.sent_to(sender)
    assert reply.text == message("nothing_more", "en")  # the label, typed: "More"


# ------------------------------------------------------------ statuses and errors


def status(message_id: str, state: str, **more: object) -> dict:
    return {
        "id": message_id,
        "status": state,
        "timestamp": "1764230401",
        "recipient_id": "33612340000",
        **more,
    }


def errors_of(client) -> tuple[int, list]:
    return client.app.state.phone_bridge.records.errors(50)


def test_delivery_statuses_are_recorded_and_answer_nothing(client, graph):
    wamid = new_wamid()
    statuses = [status(wamid, s) for s in ("sent", "delivered", "read")]
    before = errors_of(client)[0]
    deliver(client, call(value(statuses=statuses)))
    assert client.app.state.phone_bridge.records.statuses(wamid) == ["sent", "delivered", "read"]
    assert graph.requests == [] and errors_of(client)[0] == before


def test_a_failed_status_is_logged_counted_and_listed(client, graph, caplog):
    wamid = new_wamid()
    failed = status(
        wamid,
        "failed",
        errors=[
            {
                "code": 131047,
                "title": "Re-engagement message",
                "message": "Re-engagement message",
                "error_data": {"details": "More than 24 hours have passed."},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }
        ],
    )
    before = errors_of(client)[0]
    with caplog.at_level(logging.WARNING, logger="assistant.channels"):
        deliver(client, call(value(statuses=[failed])))
    count, (latest, *_) = errors_of(client)
    assert count == before + 1
    assert (latest.code, latest.title, latest.message_id) == (
        131047,
        "Re-engagement message",
        wamid,
    )
    assert latest.details == "More than 24 hours have passed."
    logged = [r.getMessage() for r in caplog.records]
    assert any("131047" in line and "More than 24 hours" in line for line in logged)
    assert graph.requests == []


def test_errors_alone_are_logged_counted_and_shown_to_the_helpdesk(client, graph, caplog):
    error = {
        "code": 131000,
        "title": "Something went wrong",
        "message": "Something went wrong",
        "error_data": {"details": "Message failed to send because of an unknown error."},
    }
    before = errors_of(client)[0]
    with caplog.at_level(logging.WARNING, logger="assistant.channels"):
        deliver(client, call(value(errors=[error])))
    assert any("131000" in r.getMessage() for r in caplog.records)
    response = client.get("/api/helpdesk/whatsapp-errors", headers={"X-API-Key": HELPDESK_KEY})
    assert response.status_code == 200
    listed = response.json()
    assert listed["count"] == before + 1
    assert listed["errors"][0] | {"received_at": None} == {
        "code": 131000,
        "title": "Something went wrong",
        "details": "Message failed to send because of an unknown error.",
        "message_id": "",
        "business": PHONE_NUMBER_ID,
        "received_at": None,
    }
    assert client.get("/api/helpdesk/whatsapp-errors").status_code == 401
    assert graph.requests == []


# ------------------------------------------------------------ batches


def test_several_entries_changes_and_messages_are_each_answered_once(client, graph):
    senders = [new_wa_id() for _ in range(3)]
    values = [
        value(
            [text(senders[0]), text(senders[0], "Do I need to file EEI for exports to Canada?")],
            sender=senders[0],
        ),
        value([text(senders[1])], sender=senders[1]),
        value([text(senders[2])], sender=senders[2]),
    ]
    response = post_signed(client, call(*values, entries=2))
    assert response.json() == {"queued": 4}
    client.app.state.whatsapp.drain()
    first = client.app.state.phone_bridge.records.chat(senders[0])
    turns = client.app.state.conversations.get(first.conversation_id).turns
    assert len(turns) == 2
    for sender in senders:
        assert "90%" in sent_text(graph, sender)


def test_the_same_message_twice_in_one_call_is_answered_once(client, graph):
    sender = new_wa_id()
    twice = text(sender)
    response = post_signed(client, call(value([twice, twice], sender=sender)))
    assert response.json() == {"queued": 1}
    client.app.state.whatsapp.drain()
    replies = client.app.state.phone_bridge.records.sends(in_reply_to=twice["id"])
    assert replies and len(graph.sent_to(sender)) == len(replies)


# ------------------------------------------------------------ who sent it, to which number


def new_bsuid() -> str:
    """A business-scoped user id as Meta writes them: country code, ".", up to 128
    letters and digits (this one is the longest)."""
    return "US." + new_wa_id().rjust(128, "7")


def from_user_id(user_id: str, body: str) -> dict:
    """A message from a user with a username: ``from_user_id`` and no ``from``."""
    found = text("", body)
    del found["from"]
    return {**found, "from_user_id": user_id}


def test_a_user_known_by_a_username_only_is_answered_through_recipient(client, graph):
    user_id = new_bsuid()
    contacts = [{"profile": {"name": "A", "username": "@ana"}, "user_id": user_id}]
    question = from_user_id(user_id, FACTORING)
    payload = call(value([question]))
    payload["entry"][0]["changes"][0]["value"]["contacts"] = contacts
    deliver(client, payload)
    sent = graph.sent_to(user_id)
    assert graph.problems == []
    assert sent and all(r.body["recipient"] == user_id and "to" not in r.body for r in sent)
    assert "90%" in sent_text(graph, user_id)
    records = client.app.state.phone_bridge.records
    assert records.message(question["id"]).sender == user_id
    deliver(client, payload)  # repeated: no second answer
    assert len(graph.sent_to(user_id)) == len(sent)
    deliver(client, call(value([from_user_id(user_id, "and what about discounting?")])))
    turns = client.app.state.conversations.get(records.chat(user_id).conversation_id).turns
    assert [t.question for t in turns] == [FACTORING, "and what about discounting?"]


def test_a_message_to_our_second_number_is_answered_from_it(client, graph):
    first, second = new_wa_id(), new_wa_id()
    deliver(
        client,
        call(
            value([text(first)], sender=first),
            value(
                [text(second)],
                sender=second,
                number=SECOND_NUMBER_ID,
                display=SECOND_DISPLAY_NUMBER,
            ),
        ),
    )
    assert {r.phone_number_id for r in graph.sent_to(first)} == {PHONE_NUMBER_ID}
    assert {r.phone_number_id for r in graph.sent_to(second)} == {SECOND_NUMBER_ID}


def test_our_own_numbers_and_echoes_are_never_answered(client, graph):
    own = text(SECOND_DISPLAY_NUMBER)  # our other number, writing to this one
    echo = {**text(DISPLAY_NUMBER), "to": "33611112222"}
    payload = call(
        value([own], sender=SECOND_DISPLAY_NUMBER),
        value(number=SECOND_NUMBER_ID, display=SECOND_DISPLAY_NUMBER),
        {
            **value(),
            "message_echoes": [echo],
        },
    )
    payload["entry"][0]["changes"][-1]["field"] = "smb_message_echoes"
    response = post_signed(client, payload)
    assert response.json() == {"queued": 0}
    client.app.state.whatsapp.drain()
    assert graph.requests == []
    assert client.app.state.phone_bridge.records.message(own["id"]) is None


def test_our_other_number_is_known_in_later_calls_and_after_a_restart(
    client, graph, channel_settings, embeddings
):
    """Our second number, once named in a webhook, writing to the first number in a call
    that names only the first: still one of ours, even for a server started later."""
    user = new_wa_id()
    deliver(
        client,
        call(
            value([text(user)], sender=user, number=SECOND_NUMBER_ID, display=SECOND_DISPLAY_NUMBER)
        ),
    )
    assert graph.sent_to(user)
    assert SECOND_DISPLAY_NUMBER in client.app.state.phone_bridge.records.numbers()
    graph.reset()
    restarted = open_client(channel_settings, embeddings, complete=False)
    try:
        for server in (client, restarted):
            response = post_signed(server, call(value([text(SECOND_DISPLAY_NUMBER)])))
            assert response.json() == {"queued": 0}
            server.app.state.whatsapp.drain()
    finally:
        restarted.__exit__(None, None, None)
    assert graph.requests == []


@pytest.fixture(scope="module")
def one_number(channel_settings, embeddings, tmp_path_factory) -> Iterator[TestClient]:
    """The app answering only PHONE_NUMBER_ID."""
    database = tmp_path_factory.mktemp("one-number") / "one.db"
    settings = channel_settings.model_copy(
        update={
            "whatsapp_allowed_phone_number_ids": [PHONE_NUMBER_ID],
            "database_url": f"sqlite:///{database}",
        }
    )
    client = open_client(settings, embeddings)
    yield client
    client.__exit__(None, None, None)


def test_a_number_not_allowed_is_logged_and_ignored(one_number, graph, caplog):
    allowed, other = new_wa_id(), new_wa_id()
    ignored = text(other)
    with caplog.at_level(logging.INFO, logger="assistant.channels"):
        response = post_signed(
            one_number,
            call(
                value([text(allowed)], sender=allowed),
                value(
                    [ignored],
                    sender=other,
                    number=SECOND_NUMBER_ID,
                    display=SECOND_DISPLAY_NUMBER,
                ),
            ),
        )
    assert response.json() == {"queued": 1}
    one_number.app.state.whatsapp.drain()
    assert "90%" in sent_text(graph, allowed)
    assert graph.attempts_to(other) == []
    assert one_number.app.state.phone_bridge.records.message(ignored["id"]) is None
    assert any(ignored["id"] in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------ small talk


@pytest.mark.parametrize(
    ("said", "starts"),
    [
        ("Hi", "Hello! I answer questions on exporting"),
        ("Good afternoon", "Hello! I answer questions on exporting"),
        ("Merci !", "Avec plaisir ! Je réponds aux questions sur l'export"),
        ("who are you?", "I'm the Export Assistant"),
        # issue 22: a greeting with one more word, and one word with nothing to ask
        ("Hello World", "Hello! I answer questions on exporting"),
        ("caption", "Type your question in a sentence"),
    ],
)
def test_small_talk_gets_a_short_friendly_reply(client, graph, said, starts):
    sender = new_wa_id()
    deliver(client, one(lambda s: text(s, said))(sender))
    (reply,) = graph.sent_to(sender)
    assert reply.text.startswith(starts)
    assert len(reply.text.splitlines()) == 4  # what it answers, then three examples
    assert "sources:1" not in reply.buttons and "[1]" not in reply.text


def test_a_russian_question_is_told_the_languages_in_russian(client, graph):
    sender = new_wa_id()
    question = "Какие документы нужны для экспорта мебели в Канаду?"
    deliver(client, one(lambda s: text(s, question))(sender))
    (reply,) = graph.sent_to(sender)
    assert reply.text.startswith("Я могу отвечать только на английском, французском")


def flow_reply(sender: str, typed: str) -> dict:
    """A finished flow whose one text field holds ``typed``."""
    reply = {"name": "flow", "body": "Sent", "response_json": json.dumps({"comment": typed})}
    return incoming(sender, "interactive", {"type": "nfm_reply", "nfm_reply": reply})


def test_one_short_reply_does_not_switch_the_chats_language(client, graph):
    """Before (issue 22): a flow's "Comment Text 4 2 0 0", detected as French, switched an
    English user's chat to French for every reply after it. A message of a few words
    keeps the chat's language; a French question changes it."""
    sender = new_wa_id()
    photo = ("image", {"id": "M1", "mime_type": "image/jpeg"})
    deliver(client, one(text)(sender))
    deliver(client, one(lambda s: flow_reply(s, "Comment Text 4 2 0 0"))(sender))
    graph.reset()
    deliver(client, one(lambda s: incoming(s, *photo))(sender))
    assert [r.text for r in graph.sent_to(sender)] == [POLITE]

    question = "Combien de jours mon client a-t-il pour se rétracter ?"
    deliver(client, one(lambda s: text(s, question))(sender))
    graph.reset()
    deliver(client, one(lambda s: incoming(s, *photo))(sender))
    assert [r.text for r in graph.sent_to(sender)] == [message("non_text", "fr")]


@pytest.mark.parametrize("action", ["sources", "more"])
def test_a_button_for_an_answer_this_chat_does_not_hold_says_so(client, graph, action):
    """Before (issue 22): ``sources:99`` answered "That was the whole answer"."""
    sender = new_wa_id()
    deliver(client, one(text)(sender))
    graph.reset()
    tapped = {"type": "button_reply", "button_reply": {"id": f"{action}:99", "title": "x"}}
    deliver(client, one(lambda s: incoming(s, "interactive", tapped))(sender))
    assert [r.text for r in graph.sent_to(sender)] == [message("answer_not_found", "en")]


@pytest.mark.parametrize(
    "sender",
    [
        {"from": "bla"},  # not digits: no username either
        {"from": "٣٣٦١٢٣٤٥٦٧٨"},  # Arabic-Indic digits: no number Meta writes
        {"from": "+" + "1" * 30},  # longer than any phone number
        {"from_user_id": "bla"},  # not a business-scoped user id
        {"from_user_id": "US." + "7" * 129},
    ],
    ids=["letters", "arabic-indic-digits", "too-long", "bad-bsuid", "long-bsuid"],
)
def test_a_sender_in_no_form_meta_documents_is_not_answered(client, graph, sender, caplog):
    """Before (issue 22): ``from: "bla"`` was answered through ``recipient`` and
    Arabic-Indic digits were put in ``to``."""
    found = text("", "Hello")
    del found["from"]
    payload = call(value([{**found, **sender}]))
    with caplog.at_level(logging.WARNING):
        response = post_signed(client, payload)
    assert response.status_code == 200 and response.json() == {"queued": 0}
    client.app.state.whatsapp.drain()
    assert graph.requests == [] and graph.problems == []
    assert client.app.state.phone_bridge.records.message(found["id"]) is None
    assert any("documented form" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------ Twilio's forms


def twilio_form(sender: str, **fields: str) -> list[tuple[str, str]]:
    """A Twilio WhatsApp webhook form, as Twilio documents it, with ``fields`` set."""
    params = dict(form(sender, fields.pop("Body", "")))
    return list({**params, **fields}.items())


TWILIO: dict[str, tuple[dict[str, str], str]] = {
    "text": ({"Body": FACTORING}, "90%"),
    "image with caption": (
        {
            "Body": FACTORING,
            "NumMedia": "1",
            "MediaContentType0": "image/jpeg",
            "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        },
        UNREAD,
    ),
    "document without caption": (
        {
            "NumMedia": "1",
            "MediaContentType0": "application/pdf",
            "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM2/Media/ME2",
        },
        POLITE,
    ),
    "location": ({"Latitude": "48.85", "Longitude": "2.35", "Address": "Paris"}, POLITE),
    "quick reply we did not make": (
        {"Body": FACTORING, "ButtonText": FACTORING, "ButtonPayload": "CAMPAIGN_7"},
        "90%",
    ),
    "small talk": ({"Body": "Hola"}, "¡Hola! Respondo a preguntas sobre exportación"),
}


@pytest.mark.parametrize("kind", list(TWILIO))
def test_twilio_forms(client, kind):
    fields, expected = TWILIO[kind]
    response = post(client, twilio_form(new_wa_id(), **dict(fields)))
    assert response.status_code == 200
    assert expected in response.text
    assert APOLOGY not in response.text
