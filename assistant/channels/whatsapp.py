"""Meta's WhatsApp Cloud API: signed webhooks in, messages out through the Graph API.

Errors::

    SignatureError          the webhook call is not from Meta
      SignatureMissing      no X-Hub-Signature-256 header          -> 401
      SignatureInvalid      a signature that does not match         -> 403
    SendFailed              a message Meta did not take, after the retries

Sending uses plain httpx against ``whatsapp_graph_url``: one client owned by the
caller, no global state, so tests point it at a local stand-in of the Graph API.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx

from assistant.channels.phone import Reply
from assistant.settings import Settings

__all__ = [
    "GraphClient",
    "Inbound",
    "SendFailed",
    "Sent",
    "SignatureError",
    "SignatureInvalid",
    "SignatureMissing",
    "StatusUpdate",
    "check_signature",
    "missing_settings",
    "parse_webhook",
    "reply_payload",
]

log = logging.getLogger(__name__)

MAX_PAUSE = 60.0  # seconds between two tries, at most
# Graph error codes that mean "slow down" even when the HTTP status is not 429.
_THROTTLED = {4, 80007, 130429, 131056}


class SignatureError(Exception):
    """The webhook call cannot be shown to come from Meta."""


class SignatureMissing(SignatureError):
    """No X-Hub-Signature-256 header."""


class SignatureInvalid(SignatureError):
    """The X-Hub-Signature-256 header does not match the body."""


def check_signature(app_secret: str, body: bytes, header: str | None) -> None:
    """Meta signs the raw body: ``sha256=`` + HMAC-SHA256(app secret), hex. The
    comparison takes the same time whatever the header, so it leaks nothing."""
    if not header:
        raise SignatureMissing("X-Hub-Signature-256 is missing")
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), header.strip().lower().encode()):
        raise SignatureInvalid("X-Hub-Signature-256 does not match the body")


def missing_settings(settings: Settings) -> list[str]:
    """The settings the WhatsApp bridge still needs; empty when it can run."""
    needed = {
        "ASSISTANT_WHATSAPP_APP_SECRET": settings.whatsapp_app_secret,
        "ASSISTANT_WHATSAPP_ACCESS_TOKEN": settings.whatsapp_access_token,
        "ASSISTANT_WHATSAPP_PHONE_NUMBER_ID": settings.whatsapp_phone_number_id,
    }
    return [name for name, value in needed.items() if not value]


# ------------------------------------------------------------ webhooks in


@dataclass(frozen=True)
class Inbound:
    """One message a user sent: ``kind`` is "text", "button" (a tapped reply button;
    ``text`` is its id) or WhatsApp's type for anything else (``text``: a caption)."""

    id: str
    sender: str
    kind: str
    text: str = ""


@dataclass(frozen=True)
class StatusUpdate:
    """What became of a message we sent: sent, delivered, read or failed."""

    message_id: str
    recipient: str
    status: str
    timestamp: str
    errors: list


def _dicts(value: object) -> Iterator[dict]:
    """The dicts of a list: payloads of unknown shape yield nothing rather than fail."""
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _get(value: object, *keys: str) -> object:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _inbound(raw: dict) -> Inbound | None:
    message_id, sender, kind = raw.get("id"), raw.get("from"), raw.get("type")
    if not (isinstance(message_id, str) and isinstance(sender, str) and isinstance(kind, str)):
        return None
    if kind == "text":
        text = _get(raw, "text", "body")
    elif kind == "interactive":
        kind = "button"
        text = _get(raw, "interactive", "button_reply", "id") or _get(
            raw, "interactive", "list_reply", "id"
        )
    elif kind == "button":  # a quick-reply button of a template message
        text = _get(raw, "button", "payload") or _get(raw, "button", "text")
    else:
        text = _get(raw, kind, "caption")
    return Inbound(message_id, sender, kind, text if isinstance(text, str) else "")


