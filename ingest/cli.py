"""``python -m ingest``: build or update the index from the corpus and your own folders."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from assistant.settings import Settings
from assistant.store import EmbedderMismatch

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders to ingest (default: the shipped corpus/)."),
    ] = None,
    rebuild: Annotated[bool, typer.Option(help="Delete the whole index first.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Report what would change; write nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Embed documents into Chroma: unchanged files are skipped, changed ones replaced,
    removed ones deleted. Exit status 1 if any file failed, 2 if nothing could be done."""
    from ingest.index import Indexer

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = Settings()
    roots = paths or [settings.corpus_dir]
    try:
        report = Indexer(settings).run(roots, rebuild=rebuild, dry_run=dry_run)
    except EmbedderMismatch as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
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
