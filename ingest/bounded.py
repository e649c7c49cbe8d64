"""Reading a file whose work must stay bounded (an uploaded guide), in a worker process.

A few kilobytes can cost minutes and gigabytes: a PDF whose pages share one compressed
stream of a million drawing operators, a DOCX whose 31 KB unpack into 20 MB of XML, a
text of 19 MB that becomes 50,000 chunks. So the bytes are not the only bound:

- before parsing: a PDF's pages, and the bytes its page contents (or a DOCX's parts)
  unpack to;
- after reading: the characters of text; after chunking: the chunks;
- all along: a time budget and a memory budget, in a worker process (forked from a
  small server process that has the loaders imported) that is killed when it runs out
  of time, and that the operating system stops when it asks for more memory.

Each bound refused raises ``LoadError`` with a reason a person can act on.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import resource
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from langchain_core.documents import Document

from ingest.chunking import Chunker
from ingest.documents import SourceFile, load_source
from ingest.index import chunked, with_fields
from ingest.loaders import LoadError
from ingest.manifest import Manifest

__all__ = ["ReadLimits", "read_bounded", "start_readers"]

_MIB = 2**20


@dataclass(frozen=True)
class ReadLimits:
    max_pages: int
    max_unpacked_bytes: int
    max_chars: int
    max_chunks: int
    seconds: float
    memory_mb: int


@dataclass(frozen=True)
class _Job:
    file: SourceFile
    manifest: Manifest
    chunk_size: int
    chunk_overlap: int
    metadata: Mapping[str, str]
    defaults: Mapping[str, str]
    limits: ReadLimits


def read_bounded(
    file: SourceFile,
    manifest: Manifest,
    chunker: Chunker,
    limits: ReadLimits,
    *,
    metadata: Mapping[str, str] | None = None,
    defaults: Mapping[str, str] | None = None,
) -> tuple[list[str], list[Document]]:
    """``file``'s chunk ids and chunks, as ``Indexer.chunks_of`` makes them, read in a
    worker within ``limits`` (``LoadError`` past any of them)."""
    job = _Job(
        file,
        manifest,
        chunker.chunk_size,
        chunker.chunk_overlap,
        dict(metadata or {}),
        dict(defaults or {}),
        limits,
    )
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_work, args=(sender, job), name="read-upload", daemon=True)
    worker.start()
    sender.close()
    try:
        if not receiver.poll(limits.seconds):
            raise LoadError(
                file.path, f"took longer than {limits.seconds:g} s to read (a hostile file?)"
            )
        outcome, value = receiver.recv()
    except EOFError:  # the worker died without a word (a parser's crash)
        outcome, value = "error", "its reader stopped unexpectedly"
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join()
        receiver.close()
    if outcome == "error":
        raise LoadError(file.path, value)
    return value


def start_readers() -> None:
    """Start the server process readers are forked from, so that the first upload does
    not wait for it (seconds on a busy machine); ``read_bounded`` starts it otherwise."""
    _context()
    multiprocessing.forkserver.ensure_running()


_CONTEXT: multiprocessing.context.ForkServerContext | None = None


def _context() -> multiprocessing.context.ForkServerContext:
    """Workers are forked from a server process that imported the loaders and little
    else (``ingest.reader_warmup``): quick to start, without the app's threads and models."""
    global _CONTEXT
    if _CONTEXT is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["ingest.reader_warmup"])
        _CONTEXT = context
    return _CONTEXT


def _work(sender: Connection, job: _Job) -> None:
    """In the worker: read, check, chunk, and send ("ok", result) or ("error", reason)."""
    budget = job.limits.memory_mb * _MIB
    start = _limit_memory(budget)
    try:
        sender.send(("ok", _read(job)))
    except Exception as exc:  # out of memory (libxml2 says "unknown error"), or not text
        if isinstance(exc, MemoryError) or _peak_memory() > start + budget * 3 // 4:
            reason = f"could not be read within {job.limits.memory_mb} MiB of memory"
        elif isinstance(exc, LoadError):
            reason = exc.reason
        else:  # a parser's bug on hostile input
            reason = f"could not parse ({type(exc).__name__}: {exc})"
        sender.send(("error", reason))
    finally:
        sender.close()


def _limit_memory(budget: int) -> int:
    """At most ``budget`` bytes more address space than the worker has at its start
    (which it returns)."""
    with open("/proc/self/statm") as statm:
        start = int(statm.read().split()[0]) * resource.getpagesize()
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = start + budget
    resource.setrlimit(resource.RLIMIT_AS, (min(wanted, hard) if hard > 0 else wanted, hard))
    return start


def _peak_memory() -> int:
    """The most address space the worker has held (VmPeak), in bytes."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmPeak:"))


def _read(job: _Job) -> tuple[list[str], list[Document]]:
    limits, path = job.limits, job.file.path
    _check_unpacked(path, limits)
    docs = load_source(job.file, job.manifest)
    chars = sum(len(doc.page_content) for doc in docs)
    if chars > limits.max_chars:
        raise LoadError(
            path, f"{chars:,} characters of text; a guide may hold {limits.max_chars:,}"
        )
    ids, chunks = chunked(
        job.file,
        with_fields(docs, job.metadata, job.defaults),
        Chunker(job.chunk_size, job.chunk_overlap),
    )
    if len(chunks) > limits.max_chunks:
        raise LoadError(path, f"{len(chunks):,} passages; a guide may have {limits.max_chunks:,}")
    return ids, chunks


def _check_unpacked(path: Path, limits: ReadLimits) -> None:
    """A PDF's pages and the bytes its pages' contents unpack to (a stream drawn by
    several pages counts for each: each page's text is read from it), a DOCX's parts."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        pages = _pdf_pages(path, limits)
        if pages > limits.max_pages:
            raise LoadError(path, f"{pages:,} pages; a guide may have {limits.max_pages:,}")
    elif suffix == ".docx":
        try:
            with zipfile.ZipFile(path) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, OSError):
            return  # the loader says what is wrong with it
        _check_size(path, unpacked, limits, "its parts unpack")


def _check_size(path: Path, unpacked: int, limits: ReadLimits, what: str) -> None:
    if unpacked > limits.max_unpacked_bytes:
        raise LoadError(
            path,
            f"{what} to {unpacked / _MIB:,.1f} MiB; the limit is "
            f"{limits.max_unpacked_bytes / _MIB:,.1f} MiB",
        )


def _pdf_pages(path: Path, limits: ReadLimits) -> int:
    """The PDF's page count, once its pages' contents are known to unpack within
    bounds; 0 when pypdf cannot read it (the loader then says why)."""
    from pypdf import PdfReader
    from pypdf.generic import ArrayObject

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            return 0  # the loader says so
        pages = len(reader.pages)
        if pages > limits.max_pages:
            return pages
        unpacked = 0
        for page in reader.pages:
            contents = page.get("/Contents")
            contents = contents.get_object() if contents is not None else None
            streams = contents if isinstance(contents, ArrayObject) else [contents]
            for stream in streams:
                if stream is not None:
                    unpacked += len(stream.get_object().get_data())
            _check_size(path, unpacked, limits, "its pages' contents unpack")
    except LoadError:
        raise
    except Exception:  # broken or odd: the loader reports it, within the same bounds
        return 0
    return pages
