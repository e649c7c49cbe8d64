"""Where the time of an answer goes, against the floor and a naive baseline, in one run.

    python -m bench.query [QUESTIONS.jsonl] [--repeat 3]

For every question (dev set by default) it times the full offline ``ask`` split into
query embedding, vector search, BM25, fusion and composition; the floor (query
embedding + one Chroma query, nothing else); and a naive LangChain baseline
(``similarity_search`` top-4 with the same embedder). Prints p50/p95 per stage, the
ratio of end-to-end p50 to the floor p50, and hit@5 of ours vs the baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from assistant.evaluation import load_items, retrieval_query
from assistant.pipeline import Assistant
from assistant.settings import PROJECT_ROOT, Settings

DEFAULT = PROJECT_ROOT.parent / "shared/eval/dev.jsonl"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def hit_at_5(expected: list[str], sources: list[str]) -> bool:
    distinct = list(dict.fromkeys(sources))[:5]
    return any(s.rsplit("/", 1)[-1] in expected for s in distinct)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    items = load_items(args.questions)
    bot = Assistant.open(Settings())
    store = bot.retriever.store
    assert store is not None
    bot.answer("warm-up question about customs")  # first-call costs are not query costs

    stages: dict[str, list[float]] = {
        k: [] for k in ("embed", "dense", "lexical", "fusion", "compose", "total", "floor", "naive")
    }
    ours, naive = [], []
    for _ in range(args.repeat):
        for item in items:
            started = time.perf_counter()
            answer = bot.answer(item.question, item.turns)
            total = time.perf_counter() - started
            t = bot.retriever.last_timings
            retrieval = t.embed + t.dense + t.lexical + t.fusion
            for name, value in (
                ("embed", t.embed),
                ("dense", t.dense),
                ("lexical", t.lexical),
                ("fusion", t.fusion),
                ("compose", total - retrieval),
                ("total", total),
            ):
                stages[name].append(value)

            query = retrieval_query(item)
            started = time.perf_counter()
            store.similarity_search_by_vector(store.embeddings.embed_query(query), k=8)
            stages["floor"].append(time.perf_counter() - started)

            started = time.perf_counter()
            baseline = store.similarity_search(query, k=4)
            stages["naive"].append(time.perf_counter() - started)
            if item.answerable and item.sources:
                ours.append(hit_at_5(item.sources, answer.retrieved))
                naive.append(hit_at_5(item.sources, [d.metadata["source"] for d in baseline]))

    table = {
        name: {"p50_ms": round(1000 * pct(v, 0.5), 1), "p95_ms": round(1000 * pct(v, 0.95), 1)}
        for name, v in stages.items()
    }
    print(json.dumps(table, indent=2))
    print(
        json.dumps(
            {
                "end_to_end_p50_over_floor_p50": round(
                    pct(stages["total"], 0.5) / pct(stages["floor"], 0.5), 2
                ),
                "hit@5_ours": round(statistics.mean(ours), 3),
                "hit@5_naive_vector_top4": round(statistics.mean(naive), 3),
                "p50_ms_ours": table["total"]["p50_ms"],
                "p50_ms_naive": table["naive"]["p50_ms"],
            }
        )
    )


if __name__ == "__main__":
    main()
