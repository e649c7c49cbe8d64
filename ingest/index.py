"""Bring the Chroma index in line with the files, idempotently and crash-safely.

The index is its own state: every chunk id is ``root::source::position::hash``, so
comparing the ids a file would produce with the ids already stored tells whether the
file is new, changed or unchanged, without embedding anything. New chunks are
upserted before stale ones are deleted, so a run killed at any point leaves extra or
missing chunks that the next run's comparison repairs.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from langchain_core.documents import Document
from tqdm import tqdm

from assistant.embeddings import NamedEmbeddings, embedder_name, make_embeddings
from assistant.settings import Settings
from assistant.store import check_collection, chroma_client, existing_collection, vector_store
from ingest.chunking import SEP, Chunker, chunk_id
from ingest.documents import SourceFile, discover, load_source, root_label
from ingest.loaders import LoadError
from ingest.manifest import Manifest

__all__ = ["Indexer", "IngestReport"]

log = logging.getLogger(__name__)
_PAGE = 5000


@dataclass
class Failure:
    path: str
    reason: str


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[Failure] = field(default_factory=list)
    chunks_added: int = 0
    chunks_deleted: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_added / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["chunks_per_second"] = round(self.chunks_per_second, 2)
        data["seconds"] = round(self.seconds, 2)
        return data


def _parse_id(chunk_id_: str) -> tuple[str, str]:
    root, rest = chunk_id_.split(SEP, 1)
    source = rest.rsplit(SEP, 2)[0]
    return root, source


class Indexer:
    """Ingest folders into the configured collection."""

    def __init__(
        self,
        settings: Settings,
        embeddings: NamedEmbeddings | None = None,
    ) -> None:
        self.settings = settings
        self._embeddings = embeddings
        self.flush_size = settings.ingest_batch_size
        self.manifest = Manifest.load(settings.corpus_dir / "manifest.yaml")
        self.chunker = Chunker(settings.chunk_size, settings.chunk_overlap)
        self.client = chroma_client(settings)

    @property
    def embeddings(self) -> NamedEmbeddings:
        if self._embeddings is None:
            self._embeddings = make_embeddings(
                self.settings.embedder, batch_size=self.settings.embed_batch_size
            )
        return self._embeddings

    # ------------------------------------------------------------ planning

    def chunks_of(self, file: SourceFile) -> tuple[list[str], list[Document]]:
        chunks = [c for doc in load_source(file, self.manifest) for c in self.chunker.split(doc)]
        ids = [chunk_id(file.root, file.source, i, c) for i, c in enumerate(chunks)]
        return ids, chunks

    def stored_ids(self) -> dict[tuple[str, str], set[str]]:
        """All ids in the index, grouped by (root, source)."""
        collection = existing_collection(self.client, self.settings.collection)
        grouped: dict[tuple[str, str], set[str]] = defaultdict(set)
        if collection is None:
            return grouped
        offset = 0
        while True:
            page = collection.get(include=[], limit=_PAGE, offset=offset)["ids"]
            for id_ in page:
                grouped[_parse_id(id_)].add(id_)
            if len(page) < _PAGE:
                return grouped
            offset += _PAGE

    # ------------------------------------------------------------ running

    def run(
        self,
        roots: Sequence[Path],
        *,
        rebuild: bool = False,
        dry_run: bool = False,
        progress: bool | None = None,
        on_file: Callable[[SourceFile], None] | None = None,
    ) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport(dry_run=dry_run)
        if rebuild and not dry_run and existing_collection(self.client, self.settings.collection):
            self.client.delete_collection(self.settings.collection)
        stored = {} if rebuild and dry_run else self.stored_ids()
        name = self._embeddings.name if self._embeddings else embedder_name(self.settings.embedder)
        if not dry_run:
            check_collection(self.client, self.settings.collection, name, create=True)
        store = None  # opened, and the model loaded, only once something must be embedded

        files: list[SourceFile] = []
        for root in roots:
            if not root.exists():
                report.failed.append(Failure(str(root), "no such file or folder"))
                continue
            files += discover(root, self.settings.corpus_dir, self.manifest)
        scope = {root_label(r, self.settings.corpus_dir) for r in roots if r.exists()}

        pending_ids: list[str] = []
        pending_docs: list[Document] = []
        pending_deletes: list[str] = []

        def flush() -> None:
            nonlocal store
            if dry_run:
                pending_ids.clear()
                pending_docs.clear()
                pending_deletes.clear()
                return
            if pending_ids:
                if store is None:
                    store = vector_store(self.client, self.settings.collection, self.embeddings)
                store.add_documents(list(pending_docs), ids=list(pending_ids))
                log.info("embedded %d chunks", len(pending_ids))
            if pending_deletes:
                collection = self.client.get_collection(self.settings.collection)
                collection.delete(ids=list(pending_deletes))
            pending_ids.clear()
            pending_docs.clear()
            pending_deletes.clear()

        show = sys.stderr.isatty() if progress is None else progress
        bar = tqdm(files, desc="Ingesting", unit="file", disable=not show, dynamic_ncols=True)
        seen: set[tuple[str, str]] = set()
        for n, file in enumerate(bar, 1):
            if on_file:
                on_file(file)
            key = (file.root, file.source)
            seen.add(key)
            try:
                ids, chunks = self.chunks_of(file)
            except LoadError as exc:
                report.failed.append(Failure(str(file.path), exc.reason))
                log.warning("skipped %s: %s", file.path, exc.reason)
                continue
            have = stored.get(key, set())
            wanted = set(ids)
            if have == wanted:
                report.unchanged += 1
            else:
                if have:
                    report.updated += 1
                else:
                    report.added += 1
                for id_, chunk in zip(ids, chunks, strict=True):
                    if id_ not in have:
                        pending_ids.append(id_)
                        pending_docs.append(chunk)
                stale = sorted(have - wanted)
                pending_deletes.extend(stale)
                report.chunks_added += sum(1 for id_ in ids if id_ not in have)
                report.chunks_deleted += len(stale)
            report.chunks_total += len(ids)
            if len(pending_ids) >= self.flush_size:
                flush()
            bar.set_postfix(chunks=report.chunks_total, embedded=report.chunks_added)
            if not show and (n % 50 == 0 or n == len(files)):
                log.info("ingest: %d/%d files, %d chunks", n, len(files), report.chunks_total)
        flush()

        for key, ids in stored.items():
            if key[0] in scope and key not in seen:
                report.removed += 1
                report.chunks_deleted += len(ids)
                pending_deletes.extend(sorted(ids))
        flush()
        report.seconds = time.perf_counter() - started
        return report
