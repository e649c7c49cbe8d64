"""Writing answers for a phone, and the pure parts of the webhooks: signatures, parsing."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from assistant.answer import Answer, Citation
from assistant.channels.phone import (
    BODY_LIMIT,
    TEXT_LIMIT,
    button_action,
    command_for,
    first_replies,
    more_replies,
    plain,
    source_replies,
    split_text,
)
from assistant.channels.twilio import check_twilio_signature, twilio_inbound, twiml
from assistant.channels.whatsapp import (
    SignatureInvalid,
    SignatureMissing,
    check_signature,
    parse_webhook,
    reply_payload,
)
from tests.channels.conftest import SENTENCE_END, long_text, words


def citation(n: int, **fields) -> Citation:
    values = dict(
        source=f"guides/doc-{n}.md",
        title=f"Guide {n}",
        section=f"Part {n}",
        url=f"https://example.org/{n}",
        publisher="Trade Office",
        date="2025-01",
        language="en",
        snippet=f"The cited passage number {n}.",
    )
    return Citation(n=n, **{**values, **fields})


def test_split_text_keeps_every_word_in_pieces_that_end_on_a_sentence():
    text = long_text()
    pieces = split_text(text, TEXT_LIMIT)
    assert len(pieces) > 2
    assert all(len(piece) <= TEXT_LIMIT for piece in pieces)
    assert all(SENTENCE_END.search(piece) for piece in pieces)
    assert all(not piece.startswith("[") for piece in pieces)  # markers stay with sentences
    assert words(" ".join(pieces)) == words(text)


def test_split_text_first_piece_has_its_own_limit():
    pieces = split_text(long_text(), TEXT_LIMIT, first=1000)
    assert len(pieces[0]) <= 1000 and len(pieces[0]) > 800
    assert all(len(piece) <= TEXT_LIMIT for piece in pieces[1:])
    assert len(pieces[1]) > 3000  # the later pieces use the whole message


def test_split_text_cuts_an_overlong_sentence_between_words():
    sentence = " ".join(["customs"] * 1500)  # 11,999 characters, no full stop
    pieces = split_text(sentence, TEXT_LIMIT)
    assert len(pieces) == 3 and all(len(p) <= TEXT_LIMIT for p in pieces)
    assert all(set(p.split()) == {"customs"} for p in pieces)
    assert words(" ".join(pieces)) == words(sentence)


def test_split_text_cuts_a_word_longer_than_a_message():
    assert [len(p) for p in split_text("x" * 5000, TEXT_LIMIT)] == [4096, 904]


def test_short_answer_is_one_message_with_sources_and_buttons():
    answer = Answer(
        text="Here is what the sources say:\n\nExports to Canada need no EEI. [1]",
        citations=[citation(1)],
    )
    (reply,) = first_replies(answer, 4, first_chars=1000, public_url=None)
    assert reply.text == (
        "Here is what the sources say:\n\nExports to Canada need no EEI. [1]\n\n"
        "*Sources*\n[1] Guide 1 — Part 1 (2025-01)\nhttps://example.org/1"
    )
    assert reply.buttons == (
        ("sources:4", "Sources"),
        ("adviser:4", "Ask an adviser"),
        ("new", "New question"),
    )


def test_long_answer_is_short_first_then_more_in_full_messages():
    text = long_text()
    answer = Answer(text=text, citations=[citation(1), citation(2), citation(3)], language="fr")
    first = first_replies(answer, 2, first_chars=1000, public_url=None)
    assert len(first) == 2
    assert len(first[0].text) <= 1000 and not first[0].buttons
    assert len(first[1].text) <= BODY_LIMIT
    assert first[1].text.startswith("*Sources*\n[1] Guide 1 — Part 1 (2025-01)")
    assert first[1].text.endswith("La réponse continue : touchez Suite.")
    # At most three buttons: "Nouvelle question" gives way (it can still be typed).
    assert [title for _, title in first[1].buttons] == ["Suite", "Sources", "Un conseiller"]
    assert first[1].buttons[0][0] == "more:2"
    rest = more_replies(answer, first_chars=1000)
    assert all(len(r.text) <= TEXT_LIMIT and SENTENCE_END.search(r.text) for r in rest)
    assert words(" ".join([first[0].text, *(r.text for r in rest)])) == words(text)


def test_notices_stay_in_the_first_message():
    notice = "Check the dates: [1] (2018) may be out of date."
    answer = Answer(text=long_text(), notices=[notice])
    (first,) = first_replies(answer, 1, first_chars=1000, public_url=None)
    assert first.text.endswith(f"_{notice}_\n\nThe answer continues: tap More.")
    assert len(first.text) <= BODY_LIMIT
    assert all(notice not in r.text for r in more_replies(answer, first_chars=1000))


def test_sources_without_official_url_link_to_this_server():
    answer = Answer(text="Short. [1]", citations=[citation(1, url="", section="Art. 9")])
    (reply,) = first_replies(answer, 1, first_chars=1000, public_url="https://help.example.com/")
    assert (
        "https://help.example.com/api/sources/guides/doc-1.md?section=Art.+9#s-art-9" in reply.text
    )
    (unlinked,) = first_replies(answer, 1, first_chars=1000, public_url=None)
    assert unlinked.text.endswith("[1] Guide 1 — Art. 9 (2025-01)")


def test_source_details_quote_the_passages():
    answer = Answer(text="x [1] [2]", citations=[citation(1), citation(2, date="")])
    (reply,) = source_replies(answer, public_url=None)
    assert reply.text == (
        "*[1] Guide 1 — Part 1*\nTrade Office, 2025-01\n“The cited passage number 1.”\n"
        "https://example.org/1\n\n"
        "*[2] Guide 2 — Part 2*\nTrade Office\n“The cited passage number 2.”\nhttps://example.org/2"
    )


def test_more_with_nothing_more_says_so():
    (reply,) = more_replies(Answer(text="Short.", language="es"), first_chars=1000)
    assert reply.text == "Esa era toda la respuesta."


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        ("More", "more"),
        ("suite", "more"),
        ("Sources", "sources"),
        ("Nueva pregunta", "new"),
        ("new question!", "new"),
        ("more about VAT", None),
        ("", None),
    ],
)
def test_typed_button_labels_are_commands(typed, command):
    assert command_for(typed) == command


SMALL_TALK = Answer(text="Hi.", mode="smalltalk")  # the assistant's own words: no adviser


def test_reply_payloads_follow_metas_format():
    assert reply_payload(
        "33612345678", first_replies(SMALL_TALK, 1, first_chars=1000, public_url=None)[0]
    ) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "33612345678",
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Hi."},
            "action": {
                "buttons": [{"type": "reply", "reply": {"id": "new", "title": "New question"}}]
            },
        },
    }
    (text,) = more_replies(Answer(text="Hi."), first_chars=1000)
    assert reply_payload("33612345678", text)["text"] == {
        "preview_url": False,
        "body": "That was the whole answer.",
    }


def test_markdown_becomes_text_a_phone_shows_as_meant():
    markdown = (
        "## Financing\n"
        'Data from the [World Bank](http://data.worldbank.org/x "World Bank") show it. [1]\n'
        "- **Letters of credit** protect the _seller_.\n"
        "* See <https://example.org/lc> and `Form A`.\n"
        "1. Ask the bank; the file_name_x stays."
    )
    assert plain(markdown) == (
        "Financing\n"
        "Data from the World Bank show it. [1]\n"
        "World Bank: http://data.worldbank.org/x\n"
        "Letters of credit protect the seller.\n"
        "See https://example.org/lc and Form A.\n"
        "1. Ask the bank; the file_name_x stays."
    )


def test_a_link_whose_address_holds_spaces_is_no_raw_markdown():
    """Before (issue 22): "…Final%2006-09-11…pdf](http://export.gov/…)" reached WhatsApp
    as typed: a source's link had a space in its URL. The address stands once, whole."""
    url = "http://export.gov/co/IPR_Toolkit_Colombia%20Wash%20DC %20Final%2006-09-11.pdf"
    line = f"A toolkit is available at: [{url}]({url})"
    assert plain(line) == f"A toolkit is available at: {url.replace(' ', '%20')}"
    titled = plain('See [the toolkit](http://a.example/x y.pdf "Toolkit") now.')
    assert titled == "See the toolkit now.\nthe toolkit: http://a.example/x%20y.pdf"


