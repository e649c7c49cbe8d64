"""HS-code lookup accuracy on two sets of product descriptions, beside a plain vector search.

    python -m bench.hs [--rulings RULINGS.jsonl] [--cases CASES.csv] [--show-misses] [--sweep]

The sets: EU binding tariff information rulings (``../shared/eval/hs-rulings-dev``: the
authority's own description of the goods in its language and the 6-digit code it
assigned) and the HSClassify benchmark (``../shared/eval/hs-classification-benchmark``:
short product names). Each is split in two fixed halves by a hash of each case's id
(``half_of``, as ``assistant eval`` splits the dev set): choices are made on *tune* and
*confirm* says whether they carried over. Prints, per set, top-3 at 6 digits per language
and half for the lookup and for a plain vector search (cosine between the description and
each subheading's own text with the same embedder), top-1 at 6 digits and top-3 at 4
digits overall, and ms per lookup, all measured in one run. ``--sweep`` prints instead
the lookup's top-3 at 6 digits on the *tune* halves for a grid of weights (the signals
of each description computed once), to choose ``HSWeights`` on tune alone.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from assistant.evaluation import half_of
from assistant.hs import HSLookup
from assistant.hs_intent import product_description
from assistant.pipeline import Assistant
from assistant.settings import PROJECT_ROOT, Settings

EVAL = PROJECT_ROOT.parent / "shared/eval"
RULINGS = EVAL / "hs-rulings-dev/rulings.jsonl"
CASES = EVAL / "hs-classification-benchmark/benchmark_cases.csv"
MIN_LANGUAGE = 5  # languages with fewer cases are counted in "all" only


@dataclass(frozen=True)
class Case:
    text: str
    code: str  # six digits
    language: str
    half: str


def load_rulings(path: Path) -> list[Case]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [Case(r["description"], r["hs6"], r["lang"], half_of(r["id"])) for r in rows]


def load_cases(path: Path) -> list[Case]:
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [
        Case(
            product_description(r["text"]),
            r["expected_hs_code"].strip().zfill(6),
            r.get("language") or "?",
            half_of(r["text"]),
        )
        for r in rows
    ]


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


def lookup_codes(lookup: HSLookup, description: str) -> list[str]:
    """The lookup's codes, a precedent with the very same words left out of its own vote
    (the precedents are the rulings' tune half: its figures stay out-of-sample)."""
    signals = lookup.signals(description, leave_out_same=True)
    if signals is None:
        return []
    return [c.code for c in lookup.rank(signals, lookup.weights).candidates]


def outcome(codes: list[str], expected: str) -> dict[str, bool]:
    return {
        "top3@6": expected in codes,
        "top1@6": codes[:1] == [expected],
        "top3@4": expected[:4] in {c[:4] for c in codes},
    }


def measure(
    cases: list[Case], classify: Callable[[str], list[str]], show_misses: bool
) -> tuple[dict[tuple[str, str], list[dict[str, bool]]], float]:
    """Outcomes per (language or "all", half or "all"), and ms per lookup."""
    groups: dict[tuple[str, str], list[dict[str, bool]]] = defaultdict(list)
    started = time.perf_counter()
    for case in cases:
        codes = classify(case.text)
        result = outcome(codes, case.code)
        for language in ("all", case.language):
            for half in ("all", case.half):
                groups[(language, half)].append(result)
        if show_misses and not result["top3@6"]:
            print(f"miss: {case.text[:90]!r} expected {case.code}, got {codes}", file=sys.stderr)
    return groups, 1000 * (time.perf_counter() - started) / max(len(cases), 1)


def rate(outcomes: list[dict[str, bool]], key: str = "top3@6") -> str:
    return f"{sum(o[key] for o in outcomes) / len(outcomes):.2f}" if outcomes else "–"


def table(name: str, cases: list[Case], results: dict[str, tuple[dict, float]]) -> str:
    """Top-3 at 6 digits per language (rows) and half (columns), one column group per
    system, then the overall top-1 at 6 and top-3 at 4 digits and ms per lookup."""
    count = defaultdict(int)
    for case in cases:
        count[case.language] += 1
    shown = sorted((lang for lang, n in count.items() if n >= MIN_LANGUAGE), key=count.get)
    languages = ["all", *reversed(shown)]
    halves = ("tune", "confirm", "all")
    systems = list(results)
    head = ["language (tune / confirm / all cases)"] + [
        f"{system} {half}" for system in systems for half in halves
    ]
    lines = [f"### {name}: top-3 at 6 digits", "", "| " + " | ".join(head) + " |"]
    lines.append("|" + "---|" * len(head))
    for language in languages:
        groups = results[systems[0]][0]
        sizes = " / ".join(str(len(groups.get((language, h), []))) for h in halves)
        cells = [f"{language} ({sizes})"]
        for system in systems:
            cells += [rate(results[system][0].get((language, h), [])) for h in halves]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| system | top-1 at 6 (all) | top-3 at 4 (all) | ms per lookup |"]
    lines.append("|---|---|---|---|")
    for system, (groups, ms) in results.items():
        everything = groups[("all", "all")]
        lines.append(
            f"| {system} | {rate(everything, 'top1@6')} | {rate(everything, 'top3@4')} | {ms:.1f} |"
        )
    return "\n".join(lines)


GRID = {
    "dense": (1.0,),
    "stems": (0.0,),
    "heading_stems": (0.0, 0.3, 1.0),
    "own_stems": (0.3, 1.0),
    "precedents": (0.0, 0.25, 0.5, 1.0, 2.0),
}


def sweep(lookup: HSLookup, sets: dict[str, list[Case]]) -> None:
    """Top-3 at 6 digits on each set's tune half for every combination of ``GRID``."""
    tune = {name: [c for c in cases if c.half == "tune"] for name, cases in sets.items()}
    # A ruling of the tune half is a precedent too: it must not vote for itself.
    signals = {
        name: [lookup.signals(c.text, leave_out_same=True) for c in cases]
        for name, cases in tune.items()
    }
    print(" | ".join([*GRID, *(f"{name} tune" for name in tune)]))
    for values in itertools.product(*GRID.values()):
        weights = replace(lookup.weights, **dict(zip(GRID, values, strict=True)))
        rates = []
        for name, cases in tune.items():
            hits = [
                s is not None and c.code in [x.code for x in lookup.rank(s, weights).candidates]
                for c, s in zip(cases, signals[name], strict=True)
            ]
            rates.append(f"{sum(hits) / len(hits):.3f}")
        print(" | ".join([*map(str, values), *rates]), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rulings", type=Path, default=RULINGS)
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--sweep", action="store_true", help="weights on the tune halves")
    args = parser.parse_args()

    sets = {
        "EU binding tariff information rulings": load_rulings(args.rulings),
        "HSClassify benchmark (short names)": load_cases(args.cases),
    }
    lookup = Assistant.open(Settings()).hs
    if args.sweep:
        sweep(lookup, sets)
        return
    systems = {"lookup": lambda d: lookup_codes(lookup, d)}
    if lookup.embeddings is not None:
        systems["plain vector search"] = NaiveSearch(lookup).codes_for
    lookup.lookup("warm-up")
    for name, cases in sets.items():
        results = {
            system: measure(cases, classify, args.show_misses and system == "lookup")
            for system, classify in systems.items()
        }
        print(table(name, cases, results), end="\n\n")


if __name__ == "__main__":
    main()
