"""WhatsApp through Twilio: a form-encoded webhook, answered in its response (TwiML).

Twilio signs each call: base64 of HMAC-SHA1, keyed with the account's auth token, of
the webhook URL followed by every POST parameter's name and value, sorted by name.
Twilio messages carry no reply buttons, so a reply's buttons become a line naming
them; typing one ("More") does what tapping it would (``phone.command_for``).

Messages that are not answers to a webhook (an adviser's reply) go through Twilio's
REST API (``TwilioClient``), which reports their delivery to ``/twilio/status``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from xml.sax.saxutils import escape

import httpx

from assistant.channels.phone import Reply, button_action, split_text
from assistant.channels.whatsapp import (
    ID_CHARS,
    MAX_PAUSE,
    Inbound,
    SendFailed,
    Sent,
    SignatureInvalid,
    SignatureMissing,
    StatusUpdate,
)
from assistant.settings import Settings

__all__ = [
    "TWILIO_LIMIT",
    "TwilioClient",
    "check_twilio_signature",
    "twilio_inbound",
    "twilio_signature",
    "twilio_status",
    "twiml",
]

log = logging.getLogger(__name__)

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


def twilio_status(form: dict[str, str]) -> StatusUpdate | None:
    """A status callback as a delivery status (``ErrorCode`` among its errors); None for
    a call that is not one."""
    message_id, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
    if not message_id or not status:
        return None
    code = form.get("ErrorCode", "")
    errors = [{"code": int(code) if code.isdigit() else code, "title": status}] if code else []
    return StatusUpdate(message_id, form.get("To", ""), status, "", errors)


class TwilioClient:
    """Sends WhatsApp messages through Twilio's Messages API from ``twilio_from``;
    retries on 429, 5xx and lost connections (as ``GraphClient`` does)."""

    def __init__(
        self,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
        sender: str,
        status_callback: str | None,
        attempts: int = 4,
        retry_seconds: float = 1.0,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=15.0, auth=(account_sid, auth_token)
        )
        self._path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.sender = sender
        self.status_callback = status_callback
        self.attempts = attempts
        self.retry_seconds = retry_seconds
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioClient | None:
        """None unless the account, its token and the sender are all set."""
        token = settings.twilio_auth_token
        if not (settings.twilio_account_sid and token and settings.twilio_from):
            return None
        return cls(
            base_url=settings.twilio_api_url,
            account_sid=settings.twilio_account_sid,
            auth_token=token.get_secret_value(),
            sender=settings.twilio_from,
            status_callback=settings.twilio_status_callback,
            attempts=settings.whatsapp_send_attempts,
            retry_seconds=settings.whatsapp_retry_seconds,
        )

    def close(self) -> None:
        self._client.close()

    def send(self, to: str, body: str) -> Sent:
        """Send one message (at most ``TWILIO_LIMIT`` characters); its SID, or SendFailed."""
        form = {"To": to, "From": self.sender, "Body": body}
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        detail, status = "", None
        for attempt in range(1, self.attempts + 1):
            try:
                response = self._client.post(self._path, data=form)
            except httpx.TransportError as exc:
                detail, status = type(exc).__name__, None
            else:
                if response.is_success:
                    return Sent(str(response.json().get("sid", "")), attempt)
                status = response.status_code
                try:
                    error = response.json()
                    detail = f"HTTP {status}: {error.get('message', '')} (code {error.get('code')})"
                except ValueError:
                    detail = f"HTTP {status}"
                if status != 429 and status < 500:
                    raise SendFailed(detail, status=status, attempts=attempt)
            if attempt < self.attempts:
                pause = min(self.retry_seconds * 2 ** (attempt - 1), MAX_PAUSE)
                log.warning("Twilio send failed (%s); try %d in %.1f s", detail, attempt + 1, pause)
                self._sleep(pause)
        raise SendFailed(detail, status=status, attempts=self.attempts)
