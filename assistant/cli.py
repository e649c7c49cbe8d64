"""``python -m assistant``: ask questions, measure answers, or serve the chat."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Annotated

import typer

from assistant.settings import Settings

app = typer.Typer(add_completion=False, help=__doc__, no_args_is_help=True)


def _open(settings: Settings):
    from assistant.pipeline import Assistant
    from assistant.store import EmbedderMismatch, IndexMissing

    try:
        return Assistant.open(settings)
    except (IndexMissing, EmbedderMismatch) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def render(answer) -> str:
    """An answer as plain text: the answer, its notices, then the numbered sources."""
    from assistant import source_list

    lines = [answer.text]
    lines += [f"\nNote: {notice}" for notice in answer.notices]
    if answer.citations:
        lines.append("\nSources:")
        for c in answer.citations:
            about = f"{c.publisher} · {c.date or 'undated'} · {c.url or c.source}"
            lines.append(source_list.entry(c, [about], indent="    "))
    return "\n".join(lines)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in any language.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Answer a question from the indexed sources, with citations (or an honest refusal)."""
    answer = _open(Settings()).answer(question)
    if as_json:
        typer.echo(json.dumps(answer.as_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(render(answer))


@app.command("eval")
def evaluate(
    questions: Annotated[Path, typer.Argument(help="A JSONL file in the dev.jsonl format.")],
    out: Annotated[Path | None, typer.Option(help="Write one JSON line per item here.")] = None,
    half: Annotated[
        str | None,
        typer.Option(
            help="Answer only this fixed half of the set, 'tune' or 'confirm' "
            "(split by a hash of each id)."
        ),
    ] = None,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline",
            help="Also answer with a naive LangChain vector top-5 on the same Chroma "
            "collection, side by side.",
        ),
    ] = False,
) -> None:
    """Answer every question (refusal threshold off) and print, per language and per half
    (tune / confirm): retrieval, the fact in the answer, refusals, confidence and latency
    at the configured threshold; then the risk–coverage trade-off at every threshold and
    the confidence's reliability."""
    from assistant.evaluation import (
        HALVES,
        breakdown,
        format_table,
        load_items,
        naive_answer,
        reliability,
        retrieval_query,
        risk_coverage,
        run_eval,
    )

    if half not in (None, *HALVES):
        raise typer.BadParameter(f"'{half}' is not one of {', '.join(HALVES)}", param_hint="--half")
    items = [i for i in load_items(questions) if half in (None, i.half)]
    settings = Settings()
    threshold = settings.refusal_threshold
    # Every answer made, whatever its confidence: the threshold is applied afterwards.
    assistant = _open(settings.model_copy(update={"refusal_threshold": float("-inf")}))

    def ask(item):
        return assistant.answer(item.question, item.turns)

    results = run_eval(items, ask)
    if out:
        out.write_text(
            "".join(json.dumps(r.as_json(), ensure_ascii=False) + "\n" for r in results),
            encoding="utf-8",
        )
    halves = [half] if half else ["all", *HALVES]
    systems = {"ours": breakdown(results, halves, threshold)}
    if baseline:
        store = assistant.retriever.store
        naive = run_eval(
            items, lambda item: naive_answer(store, retrieval_query(item), item.lang, k=5)
        )
        systems["naive"] = breakdown(naive, halves)
    typer.echo(f"at the refusal threshold {threshold} (ASSISTANT_REFUSAL_THRESHOLD):")
    typer.echo(format_table(systems))
    typer.echo("\nrisk–coverage (the answer refused below each confidence threshold):")
    typer.echo(risk_coverage(results))
    typer.echo("\nreliability of the confidence:")
    typer.echo(reliability(results))


class RedactSecrets(logging.Filter):
    """Masks the verify token in the access log: Meta sends it in the query string of
    the webhook handshake (GET /whatsapp/webhook?hub.verify_token=…), which uvicorn logs."""

    _TOKEN = re.compile(r"(hub\.verify_token=)[^&\s\"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._TOKEN.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def _log_config() -> dict:
    """Uvicorn's logging, plus our loggers (start-up indexing progress) on the same handler,
    and no secret in the access log."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"secrets": {"()": RedactSecrets}}
    config["loggers"]["uvicorn.access"]["filters"] = ["secrets"]
    config["loggers"]["assistant"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    config["loggers"]["ingest"] = {"handlers": ["default"], "level": "WARNING", "propagate": False}
    config["loggers"]["ingest.background"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return config


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [ASSISTANT_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [ASSISTANT_PORT].")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Server processes [ASSISTANT_WORKERS].")
    ] = None,
) -> None:
    """Serve the chat page, the API (/openapi.json) and the widget. The index of the corpus is
    brought up to date at start-up: keyword search within seconds, vectors in the
    background (progress in the log, on /readyz and on the page)."""
    import uvicorn

    settings = Settings()
    workers = workers or settings.workers
    if workers > 1 and not settings.chroma_url:
        # A process cannot read vectors another process wrote to an embedded Chroma.
        typer.echo(
            "error: several workers need a Chroma server: start one with `chroma run --path "
            "var/chroma` and set ASSISTANT_CHROMA_URL (e.g. http://localhost:8000).",
            err=True,
        )
        raise typer.Exit(2)
    if workers > 1 and not settings.rate_limit_storage_url:
        typer.echo(
            "note: each worker counts rate limits on its own; set "
            "ASSISTANT_RATE_LIMIT_STORAGE_URL to a Redis server to share them.",
            err=True,
        )
    from assistant.api.protocol import uvicorn_options

    uvicorn.run(
        "assistant.api:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=_log_config(),
        **uvicorn_options(settings),  # connection limits and timeouts
    )
