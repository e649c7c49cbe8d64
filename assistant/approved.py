"""Answers the desk approved, reused for the questions that ask the same thing.

An approved answer is a question with a few paraphrases, the answer text (one per
language it was written in), its citations, a review date and its author. A new question
matches one when its sentence vector (the multilingual sentence model: "numéro EORI" meets
"EORI number") is at least ``approved_similarity`` alike to the question or a paraphrase,
and no facet of it differs (``assistant.facets``: a country, a number, an Incoterm, the
trade direction, the tax, the kind of customer...). Matched, it is answered with the
approved text first, before the pipeline, as "Answer from the advisers of {desk}, {date},
to the question “...”" (the approved question shown, since a near miss can pass: see
``bench.paraphrases``), and the use is counted. Past its review date an answer is not
served (the pipeline answers) and is flagged for review; a retired one is never served.

The vectors of the approved questions are computed once per version of the table (its
row count and latest change), in each process.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import JSON, Boolean, Integer, String, Text, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from assistant.answer import Answer, Citation, Event, events
from assistant.conversations import Base, UTCDateTime, create_tables, utc_now
from assistant.embeddings import NamedEmbeddings
from assistant.facets import Facets, conflicts, facets
from assistant.language import detect_language, message
from assistant.lexical import fold
from assistant.smalltalk import small_talk

__all__ = [
    "ApprovedAnswers",
    "ApprovedFirst",
    "ApprovedRecord",
    "Candidate",
    "Match",
    "UnknownApproved",
    "best_match",
]

MODE = "approved"


class UnknownApproved(LookupError):
    """No approved answer has this id."""


class ApprovedRecord(Base):
    __tablename__ = "approved_answers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    paraphrases: Mapped[list[str]] = mapped_column(JSON, default=list)
    texts: Mapped[dict[str, str]] = mapped_column(JSON)  # language -> answer text
    citations: Mapped[list[dict]] = mapped_column(JSON, default=list)
    review_on: Mapped[str] = mapped_column(String(10))  # ISO date
    author: Mapped[str] = mapped_column(String(64))
    updated_by: Mapped[str] = mapped_column(String(64))
    handoff_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)

    @property
    def languages(self) -> list[str]:
        return list(self.texts)

    def due(self, today: dt.date) -> bool:
        """Past its review date: flagged, not served."""
        return dt.date.fromisoformat(self.review_on) < today


@dataclass(frozen=True)
class Candidate:
    """One approved question or paraphrase, as the matcher compares it."""

    record_id: str
    text: str
    vector: np.ndarray | None  # unit length; None without a sentence model
    facets: Facets  # of the approved question and all its paraphrases


@dataclass(frozen=True)
class Match:
    record: ApprovedRecord
    similarity: float
    text: str  # the approved question or paraphrase it matched


def _folded(text: str) -> str:
    return " ".join(fold(text).split())


def best_match(
    vector: np.ndarray | None,
    text: str,
    asked: Facets,
    candidates: Sequence[Candidate],
    matrix: np.ndarray | None,
    threshold: float,
) -> tuple[Candidate, float] | None:
    """The most similar candidate at or above ``threshold`` whose facets do not conflict
    (without vectors: the same words, folded)."""
    if not candidates:
        return None
    if vector is None or matrix is None:
        scores = np.array([float(_folded(c.text) == _folded(text)) for c in candidates])
    else:
        scores = matrix @ vector
    for i in np.argsort(-scores):
        if scores[i] < threshold:
            return None
        if not conflicts(asked, candidates[i].facets):
            return candidates[i], float(scores[i])
    return None


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


@dataclass(frozen=True)
class _Index:
    version: tuple
    records: dict[str, ApprovedRecord]
    candidates: list[Candidate]
    matrix: np.ndarray | None


class ApprovedAnswers:
    """The approved answers' table and the matcher over it."""

    def __init__(
        self,
        engine: Engine,
        model: Callable[[], NamedEmbeddings | None],
        country_csv: Path,
        threshold: float,
    ) -> None:
        self.engine = engine
        self.model = model  # a getter: the app's sentence model
        self.country_csv = country_csv
        self.threshold = threshold
        self._index: _Index | None = None
        self._building = threading.Lock()
        create_tables(engine, tables=[ApprovedRecord.__table__])

    # ------------------------------------------------------------ staff

    def add(
        self,
        *,
        question: str,
        paraphrases: list[str],
        texts: dict[str, str],
        citations: list[dict],
        review_on: dt.date,
        author: str,
        handoff_id: str | None = None,
    ) -> ApprovedRecord:
        record = ApprovedRecord(
            id=uuid.uuid4().hex,
            question=question,
            paraphrases=paraphrases,
            texts=texts,
            citations=citations,
            review_on=review_on.isoformat(),
            author=author,
            updated_by=author,
            handoff_id=handoff_id,
        )
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            session.add(record)
        return record

    def update(self, approved_id: str, by: str, **values) -> ApprovedRecord:
        """Change some fields (``question``, ``paraphrases``, ``texts``, ``citations``,
        ``review_on``, ``retired``); ``by`` is who did."""
        if isinstance(values.get("review_on"), dt.date):
            values["review_on"] = values["review_on"].isoformat()
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            record = session.get(ApprovedRecord, approved_id)
            if record is None:
                raise UnknownApproved(approved_id)
            for name, value in values.items():
                setattr(record, name, value)
            record.updated_by = by
            record.updated_at = utc_now()
        return record

    def get(self, approved_id: str) -> ApprovedRecord:
        with Session(self.engine, expire_on_commit=False) as session:
            record = session.get(ApprovedRecord, approved_id)
        if record is None:
            raise UnknownApproved(approved_id)
        return record

    def all(self, *, retired: bool = False) -> list[ApprovedRecord]:
        """Newest first; the retired ones too when asked."""
        query = select(ApprovedRecord).order_by(ApprovedRecord.updated_at.desc())
        if not retired:
            query = query.where(ApprovedRecord.retired.is_(False))
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.scalars(query))

    def record_use(self, approved_id: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(ApprovedRecord)
                .where(ApprovedRecord.id == approved_id)
                .values(uses=ApprovedRecord.uses + 1, last_used_at=utc_now())
            )

    # ------------------------------------------------------------ matching

    def _version(self) -> tuple:
        with Session(self.engine) as session:
            count, latest = session.execute(
                select(func.count(), func.max(ApprovedRecord.updated_at)).where(
                    ApprovedRecord.retired.is_(False)
                )
            ).one()
        return count, latest, self.model() is not None

    def _current(self) -> _Index:
        version = self._version()
        index = self._index
        if index is not None and index.version == version:
            return index
        with self._building:
            index = self._index
            if index is None or index.version != version:
                index = self._build(version)
                self._index = index
        return index

    def _build(self, version: tuple) -> _Index:
        records = {r.id: r for r in self.all()}
        candidates: list[tuple[str, str, Facets]] = []
        for record in records.values():
            texts = [record.question, *record.paraphrases]
            merged = facets(" \n ".join(texts), self.country_csv)
            candidates += [(record.id, text, merged) for text in texts]
        model = self.model()
        matrix = None
        if model is not None and candidates:
            matrix = _unit(np.asarray(model.encode_passages([c[1] for c in candidates])))
        built = [
            Candidate(rid, text, None if matrix is None else matrix[i], found)
            for i, (rid, text, found) in enumerate(candidates)
        ]
        return _Index(version, records, built, matrix)

    def match(self, question: str) -> Match | None:
        """The approved answer ``question`` asks for, if any (stale ones included: the
        caller decides; see ``ApprovedRecord.due``)."""
        index = self._current()
        if not index.candidates:
            return None
        model = self.model()
        vector = None
        if model is not None and index.matrix is not None:
            vector = _unit(np.asarray(model.encode_passages([question])))[0]
        found = best_match(
            vector,
            question,
            facets(question, self.country_csv),
            index.candidates,
            index.matrix,
            self.threshold,
        )
        if found is None:
            return None
        candidate, similarity = found
        return Match(index.records[candidate.record_id], similarity, candidate.text)