def test_answers_and_quoted_passages_reach_the_phone_without_markdown():
    answer = Answer(
        text="Use the [EORI lookup](https://ec.europa.eu/eori) **first**. [1]",
        citations=[citation(1, snippet="See [the guide](https://example.org/g).")],
    )
    (reply,) = first_replies(answer, 1, first_chars=1000, public_url=None)
    assert reply.text.startswith(
        "Use the EORI lookup first. [1]\nEORI lookup: https://ec.europa.eu/eori\n\n*Sources*"
    )
    (details,) = source_replies(answer, public_url=None)
    assert "“See the guide. the guide: https://example.org/g”" in details.text


@pytest.mark.parametrize(
    ("button_id", "action"),
    [
        ("more:3", ("more", 3)),
        ("sources:12", ("sources", 12)),
        ("adviser:7", ("adviser", 7)),
        ("new", ("new", None)),
        ("more:²", None),
        ("more:٣", None),
        ("more:", None),
        ("more:3:4", None),
        ("CAMPAIGN_7", None),
    ],
)
def test_only_our_own_button_ids_are_actions(button_id, action):
    assert button_action(button_id) == action


def test_a_business_scoped_user_id_is_sent_to_as_recipient():
    (reply,) = more_replies(Answer(text="Hi."), first_chars=1000)
    payload = reply_payload("US.13491208655302741918", reply)
    assert payload["recipient"] == "US.13491208655302741918" and "to" not in payload


