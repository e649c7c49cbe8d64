"""WhatsApp through Twilio: signed form posts answered with TwiML, once per MessageSid."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from assistant.channels.twilio import twilio_signature
from tests.channels.conftest import TWILIO_TOKEN, new_wa_id, new_wamid

pytestmark = pytest.mark.slow

URL = "https://assistant.example.com/twilio/whatsapp"  # as set in Twilio's console


def form(sender: str, body: str, sid: str | None = None) -> list[tuple[str, str]]:
    sid = sid or new_wamid()
    return [
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("ProfileName", "Test User"),
        ("WaId", sender),
        ("Body", body),
        ("To", "whatsapp:+14155238886"),
        ("From", f"whatsapp:+{sender}"),
        ("MessageSid", sid),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
    ]


def post(client, params, signature: str | None = ""):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature or twilio_signature(TWILIO_TOKEN, URL, params)
    return client.post("/twilio/whatsapp", content=urlencode(params), headers=headers)


def test_twilio_question_is_answered_in_twiml(client):
    question = "How much of an invoice can I borrow with factoring?"
    response = post(client, form(new_wa_id(), question))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>')
    assert "90%" in response.text and "https://example.org/guides" in response.text
    assert "*Sources* · *Ask an adviser* · *New question*</Message>" in response.text


def test_twilio_repeated_message_is_answered_once(client):
    sender, sid = new_wa_id(), new_wamid()
    params = form(sender, "Do I need to file EEI for exports to Canada?", sid)
    first, again = post(client, params), post(client, params)
    assert "<Message>" in first.text
    assert again.status_code == 200
    assert again.text == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    chat = client.app.state.phone_bridge.records.chat(f"whatsapp:+{sender}")
    assert len(client.app.state.conversations.get(chat.conversation_id).turns) == 1


def test_twilio_unsigned_or_forged_calls_are_refused(client):
    params = form(new_wa_id(), "Do I need to file EEI for exports to Canada?")
    assert post(client, params, signature=None).status_code == 401
    forged = twilio_signature("not-the-token", URL, params)
    assert post(client, params, signature=forged).status_code == 403


@pytest.mark.parametrize("count", ["²", "٣", "1e3", "-1"])
def test_a_media_count_that_is_no_ascii_number_is_no_500(client, count):
    """Before (issue 22): ``NumMedia=²`` passed ``str.isdigit`` and failed ``int()``, a 500.
    A count Twilio would not send means no media: the body is the question."""
    params = [(k, count if k == "NumMedia" else v) for k, v in form(new_wa_id(), "Hello")]
    response = post(client, params)
    assert response.status_code == 200, response.text
    assert "<Message>" in response.text and "file itself" not in response.text
