"""What the desk should write or refresh next: the questions the assistant did not
answer well, grouped into topics, and the sources that may be out of date.

An unanswered question is a turn, from any channel, that was refused, rated down,
handed off to the advisers, or answered with a confidence below
``report_confidence_below`` (on evidence below ``report_evidence_below`` when it has no
confidence). One client cannot fill the report: it keeps the newest
``report_max_per_conversation`` questions of a conversation and ``report_max_per_client``
of a client (an address, a phone number; see ``assistant.clients``), and at most
``MAX_QUESTIONS`` in all. Questions are grouped by the cosine
similarity of their sentence vectors (the multilingual sentence model, so that "EORI
number?" and "numéro EORI ?" meet), average-linkage: two groups join while their
questions are, on average, at least ``report_similarity`` alike. Topics come newest first.
Without a sentence model only identical questions are grouped. The vectors of the
questions are kept (``EncodingCache``), so a report encodes only the questions it has
not seen before.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.conversations import FeedbackRecord, TurnRecord
from assistant.handoffs import HandoffRecord
from ingest.documents import UPLOADS_ROOT

__all__ = [
    "EncodingCache",
    "Findings",
    "ReportRules",
    "StaleSource",
    "Topic",
    "Unanswered",
    "group",
    "latest_date",
    "report_csv",
    "stale_sources",
    "unanswered",
]

MAX_QUESTIONS = 2000  # per report, the newest: grouping compares every pair (16 MB)
EXAMPLES = 3

Encode = Callable[[Sequence[str]], np.ndarray]


@dataclass
class Unanswered:
    conversation_id: str
    turn: int
    asked_at: dt.datetime
    question: str
    answer: str
    language: str
    channel: str
    reasons: list[str]  # refused | rated down | handed off | low confidence | low evidence
    evidence: float | None
    comment: str | None
    confidence: float | None = None
    handoff_status: str | None = None  # new | assigned | answered | closed
    first_reply_seconds: float | None = None  # from the hand-off to the adviser's reply


@dataclass
class Topic:
    n: int
    label: str  # the question nearest the topic's centre
    count: int
    newest: dt.datetime
    languages: dict[str, int]
    channels: dict[str, int]
    reasons: dict[str, int]
    examples: list[str]
    questions: list[Unanswered] = field(default_factory=list)


@dataclass(frozen=True)
class ReportRules:
    """What counts as unanswered, and how much one client may put in the report."""

    evidence_below: float
    confidence_below: float = 0.5
    per_conversation: int = 3
    per_client: int = 20


@dataclass
class Findings:
    items: list[Unanswered]  # newest first
    matched: int  # questions that counted as unanswered, before the caps


def unanswered(
    engine: Engine, since: dt.datetime, until: dt.datetime, rules: ReportRules
) -> Findings:
    """The turns of ``[since, until)`` refused, rated down, handed off or weakly
    supported, newest first, within the caps of ``rules``."""
    confident = TurnRecord.confidence.is_not(None)
    weak = and_(
        TurnRecord.refused.is_(False),
        or_(
            and_(confident, TurnRecord.confidence < rules.confidence_below),
            and_(
                ~confident,
                TurnRecord.evidence.is_not(None),
                TurnRecord.evidence < rules.evidence_below,
            ),
        ),
    )
    handoff = and_(
        HandoffRecord.conversation_id == TurnRecord.conversation_id,
        HandoffRecord.turn == TurnRecord.n,
    )
    newest = (TurnRecord.created_at.desc(), TurnRecord.id.desc())
    found = (
        select(
            TurnRecord.id.label("turn_id"),
            TurnRecord.created_at.label("at"),
            func.coalesce(TurnRecord.client, TurnRecord.conversation_id).label("who"),
            func.row_number()
            .over(partition_by=TurnRecord.conversation_id, order_by=newest)
            .label("nth_of_conversation"),
            func.count().over().label("matched"),
        )
        .outerjoin(FeedbackRecord, FeedbackRecord.turn_id == TurnRecord.id)
        .outerjoin(HandoffRecord, handoff)
        .where(TurnRecord.created_at >= since, TurnRecord.created_at < until)
        .where(
            or_(
                TurnRecord.refused.is_(True),
                FeedbackRecord.rating == "down",
                HandoffRecord.id.is_not(None),
                weak,
            )
        )
        .subquery()
    )
    per_conversation = (
        select(
            found.c.turn_id,
            found.c.at,
            found.c.matched,
            func.row_number()
            .over(partition_by=found.c.who, order_by=(found.c.at.desc(), found.c.turn_id.desc()))
            .label("nth_of_client"),
        )
        .where(found.c.nth_of_conversation <= rules.per_conversation)
        .subquery()
    )
    kept = (
        select(per_conversation.c.turn_id, per_conversation.c.matched)
        .where(per_conversation.c.nth_of_client <= rules.per_client)
        .order_by(per_conversation.c.at.desc(), per_conversation.c.turn_id.desc())
        .limit(MAX_QUESTIONS)
        .subquery()
    )
    query = (
        select(TurnRecord, FeedbackRecord, HandoffRecord, kept.c.matched)
        .join(kept, kept.c.turn_id == TurnRecord.id)
        .outerjoin(FeedbackRecord, FeedbackRecord.turn_id == TurnRecord.id)
        .outerjoin(HandoffRecord, handoff)
        .order_by(*newest)
    )
    with Session(engine) as session:
        rows = session.execute(query).all()
        items = [_unanswered(turn, feedback, handed, rules) for turn, feedback, handed, _ in rows]
    matched = rows[0].matched if rows else 0
    return Findings(items, matched)


def _unanswered(
    turn: TurnRecord,
    feedback: FeedbackRecord | None,
    handoff: HandoffRecord | None,
    rules: ReportRules,
) -> Unanswered:
    down = feedback is not None and feedback.rating == "down"
    answered = not turn.refused
    confidence, evidence = turn.confidence, turn.evidence
    reasons = [
        reason
        for reason, applies in (
            ("refused", turn.refused),
            ("rated down", down),
            ("handed off", handoff is not None),
            (
                "low confidence",
                answered and confidence is not None and confidence < rules.confidence_below,
            ),
            (
                "low evidence",
                answered
                and confidence is None
                and evidence is not None
                and evidence < rules.evidence_below,
            ),
        )
        if applies
    ]
    waited = None
    if handoff is not None and handoff.first_reply_at is not None:
        waited = (handoff.first_reply_at - handoff.created_at).total_seconds()
    return Unanswered(
        conversation_id=turn.conversation_id,
        turn=turn.n,
        asked_at=turn.created_at,
        question=turn.question,
        answer=turn.answer,
        language=turn.language,
        channel=turn.channel or "web",
        reasons=reasons,
        evidence=evidence,
        comment=feedback.comment if down and feedback is not None else None,
        confidence=confidence,
        handoff_status=handoff.status if handoff is not None else None,
        first_reply_seconds=waited,
    )


def approved_uses(engine: Engine, since: dt.datetime, until: dt.datetime) -> int:
    """Questions of the period answered with an approved answer."""
    with Session(engine) as session:
        return (
            session.scalar(
                select(func.count()).where(
                    TurnRecord.created_at >= since,
                    TurnRecord.created_at < until,
                    TurnRecord.mode == "approved",
                )
            )
            or 0
        )


class EncodingCache:
    """The sentence vectors of questions grouped before (``size`` of them, the most
    recently used, as float16: 20,000 take 20 MB), so that a report encodes only the
    questions it has not seen."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encoder(self, model) -> Encode:
        """``model.encode_passages`` through the cache."""

        def encode(texts: Sequence[str]) -> np.ndarray:
            keys = [(model.name, text) for text in texts]
            with self._lock:
                missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
            if missing:
                fresh = np.asarray(model.encode_passages([text for _, text in missing]))
                with self._lock:
                    for key, vector in zip(missing, fresh, strict=True):
                        self._vectors[key] = vector.astype(np.float16)
            with self._lock:
                rows = []
                for key in keys:
                    vector = self._vectors.get(key)
                    if vector is None:  # pushed out meanwhile by a concurrent report
                        vector = np.asarray(model.encode_passages([key[1]]))[0]
                    else:
                        self._vectors.move_to_end(key)
                    rows.append(vector)
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
            return np.asarray(rows, dtype=np.float32)

        return encode


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def _same_text(texts: Sequence[str]) -> np.ndarray:
    """One-hot rows per distinct (case- and space-folded) text: grouping without a model."""
    keys = [" ".join(text.casefold().split()) for text in texts]
    column = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    rows = np.zeros((len(texts), len(column)), dtype=np.float32)
    rows[np.arange(len(texts)), [column[key] for key in keys]] = 1.0
    return rows


