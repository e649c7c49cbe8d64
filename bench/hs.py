"""HS-code lookup accuracy on a benchmark of product descriptions.

    python -m bench.hs [CASES.csv]

CASES.csv has columns ``text, expected_hs_code, language`` (the HSClassify benchmark
in ../shared/eval). Prints top-1 and top-3 accuracy at 6 and at 4 digits, overall and
per language, against the configured index.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

from assistant.hs import product_description
from assistant.pipeline import Assistant
from assistant.settings import PROJECT_ROOT, Settings

DEFAULT = PROJECT_ROOT.parent / "shared/eval/hs-classification-benchmark/benchmark_cases.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()

    with args.cases.open(encoding="utf-8") as handle:
        cases = list(csv.DictReader(handle))
    lookup = Assistant.open(Settings()).hs
    groups: dict[str, list[dict[str, bool]]] = defaultdict(list)
    started = time.perf_counter()
    for case in cases:
        expected = case["expected_hs_code"].strip().zfill(6)
        codes = [c.code for c in lookup.candidates(product_description(case["text"]), k=3)]
        outcome = {
            "top1@6": codes[:1] == [expected],
            "top3@6": expected in codes,
            "top1@4": [c[:4] for c in codes[:1]] == [expected[:4]],
            "top3@4": expected[:4] in {c[:4] for c in codes},
        }
        groups["all"].append(outcome)
        groups[case.get("language", "?")].append(outcome)
        if args.show_misses and not outcome["top3@6"]:
            print(f"miss: {case['text']!r} expected {expected}, got {codes}", file=sys.stderr)
    per_query_ms = 1000 * (time.perf_counter() - started) / max(len(cases), 1)
    for name, outcomes in sorted(groups.items(), key=lambda g: (g[0] != "all", g[0])):
        figures = {k: round(sum(o[k] for o in outcomes) / len(outcomes), 3) for k in outcomes[0]}
        print(json.dumps({"group": name, "n": len(outcomes), **figures}))
    print(json.dumps({"ms_per_lookup": round(per_query_ms, 1)}))


if __name__ == "__main__":
    main()
