"""``python -m ingest``: build or update the index from the corpus and your own folders."""

from __future__ import annotations

import errno
import json
import logging
import shutil
import sqlite3
from pathlib import Path
from typing import Annotated

import typer
from chromadb.errors import ChromaError

from assistant.settings import Settings
from assistant.store import EmbedderMismatch, chroma_reachable

app = typer.Typer(add_completion=False, help=__doc__)

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_FULL_WORDS = ("disk is full", "no space left", "file too large", "quota exceeded")
_NEARLY_FULL = 1 << 20  # bytes: Chroma's own errors do not always say why a write failed


def write_failure(exc: Exception, data_dir: Path) -> str:
    """One line on a failed write to the index, naming the cause when the disk is full."""
    try:
        free = shutil.disk_usage(data_dir).free
    except OSError:
        free = None
    full = (
        getattr(exc, "errno", None) in _FULL_ERRNOS
        or any(word in str(exc).lower() for word in _FULL_WORDS)
        or (free is not None and free < _NEARLY_FULL)
    )
    again = "run the same command again: it completes what this run wrote."
    if full:
        left = f"{free // 1024} KiB free" if free is not None else "its space unknown"
        return f"no space left on the disk of {data_dir} ({left}). Free some space, then {again}"
    return f"writing the index in {data_dir} failed: {exc}. Fix the cause, then {again}"


@app.command()
def main(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders to ingest (default: the shipped corpus/)."),
    ] = None,
    rebuild: Annotated[bool, typer.Option(help="Delete the whole index first.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Report what would change; write nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    write_vectors: Annotated[
        bool,
        typer.Option(
            help="Write the embedding cache of these files (ASSISTANT_VECTOR_CACHE) "
            "instead of indexing them; cached vectors still valid are reused."
        ),
    ] = False,
) -> None:
    """Embed documents into Chroma: unchanged files are skipped, changed ones replaced,
    removed ones deleted. Exit status 1 if any file failed, 2 if nothing could be done
    (or the index could not be written, e.g. the disk is full)."""
    from ingest.index import Indexer

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = Settings()
    roots = paths or [settings.corpus_dir]
    if write_vectors:
        indexer = Indexer(settings)
        plan = indexer.plan(roots, show=True)
        for path in indexer.write_vectors(plan):
            typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
        raise typer.Exit(1 if plan.failed else 0)
    try:
        report = Indexer(settings).run(roots, rebuild=rebuild, dry_run=dry_run)
    except EmbedderMismatch as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except Exception as exc:
        if settings.chroma_url and not chroma_reachable(settings):
            typer.echo(
                f"error: the Chroma server at {settings.chroma_url} does not answer: start it "
                "(chroma run --path …) or correct ASSISTANT_CHROMA_URL, then run the same "
                "command again.",
                err=True,
            )
            raise typer.Exit(2) from None
        if isinstance(exc, OSError | sqlite3.Error | ChromaError):  # a full disk, mostly
            typer.echo(f"error: {write_failure(exc, settings.data_dir)}", err=True)
            raise typer.Exit(2) from None
        raise
    except KeyboardInterrupt:
        # Everything written so far is consistent; the next run finishes the job.
        typer.echo("interrupted: run the same command again to finish", err=True)
        raise typer.Exit(130) from None

    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        verb = "would be " if dry_run else ""
        typer.echo(
            f"Documents {verb}added {report.added}, updated {report.updated}, "
            f"unchanged {report.unchanged}, removed {report.removed}, failed {len(report.failed)}; "
            f"chunks {report.chunks_total} ({report.chunks_added} embedded, "
            f"{report.chunks_deleted} deleted) in {report.seconds:.1f} s "
            f"({report.chunks_per_second:.1f} chunks/s)"
        )
        for failure in report.failed:
            typer.echo(f"  failed: {failure.path}: {failure.reason}", err=True)
    if report.failed:
        raise typer.Exit(1)
