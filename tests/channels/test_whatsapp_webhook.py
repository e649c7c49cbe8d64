"""The WhatsApp webhook over HTTP: Meta's handshake, signatures, idempotency, answers
sent to a stand-in Graph API, retries, failures, odd payloads."""

from __future__ import annotations

import json
import logging
import re
import threading

import pytest

from assistant.channels.phone import BODY_LIMIT, TEXT_LIMIT
from assistant.channels.whatsapp import Inbound
from tests.api.conftest import open_client
from tests.channels.conftest import (
    APP_SECRET,
    SENTENCE_END,
    VERIFY_TOKEN,
    button_reply,
    deliver,
    drain,
    long_text,
    new_wa_id,
    new_wamid,
    post_signed,
    sign,
    text_message,
    webhook,
    words,
)

pytestmark = pytest.mark.slow

FACTORING = "How much of an invoice can I borrow with invoice factoring?"


def records(client):
    return client.app.state.phone_bridge.records


# ------------------------------------------------------------ handshake and signatures


def test_verification_echoes_the_challenge_for_the_right_token(client):
    response = client.get(
        "/whatsapp/webhook",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        },
    )
    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
def test_verification_refuses_anything_else(client, params):
    assert client.get("/whatsapp/webhook", params=params).status_code == 403


