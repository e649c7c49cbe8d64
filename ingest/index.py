"""Bring the indexes in line with the files, idempotently and crash-safely.

Each index is its own state: every chunk id is ``root::source::position::hash``, so
comparing the ids a file would produce with the ids an index already holds tells
whether the file is new, changed or unchanged there, without embedding anything.

A run has three steps: *plan* (load and chunk every file: seconds), *lexical* (write
the BM25 records in one transaction: seconds) and *dense* (embed what Chroma lacks:
minutes on a fresh install). New chunks are written before stale ones are deleted,
so a run killed at any point leaves extra or missing chunks that the next run's
comparison repairs.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock
from langchain_core.documents import Document
from tqdm import tqdm

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

from assistant.embeddings import NamedEmbeddings, embedder_name, make_embeddings
from assistant.lexical import LexicalIndex
from assistant.settings import Settings
from assistant.store import check_collection, chroma_client, existing_collection, vector_store
from ingest.chunking import Chunker, chunk_id, parse_chunk_id
from ingest.documents import SourceFile, discover, load_source, root_label
from ingest.loaders import LoadError
from ingest.manifest import Manifest
from ingest.vectors import with_cache, write_cache

__all__ = [
    "COMPLETE_STAMP",
    "Indexer",
    "IngestReport",
    "Plan",
    "chunked",
    "index_locks",
    "with_fields",
]

log = logging.getLogger(__name__)
_PAGE = 5000
# In the data dir: what the server's indexer last completed the index from
# (ingest/background.py). A run of this module may change the index: it removes it.
COMPLETE_STAMP = "index-complete.json"

Key = tuple[str, str]  # (root, source)


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


@dataclass
class Plan:
    """Every current chunk of the ingested roots, and what the run was asked to cover."""

    chunks: dict[Key, tuple[list[str], list[Document]]] = field(default_factory=dict)
    scope: set[str] = field(default_factory=set)
    failed: list[Failure] = field(default_factory=list)

    def delta(self, stored: dict[Key, set[str]]) -> tuple[list[tuple[str, Document]], list[str]]:
        """What an index holding ``stored`` lacks, and what it holds that is stale."""
        upserts: list[tuple[str, Document]] = []
        deletes: list[str] = []
        for key, (ids, docs) in self.chunks.items():
            have = stored.get(key, set())
            upserts += [(i, d) for i, d in zip(ids, docs, strict=True) if i not in have]
            deletes += sorted(have - set(ids))
        for key, ids in stored.items():
            if key[0] in self.scope and key not in self.chunks:
                deletes += sorted(ids)
        return upserts, deletes


def with_fields(
    docs: list[Document],
    metadata: Mapping[str, str] | None = None,
    defaults: Mapping[str, str] | None = None,
) -> list[Document]:
    """``docs`` with ``metadata``'s non-empty values over their own, and ``defaults``
    where both leave a value empty (see ``Indexer.chunks_of``)."""
    given = {key: value for key, value in (metadata or {}).items() if value}
    for doc in docs:
        doc.metadata.update(given)
        for key, value in (defaults or {}).items():
            if not doc.metadata.get(key):
                doc.metadata[key] = value
    return docs


def chunked(
    file: SourceFile, docs: list[Document], chunker: Chunker
) -> tuple[list[str], list[Document]]:
    """The chunk ids and chunks of ``file``'s loaded ``docs``."""
    chunks = [c for doc in docs for c in chunker.split(doc)]
    if not chunks:
        raise LoadError(file.path, "no text to index (headings only)")
    return [chunk_id(file.root, file.source, i, c) for i, c in enumerate(chunks)], chunks


def index_locks(data_dir: Path) -> tuple[FileLock, FileLock]:
    """The locks on writing the BM25 records and on embedding, taken by every process
    (and thread) that indexes into ``data_dir`` while a server runs."""
    return FileLock(data_dir / ".lexical.lock"), FileLock(data_dir / ".dense.lock")


