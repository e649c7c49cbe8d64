"""HS-code lookup: a product description -> the closest 6-digit codes of the nomenclature.

Ingest stores the shipped nomenclature as one record per 4-digit heading listing its
6-digit subheadings. The lookup finds candidate headings with the hybrid retriever
restricted to those records, then ranks every subheading line by how much of the
product description it (and its heading) covers, keeping the heading's rank as a prior.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.lexical import LexicalIndex, tokenize
from assistant.retrieval import Passage, Retriever

__all__ = ["HSCandidate", "HSLookup", "asks_for_hs_code", "product_description"]

HS_SOURCE = "hs-nomenclature"

_INTENT = re.compile(
    r"\b(hs|h\.s\.|hts|sh|sa|ncm|schedule\s*b|harmoni[sz]ed\s+(system|code)|tariff\s+(code|number|"
    r"classification|heading)|commodity\s+code|customs\s+code|nomenclature|"
    r"code\s+(douanier|tarifaire|sh|nc)|position\s+tarifaire|classement\s+tarifaire|"
    r"c[oó]digo\s+(arancelario|aduanero|sa|sh|ncm)|partida\s+arancelaria|"
    r"classifica[çc][ãa]o\s+fiscal)\b",
    re.IGNORECASE,
)
_EXCLUSION = re.compile(r"\b(excluding|other than|except|not )", re.IGNORECASE)
_LINE = re.compile(r"^- (\d{6}) \((\d{4}\.\d{2})\): (.+)$", re.MULTILINE)
# Words of the request itself, not of the product.
_REQUEST = set(
    tokenize(
        "hs h.s. hts sh sa ncm code codes number tariff classification classify heading "
        "subheading harmonized harmonised system commodity customs nomenclature schedule "
        "douanier tarifaire position classement código arancelario aduanero partida "
        "what which quel quelle quels cual cuál qual product products produit produits "
        "export exporting import importing ship shipping same thing but also"
    )
)


def asks_for_hs_code(question: str) -> bool:
    return bool(_INTENT.search(question))


def product_description(question: str) -> str:
    """The question without the words that only ask for a code."""
    cleaned = _INTENT.sub(" ", question)
    return " ".join(t for t in tokenize(cleaned) if t not in _REQUEST)


@dataclass
class HSCandidate:
    code: str  # six digits
    description: str
    heading: str  # four digits
    heading_description: str
    passage: Passage
    score: float

    @property
    def line(self) -> str:
        return f"{self.code} ({self.code[:4]}.{self.code[4:]}): {self.description}"


class HSLookup:
    def __init__(self, retriever: Retriever, lexical: LexicalIndex, *, prior: float = 0.3) -> None:
        self.retriever = retriever
        self.lexical = lexical
        self.prior = prior  # weight of the heading's retrieval rank against the line's words

    def candidates(self, description: str, *, k: int = 3, weights: dict[str, float] | None = None):
        """The ``k`` best 6-digit subheadings for a product description.

        ``weights`` lets a follow-up's new words count more than the earlier turn's.
        """
        tokens = tokenize(description)
        if not tokens:
            return []
        headings = self.retriever.search(description, k=8, filters={"source": HS_SOURCE})
        weight = {
            t: self.lexical.idf(t) * (weights or {}).get(t, 1.0) for t in dict.fromkeys(tokens)
        }
        total = sum(weight.values()) or 1.0
        scored: list[HSCandidate] = []
        for rank, passage in enumerate(headings):
            heading_line = passage.body.splitlines()[0] if passage.body else ""
            heading_code = heading_line.split(" ", 3)[2] if heading_line.startswith("HS ") else ""
            heading_desc = heading_line.split(" — ", 1)[-1]
            heading_words = set(tokenize(heading_desc))
            for code, _, desc in _LINE.findall(passage.body):
                words = set(tokenize(desc))
                own = sum(w for t, w in weight.items() if t in words) / total
                inherited = sum(w for t, w in weight.items() if t in heading_words) / total
                # A line whose own qualifiers ("cold-water", "Pandalus") the product does not
                # share is a narrower category than asked for; exclusions are not qualifiers.
                qualifiers = set(tokenize(_EXCLUSION.split(desc)[0])) - heading_words
                extra = len(qualifiers - weight.keys()) / len(qualifiers) if qualifiers else 0.0
                score = own + 0.3 * inherited + self.prior / (1 + rank) - 0.15 * extra
                scored.append(
                    HSCandidate(code, desc, heading_code, heading_desc, passage, round(score, 4))
                )
        scored.sort(key=lambda c: c.score, reverse=True)
        return scored[:k]
