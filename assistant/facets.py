"""What tells two similar questions apart although their sentence vectors are close.

"Do I need an EORI number to export from France?" and "... from Norway?" are 0.87
alike for the multilingual sentence model, and so are "register for the one-stop shop"
and "deregister from it": meaning vectors hear the topic, not the detail that changes
the answer. Before an approved answer is reused for a new question, the facets of both
are compared, in any of the answered languages:

- strict facets: every country, number (an amount, a year, a code) and Incoterm the new
  question names must be named by the approved one too;
- exclusive facets (trade direction, tax, kind of customer, the measure asked for: a
  rate, a threshold or a period; getting or checking something; joining or leaving a
  scheme): when both name one, they must name the same.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from assistant.lexical import fold

__all__ = ["Facets", "conflicts", "facets"]

_WORD = re.compile(r"[a-z0-9]+")
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w])")
_INCOTERM = re.compile(r"\b(exw|fca|fas|fob|cfr|cif|cpt|cip|dap|dpu|ddp|dat|daf|ddu)\b")
# Everyday names that the table's official ones miss (folded words -> ISO code).
_SHORT_NAMES = {
    ("royaume", "uni"): "GB",
    ("united", "kingdom"): "GB",
    ("great", "britain"): "GB",
    ("grande", "bretagne"): "GB",
    ("angleterre",): "GB",
    ("england",): "GB",
    ("etats", "unis"): "US",
    ("united", "states"): "US",
    ("estados", "unidos"): "US",
    ("emirats", "arabes", "unis"): "AE",
    ("turkey",): "TR",  # the table says "Türkiye" only
    ("turquie",): "TR",
}
# Country names written in capitals that are too short for the name list.
_ALIASES = {"US": "US", "USA": "US", "U.S.": "US", "UK": "GB", "U.K.": "GB", "UAE": "AE"}
_ALIAS = re.compile(r"(?<![\w.])(U\.S\.|U\.K\.|USA|UAE|US|UK)(?![\w])")
_NAME_COLUMNS = (
    "CLDR display name",
    "UNTERM English Short",
    "official_name_en",
    "official_name_fr",
    "UNTERM French Short",
    "official_name_es",
    "UNTERM Spanish Short",
)
# Exclusive facets: (facet, value, pattern on folded text). Order matters within a facet:
# "re-export" is tried before "export".
_EXCLUSIVE = [
    ("direction", "re-export", r"\bre-?export\w*|\breexport\w*"),
    ("direction", "export", r"\bexport\w*"),
    ("direction", "import", r"\bimport(s|ed|ing|er|ers|ation|ations|e|ee|es|ees|ateur|ateurs)?\b"),
    ("direction", "transit", r"\btransit\b"),
    (
        "direction",
        "purchase",
        r"\b(buy|buys|buying|bought|purchas\w*|ach[ae]t\w*|compra\w*)\b",
    ),
    ("tax", "vat", r"\b(vat|tva|iva|value added tax|taxe sur la valeur ajoutee)\b"),
    ("tax", "duty", r"\b(customs dut\w+|dut(y|ies)|droits? de douane|arancel\w*|derechos)\b"),
    ("tax", "excise", r"\b(excise|accises?|impuestos especiales)\b"),
    ("customer", "consumer", r"\b(consumers?|b2c|particuliers?|consommateurs?|consumidor\w*)\b"),
    (
        "customer",
        "business",
        r"\b(b2b|business(es)?|compan(y|ies)|entreprises?|professionnels?|societes?|empresas?)\b",
    ),
    ("measure", "rate", r"\b(rates?|taux|tasas?|taxas?|percentage|pourcentage)\b"),
    (
        "measure",
        "threshold",
        r"\b(thresholds?|seuils?|umbral\w*|limiar\w*|ceiling|plafond\w*|amount|montant)\b",
    ),
    (
        "measure",
        "period",
        r"\b(deadlines?|d[e]lais?|time limit|how long|how many days|combien de (jours|temps)|"
        r"plazos?|prazos?)\b",
    ),
    ("action", "verify", r"\b(check\w*|verif\w*|validat\w*|controler|comprobar)\b"),
    ("action", "obtain", r"\b(get|obtain\w*|apply for|obtenir|demander|solicitar|obter)\b"),
    (
        "enrolment",
        "leave",
        r"\b(de-?regist\w*|desinscri\w*|radiation|unsubscrib\w*|cancel\w* (my )?registration)\b",
    ),
    ("enrolment", "join", r"\b(regist\w*|sign(ing)? up|inscri\w*|immatricul\w*|adher\w*)\b"),
]
_EXCLUSIVE_PATTERNS = [(f, v, re.compile(p)) for f, v, p in _EXCLUSIVE]


@dataclass(frozen=True)
class Facets:
    countries: frozenset[str]  # ISO 3166 alpha-2 codes
    numbers: frozenset[str]
    incoterms: frozenset[str]
    exclusive: dict[str, frozenset[str]]  # facet -> values named


@lru_cache(maxsize=4)
def _country_names(country_csv: str) -> dict[tuple[str, ...], str]:
    """Folded name words -> ISO code, in English, French and Spanish."""
    path = Path(country_csv)
    if not path.is_file():
        return {}
    names: dict[tuple[str, ...], str] = dict(_SHORT_NAMES)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            code = row.get("ISO3166-1-Alpha-2", "")
            for column in _NAME_COLUMNS:
                words = tuple(_WORD.findall(fold(re.sub(r"\(.*?\)", "", row.get(column, "")))))
                words = tuple(w for w in words if w not in ("the", "la", "le", "les", "el", "l"))
                if code and words and len("".join(words)) >= 4:
                    names.setdefault(words, code)
    return names


def _countries(text: str, country_csv: Path) -> set[str]:
    """ISO codes of the countries ``text`` names ("Japanese" counts for Japan)."""
    words = _WORD.findall(fold(text))
    found = {_ALIASES[m.group(1)] for m in _ALIAS.finditer(text)}
    names = _country_names(str(country_csv))
    for start in range(len(words)):
        for length in (4, 3, 2, 1):
            window = tuple(words[start : start + length])
            if len(window) < length:
                continue
            code = names.get(window)
            if code is None and length == 1 and len(window[0]) > 5:
                # an adjective: "japanese", "senegalais" (stems of five letters or more)
                code = next(
                    (
                        names[(w[:i],)]
                        for w in window
                        for i in range(5, len(w))
                        if (w[:i],) in names
                    ),
                    None,
                )
            if code is not None:
                found.add(code)
                break
    return found


def facets(text: str, country_csv: Path) -> Facets:
    folded = fold(text)
    exclusive: dict[str, set[str]] = {}
    for facet, value, pattern in _EXCLUSIVE_PATTERNS:
        if pattern.search(folded):
            exclusive.setdefault(facet, set()).add(value)
            folded = pattern.sub(" ", folded)  # "re-export" is not also an export
    return Facets(
        countries=frozenset(_countries(text, country_csv)),
        numbers=frozenset(n.replace(",", ".") for n in _NUMBER.findall(folded)),
        incoterms=frozenset(_INCOTERM.findall(folded)),
        exclusive={facet: frozenset(values) for facet, values in exclusive.items()},
    )


def conflicts(asked: Facets, approved: Facets) -> list[str]:
    """What the new question names that the approved one does not ([] when none)."""
    found = [
        f"{name} {sorted(extra)}"
        for name, extra in (
            ("country", asked.countries - approved.countries),
            ("number", asked.numbers - approved.numbers),
            ("incoterm", asked.incoterms - approved.incoterms),
        )
        if extra
    ]
    for facet, values in asked.exclusive.items():
        theirs = approved.exclusive.get(facet)
        if theirs and not values & theirs:
            found.append(f"{facet} {sorted(values)} not {sorted(theirs)}")
    return found