def approved_answer(record: ApprovedRecord, language: str, desk: str) -> Answer:
    """The approved answer as the assistant's answer, led by who approved it, when, and
    for which question (so that a user whose question only looked alike can tell): in
    the user's language when the desk wrote one, else in the first it wrote."""
    written = language if language in record.texts else next(iter(record.texts))
    when = record.updated_at.date().isoformat()
    lead = message("approved_lead_in", language, desk=desk, date=when, question=record.question)
    return Answer(
        text=f"{lead}\n\n{record.texts[written]}",
        citations=[Citation(**c) for c in record.citations],
        language=language,
        mode=MODE,
    )


@dataclass
class ApprovedFirst:
    """The assistant with the desk's approved answers consulted first: the object the
    channels and routes answer through (``answer`` and ``stream`` as ``Assistant``'s)."""

    approved: ApprovedAnswers
    assistant: object  # an Assistant, or anything with its answer() and stream()
    desk: str
    today: Callable[[], dt.date] = dt.date.today

    def lookup(self, question: str) -> Answer | None:
        """The approved answer for ``question``, counted as used; None when there is none
        fit to serve (small talk is the assistant's)."""
        if small_talk(question) is not None:
            return None
        found = self.approved.match(question)
        if found is None or found.record.due(self.today()):
            return None
        self.approved.record_use(found.record.id)
        return approved_answer(found.record, detect_language(question), self.desk)

    def answer(self, question: str, history=(), filters=None) -> Answer:
        return self.lookup(question) or self.assistant.answer(question, history, filters)

    def stream(self, question: str, history=(), filters=None) -> Iterator[Event]:
        found = self.lookup(question)
        if found is not None:
            yield from events(found)
            return
        yield from self.assistant.stream(question, history, filters)


