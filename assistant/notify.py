"""Telling people, in the background: staff of each hand-off (a JSON webhook and/or an
e-mail), and web users who left an address of their adviser's reply (an e-mail).

One thread sends, so that no request waits for a slow webhook or mail server. Each
notification is tried ``notify_attempts`` times, the pause doubling from
``notify_retry_seconds``; a hand-off records whether its staff were told (``notified``:
sent, failed, off), and those a stopped server never told are sent at the next start.

Webhook URLs often carry their secret in the path (Slack, Teams) and SMTP URLs a
password: logs name the host only, and failures by their status or exception type.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from assistant.handoffs import HandoffRecord, Handoffs, UnknownHandoff
from assistant.pending import Pending
from assistant.settings import Settings

__all__ = ["Mail", "Notifier", "SmtpServer", "handoff_payload"]

log = logging.getLogger(__name__)

MAX_PAUSE = 60.0
TIMEOUT = 10.0
QUESTION_CHARS = 300  # of the question, in a webhook's text line


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    body: str


@dataclass(frozen=True)
class SmtpServer:
    """An ``notify_smtp_url``: smtp://[user:password@]host[:port][?plain], smtps://…"""

    host: str
    port: int
    implicit_tls: bool
    plain: bool  # a local relay without TLS
    user: str
    password: str

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("notify_smtp_url must look like smtp://user:password@host:587")
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 587),
            implicit_tls=tls,
            plain="plain" in parse_qs(parts.query, keep_blank_values=True),
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
        )

    def send(self, sender: str, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(mail.to)
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        context = ssl.create_default_context()
        if self.implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=TIMEOUT, context=context
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT)
        with client:
            client.ehlo()
            if not self.implicit_tls and not self.plain:
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                elif self.user:
                    raise smtplib.SMTPNotSupportedError("no STARTTLS: the password stays unsent")
            if self.user:
                client.login(self.user, self.password)
            client.send_message(message)


def handoff_payload(record: HandoffRecord, public_url: str | None) -> dict:
    """The webhook's JSON: a ``text`` line chat tools show as is, and the hand-off."""
    question = " ".join(record.question.split())
    if len(question) > QUESTION_CHARS:
        question = question[: QUESTION_CHARS - 1] + "…"
    inbox = f"{public_url.rstrip('/')}/helpdesk.html#handoff-{record.id}" if public_url else ""
    where = f"{record.channel}, {record.language}"
    text = f"New question for the advisers ({where}): “{question}”"
    return {
        "event": "handoff.created",
        "text": f"{text} {inbox}".strip(),
        "handoff": {
            "id": record.id,
            "question": record.question,
            "language": record.language,
            "channel": record.channel,
            "reason": record.reason,
            "created_at": record.created_at.isoformat(),
            "inbox_url": inbox or None,
        },
    }


class _Redacted(logging.Filter):
    """httpx logs every request's URL (at INFO): the webhook's is shown as its host."""

    def __init__(self, secret: str, shown: str) -> None:
        super().__init__()
        self.secret, self.shown = secret, shown

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, self.shown), ()
        return True


def _failure(exc: Exception) -> str:
    """What went wrong, without anything a URL or server message may hold."""
    code = getattr(exc, "smtp_code", None)
    return f"{type(exc).__name__}{f' {code}' if code else ''}"


