"""WhatsApp through Twilio: a form-encoded webhook, answered in its response (TwiML).

Twilio signs each call: base64 of HMAC-SHA1, keyed with the account's auth token, of
the webhook URL followed by every POST parameter's name and value, sorted by name.
Twilio messages carry no reply buttons, so a reply's buttons become a line naming
them; typing one ("More") does what tapping it would (``phone.command_for``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from xml.sax.saxutils import escape

from assistant.channels.phone import Reply, button_action, split_text
from assistant.channels.whatsapp import ID_CHARS, Inbound, SignatureInvalid, SignatureMissing

__all__ = [
    "TWILIO_LIMIT",
    "check_twilio_signature",
    "twilio_inbound",
    "twilio_signature",
    "twiml",
]

TWILIO_LIMIT = 1600  # characters in one WhatsApp message sent through Twilio


def twilio_signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    signed = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def check_twilio_signature(
    auth_token: str, url: str, params: list[tuple[str, str]], header: str | None
) -> None:
    if not header:
        raise SignatureMissing("X-Twilio-Signature is missing")
    expected = twilio_signature(auth_token, url, params)
    if not hmac.compare_digest(expected.encode(), header.strip().encode()):
        raise SignatureInvalid("X-Twilio-Signature does not match")


def twilio_inbound(form: dict[str, str]) -> Inbound | None:
    """The message of a Twilio webhook call; None for a call that is not one. A tapped
    button is ours by its payload (``phone.button_action``), else its text is the
    message; an attachment's ``Body`` is its caption."""
    message_id, sender = form.get("MessageSid", ""), form.get("From", "")
    if not (0 < len(message_id) <= ID_CHARS and 0 < len(sender) <= ID_CHARS):
        return None
    if payload := form.get("ButtonPayload", ""):
        if button_action(payload) is not None:
            return Inbound(message_id, sender, "button", payload)
        return Inbound(message_id, sender, "text", form.get("ButtonText") or form.get("Body", ""))
    # ASCII digits only: "²" and "٣" pass str.isdigit() but are no count Twilio sends.
    count = form.get("NumMedia", "")
    if count.isascii() and count.isdigit() and int(count):
        kind = form.get("MediaContentType0", "media").split("/")[0]
        kind = "document" if kind in ("application", "text") else kind
        kind = kind if kind in ("image", "video", "audio", "document") else "media"
        return Inbound(message_id, sender, kind, form.get("Body", ""))
    if form.get("Latitude"):
        return Inbound(message_id, sender, "location")
    return Inbound(message_id, sender, "text", form.get("Body", ""))


def twiml(replies: list[Reply]) -> str:
    """The TwiML response that sends ``replies``, each cut to Twilio's message size."""
    messages = []
    for reply in replies:
        text = reply.text
        if reply.buttons:
            text += "\n\n" + " · ".join(f"*{title}*" for _, title in reply.buttons)
        messages += [
            f"<Message>{escape(part)}</Message>" for part in split_text(text, TWILIO_LIMIT)
        ]
    return '<?xml version="1.0" encoding="UTF-8"?><Response>' + "".join(messages) + "</Response>"
