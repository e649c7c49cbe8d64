"""Conversations, their turns and the feedback on them, in SQL through SQLAlchemy 2.

One turn is a question and the answer it got (text, citations, language, whether it
was refused), numbered from 1 within its conversation. SQLite under the data dir by
default; any SQLAlchemy URL (``database_url``), such as PostgreSQL, works the same.
Conversation ids are random UUIDs: knowing one is what gives access to it.

Several server processes may write to one conversation: the next turn number is taken
under a lock (the conversation's row on PostgreSQL, the database's write lock on
SQLite), and a clash on a new conversation's id is retried. A lock is waited for 30 s
unless the URL says otherwise: ``sqlite:///x.db?timeout=5``, or on PostgreSQL
``postgresql+psycopg://…/db?options=-c%20lock_timeout%3D5s``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    selectinload,
)

from assistant.answer import Answer
from assistant.pipeline import Turn

__all__ = [
    "ConversationFull",
    "ConversationPage",
    "ConversationRecord",
    "Conversations",
    "FeedbackFinal",
    "FeedbackRecord",
    "TurnRecord",
    "UTCDateTime",
    "UnknownConversation",
    "UnknownTurn",
    "create_tables",
    "make_engine",
    "utc_now",
]

TITLE_CHARS = 120
WAL_ATTEMPTS = 100  # 0.1 s apart


def utc_now() -> dt.datetime:
    """Now, time zone-aware: the default of every time column."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """A time zone-aware UTC datetime on every backend (SQLite returns naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


class UnknownConversation(LookupError):
    """No conversation has this id."""


class UnknownTurn(LookupError):
    """The conversation has no turn with this number."""


class ConversationFull(Exception):
    """The conversation already holds the most turns allowed."""


class FeedbackFinal(Exception):
    """The turn's feedback was given too long ago to be changed."""


class Base(DeclarativeBase):
    pass


class ConversationRecord(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_CHARS))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    turns: Mapped[list[TurnRecord]] = relationship(
        back_populates="conversation", order_by="TurnRecord.n", cascade="all, delete-orphan"
    )


class TurnRecord(Base):
    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("conversation_id", "n"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    n: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[dict]] = mapped_column(JSON, default=list)
    notices: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(8))
    refused: Mapped[bool] = mapped_column(Boolean)
    mode: Mapped[str] = mapped_column(String(32))
    lexical_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # Where the question came from (web | whatsapp) and the evidence the answer stood on:
    # what the helpdesk's report of unanswered questions sorts by.
    channel: Mapped[str] = mapped_column(String(16), default="web")
    evidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The answer's calibrated confidence (None: not estimated), and who asked: a keyed
    # digest of the client's address or phone number (``client_key``), never the address,
    # so that the report can cap what one client puts in it.
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    client: Mapped[str | None] = mapped_column(String(32), nullable=True)
    conversation: Mapped[ConversationRecord] = relationship(back_populates="turns")
    feedback: Mapped[FeedbackRecord | None] = relationship(
        back_populates="turn", cascade="all, delete-orphan"
    )


