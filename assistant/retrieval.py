"""Question -> ranked passages: dense (Chroma) and lexical (BM25) search fused by rank.

Reciprocal-rank fusion needs no score calibration between the two searches; the raw
dense similarity and BM25 score are kept on each passage because the refusal
decision needs absolute evidence, not ranks. Near-identical passages (the same
boilerplate in several trade agreements) are collapsed to the best one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.lexical import LexicalIndex, tokenize

if TYPE_CHECKING:
    from langchain_chroma import Chroma

__all__ = ["FILTER_KEYS", "Passage", "Retriever", "Timings", "matches"]

FILTER_KEYS = ("jurisdiction", "topic", "language", "source")
_EXACT = ("jurisdiction", "language")


@dataclass
class Passage:
    """One retrieved chunk: its text, where it comes from, and how well it matched."""

    id: str
    text: str
    metadata: dict = field(default_factory=dict)
    score: float = 0.0  # fused (RRF)
    dense: float | None = None  # cosine similarity, when dense search ran
    lexical: float | None = None  # BM25 score, when the passage matched words

    @property
    def source(self) -> str:
        return str(self.metadata.get("source", ""))

    @property
    def body(self) -> str:
        """The text without the context line that ingest puts first."""
        context = str(self.metadata.get("context", ""))
        if context and self.text.startswith(context):
            return self.text[len(context) :].lstrip()
        return self.text


def matches(metadata: dict, filters: dict[str, str]) -> bool:
    """Filter semantics shared by both searches: topic is one of a chunk's topics,
    source matches a path or its folder prefix, the rest must be equal."""
    for key, wanted in filters.items():
        if not wanted:
            continue
        if key == "topic":
            if wanted not in str(metadata.get("topics", "")).split(","):
                return False
        elif key == "source":
            source = str(metadata.get("source", ""))
            if source != wanted and not source.startswith(wanted.rstrip("/") + "/"):
                return False
        elif str(metadata.get(key, "")) != wanted:
            return False
    return True


@dataclass
class Timings:
    """Seconds spent in each step of one search; the caller's own, so that concurrent
    searches on one shared retriever never mix their figures."""

    embed: float = 0.0
    dense: float = 0.0
    lexical: float = 0.0
    fusion: float = 0.0


class Retriever:
    """Hybrid search; works lexical-only while the dense index is missing or being built."""

    def __init__(
        self,
        lexical: LexicalIndex,
        store: Chroma | None = None,
        *,
        k: int = 8,
        candidates: int = 30,
        rrf_k: int = 60,
        dense_ready: Callable[[], bool] | None = None,
    ) -> None:
        self.lexical = lexical
        self.store = store
        self.k = k
        self.candidates = candidates
        self.rrf_k = rrf_k
        self._dense_ready = dense_ready or (lambda: store is not None)

    @property
    def dense_ready(self) -> bool:
        return self.store is not None and self._dense_ready()

    def _dense(
        self, query: str, filters: dict[str, str], n: int, timings: Timings
    ) -> list[Passage]:
        assert self.store is not None
        t0 = time.perf_counter()
        vector = self.store.embeddings.embed_query(query)
        t1 = time.perf_counter()
        exact = [{key: filters[key]} for key in _EXACT if filters.get(key)]
        where = exact[0] if len(exact) == 1 else ({"$and": exact} if exact else None)
        # Topic and folder filters are not expressible in Chroma's where: over-fetch.
        fetch = n * 4 if set(filters) - set(_EXACT) else n
        # Despite its name this returns Chroma's cosine *distance* (lower is closer).
        hits = self.store.similarity_search_by_vector_with_relevance_scores(
            vector, k=fetch, filter=where
        )
        timings.embed += t1 - t0
        timings.dense += time.perf_counter() - t1
        passages = [
            Passage(
                id=str(doc.id),
                text=doc.page_content,
                metadata=dict(doc.metadata),
                dense=1 - distance,
            )
            for doc, distance in hits
            if matches(doc.metadata, filters)
        ]
        return passages[:n]

    def _lexical(
        self, query: str, filters: dict[str, str], n: int, timings: Timings
    ) -> list[Passage]:
        t0 = time.perf_counter()
        if filters:
            # Over-fetch then filter, so rare filters still find their passages.
            hits = [h for h in self.lexical.search(query, k=n * 20) if matches(h[2], filters)][:n]
        else:
            hits = self.lexical.search(query, k=n)
        timings.lexical += time.perf_counter() - t0
        return [Passage(id=i, text=t, metadata=m, lexical=s) for i, t, m, s in hits]

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        filters: dict[str, str] | None = None,
        timings: Timings | None = None,
    ) -> list[Passage]:
        """The best ``k`` passages for ``query`` that pass ``filters``; the seconds each
        step took are added to ``timings``, when given."""
        timings = timings if timings is not None else Timings()
        filters = {key: value for key, value in (filters or {}).items() if value}
        k = k or self.k
        n = max(self.candidates, k)
        rankings = [self._lexical(query, filters, n, timings)]
        if self.dense_ready:
            rankings.insert(0, self._dense(query, filters, n, timings))
        t0 = time.perf_counter()
        fused: dict[str, Passage] = {}
        for ranking in rankings:
            for rank, passage in enumerate(ranking, 1):
                merged = fused.setdefault(passage.id, passage)
                merged.score += 1.0 / (self.rrf_k + rank)
                if passage is not merged:
                    merged.dense = merged.dense if passage.dense is None else passage.dense
                    merged.lexical = merged.lexical if passage.lexical is None else passage.lexical
        ranked = sorted(fused.values(), key=lambda p: p.score, reverse=True)
        result = _dedupe(ranked, k)
        timings.fusion = time.perf_counter() - t0
        return result


def _dedupe(passages: list[Passage], k: int, threshold: float = 0.9) -> list[Passage]:
    kept: list[tuple[Passage, set[str]]] = []
    for passage in passages:
        words = set(tokenize(passage.body))
        if any(_jaccard(words, other) >= threshold for _, other in kept):
            continue
        kept.append((passage, words))
        if len(kept) == k:
            break
    return [p for p, _ in kept]


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
