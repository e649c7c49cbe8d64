"""Query embedding: concurrent queries batched into one model call, each caller its own vector."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from assistant.embeddings import QueryBatcher

QUERIES = [
    "Do I need an export licence for dual-use goods?",
    "How long is the withdrawal period for online sales?",
    "hs code for leather handbags",
    "Quels documents pour exporter hors de l'UE ?",
    "What is a certificate of origin?",
    "When is EEI filing required?",
]


def test_concurrent_queries_get_the_vectors_they_would_get_alone(embeddings):
    alone = [embeddings.embed_query(q) for q in QUERIES * 3]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(embeddings.embed_query, QUERIES * 3))
    for mine, reference in zip(together, alone, strict=True):
        assert np.dot(mine, reference) == pytest.approx(1.0, abs=1e-4)
    assert len({tuple(np.round(v, 4)) for v in together}) == len(QUERIES)


def test_queries_that_arrive_together_share_one_call():
    calls: list[list[str]] = []
    first_started, release = threading.Event(), threading.Event()

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        if len(calls) == 1:  # hold the first call so that the others queue behind it
            first_started.set()
            release.wait()
        return np.array([[float(len(t))] for t in texts])

    batcher = QueryBatcher(encode)
    with ThreadPoolExecutor(max_workers=6) as pool:
        try:
            first = pool.submit(batcher, "a")
            first_started.wait()
            rest = [pool.submit(batcher, "b" * n) for n in range(2, 7)]
            while len(batcher._queue) < 5:  # all five queued behind the held call
                first_started.wait(0.01)
        finally:
            release.set()
        assert first.result() == [1.0]
        assert [f.result() for f in rest] == [[float(n)] for n in range(2, 7)]
    assert calls == [["a"], ["b" * n for n in range(2, 7)]]


def test_a_failed_call_fails_every_query_of_its_batch_and_not_the_next():
    fail = threading.Event()
    fail.set()

    def encode(texts: list[str]) -> np.ndarray:
        if fail.is_set():
            raise RuntimeError("model broke")
        return np.ones((len(texts), 2))

    batcher = QueryBatcher(encode)
    with pytest.raises(RuntimeError, match="model broke"):
        batcher("x")
    fail.clear()
    assert batcher("y") == [1.0, 1.0]


def test_a_model_that_returns_too_few_vectors_fails_the_call_instead_of_hanging_it():
    batcher = QueryBatcher(lambda texts: np.ones((len(texts) - 1, 2)))
    with pytest.raises(RuntimeError, match="0 vectors for 1 texts"):
        batcher("x")
    with pytest.raises(RuntimeError):  # and the next caller is not left waiting either
        batcher("y")