def group(items: Sequence[Unanswered], encode: Encode | None, threshold: float) -> list[Topic]:
    """``items`` (newest first) in topics of similar questions, newest topic first."""
    if not items:
        return []
    texts = [item.question for item in items]
    vectors = _unit_rows(np.asarray(encode(texts) if encode else _same_text(texts), np.float64))
    if len(items) == 1:
        labels = np.ones(1, dtype=int)
    else:
        # Cosine distances by one matrix product (BLAS), rather than pair by pair.
        distances = np.clip(1.0 - vectors @ vectors.T, 0.0, 2.0)
        tree = linkage(distances[np.triu_indices(len(items), 1)], method="average")
        labels = fcluster(tree, t=1 - threshold, criterion="distance")
    members: dict[int, list[int]] = {}
    for i, label in enumerate(labels):  # newest first, so topics come newest first too
        members.setdefault(int(label), []).append(i)
    topics = []
    for n, indices in enumerate(members.values(), 1):
        centre = _unit_rows(vectors[indices].sum(axis=0, keepdims=True))[0]
        nearest = max(indices, key=lambda i: float(vectors[i] @ centre))
        questions = [items[i] for i in indices]
        topics.append(
            Topic(
                n=n,
                label=items[nearest].question,
                count=len(questions),
                newest=questions[0].asked_at,
                languages=dict(Counter(q.language for q in questions).most_common()),
                channels=dict(Counter(q.channel for q in questions).most_common()),
                reasons=dict(Counter(r for q in questions for r in q.reasons).most_common()),
                examples=list(dict.fromkeys(q.question for q in questions))[:EXAMPLES],
                questions=questions,
            )
        )
    return topics