# ------------------------------------------------------------ measuring the threshold


@dataclass(frozen=True)
class PairScore:
    id: str
    same: bool  # the two questions ask the same thing
    score: float  # the similarity, or -1 when a facet differs


def score_pairs(
    pairs: Sequence[dict], model: NamedEmbeddings, country_csv: Path
) -> list[PairScore]:
    """Each pair (``id``, ``label`` same | different, ``approved``, ``asked``) as the
    matcher sees it (see ``tests/data/paraphrases.jsonl`` and ``bench.paraphrases``)."""
    approved = _unit(np.asarray(model.encode_passages([p["approved"] for p in pairs])))
    asked = _unit(np.asarray(model.encode_passages([p["asked"] for p in pairs])))
    scores = []
    for pair, a, b in zip(pairs, approved, asked, strict=True):
        candidate = Candidate(
            pair["id"], pair["approved"], a, facets(pair["approved"], country_csv)
        )
        found = best_match(
            b, pair["asked"], facets(pair["asked"], country_csv), [candidate], a[None, :], -1.0
        )
        scores.append(PairScore(pair["id"], pair["label"] == "same", found[1] if found else -1.0))
    return scores


def precision_recall(scores: Sequence[PairScore], threshold: float) -> tuple[float, float]:
    """Of the pairs matched at ``threshold``, the share that ask the same thing; of those
    that do, the share matched."""
    matched = [s for s in scores if s.score >= threshold]
    right = sum(s.same for s in matched)
    same = sum(s.same for s in scores)
    return (right / len(matched) if matched else 1.0), (right / same if same else 0.0)


def choose_threshold(scores: Sequence[PairScore], min_precision: float) -> float:
    """The lowest threshold (most reuse) whose precision is at least ``min_precision``."""
    candidates = sorted({round(s.score, 3) for s in scores if s.score >= 0})
    for threshold in candidates:
        if precision_recall(scores, threshold)[0] >= min_precision:
            return threshold
    return 1.0
