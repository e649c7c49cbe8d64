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
import json
import logging
import re
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

import httpx

from assistant.channels.phone import Reply, button_action
from assistant.settings import Settings

__all__ = [
    "ID_CHARS",
    "GraphClient",
    "Inbound",
    "SendFailed",
    "Sent",
    "SignatureError",
    "SignatureInvalid",
    "SignatureMissing",
    "StatusUpdate",
    "Webhook",
    "WebhookError",
    "check_signature",
    "missing_settings",
    "parse_webhook",
    "recipient_field",
    "reply_payload",
]

log = logging.getLogger(__name__)

MAX_PAUSE = 60.0  # seconds between two tries, at most
# The forms Meta documents, in ASCII (str.isdigit would take "٣" and "²"): a user's phone
# number (its WhatsApp id, digits; E.164 has at most 15), a business-scoped user id
# (country code, ".", a parent BSUID's "ENT.", up to 128 letters and digits), one of our
# phone number ids; what a webhook says is cut or skipped to the columns that keep it.
PHONE = re.compile(r"\+?[0-9]{1,20}")
BSUID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")
_NUMBER_ID = re.compile(r"[0-9]{1,64}")
_DISPLAY_NUMBER = re.compile(r"[0-9+() .-]{1,32}")
_TYPE = re.compile(r"[a-z_]{1,16}")  # a message's type, a status
_TIMESTAMP = re.compile(r"[0-9]{1,20}")
_CODE_LIMIT = 2**31  # an error code must fit any database's INTEGER
ID_CHARS = 255  # message ids (wamid.…, Twilio's MessageSid) and senders
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
    """One message a user sent. ``sender`` is their phone number, or their business-scoped
    user id (BSUID, "US.1349…") when Meta withholds the number of a user with a username;
    ``business`` is the phone number id of our number it was sent to. ``kind`` is "text"
    (also a template quick reply, list item or flow we did not make: ``text`` is what
    the user saw), "button" (one of our reply buttons; ``text`` is its id) or WhatsApp's
    type for anything else (``text``: a caption)."""

    id: str
    sender: str
    kind: str
    text: str = ""
    business: str = ""


@dataclass(frozen=True)
class StatusUpdate:
    """What became of a message we sent: sent, delivered, read or failed."""

    message_id: str
    recipient: str
    status: str
    timestamp: str
    errors: list


@dataclass(frozen=True)
class WebhookError:
    """An error Meta reported: for a whole webhook call (``value.errors``, e.g. 131000) or
    for one message we sent (a failed status, ``message_id`` set)."""

    code: int | None
    title: str
    details: str
    message_id: str = ""
    business: str = ""


@dataclass(frozen=True)
class Webhook:
    """What one webhook call holds, as far as this bridge cares; ``numbers``: our business
    numbers it names, phone number id -> the number as users see it."""

    messages: list[Inbound]
    statuses: list[StatusUpdate]
    errors: list[WebhookError]
    numbers: dict[str, str]


def _dicts(value: object) -> Iterator[dict]:
    """The dicts of a list: payloads of unknown shape yield nothing rather than fail."""
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _get(value: object, *keys: str) -> object:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _chosen(button_id: object, title: object) -> tuple[str, str]:
    """A tapped button or list item: ours by its id, else its title as the message."""
    if isinstance(button_id, str) and button_action(button_id) is not None:
        return "button", button_id
    return "text", _str(title) or _str(button_id)


def _flow_answers(reply: object) -> str:
    """A finished flow: the text fields the user filled in (its ``response_json``), else
    the line WhatsApp showed them ("Sent")."""
    try:
        fields = json.loads(_str(_get(reply, "response_json")) or "{}")
    except ValueError:
        fields = {}
    typed = [
        value.strip()
        for key, value in (fields.items() if isinstance(fields, dict) else ())
        if key != "flow_token" and isinstance(value, str) and value.strip()
    ]
    return "\n".join(typed) or _str(_get(reply, "body"))


def _content(raw: dict, kind: str) -> tuple[str, str]:
    """(kind, text) of a message's content, as ``Inbound`` describes them."""
    if kind == "text":
        return "text", _str(_get(raw, "text", "body"))
    if kind == "interactive":
        interactive = raw.get("interactive")
        for choice in ("button_reply", "list_reply"):
            if isinstance(chosen := _get(interactive, choice), dict):
                return _chosen(chosen.get("id"), chosen.get("title"))
        if isinstance(flow := _get(interactive, "nfm_reply"), dict):
            return "text", _flow_answers(flow)
        return "interactive", ""
    if kind == "button":  # a quick-reply button of a template message
        return _chosen(_get(raw, "button", "payload"), _get(raw, "button", "text"))
    if kind == "edit":  # the new version of a message: answered as if sent again
        edited = _get(raw, "edit", "message")
        if isinstance(edited, dict) and isinstance(edited.get("type"), str):
            return _content(edited, edited["type"])
        return "edit", ""
    return kind, _str(_get(raw, kind, "caption"))


def _sender(raw: dict) -> str | None:
    """The sender in a form Meta documents: the phone number (``from``), else the BSUID
    (``from_user_id``); None when neither is one."""
    phone, user_id = _str(raw.get("from")), _str(raw.get("from_user_id"))
    if PHONE.fullmatch(phone):
        return phone
    if BSUID.fullmatch(user_id):
        return user_id
    return None


