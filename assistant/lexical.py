"""BM25 over every chunk: the records live in SQLite under the data dir, the matrix in memory.

Ingest writes the records (chunk id, text, metadata, tokens) incrementally, in one
transaction per run; readers build the bm25s matrix from them in about a second and
rebuild it when a newer generation has been written. Needing no embedder, this index
is ready long before the dense vectors of a fresh install are.
"""

from __future__ import annotations

import gc
import json
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["LexicalIndex", "LexicalRecords", "fold", "tokenize"]

# Small stop lists for the languages we answer in; BM25's idf handles the rest.
_STOP_WORDS = """
a an and are as at be by can do does for from has have how i if in into is it its may me my
not of on or our shall should so that the their them then there these they this to under was
we what when where which who will with would you your
au aux avec ce ces cette dans de des du elle en est et il ils je la le les leur mais me mon ne
nous on ou par pas pour qu que qui sa se ses son sont sur un une vos votre vous y
al como con del el es las los para por que se su sus una unos
ao aos com da das do dos em na nas no nos os pelo pela um uma
"""
_STOP = frozenset(_STOP_WORDS.split())
_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")


def fold(text: str) -> str:
    """Lower case without accents: "Règlement" -> "reglement"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    """Lower-cased, accent-folded words and numbers ("30.37", "2,500"), minus stop words;
    a trailing plural "s" is dropped so that "invoices" finds "invoice"."""
    tokens = []
    for token in _TOKEN.findall(fold(text)):
        if token in _STOP:
            continue
        if len(token) > 4 and token.endswith("s") and not token[-2].isdigit():
            token = token[:-1]
        tokens.append(token)
    return tokens


_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    source TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    tokens TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(root, source);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_GENERATION = "SELECT value FROM state WHERE key = 'generation'"  # bumped by every write


class LexicalRecords:
    """Read-only views of the records, for a process that must not create the store or
    take its write lock (the API reads while another process may still be indexing)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)

    def _rows(self, query: str, *params: str) -> list[tuple]:
        """The rows of ``query``; none before the store or its tables exist."""
        if not self.path.exists():
            return []
        try:
            with closing(self._connect()) as db:
                return db.execute(query, params).fetchall()
        except sqlite3.OperationalError:  # tables not created yet
            return []

    def generation(self) -> int:
        rows = self._rows(_GENERATION)
        return int(rows[0][0]) if rows else 0

    def counts(self) -> tuple[int, int, int]:
        """(generation, documents, chunks); zeros before the first records."""
        generation = self.generation()  # first: a write in between only makes it look older
        rows = self._rows("SELECT COUNT(DISTINCT root || ' ' || source), COUNT(*) FROM chunks")
        documents, chunks = rows[0] if rows else (0, 0)
        return generation, documents, chunks

    def documents(self) -> list[tuple[str, str, int, dict]]:
        """(root, source, chunks, metadata of one chunk) of every document, by source."""
        rows = self._rows(
            "SELECT root, source, COUNT(*), MIN(metadata) FROM chunks "
            "GROUP BY root, source ORDER BY source, root"
        )
        return [(root, source, n, json.loads(meta)) for root, source, n, meta in rows]

    def of_source(self, source: str) -> list[tuple[str, str, str, dict]]:
        """(id, root, text, metadata) of every chunk of ``source``, in any root."""
        rows = self._rows("SELECT id, root, text, metadata FROM chunks WHERE source = ?", source)
        return [(id_, root, text, json.loads(meta)) for id_, root, text, meta in rows]


