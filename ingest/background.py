"""The server brings its index up to date while it already answers.

One background thread, in phases::

    reading   plan the corpus dir: load and chunk every file        (seconds)
    lexical   write the BM25 records that differ                   (seconds)
    waiting   another server process is embedding (its progress is shown)
    embedder  load the embedding model, open the Chroma collection
    embedding embed what Chroma lacks, in small steps              (minutes on a fresh clone)
    retrying  the Chroma server does not answer: try the last two phases again later
    complete  dense retrieval on

Answers come from keyword search as soon as there are BM25 records (at once when a
previous run left them, after the ``lexical`` phase on a fresh data dir) and from
hybrid search once the phase is ``complete``.

An index known to be complete goes straight to ``complete`` on a restart, in the time it
takes to load the embedder: a run that completes writes a stamp of what the index was
built from (every corpus file's path, size and modification time, the ingest code's, and
the settings that shape chunks and vectors), and a start that finds the same stamp opens
the vectors first. The usual phases then check the index unseen, and show themselves
only if they find something to embed.

Several server processes (with a Chroma server) take turns through lock files in
the data dir: one embeds, the others show its progress (read from a small JSON file)
until they get the lock and find nothing left to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import Timeout

from assistant.embeddings import NamedEmbeddings, embedder_name, make_embeddings
from assistant.settings import Settings
from assistant.store import (
    EmbedderMismatch,
    IndexMissing,
    chroma_client,
    chroma_reachable,
    connection_lost,
    vector_store,
)
from ingest.index import COMPLETE_STAMP, index_locks

if TYPE_CHECKING:
    from ingest.index import Indexer, Plan

__all__ = ["BackgroundIndexer", "IndexingStopped", "Progress", "corpus_fingerprint"]

log = logging.getLogger(__name__)

_MAX_PAUSE = 30.0  # seconds between two tries to reach the Chroma server
_INGEST_CODE = Path(__file__).parent


def corpus_fingerprint(settings: Settings) -> str:
    """What the corpus index is built from, read from the file system alone (no file is
    opened): equal fingerprints, equal chunk ids."""
    digest = hashlib.sha256()
    shape = (settings.embedder, settings.collection, settings.chroma_url, settings.chroma_tenant)
    shape += (settings.chroma_database, settings.chunk_size, settings.chunk_overlap)
    digest.update(json.dumps([str(value) for value in shape]).encode())
    corpus = settings.corpus_dir
    # Hidden files are not ingested (the shipped vectors, .vectors/, change no chunk id).
    files = [
        path
        for path in corpus.rglob("*")
        if path.is_file() and not any(p.startswith(".") for p in path.relative_to(corpus).parts)
    ]
    for path in sorted(files + list(_INGEST_CODE.glob("*.py"))):
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class IndexingStopped(Exception):
    """Raised inside ``sync_dense``'s progress callback to stop between two steps."""


@dataclass(frozen=True)
class Progress:
    """Where the start-up indexing is; ``failed`` and ``off`` end it too."""

    phase: str = "starting"
    done: int = 0
    total: int = 0
    error: str | None = None

    @property
    def dense_ready(self) -> bool:
        return self.phase == "complete"

    @property
    def percent(self) -> int:
        if self.phase == "complete":
            return 100
        if self.phase not in ("embedding", "waiting") or not self.total:
            return 0
        return int(100 * self.done / self.total)

    def as_dict(self) -> dict:
        return {**asdict(self), "percent": self.percent, "dense_ready": self.dense_ready}


