"""The approved-answer threshold, measured on paraphrase and near-miss pairs.

    python -m bench.paraphrases [--pairs tests/data/paraphrases.jsonl] [--precision 0.95]

Each pair is an approved question and a new one that asks the same thing (a paraphrase,
in the same language or the other) or nearly (another country, tax, direction...). The
pairs fall in two fixed halves by a hash of their id: the threshold is chosen on the
"tune" half (the lowest whose precision reaches --precision) and confirmed on the other.
Prints the sweep per half and the chosen threshold's precision and recall on both.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assistant.approved import choose_threshold, precision_recall, score_pairs
from assistant.embeddings import make_embeddings
from assistant.evaluation import half_of
from assistant.settings import PROJECT_ROOT, Settings

PAIRS = PROJECT_ROOT / "tests" / "data" / "paraphrases.jsonl"
# Written after the facet lists were settled on PAIRS, and never tuned on: an honest
# check of how the matcher fares on near misses it was not shaped by.
FRESH = PROJECT_ROOT / "tests" / "data" / "paraphrases-fresh.jsonl"
COUNTRIES = PROJECT_ROOT / "corpus" / "country-codes" / "country-codes.csv"


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--fresh", type=Path, default=FRESH)
    parser.add_argument("--precision", type=float, default=0.95)
    args = parser.parse_args()
    model = make_embeddings(Settings(_env_file=None).sentence_embedder)
    scores = score_pairs(_read(args.pairs), model, COUNTRIES)
    groups = {half: [s for s in scores if half_of(s.id) == half] for half in ("tune", "confirm")}
    if args.fresh.is_file():
        groups["fresh"] = score_pairs(_read(args.fresh), model, COUNTRIES)
    for name, part in groups.items():
        same = sum(s.same for s in part)
        print(f"{name}: {len(part)} pairs ({same} same, {len(part) - same} near misses)")
    print("\nthreshold  " + "  ".join(f"{name:>17}" for name in groups))
    for threshold in (0.6, 0.65, 0.7, 0.75, 0.78, 0.8, 0.82, 0.85, 0.88, 0.9):
        figures = [precision_recall(part, threshold) for part in groups.values()]
        cells = [f"P {precision:.2f} R {recall:.2f}" for precision, recall in figures]
        print(f"{threshold:9.2f}  " + "  ".join(f"{cell:>17}" for cell in cells))
    chosen = choose_threshold(groups["tune"], args.precision)
    print(f"\nchosen on tune (precision >= {args.precision}): {chosen:.3f}")
    for name, part in groups.items():
        precision, recall = precision_recall(part, chosen)
        print(f"  {name:8} precision {precision:.2f}  recall {recall:.2f}")
    blocked = [s.id for part in groups.values() for s in part if s.score < 0]
    print(f"\nfacet checks blocked {len(blocked)} pairs: {', '.join(sorted(blocked))}")


if __name__ == "__main__":
    main()
