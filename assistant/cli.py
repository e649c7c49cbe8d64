"""``python -m assistant``: ask questions and measure answers from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from assistant.settings import Settings

app = typer.Typer(add_completion=False, help=__doc__, no_args_is_help=True)


def _retriever(settings: Settings):
    from assistant.embeddings import make_embeddings
    from assistant.retrieval import Retriever
    from assistant.store import EmbedderMismatch, IndexMissing, chroma_client, vector_store

    try:
        embeddings = make_embeddings(settings.embedder, batch_size=settings.embed_batch_size)
        store = vector_store(chroma_client(settings), settings.collection, embeddings)
    except (IndexMissing, EmbedderMismatch) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    return Retriever(store)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in any language.")],
    k: Annotated[int, typer.Option(help="Passages to show.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the passages of the sources that best match a question, with their citations."""
    passages = _retriever(Settings()).search(question, k=k)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {"n": n, "score": p.score, "text": p.text, **p.metadata}
                    for n, p in enumerate(passages, 1)
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    for n, p in enumerate(passages, 1):
        m = p.metadata
        typer.echo(f"[{n}] {m.get('title')} — {m.get('section')}")
        typer.echo(
            f"    {m.get('source')} · {m.get('publisher')} · {m.get('date')} · {m.get('url')}"
        )
        typer.echo("    " + " ".join(p.text.split())[:400] + "\n")


@app.command("eval")
def evaluate(
    questions: Annotated[Path, typer.Argument(help="A JSONL file in the dev.jsonl format.")],
    k: Annotated[int, typer.Option(help="Passages retrieved per question.")] = 20,
) -> None:
    """Retrieval figures (hit@1, hit@5, MRR of the expected sources) overall and per language."""
    from assistant.evaluation import load_items, retrieval_query, score_retrieval

    items = load_items(questions)
    retriever = _retriever(Settings())
    ranked = [(i, [p.source for p in retriever.search(retrieval_query(i), k=k)]) for i in items]
    typer.echo(f"all: {score_retrieval(ranked).as_dict()}")
    for lang in sorted({i.lang for i in items}):
        typer.echo(f"{lang}: {score_retrieval([r for r in ranked if r[0].lang == lang]).as_dict()}")
