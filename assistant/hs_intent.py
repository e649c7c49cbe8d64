"""Is an HS code asked for, and which words describe the product?

A question mentioning a tariff code is not always asking for one ("my broker got the
tariff heading wrong", "one digit of the HS code is wrong"), and short words such as
the French possessive "sa" ("sa facture") are not the Spanish "SA" of "código SA". So a
lookup needs both, in one clause: a name of the code (HS, code SH, commodity code,
position tarifaire…) and, next to it, a request for it (what / which / quel / c'est quoi
/ qué / qual or a verb asking for it — need, find, demande, cherche — a few words before;
a code "for" / "pour" / "para" a product just after). A code the user already gives
("HS 8471.30") is not a request for one.
"""

from __future__ import annotations

import re

from assistant.lexical import tokenize

__all__ = ["asks_for_hs_code", "product_description"]

# Names of the code, in the product's languages (en, fr, es, pt, ar).
_CODE = re.compile(
    r"\b(?:hs|h\.s\.|hts|sh|ncm|schedule\s*b|harmoni[sz]ed\s+(?:system|code|tariff)|"
    r"tariff\s+(?:code|number|classification|heading|line)|commodity\s+code|"
    r"nomenclature|code\s+(?:douanier|tarifaire|sh|nc|hs)|(?:sous-)?position\s+tarifaire|"
    r"sous-position|classement\s+tarifaire|c[oó]digo\s+(?:arancelario|aduanero|sa|sh|ncm|hs)|"
    r"(?:sub)?partida\s+arancelaria|posi[çc][ãa]o\s+pautal|classifica[çc][ãa]o\s+fiscal|"
    r"النظام\s+المنسق|رمز\s+جمركي|البند\s+الجمركي|التعريفة\s+الجمركية)\b",
    re.IGNORECASE,
)
# A request for it, just before the name: a question word or a verb asking for it.
_ASK_BEFORE = re.compile(
    r"\b(?:what|what's|whats|wat|which|need|find|give|tell|know|look(?:ing)?\s+(?:up|for)|"
    r"get|classify|determine|right|correct|wants?|asks?|requires?|"
    r"quel|quelle|quels|quelles|quoi|koi|lequel|laquelle|demande|cherche|trouver|"
    r"conna[iî]tre|donner|faut|mettre|veut|exige|"
    r"qu[ée]|cu[aá]l|cu[aá]les|qual|quais|necesito|busco|preciso|pide|quiere|quer|"
    r"ما|ماهو|أي)\b",
    re.IGNORECASE,
)
# ... or just after it: the code "for" a product, or a question word ("c'est lequel ?").
_ASK_AFTER = re.compile(
    r"\b(?:for|pour|pr|para|lequel|laquelle|on\s+met|"
    r"goes|applies|should)\b",
    re.IGNORECASE,
)
# ... or a clause that is only the code "of" a product: "code SH du gingembre svp".
_TERSE = re.compile(r"^\s*(?:of|de|du|des|d'|do|da|del)\b", re.IGNORECASE)
_BEFORE_WORDS = 4  # "what's the 6-digit HS code", "c'est quoi le code SH"
_AFTER_WORDS = 3  # "code SH à 6 chiffres pour"
# A code the user already has: "HS 8471.30", "code SH 0901".
_GIVEN = re.compile(r"^\W{0,3}(?:code\s+)?\d{4}(?:[.\s]?\d{2}){0,3}\b")
_CLAUSES = re.compile(r"[.;,!?\n:()]+")
# Words of the request itself, not of the product.
_REQUEST_WORDS = set(
    tokenize(
        "hs h.s. hts sh sa ncm code codes number tariff classification classify heading "
        "subheading harmonized harmonised system commodity customs nomenclature schedule "
        "douanier tarifaire position classement código arancelario aduanero partida "
        "what which quel quelle quels cual cuál qual product products produit produits "
        "export exporting import importing ship shipping same thing but also"
    )
)
_LATIN = re.compile(r"[A-Za-z]")


def asks_for_hs_code(question: str) -> bool:
    """True when some clause of ``question`` names a tariff code and asks for it."""
    for clause in _CLAUSES.split(question):
        for name in _CODE.finditer(clause):
            after = clause[name.end() :]
            if _GIVEN.match(after):
                continue
            before = clause[: name.start()].split()
            if not before and _TERSE.match(after):
                return True
            near = " ".join(before[-_BEFORE_WORDS:])
            if _ASK_BEFORE.search(near) or _ASK_AFTER.search(
                " ".join(after.split()[:_AFTER_WORDS])
            ):
                return True
    return False


def product_description(question: str) -> str:
    """The question without the words that only ask for a code; the product's own words
    are kept as written (accents and scripts the tokenizer drops matter to the embedder)."""
    cleaned = _CODE.sub(" ", question)
    kept = []
    for word in cleaned.split():
        tokens = set(tokenize(word))
        # Request words go, and so do stop words ("what is the"), unlike words of scripts
        # the tokenizer does not read ("冷冻虾"), which it also returns nothing for.
        if tokens <= _REQUEST_WORDS and (tokens or _LATIN.search(word)):
            continue
        kept.append(word)
    return " ".join(kept).strip(" ?!.,;:")
