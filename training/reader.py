"""Train the reader and the confidence: ``python -m training.reader`` (``make train-reader``).

    python -m training.reader [--train ../shared/eval/train.jsonl] [--dev ../shared/eval/dev.jsonl]

Needs the built index (``python -m ingest``). Writes ``assistant/models/reader.txt``
(LightGBM's plain-text model, feature names inside) and
``assistant/models/confidence.json``.

1. Every question of train.jsonl, and of the dev set's **tune half only**, is read as the
   server reads it (``training.candidates``), once with its vectors and once by keywords
   alone (as while the vectors are built); a training question's answering chunk is
   added to its pool when retrieval missed it.
2. The reader: a LightGBM LambdaRank model over the units of each question, on the
   training questions and the tune half's answerable ones (weighted ``TUNE_WEIGHT``: they
   are written the way users type, the worked examples more plainly).
3. The confidence: each question is scored by a reader that did not learn from it
   (``FOLDS``-fold), answered as the composer would, and labelled by whether the answer
   holds the fact; each training question is also asked again with its source files
   removed ("leave-gold-out": its answer is then wrong by construction), and the tune
   half's unanswerable questions are negatives. A logistic regression learns the
   probability; Platt scaling on the tune half (out-of-fold) sets its level to the
   share of questions users really ask that the sources answer.

The confirm half is never read here: it is what the evaluation reports.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import pickle
import time
from pathlib import Path

import numpy as np

from assistant.answer import ExtractiveComposer
from assistant.confidence import CLIP, CONFIDENCE_FEATURES, SIGNS, confidence_features
from assistant.confidence import MODEL_PATH as CONFIDENCE_PATH
from assistant.embeddings import make_embeddings, part_named
from assistant.lexical import LexicalIndex
from assistant.reader import FEATURES, MODEL_PATH, Read, prior, rank_share
from assistant.retrieval import Retriever
from assistant.scope import unmatched_countries
from assistant.settings import PROJECT_ROOT, Settings
from assistant.store import chroma_client, vector_store
from assistant.units import UnitIndex
from training.candidates import Example, build, load_questions

log = logging.getLogger("training.reader")

SHARED = PROJECT_ROOT.parent / "shared" / "eval"
FOLDS = 4
TUNE_WEIGHT = 5.0
ROUNDS = 200
PARAMS = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambdarank_truncation_level": 10,
    "num_threads": 2,
    "seed": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}


def _fold(example: Example) -> int:
    return hashlib.sha256(example.question.id.encode()).digest()[0] % FOLDS


def fit_reader(examples: list[Example]):
    """A LambdaRank booster on the examples that have a positive unit."""
    import lightgbm

    usable = [e for e in examples if e.y.any()]
    x = np.vstack([e.x for e in usable])
    y = np.concatenate([e.y for e in usable]).astype(int)
    weight = np.concatenate(
        [np.full(len(e.y), TUNE_WEIGHT if e.question.half == "tune" else 1.0) for e in usable]
    )
    data = lightgbm.Dataset(
        x, y, group=[len(e.y) for e in usable], weight=weight, feature_name=list(FEATURES)
    )
    return lightgbm.train(PARAMS, data, ROUNDS)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def answer_features(
    example: Example,
    model: np.ndarray,
    keep: np.ndarray,
    composer: ExtractiveComposer,
    countries: Path,
) -> tuple[np.ndarray, bool]:
    """The confidence features of the reading of ``example`` limited to the units of
    ``keep``, and whether the composed answer holds the fact."""
    rows = np.flatnonzero(keep)
    if not len(rows):
        missing = bool(unmatched_countries(example.expanded, [], countries))
        return confidence_features([], np.zeros((0, len(FEATURES))), missing), False
    x = example.x[rows]
    scores = 0.5 * rank_share(model[rows]) + 0.5 * rank_share(prior(x))
    order = np.argsort(-scores, kind="stable")
    reads: list[Read] = []
    for i in order:
        read = example.reads[rows[i]]
        reads.append(
            Read(
                read.unit,
                read.passage,
                read.rank,
                read.vector,
                float(scores[i]),
                float(model[rows[i]]),
            )
        )
    chosen = composer.choose(reads)
    text = _norm(" ".join(r.unit.text for r in chosen))
    holds = example.question.answerable and any(_norm(f) in text for f in example.question.facts)
    top = list({r.passage.id: r.passage.text for r in reads}.values())[:3]
    missing = bool(unmatched_countries(example.expanded, top, countries))
    return confidence_features(reads, x[order], missing), holds


def monotone_logistic(
    x: np.ndarray, labels: list[bool], l2: float = 1e-3
) -> tuple[np.ndarray, float]:
    """A logistic regression whose coefficients keep the signs of ``SIGNS`` (L-BFGS-B
    with bounds, a little L2): stronger evidence never lowers the confidence."""
    from scipy.optimize import minimize

    y = np.asarray(labels, dtype=np.float64)
    n, d = x.shape

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w[:d] + w[d]
        p = 1.0 / (1.0 + np.exp(-z))
        value = float(np.mean(np.logaddexp(0.0, z) - y * z) + l2 * w[:d] @ w[:d])
        grad = np.append(x.T @ (p - y) / n + 2 * l2 * w[:d], np.mean(p - y))
        return value, grad

    bounds = [
        {1: (0.0, None), -1: (None, 0.0), 0: (None, None)}[SIGNS[name]]
        for name in CONFIDENCE_FEATURES
    ] + [(None, None)]
    fitted = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", bounds=bounds)
    return fitted.x[:d], float(fitted.x[d])


def fit_confidence(examples: list[Example], composer: ExtractiveComposer, countries: Path) -> dict:
    """Out-of-fold readings -> logistic regression -> Platt scaling on the tune half."""
    from sklearn.linear_model import LogisticRegression

    boosters = [
        fit_reader([e for e in examples if _fold(e) != k and e.question.answerable])
        for k in range(FOLDS)
    ]
    rows, labels, tune_rows, tune_labels = [], [], [], []
    for e in examples:
        if not len(e.y):
            x, holds = answer_features(e, np.zeros(0), np.zeros(0, bool), composer, countries)
        else:
            model = boosters[_fold(e)].predict(e.x)
            x, holds = answer_features(e, model, np.ones(len(e.y), bool), composer, countries)
            if e.question.half == "train" and e.gold.any():
                left, _ = answer_features(e, model, ~e.gold, composer, countries)
                rows.append(left)
                labels.append(False)
        rows.append(x)
        labels.append(holds)
        if e.question.half == "tune":
            tune_rows.append(x)
            tune_labels.append(holds)
    x = np.array(rows)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    coef, intercept = monotone_logistic(np.clip((x - mean) / scale, -CLIP, CLIP), labels)
    z = np.clip((np.array(tune_rows) - mean) / scale, -CLIP, CLIP) @ coef + intercept
    platt = LogisticRegression(C=100.0).fit(z[:, None], tune_labels)
    a, c = float(platt.coef_[0][0]), float(platt.intercept_[0])
    log.info(
        "confidence: %d readings (%d right), tune half %d (%d right); Platt a=%.3f c=%.3f",
        len(labels),
        sum(labels),
        len(tune_labels),
        sum(tune_labels),
        a,
        c,
    )
    return {
        "features": list(CONFIDENCE_FEATURES),
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "coef": [round(a * float(v), 6) for v in coef],
        "intercept": round(a * float(intercept) + c, 6),
        "trained_on": "train.jsonl (+ leave-gold-out copies) and dev.jsonl's tune half",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, default=SHARED / "train.jsonl")
    parser.add_argument("--dev", type=Path, default=SHARED / "dev.jsonl")
    parser.add_argument(
        "--limit", type=int, default=None, help="Only the first N questions of each set (a trial)."
    )
    parser.add_argument(
        "--out", type=Path, default=MODEL_PATH.parent, help="Where to write the two model files."
    )
    parser.add_argument(
        "--examples",
        type=Path,
        default=None,
        help="Keep the questions as read in this file, and read them from it when it exists "
        "(fitting again without reading again: the reading is most of the time).",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.perf_counter()

    settings = Settings()
    embeddings = make_embeddings(settings.embedder, batch_size=settings.embed_batch_size)
    store = vector_store(chroma_client(settings), settings.collection, embeddings)
    lexical = LexicalIndex(settings.lexical_path)
    retriever = Retriever(lexical, store, k=settings.retrieval_k, pool_size=settings.reader_pool)
    sentences = part_named(embeddings, settings.sentence_embedder) or make_embeddings(
        settings.sentence_embedder
    )
    units = UnitIndex(settings.data_dir / "units.sqlite", sentences)

    def read(questions, add_gold: bool, keywords_only: bool) -> list[Example]:
        return list(
            build(
                questions,
                retriever,
                units,
                lexical,
                sentences,
                settings.corpus_dir,
                add_gold=add_gold,
                keywords_only=keywords_only,
            )
        )

    if args.examples and args.examples.is_file():
        with args.examples.open("rb") as handle:
            examples = pickle.load(handle)
    else:
        train = load_questions(args.train, half="train")[: args.limit]
        tune = [q for q in load_questions(args.dev) if q.half == "tune"][: args.limit]
        # Each question twice: searched as usual, and by keywords alone, as the server
        # answers while its vectors are built (the reader and the confidence must know
        # that a missing dense score is then no evidence against a passage).
        examples = [
            example
            for keywords_only in (False, True)
            for example in read(train, True, keywords_only) + read(tune, False, keywords_only)
        ]
        if args.examples:
            with args.examples.open("wb") as handle:
                pickle.dump(examples, handle)
    log.info(
        "%d readings of training and tune questions (%.0f s)",
        len(examples),
        time.perf_counter() - started,
    )

    reader = fit_reader([e for e in examples if e.question.answerable])
    args.out.mkdir(parents=True, exist_ok=True)
    reader_path, confidence_path = args.out / MODEL_PATH.name, args.out / CONFIDENCE_PATH.name
    reader.save_model(str(reader_path))
    countries = settings.corpus_dir / "country-codes" / "country-codes.csv"
    confidence = fit_confidence(examples, ExtractiveComposer(), countries)
    confidence_path.write_text(json.dumps(confidence, indent=1) + "\n", encoding="utf-8")
    log.info(
        "wrote %s and %s in %.0f s", reader_path, confidence_path, time.perf_counter() - started
    )


if __name__ == "__main__":
    main()