class Indexer:
    """Ingest folders into the configured Chroma collection and BM25 records."""

    def __init__(self, settings: Settings, embeddings: NamedEmbeddings | None = None) -> None:
        self.settings = settings
        self._embeddings = embeddings
        self.manifest = Manifest.load(settings.corpus_dir / "manifest.yaml")
        self.chunker = Chunker(settings.chunk_size, settings.chunk_overlap)
        self.lexical = LexicalIndex(settings.lexical_path)

    @cached_property
    def client(self) -> ClientAPI:
        """Connected on first use: planning and keyword records need no Chroma server."""
        return chroma_client(self.settings)

    @property
    def embeddings(self) -> NamedEmbeddings:
        """The configured embedder, taking the vectors it can from the shipped cache."""
        if self._embeddings is None:
            embeddings = make_embeddings(
                self.settings.embedder, batch_size=self.settings.embed_batch_size
            )
            self._embeddings = with_cache(embeddings, self.settings.vector_cache)
        return self._embeddings

    @property
    def embedder_name(self) -> str:
        return self._embeddings.name if self._embeddings else embedder_name(self.settings.embedder)

    def chunks_of(
        self,
        file: SourceFile,
        metadata: Mapping[str, str] | None = None,
        *,
        defaults: Mapping[str, str] | None = None,
    ) -> tuple[list[str], list[Document]]:
        """The chunk ids and chunks of ``file``. ``metadata``'s non-empty values replace
        what the file and the manifest say (an uploaded guide's form fields); ``defaults``
        fill what all three leave empty."""
        docs = with_fields(load_source(file, self.manifest), metadata, defaults)
        return chunked(file, docs, self.chunker)

    def dense_ids(self) -> dict[Key, set[str]]:
        """All ids in Chroma, grouped by (root, source)."""
        collection = existing_collection(self.client, self.settings.collection)
        grouped: dict[Key, set[str]] = {}
        if collection is None:
            return grouped
        offset = 0
        while True:
            page = collection.get(include=[], limit=_PAGE, offset=offset)["ids"]
            for id_ in page:
                grouped.setdefault(parse_chunk_id(id_)[:2], set()).add(id_)
            if len(page) < _PAGE:
                return grouped
            offset += _PAGE

    # ------------------------------------------------------------ the three steps

    def plan(self, roots: Sequence[Path], *, show: bool = False) -> Plan:
        plan = Plan()
        files: list[SourceFile] = []
        for root in roots:
            if not root.exists():
                plan.failed.append(Failure(str(root), "no such file or folder"))
                continue
            plan.scope.add(root_label(root, self.settings.corpus_dir))
            files += discover(root, self.settings.corpus_dir, self.manifest)
        for file in tqdm(files, desc="Reading", unit="file", disable=not show, leave=False):
            try:
                plan.chunks[(file.root, file.source)] = self.chunks_of(file)
            except LoadError as exc:
                plan.failed.append(Failure(str(file.path), exc.reason))
                log.warning("skipped %s: %s", file.path, exc.reason)
        return plan

    def sync_lexical(self, plan: Plan) -> int:
        upserts, deletes = plan.delta(self.lexical.stored_ids())
        return self.lexical.apply(((i, d.page_content, d.metadata) for i, d in upserts), deletes)

    def sync_dense(
        self,
        plan: Plan,
        *,
        show: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
        stop: Callable[[], bool] | None = None,
        batch_size: int | None = None,
    ) -> tuple[int, int]:
        """Embed what Chroma lacks, then delete what is stale; returns (added, deleted).
        ``stop`` is asked before each batch (of ``batch_size``, else the setting's): once
        it says so, the run ends there, deleting nothing; the next run does the rest."""
        check_collection(self.client, self.settings.collection, self.embedder_name, create=True)
        upserts, deletes = plan.delta(self.dense_ids())
        # Batches of similar lengths pad less in the transformer: sorting is free speed.
        upserts.sort(key=lambda item: len(item[1].page_content))
        total = len(upserts)
        if on_progress:
            on_progress(0, total)
        if upserts:
            store = vector_store(self.client, self.settings.collection, self.embeddings)
            step = batch_size or self.settings.ingest_batch_size
            with tqdm(total=total, desc="Embedding", unit="chunk", disable=not show) as bar:
                for start in range(0, total, step):
                    if stop is not None and stop():
                        log.info("embedding stopped at %d/%d chunks", start, total)
                        return start, 0
                    batch = upserts[start : start + step]
                    store.add_documents([d for _, d in batch], ids=[i for i, _ in batch])
                    done = start + len(batch)
                    bar.update(len(batch))
                    log.info("embedded %d/%d chunks", done, total)
                    if on_progress:
                        on_progress(done, total)
        if deletes:
            collection = self.client.get_collection(self.settings.collection)
            for start in range(0, len(deletes), _PAGE):
                collection.delete(ids=deletes[start : start + _PAGE])
        return total, len(deletes)

    def write_vectors(self, plan: Plan) -> list[Path]:
        """Write the embedding cache of ``plan``'s texts (``make vectors``)."""
        folder = self.settings.vector_cache
        if folder is None:
            raise ValueError("no vector cache folder is configured (ASSISTANT_VECTOR_CACHE)")
        return write_cache(folder, self.embeddings, self.cacheable_texts(plan))

    @staticmethod
    def cacheable_texts(plan: Plan) -> list[str]:
        """Every chunk in ``plan``, and the HS lookup's nomenclature paths it holds."""
        from assistant.hs import nomenclature_texts

        chunks = [d for _, docs in plan.chunks.values() for d in docs]
        texts = [d.page_content for d in chunks]
        return texts + nomenclature_texts((d.page_content, d.metadata) for d in chunks)

    def reset(self) -> None:
        """Drop both indexes (``--rebuild``)."""
        if existing_collection(self.client, self.settings.collection):
            self.client.delete_collection(self.settings.collection)
        self.lexical.clear()

    # ------------------------------------------------------------ a whole run

    def run(
        self,
        roots: Sequence[Path],
        *,
        rebuild: bool = False,
        dry_run: bool = False,
        progress: bool | None = None,
    ) -> IngestReport:
        started = time.perf_counter()
        show = sys.stderr.isatty() if progress is None else progress
        report = IngestReport(dry_run=dry_run)
        if not dry_run:
            (self.settings.data_dir / COMPLETE_STAMP).unlink(missing_ok=True)
            # Fail on a mismatched embedder before spending any time.
            if rebuild:
                self.reset()
            check_collection(self.client, self.settings.collection, self.embedder_name, create=True)

        plan = self.plan(roots, show=show)
        report.failed = plan.failed
        dense = {} if rebuild and dry_run else self.dense_ids()
        lexical = {} if rebuild and dry_run else self.lexical.stored_ids()
        for key, (ids, _) in plan.chunks.items():
            wanted = set(ids)
            report.chunks_total += len(ids)
            if dense.get(key) == wanted and lexical.get(key) == wanted:
                report.unchanged += 1
            elif key in dense or key in lexical:
                report.updated += 1
            else:
                report.added += 1
        report.removed = sum(
            1
            for key in set(dense) | set(lexical)
            if key[0] in plan.scope and key not in plan.chunks
        )
        upserts, deletes = plan.delta(dense)
        report.chunks_added, report.chunks_deleted = len(upserts), len(deletes)
        log.info("ingest plan: %d files, %d chunks to embed", len(plan.chunks), len(upserts))

        if not dry_run:
            self.sync_lexical(plan)
            self.sync_dense(plan, show=show)
        report.seconds = time.perf_counter() - started
        return report
