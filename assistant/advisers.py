"""The desk's advisers, as the channels and routes reach them: a question handed off
(and staff told), and an adviser's reply carried back to where it was asked.

Where a reply goes:

- web: it is stored with the conversation; the user's page shows it (live, through
  ``/api/conversations/{id}/events``, or when they come back), and an address they left
  gets it by e-mail;
- WhatsApp (Meta): sent as a message when the user wrote in the last 24 hours (Meta's
  customer-service window); otherwise the configured template is sent, or nothing, and
  the reply is kept "undelivered" (said so in the inbox) until the user writes again;
- Twilio: the same, through Twilio's Messages API (no template).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from assistant.answer import Citation
from assistant.channels.phone import TEXT_LIMIT, Reply, plain, source_lines, split_text
from assistant.channels.records import WhatsAppRecords
from assistant.channels.twilio import TWILIO_LIMIT, TwilioClient
from assistant.channels.whatsapp import GraphClient, SendFailed, reply_payload
from assistant.handoffs import Handoff, HandoffRecord, Handoffs, ReplyRecord
from assistant.language import message
from assistant.notify import Mail, Notifier
from assistant.ratelimit import Budgets, Refusal
from assistant.settings import Settings
from assistant.source_list import shorten

__all__ = ["REPLY_WINDOW", "Advisers", "HandoffLimited"]

log = logging.getLogger(__name__)

# Meta (and Twilio, for WhatsApp) lets a business write freely within 24 hours of the
# user's last message; later, only an approved template.
REPLY_WINDOW = dt.timedelta(hours=24)
_RECORD_CHANNEL = {"whatsapp": "meta", "twilio": "twilio"}  # names in whatsapp_messages
_STATUS_RANK = {"failed": 5, "undelivered": 5, "read": 4, "delivered": 3, "sent": 2}


class HandoffLimited(Exception):
    """Over the hand-off budget of this client."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(str(refusal.limit))
        self.refusal = refusal


@dataclass(frozen=True)
class Delivery:
    """How a reply fared: ``state`` as stored, or the channel's latest status for one
    that was sent (delivered, read, failed…), and ``detail`` (why it is not there)."""

    state: str
    detail: str | None