def test_unsigned_call_is_401_and_does_nothing(client, graph):
    wamid, wa_id = new_wamid(), new_wa_id()
    body = json.dumps(text_message(wa_id, FACTORING, wamid)).encode()
    response = client.post(
        "/whatsapp/webhook", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "signature_missing"
    drain(client)
    assert records(client).message(wamid) is None and graph.attempts_to(wa_id) == []


@pytest.mark.parametrize("forgery", ["other secret", "tampered body", "not hex"])
def test_forged_call_is_403_and_does_nothing(client, graph, forgery):
    wamid, wa_id = new_wamid(), new_wa_id()
    body = json.dumps(text_message(wa_id, FACTORING, wamid)).encode()
    signature = {
        "other secret": sign(body, "not-" + APP_SECRET),
        "tampered body": sign(body.replace(b"invoice", b"invoise")),
        "not hex": "sha256=é".encode("latin-1"),
    }[forgery]
    response = client.post(
        "/whatsapp/webhook",
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "signature_invalid"
    drain(client)
    assert records(client).message(wamid) is None and graph.attempts_to(wa_id) == []


# ------------------------------------------------------------ answers


def test_question_gets_a_short_cited_answer_with_buttons(client, graph):
    wa_id = new_wa_id()
    deliver(client, text_message(wa_id, FACTORING))
    sent = graph.sent_to(wa_id)
    assert graph.problems == []
    assert sent, "no reply sent"
    assert all(r.authorization == "Bearer test-access-token" for r in sent)
    whole = "\n".join(r.text for r in sent)
    assert "90%" in whole
    assert (
        "[1] Borrow against assets — Borrow against invoices (2018)\nhttps://example.org/guides"
        in whole
    )
    last = sent[-1]
    assert last.body["type"] == "interactive" and len(last.text) <= BODY_LIMIT
    assert set(last.buttons) == {"sources:1", "adviser:1", "new"}
    assert last.buttons["new"] == "New question"
    assert len(whole) <= 1500  # short: the essential answer and its sources


def test_an_hs_question_between_close_codes_is_asked_back_on_whatsapp(client, graph):
    wa_id = new_wa_id()
    deliver(client, text_message(wa_id, "HS code for T-shirts?"))
    asked = "\n".join(r.text for r in graph.sent_to(wa_id))
    assert "610910" in asked and "610990" in asked and "What separates them" in asked
    graph.reset()
    deliver(client, text_message(wa_id, "they are cotton"))
    narrowed = "\n".join(r.text for r in graph.sent_to(wa_id))
    first = next(line for line in narrowed.splitlines() if "(6109" in line)
    assert "610910" in first and "What separates them" not in narrowed


def test_sources_button_sends_the_cited_passages(client, graph):
    wa_id = new_wa_id()
    deliver(client, text_message(wa_id, FACTORING))
    graph.reset()
    deliver(client, button_reply(wa_id, "sources:1", "Sources"))
    (details,) = graph.sent_to(wa_id)
    assert details.body["type"] == "text"
    assert (
        "*[1] Borrow against assets — Borrow against invoices*\n"
        "UK Department for International Trade, 2018" in details.text
    )
    assert "borrow up to 90% of the value of an invoice" in details.text
    assert "https://example.org/guides" in details.text


class LongAnswers:
    """Stands in for the assistant with an answer far longer than a phone should get at
    once, such as a language model may write."""

    def __init__(self, real) -> None:
        self.real = real

    def answer(self, question, history=(), filters=None):
        answer = self.real.answer(FACTORING)
        answer.text = long_text()
        return answer


class HeldAnswers:
    """Stands in for the assistant: answers only once the test sets ``release``."""

    def __init__(self, real) -> None:
        self.real = real
        self.started = threading.Event()
        self.release = threading.Event()

    def answer(self, *args, **kwargs):
        self.started.set()
        assert self.release.wait(30), "the test never released the answer"
        return self.real.answer(*args, **kwargs)


@pytest.fixture
def stand_in(client):
    """``stand_in(Class)`` puts ``Class(real assistant)`` in the assistant's place."""
    state = client.app.state
    real = state.assistant

    def swap(kind):
        state.assistant = kind(real)
        return state.assistant

    yield swap
    if isinstance(state.assistant, HeldAnswers):
        state.assistant.release.set()
    drain(client)
    state.assistant = real


def test_webhook_is_acknowledged_before_the_answer_is_written(client, graph, stand_in):
    held = stand_in(HeldAnswers)
    wa_id = new_wa_id()
    response = post_signed(client, text_message(wa_id, FACTORING))
    assert response.status_code == 200 and response.json() == {"queued": 1}
    assert held.started.wait(30)  # the worker is answering...
    assert graph.attempts_to(wa_id) == []  # ...and Meta already has its 200
    held.release.set()
    drain(client)
    assert "90%" in "\n".join(r.text for r in graph.sent_to(wa_id))


def test_long_answer_comes_short_first_then_whole_behind_more(client, graph, stand_in):
    stand_in(LongAnswers)
    wa_id = new_wa_id()
    deliver(client, text_message(wa_id, "Tell me everything about invoice factoring."))
    *_, offer = sent = graph.sent_to(wa_id)
    assert offer.body["type"] == "interactive" and len(offer.text) <= BODY_LIMIT
    assert offer.text.endswith("The answer continues: tap More.")
    assert list(offer.buttons) == ["more:1", "sources:1", "adviser:1"]
    shown = "\n\n".join(r.text for r in sent)
    assert "\n*Sources*\n[1] Borrow against assets" in shown
    essential = re.split(r"\n\n(?:_|\*Sources\*)", shown)[0]  # before notices and sources
    assert 500 < len(essential) <= 1000
    graph.reset()
    deliver(client, button_reply(wa_id, "more:1", "More"))
    rest = graph.sent_to(wa_id)
    assert graph.problems == []
    assert len(rest) >= 5
    assert all(len(r.text) <= TEXT_LIMIT and SENTENCE_END.search(r.text) for r in rest)
    assert words(" ".join([essential, *(r.text for r in rest)])) == words(long_text())
    graph.reset()
    deliver(client, text_message(wa_id, "more"))  # typed rather than tapped
    assert [r.text for r in graph.sent_to(wa_id)] == [r.text for r in rest]


def test_follow_up_uses_the_senders_conversation(client, graph):
    wa_id = new_wa_id()
    deliver(client, text_message(wa_id, "What's the HS code for wooden bedroom furniture?"))
    assert "940350" in "\n".join(r.text for r in graph.sent_to(wa_id))
    graph.reset()
    deliver(client, text_message(wa_id, "and for kitchens?"))
    reply = "\n".join(r.text for r in graph.sent_to(wa_id))
    assert "940340" in reply
    chat = records(client).chat(wa_id)
    turns = client.app.state.conversations.get(chat.conversation_id).turns
    assert [t.question for t in turns] == [
        "What's the HS code for wooden bedroom furniture?",
        "and for kitchens?",
    ]


def test_new_question_button_starts_another_conversation(client, graph):
    wa_id = new_wa_id()
    deliver(client, text_message(wa_id, FACTORING))
    before = records(client).chat(wa_id).conversation_id
    graph.reset()
    deliver(client, button_reply(wa_id, "new", "New question"))
    assert [r.text for r in graph.sent_to(wa_id)] == ["Ready for a new question: type it below."]
    after = records(client).chat(wa_id).conversation_id
    assert after != before
    deliver(client, text_message(wa_id, "Do I need to file EEI for exports to Canada?"))
    assert len(client.app.state.conversations.get(after).turns) == 1


def test_same_message_delivered_three_times_is_answered_once(client, graph):
    wa_id, wamid = new_wa_id(), new_wamid()
    payload = text_message(wa_id, FACTORING, wamid)
    responses = [post_signed(client, payload) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.json()["queued"] for r in responses] == [1, 0, 0]
    drain(client)
    first_reply = graph.sent_to(wa_id)
    assert first_reply
    deliver(client, payload)  # and once more, after the answer went out
    assert graph.sent_to(wa_id) == first_reply
    sent = records(client).sends(in_reply_to=wamid)
    assert len(sent) == len(first_reply) and {s.state for s in sent} == {"sent"}
    assert records(client).message(wamid).state == "answered"


def test_repeated_delivery_after_a_restart_gets_no_second_reply(
    client, graph, channel_settings, embeddings
):
    wa_id, wamid = new_wa_id(), new_wamid()
    payload = text_message(wa_id, FACTORING, wamid)
    deliver(client, payload)
    replies = len(graph.sent_to(wa_id))
    assert replies
    restarted = open_client(channel_settings, embeddings, complete=False)
    try:
        deliver(restarted, payload)
    finally:
        restarted.__exit__(None, None, None)
    assert len(graph.sent_to(wa_id)) == replies


def test_message_accepted_before_a_stop_is_answered_at_the_next_start(
    client, graph, channel_settings, embeddings
):
    wa_id, wamid = new_wa_id(), new_wamid()
    # Recorded by a server that stopped before its worker took the message:
    assert records(client).receive(Inbound(wamid, wa_id, "text", FACTORING), "meta")
    restarted = open_client(channel_settings, embeddings, complete=False)
    try:
        drain(restarted)
    finally:
        restarted.__exit__(None, None, None)
    assert "90%" in "\n".join(r.text for r in graph.sent_to(wa_id))
    assert records(client).message(wamid).state == "answered"


# ------------------------------------------------------------ sending


@pytest.mark.parametrize("failure", [500, (429, {"Retry-After": "0"})])
def test_send_is_retried_after_a_failure(client, graph, failure):
    wa_id, wamid = new_wa_id(), new_wamid()
    graph.fail_next(failure)
    deliver(client, text_message(wa_id, FACTORING, wamid))
    attempts = graph.attempts_to(wa_id)
    assert attempts[0].status in (500, 429) and attempts[1].status == 200
    assert attempts[0].body == attempts[1].body
    first = records(client).sends(in_reply_to=wamid)[0]
    assert first.state == "sent" and first.attempts == 2 and first.message_id
    assert records(client).message(wamid).state == "answered"


def test_send_failing_for_good_is_logged_and_recorded(client, graph, caplog, channel_settings):
    wa_id, wamid = new_wa_id(), new_wamid()
    graph.fail_next(*[503] * channel_settings.whatsapp_send_attempts)
    with caplog.at_level(logging.ERROR, logger="assistant.channels"):
        deliver(client, text_message(wa_id, FACTORING, wamid))
    assert len(graph.attempts_to(wa_id)) == channel_settings.whatsapp_send_attempts
    assert graph.sent_to(wa_id) == []
    (failed,) = records(client).sends(in_reply_to=wamid)
    assert failed.state == "failed" and "HTTP 503" in failed.error
    assert failed.attempts == channel_settings.whatsapp_send_attempts
    assert "90%" in json.dumps(failed.payload)  # the reply is kept, to be resent by hand
    assert records(client).message(wamid).state == "failed"
    assert any(wamid in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)


def test_client_error_is_not_retried(client, graph):
    wa_id, wamid = new_wa_id(), new_wamid()
    graph.fail_next(400)
    deliver(client, text_message(wa_id, FACTORING, wamid))
    assert len(graph.attempts_to(wa_id)) == 1
    (failed,) = records(client).sends(in_reply_to=wamid)
    assert failed.state == "failed" and failed.attempts == 1 and "HTTP 400" in failed.error


# ------------------------------------------------------------ other messages


@pytest.mark.parametrize(
    ("kind", "content", "expected"),
    [
        ("image", {"id": "MEDIA1", "mime_type": "image/jpeg"}, "Thanks for your message"),
        (
            "audio",
            {"id": "MEDIA2", "mime_type": "audio/ogg", "voice": True},
            "Thanks for your message",
        ),
        (
            "location",
            {"latitude": 38.7, "longitude": -9.1, "name": "Lisboa"},
            "Thanks for your message",
        ),
        (
            "sticker",
            {"id": "MEDIA3", "mime_type": "image/webp", "animated": False},
            "Thanks for your message",
        ),
    ],
)
def test_non_text_message_gets_a_polite_reply(client, graph, kind, content, expected):
    wa_id = new_wa_id()
    message = {
        "from": wa_id,
        "id": new_wamid(),
        "timestamp": "1764230400",
        "type": kind,
        kind: content,
    }
    deliver(client, webhook(wa_id=wa_id, messages=[message]))
    (reply,) = graph.sent_to(wa_id)
    assert reply.text.startswith(expected)


def test_non_text_reply_is_in_the_language_of_the_last_question(client, graph):
    wa_id = new_wa_id()
    deliver(
        client, text_message(wa_id, "¿Cuánto puedo pedir prestado con el factoring de una factura?")
    )
    graph.reset()
    message = {
        "from": wa_id,
        "id": new_wamid(),
        "timestamp": "1764230400",
        "type": "sticker",
        "sticker": {"id": "M"},
    }
    deliver(client, webhook(wa_id=wa_id, messages=[message]))
    (reply,) = graph.sent_to(wa_id)
    assert reply.text.startswith("Gracias por su mensaje")


def test_reaction_gets_no_reply(client, graph):
    wa_id, wamid = new_wa_id(), new_wamid()
    message = {
        "from": wa_id,
        "id": wamid,
        "timestamp": "1764230400",
        "type": "reaction",
        "reaction": {"message_id": "wamid.out-1", "emoji": "👍"},
    }
    deliver(client, webhook(wa_id=wa_id, messages=[message]))
    assert graph.attempts_to(wa_id) == []
    assert records(client).message(wamid).state == "answered"


def test_status_callbacks_are_recorded(client):
    statuses = [
        {
            "id": "wamid.out-77",
            "status": status,
            "timestamp": "1764230401",
            "recipient_id": "33612340000",
        }
        for status in ("sent", "delivered", "read")
    ]
    statuses.append(
        {
            "id": "wamid.out-78",
            "status": "failed",
            "timestamp": "1764230402",
            "recipient_id": "33612340000",
            "errors": [{"code": 131047, "title": "Re-engagement message"}],
        }
    )
    deliver(client, webhook(statuses=statuses))
    assert records(client).statuses("wamid.out-77") == ["sent", "delivered", "read"]
    assert records(client).statuses("wamid.out-78") == ["failed"]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        [],
        "text",
        None,
        {"object": "whatsapp_business_account", "entry": "nope"},
        {"entry": [{"changes": [{"value": {"messages": [{"id": 5, "from": None}]}}]}]},
        {"entry": [{"changes": [{"value": {"messages": "x", "statuses": [{"id": 1}]}}]}]},
        {"entry": [{"changes": [{"field": "account_update", "value": {"event": "VERIFIED"}}]}]},
        {"entry": [None, 3, {"changes": [[]]}]},
    ],
)
def test_unknown_payloads_are_acknowledged(client, graph, payload):
    response = post_signed(client, payload)
    assert response.status_code == 200
    assert response.json() == {"queued": 0}
    drain(client)
    assert graph.requests == []


def test_signed_body_that_is_not_json_is_acknowledged(client, graph):
    response = post_signed(client, None, raw=b"\xff\xfe not json")
    assert response.status_code == 200 and response.json() == {"queued": 0}
