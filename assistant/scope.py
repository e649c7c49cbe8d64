"""Two checks that tell a question the sources cannot answer, beyond weak retrieval scores.

- Requests the corpus can never serve: live data (today's freight rates, opening hours,
  the weather) and writing tasks (a LinkedIn post, a sales e-mail). The texts are dated
  guides and regulations; an answer built from them would be a guess.
- A country the question is about that none of the best passages mentions: passages on
  Brazil's tariffs do not answer a question on Japan's, however similar the wording.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

from assistant.lexical import tokenize

__all__ = ["asks_out_of_scope", "unmatched_countries"]

_OUT_OF_SCOPE = re.compile(
    r"\b(these days|right now|today'?s|at the moment|this week|latest (price|rate)s?|"
    r"current (price|rate|cost|exchange rate)s?|exchange rate today|opening (hours|times)|"
    r"weather|horaires?|heures d'ouverture|aujourd'hui|en ce moment|météo|"
    r"write (me )?(a|an|the) (post|e-?mail|letter|tweet|poem|ad|advert|slogan|blog)|"
    r"(linkedin|instagram|facebook|tiktok) post|"
    r"(r[ée]dige[rz]?|[ée]cri(s|re|vez)) (moi )?(un|une) (post|message|lettre|courriel|e-?mail)|"
    r"escribe (un|una) (post|correo|carta)|hoy|horario)\b",
    re.IGNORECASE,
)


def asks_out_of_scope(question: str) -> bool:
    """A request for live data or for writing, which cited sources cannot serve."""
    return bool(_OUT_OF_SCOPE.search(question))


@lru_cache(maxsize=4)
def _country_names(country_csv: str) -> tuple[tuple[str, ...], ...]:
    """Each country's English names as token tuples ("united", "kingdom")."""
    path = Path(country_csv)
    if not path.is_file():
        return ()
    names: set[tuple[str, ...]] = set()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            for column in ("CLDR display name", "UNTERM English Short", "official_name_en"):
                tokens = tuple(tokenize(re.sub(r"\(.*?\)", "", row.get(column, ""))))
                if tokens and all(len(t) >= 4 for t in tokens):
                    names.add(tokens)
    return tuple(sorted(names))


def _mentions(tokens: list[str], name: tuple[str, ...]) -> bool:
    """Does the token list contain ``name``? "brazilian" counts for "brazil"."""
    for i in range(len(tokens) - len(name) + 1):
        window = tokens[i : i + len(name)]
        if all(
            w == n or (len(n) >= 5 and w.startswith(n)) for w, n in zip(window, name, strict=True)
        ):
            return True
    return False


def _heads(tokens: list[str]) -> set[str]:
    """The words a name must start with to be mentioned: each token, and its prefixes of
    five letters or more (see ``_mentions``). Checking a name's first word against this
    set is what makes trying every country name cheap."""
    return {t[:i] for t in tokens for i in range(5, len(t))} | set(tokens)


def unmatched_countries(query: str, passage_texts: list[str], country_csv: Path) -> list[str]:
    """Countries named in ``query`` that none of ``passage_texts`` names."""
    names = _country_names(str(country_csv))
    tokens = tokenize(query)
    heads = _heads(tokens)
    asked = [n for n in names if n[0] in heads and _mentions(tokens, n)]
    if not asked:
        return []
    found = tokenize(" ".join(passage_texts))
    if any(_mentions(found, n) for n in asked):
        return []
    return [" ".join(n) for n in asked]
