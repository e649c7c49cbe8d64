"""The reader: which unit of the retrieved passages answers the question.

Every unit (sentence, list item, table row) of every passage in the retrieval pool is
described by the features below, and a LightGBM ranker trained on worked examples
(``training/reader.py``: the 1,563 questions of train.jsonl and the dev set's tune half)
scores it. Its ranking is averaged with the ranking of a hand-set ``prior`` (meaning,
words, answer type, retrieval rank: the composer's scorer before the reader): on the
dev set's tune half the average put the fact in 0.40 of answers where either alone gave
0.35, and the confirm half agreed (0.34 against 0.32). The same scores re-rank the pool
(a passage is worth its best unit), choose what the answer quotes, and feed the
confidence (``assistant.confidence``).

Features are named and computed in one place (``FEATURES``, ``features``) so that the
training script and the server cannot drift apart; the model file keeps their names and
``Reader`` refuses a file whose names differ.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.lexical import tokenize
from assistant.units import Unit

if TYPE_CHECKING:
    from assistant.lexical import LexicalIndex
    from assistant.query import Query
    from assistant.retrieval import Passage
    from assistant.units import UnitIndex

__all__ = [
    "FEATURES",
    "MODEL_PATH",
    "Read",
    "Reader",
    "Reading",
    "features",
    "gather",
    "prior",
    "rank_share",
]

MODEL_PATH = Path(__file__).parent / "models" / "reader.txt"

_NUMBER = re.compile(r"\d")
_AMOUNT = re.compile(r"[$€£%]|\b(?:usd|eur|gbp|fcfa|xof|xaf|percent|pour ?cent)\b", re.IGNORECASE)
_QUANTITY = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|thirty|fourteen|"
    r"un|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|douze|quatorze|trente)\s+"
    r"(days?|weeks?|months?|years?|hours?|jours|semaines|mois|ans|années|heures|d[ií]as|meses|"
    r"años|anos)\b",
    re.IGNORECASE,
)
_NO_RANK = 1000  # the rank of a passage a search did not return

FEATURES = (
    # the passage, as retrieval found it
    "pool_rank",  # log(1 + its place in the pool, by fused rank)
    "rrf",  # reciprocal-rank fusion score (x 100)
    "dense",  # cosine with the question (the index's embedder)
    "dense_rank",  # log(1 + rank in exact vector search)
    "lexical",  # BM25 score / the pool's best
    "lexical_rank",  # log(1 + rank in BM25)
    "keywords_only",  # no passage has a dense score: the vectors are not there yet
    "context_cosine",  # sentence-model cosine of the question and the passage's title line
    "source_share",  # share of the pool's first 10 passages from the same file
    "same_language",  # the passage is in the question's language
    # the unit
    "cosine",  # sentence-model cosine of the question and the unit
    "cosine_gap",  # cosine - the pool's best cosine
    "cosine_in_passage",  # cosine - the passage's best
    "neighbour_cosine",  # best cosine of the units next to it
    "coverage",  # share of the question's idf weight in the unit
    "coverage_titled",  # the same, in the unit and its passage's title line
    "coverage_gap",  # coverage - the pool's best
    "coverage_own",  # share of the idf weight of the user's own words (no expansion)
    "position",  # its place in the passage
    "length",  # log of its length in characters
    "item",  # a list item quoted with its lead-in
    "row",  # a table row
    "sentence_like",  # a sentence by the old filter's rules
    "leans",  # points back, quoted with the sentence before it
    "lead_in",  # ends with a colon
    "has_number",
    "has_amount",  # a currency or a percentage
    "answer_type",  # the question asks for a quantity and the unit holds one
    # the question
    "query_length",  # log(1 + its telling words)
    "query_english",
    "wants_quantity",
)


@dataclass
class Read:
    """One unit of one passage, as the reader scored it."""

    unit: Unit
    passage: Passage
    rank: int  # of its passage in the pool
    vector: np.ndarray | None = None
    score: float = 0.0  # the averaged rank (0..1) the answer is chosen by
    model: float = 0.0  # the learned ranker's own score


def prior(x: np.ndarray) -> np.ndarray:
    """The hand-set score of each row of a feature matrix: the cosine with the question,
    0.6 x its share of the question's telling words, 0.15 when it holds the quantity
    asked for, and 0.2 / (1 + its passage's place in the pool)."""
    col = {name: i for i, name in enumerate(FEATURES)}
    return (
        x[:, col["cosine"]]
        + 0.6 * x[:, col["coverage"]]
        + 0.15 * x[:, col["answer_type"]]
        + 0.2 / np.exp(x[:, col["pool_rank"]])  # pool_rank is log(1 + place)
    )


def rank_share(values: np.ndarray) -> np.ndarray:
    """Each value's rank among ``values`` as a share (ties share their mean rank)."""
    from scipy.stats import rankdata

    return rankdata(values) / len(values)


@lru_cache(maxsize=1 << 17)
def _words(text: str) -> frozenset[str]:
    """The tokens of a unit or title line: each is read by many questions."""
    return frozenset(tokenize(text))


def _coverage(weights: dict[str, float], total: float, words: set[str]) -> float:
    if not total:
        return 0.0
    return sum(w for t, w in weights.items() if t in words) / total


def _idf_weights(lexical: LexicalIndex, text: str) -> tuple[dict[str, float], float]:
    weights = {t: lexical.idf(t) for t in dict.fromkeys(tokenize(text))}
    return weights, sum(weights.values())


def features(
    query: Query,
    reads: Sequence[Read],
    query_vector: np.ndarray | None,
    context_vectors: dict[str, np.ndarray],
    lexical: LexicalIndex,
) -> np.ndarray:
    """The (units x FEATURES) matrix of ``reads`` for ``query``. ``query_vector`` and the
    units' vectors come from the sentence model; None / missing vectors count as 0."""
    n = len(reads)
    x = np.zeros((n, len(FEATURES)), dtype=np.float32)
    if not n:
        return x
    col = {name: i for i, name in enumerate(FEATURES)}
    expanded, total = _idf_weights(lexical, query.expanded)
    own, own_total = _idf_weights(lexical, query.retrieval)

    passages = {id(r.passage): r.passage for r in reads}
    best_lexical = max((p.lexical or 0.0 for p in passages.values()), default=0.0) or 1.0
    first = list(dict.fromkeys((r.rank, r.passage.source) for r in reads))[:10]
    top_sources = [source for _, source in first]

    cosine = np.zeros(n, np.float32)
    if query_vector is not None:
        for i, r in enumerate(reads):
            if r.vector is not None:
                cosine[i] = float(r.vector @ query_vector)
    context_cosine = {}
    for p in passages.values():
        vector = context_vectors.get(p.id)
        ok = vector is not None and query_vector is not None
        context_cosine[p.id] = float(vector @ query_vector) if ok else 0.0

    coverage = np.zeros(n, np.float32)
    coverage_titled = np.zeros(n, np.float32)
    coverage_own = np.zeros(n, np.float32)
    for i, r in enumerate(reads):
        words = _words(r.unit.text)
        titled = words | _words(str(r.passage.metadata.get("context", "")))
        coverage[i] = _coverage(expanded, total, words)
        coverage_titled[i] = _coverage(expanded, total, titled)
        coverage_own[i] = _coverage(own, own_total, words)

    passage_best: dict[str, float] = {}
    for i, r in enumerate(reads):
        passage_best[r.passage.id] = max(passage_best.get(r.passage.id, -1.0), cosine[i])
    by_position = {(r.passage.id, r.unit.position): cosine[i] for i, r in enumerate(reads)}

    for i, r in enumerate(reads):
        p, u = r.passage, r.unit
        row = x[i]
        row[col["pool_rank"]] = math.log1p(r.rank)
        row[col["rrf"]] = p.score * 100
        row[col["dense"]] = p.dense if p.dense is not None else 0.0
        row[col["dense_rank"]] = math.log1p(p.dense_rank or _NO_RANK)
        row[col["lexical"]] = (p.lexical or 0.0) / best_lexical
        row[col["lexical_rank"]] = math.log1p(p.lexical_rank or _NO_RANK)
        row[col["context_cosine"]] = context_cosine[p.id]
        row[col["source_share"]] = top_sources.count(p.source) / max(len(top_sources), 1)
        row[col["same_language"]] = str(p.metadata.get("language", "")) == query.language
        row[col["cosine"]] = cosine[i]
        row[col["cosine_in_passage"]] = cosine[i] - passage_best[p.id]
        row[col["neighbour_cosine"]] = max(
            by_position.get((p.id, u.position - 1), 0.0),
            by_position.get((p.id, u.position + 1), 0.0),
        )
        row[col["coverage"]] = coverage[i]
        row[col["coverage_titled"]] = coverage_titled[i]
        row[col["coverage_own"]] = coverage_own[i]
        row[col["position"]] = u.position
        row[col["length"]] = math.log(len(u.text))
        row[col["item"]] = u.kind == "item"
        row[col["row"]] = u.kind == "row"
        row[col["sentence_like"]] = u.sentence_like
        row[col["leans"]] = u.leans
        row[col["lead_in"]] = u.own.rstrip().endswith(":")
        row[col["has_number"]] = bool(_NUMBER.search(u.own))
        row[col["has_amount"]] = bool(_AMOUNT.search(u.own))
        row[col["answer_type"]] = query.wants_quantity and bool(_QUANTITY.search(u.own))
    x[:, col["cosine_gap"]] = cosine - cosine.max()
    x[:, col["coverage_gap"]] = coverage - coverage.max()
    # Without vectors, a passage's missing dense score is no evidence against it.
    x[:, col["keywords_only"]] = all(p.dense is None for p in passages.values())
    x[:, col["query_length"]] = math.log1p(len(expanded))
    x[:, col["query_english"]] = query.language == "en"
    x[:, col["wants_quantity"]] = query.wants_quantity
    return x


@dataclass
class Reading:
    """What the reader made of the pool: units best first, their feature rows in the same
    order, and the passages re-ranked by their best unit."""

    reads: list[Read]
    features: np.ndarray
    passages: list[Passage]


def gather(
    units: UnitIndex, passages: Sequence[Passage]
) -> tuple[list[Read], dict[str, np.ndarray]]:
    """Every unit of ``passages`` (unscored), and each passage's title-line vector."""
    found = units.get([(p.id, p.text, p.metadata) for p in passages])
    reads: list[Read] = []
    contexts: dict[str, np.ndarray] = {}
    for rank, passage in enumerate(passages):
        chunk = found.get(passage.id)
        if chunk is None:
            continue
        matrix = chunk.matrix()
        contexts[passage.id] = matrix[0]
        reads += [Read(u, passage, rank, matrix[j + 1]) for j, u in enumerate(chunk.units)]
    return reads, contexts


class Reader:
    """Scores units with the shipped model (a LightGBM text file naming its features)."""

    def __init__(
        self, lexical: LexicalIndex, units: UnitIndex, model_path: Path = MODEL_PATH
    ) -> None:
        import lightgbm

        self.lexical = lexical
        self.units = units

        self.booster = lightgbm.Booster(model_file=str(model_path))
        names = tuple(self.booster.feature_name())
        if names != FEATURES:
            raise ValueError(
                f"{model_path} was trained on other features ({len(names)}): "
                "run `make train-reader` again"
            )

    def score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the averaged rank shares of the model and the prior, the model's scores)."""
        if not len(x):
            return np.zeros(0), np.zeros(0)
        model = np.asarray(self.booster.predict(x), np.float64)
        return 0.5 * rank_share(model) + 0.5 * rank_share(prior(x)), model

    def read(self, query: Query, passages: Sequence[Passage]) -> Reading:
        """Score every unit of ``passages`` for ``query``; passages re-ranked by their best
        unit (those without one keep their order, after the others)."""
        reads, contexts = gather(self.units, passages)
        embeddings = self.units.embeddings
        vector = query.vector(embeddings) if embeddings is not None else None
        x = features(query, reads, vector, contexts, self.lexical)
        scores, model = self.score(x)
        order = np.argsort(-scores, kind="stable")
        ranked = [reads[i] for i in order]
        for read, i in zip(ranked, order, strict=True):
            read.score, read.model = float(scores[i]), float(model[i])
        best: dict[str, float] = {}
        for read in ranked:
            best.setdefault(read.passage.id, read.score)
        reranked = sorted(passages, key=lambda p: (p.id not in best, -best.get(p.id, 0.0)))
        return Reading(ranked, x[order], reranked)