@dataclass(frozen=True)
class _Records:
    """The records in memory and their BM25 matrix, replaced together."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    meta: list[dict] = field(default_factory=list)
    bm25: Any = None


class LexicalIndex:
    """The chunk records and a BM25 matrix over them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        # Every search asks for the generation: one open connection answers in
        # microseconds where opening one costs milliseconds.
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        self._generation = -1
        self._records = _Records()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    # ------------------------------------------------------------ writing (ingest)

    def stored_ids(self) -> dict[tuple[str, str], set[str]]:
        grouped: dict[tuple[str, str], set[str]] = {}
        with closing(self._connect()) as db:
            for id_, root, source in db.execute("SELECT id, root, source FROM chunks"):
                grouped.setdefault((root, source), set()).add(id_)
        return grouped

    def apply(self, upserts: Iterable[tuple[str, str, dict]], deletes: Iterable[str]) -> int:
        """Write new records and drop stale ones in one transaction; returns rows changed."""
        rows = [
            (
                id_,
                meta.get("root", ""),
                meta.get("source", ""),
                text,
                json.dumps(meta, ensure_ascii=False),
                " ".join(tokenize(text)),
            )
            for id_, text, meta in upserts
        ]
        stale = [(id_,) for id_ in deletes]
        if not rows and not stale:
            return 0
        with closing(self._connect()) as db, db:
            db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?)", rows)
            db.executemany("DELETE FROM chunks WHERE id = ?", stale)
            db.execute(
                "INSERT INTO state VALUES ('generation', '1') ON CONFLICT(key) "
                "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )
        return len(rows) + len(stale)

    def clear(self) -> None:
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM chunks")
            db.execute(
                "INSERT INTO state VALUES ('generation', '1') ON CONFLICT(key) "
                "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )

    # ------------------------------------------------------------ reading (queries)

    def generation(self) -> int:
        with self._reader_lock:
            if self._reader is None:
                self._reader = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            # fetchall ends the read transaction, so the next call sees newer writes.
            rows = self._reader.execute(_GENERATION).fetchall()
        return int(rows[0][0]) if rows else 0

    def close(self) -> None:
        """Close the connection kept for freshness checks."""
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def __len__(self) -> int:
        self.refresh()
        return len(self._records.ids)

    def refresh(self) -> None:
        """Rebuild the in-memory matrix if ingest has written since it was built."""
        generation = self.generation()
        if generation == self._generation:
            return
        with self._lock:
            if generation == self._generation:
                return
            import bm25s

            with closing(self._connect()) as db:
                rows = db.execute(
                    "SELECT id, text, metadata, tokens FROM chunks ORDER BY id"
                ).fetchall()
            ids = [r[0] for r in rows]
            texts = [r[1] for r in rows]
            meta = [json.loads(r[2]) for r in rows]
            bm25 = None
            if rows:
                bm25 = bm25s.BM25()
                bm25.index([r[3].split() or [""] for r in rows], show_progress=False)
            # One assignment: a search running meanwhile reads the old records or the new,
            # never the ids of one with the matrix of the other.
            self._records = _Records(ids, texts, meta, bm25)
            self._generation = generation
            # Moved out of the cyclic garbage collector's reach, the records no longer make
            # each of its full passes walk them (90 ms at 230,000 chunks, paid by whichever
            # request triggers it). Collect first, so that no garbage of the moment is
            # frozen with them; records a later refresh replaces hold no cycles, so
            # reference counting still frees them.
            gc.collect()
            gc.freeze()

    def search(
        self, query: str, *, k: int = 20, filters: dict[str, str] | None = None
    ) -> list[tuple[str, str, dict, float]]:
        """The ``k`` best (id, text, metadata, score) for ``query``; zero scores are left out."""
        self.refresh()
        tokens = tokenize(query)
        records = self._records
        if records.bm25 is None or not tokens:
            return []
        mask = None
        if filters:
            mask = np.array(
                [
                    all(str(m.get(key, "")) == str(v) for key, v in filters.items())
                    for m in records.meta
                ],
                dtype=np.float32,
            )
        scores = records.bm25.get_scores(tokens, weight_mask=mask)
        # Partition, then sort only the k best: a full sort grows with the corpus.
        top = np.argpartition(-scores, k)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]  # best first; ties by position
        return [
            (records.ids[i], records.texts[i], records.meta[i], float(scores[i]))
            for i in top
            if scores[i] > 0
        ]

    def records(self, wanted: Callable[[dict], bool]) -> list[tuple[str, str, dict]]:
        """(id, text, metadata) of every record whose metadata is ``wanted``."""
        self.refresh()
        records = self._records
        return [
            (i, t, m)
            for i, t, m in zip(records.ids, records.texts, records.meta, strict=True)
            if wanted(m)
        ]

    def idf(self, token: str) -> float:
        """Inverse document frequency of a token (0 if unknown): how telling a word is.

        Uses the matrix of the last ``search`` (no freshness check: it is called per word)."""
        if self._generation < 0:
            self.refresh()
        records = self._records
        if records.bm25 is None or token not in records.bm25.vocab_dict:
            return 0.0
        token_id = records.bm25.vocab_dict[token]
        indptr = records.bm25.scores["indptr"]
        df = int(indptr[token_id + 1] - indptr[token_id])
        n = len(records.ids)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
