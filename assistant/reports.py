"""What the desk should write or refresh next: the questions the assistant did not
answer well, grouped into topics, and the sources that may be out of date.

An unanswered question is a turn, from any channel, that was refused, rated down, or
answered on evidence below ``report_evidence_below``. Questions are grouped by the cosine
similarity of their sentence vectors (the multilingual sentence model, so that "EORI
number?" and "numéro EORI ?" meet), average-linkage: two groups join while their
questions are, on average, at least ``report_similarity`` alike. Topics come newest first.
Without a sentence model only identical questions are grouped.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.conversations import FeedbackRecord, TurnRecord
from ingest.documents import UPLOADS_ROOT

__all__ = [
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
    reasons: list[str]  # refused | rated down | low evidence
    evidence: float | None
    comment: str | None


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


def unanswered(
    engine: Engine, since: dt.datetime, until: dt.datetime, evidence_below: float
) -> list[Unanswered]:
    """The turns of ``[since, until)`` refused, rated down or weakly supported, newest first."""
    weak = and_(
        TurnRecord.refused.is_(False),
        TurnRecord.evidence.is_not(None),
        TurnRecord.evidence < evidence_below,
    )
    query = (
        select(TurnRecord, FeedbackRecord)
        .outerjoin(FeedbackRecord, FeedbackRecord.turn_id == TurnRecord.id)
        .where(TurnRecord.created_at >= since, TurnRecord.created_at < until)
        .where(or_(TurnRecord.refused.is_(True), FeedbackRecord.rating == "down", weak))
        .order_by(TurnRecord.created_at.desc(), TurnRecord.id.desc())
        .limit(MAX_QUESTIONS)
    )
    with Session(engine) as session:
        rows = session.execute(query).all()
        return [_unanswered(turn, feedback, evidence_below) for turn, feedback in rows]


def _unanswered(
    turn: TurnRecord, feedback: FeedbackRecord | None, evidence_below: float
) -> Unanswered:
    down = feedback is not None and feedback.rating == "down"
    reasons = [
        reason
        for reason, applies in (
            ("refused", turn.refused),
            ("rated down", down),
            (
                "low evidence",
                not turn.refused and turn.evidence is not None and turn.evidence < evidence_below,
            ),
        )
        if applies
    ]
    return Unanswered(
        conversation_id=turn.conversation_id,
        turn=turn.n,
        asked_at=turn.created_at,
        question=turn.question,
        answer=turn.answer,
        language=turn.language,
        channel=turn.channel or "web",
        reasons=reasons,
        evidence=turn.evidence,
        comment=feedback.comment if down and feedback is not None else None,
    )


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
        tree = linkage(vectors, method="average", metric="cosine")
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


def report_csv(topics: Iterable[Topic]) -> str:
    """One row per question, with its topic: for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for topic in topics:
        for q in topic.questions:
            evidence = "" if q.evidence is None else f"{q.evidence:.3f}"
            row = [topic.n, topic.label, q.asked_at.isoformat(), q.channel, q.language]
            row += ["; ".join(q.reasons), evidence, q.question, q.answer, q.comment]
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
