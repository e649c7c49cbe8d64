"""Build the HS lookup's precedents from the tune half of the rulings development set.

    python -m ingest.hs_precedents [RULINGS.jsonl] [--out PATH]      (make hs-precedents)

RULINGS.jsonl is ``../shared/eval/hs-rulings-dev/rulings.jsonl`` (EU binding tariff
information decisions: © European Union, EBTI database, reuse under Commission Decision
2011/833/EU; see its SOURCE.txt). Only the rulings of the *tune* half (``half_of`` their
id) are kept, as word stems and their 6-digit code, so that the confirm half measures
goods the lookup has not seen.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

from assistant.evaluation import half_of
from assistant.hs_languages import stems
from assistant.settings import PROJECT_ROOT, Settings

RULINGS = PROJECT_ROOT.parent / "shared/eval/hs-rulings-dev/rulings.jsonl"
ATTRIBUTION = (
    "Source: European Commission, EBTI database (reuse under Commission Decision "
    "2011/833/EU); the tune half of the hs-rulings-dev set, as word stems."
)


def build(rulings: Path) -> dict:
    rows = [json.loads(line) for line in rulings.read_text(encoding="utf-8").splitlines() if line]
    kept = [r for r in rows if half_of(r["id"]) == "tune"]
    return {
        "source": ATTRIBUTION,
        "codes": [r["hs6"] for r in kept],
        "documents": [" ".join(stems(r["description"])) for r in kept],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rulings", nargs="?", type=Path, default=RULINGS)
    parser.add_argument("--out", type=Path, default=None, help="default: ASSISTANT_HS_PRECEDENTS")
    args = parser.parse_args()
    out = args.out or Settings().hs_precedents
    if out is None:
        parser.error("no --out and ASSISTANT_HS_PRECEDENTS is empty")
    data = build(args.rulings)
    out.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same rulings give the same bytes, so a rebuild shows no diff.
    with gzip.GzipFile(out, "wb", compresslevel=9, mtime=0) as handle:
        handle.write(json.dumps(data, ensure_ascii=False, indent=0).encode("utf-8"))
    print(f"{out}: {len(data['codes'])} rulings of the tune half", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