class FeedbackRecord(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    turn_id: Mapped[int] = mapped_column(
        ForeignKey("turns.id", ondelete="CASCADE"), unique=True, index=True
    )
    rating: Mapped[str] = mapped_column(String(8))  # up | down
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The first rating's time: changes are allowed for a while after it (set_feedback).
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    turn: Mapped[TurnRecord] = relationship(back_populates="feedback")


@dataclass(frozen=True)
class ConversationPage:
    conversation: ConversationRecord
    turns: list[TurnRecord]
    total_turns: int


@dataclass(frozen=True)
class SavedTurn:
    conversation_id: str
    n: int


LOCK_WAIT_SECONDS = 30  # then a request gives up on a locked database (503, try again)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a SQLite file gets its folder, WAL and foreign keys. Both
    wait ``LOCK_WAIT_SECONDS`` for a lock unless the URL sets its own wait."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        connect_args = {}
        if parsed.get_driver_name() in ("psycopg", "psycopg2") and "options" not in parsed.query:
            connect_args["options"] = f"-c lock_timeout={LOCK_WAIT_SECONDS}s"
        return create_engine(
            url, pool_pre_ping=True, connect_args=connect_args, hide_parameters=True
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    connect_args: dict = {"check_same_thread": False}
    if "timeout" not in parsed.query:
        connect_args["timeout"] = LOCK_WAIT_SECONDS
    # hide_parameters: an error's text would otherwise carry people's questions into logs.
    engine = create_engine(url, connect_args=connect_args, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _pragmas(connection, _record) -> None:
        cursor = connection.cursor()
        # Turning a new database to WAL needs it to itself and does not wait for a lock:
        # workers opening it together try again (after that, WAL is a no-op).
        for attempt in range(WAL_ATTEMPTS):
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:
                if attempt == WAL_ATTEMPTS - 1:
                    raise
                time.sleep(0.1)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


# Any number: the PostgreSQL advisory lock every process making the tables takes.
_SCHEMA_LOCK = 0x45415353


def create_tables(engine: Engine, tables: Sequence[Table] | None = None) -> None:
    """Make the missing ``tables`` (all by default). Server workers starting together on
    a new database would each look, find a table missing and create it ("table ...
    already exists" for all but one); they take the database's lock first, so that one
    looks and creates while the others wait, then find the tables made."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        Base.metadata.create_all(connection, tables=tables)


def _add_missing_columns(engine: Engine, table, names: Sequence[str]) -> None:
    """Columns added to ``table`` after a database was created (``create_all`` makes
    missing tables only): added empty, so that older databases keep working."""
    present = {column["name"] for column in inspect(engine).get_columns(table.name)}
    for name in names:
        if name in present:
            continue
        kind = table.c[name].type.compile(engine.dialect)
        try:
            with engine.begin() as connection:
                connection.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}"))
        except DBAPIError:  # another server process starting at the same time added it
            if name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
                raise


class Conversations:
    """The repository: every read and write of conversations goes through here."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(engine)
        _add_missing_columns(
            engine, TurnRecord.__table__, ("channel", "evidence", "confidence", "client")
        )

    @classmethod
    def from_url(cls, url: str) -> Conversations:
        return cls(make_engine(url))

    def close(self) -> None:
        self.engine.dispose()

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    @contextmanager
    def _writing(self, **options) -> Iterator[Session]:
        """A write transaction. SQLite's starts with the write lock (BEGIN IMMEDIATE), so
        that nothing it reads, such as the last turn number, changes before it writes."""
        with Session(self.engine, **options) as session, session.begin():
            if self.engine.dialect.name == "sqlite":
                session.execute(text("BEGIN IMMEDIATE"))
            yield session

    def get(self, conversation_id: str) -> ConversationRecord:
        """The conversation with its turns and their feedback loaded."""
        with Session(self.engine, expire_on_commit=False) as session:
            record = session.get(ConversationRecord, conversation_id)
            if record is None:
                raise UnknownConversation(conversation_id)
            for turn in record.turns:
                _ = turn.feedback  # load before the session closes
            return record

    def page(self, conversation_id: str, after: int, limit: int) -> ConversationPage:
        """The conversation with at most ``limit`` of its turns, those numbered after
        ``after``, their feedback loaded: a long conversation is read a page at a time."""
        with Session(self.engine, expire_on_commit=False) as session:
            record = session.get(ConversationRecord, conversation_id)
            if record is None:
                raise UnknownConversation(conversation_id)
            turns = list(
                session.scalars(
                    select(TurnRecord)
                    .where(TurnRecord.conversation_id == conversation_id, TurnRecord.n > after)
                    .order_by(TurnRecord.n)
                    .limit(limit)
                    .options(selectinload(TurnRecord.feedback))
                )
            )
            total = session.scalar(
                select(func.count()).where(TurnRecord.conversation_id == conversation_id)
            )
            return ConversationPage(record, turns, total or 0)

    def reachable(self) -> bool:
        """Whether the database answers a query (for the readiness check)."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except OperationalError:
            return False
        return True

    def turn_count(self, conversation_id: str) -> int | None:
        """How many turns the conversation holds; None when there is no such conversation."""
        with Session(self.engine) as session:
            if session.get(ConversationRecord, conversation_id) is None:
                return None
            last = session.scalar(
                select(func.max(TurnRecord.n)).where(TurnRecord.conversation_id == conversation_id)
            )
            return last or 0

    def history(self, conversation_id: str, turns: int) -> list[Turn]:
        """The last ``turns`` exchanges as the pipeline's alternating user/assistant turns."""
        if turns <= 0:
            return []
        with Session(self.engine) as session:
            rows = session.scalars(
                select(TurnRecord)
                .where(TurnRecord.conversation_id == conversation_id)
                .order_by(TurnRecord.n.desc())
                .limit(turns)
            ).all()
        history: list[Turn] = []
        for row in reversed(rows):
            history += [Turn("user", row.question), Turn("assistant", row.answer)]
        return history

    def add_turn(
        self,
        conversation_id: str,
        question: str,
        answer: Answer,
        *,
        channel: str = "web",
        client: str | None = None,
        max_turns: int | None = None,
        attempts: int = 3,
    ) -> SavedTurn:
        """Store a question and its answer as the next turn (the conversation is created
        by its first turn); two writers creating the same conversation at once retry.
        ``client``: the asker's ``client_key``. ``ConversationFull`` past ``max_turns``,
        checked under the lock that numbers the turn, so that questions asked together
        cannot pass it."""
        for attempt in range(attempts):
            try:
                with self._writing() as session:
                    # FOR UPDATE queues writers to one conversation (SQLite ignores it).
                    conversation = session.get(
                        ConversationRecord, conversation_id, with_for_update=True
                    )
                    if conversation is None:
                        title = " ".join(question.split())[:TITLE_CHARS]
                        session.add(ConversationRecord(id=conversation_id, title=title))
                        session.flush()
                    last = session.scalar(
                        select(func.max(TurnRecord.n)).where(
                            TurnRecord.conversation_id == conversation_id
                        )
                    )
                    n = (last or 0) + 1
                    if max_turns is not None and n > max_turns:
                        raise ConversationFull(conversation_id)
                    session.add(
                        TurnRecord(
                            conversation_id=conversation_id,
                            n=n,
                            question=question,
                            answer=answer.text,
                            citations=[c.as_dict() for c in answer.citations],
                            notices=list(answer.notices),
                            language=answer.language,
                            refused=answer.refused,
                            mode=answer.mode,
                            lexical_only=answer.lexical_only,
                            channel=channel,
                            evidence=answer.evidence,
                            confidence=answer.confidence,
                            client=client,
                        )
                    )
                return SavedTurn(conversation_id, n)
            except IntegrityError:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def delete_idle(self, cutoff: dt.datetime) -> int:
        """Delete the conversations with no turn since ``cutoff`` (and started before it),
        with their turns and feedback; how many were deleted."""
        recent = (
            select(TurnRecord.id)
            .where(
                TurnRecord.conversation_id == ConversationRecord.id,
                TurnRecord.created_at >= cutoff,
            )
            .exists()
        )
        idle = select(ConversationRecord.id).where(ConversationRecord.created_at < cutoff, ~recent)
        with self._writing() as session:
            ids = list(session.scalars(idle))
            for start in range(0, len(ids), 500):  # bounded IN lists
                batch = ids[start : start + 500]
                turns = select(TurnRecord.id).where(TurnRecord.conversation_id.in_(batch))
                session.execute(delete(FeedbackRecord).where(FeedbackRecord.turn_id.in_(turns)))
                session.execute(delete(TurnRecord).where(TurnRecord.conversation_id.in_(batch)))
                session.execute(delete(ConversationRecord).where(ConversationRecord.id.in_(batch)))
        return len(ids)

    def set_feedback(
        self,
        conversation_id: str,
        n: int,
        rating: str,
        comment: str | None,
        editable_for: dt.timedelta = dt.timedelta.max,
    ) -> FeedbackRecord:
        """Record the feedback on one turn, or replace it within ``editable_for`` of its
        first rating (one rating per turn: later, ``FeedbackFinal``)."""
        with self._writing(expire_on_commit=False) as session:
            if session.get(ConversationRecord, conversation_id) is None:
                raise UnknownConversation(conversation_id)
            turn = session.scalar(
                select(TurnRecord).where(
                    TurnRecord.conversation_id == conversation_id, TurnRecord.n == n
                )
            )
            if turn is None:
                raise UnknownTurn(f"{conversation_id} has no turn {n}")
            if turn.feedback is not None and utc_now() - turn.feedback.created_at > editable_for:
                raise FeedbackFinal(f"{conversation_id} turn {n} was rated already")
            feedback = turn.feedback or FeedbackRecord(turn=turn, rating=rating)
            feedback.rating = rating
            feedback.comment = comment or None
            session.add(feedback)
        return feedback

    def feedback(self, conversation_id: str) -> Sequence[tuple[int, FeedbackRecord]]:
        """(turn number, feedback) of a conversation, for reports and tests."""
        with Session(self.engine, expire_on_commit=False) as session:
            rows = session.execute(
                select(TurnRecord.n, FeedbackRecord)
                .join(FeedbackRecord.turn)
                .where(TurnRecord.conversation_id == conversation_id)
                .order_by(TurnRecord.n)
            ).all()
        return [(n, record) for n, record in rows]