class Notifier:
    """The sending thread; ``handoff`` and ``email`` queue work and return at once."""

    def __init__(self, settings: Settings, handoffs: Handoffs) -> None:
        self.settings = settings
        self.handoffs = handoffs
        webhook = settings.notify_webhook_url
        self._webhook = webhook.get_secret_value() if webhook else None
        smtp = settings.notify_smtp_url
        self._smtp = SmtpServer.parse(smtp.get_secret_value()) if smtp else None
        self._queue: queue.Queue[tuple[str, object] | None] = queue.Queue()
        self._pending = Pending()
        self._stop = threading.Event()
        self._client = httpx.Client(timeout=TIMEOUT)
        self._redacted = None
        if self._webhook:
            parts = urlsplit(self._webhook)
            self._redacted = _Redacted(self._webhook, f"{parts.scheme}://{parts.netloc}/***")
            logging.getLogger("httpx").addFilter(self._redacted)
        self._thread = threading.Thread(target=self._run, name="notify", daemon=True)

    @property
    def staff_channels(self) -> list[str]:
        """How staff are told: "webhook", "email", both or none."""
        email = self._smtp is not None and self.settings.notify_email_to
        return [name for name, on in (("webhook", self._webhook), ("email", email)) if on]

    @property
    def can_email(self) -> bool:
        return self._smtp is not None and bool(self.settings.notify_email_from)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start sending, first what a previous run left unsent (its last day)."""
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        for handoff_id in self.handoffs.unnotified(since):
            self.handoffs.set_notified(handoff_id, "pending")  # "sending" when it stopped
            self.handoff(handoff_id)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._client.close()
        if self._redacted is not None:
            logging.getLogger("httpx").removeFilter(self._redacted)

    def drain(self) -> bool:
        """Wait until everything queued is sent or given up (True), however long that
        takes; False when the worker thread is gone with work still queued."""
        return self._pending.wait(self._thread)

    # ------------------------------------------------------------ work

    def handoff(self, handoff_id: str) -> None:
        self._put(("handoff", handoff_id))

    def email(self, mail: Mail) -> bool:
        """Queue an e-mail; False when no mail server is set up."""
        if not self.can_email:
            return False
        self._put(("email", mail))
        return True

    def _put(self, job: tuple[str, object]) -> None:
        self._pending.add()
        self._queue.put(job)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            kind, value = job
            try:
                if kind == "handoff":
                    self._tell_staff(str(value))
                else:
                    assert isinstance(value, Mail)
                    self._retry("e-mail to a user", lambda mail=value: self._mail(mail))
            except Exception:  # the thread must outlive any one notification
                log.exception("notification %s failed", kind)
            finally:
                self._pending.done()

    def _tell_staff(self, handoff_id: str) -> None:
        if not self.staff_channels:
            self.handoffs.set_notified(handoff_id, "off")
            return
        if not self.handoffs.claim_notification(handoff_id):
            return  # another process has it
        try:
            record = self.handoffs.get(handoff_id)
        except UnknownHandoff:
            return
        payload = handoff_payload(record, self.settings.public_url)
        sent = []
        if self._webhook:
            sent.append(self._retry(f"hand-off {handoff_id} webhook", lambda: self._post(payload)))
        if "email" in self.staff_channels:
            mail = Mail(
                tuple(self.settings.notify_email_to),
                f"[{self.settings.desk_name}] New question for the advisers",
                f"{payload['text']}\n\n{record.question}\n",
            )
            sent.append(self._retry(f"hand-off {handoff_id} e-mail", lambda: self._mail(mail)))
        self.handoffs.set_notified(handoff_id, "sent" if all(sent) else "failed")

    def _post(self, payload: dict) -> None:
        assert self._webhook is not None
        response = self._client.post(self._webhook, json=payload)
        if not response.is_success:
            raise RuntimeError(f"HTTP {response.status_code}")

    def _mail(self, mail: Mail) -> None:
        assert self._smtp is not None
        self._smtp.send(self.settings.notify_email_from or f"assistant@{self._smtp.host}", mail)

    def _where(self, what: str) -> str:
        if "webhook" in what and self._webhook:
            return urlsplit(self._webhook).hostname or "?"
        return self._smtp.host if self._smtp else "?"

    def _retry(self, what: str, send) -> bool:
        attempts = self.settings.notify_attempts
        for attempt in range(1, attempts + 1):
            try:
                send()
            except (httpx.HTTPError, OSError, smtplib.SMTPException, RuntimeError) as exc:
                reason = str(exc) if isinstance(exc, RuntimeError) else _failure(exc)
                log.warning(
                    "%s to %s failed (try %d of %d): %s",
                    what,
                    self._where(what),
                    attempt,
                    attempts,
                    reason,
                )
                pause = self.settings.notify_retry_seconds * 2 ** (attempt - 1)
                if attempt == attempts or self._stop.wait(min(pause, MAX_PAUSE)):
                    break
                continue
            log.info("%s sent to %s", what, self._where(what))
            return True
        log.error("%s to %s not sent after %d tries", what, self._where(what), attempts)
        return False
