"""Where the time of an answer goes, against the floor and a naive baseline, in one run;
with ``--against``, the same for an earlier commit's code, side by side.

    python -m bench.query [QUESTIONS.jsonl] [--repeat 3] [--against main]

For every question (dev set by default) it times the full offline ``ask`` split into
query embedding, vector search, BM25, fusion, reading (the reader and the confidence) and
composition; the floor (query
embedding + one Chroma query, nothing else); and a naive LangChain baseline
(``similarity_search`` top-4 with the same embedder). Prints p50/p95 per stage, the
ratio of end-to-end p50 to the floor p50, and hit@5 of ours vs the baseline.

``--against REF`` (a commit, branch or tag) runs this tree's code and REF's code in a
process each, on the same index and corpus, taking turns round by round so that the
load of a shared machine falls on both alike, and prints each stage's p50/p95 for
both with the ratio new/old.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant.evaluation import (
    EvalItem,
    hit,
    load_items,
    percentile,
    retrieval_query,
    source_rank,
)
from assistant.pipeline import Assistant
from assistant.settings import PROJECT_ROOT, Settings

DEFAULT = PROJECT_ROOT.parent / "shared/eval/dev.jsonl"
STAGES = ("embed", "dense", "lexical", "fusion", "read", "compose", "total", "floor", "naive")
MARK = "bench-round "  # prefix of a child's result lines, whatever else prints to stdout


def one_round(bot: Assistant, items: list[EvalItem]) -> dict[str, list]:
    """Every question once: seconds per stage, and hit@5 of ours and of the naive baseline."""
    store = bot.retriever.store
    assert store is not None
    out: dict[str, list] = {k: [] for k in (*STAGES, "ours", "naive_hit")}
    for item in items:
        started = time.perf_counter()
        answer = bot.answer(item.question, item.turns)
        total = time.perf_counter() - started
        t = answer.trace.timings
        retrieval = t.embed + t.dense + t.lexical + t.fusion
        for name, value in (
            ("embed", t.embed),
            ("dense", t.dense),
            ("lexical", t.lexical),
            ("fusion", t.fusion),
            ("read", getattr(t, "read", 0.0)),  # REF may predate the reader
            ("compose", total - retrieval - getattr(t, "read", 0.0)),
            ("total", total),
        ):
            out[name].append(value)

        query = retrieval_query(item)
        started = time.perf_counter()
        store.similarity_search_by_vector(store.embeddings.embed_query(query), k=8)
        out["floor"].append(time.perf_counter() - started)

        started = time.perf_counter()
        baseline = store.similarity_search(query, k=4)
        out["naive"].append(time.perf_counter() - started)
        if item.answerable and item.sources:
            out["ours"].append(hit(source_rank(answer.retrieved, item.sources), 5))
            sources = [d.metadata["source"] for d in baseline]
            out["naive_hit"].append(hit(source_rank(sources, item.sources), 5))
    return out


def open_bot() -> Assistant:
    bot = Assistant.open(Settings())
    bot.answer("warm-up question about customs")  # first-call costs are not query costs
    return bot


def table(rounds: dict[str, list]) -> dict[str, dict[str, float]]:
    return {
        name: {
            "p50_ms": round(1000 * percentile(rounds[name], 0.5), 1),
            "p95_ms": round(1000 * percentile(rounds[name], 0.95), 1),
        }
        for name in STAGES
    }


def summary(rounds: dict[str, list]) -> dict[str, float]:
    return {
        "end_to_end_p50_over_floor_p50": round(
            percentile(rounds["total"], 0.5) / percentile(rounds["floor"], 0.5), 2
        ),
        "hit@5_ours": round(statistics.mean(rounds["ours"]), 3),
        "hit@5_naive_vector_top4": round(statistics.mean(rounds["naive_hit"]), 3),
    }


def child(items: list[EvalItem]) -> None:
    """Answer one round per line read from stdin; each result is one marked JSON line."""
    bot = open_bot()
    print(MARK + "ready", flush=True)
    for _ in sys.stdin:
        print(MARK + json.dumps(one_round(bot, items)), flush=True)


class Side:
    """One tree's code answering in a child process (``python -m bench.query --child``)."""

    def __init__(self, name: str, tree: Path, questions: Path) -> None:
        self.name = name
        self.rounds: dict[str, list] = {}
        settings = Settings()
        env = os.environ | {
            # The same index and corpus for both, wherever their code lives.
            "ASSISTANT_DATA_DIR": str(settings.data_dir.resolve()),
            "ASSISTANT_CORPUS_DIR": str(settings.corpus_dir.resolve()),
            # REF's tree holds only its packages: bench comes from this tree.
            "PYTHONPATH": os.pathsep.join([str(tree), str(PROJECT_ROOT)]),
        }
        command = [sys.executable, "-m", "bench.query", str(questions.resolve()), "--child"]
        self.proc = subprocess.Popen(
            command, cwd=tree, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self._read()  # "ready"

    def _read(self) -> str:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(MARK):
                return line[len(MARK) :]
        raise RuntimeError(f"the {self.name} side exited with {self.proc.wait()}")

    def run_round(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        for key, values in json.loads(self._read()).items():
            self.rounds.setdefault(key, []).extend(values)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def export_tree(ref: str, into: Path) -> Path:
    """The code of ``ref`` (its packages and web files) written under ``into``."""
    archive = subprocess.run(
        ["git", "archive", ref, "assistant", "ingest", "web"],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def compare(ref: str, questions: Path, repeat: int) -> None:
    """This tree against ``ref``, in alternating rounds; prints both and the ratios."""
    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        export_tree(ref, Path(tmp))
        sides = [Side(f"old ({ref})", Path(tmp), questions), Side("new", PROJECT_ROOT, questions)]
        try:
            for r in range(repeat):
                for side in sides if r % 2 == 0 else sides[::-1]:
                    side.run_round()
        finally:
            for side in sides:
                side.close()
    old, new = (table(side.rounds) for side in sides)
    print(f"{'stage':<8} {'old p50':>8} {'new p50':>8} {'ratio':>6}  {'old p95':>8} {'new p95':>8}")
    for name in STAGES:
        o, n = old[name], new[name]
        ratio = n["p50_ms"] / o["p50_ms"] if o["p50_ms"] else float("nan")
        print(
            f"{name:<8} {o['p50_ms']:>8} {n['p50_ms']:>8} {ratio:>6.2f}  "
            f"{o['p95_ms']:>8} {n['p95_ms']:>8}"
        )
    for side in sides:
        print(json.dumps({"side": side.name, **summary(side.rounds)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--against", metavar="REF", help="also time this commit's code")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    items = load_items(args.questions)
    if args.child:
        child(items)
    elif args.against:
        compare(args.against, args.questions, args.repeat)
    else:
        bot = open_bot()
        rounds: dict[str, list] = {}
        for _ in range(args.repeat):
            for key, values in one_round(bot, items).items():
                rounds.setdefault(key, []).extend(values)
        result = table(rounds)
        print(json.dumps(result, indent=2))
        p50 = {"p50_ms_ours": result["total"]["p50_ms"], "p50_ms_naive": result["naive"]["p50_ms"]}
        print(json.dumps(summary(rounds) | p50))


if __name__ == "__main__":
    main()
