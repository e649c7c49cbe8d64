"""Guides uploaded by help-desk staff: files under ``data_dir/uploads``, rows in the
database, and a thread that indexes them with the corpus's own resume logic.

An upload is checked in the request (type, size, count, duplicate; then loaded and
chunked like any corpus file, in a worker with bounds on its pages, unpacked bytes,
characters, passages, time and memory, ``ingest.bounded``, so that a corrupt or hostile
file is refused with its reason) and stored: its file first
(``uploads/<id>/<version>/<name>``), then its row and the audit entry, in one
transaction. Only the storing holds the lock: a slow file delays no one else's upload.

The thread then brings the ``uploads`` root of both indexes in line with the rows, as
``ingest`` does for a folder: each run plans every current upload (with the chunks its
upload read), writes the BM25 records that differ (keyword search at once) and, once
the vector index is up, embeds what Chroma lacks, stopping between batches when a guide
was added, changed or deleted meanwhile (the next run starts from the new list). A crash
at any point leaves rows and indexes that the next run's comparison repairs; a deleted
or replaced guide's old chunks go because they are no longer planned.

    queued -> searchable (keywords) -> ready (vectors too);  failed: ``reason`` says why
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import re
import shutil
import threading
import time
import uuid
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from sqlalchemy import JSON, Integer, String, Text, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from assistant.conversations import Base, UTCDateTime, create_tables, utc_now
from assistant.embeddings import NamedEmbeddings
from assistant.settings import Settings
from ingest.bounded import ReadLimits, read_bounded, start_readers
from ingest.documents import UPLOADS_ROOT, SourceFile
from ingest.index import Indexer, Plan, index_locks
from ingest.loaders import SUPPORTED_SUFFIXES, LoadError
from ingest.structure import visible

__all__ = [
    "ROOT",
    "AuditRecord",
    "GuideFields",
    "Rejected",
    "UploadError",
    "UploadIndexer",
    "UploadRecord",
    "UploadRun",
    "Uploads",
]

log = logging.getLogger(__name__)

ROOT = UPLOADS_ROOT  # the root label of uploaded guides' chunks, beside "corpus"
_COPY_STEP = 1 << 16
_ABANDONED = dt.timedelta(minutes=10)  # then a file without its row was left by a crash
_UNSAFE = re.compile(r"[^\w.-]+")


class UploadRecord(Base):
    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    filename: Mapped[str] = mapped_column(String(255), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    # What staff typed (applied over the file's own metadata) and the upload's day (the
    # date of a guide that gives none): both needed to rebuild the same chunk ids.
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    uploaded_on: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(Text, default="")
    date: Mapped[str] = mapped_column(String(64), default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)

    @property
    def source(self) -> str:
        """What citations show and ``/api/sources/`` opens."""
        return f"{ROOT}/{self.id}/{self.filename}"


class AuditRecord(Base):
    """Who (a key's name, never the key) uploaded, replaced or deleted which guide, when."""

    __tablename__ = "helpdesk_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    key_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # upload | replace | delete
    document_id: Mapped[str] = mapped_column(String(32), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer)


_TABLES = [UploadRecord.__table__, AuditRecord.__table__]
# What a new version changes (the id, its first upload and uploader stay).
_VERSION_COLUMNS = (
    "filename",
    "version",
    "sha256",
    "size",
    "fields",
    "uploaded_on",
    "title",
    "date",
    "language",
    "status",
    "chunks",
    "updated_by",
    "updated_at",
)


@dataclass(frozen=True)
class GuideFields:
    """What staff may say about a guide; empty values leave the file's own."""

    title: str = ""
    publisher: str = ""
    licence: str = ""
    date: str = ""
    jurisdiction: str = ""
    language: str = ""
    topics: str = ""  # comma-separated, as the chunks keep them

    def as_dict(self) -> dict[str, str]:
        """The non-empty fields, on one line each, control and bidi-override characters
        shown as U+FFFD (``visible``)."""
        values = {key: " ".join(visible(str(value)).split()) for key, value in vars(self).items()}
        values["topics"] = ",".join(t.strip() for t in self.topics.split(",") if t.strip())
        return {key: value for key, value in values.items() if value}


class UploadError(Exception):
    """An upload refused as a whole; ``status`` and ``code`` for the HTTP answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Rejected:
    filename: str
    reason: str


@dataclass
class _Staged:
    """A file received, on disk, with what its check found."""

    name: str
    path: Path
    size: int
    sha256: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    version: int = 1
    title: str = ""
    date: str = ""
    language: str = ""
    loaded: tuple[list[str], list] = ((), ())  # chunk ids and chunks, as read

    @property
    def chunks(self) -> int:
        return len(self.loaded[0])


@dataclass
class _Batch:
    staged: list[_Staged] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def safe_name(name: str) -> str:
    """A file name with no folder, nothing hidden and no characters a path or a chunk id
    could trip on ("../x.pdf" -> "x.pdf", "Guide 2026 (v2).pdf" -> "Guide-2026-v2-.pdf")."""
    base = PurePosixPath(name.replace("\\", "/")).name
    return _UNSAFE.sub("-", base).lstrip(".-")[:200] or "guide"


def _hidden(info: zipfile.ZipInfo) -> bool:
    """A ZIP member that is no one's guide: dot files, macOS's resource forks."""
    parts = info.filename.replace("\\", "/").split("/")
    return any(p.startswith((".", "__MACOSX")) and p not in (".", "..") for p in parts)


def _copy_limited(source: BinaryIO, target: Path, limit: int) -> tuple[int, str] | None:
    """Copy at most ``limit`` bytes; (size, SHA-256), or None when there was more."""
    digest, size = hashlib.sha256(), 0
    with target.open("wb") as out:
        while chunk := source.read(_COPY_STEP):
            size += len(chunk)
            if size > limit:
                return None
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


class Uploads:
    """Every read and write of uploaded guides: their files, rows and audit trail."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.folder = settings.data_dir / ROOT
        self._staging = self.folder / ".staging"
        create_tables(engine, tables=_TABLES)
        self.indexer = Indexer(settings)  # chunks and writes BM25 records (no embedder)
        self.limits = ReadLimits(
            max_pages=settings.upload_max_pages,
            max_unpacked_bytes=settings.upload_max_unpacked_bytes,
            max_chars=settings.upload_max_chars,
            max_chunks=settings.upload_max_chunks,
            seconds=settings.upload_read_seconds,
            memory_mb=settings.upload_read_memory_mb,
        )
        self._lock = threading.Lock()  # one final check-then-store at a time in this process
        # (id, version) -> its chunk ids and chunks as the upload's check read them, for
        # the indexer (read once, not twice).
        self._read: dict[tuple[str, int], tuple[list[str], list]] = {}
        self.on_change: Callable[[], None] = lambda: None

    # ------------------------------------------------------------ reading

    def all(self) -> list[UploadRecord]:
        """The uploaded guides, newest first."""
        with Session(self.engine, expire_on_commit=False) as session:
            query = select(UploadRecord).order_by(UploadRecord.updated_at.desc())
            return list(session.scalars(query))

    def get(self, document_id: str) -> UploadRecord | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(UploadRecord, document_id)

    def audit(self, limit: int) -> list[AuditRecord]:
        """The latest changes, newest first."""
        with Session(self.engine, expire_on_commit=False) as session:
            query = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit)
            return list(session.scalars(query))

    def path_of(self, row: UploadRecord) -> Path:
        return self.folder / row.id / str(row.version) / row.filename

    def chunks_of(self, row: UploadRecord) -> tuple[list[str], list]:
        """The chunk ids and chunks of the current version: as its upload read them, else
        read again within the bounds (raises ``LoadError``)."""
        with self._lock:
            read = self._read.pop((row.id, row.version), None)
        if read is not None:
            return read
        return self._read_bounded(
            SourceFile(ROOT, row.source, self.path_of(row)), row.fields, row.uploaded_on
        )

    def _read_bounded(
        self, file: SourceFile, fields: dict[str, str], day: str
    ) -> tuple[list[str], list]:
        return read_bounded(
            file,
            self.indexer.manifest,
            self.indexer.chunker,
            self.limits,
            metadata=_metadata(fields),
            defaults=_dated(day),
        )

    # ------------------------------------------------------------ writing

    def add(
        self, name: str, stream: BinaryIO, fields: GuideFields, key_name: str
    ) -> tuple[list[UploadRecord], list[Rejected]]:
        """Store a guide, or each guide of a ZIP; (stored, rejected with reasons). Raises
        ``UploadError`` when nothing can be stored."""
        with self._receiving() as staging:
            batch = self._receive(name, stream, staging, allow_zip=True)
            today = dt.date.today().isoformat()
            self._check_each(batch, self.all(), fields, today, replacing=None)
            with self._lock:  # what another upload stored meanwhile
                existing = self.all()
                self._drop_duplicates(batch, existing, replacing=None)
                if not batch.staged:
                    raise _refusal(batch.rejected)
                self._check_room(batch, existing, replacing=None)
                room = self.settings.upload_max_documents - len(existing)
                if len(batch.staged) > room:
                    raise UploadError(
                        422,
                        "too_many_documents",
                        f"{len(batch.staged)} more guides would pass the limit of "
                        f"{self.settings.upload_max_documents}; delete some first.",
                    )
                rows = [self._row(s, fields, today, key_name) for s in batch.staged]
                for staged, row in zip(batch.staged, rows, strict=True):
                    self._place(staged, row)
                try:
                    with Session(self.engine, expire_on_commit=False) as session, session.begin():
                        session.add_all(rows)
                        session.add_all(_audit("upload", row, key_name) for row in rows)
                except IntegrityError as exc:  # another process stored the same file
                    for row in rows:
                        shutil.rmtree(self.folder / row.id, ignore_errors=True)
                    raise UploadError(409, "duplicate", "That guide was just uploaded.") from exc
                self._read.update(((s.id, s.version), s.loaded) for s in batch.staged)
        self.on_change()
        return rows, batch.rejected

    def replace(
        self,
        document_id: str,
        name: str,
        stream: BinaryIO,
        fields: GuideFields,
        key_name: str,
    ) -> UploadRecord:
        """A new version of a guide: its old chunks go, citations show the new date. The
        fields given replace the previous ones; the date is the new file's unless given."""
        with self._receiving() as staging:
            batch = self._receive(name, stream, staging, allow_zip=False)
            today = dt.date.today().isoformat()
            row = self.get(document_id)
            if row is None:
                raise _not_found(document_id)
            kept = {k: v for k, v in row.fields.items() if k != "date"}
            merged = GuideFields(**{**kept, **fields.as_dict()})
            for staged in batch.staged:
                staged.id, staged.version = row.id, row.version + 1
            self._check_each(batch, self.all(), merged, today, replacing=row)
            with self._lock:  # what another upload stored meanwhile
                current = self.get(document_id)
                if current is None:
                    raise _not_found(document_id)
                if current.version != row.version:
                    raise UploadError(
                        409, "changed", "That guide was replaced meanwhile; look and try again."
                    )
                self._drop_duplicates(batch, self.all(), replacing=row)
                if not batch.staged:
                    raise _refusal(batch.rejected)
                self._check_room(batch, self.all(), replacing=row)
                staged = batch.staged[0]
                new = self._row(staged, merged, today, key_name)
                self._place(staged, new)
                old_version = self.folder / row.id / str(row.version)
                try:
                    with Session(self.engine, expire_on_commit=False) as session, session.begin():
                        current = session.get_one(UploadRecord, row.id)
                        for key in _VERSION_COLUMNS:
                            setattr(current, key, getattr(new, key))
                        current.reason = None
                        session.add(_audit("replace", current, key_name))
                    row = current
                except IntegrityError as exc:
                    shutil.rmtree(self.folder / new.id / str(new.version), ignore_errors=True)
                    raise UploadError(409, "duplicate", "That file was just uploaded.") from exc
                shutil.rmtree(old_version, ignore_errors=True)
                self._forget(row.id)
                self._read[(staged.id, staged.version)] = staged.loaded
        self.on_change()
        return row

    def remove(self, document_id: str, key_name: str) -> UploadRecord:
        """Delete a guide: its row now, its file and chunks right after."""
        with self._lock:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                row = session.get(UploadRecord, document_id)
                if row is None:
                    raise _not_found(document_id)
                session.add(_audit("delete", row, key_name))
                session.delete(row)
            shutil.rmtree(self.folder / document_id, ignore_errors=True)
            self._forget(document_id)
        self.on_change()
        return row

    def _forget(self, document_id: str) -> None:
        """Drop what an upload read of a guide that is gone or replaced (the lock held)."""
        self._read = {key: read for key, read in self._read.items() if key[0] != document_id}

    def set_status(
        self, row: UploadRecord, status: str, *, chunks: int = 0, reason: str | None = None
    ) -> None:
        """Record what indexing did with ``row``'s version (a newer one is left alone)."""
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(UploadRecord)
                .where(UploadRecord.id == row.id, UploadRecord.version == row.version)
                .values(status=status, chunks=chunks, reason=reason)
            )

    def drop_orphans(self) -> None:
        """Remove what a crash left: files half-received, and files no row points to
        (between a file and its row). Only old ones: another server process may be
        storing a guide right now."""
        if not self.folder.is_dir():
            return
        for received in _abandoned(self._staging):
            shutil.rmtree(received, ignore_errors=True)
        kept = {(row.id, str(row.version)) for row in self.all()}
        for folder in self.folder.iterdir():
            if folder == self._staging or not folder.is_dir():
                continue
            for version in _abandoned(folder):
                if (folder.name, version.name) not in kept:
                    shutil.rmtree(version, ignore_errors=True)
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty

    # ------------------------------------------------------------ the steps of a change

    @contextlib.contextmanager
    def _receiving(self) -> Iterator[Path]:
        staging = self._staging / uuid.uuid4().hex
        staging.mkdir(parents=True)
        try:
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _receive(self, name: str, stream: BinaryIO, staging: Path, *, allow_zip: bool) -> _Batch:
        """The file on disk, or each file of a ZIP; refused types and sizes are errors."""
        limit = self.settings.upload_max_bytes
        suffix = PurePosixPath(name).suffix.lower()
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES | ({".zip"} if allow_zip else set())))
        if suffix not in SUPPORTED_SUFFIXES and not (allow_zip and suffix == ".zip"):
            raise UploadError(
                415,
                "unsupported_type",
                f"'{suffix or name}' files cannot be indexed; send one of: {kinds}.",
            )
        path = staging / "received" / safe_name(name)
        path.parent.mkdir()
        copied = _copy_limited(stream, path, limit)
        if copied is None:
            raise UploadError(413, "file_too_large", f"The file is larger than {limit} bytes.")
        if suffix != ".zip":
            return _Batch([_Staged(path.name, path, *copied)])
        return self._unzip(path, staging)

    def _unzip(self, path: Path, staging: Path) -> _Batch:
        limit, most = self.settings.upload_max_bytes, self.settings.upload_max_files
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise UploadError(422, "unreadable_file", f"Not a readable ZIP ({exc}).") from exc
        batch = _Batch()
        with archive:
            members = [
                info for info in archive.infolist() if not info.is_dir() and not _hidden(info)
            ]
            if not members:
                raise UploadError(422, "unreadable_file", "The ZIP holds no files.")
            if len(members) > most:
                raise UploadError(
                    422,
                    "too_many_files",
                    f"The ZIP holds {len(members)} files; the limit is {most}.",
                )
            for n, info in enumerate(members):
                name = safe_name(info.filename)
                if PurePosixPath(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                    batch.rejected.append(Rejected(name, "unsupported file type"))
                    continue
                target = staging / str(n) / name  # the file's own name: its title
                target.parent.mkdir()
                try:
                    with archive.open(info) as member:
                        copied = _copy_limited(member, target, limit)
                except Exception as exc:
                    # A bad CRC, a password, an unknown compression method, zlib's or
                    # lzma's own errors on a hostile stream: this file only.
                    batch.rejected.append(Rejected(name, f"unreadable in the ZIP ({exc})"))
                    continue
                if copied is None:
                    batch.rejected.append(Rejected(name, f"larger than {limit} bytes"))
                    continue
                batch.staged.append(_Staged(name, target, *copied))
        return batch

    def _check_each(
        self,
        batch: _Batch,
        existing: list[UploadRecord],
        fields: GuideFields,
        today: str,
        *,
        replacing: UploadRecord | None,
    ) -> None:
        """Keep the staged files that are new and read as text within the bounds; reject
        the others (no lock held: reading may take the whole time budget)."""
        self._drop_duplicates(batch, existing, replacing=replacing)
        kept: list[_Staged] = []
        for staged in batch.staged:
            try:
                self._load(staged, fields, today)
            except LoadError as exc:
                batch.rejected.append(Rejected(staged.name, exc.reason))
                continue
            kept.append(staged)
        batch.staged = kept

    @staticmethod
    def _drop_duplicates(
        batch: _Batch, existing: list[UploadRecord], *, replacing: UploadRecord | None
    ) -> None:
        """Reject the staged files already uploaded (same content or same name), or
        twice in the batch."""
        others = [row for row in existing if replacing is None or row.id != replacing.id]
        names = {row.filename.lower(): row for row in others}
        digests = {row.sha256: row for row in existing}
        kept: list[_Staged] = []
        for staged in batch.staged:
            same = digests.get(staged.sha256) or names.get(staged.name.lower())
            if same is not None:
                itself = replacing is not None and same.id == replacing.id
                what = "this version" if itself else f"'{same.title or same.filename}'"
                hint = "" if itself else "; replace it instead"
                batch.rejected.append(Rejected(staged.name, f"already uploaded as {what}{hint}"))
                continue
            digests[staged.sha256] = UploadRecord(filename=staged.name, title=staged.name)
            names[staged.name.lower()] = digests[staged.sha256]
            kept.append(staged)
        batch.staged = kept

    def _check_room(
        self, batch: _Batch, existing: list[UploadRecord], *, replacing: UploadRecord | None
    ) -> None:
        """Refuse what would pass the passages all guides may hold together."""
        limit = self.settings.upload_max_total_chunks
        held = sum(row.chunks for row in existing if replacing is None or row.id != replacing.id)
        adding = sum(staged.chunks for staged in batch.staged)
        if held + adding > limit:
            raise UploadError(
                422,
                "too_many_passages",
                f"These guides make {adding:,} passages; with the {held:,} of the guides "
                f"uploaded they would pass the limit of {limit:,}; delete some first.",
            )

    def _load(self, staged: _Staged, fields: GuideFields, today: str) -> None:
        """Load and chunk as the index will (within the bounds), to refuse what it could
        not use; the chunks are kept for the indexer."""
        file = SourceFile(ROOT, f"{ROOT}/{staged.id}/{staged.name}", staged.path)
        staged.loaded = self._read_bounded(file, fields.as_dict(), today)
        meta = staged.loaded[1][0].metadata
        staged.title, staged.date = str(meta.get("title", "")), str(meta.get("date", ""))
        staged.language = str(meta.get("language", ""))[:8]

    def _row(self, staged: _Staged, fields: GuideFields, today: str, key: str) -> UploadRecord:
        return UploadRecord(
            id=staged.id,
            filename=staged.name,
            version=staged.version,
            sha256=staged.sha256,
            size=staged.size,
            fields=fields.as_dict(),
            uploaded_on=today,
            title=staged.title,
            date=staged.date,
            language=staged.language,
            status="queued",
            chunks=staged.chunks,
            added_by=key,
            added_at=utc_now(),
            updated_by=key,
            updated_at=utc_now(),
        )

    def _place(self, staged: _Staged, row: UploadRecord) -> None:
        target = self.path_of(row)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged.path.replace(target)


def _abandoned(folder: Path) -> list[Path]:
    """The entries of ``folder`` untouched for ``_ABANDONED``."""
    if not folder.is_dir():
        return []
    before = time.time() - _ABANDONED.total_seconds()
    return [entry for entry in folder.iterdir() if entry.stat().st_mtime < before]


def _metadata(fields: dict[str, str]) -> dict[str, str]:
    """The chunks' metadata from staff's fields: a desk's own guidance."""
    return {**fields, "kind": "guidance"}


def _dated(day: str) -> dict[str, str]:
    """A guide that gives no date of its own is dated by its upload."""
    return {"date": day}


def _audit(action: str, row: UploadRecord, key_name: str) -> AuditRecord:
    return AuditRecord(
        key_name=key_name,
        action=action,
        document_id=row.id,
        filename=row.filename,
        title=row.title,
        version=row.version,
        at=utc_now(),
    )


def _not_found(document_id: str) -> UploadError:
    return UploadError(404, "document_not_found", f"No uploaded guide {document_id}.")


def _refusal(rejected: list[Rejected]) -> UploadError:
    """Nothing could be stored: the reasons, one per file."""
    reasons = "; ".join(f"{r.filename}: {r.reason}" for r in rejected)
    duplicate = all(r.reason.startswith("already uploaded") for r in rejected)
    if duplicate:
        return UploadError(409, "duplicate", reasons)
    return UploadError(422, "unreadable_file", reasons)


EMBED_BATCH = 64  # chunks embedded between two looks at whether the guides changed


@dataclass(frozen=True)
class UploadRun:
    """One run's vectors: passages planned, embedded by it, and whether it stopped
    because the guides changed meanwhile."""

    planned: int
    embedded: int
    stopped: bool


class UploadIndexer:
    """The thread that keeps the ``uploads`` root of both indexes in line with the rows:
    at start (repairing what a crash left), after every change, and once the vector
    index is up for what was only searchable by keywords until then."""

    def __init__(
        self,
        uploads: Uploads,
        embeddings: Callable[[], NamedEmbeddings | None],
        *,
        on_lexical: Callable[[], None] = lambda: None,
    ) -> None:
        """``embeddings``: the embedder once the vector index is up, else None;
        ``on_lexical``: called once the BM25 records are written (to rebuild the matrix
        here, rather than in the next question's request)."""
        self.uploads = uploads
        self.embeddings = embeddings
        self.on_lexical = on_lexical
        self._lexical_lock, self._dense_lock = index_locks(uploads.settings.data_dir)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uploads", daemon=True)
        self._dense: Indexer | None = None
        self._awaiting_vectors = False
        self._cache: dict[tuple[str, int], tuple[list[str], list]] = {}
        self.runs: deque[UploadRun] = deque(maxlen=20)  # what the latest runs embedded
        uploads.on_change = self._wake.set

    def start(self) -> None:
        self._wake.set()
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        if self.uploads.settings.helpdesk_api_keys:  # staff may upload: readers at hand
            start_readers()
        self.uploads.drop_orphans()
        while not self._stop.is_set():
            woken = self._wake.wait(1.0 if self._awaiting_vectors else None)
            if self._stop.is_set():
                return
            if not woken and self.embeddings() is None:
                continue
            self._wake.clear()
            try:
                self.sync()
            except Exception:  # the next change or start tries again
                log.exception("indexing the uploaded guides failed")

    def sync(self) -> None:
        """One run: plan every upload, write the BM25 records, then the vectors if the
        embedder is loaded."""
        rows = self.uploads.all()
        current = {(row.id, row.version) for row in rows}
        self._cache = {key: value for key, value in self._cache.items() if key in current}
        plan = Plan(scope={ROOT})
        for row in rows:
            try:
                plan.chunks[(ROOT, row.source)] = self._chunks(row)
            except LoadError as exc:
                self.uploads.set_status(row, "failed", reason=exc.reason)
        planned = [row for row in rows if (ROOT, row.source) in plan.chunks]
        with self._lexical_lock:
            changed = self.uploads.indexer.sync_lexical(plan)
        if changed:
            self.on_lexical()
        for row in planned:
            if row.status in ("queued", "failed"):
                self.uploads.set_status(row, "searchable", chunks=self._count(row))
        embeddings = self.embeddings()
        self._awaiting_vectors = embeddings is None
        if embeddings is None:
            return
        if self._dense is None:
            self._dense = Indexer(self.uploads.settings, embeddings)
        to_embed = sum(len(ids) for ids, _ in plan.chunks.values())
        with self._dense_lock:
            embedded, _ = self._dense.sync_dense(
                plan, stop=self._superseded, batch_size=EMBED_BATCH
            )
        if self._superseded():  # a guide came, changed or went: the next run has the list
            self.runs.append(UploadRun(to_embed, embedded, stopped=True))
            log.info("indexing the uploaded guides stopped: they changed meanwhile")
            return
        for row in planned:
            self.uploads.set_status(row, "ready", chunks=self._count(row))
        self.runs.append(UploadRun(to_embed, embedded, stopped=False))
        log.info("uploaded guides indexed: %d", len(planned))

    def _superseded(self) -> bool:
        """Whether this run's list of guides is out of date, or the server is stopping."""
        return self._wake.is_set() or self._stop.is_set()

    def _chunks(self, row: UploadRecord) -> tuple[list[str], list]:
        """Loaded once per version: a run re-plans every upload."""
        key = (row.id, row.version)
        if key not in self._cache:
            self._cache[key] = self.uploads.chunks_of(row)
        return self._cache[key]

    def _count(self, row: UploadRecord) -> int:
        return len(self._cache[(row.id, row.version)][0])
