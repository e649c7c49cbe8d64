"""Build the HS lookup's nomenclature in other languages from the EU Combined Nomenclature.

    python -m ingest.hs_languages RESOURCES_DIR [--year 2025] [--out PATH]

RESOURCES_DIR holds the Combined Nomenclature as JSON and its translations as YAML, in
the layout of the openly published ``xterr/php-cncodes`` data (``cnCodes_<year>.json``,
``cnSubheadings_<year>.json``, ``cnHeadings_<year>.json`` with English texts, and
``translations/messages_<lang>.yaml`` mapping each English text to its official text in
that EU language; the texts are the Publications Office's CN, © European Union, reuse
under Commission Decision 2011/833/EU). CN 2023–2026 follow HS 2022: the first six digits
of a CN code are its HS subheading. The output (``assistant.hs_languages.HSLanguages``)
holds, per language, each subheading's own text then its 8-digit lines' texts, and each
heading's text; English is the CN's own English.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import defaultdict
from pathlib import Path

import yaml

from assistant.settings import Settings


def build(resources: Path, year: int) -> dict:
    def read(name: str) -> list[dict]:
        return json.loads((resources / f"{name}_{year}.json").read_text(encoding="utf-8"))

    own: dict[str, str] = {}  # hs6 -> the subheading's own English text
    detail: dict[str, list[str]] = defaultdict(list)  # hs6 -> its 8-digit lines' texts
    for line in read("cnSubheadings"):
        if len(line["code"]) == 6:
            own[line["code"]] = line["name"]
    for line in read("cnCodes"):
        six = line["code"][:6]
        if line["code"].endswith("00") and six not in own:
            own[six] = line["name"]  # an undivided subheading: its one CN line
        elif line["name"] not in detail[six]:
            detail[six].append(line["name"])
    headings = {h["code"]: h["name"] for h in read("cnHeadings")}

    translations: dict[str, dict[str, str] | None] = {"en": None}
    for path in sorted((resources / "translations").glob("messages_*.yaml")):
        translations[path.stem.split("_", 1)[1]] = yaml.safe_load(path.read_text("utf-8"))

    codes: dict[str, dict[str, list[str]]] = {}
    heads: dict[str, dict[str, str]] = {}
    for language, table in translations.items():

        def text(english: str, table=table) -> str | None:
            return english if table is None else table.get(english)

        codes[language] = {}
        for six, name in sorted(own.items()):
            texts = list(dict.fromkeys(t for t in (text(name), *map(text, detail[six])) if t))
            if texts:
                codes[language][six] = texts
        heads[language] = {h: t for h, name in sorted(headings.items()) if (t := text(name))}
    return {"edition": f"CN {year} (HS 2022)", "codes": codes, "headings": heads}


def write(data: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as handle:
        json.dump(data, handle, ensure_ascii=False, separators=(",", ":"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("resources", type=Path)
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--out", type=Path, default=None, help="default: ASSISTANT_HS_LANGUAGES")
    args = parser.parse_args()
    out = args.out or Settings().hs_languages
    if out is None:
        parser.error("no --out and ASSISTANT_HS_LANGUAGES is empty")
    data = build(args.resources, args.year)
    write(data, out)
    sizes = {lang: len(c) for lang, c in data["codes"].items()}
    print(f"{out}: {len(sizes)} languages, subheadings per language {sizes}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