# ------------------------------------------------------------ webhooks


def test_meta_signature():
    body = b'{"object":"whatsapp_business_account"}'
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    check_signature("s3cret", body, good)
    check_signature("s3cret", body, good.upper().replace("SHA256=", "sha256="))
    with pytest.raises(SignatureMissing):
        check_signature("s3cret", body, None)
    with pytest.raises(SignatureInvalid):
        check_signature("other", body, good)
    with pytest.raises(SignatureInvalid):
        check_signature("s3cret", body + b" ", good)


def test_parse_webhook_reads_messages_buttons_and_statuses():
    payload = {
        "entry": [
            {
                "changes": [
                    {
                        "value": {
                            "messages": [
                                {"from": "1", "id": "a", "type": "text", "text": {"body": "Hello"}},
                                {
                                    "from": "1",
                                    "id": "b",
                                    "type": "interactive",
                                    "interactive": {
                                        "type": "button_reply",
                                        "button_reply": {"id": "more:2", "title": "More"},
                                    },
                                },
                                {
                                    "from": "1",
                                    "id": "c",
                                    "type": "image",
                                    "image": {"caption": "Facture"},
                                },
                                {
                                    "from": "1",
                                    "id": "d",
                                    "type": "button",
                                    "button": {"payload": "new", "text": "New"},
                                },
                                {"id": "e", "type": "text"},
                            ],
                            "statuses": [
                                {"id": "w", "status": "read", "recipient_id": "1", "timestamp": "5"}
                            ],
                        }
                    }
                ]
            }
        ]
    }
    found = parse_webhook(payload)
    messages, statuses = found.messages, found.statuses
    assert [(m.id, m.kind, m.text) for m in messages] == [
        ("a", "text", "Hello"),
        ("b", "button", "more:2"),
        ("c", "image", "Facture"),
        ("d", "button", "new"),
    ]
    assert [(s.message_id, s.status, s.recipient) for s in statuses] == [("w", "read", "1")]


def test_twilio_signature_matches_twilios_own_examples():
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
        ("Caller", "+14158675309"),
    ]
    check_twilio_signature("12345", url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    check_twilio_signature("12345", url, repeated, "IK+Dwps556ElfBT0I3Rgjkr1wJU=")
    with pytest.raises(SignatureInvalid):
        check_twilio_signature("12345", url + "&x=1", params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    with pytest.raises(SignatureMissing):
        check_twilio_signature("12345", url, params, "")


def test_twilio_messages_and_twiml():
    assert twilio_inbound({"MessageSid": "SM1", "From": "whatsapp:+1", "Body": "Hi"}).kind == "text"
    assert (
        twilio_inbound(
            {
                "MessageSid": "SM2",
                "From": "whatsapp:+1",
                "NumMedia": "1",
                "MediaContentType0": "audio/ogg",
            }
        ).kind
        == "audio"
    )
    assert twilio_inbound({"Body": "no sid"}) is None
    reply = first_replies(Answer(text="A < B & C."), 1, first_chars=1000, public_url=None)[0]
    assert twiml([reply]) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        "<Message>A &lt; B &amp; C.\n\n*Ask an adviser* · *New question*</Message></Response>"
    )
