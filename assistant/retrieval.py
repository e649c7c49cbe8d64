"""Question -> ranked passages: exact vector search and BM25, fused by rank.

Reciprocal-rank fusion needs no score calibration between the two searches; the raw
dense similarity and BM25 score are kept on each passage because the reader and the
confidence need absolute evidence, not ranks. Near-identical passages (the same
boilerplate in several trade agreements) are collapsed to the best one.

``search`` gives the best few passages (the helpdesk lookup, the LLM's context);
``pool`` gives the reader its candidates: the fused top ``pool_size``, the best of each
model of a fused embedder on its own (the multilingual one finds English passages for a
French question that the English one ranks low), and the best ``per_language`` of each
language of the corpus, so that French documents cannot crowd English ones out of a
French question's candidates, nor the reverse.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from assistant.dense import ExactSearch, Scores
from assistant.embeddings import FusedEmbeddings
from assistant.lexical import LexicalIndex

if TYPE_CHECKING:
    from langchain_chroma import Chroma

__all__ = ["FILTER_KEYS", "Passage", "Retriever", "Timings", "fill_dense", "matches"]

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
    dense_rank: int | None = None  # 1-based, in exact vector search
    lexical_rank: int | None = None  # 1-based, in BM25

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
    read: float = 0.0  # the reader and the confidence, after retrieval


class Retriever:
    """Hybrid search; works lexical-only while the dense index is missing or being built."""

    def __init__(
        self,
        lexical: LexicalIndex,
        store: Chroma | None = None,
        *,
        k: int = 8,
        candidates: int = 30,
        pool_size: int = 80,
        per_part: int = 30,
        per_language: int = 15,
        rrf_k: int = 60,
        dense_ready: Callable[[], bool] | None = None,
    ) -> None:
        self.lexical = lexical
        self.store = store
        self.k = k
        self.candidates = candidates
        self.pool_size = pool_size
        self.per_part = per_part
        self.per_language = per_language
        self.rrf_k = rrf_k
        self._dense_ready = dense_ready or (lambda: store is not None)
        self.exact = ExactSearch(store, lexical.generation) if store is not None else None
        self.parts: tuple[slice, ...] = ()
        embeddings = store.embeddings if store is not None else None
        if isinstance(embeddings, FusedEmbeddings):
            bounds = np.cumsum([0, *(e.dim for e, _ in embeddings.parts)])
            self.parts = tuple(slice(a, b) for a, b in itertools.pairwise(bounds))

    @property
    def dense_ready(self) -> bool:
        return self.store is not None and self._dense_ready()

    def _scores(self, vector: list[float], timings: Timings) -> Scores:
        assert self.exact is not None
        t0 = time.perf_counter()
        scores = self.exact.score(vector, self.parts)
        timings.dense += time.perf_counter() - t0
        return scores

    def _embed(self, text: str, timings: Timings) -> list[float]:
        assert self.store is not None
        t0 = time.perf_counter()
        vector = self.store.embeddings.embed_query(text)
        timings.embed += time.perf_counter() - t0
        return vector

    @staticmethod
    def _passages(scores: Scores, rows: list[int]) -> list[Passage]:
        snap = scores.snapshot
        return [
            Passage(
                id=snap.ids[i],
                text=snap.texts[i],
                metadata=dict(snap.metas[i]),
                dense=float(scores.cosine[i]),
                dense_rank=rank,
            )
            for rank, i in enumerate(rows, 1)
        ]

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
        return [
            Passage(id=i, text=t, metadata=m, lexical=s, lexical_rank=rank)
            for rank, (i, t, m, s) in enumerate(hits, 1)
        ]

    def _fuse(self, rankings: list[list[Passage]]) -> list[Passage]:
        """One passage per id, scored by reciprocal-rank fusion, best first."""
        fused: dict[str, Passage] = {}
        for ranking in rankings:
            for rank, passage in enumerate(ranking, 1):
                merged = fused.setdefault(passage.id, passage)
                merged.score += 1.0 / (self.rrf_k + rank)
                if passage is not merged:
                    for name in ("dense", "lexical", "dense_rank", "lexical_rank"):
                        if getattr(passage, name) is not None:
                            setattr(merged, name, getattr(passage, name))
        # Stable: a tie keeps the order passages were first met in (vector search first),
        # which the rankings fix for a given index.
        return sorted(fused.values(), key=lambda p: -p.score)

    def _ranked(
        self, query: str, filters: dict[str, str], n: int, timings: Timings
    ) -> tuple[list[Passage], Scores | None]:
        """The fused ranking of the first ``n`` of each search, and the vector scores."""
        rankings = [self._lexical(query, filters, n, timings)]
        scores = None
        if self.dense_ready:
            scores = self._scores(self._embed(query, timings), timings)
            mask = scores.snapshot.where(lambda m: matches(m, filters)) if filters else None
            rankings.insert(0, self._passages(scores, scores.top(n, mask=mask)))
        t0 = time.perf_counter()
        fused = self._fuse(rankings)
        timings.fusion += time.perf_counter() - t0
        return fused, scores

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
        fused, scores = self._ranked(query, filters, max(self.candidates, k), timings)
        t0 = time.perf_counter()
        result = _dedupe(fused, k, scores)
        timings.fusion += time.perf_counter() - t0
        return result

    def pool(
        self,
        query: str,
        *,
        filters: dict[str, str] | None = None,
        timings: Timings | None = None,
    ) -> list[Passage]:
        """The reader's candidates for ``query``, in fused order: the fused top
        ``pool_size``, then the best ``per_part`` of each model of a fused embedder and
        the best ``per_language`` of each language, where these are not in already."""
        timings = timings if timings is not None else Timings()
        filters = {key: value for key, value in (filters or {}).items() if value}
        fused, scores = self._ranked(query, filters, 2 * self.pool_size, timings)
        t0 = time.perf_counter()
        chosen = _dedupe(fused, self.pool_size, scores)
        if scores is not None:
            snap = scores.snapshot
            mask = snap.where(lambda m: matches(m, filters)) if filters else None
            extra = [scores.top(self.per_part, part, mask) for part in scores.parts]
            for in_language in snap.languages.values():
                both = in_language if mask is None else in_language & mask
                extra.append(scores.top(self.per_language, mask=both))
            known = {p.id for p in chosen}
            by_id = {p.id: p for p in fused}
            for i in dict.fromkeys(i for ranking in extra for i in ranking):
                id_ = scores.snapshot.ids[i]
                if id_ not in known:
                    known.add(id_)
                    chosen.append(by_id.get(id_) or self._passages(scores, [i])[0])
            fill_dense(chosen, scores, by_id)
        timings.fusion += time.perf_counter() - t0
        return chosen


def fill_dense(passages: list[Passage], scores: Scores, fused: dict[str, Passage]) -> None:
    """Give every passage its cosine and its rank in vector search, where a search that
    did not return it (BM25 only, or a per-language or per-model pick) left them unset."""
    rows = scores.snapshot.rows
    ranks: np.ndarray | None = None
    for passage in passages:
        if passage.id in fused and passage.dense_rank is not None:
            continue
        row = rows.get(passage.id)
        if row is None:
            continue
        if ranks is None:
            ranks = np.empty(len(scores.cosine), np.int64)
            ranks[np.argsort(-scores.cosine, kind="stable")] = np.arange(1, len(ranks) + 1)
        passage.dense = float(scores.cosine[row])
        passage.dense_rank = int(ranks[row])


def _dedupe(
    passages: list[Passage], k: int, scores: Scores | None = None, threshold: float = 0.9
) -> list[Passage]:
    """The first ``k`` passages, each near-identical one (words Jaccard >= ``threshold``)
    left out after the first. With vector ``scores``, only pairs whose vectors are close
    (cosine >= 0.9) are compared word by word: near-identical texts always are, and the
    pool's 80 x 160 comparisons shrink to a handful."""
    close = None
    if scores is not None:
        rows = [scores.snapshot.rows.get(p.id) for p in passages]
        if all(r is not None for r in rows):
            vectors = scores.snapshot.matrix[rows]
            close = (vectors @ vectors.T) >= 0.9
    kept: list[int] = []
    words: dict[int, set[str]] = {}

    def words_of(i: int) -> set[str]:
        if i not in words:
            words[i] = set(passages[i].body.lower().split())
        return words[i]

    for i in range(len(passages)):
        others = [j for j in kept if close is None or close[i, j]]
        if any(_jaccard(words_of(i), words_of(j)) >= threshold for j in others):
            continue
        kept.append(i)
        if len(kept) == k:
            break
    return [passages[i] for i in kept]


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