class BackgroundIndexer:
    """Runs the phases in a daemon thread. ``on_lexical`` is called when keyword search
    has records (at start, and after the lexical phase); ``on_store`` receives the
    Chroma store as soon as the embedder is loaded, so that the caller can wire it into
    the assistant (dense search then waits for ``progress.dense_ready``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_store: Callable[[object], None],
        on_lexical: Callable[[], None] = lambda: None,
        embeddings: NamedEmbeddings | None = None,
    ) -> None:
        self.settings = settings.model_copy(
            update={"ingest_batch_size": settings.background_batch_size}
        )
        self.on_store = on_store
        self.on_lexical = on_lexical
        self._embeddings = embeddings
        self.progress = Progress()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="indexing", daemon=True)
        self._progress_file = settings.data_dir / "indexing-progress.json"
        self._stamp_file = settings.data_dir / COMPLETE_STAMP
        self._lexical_lock, self._dense_lock = index_locks(settings.data_dir)

    @property
    def embeddings(self) -> NamedEmbeddings | None:
        """The embedder once the vector index is complete (uploads are embedded with it)."""
        return self._embeddings if self.progress.dense_ready else None

    @property
    def embedder(self) -> str:
        return self._embeddings.name if self._embeddings else embedder_name(self.settings.embedder)

    def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop after the current step and wait for it a while (what
        is written is consistent at any point, so an unfinished step is redone later)."""
        self._stop.set()
        if self._thread.is_alive():
            log.info("waiting for the current indexing step to finish")
            self._thread.join(timeout)

    # ------------------------------------------------------------ the thread

    def _set(self, **changes) -> None:
        if changes.get("phase", self.progress.phase) != self.progress.phase:
            log.info("indexing phase: %s", changes["phase"])
        self.progress = replace(self.progress, **changes)

    def _show(self, phase: str) -> None:
        """Enter ``phase``, unless the index is known complete: it is only being checked."""
        if not self.progress.dense_ready:
            self._set(phase=phase)

    def _run(self) -> None:
        try:
            self.on_lexical()  # the records a previous run left, if any
            if self.settings.index_on_start:
                fingerprint = corpus_fingerprint(self.settings)
                if self._stamp() == fingerprint:
                    log.info("the index is complete for these files: vectors first")
                    self._until_chroma_answers(self._open_only)
                indexer, plan = self._index_lexical()
                self._until_chroma_answers(lambda: self._index_dense(indexer, plan))
                with contextlib.suppress(OSError):  # without it, the next start checks first
                    self._stamp_file.write_text(json.dumps({"fingerprint": fingerprint}))
            else:
                self._until_chroma_answers(self._open_only)
        except IndexingStopped:
            log.info("indexing stopped at %s; the next start resumes it", self.progress.phase)
        except EmbedderMismatch as exc:
            log.error("%s Answers use keyword search only.", exc)
            self._set(phase="failed", error=str(exc))
        except Exception as exc:  # the server keeps answering from what exists
            log.exception("indexing failed; answers use keyword search only")
            self._set(phase="failed", error=str(exc))

    def _until_chroma_answers(self, step: Callable[[], None]) -> None:
        """Run ``step``, again and again while the Chroma server does not answer, so that
        vectors come back after Chroma does without restarting the API."""
        pause = 1.0
        while True:
            try:
                step()
                return
            except IndexingStopped:
                raise
            except Exception as exc:
                # A lost or refused connection counts even if Chroma is back by the time
                # we look (it often is, when it was starting: a busy machine widens that).
                down = connection_lost(exc) or not chroma_reachable(self.settings)
                if not (self.settings.chroma_url and down):
                    raise
                log.warning(
                    "the Chroma server does not answer (%s); keyword search only, "
                    "trying again in %.0f s",
                    type(exc).__name__,
                    pause,
                )
                self._set(phase="retrying", error="the Chroma server does not answer")
            if self._stop.wait(pause):
                raise IndexingStopped
            pause = min(2 * pause, _MAX_PAUSE)

    def _stamp(self) -> str | None:
        """The fingerprint of the files the index was last completed from, if any."""
        try:
            return json.loads(self._stamp_file.read_text())["fingerprint"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _index_lexical(self) -> tuple[Indexer, Plan]:
        from ingest.index import Indexer

        self._show("reading")
        indexer = Indexer(self.settings, self._embeddings)
        with self._lexical_lock:
            plan = indexer.plan([self.settings.corpus_dir])
            for failure in plan.failed:
                log.warning("not indexed: %s: %s", failure.path, failure.reason)
            self._check_stop()
            self._show("lexical")
            changed = indexer.sync_lexical(plan)
        self.on_lexical()
        log.info(
            "keyword search ready: %d documents, %d chunks (%d records changed)",
            len(plan.chunks),
            sum(len(ids) for ids, _ in plan.chunks.values()),
            changed,
        )
        return indexer, plan

    def _index_dense(self, indexer: Indexer, plan: Plan) -> None:
        while True:
            try:
                self._dense_lock.acquire(timeout=1)
                break
            except Timeout:
                self._show_other_process()
                self._check_stop()
        try:
            if not self.progress.dense_ready:
                self._set(phase="embedder", done=0, total=0)
                self._attach_store(indexer.embeddings, indexer.client)
                self._set(phase="embedding")
            added, deleted = indexer.sync_dense(plan, on_progress=self._on_progress)
            log.info("vector index complete (%d chunks embedded, %d deleted)", added, deleted)
            self._progress_file.unlink(missing_ok=True)
        finally:
            self._dense_lock.release()
        self._set(phase="complete", error=None)

    def _open_only(self) -> None:
        """``index_on_start`` off: use the index as ``python -m ingest`` left it."""
        self._set(phase="embedder")
        try:
            embeddings = self._embeddings or make_embeddings(
                self.settings.embedder, batch_size=self.settings.embed_batch_size
            )
            self._attach_store(embeddings, chroma_client(self.settings), create=False)
        except IndexMissing as exc:
            log.warning("%s; answering from keyword search only", exc)
            self._set(phase="off", error=str(exc))
            return
        self._set(phase="complete", error=None)

    def _attach_store(self, embeddings: NamedEmbeddings, client, *, create: bool = True) -> None:
        self._embeddings = embeddings
        self.on_store(vector_store(client, self.settings.collection, embeddings, create=create))

    def _on_progress(self, done: int, total: int) -> None:
        if total and self.progress.dense_ready:  # the check found chunks to embed
            log.warning("the index lacks %d chunks after all: embedding them", total)
            self._set(phase="embedding")
        before = self.progress.percent
        self._set(done=done, total=total)
        if total and (done in (0, total) or self.progress.percent != before):
            log.info("indexing: %d/%d chunks embedded (%d %%)", done, total, self.progress.percent)
        with contextlib.suppress(OSError):  # for display only
            self._progress_file.write_text(json.dumps({"done": done, "total": total}))
        self._check_stop()

    def _show_other_process(self) -> None:
        """Another server process holds the dense lock: mirror its progress."""
        try:
            other = json.loads(Path(self._progress_file).read_text())
            self._set(phase="waiting", done=int(other["done"]), total=int(other["total"]))
        except (OSError, ValueError, KeyError):
            self._set(phase="waiting")

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise IndexingStopped
