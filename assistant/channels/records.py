"""What the WhatsApp channels remember, in the conversations database.

``whatsapp_messages`` has one row per message received, keyed by its id (Meta's
``wamid``, Twilio's ``MessageSid``): inserting it is what accepts a message, so a
delivery repeated by Meta, even after a restart, finds the row and gets no second
reply. A row moves ``queued -> working -> answered | failed``; claiming it
(``queued -> working``) is one conditional UPDATE, so that two workers or two
server processes never answer the same message. A crash while ``working`` leaves
the row there: the reply may have gone out, and a repeated reply is the worse fault.

``whatsapp_chats`` maps a sender to their current conversation ("New question"
starts another); ``whatsapp_sends`` keeps every message sent or that finally failed
(with its body, so nothing is lost silently); ``whatsapp_statuses`` the delivery
reports Meta calls back with; ``whatsapp_errors`` the errors Meta reports;
``whatsapp_numbers`` our business numbers as webhooks named them (a message from one of
them is never answered).

A sender is a phone number or a business-scoped user id (up to 131 characters), so
those columns hold 255; ``_upgrade`` widens them, and adds ``business`` (the number a
message came to), in a database made by an earlier version.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import JSON, Integer, String, Text, delete, func, inspect, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Mapped, Session, mapped_column

from assistant.channels.whatsapp import Inbound, StatusUpdate, WebhookError
from assistant.conversations import Base, UTCDateTime, create_tables, utc_now

__all__ = [
    "ChatRecord",
    "DeliveryStatusRecord",
    "ErrorRecord",
    "MessageRecord",
    "NumberRecord",
    "SendRecord",
    "WhatsAppRecords",
]


SENDER_CHARS = 255  # a phone number, "whatsapp:+…" (Twilio) or a BSUID


class MessageRecord(Base):
    __tablename__ = "whatsapp_messages"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # meta | twilio
    sender: Mapped[str] = mapped_column(String(SENDER_CHARS), index=True)
    business: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now, onupdate=utc_now)


class ChatRecord(Base):
    __tablename__ = "whatsapp_chats"

    sender: Mapped[str] = mapped_column(String(SENDER_CHARS), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(36))
    language: Mapped[str] = mapped_column(String(8), default="en")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now, onupdate=utc_now)


class SendRecord(Base):
    __tablename__ = "whatsapp_sends"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    in_reply_to: Mapped[str] = mapped_column(String(255), index=True)
    recipient: Mapped[str] = mapped_column(String(SENDER_CHARS))
    payload: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(8), index=True)  # sent | failed
    attempts: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)


class DeliveryStatusRecord(Base):
    __tablename__ = "whatsapp_statuses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(255), index=True)
    recipient: Mapped[str] = mapped_column(String(SENDER_CHARS))
    status: Mapped[str] = mapped_column(String(16))
    timestamp: Mapped[str] = mapped_column(String(20))
    errors: Mapped[list] = mapped_column(JSON, default=list)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)


class ErrorRecord(Base):
    __tablename__ = "whatsapp_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    title: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(255), default="")
    business: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)


class NumberRecord(Base):
    __tablename__ = "whatsapp_numbers"

    phone_number_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_phone_number: Mapped[str] = mapped_column(String(32))


_RECORDS = (
    MessageRecord,
    ChatRecord,
    SendRecord,
    DeliveryStatusRecord,
    ErrorRecord,
    NumberRecord,
)
_TABLES = [record.__table__ for record in _RECORDS]
# Columns an earlier version made narrower: (table, column).
_SENDERS = [
    ("whatsapp_messages", "sender"),
    ("whatsapp_chats", "sender"),
    ("whatsapp_sends", "recipient"),
    ("whatsapp_statuses", "recipient"),
]


def _columns(engine: Engine) -> dict[str, dict]:
    found = inspect(engine)
    return {
        table: {c["name"]: c["type"] for c in found.get_columns(table)} for table, _ in _SENDERS
    }


def _upgrade(engine: Engine) -> None:
    """Bring tables made by an earlier version to this one: add ``business``; widen the
    sender columns (PostgreSQL enforces a VARCHAR's length; SQLite does not). Several
    server processes may start at once: what another one did first is left as it is."""
    columns = _columns(engine)
    postgres = engine.dialect.name == "postgresql"
    if "business" not in columns["whatsapp_messages"]:
        exists = "IF NOT EXISTS " if postgres else ""
        try:
            with engine.begin() as connection:
                connection.execute(
                    text(f"ALTER TABLE whatsapp_messages ADD COLUMN {exists}business VARCHAR(64)")
                )
        except OperationalError:  # SQLite: another process added it in the meantime
            if "business" not in _columns(engine)["whatsapp_messages"]:
                raise
    if not postgres:
        return
    with engine.begin() as connection:
        for table, column in _SENDERS:
            if (getattr(columns[table][column], "length", None) or SENDER_CHARS) < SENDER_CHARS:
                connection.execute(
                    text(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR({SENDER_CHARS})")
                )


@dataclass(frozen=True)
class Chat:
    conversation_id: str
    language: str


class WhatsAppRecords:
    """Every read and write of the tables above."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(engine, tables=_TABLES)
        _upgrade(engine)

    def delete_older_than(self, cutoff: dt.datetime) -> int:
        """Delete what is older than ``cutoff``: messages received, messages sent, delivery
        statuses, errors Meta reported, and senders silent since (their next message starts a
        conversation)."""
        old = [
            delete(ErrorRecord).where(ErrorRecord.received_at < cutoff),
            delete(MessageRecord).where(MessageRecord.received_at < cutoff),
            delete(SendRecord).where(SendRecord.created_at < cutoff),
            delete(DeliveryStatusRecord).where(DeliveryStatusRecord.received_at < cutoff),
            delete(ChatRecord).where(ChatRecord.updated_at < cutoff),
        ]
        with Session(self.engine) as session, session.begin():
            return sum(session.execute(statement).rowcount for statement in old)

    # ------------------------------------------------------------ messages received

    def receive(self, message: Inbound, channel: str) -> bool:
        """Accept a message: False when its id was seen before (a repeated delivery)."""
        try:
            with Session(self.engine) as session, session.begin():
                session.add(
                    MessageRecord(
                        id=message.id,
                        channel=channel,
                        sender=message.sender,
                        business=message.business or None,
                        kind=message.kind,
                        text=message.text,
                    )
                )
        except IntegrityError:
            return False
        return True

    def claim(self, message_id: str) -> Inbound | None:
        """Take a queued message to answer it; None when another worker has it."""
        with Session(self.engine) as session, session.begin():
            taken = session.execute(
                update(MessageRecord)
                .where(MessageRecord.id == message_id, MessageRecord.state == "queued")
                .values(state="working", updated_at=utc_now())
            ).rowcount
            if taken != 1:
                return None
            row = session.get_one(MessageRecord, message_id)
            return Inbound(row.id, row.sender, row.kind, row.text, row.business or "")

    def finish(self, message_id: str, state: str, error: str | None = None) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(MessageRecord)
                .where(MessageRecord.id == message_id)
                .values(state=state, error=error, updated_at=utc_now())
            )

    def message(self, message_id: str) -> MessageRecord | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(MessageRecord, message_id)

    def queued(self, channel: str, since: dt.datetime) -> list[str]:
        """Ids of messages accepted since ``since`` but not yet taken (the server
        stopped first), oldest first: answered at the next start."""
        with Session(self.engine) as session:
            return list(
                session.scalars(
                    select(MessageRecord.id)
                    .where(
                        MessageRecord.channel == channel,
                        MessageRecord.state == "queued",
                        MessageRecord.received_at >= since,
                    )
                    .order_by(MessageRecord.received_at)
                )
            )

    def last_received(self, sender: str, channel: str) -> dt.datetime | None:
        """When ``sender`` last wrote on ``channel`` (meta | twilio): WhatsApp lets a
        business write freely for 24 hours after that."""
        with Session(self.engine) as session:
            return session.scalar(
                select(func.max(MessageRecord.received_at)).where(
                    MessageRecord.sender == sender, MessageRecord.channel == channel
                )
            )

    # ------------------------------------------------------------ senders

    def chat(self, sender: str) -> Chat:
        """The sender's current conversation, started on their first message."""
        with Session(self.engine) as session:
            row = session.get(ChatRecord, sender)
            if row is not None:
                return Chat(row.conversation_id, row.language)
        try:
            return self.new_conversation(sender, insert=True)
        except IntegrityError:  # a message of theirs handled by another process won
            return self.chat(sender)

    def new_conversation(self, sender: str, *, insert: bool = False) -> Chat:
        """Point the sender at a new conversation ("New question")."""
        conversation_id = str(uuid.uuid4())
        with Session(self.engine) as session, session.begin():
            row = None if insert else session.get(ChatRecord, sender)
            if row is None:
                row = ChatRecord(sender=sender, conversation_id=conversation_id, language="en")
                session.add(row)
            row.conversation_id = conversation_id
            language = row.language or "en"
        return Chat(conversation_id, language)

    def set_language(self, sender: str, language: str) -> None:
        """The language of the sender's last question: the best guess for a message
        with no words (a photo, a location)."""
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(ChatRecord).where(ChatRecord.sender == sender).values(language=language)
            )

    # ------------------------------------------------------------ messages sent

    def add_send(
        self,
        in_reply_to: str,
        payload: dict,
        *,
        attempts: int,
        message_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """Keep a message sent (``message_id``) or that finally failed (``error``)."""
        with Session(self.engine) as session, session.begin():
            session.add(
                SendRecord(
                    in_reply_to=in_reply_to,
                    recipient=str(payload.get("to") or payload.get("recipient") or ""),
                    payload=payload,
                    state="failed" if error else "sent",
                    attempts=attempts,
                    message_id=message_id,
                    error=error,
                )
            )

    def sends(
        self, *, state: str | None = None, in_reply_to: str | None = None
    ) -> list[SendRecord]:
        """Messages sent, oldest first; ``state="failed"`` lists those to resend by hand."""
        query = select(SendRecord).order_by(SendRecord.id)
        if state:
            query = query.where(SendRecord.state == state)
        if in_reply_to:
            query = query.where(SendRecord.in_reply_to == in_reply_to)
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.scalars(query))

    def add_status(self, status: StatusUpdate) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(
                DeliveryStatusRecord(
                    message_id=status.message_id,
                    recipient=status.recipient,
                    status=status.status,
                    timestamp=status.timestamp,
                    errors=status.errors,
                )
            )

    def statuses(self, message_id: str) -> list[str]:
        """The statuses reported for one message we sent, in the order they came."""
        with Session(self.engine) as session:
            return list(
                session.scalars(
                    select(DeliveryStatusRecord.status)
                    .where(DeliveryStatusRecord.message_id == message_id)
                    .order_by(DeliveryStatusRecord.id)
                )
            )

    # ------------------------------------------------------------ our numbers

    def add_number(self, phone_number_id: str, display_phone_number: str) -> None:
        """Remember one of our business numbers (once: a second time changes nothing)."""
        try:
            with Session(self.engine) as session, session.begin():
                session.add(
                    NumberRecord(
                        phone_number_id=phone_number_id, display_phone_number=display_phone_number
                    )
                )
        except IntegrityError:
            pass

    def numbers(self) -> set[str]:
        """Our business numbers, as users see them."""
        with Session(self.engine) as session:
            return set(session.scalars(select(NumberRecord.display_phone_number)))

    # ------------------------------------------------------------ errors Meta reported

    def add_errors(self, errors: list[WebhookError]) -> None:
        with Session(self.engine) as session, session.begin():
            session.add_all(
                ErrorRecord(
                    code=error.code,
                    title=error.title,
                    details=error.details,
                    message_id=error.message_id,
                    business=error.business,
                )
                for error in errors
            )

    def errors(self, limit: int) -> tuple[int, list[ErrorRecord]]:
        """How many errors Meta has reported, and the latest ``limit`` of them, newest first."""
        with Session(self.engine, expire_on_commit=False) as session:
            count = session.scalar(select(func.count()).select_from(ErrorRecord)) or 0
            latest = session.scalars(
                select(ErrorRecord).order_by(ErrorRecord.id.desc()).limit(limit)
            )
            return count, list(latest)