class Advisers:
    def __init__(
        self,
        settings: Settings,
        handoffs: Handoffs,
        records: WhatsAppRecords,
        notifier: Notifier,
        budgets: Budgets,
        graph: Callable[[], GraphClient | None],
        twilio: TwilioClient | None,
    ) -> None:
        self.settings = settings
        self.handoffs = handoffs
        self.records = records
        self.notifier = notifier
        self.budgets = budgets
        self.graph = graph  # a getter: the WhatsApp worker's client, when it runs
        self.twilio = twilio

    # ------------------------------------------------------------ hand-offs

    def hand_off(
        self,
        conversation_id: str,
        turn: int,
        *,
        channel: str,
        client: str,
        recipient: str | None = None,
        business: str | None = None,
        email: str | None = None,
    ) -> Handoff:
        """Pass a turn to the desk and tell staff; the existing hand-off when the turn has
        one (not counted). ``client`` is counted against ``handoff_rate_limit``."""
        existing = self.handoffs.of_turn(conversation_id, turn)
        if existing is None:
            refusal = self.budgets.hit("handoffs", client)
            if refusal is not None:
                raise HandoffLimited(refusal)
        handoff = self.handoffs.hand_off(
            conversation_id,
            turn,
            channel=channel,
            recipient=recipient,
            business=business,
            email=email,
        )
        if handoff.created:
            self.notifier.handoff(handoff.record.id)
        return handoff

    def told(self, handoff: Handoff, language: str) -> str:
        """What the user is told: passed on (with the usual reply time), or already."""
        key = "handoff_confirm" if handoff.created else "handoff_already"
        return message(
            key,
            language,
            desk=self.settings.desk_name,
            hours=str(self.settings.handoff_reply_hours),
        )

    # ------------------------------------------------------------ replies

    def reply(
        self, handoff_id: str, text: str, citations: list[Citation], author: str
    ) -> ReplyRecord:
        """Keep an adviser's reply and carry it to the user; the reply as delivered."""
        reply = self.handoffs.add_reply(handoff_id, text, [c.as_dict() for c in citations], author)
        handoff = self.handoffs.get(handoff_id)
        self._deliver(handoff, reply)
        return next(r for r in self.handoffs.get(handoff_id).replies if r.id == reply.id)

    def send_waiting(self, channel: str, recipient: str) -> int:
        """Send the replies that waited for ``recipient`` to write again (they just did);
        how many were sent."""
        sent = 0
        for handoff, reply in self.handoffs.waiting(channel, recipient):
            self._deliver(handoff, reply)
            sent += 1
        return sent

    def delivery(self, reply: ReplyRecord) -> Delivery:
        """The reply's delivery, with the channel's latest word on a message sent."""
        if reply.message_id and reply.delivery in ("sent", "template"):
            statuses = self.records.statuses(reply.message_id)
            if statuses:
                best = max(statuses, key=lambda s: _STATUS_RANK.get(s, 1))
                if reply.delivery == "template" and best != "failed":
                    return Delivery("template", reply.detail)  # the reply itself still waits
                return Delivery(best, reply.detail)
        return Delivery(reply.delivery, reply.detail)

    def _deliver(self, handoff: HandoffRecord, reply: ReplyRecord) -> None:
        if handoff.channel == "web":
            self._web(handoff, reply)
            return
        last = self.records.last_received(handoff.recipient or "", _RECORD_CHANNEL[handoff.channel])
        open_window = last is not None and dt.datetime.now(dt.UTC) - last < REPLY_WINDOW
        if not open_window:
            self._outside_window(handoff, reply)
            return
        try:
            message_id = self._send(handoff, reply)
        except SendFailed as exc:
            log.error("adviser's reply %d to hand-off %s not sent: %s", reply.id, handoff.id, exc)
            self.handoffs.set_delivery(reply.id, "failed", detail=str(exc))
            return
        self.handoffs.set_delivery(reply.id, "sent", message_id=message_id)

    def _web(self, handoff: HandoffRecord, reply: ReplyRecord) -> None:
        detail = None
        if handoff.email:
            if self.notifier.email(self._mail(handoff, reply)):
                detail = "also e-mailed to the address the user left"
            else:
                detail = "the user left an e-mail address, but no mail server is set up"
        self.handoffs.set_delivery(reply.id, "stored", detail=detail)

    def _outside_window(self, handoff: HandoffRecord, reply: ReplyRecord) -> None:
        """Outside the 24-hour window: the template if there is one, else wait."""
        template = self.settings.whatsapp_reply_template
        graph = self.graph()
        if handoff.channel == "whatsapp" and template and graph is not None:
            payload = {
                **_address(handoff.recipient or ""),
                "type": "template",
                "template": {"name": template, "language": {"code": handoff.language}},
            }
            try:
                sent = graph.send(payload, handoff.business or "")
            except SendFailed as exc:
                self.handoffs.set_delivery(
                    reply.id, "failed", detail=f"template {template!r} not sent: {exc}"
                )
                return
            self.handoffs.set_delivery(
                reply.id,
                "template",
                message_id=sent.message_id,
                detail=f"outside WhatsApp's 24-hour window: template {template!r} sent; the "
                "reply follows when the user writes",
            )
            return
        self.handoffs.set_delivery(
            reply.id,
            "undelivered",
            detail="outside WhatsApp's 24-hour window: a template message is needed "
            "(ASSISTANT_WHATSAPP_REPLY_TEMPLATE for Meta); the reply is sent when the user "
            "writes again",
        )

    def _phone_text(self, handoff: HandoffRecord, reply: ReplyRecord) -> str:
        lead = message(
            "adviser_reply",
            handoff.language,
            desk=self.settings.desk_name,
            question=shorten(" ".join(handoff.question.split()), 120),
        )
        parts = [lead, plain(reply.text)]
        citations = [Citation(**c) for c in reply.citations]
        if citations:
            heading = f"*{message('button_sources', handoff.language)}*"
            lines = source_lines(citations, self.settings.public_url)
            parts.append("\n".join([heading, *lines]))
        return "\n\n".join(parts)

    def _send(self, handoff: HandoffRecord, reply: ReplyRecord) -> str:
        """Send the reply on its phone channel; the first message's id."""
        text = self._phone_text(handoff, reply)
        recipient = handoff.recipient or ""
        ids = []
        if handoff.channel == "twilio":
            if self.twilio is None:
                raise SendFailed(
                    "Twilio sending is not set up (ASSISTANT_TWILIO_ACCOUNT_SID, "
                    "ASSISTANT_TWILIO_FROM)",
                    status=None,
                    attempts=0,
                )
            for piece in split_text(text, TWILIO_LIMIT):
                ids.append(self.twilio.send(recipient, piece).message_id)
            return ids[0]
        graph = self.graph()
        if graph is None:
            raise SendFailed("WhatsApp is not configured here", status=None, attempts=0)
        for piece in split_text(text, TEXT_LIMIT):
            payload = reply_payload(recipient, Reply(piece))
            sent = graph.send(payload, handoff.business or "")
            self.records.add_send(
                f"handoff:{handoff.id}",
                payload,
                attempts=sent.attempts,
                message_id=sent.message_id,
            )
            ids.append(sent.message_id)
        return ids[0]

    def _mail(self, handoff: HandoffRecord, reply: ReplyRecord) -> Mail:
        assert handoff.email is not None
        language = handoff.language
        lead = message(
            "adviser_reply",
            language,
            desk=self.settings.desk_name,
            question=shorten(" ".join(handoff.question.split()), 200),
        )
        body = [lead, reply.text]
        citations = [Citation(**c) for c in reply.citations]
        if citations:
            lines = source_lines(citations, self.settings.public_url)
            body.append("\n".join([message("button_sources", language), *lines]))
        if self.settings.public_url:
            link = f"{self.settings.public_url.rstrip('/')}/?conversation={handoff.conversation_id}"
            body.append(link)
        return Mail((handoff.email,), lead.rstrip(":： "), "\n\n".join(body) + "\n")


def _address(recipient: str) -> dict:
    """The start of a Graph message to ``recipient`` (a number in ``to``, a BSUID in
    ``recipient``), as ``reply_payload`` writes it."""
    payload = reply_payload(recipient, Reply("."))
    return {k: v for k, v in payload.items() if k not in ("type", "text")}
