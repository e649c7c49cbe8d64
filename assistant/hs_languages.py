"""The nomenclature in other languages, for descriptions written in them.

Customs rulings and traders describe goods in their own language ("Een stabilisatorstang
… bestemd voor een motorvoertuig", "Σπόροι μαύρης μουστάρδας"), which neither shipped
embedder reads well past a dozen languages. The EU's Combined Nomenclature is published
in every EU language with the same codes, so each 6-digit subheading gets its texts in
all of them (its own line, its 8-digit lines, its heading), and a description meets its
code through the words of its own language. Words are folded (case, accents) and cut
to their first letters, a crude stemmer that serves every language alike ("motorvoertuig"
and "motorvoertuigen" meet); they count by BM25.

The file is built by ``python -m ingest.hs_languages`` from a copy of the Combined
Nomenclature (see that module); without it the lookup reads the English nomenclature only.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Container, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

__all__ = ["HSLanguages", "WordIndex", "compound_parts", "stems", "words"]

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+")
STEM = 6  # letters kept of each word (chosen on the tune halves, see bench.hs)
_PART = 5  # shortest part of a compound
_HEAD = 12  # longest last part of a compound looked for


def words(text: str) -> list[str]:
    """Folded, accent-free words of ``text``; numbers and words of one or two letters
    (articles, units) left out."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return [w for w in _WORD.findall(folded) if len(w) > 2 and not w.isdigit()]


def stems(text: str) -> list[str]:
    """The words of ``text`` cut to their first ``STEM`` letters."""
    return [w[:STEM] for w in words(text)]


def compound_parts(word: str, known: Container[str]) -> list[str]:
    """The known stems of a long word's start and of its last part, its head
    ("stabilisatorstang" -> "stabil", "stang"; "motorsteunkussen" -> "motors", "kussen"):
    Dutch and German write as one word what the nomenclature names in parts."""
    parts = [word[:STEM]] if word[:STEM] in known else []
    for cut in range(max(_PART, len(word) - _HEAD), len(word) - _PART + 1):
        if word[cut:][:STEM] in known:
            return [*parts, word[cut:][:STEM]]
    return parts


@dataclass(frozen=True)
class HSLanguages:
    """Texts of the nomenclature by language: ``codes[lang][hs6]`` is the subheading's own
    text then its 8-digit lines' texts, ``headings[lang][hs4]`` the heading's text."""

    edition: str
    codes: dict[str, dict[str, list[str]]]
    headings: dict[str, dict[str, str]]

    @classmethod
    def load(cls, path: Path | None) -> HSLanguages | None:
        """The file at ``path``, or None (English only) when there is none or it is bad."""
        if path is None or not path.is_file():
            return None
        try:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as handle:
                data = json.load(handle)
            return cls(data["edition"], data["codes"], data["headings"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("HS nomenclature in other languages unreadable (%s): English only", exc)
            return None

    @property
    def languages(self) -> list[str]:
        return sorted(self.codes)

    def name(self, code: str, language: str) -> str | None:
        """The subheading's own text in ``language``, if the file has it."""
        texts = self.codes.get(language, {}).get(code)
        return texts[0] if texts else None

    def line_text(self, code: str) -> str:
        return " ".join(t for texts in self.codes.values() for t in texts.get(code, ()))

    def heading_text(self, heading: str) -> str:
        return " ".join(h.get(heading, "") for h in self.headings.values())


class WordIndex:
    """BM25 over documents of word stems: a row of weights per document, so a query's
    scores are one sparse product."""

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        counts = [Counter(stems(d)) for d in documents]
        self.vocab: dict[str, int] = {}
        rows, cols, tf = [], [], []
        for i, count in enumerate(counts):
            for word, n in count.items():
                rows.append(i)
                cols.append(self.vocab.setdefault(word, len(self.vocab)))
                tf.append(n)
        n_docs = len(documents)
        lengths = np.array([sum(c.values()) for c in counts], dtype=np.float32)
        average = float(lengths.mean()) if n_docs else 1.0
        df = np.bincount(np.asarray(cols, dtype=np.int64), minlength=len(self.vocab))
        idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        r, c, f = (np.asarray(a) for a in (rows, cols, tf))
        f = f.astype(np.float32)
        weight = f * (k1 + 1) / (f + k1 * (1 - b + b * lengths[r] / max(average, 1e-9))) * idf[c]
        self.terms = sparse.csr_matrix((weight, (c, r)), shape=(len(self.vocab), n_docs))
        self.idf = idf
        self.present = sparse.csr_matrix(
            (np.ones(len(r), np.float32), (c, r)), shape=(len(self.vocab), n_docs)
        )

    def _rows(self, text: str) -> tuple[list[int], int]:
        """The vocabulary rows of ``text``'s stems, and how many of its stems are unknown."""
        found, unknown = set(), set()
        for word in words(text):
            if len(word) >= 2 * _PART + 1:
                parts = compound_parts(word, self.vocab)
                found.update(parts)
                if not parts:
                    unknown.add(word[:STEM])
            elif word[:STEM] in self.vocab:
                found.add(word[:STEM])
            else:
                unknown.add(word[:STEM])
        return [self.vocab[w] for w in found], len(unknown)

    def coverage(self, text: str) -> np.ndarray:
        """The share of ``text``'s idf weight each document holds (an unknown word weighs
        as much as the rarest known one): how much of the description it shares."""
        rows, unknown = self._rows(text)
        if not rows:
            return np.zeros(self.terms.shape[1], dtype=np.float32)
        total = float(self.idf[rows].sum()) + unknown * float(self.idf.max())
        shared = self.present[rows].T @ self.idf[rows]
        return np.asarray(shared, dtype=np.float32).ravel() / max(total, 1e-9)

    def scores(self, text: str) -> np.ndarray:
        """Each document's BM25 score for ``text``, divided by the best one (0 to 1)."""
        rows, _ = self._rows(text)
        if not rows:
            return np.zeros(self.terms.shape[1], dtype=np.float32)
        total = np.asarray(self.terms[rows].sum(axis=0), dtype=np.float32).ravel()
        return total / max(float(total.max()), 1e-9)
