"""How query latency grows with the corpus: 1x, 10x and 30x its chunks, measured in turns.

    python -m bench.scale --work /tmp/scale [--factor 1 --factor 10 --factor 30] [--repeat 3]

Builds under ``--work`` (kept, so that a second run only measures) one copy of the
index per factor, padded with synthetic chunks that are never embedded: random unit
vectors in Chroma (with a short document), and for BM25 texts drawn from the
corpus's own word frequencies and lengths, with the metadata of a real chunk under a
``synthetic/`` source. Random vectors sit far from every real question, so they
change what a search costs, not what it finds. Then one assistant per size answers
the question set, the sizes taking turns round by round, and the bench prints
p50/p95 per stage and size, and the ratios to the smallest size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import numpy as np

from assistant.evaluation import load_items
from assistant.lexical import LexicalIndex, LexicalRecords
from assistant.pipeline import Assistant
from assistant.settings import Settings
from assistant.store import chroma_client
from bench.query import DEFAULT, STAGES, one_round, table

BATCH = 5000
DONE = "scale-complete.json"


def real_chunks(lexical: Path) -> tuple[list[str], list[int], list[dict]]:
    """The corpus's words (with repeats, so drawing from them keeps their frequencies),
    its chunk lengths in words, and its chunk metadata."""
    with closing(sqlite3.connect(lexical)) as db:
        rows = db.execute("SELECT tokens, metadata FROM chunks WHERE root = 'corpus'").fetchall()
    words: list[str] = []
    lengths = []
    for tokens, _ in rows:
        split = tokens.split()
        words += split
        lengths.append(len(split))
    return words, lengths, [json.loads(m) for _, m in rows]


def pad(data_dir: Path, target: int, settings: Settings, seed: int) -> None:
    """Add synthetic chunks to the index in ``data_dir`` until it holds ``target``."""
    settings = settings.model_copy(update={"data_dir": data_dir})
    collection = chroma_client(settings).get_collection(settings.collection)
    lexical = LexicalIndex(settings.lexical_path)
    words, lengths, metadata = real_chunks(settings.lexical_path)
    vocabulary = np.array(words)
    rng = np.random.default_rng(seed)
    dim = len(collection.get(limit=1, include=["embeddings"])["embeddings"][0])
    start = collection.count()
    started = time.perf_counter()
    for first in range(start, target, BATCH):
        n = min(BATCH, target - first)
        ids = [f"synthetic-{i:07d}" for i in range(first, first + n)]
        vectors = rng.standard_normal((n, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        texts = [
            " ".join(
                vocabulary[rng.integers(0, len(vocabulary), lengths[rng.integers(len(lengths))])]
            )
            for _ in range(n)
        ]
        metas = [
            metadata[j] | {"source": f"synthetic/{i // 50:05d}.md", "root": "synthetic"}
            for i, j in zip(range(first, first + n), rng.integers(0, len(metadata), n), strict=True)
        ]
        # Chroma gets a short document: its full-text index of long ones would double
        # the build time, and a search only reads the documents of the hits.
        documents = [f"synthetic chunk {i}" for i in ids]
        collection.add(ids=ids, embeddings=vectors, documents=documents, metadatas=metas)
        lexical.apply(zip(ids, texts, metas, strict=True), [])
        done = first + n - start
        rate = done / (time.perf_counter() - started)
        print(f"  {data_dir.name}: {first + n}/{target} chunks ({rate:.0f}/s)", flush=True)


def build(source: Path, work: Path, factors: list[int], settings: Settings) -> list[Path]:
    """One index per factor under ``work``, each grown from a copy of the one before."""
    chunks = LexicalRecords(source / "lexical.sqlite").counts()[
        2
    ]  # read-only: the source stays as it is
    dirs, previous = [], source
    for factor in sorted(factors):
        data_dir = work / f"x{factor}"
        if not (data_dir / DONE).exists():
            shutil.rmtree(data_dir, ignore_errors=True)
            skip = shutil.ignore_patterns("assistant.db*", DONE)
            shutil.copytree(previous, data_dir, ignore=skip)
            started = time.perf_counter()
            pad(data_dir, chunks * factor, settings, seed=factor)
            seconds = round(time.perf_counter() - started)
            (data_dir / DONE).write_text(json.dumps({"chunks": chunks * factor, "s": seconds}))
        dirs.append(data_dir)
        previous = data_dir
    return dirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--work", type=Path, required=True, help="where the padded copies live")
    parser.add_argument("--index", type=Path, default=Settings().data_dir, help="data dir to copy")
    parser.add_argument("--factor", type=int, action="append", help="corpus multiple (repeat)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--as-built", action="store_true", help="measure the copies as they are (a stopped build)"
    )
    args = parser.parse_args()

    factors = sorted(args.factor or [1, 10, 30])
    settings = Settings()
    if args.as_built:
        dirs = [args.work / f"x{factor}" for factor in factors]
    else:
        dirs = build(args.index, args.work, factors, settings)
    items = load_items(args.questions)
    bots = []
    for data_dir in dirs:
        started = time.perf_counter()
        bot = Assistant.open(settings.model_copy(update={"data_dir": data_dir}))
        bot.answer("warm-up question about customs")  # builds the BM25 matrix
        bots.append(bot)
        print(f"opened {data_dir.name} in {time.perf_counter() - started:.0f} s", flush=True)

    rounds: list[dict[str, list]] = [{} for _ in bots]
    for r in range(args.repeat):
        order = range(len(bots)) if r % 2 == 0 else reversed(range(len(bots)))
        for i in order:
            for key, values in one_round(bots[i], items).items():
                rounds[i].setdefault(key, []).extend(values)

    tables = [table(r) for r in rounds]
    shown = [s for s in STAGES if s not in ("floor", "naive")]
    print(f"\n{'chunks':>8} {'factor':>6}  " + "  ".join(f"{s + ' p50/p95':>17}" for s in shown))
    sizes = [len(bot.lexical) for bot in bots]
    for size, t in zip(sizes, tables, strict=True):
        cells = "  ".join(f"{t[s]['p50_ms']:>8}/{t[s]['p95_ms']:<8}" for s in shown)
        print(f"{size:>8} {size / sizes[0]:>5.1f}x  {cells}")
    print("\nratios to the smallest size (p50, p95)")
    for size, t in zip(sizes, tables, strict=True):
        ratios = {
            s: [round(t[s][p] / tables[0][s][p], 2) for p in ("p50_ms", "p95_ms")]
            for s in ("total", "dense", "lexical", "compose")
        }
        print(json.dumps({"chunks": size, "factor": round(size / sizes[0], 1), **ratios}))


if __name__ == "__main__":
    main()
