"""The shipped embedding cache: vectors of the shipped corpus, so a fresh clone does not
spend an hour of CPU embedding texts that every installation embeds identically.

One ``.npz`` file per embedder (``corpus/.vectors/`` by default), holding:

- ``keys``: the first 8 bytes of each text's SHA-256, sorted (binary search);
- ``vectors``: int8, one row per key, each row scaled to use the whole int8 range;
- ``scales``: float32, the factor that turns a row back into the unit vector;
- ``meta``: the embedder's name and fingerprint (a digest of its weight files).

A vector is used only if the embedder's name *and* fingerprint match the file and the
text hashes to its key: a changed chunk, another model, or updated weights are all
misses, embedded live like a user's own documents. Int8 rows keep cosine ≥ 0.999 to
the float vectors at a quarter of the size.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from assistant.embeddings import FusedEmbeddings, NamedEmbeddings

__all__ = ["CachedEmbeddings", "VectorCache", "text_key", "with_cache", "write_cache"]

log = logging.getLogger(__name__)


def text_key(text: str) -> int:
    """The cache key of a text: 64 bits of its SHA-256 (collisions: ~1e-11 at 1M texts)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def cache_path(folder: Path, name: str) -> Path:
    """The file of the embedder called ``name`` in ``folder``."""
    return folder / (re.sub(r"[^A-Za-z0-9._-]+", "_", name) + ".npz")


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float rows -> int8 rows and per-row scales."""
    peak = np.abs(vectors).max(axis=1, keepdims=True)
    peak[peak == 0] = 1.0
    scales = (peak / 127.0).astype(np.float32)
    return np.round(vectors / scales).astype(np.int8), scales[:, 0]


class VectorCache:
    """The cached vectors of one embedder, read-only."""

    def __init__(self, keys: np.ndarray, vectors: np.ndarray, scales: np.ndarray) -> None:
        self.keys, self.vectors, self.scales = keys, vectors, scales

    @classmethod
    def load(cls, folder: Path, embeddings: NamedEmbeddings) -> VectorCache | None:
        """The cache of ``embeddings`` in ``folder``, or None when there is none that fits."""
        path = cache_path(folder, embeddings.name)
        if not path.is_file():
            return None
        try:
            with np.load(path) as data:
                meta = json.loads(str(data["meta"]))
                arrays = data["keys"], data["vectors"], data["scales"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            log.warning("not using %s: unreadable (%s); embedding live", path, exc)
            return None
        fingerprint = embeddings.fingerprint
        if meta.get("name") != embeddings.name:
            return None
        if not fingerprint or meta.get("fingerprint") != fingerprint:
            log.warning(
                "not using %s: it was made with other weights of %s (%s, now %s)",
                path,
                embeddings.name,
                meta.get("fingerprint"),
                fingerprint or "unknown",
            )
            return None
        return cls(*arrays)

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(found, rows): which texts are cached, and the float vectors of those."""
        wanted = np.array([text_key(t) for t in texts], dtype=np.uint64)
        at = np.searchsorted(self.keys, wanted).clip(max=max(len(self.keys) - 1, 0))
        found = self.keys[at] == wanted if len(self.keys) else np.zeros(len(texts), bool)
        rows = at[found]
        return found, self.vectors[rows].astype(np.float32) * self.scales[rows, None]


class CachedEmbeddings(NamedEmbeddings):
    """An embedder that takes passage vectors from a ``VectorCache`` where it can and
    computes the rest; queries always go to the model."""

    def __init__(self, inner: NamedEmbeddings, cache: VectorCache) -> None:
        self.inner, self.cache = inner, cache
        self.name, self.dim = inner.name, inner.dim
        self.hits = self.misses = 0

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        found, rows = self.cache.lookup(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        out[found] = rows
        missing = [t for t, hit in zip(texts, found, strict=True) if not hit]
        if missing:
            out[~found] = self.inner.encode_passages(missing)
        self.hits += int(found.sum())
        self.misses += len(missing)
        return out

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def with_cache(embeddings: NamedEmbeddings, folder: Path | None) -> NamedEmbeddings:
    """``embeddings`` reading the cache files in ``folder`` (each part of a fused one)."""
    if folder is None or not folder.is_dir():
        return embeddings
    if isinstance(embeddings, FusedEmbeddings):
        return FusedEmbeddings([(with_cache(e, folder), w) for e, w in embeddings.parts])
    cache = VectorCache.load(folder, embeddings)
    if cache is None:
        return embeddings
    log.info("using %d cached vectors of %s", len(cache), embeddings.name)
    return CachedEmbeddings(embeddings, cache)


def _plain_parts(embeddings: NamedEmbeddings) -> list[NamedEmbeddings]:
    if isinstance(embeddings, FusedEmbeddings):
        return [p for e, _ in embeddings.parts for p in _plain_parts(e)]
    if isinstance(embeddings, CachedEmbeddings):
        return [embeddings.inner]
    return [embeddings]


def write_cache(
    folder: Path, embeddings: NamedEmbeddings, texts: Iterable[str], *, batch: int = 256
) -> list[Path]:
    """Embed ``texts`` with each part of ``embeddings`` (reusing what is already cached)
    and write one cache file per part; returns the files written."""
    unique = sorted(set(texts), key=len)  # similar lengths pad less in a batch
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for part in _plain_parts(embeddings):
        fingerprint = part.fingerprint
        if not fingerprint:
            raise ValueError(f"{part.name} has no fingerprint: its vectors cannot be cached")
        source = with_cache(part, folder)
        vectors = np.concatenate(
            [source.encode_passages(unique[i : i + batch]) for i in range(0, len(unique), batch)]
            or [np.empty((0, part.dim), np.float32)]
        )
        keys = np.array([text_key(t) for t in unique], dtype=np.uint64)
        order = np.argsort(keys)
        ints, scales = quantize(vectors[order])
        path = cache_path(folder, part.name)
        meta = json.dumps({"name": part.name, "fingerprint": fingerprint, "dim": part.dim})
        partial = path.with_name(path.name + ".partial")  # a crash leaves the old file whole
        with partial.open("wb") as handle:  # np.savez would add ".npz" to a file name
            np.savez(handle, keys=keys[order], vectors=ints, scales=scales, meta=np.array(meta))
        os.replace(partial, path)
        log.info("wrote %d vectors of %s to %s", len(unique), part.name, path)
        written.append(path)
    return written