def parse_webhook(payload: object) -> tuple[list[Inbound], list[StatusUpdate]]:
    """The messages and status updates of a webhook call; whatever else it holds, or a
    shape this code does not know, is skipped."""
    messages: list[Inbound] = []
    statuses: list[StatusUpdate] = []
    entries = payload.get("entry") if isinstance(payload, dict) else None
    for entry in _dicts(entries):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            for raw in _dicts(value.get("messages")):
                if (message := _inbound(raw)) is not None:
                    messages.append(message)
            for raw in _dicts(value.get("statuses")):
                if isinstance(raw.get("id"), str) and isinstance(raw.get("status"), str):
                    errors = raw.get("errors")
                    statuses.append(
                        StatusUpdate(
                            message_id=raw["id"],
                            recipient=str(raw.get("recipient_id", "")),
                            status=raw["status"],
                            timestamp=str(raw.get("timestamp", "")),
                            errors=errors if isinstance(errors, list) else [],
                        )
                    )
    return messages, statuses


# ------------------------------------------------------------ messages out


def reply_payload(to: str, reply: Reply) -> dict:
    """The Graph API body of a reply: a text message (no link previews: they cost a
    slow connection more than the answer), or an interactive one with reply buttons."""
    base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
    if not reply.buttons:
        return {**base, "type": "text", "text": {"preview_url": False, "body": reply.text}}
    buttons = [
        {"type": "reply", "reply": {"id": button_id, "title": title[:20]}}
        for button_id, title in reply.buttons[:3]
    ]
    return {
        **base,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": reply.text},
            "action": {"buttons": buttons},
        },
    }


class SendFailed(Exception):
    """Meta did not take the message: a client error, or still failing after the retries."""

    def __init__(self, detail: str, *, status: int | None, attempts: int) -> None:
        super().__init__(detail)
        self.status = status
        self.attempts = attempts


@dataclass(frozen=True)
class Sent:
    message_id: str
    attempts: int


def _graph_error(response: httpx.Response) -> tuple[int | None, str]:
    """Graph's error code and message, or the body's start when it is not Graph's shape."""
    try:
        error = response.json().get("error", {})
        return error.get("code"), f"{error.get('message', '')} (code {error.get('code')})"
    except (ValueError, AttributeError):
        return None, response.text[:200]


def _message_id(response: httpx.Response) -> str:
    """The id Meta gave the message sent (``messages[0].id``); empty if it gave none."""
    try:
        sent = _get(response.json(), "messages")
    except ValueError:
        return ""
    return str(next(_dicts(sent), {}).get("id", ""))


class GraphClient:
    """Sends messages from one business number; retries on 429, 5xx and lost
    connections, waiting longer each time (or as long as Retry-After says)."""

    def __init__(
        self,
        *,
        base_url: str,
        version: str,
        phone_number_id: str,
        token: str,
        attempts: int = 4,
        retry_seconds: float = 1.0,
        timeout: float = 15.0,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
        )
        self._path = f"/{version}/{phone_number_id}/messages"
        self.attempts = attempts
        self.retry_seconds = retry_seconds
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings) -> GraphClient:
        assert settings.whatsapp_access_token and settings.whatsapp_phone_number_id
        return cls(
            base_url=settings.whatsapp_graph_url,
            version=settings.whatsapp_api_version,
            phone_number_id=settings.whatsapp_phone_number_id,
            token=settings.whatsapp_access_token.get_secret_value(),
            attempts=settings.whatsapp_send_attempts,
            retry_seconds=settings.whatsapp_retry_seconds,
        )

    def close(self) -> None:
        self._client.close()

    def _pause(self, attempt: int, response: httpx.Response | None) -> float:
        retry_after = response.headers.get("Retry-After", "") if response is not None else ""
        if retry_after.isdigit():
            return min(float(retry_after), MAX_PAUSE)
        return min(self.retry_seconds * 2 ** (attempt - 1), MAX_PAUSE)

    def send(self, payload: dict) -> Sent:
        """Send one message; its WhatsApp id once Meta has it, else ``SendFailed``."""
        status: int | None = None
        detail = ""
        for attempt in range(1, self.attempts + 1):
            response = None
            try:
                response = self._client.post(self._path, json=payload)
            except httpx.TransportError as exc:
                status, detail = None, f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return Sent(_message_id(response), attempt)
                status = response.status_code
                code, detail = _graph_error(response)
                detail = f"HTTP {status}: {detail}"
                if status != 429 and status < 500 and code not in _THROTTLED:
                    raise SendFailed(detail, status=status, attempts=attempt)
            if attempt < self.attempts:
                pause = self._pause(attempt, response)
                log.warning(
                    "WhatsApp send failed (%s); try %d in %.1f s", detail, attempt + 1, pause
                )
                self._sleep(pause)
        raise SendFailed(detail, status=status, attempts=self.attempts)
