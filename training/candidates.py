"""Worked examples as the reader sees them: each question's pool, units and features.

The same code as the server (``understand``, ``Retriever.pool``, ``gather``,
``features``), so that what the model learns from is what it will be shown. A training
question whose answering chunk retrieval missed gets that chunk added to its pool: only
a third of them had it among the ten best, and the reader must learn what answers, not
only what retrieval already ranks first.

Labels: a unit is positive when it holds the decisive fact (case and spacing aside) and
comes from the expected file. ``gold`` marks the units of the expected files and of
their other-language twins (``x.en.md`` / ``x.fr.md``), which the leave-gold-out copies
leave out.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.embeddings import NamedEmbeddings
from assistant.lexical import LexicalIndex
from assistant.query import Turn, understand
from assistant.reader import Read, features, gather
from assistant.retrieval import Passage, Retriever, fill_dense
from assistant.units import UnitIndex

__all__ = ["Example", "Question", "build", "load_questions", "twin"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    lang: str
    history: tuple[Turn, ...]
    answerable: bool
    sources: tuple[str, ...]  # file names (basenames)
    facts: tuple[str, ...]
    half: str  # train | tune | confirm


@dataclass
class Example:
    """One question with its pool read: units, their feature rows and labels."""

    question: Question
    language: str
    expanded: str  # the query as searched
    reads: list[Read]
    x: np.ndarray
    y: np.ndarray  # holds the fact, from an expected file
    gold: np.ndarray  # from an expected file or its twin


def twin(name: str) -> str | None:
    """The other-language version of an EU act's file ("x.en.md" <-> "x.fr.md")."""
    for a, b in ((".en.", ".fr."), (".fr.", ".en.")):
        if a in name:
            return name.replace(a, b)
    return None


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def load_questions(path: Path, half: str | None = None) -> list[Question]:
    """train.jsonl (one source, one fact) or dev.jsonl (sources, facts, answerable)."""
    from assistant.evaluation import half_of

    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        sources = d.get("sources") or ([d["source"]] if d.get("source") else [])
        facts = d.get("facts") or ([d["fact"]] if d.get("fact") else [])
        out.append(
            Question(
                id=d["id"],
                question=d["question"],
                lang=d.get("lang", "en"),
                history=tuple(Turn(t["role"], t["content"]) for t in d.get("history", [])),
                answerable=d.get("answerable", True),
                sources=tuple(sources),
                facts=tuple(facts),
                half=half or half_of(d["id"]),
            )
        )
    return out


def build(
    questions: Iterable[Question],
    retriever: Retriever,
    units: UnitIndex,
    lexical: LexicalIndex,
    sentences: NamedEmbeddings | None,
    corpus_dir: Path,
    *,
    add_gold: bool = False,
    keywords_only: bool = False,
) -> Iterator[Example]:
    """Each question's ``Example``; ``add_gold``: add the expected chunks holding the fact
    that the pool lacks; ``keywords_only``: searched as the server searches while its
    vectors are built (BM25 alone, no passage with a dense score)."""
    assert retriever.exact is not None and retriever.store is not None
    retriever.exact.refresh()
    search = retriever
    if keywords_only:
        search = Retriever(retriever.lexical, None, k=retriever.k, pool_size=retriever.pool_size)
    snap = retriever.exact.snapshot
    by_file: dict[str, list[int]] = {}
    for i, meta in enumerate(snap.metas):
        by_file.setdefault(str(meta.get("source", "")).rsplit("/", 1)[-1], []).append(i)
    started = time.perf_counter()
    for n, q in enumerate(questions, 1):
        query = understand(q.question, q.history, corpus_dir=corpus_dir)
        pool = search.pool(query.expanded)
        facts = [_norm(f) for f in q.facts]
        if add_gold and facts:
            have = {p.id for p in pool}
            extra = [
                Passage(id=snap.ids[i], text=snap.texts[i], metadata=dict(snap.metas[i]))
                for name in q.sources
                for i in by_file.get(name, [])
                if snap.ids[i] not in have and any(f in _norm(snap.texts[i]) for f in facts)
            ]
            if extra and not keywords_only:
                vector = query.vector(retriever.store.embeddings)
                fill_dense(extra, retriever.exact.score(vector, retriever.parts), {})
                pool += extra
        reads, contexts = gather(units, pool)
        vector = query.vector(sentences) if sentences is not None else None
        x = features(query, reads, vector, contexts, lexical)
        files = [r.passage.source.rsplit("/", 1)[-1] for r in reads]
        golden = set(q.sources) | {t for s in q.sources if (t := twin(s))}
        y = np.array(
            [
                f in q.sources and any(t in _norm(r.unit.text) for t in facts)
                for r, f in zip(reads, files, strict=True)
            ],
            dtype=bool,
        )
        gold = np.array([f in golden for f in files], dtype=bool)
        yield Example(q, query.language, query.expanded, reads, x, y, gold)
        if n % 100 == 0:
            log.info("%d questions read (%.0f s)", n, time.perf_counter() - started)
