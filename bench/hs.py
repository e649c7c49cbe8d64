"""HS-code lookup accuracy on a benchmark of product descriptions, beside a naive baseline.

    python -m bench.hs [CASES.csv] [--show-misses]

CASES.csv has columns ``text, expected_hs_code, language`` (the HSClassify benchmark
in ../shared/eval). Prints top-1 and top-3 accuracy at 6 and at 4 digits, overall, per
language and per fixed half (tune / confirm, as ``assistant eval`` splits the dev set),
and ms per lookup, for the lookup and for a plain vector search over the subheadings'
own descriptions with the same embedder, measured side by side in one run.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from assistant.evaluation import half_of
from assistant.hs import HSLookup
from assistant.hs_intent import product_description
from assistant.pipeline import Assistant
from assistant.settings import PROJECT_ROOT, Settings

DEFAULT = PROJECT_ROOT.parent / "shared/eval/hs-classification-benchmark/benchmark_cases.csv"


class NaiveSearch:
    """Cosine between the description and each subheading's own text: nothing else."""

    def __init__(self, lookup: HSLookup) -> None:
        tables = lookup.tables()
        self.codes = [c.code for c in tables.lines]
        self.embeddings = lookup.embeddings
        vectors = self.embeddings.encode_passages([c.description for c in tables.lines])
        self.vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def codes_for(self, description: str, k: int = 3) -> list[str]:
        scores = self.vectors @ np.asarray(self.embeddings.embed_query(description))
        return [self.codes[i] for i in np.argsort(-scores)[:k]]


def outcome(codes: list[str], expected: str) -> dict[str, bool]:
    return {
        "top1@6": codes[:1] == [expected],
        "top3@6": expected in codes,
        "top1@4": [c[:4] for c in codes[:1]] == [expected[:4]],
        "top3@4": expected[:4] in {c[:4] for c in codes},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()

    with args.cases.open(encoding="utf-8") as handle:
        cases = list(csv.DictReader(handle))
    lookup = Assistant.open(Settings()).hs
    systems = {"lookup": lambda d: [c.code for c in lookup.lookup(d).candidates]}
    if lookup.embeddings is not None:
        systems["naive"] = NaiveSearch(lookup).codes_for
    lookup.lookup("warm-up")
    for name, classify in systems.items():
        groups: dict[str, list[dict[str, bool]]] = defaultdict(list)
        started = time.perf_counter()
        for case in cases:
            expected = case["expected_hs_code"].strip().zfill(6)
            codes = classify(product_description(case["text"]))
            result = outcome(codes, expected)
            for group in ("all", case.get("language", "?"), half_of(case["text"])):
                groups[group].append(result)
            if args.show_misses and name == "lookup" and not result["top3@6"]:
                print(f"miss: {case['text']!r} expected {expected}, got {codes}", file=sys.stderr)
        ms = 1000 * (time.perf_counter() - started) / max(len(cases), 1)
        for group, outcomes in sorted(groups.items(), key=lambda g: (g[0] != "all", g[0])):
            figures = {
                k: round(sum(o[k] for o in outcomes) / len(outcomes), 3) for k in outcomes[0]
            }
            print(json.dumps({"system": name, "group": group, "n": len(outcomes), **figures}))
        print(json.dumps({"system": name, "ms_per_lookup": round(ms, 1)}))


if __name__ == "__main__":
    main()