def _valid_id(value: object) -> str:
    """An id to store and compare (``wamid.…``); empty when it is none."""
    found = _str(value)
    return found if 0 < len(found) <= ID_CHARS and found.isprintable() else ""


def _inbound(raw: dict, business: str) -> Inbound | None:
    message_id, kind, sender = _valid_id(raw.get("id")), raw.get("type"), _sender(raw)
    if not (message_id and sender and isinstance(kind, str)):
        log.warning("WhatsApp message skipped: no id, type or sender in a documented form")
        return None
    kind, text = _content(raw, kind)
    return Inbound(message_id, sender, kind if _TYPE.fullmatch(kind) else "unknown", text, business)


def _code(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < _CODE_LIMIT:
        return value
    return None


def _errors(raw: object, message_id: str = "", business: str = "") -> list[WebhookError]:
    """Meta's error objects: ``code``, ``title`` (or ``message``), ``error_data.details``."""
    return [
        WebhookError(
            code=_code(error.get("code")),
            title=_str(error.get("title")) or _str(error.get("message")),
            details=_str(_get(error, "error_data", "details")),
            message_id=message_id,
            business=business,
        )
        for error in _dicts(raw)
    ]


def _status(raw: dict) -> StatusUpdate | None:
    message_id, status = _valid_id(raw.get("id")), _str(raw.get("status"))
    if not (message_id and _TYPE.fullmatch(status)):
        return None
    errors = raw.get("errors")
    recipient = _str(raw.get("recipient_id")) or _str(raw.get("recipient_user_id"))
    timestamp = str(raw.get("timestamp", ""))
    return StatusUpdate(
        message_id=message_id,
        recipient=recipient if PHONE.fullmatch(recipient) or BSUID.fullmatch(recipient) else "",
        status=status,
        timestamp=timestamp if _TIMESTAMP.fullmatch(timestamp) else "",
        errors=errors if isinstance(errors, list) else [],
    )


def _number_id(value: dict) -> str:
    """The phone number id of our number a change is about; empty when it is none."""
    number_id = _str(_get(value, "metadata", "phone_number_id"))
    return number_id if _NUMBER_ID.fullmatch(number_id) else ""


def parse_webhook(payload: object, ours: Collection[str] = ()) -> Webhook:
    """The messages, status updates and errors of a webhook call. Skipped: messages from
    one of our own numbers (``ours``, and each ``metadata.display_phone_number`` of the
    call), and whatever else the call holds (``message_echoes`` among them), or a shape
    this code does not know."""
    found = Webhook([], [], [], {})
    entries = payload.get("entry") if isinstance(payload, dict) else None
    values = [
        change["value"]
        for entry in _dicts(entries)
        for change in _dicts(entry.get("changes"))
        if isinstance(change.get("value"), dict)
    ]
    for value in values:
        number_id = _number_id(value)
        display = _str(_get(value, "metadata", "display_phone_number"))
        if number_id and _DISPLAY_NUMBER.fullmatch(display):
            found.numbers[number_id] = display.lstrip("+")
    ours = {*found.numbers.values(), *(number.lstrip("+") for number in ours)}
    for value in values:
        business = _number_id(value)
        found.errors.extend(_errors(value.get("errors"), business=business))
        for raw in _dicts(value.get("messages")):
            if (message := _inbound(raw, business)) is None:
                continue
            if message.sender.lstrip("+") in ours:
                log.info("WhatsApp message %s is from our own number: ignored", message.id)
                continue
            found.messages.append(message)
        for raw in _dicts(value.get("statuses")):
            if (status := _status(raw)) is None:
                continue
            found.statuses.append(status)
            if status.status == "failed":
                failed = _errors(status.errors, status.message_id, business)
                found.errors.extend(
                    failed or [WebhookError(None, "failed", "", status.message_id, business)]
                )
    return found


# ------------------------------------------------------------ messages out


def recipient_field(to: str) -> str:
    """Where Meta wants ``to``: a phone number in ``to``, a BSUID in ``recipient``."""
    if PHONE.fullmatch(to):
        return "to"
    if BSUID.fullmatch(to):
        return "recipient"
    raise ValueError(f"{to!r} is neither a phone number nor a business-scoped user id")


def reply_payload(to: str, reply: Reply) -> dict:
    """The Graph API body of a reply to ``to`` (``recipient_field``): a text message (no
    link previews: they cost a slow connection more than the answer), or an interactive
    one with reply buttons."""
    address = recipient_field(to)
    base = {"messaging_product": "whatsapp", "recipient_type": "individual", address: to}
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
    """Sends messages from a business number (the configured one unless told); retries
    on 429, 5xx and lost connections, waiting longer each time (or as Retry-After says)."""

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
        self.version = version
        self.phone_number_id = phone_number_id
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

    def send(self, payload: dict, phone_number_id: str = "") -> Sent:
        """Send one message from ``phone_number_id`` (default: the configured number); its
        WhatsApp id once Meta has it, else ``SendFailed``."""
        path = f"/{self.version}/{phone_number_id or self.phone_number_id}/messages"
        status: int | None = None
        detail = ""
        for attempt in range(1, self.attempts + 1):
            response = None
            try:
                response = self._client.post(path, json=payload)
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
