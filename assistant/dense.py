"""Exact vector search over every chunk of the Chroma collection, held in memory.

Chroma's HNSW index is approximate: at its default ``ef_search`` its top 30 shared only
82 % with exact cosine on the dev questions, and two askings of one question on one index
could get different answers. The whole corpus is small (25,000 vectors of 896 floats,
90 MB): a matrix product is exact, deterministic and takes a few milliseconds.

Chroma stays the store of record (ingest, uploads and other processes write there, and a
``chroma run`` server may be shared); this mirror follows it by ids. Chunk ids hash their
content, so a changed chunk is a new id: a refresh fetches the vectors of ids it lacks and
drops ids Chroma no longer has. A refresh is tried when the collection's count or the
caller's ``version`` (the lexical index's generation, bumped by every write) changes.
Searches read one immutable snapshot, swapped whole, so concurrent questions never see
a half-refreshed matrix.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from langchain_chroma import Chroma

__all__ = ["ExactSearch", "Scores"]

log = logging.getLogger(__name__)
_PAGE = 2000


@dataclass(frozen=True)
class _Snapshot:
    ids: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    metas: tuple[dict, ...] = ()
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    key: tuple = ()

    @cached_property
    def rows(self) -> dict[str, int]:
        """Each id's row."""
        return {id_: i for i, id_ in enumerate(self.ids)}

    @cached_property
    def languages(self) -> dict[str, np.ndarray]:
        """The rows of each language of the chunks ("" when unknown), as masks."""
        names = [str(m.get("language", "")) for m in self.metas]
        codes = {name: i for i, name in enumerate(sorted(set(names)))}
        column = np.fromiter((codes[n] for n in names), np.int32, len(names))
        return {name: column == code for name, code in codes.items()}

    def where(self, wanted: Callable[[dict], bool]) -> np.ndarray:
        """The rows whose metadata is ``wanted``, as a mask."""
        return np.fromiter((wanted(m) for m in self.metas), bool, len(self.metas))


class ExactSearch:
    """Every vector of ``store``'s collection in one matrix; cosine by a matrix product."""

    def __init__(self, store: Chroma, version: Callable[[], object] = lambda: None) -> None:
        self.store = store
        self.version = version
        self._snapshot = _Snapshot()
        self._lock = threading.Lock()

    def _key(self) -> tuple:
        # LangChain's Chroma wrapper has no public count; its collection is the API's own.
        return (self.store._collection.count(), self.version())

    def refresh(self) -> None:
        """Follow the collection: fetch the vectors of new ids, drop the deleted ones."""
        key = self._key()
        if key == self._snapshot.key:
            return
        with self._lock:
            old = self._snapshot
            if key == old.key:
                return
            current: list[str] = []
            for offset in range(0, key[0], _PAGE):
                current += self.store.get(include=[], limit=_PAGE, offset=offset)["ids"]
            known = {id_: i for i, id_ in enumerate(old.ids)}
            keep = [known[i] for i in current if i in known]
            new = [i for i in current if i not in known]
            ids = [old.ids[i] for i in keep]
            texts = [old.texts[i] for i in keep]
            metas = [old.metas[i] for i in keep]
            blocks = [old.matrix[keep]] if keep else []
            for start in range(0, len(new), _PAGE):
                got = self.store.get(
                    ids=new[start : start + _PAGE],
                    include=["embeddings", "documents", "metadatas"],
                )
                ids += got["ids"]
                texts += got["documents"]
                metas += [dict(m or {}) for m in got["metadatas"]]
                blocks.append(np.asarray(got["embeddings"], dtype=np.float32))
            matrix = np.concatenate(blocks) if blocks else np.zeros((0, 0), np.float32)
            if len(matrix):
                norms = np.linalg.norm(matrix, axis=1, keepdims=True)
                matrix = matrix / np.maximum(norms, 1e-12)
            self._snapshot = _Snapshot(tuple(ids), tuple(texts), tuple(metas), matrix, key)
            if new:
                log.info("exact search: %d vectors (%d new)", len(ids), len(new))

    def __len__(self) -> int:
        return len(self._snapshot.ids)

    @property
    def snapshot(self) -> _Snapshot:
        """The vectors as of the last refresh."""
        return self._snapshot

    def score(self, vector: Sequence[float], parts: Sequence[slice] = ()) -> Scores:
        """The cosine of ``vector`` with every chunk, overall and within each of ``parts``
        (the columns of one model in a fused vector, whose own cosine they give)."""
        self.refresh()
        snap = self._snapshot
        query = np.asarray(vector, dtype=np.float32)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        if not len(snap.ids):
            empty = np.zeros(0, np.float32)
            return Scores(snap, empty, tuple(empty for _ in parts))
        by_part = []
        for part in parts:
            weight = float(query[part] @ query[part]) or 1.0
            by_part.append(snap.matrix[:, part] @ query[part] / weight)
        return Scores(snap, snap.matrix @ query, tuple(by_part))


@dataclass(frozen=True)
class Scores:
    """One query's cosines with every chunk of a snapshot."""

    snapshot: _Snapshot
    cosine: np.ndarray
    parts: tuple[np.ndarray, ...]

    def top(
        self, k: int, scores: np.ndarray | None = None, mask: np.ndarray | None = None
    ) -> list[int]:
        """The rows of the ``k`` best ``scores`` (the overall cosine by default) among
        those of ``mask``, best first; ties by id, so runs never differ."""
        scores = self.cosine if scores is None else scores
        snap = self.snapshot
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        n = min(k, int(np.isfinite(scores).sum()))
        if n <= 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        return sorted(top.tolist(), key=lambda i: (-scores[i], snap.ids[i]))[:n]
