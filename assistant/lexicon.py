"""A French -> English word list learned from the corpus's own parallel texts.

The EU acts are shipped in both languages (``X.en.md`` beside ``X.fr.md``), article by
article. Words that keep appearing in the same aligned units are translations of each
other: "rétractation" / "withdrawal", "assujetti" / "taxable". The Dice coefficient of
their co-occurrence picks the best English word for each French one. BM25 then finds
English passages for a French question through the words it already knows, with no
translation model and no list written by hand (the glossary covers the everyday trade
words that legal texts never use).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from assistant.lexical import tokenize

__all__ = ["learn_lexicon", "parallel_units", "translate"]

log = logging.getLogger(__name__)

# "Article 12", "Article 12a", "Article premier": the unit both versions share.
_ARTICLE = re.compile(r"^Article (\d+[a-z]*|premier)\s*$", re.MULTILINE)
MIN_COUNT = 3  # a French word seen in fewer aligned units is not learned
MIN_DICE = 0.5  # nor one whose best English partner co-occurs less often than this


def _articles(text: str) -> dict[str, str]:
    parts = _ARTICLE.split(text)
    articles: dict[str, str] = {}
    for i in range(1, len(parts) - 1, 2):
        articles.setdefault(parts[i].replace("premier", "1"), parts[i + 1])
    return articles


def parallel_units(corpus_dir: Path) -> list[tuple[str, str]]:
    """(French, English) pairs of aligned text: each article present in both versions of
    an act, split into its paragraphs when both versions have as many."""
    pairs: list[tuple[str, str]] = []
    for french in sorted(corpus_dir.rglob("*.fr.md")):
        english = french.with_name(french.name.removesuffix(".fr.md") + ".en.md")
        if not english.is_file():
            continue
        fr = _articles(french.read_text(encoding="utf-8", errors="replace"))
        en = _articles(english.read_text(encoding="utf-8", errors="replace"))
        for number in sorted(fr.keys() & en.keys()):
            fr_paragraphs = [p for p in fr[number].split("\n\n") if p.strip()]
            en_paragraphs = [p for p in en[number].split("\n\n") if p.strip()]
            if len(fr_paragraphs) == len(en_paragraphs) > 1:
                pairs += zip(fr_paragraphs, en_paragraphs, strict=True)
            else:
                pairs.append((fr[number], en[number]))
    return pairs


def _presence(texts: Iterable[str]) -> tuple[sp.csr_matrix, list[str]]:
    """Which words (no numbers, three letters or more) each text holds, as a 0/1 matrix."""
    vocabulary: dict[str, int] = {}
    rows: list[int] = []
    columns: list[int] = []
    count = 0
    for row, text in enumerate(texts):
        count = row + 1
        for word in sorted(set(tokenize(text))):  # sorted: ties broken alike in every run
            if len(word) >= 3 and not word[0].isdigit():
                rows.append(row)
                columns.append(vocabulary.setdefault(word, len(vocabulary)))
    data = np.ones(len(rows), dtype=np.float32)
    matrix = sp.csr_matrix((data, (rows, columns)), shape=(count, len(vocabulary)))
    return matrix, list(vocabulary)


def learn_lexicon(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Each French word's most associated English word (Dice ≥ MIN_DICE)."""
    if not pairs:
        return {}
    french, french_words = _presence(p[0] for p in pairs)
    english, english_words = _presence(p[1] for p in pairs)
    together = (french.T @ english).tocsr()
    french_counts = np.asarray(french.sum(axis=0)).ravel()
    english_counts = np.asarray(english.sum(axis=0)).ravel()
    lexicon: dict[str, str] = {}
    for i, word in enumerate(french_words):
        start, end = together.indptr[i], together.indptr[i + 1]
        if french_counts[i] < MIN_COUNT or start == end:
            continue
        partners = together.indices[start:end]
        dice = 2 * together.data[start:end] / (french_counts[i] + english_counts[partners])
        best = int(np.argmax(dice))
        if dice[best] >= MIN_DICE and english_words[partners[best]] != word:
            lexicon[word] = english_words[partners[best]]
    return lexicon


@lru_cache(maxsize=4)
def _lexicon_of(corpus_dir: str) -> dict[str, str]:
    lexicon = learn_lexicon(parallel_units(Path(corpus_dir)))
    log.info("learned %d French -> English words from the parallel texts", len(lexicon))
    return lexicon


def translate(query: str, corpus_dir: Path | None) -> list[str]:
    """English words for the French words of ``query`` that the corpus taught us."""
    if corpus_dir is None:
        return []
    lexicon = _lexicon_of(str(corpus_dir))
    return list(dict.fromkeys(lexicon[t] for t in tokenize(query) if t in lexicon))
