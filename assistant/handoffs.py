"""Questions passed to the desk's advisers, and the advisers' replies.

A hand-off is one turn of a conversation (one per turn: a second request for the same
question returns the first), with where to answer: the web page it was asked on, or a
WhatsApp number through Meta or Twilio. Its life::

    new -> assigned (someone took it) -> answered (a reply was sent) -> closed

A reply records how it reached the user (``delivery``):

- web: ``stored`` until the user's page has shown it, then ``seen``;
- WhatsApp / Twilio: ``sent`` (with the channel's message id, whose delivery statuses
  come from the channel's callbacks), ``failed`` (with why), ``undelivered`` (outside
  WhatsApp's 24-hour window and no template configured) or ``template`` (a template told
  the user a reply waits). Undelivered and template replies are sent when the user next
  writes (``waiting``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, selectinload

from assistant.conversations import (
    Base,
    ConversationRecord,
    TurnRecord,
    UnknownTurn,
    UTCDateTime,
    create_tables,
    utc_now,
)

__all__ = [
    "CHANNELS",
    "STATUSES",
    "Handoff",
    "HandoffRecord",
    "Handoffs",
    "InboxFilter",
    "ReplyRecord",
    "UnknownHandoff",
]

STATUSES = ("new", "assigned", "answered", "closed")
CHANNELS = ("web", "whatsapp", "twilio")
# Deliveries of a reply that still has to reach its user.
WAITING = ("undelivered", "template")
EMAIL_CHARS = 254


class UnknownHandoff(LookupError):
    """No hand-off has this id."""


class HandoffRecord(Base):
    __tablename__ = "handoffs"
    __table_args__ = (UniqueConstraint("conversation_id", "turn"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    turn: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text, default="")  # what the assistant said
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16), index=True)  # web | whatsapp | twilio
    recipient: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    business: Mapped[str | None] = mapped_column(String(64), nullable=True)
    email: Mapped[str | None] = mapped_column(String(EMAIL_CHARS), nullable=True)
    reason: Mapped[str] = mapped_column(String(16))  # refused | asked
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    assigned_to: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    first_reply_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # Staff notification: pending -> sent | failed (after its tries) | off (none set up).
    notified: Mapped[str] = mapped_column(String(16), default="pending")
    replies: Mapped[list[ReplyRecord]] = relationship(
        back_populates="handoff", order_by="ReplyRecord.id", cascade="all, delete-orphan"
    )


class ReplyRecord(Base):
    __tablename__ = "handoff_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    handoff_id: Mapped[str] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[dict]] = mapped_column(JSON, default=list)
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    delivery: Mapped[str] = mapped_column(String(16), default="stored", index=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    handoff: Mapped[HandoffRecord] = relationship(back_populates="replies")


_TABLES = [HandoffRecord.__table__, ReplyRecord.__table__]


@dataclass(frozen=True)
class Handoff:
    """A hand-off as every reader sees it; ``created``: made by this call (not found)."""

    record: HandoffRecord
    created: bool = False


@dataclass(frozen=True)
class InboxFilter:
    statuses: Sequence[str] = ()
    language: str | None = None
    channel: str | None = None
    older_than: dt.timedelta | None = None
    newer_than: dt.timedelta | None = None


@dataclass
class HandoffStats:
    """The hand-offs of a period, for the report."""

    count: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)
    waits: list[float] = field(default_factory=list)  # seconds to the first reply
    unanswered: int = 0


class Handoffs:
    """Every read and write of hand-offs and their replies."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(engine, tables=_TABLES)

    # ------------------------------------------------------------ users' side

    def hand_off(
        self,
        conversation_id: str,
        turn: int,
        *,
        channel: str,
        recipient: str | None = None,
        business: str | None = None,
        email: str | None = None,
    ) -> Handoff:
        """Pass turn ``turn`` to the desk, once: the existing hand-off when there is one
        (an e-mail address given now is added to it). UnknownTurn when there is no turn.
        Its reason: "refused" when the assistant did not answer, else "asked"."""
        existing = self.of_turn(conversation_id, turn)
        if existing is not None:
            if email and not existing.email:
                with Session(self.engine) as session, session.begin():
                    session.execute(
                        update(HandoffRecord)
                        .where(HandoffRecord.id == existing.id)
                        .values(email=email)
                    )
                existing.email = email
            return Handoff(existing)
        with Session(self.engine) as session:
            row = session.scalar(
                select(TurnRecord).where(
                    TurnRecord.conversation_id == conversation_id, TurnRecord.n == turn
                )
            )
            if row is None:
                raise UnknownTurn(f"{conversation_id} has no turn {turn}")
            record = HandoffRecord(
                id=uuid.uuid4().hex,
                conversation_id=conversation_id,
                turn=turn,
                question=row.question,
                answer=row.answer,
                language=row.language,
                channel=channel,
                recipient=recipient,
                business=business,
                email=email,
                reason="refused" if row.refused else "asked",
            )
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                session.add(record)
        except IntegrityError:  # the same question handed off at the same moment
            found = self.of_turn(conversation_id, turn)
            if found is None:
                raise
            return Handoff(found)
        return Handoff(self.get(record.id), created=True)

    def of_turn(self, conversation_id: str, turn: int) -> HandoffRecord | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.scalar(
                select(HandoffRecord)
                .where(HandoffRecord.conversation_id == conversation_id, HandoffRecord.turn == turn)
                .options(selectinload(HandoffRecord.replies))
            )

    def of_conversation(self, conversation_id: str) -> dict[int, HandoffRecord]:
        """Turn number -> its hand-off with its replies."""
        with Session(self.engine, expire_on_commit=False) as session:
            rows = session.scalars(
                select(HandoffRecord)
                .where(HandoffRecord.conversation_id == conversation_id)
                .options(selectinload(HandoffRecord.replies))
            )
            return {row.turn: row for row in rows}

    def mark_seen(self, reply_ids: Sequence[int]) -> None:
        """The user's page has shown these web replies."""
        if not reply_ids:
            return
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(ReplyRecord)
                .where(ReplyRecord.id.in_(list(reply_ids)), ReplyRecord.delivery == "stored")
                .values(delivery="seen")
            )

    # ------------------------------------------------------------ the desk's side

    def get(self, handoff_id: str) -> HandoffRecord:
        with Session(self.engine, expire_on_commit=False) as session:
            record = session.scalar(
                select(HandoffRecord)
                .where(HandoffRecord.id == handoff_id)
                .options(selectinload(HandoffRecord.replies))
            )
        if record is None:
            raise UnknownHandoff(handoff_id)
        return record

    def inbox(
        self, wanted: InboxFilter, *, limit: int, offset: int = 0, now: dt.datetime | None = None
    ) -> tuple[int, list[HandoffRecord]]:
        """(how many match, a page of them), oldest waiting first: the order to work in."""
        now = now or utc_now()
        query = select(HandoffRecord)
        if wanted.statuses:
            query = query.where(HandoffRecord.status.in_(list(wanted.statuses)))
        if wanted.language:
            query = query.where(HandoffRecord.language == wanted.language)
        if wanted.channel:
            query = query.where(HandoffRecord.channel == wanted.channel)
        if wanted.older_than is not None:
            query = query.where(HandoffRecord.created_at <= now - wanted.older_than)
        if wanted.newer_than is not None:
            query = query.where(HandoffRecord.created_at >= now - wanted.newer_than)
        with Session(self.engine, expire_on_commit=False) as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(
                query.order_by(HandoffRecord.created_at, HandoffRecord.id)
                .limit(limit)
                .offset(offset)
                .options(selectinload(HandoffRecord.replies))
            )
            return total, list(rows)

    def counts(self) -> dict[str, int]:
        """Hand-offs per status, every status listed."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(HandoffRecord.status, func.count()).group_by(HandoffRecord.status)
            ).all()
        found = dict(rows)
        return {status: found.get(status, 0) for status in STATUSES}

    def set_status(self, handoff_id: str, status: str, assigned_to: str | None = None) -> None:
        values: dict = {"status": status, "updated_at": utc_now()}
        if status == "assigned":
            values["assigned_to"] = assigned_to
        with Session(self.engine) as session, session.begin():
            changed = session.execute(
                update(HandoffRecord).where(HandoffRecord.id == handoff_id).values(**values)
            ).rowcount
        if not changed:
            raise UnknownHandoff(handoff_id)

    def add_reply(
        self, handoff_id: str, text: str, citations: list[dict], author: str
    ) -> ReplyRecord:
        """Keep an adviser's reply (its delivery is set once it is sent) and mark the
        hand-off answered, by its author if nobody had taken it."""
        now = utc_now()
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            record = session.get(HandoffRecord, handoff_id, with_for_update=True)
            if record is None:
                raise UnknownHandoff(handoff_id)
            reply = ReplyRecord(
                handoff_id=handoff_id, text=text, citations=citations, author=author
            )
            session.add(reply)
            record.status = "answered"
            record.assigned_to = record.assigned_to or author
            record.first_reply_at = record.first_reply_at or now
            record.updated_at = now
        return reply

    def set_delivery(
        self,
        reply_id: int,
        delivery: str,
        *,
        detail: str | None = None,
        message_id: str | None = None,
    ) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(ReplyRecord)
                .where(ReplyRecord.id == reply_id)
                .values(delivery=delivery, detail=detail, message_id=message_id)
            )

    def waiting(self, channel: str, recipient: str) -> list[tuple[HandoffRecord, ReplyRecord]]:
        """Replies to ``recipient`` that could not be sent yet (outside the 24-hour
        window), oldest first: what to send once the user writes again."""
        with Session(self.engine, expire_on_commit=False) as session:
            rows = session.execute(
                select(HandoffRecord, ReplyRecord)
                .join(ReplyRecord, ReplyRecord.handoff_id == HandoffRecord.id)
                .where(
                    HandoffRecord.channel == channel,
                    HandoffRecord.recipient == recipient,
                    ReplyRecord.delivery.in_(WAITING),
                )
                .order_by(ReplyRecord.id)
            ).all()
        return [(handoff, reply) for handoff, reply in rows]

    # ------------------------------------------------------------ notifications

    def claim_notification(self, handoff_id: str) -> bool:
        """Take a hand-off's notification to send it (one process does)."""
        with Session(self.engine) as session, session.begin():
            return (
                session.execute(
                    update(HandoffRecord)
                    .where(HandoffRecord.id == handoff_id, HandoffRecord.notified == "pending")
                    .values(notified="sending")
                ).rowcount
                == 1
            )

    def set_notified(self, handoff_id: str, state: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(HandoffRecord).where(HandoffRecord.id == handoff_id).values(notified=state)
            )

    def unnotified(self, since: dt.datetime) -> list[str]:
        """Hand-offs since ``since`` whose staff notification was never sent (the server
        stopped first), oldest first."""
        with Session(self.engine) as session:
            return list(
                session.scalars(
                    select(HandoffRecord.id)
                    .where(
                        HandoffRecord.notified.in_(("pending", "sending")),
                        HandoffRecord.created_at >= since,
                    )
                    .order_by(HandoffRecord.created_at)
                )
            )

    # ------------------------------------------------------------ the report

    def stats(self, since: dt.datetime, until: dt.datetime) -> HandoffStats:
        query = select(
            HandoffRecord.status,
            HandoffRecord.channel,
            HandoffRecord.created_at,
            HandoffRecord.first_reply_at,
        ).where(HandoffRecord.created_at >= since, HandoffRecord.created_at < until)
        stats = HandoffStats()
        with Session(self.engine) as session:
            for status, channel, created, replied in session.execute(query):
                stats.count += 1
                stats.statuses[status] = stats.statuses.get(status, 0) + 1
                stats.channels[channel] = stats.channels.get(channel, 0) + 1
                if replied is None:
                    stats.unanswered += 1
                else:
                    stats.waits.append((replied - created).total_seconds())
        return stats

    def of_turns(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], HandoffRecord]:
        """(conversation, turn) -> its hand-off, for the turns that have one."""
        if not keys:
            return {}
        conversations = sorted({conversation for conversation, _ in keys})
        wanted = set(keys)
        found: dict[tuple[str, int], HandoffRecord] = {}
        with Session(self.engine, expire_on_commit=False) as session:
            for start in range(0, len(conversations), 500):
                rows = session.scalars(
                    select(HandoffRecord).where(
                        HandoffRecord.conversation_id.in_(conversations[start : start + 500])
                    )
                )
                for row in rows:
                    if (row.conversation_id, row.turn) in wanted:
                        found[(row.conversation_id, row.turn)] = row
        return found


def conversation_exists(engine: Engine, conversation_id: str) -> bool:
    with Session(engine) as session:
        return session.get(ConversationRecord, conversation_id) is not None