_FORMULA = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = [
    "topic",
    "topic_label",
    "asked_at",
    "channel",
    "language",
    "reasons",
    "evidence",
    "confidence",
    "handoff",
    "first_reply_seconds",
    "question",
    "answer",
    "comment",
    "conversation_id",
    "turn",
]


def _cell(value: object) -> str:
    """A cell a spreadsheet shows as text: people's questions may start with '='."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA) else text


def _number(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def report_csv(topics: Iterable[Topic]) -> str:
    """One row per question, with its topic: for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for topic in topics:
        for q in topic.questions:
            row = [topic.n, topic.label, q.asked_at.isoformat(), q.channel, q.language]
            row += ["; ".join(q.reasons), _number(q.evidence), _number(q.confidence)]
            row += [q.handoff_status, _number(q.first_reply_seconds, 0)]
            row += [q.question, q.answer, q.comment]
            writer.writerow([_cell(value) for value in [*row, q.conversation_id, q.turn]])
    return out.getvalue()


# ------------------------------------------------------------------ freshness

_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})(?:-(\d{1,2}))?(?:-(\d{1,2}))?(?!\d)")


def latest_date(text: str) -> dt.date | None:
    """The latest day a free-form source date can mean: "2025-01" -> 2025-01-31,
    "2017-2018" -> 2018-12-31, "HS 2022 edition (data packaged 2024-10-25)" -> 2024-10-25."""
    found = []
    for year, month, day in _DATE.findall(text):
        y, m = int(year), int(month or 12)
        if not 1 <= m <= 12:
            continue
        last = calendar.monthrange(y, m)[1]
        found.append(dt.date(y, m, min(max(int(day or last), 1), last)))
    return max(found, default=None)


@dataclass
class StaleSource:
    source: str
    title: str
    date: str
    age_days: int
    cited: int  # answers of the period that cited it
    uploaded: bool


def stale_sources(
    documents: Iterable[tuple[str, str, int, dict]],
    engine: Engine,
    *,
    max_age_days: int,
    since: dt.datetime,
    until: dt.datetime,
    today: dt.date,
) -> list[StaleSource]:
    """The documents (``LexicalRecords.documents``) dated more than ``max_age_days``
    before ``today``, most cited in ``[since, until)`` first, then oldest."""
    cited = _citation_counts(engine, since, until)
    stale = []
    for root, source, _, meta in documents:
        date = str(meta.get("date", ""))
        latest = latest_date(date)
        if latest is None or (today - latest).days <= max_age_days:
            continue
        title = str(meta.get("title", ""))
        age = (today - latest).days
        stale.append(StaleSource(source, title, date, age, cited[source], root == UPLOADS_ROOT))
    return sorted(stale, key=lambda s: (-s.cited, -s.age_days, s.source))


def _citation_counts(engine: Engine, since: dt.datetime, until: dt.datetime) -> Counter[str]:
    query = select(TurnRecord.citations).where(
        TurnRecord.created_at >= since, TurnRecord.created_at < until
    )
    counts: Counter[str] = Counter()
    with Session(engine) as session:
        for citations in session.scalars(query):
            counts.update({str(c.get("source", "")) for c in citations or []})
    return counts
