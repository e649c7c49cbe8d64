"""How likely an answer is to hold what answers the question: a calibrated probability.

From what the reader found (its best score, how far ahead of the rest, how well the
best unit and passages match the question, whether the sources agree, whether a country
the question names appears in them), a logistic regression trained by
``training/confidence.py`` gives the probability that the answer quotes the decisive
fact. It learnt from worked examples asked as they are and asked again with their
source removed ("leave-gold-out": the sources then do not answer), and from the dev
set's unanswerable questions, so that 0.8 means right about 8 times in 10 (see the
reliability table the evaluation prints). Below ``Settings.refusal_threshold`` the
assistant quotes nothing and says its sources do not answer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.reader import FEATURES as UNIT_FEATURES
from assistant.reader import prior

if TYPE_CHECKING:
    from assistant.reader import Read

__all__ = [
    "CLIP",
    "CONFIDENCE_FEATURES",
    "MODEL_PATH",
    "SIGNS",
    "Confidence",
    "confidence_features",
]

MODEL_PATH = Path(__file__).parent / "models" / "confidence.json"

CONFIDENCE_FEATURES = (
    "best",  # the learned ranker's score of the best unit
    "gap",  # its lead over the best unit of another passage
    "best_prior",  # the hand-set prior of the best unit
    "pool_prior",  # the best prior of any unit
    "best_cosine",  # the best unit's cosine with the question
    "best_coverage",  # its share of the question's idf weight
    "best_coverage_titled",  # the same with its passage's title line
    "pool_cosine",  # the best cosine of any unit
    "pool_coverage",  # the best coverage of any unit
    "best_dense",  # its passage's cosine with the question
    "best_pool_rank",  # log(1 + its passage's place in retrieval)
    "agreement",  # share of the five best units from the same source
    "query_length",  # log(1 + the question's telling words)
    "query_english",
    "keywords_only",  # answered by keywords alone, the vectors not there yet
    "country_missing",  # a country the question names is in none of the best passages
)


# How each feature may move the confidence: +1 never lowers it as the feature grows, -1
# never raises it, 0 either way. Fitted freely, the model learnt that a unit holding
# every word of the question is *less* likely to answer (such questions are rare among
# the paraphrased worked examples) and refused a guide's own sentence asked word for
# word; with these signs, stronger evidence can only raise the confidence. (The best
# unit of another passage is left out for the same reason: on the corpus, a strong
# runner-up meant a well-covered topic, and a guide alone on its topic was refused.)
SIGNS = {
    "best": 1,
    "gap": 1,
    "best_prior": 1,
    "pool_prior": 1,
    "best_cosine": 1,
    "best_coverage": 1,
    "best_coverage_titled": 1,
    "pool_cosine": 1,
    "pool_coverage": 1,
    "best_dense": 1,
    "best_pool_rank": -1,
    "agreement": 1,
    "query_length": 0,
    "query_english": 0,
    "keywords_only": 0,
    "country_missing": -1,
}
CLIP = 3.0  # standardised features are clipped to +-3: no extrapolation far from training

_COL = {name: i for i, name in enumerate(UNIT_FEATURES)}


def confidence_features(
    reads: Sequence[Read], unit_features: np.ndarray, country_missing: bool
) -> np.ndarray:
    """The CONFIDENCE_FEATURES of one reading: ``reads`` best first, with their rows of
    the reader's feature matrix ``unit_features`` in the same order."""
    x = np.zeros(len(CONFIDENCE_FEATURES), np.float32)
    col = {name: i for i, name in enumerate(CONFIDENCE_FEATURES)}
    x[col["country_missing"]] = country_missing
    if not reads:
        x[col["best"]] = -10.0
        x[col["best_pool_rank"]] = math.log1p(1000)
        return x
    best, row = reads[0], unit_features[0]
    other = next((r.model for r in reads if r.passage.id != best.passage.id), best.model - 10)
    priors = prior(unit_features)
    top = reads[:5]
    x[col["best"]] = best.model
    x[col["gap"]] = best.model - other
    x[col["best_prior"]] = priors[0]
    x[col["pool_prior"]] = priors.max()
    x[col["best_cosine"]] = row[_COL["cosine"]]
    x[col["best_coverage"]] = row[_COL["coverage"]]
    x[col["best_coverage_titled"]] = row[_COL["coverage_titled"]]
    x[col["pool_cosine"]] = unit_features[:, _COL["cosine"]].max()
    x[col["pool_coverage"]] = unit_features[:, _COL["coverage"]].max()
    x[col["best_dense"]] = row[_COL["dense"]]
    x[col["best_pool_rank"]] = row[_COL["pool_rank"]]
    x[col["agreement"]] = sum(r.passage.source == best.passage.source for r in top) / len(top)
    x[col["query_length"]] = row[_COL["query_length"]]
    x[col["query_english"]] = row[_COL["query_english"]]
    x[col["keywords_only"]] = row[_COL["keywords_only"]]
    return x


@dataclass(frozen=True)
class Confidence:
    """A logistic regression over standardised CONFIDENCE_FEATURES, read from JSON."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Confidence:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != CONFIDENCE_FEATURES:
            raise ValueError(f"{path} was fitted on other features: run `make train-reader`")
        return cls(
            np.asarray(data["mean"], np.float32),
            np.asarray(data["scale"], np.float32),
            np.asarray(data["coef"], np.float32),
            float(data["intercept"]),
        )

    def __call__(self, x: np.ndarray) -> float:
        standard = np.clip((x - self.mean) / self.scale, -CLIP, CLIP)
        z = float(standard @ self.coef + self.intercept)
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))
