"""HS-code lookup: a product description -> the closest 6-digit codes of the nomenclature.

It reads the nomenclature as a customs classifier does: first the heading (4 digits),
then, among that heading's subheadings, the one whose own qualifiers the product has
("of cotton", "frozen", "for retail sale"), else the residual "Other" line. Every
subheading is compared with the description through its full path ("Apparel, knitted ›
T-shirts… › of cotton"), so that the many "Other" lines are understood through their
parents; the multilingual retrieval embedder lets a description in another language find
the English nomenclature, and the words of the path count by how rare they are in it.

The nomenclature is read from the indexed HS records (one per heading, written by
ingest), so the codes always match what the answer cites. When the best codes are close
and differ in their qualifiers, the answer asks which qualifier fits; the follow-up's
words then count double (see ``Assistant.rewrite``).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import sparse

from assistant.embeddings import NamedEmbeddings
from assistant.hs_languages import HSLanguages, WordIndex
from assistant.hs_precedents import Precedents
from assistant.lexical import LexicalIndex, tokenize
from assistant.retrieval import Passage, matches

__all__ = [
    "HSCandidate",
    "HSLookup",
    "HSResult",
    "nomenclature_texts",
]

HS_SOURCE = "hs-nomenclature"

_HEADING = re.compile(r"^HS heading (\d{4}) — (.+)$", re.MULTILINE)
_CHAPTER = re.compile(r"^Chapter (\d{2}): (.*?)(?: \(Section [IVXL]+: .*\))?$", re.MULTILINE)
_LINE = re.compile(r"^- (\d{6}) \((\d{4}\.\d{2})\): (.+)$", re.MULTILINE)
_PARTS = re.compile(r"[;,](?![^(]*\))")  # commas and semicolons outside brackets
_EDITION = re.compile(r"\bHS \d{4}\b")
# What follows these words in a line narrows it by exclusion: not a qualifier to match.
_EXCLUSION = re.compile(r"\b(?:excluding|other than|except|n\.e\.c)\b|\(not\b|\bnot\b", re.I)


@dataclass(frozen=True)
class HSCandidate:
    code: str  # six digits
    description: str
    heading: str  # four digits
    heading_description: str
    chapter_description: str
    passage: Passage  # the heading's indexed record, which the answer cites
    score: float = 0.0

    @property
    def line(self) -> str:
        return f"{self.code} ({self.code[:4]}.{self.code[4:]}): {self.description}"

    @property
    def path(self) -> str:
        return f"{self.chapter_description} › {self.heading_description} › {self.description}"

    @property
    def heading_path(self) -> str:
        return f"{self.chapter_description} › {self.heading_description}"

    @property
    def qualifier(self) -> str:
        """What this line adds to its heading: the text after the nomenclature's "Kind;"."""
        return self.description.split(";", 1)[-1].strip()


@dataclass
class HSResult:
    """The best codes, and whether they are too close to choose between."""

    candidates: list[HSCandidate]
    unsure: bool = False
    languages: HSLanguages | None = None  # to name the distinctions in the user's language

    @property
    def edition(self) -> str:
        """The nomenclature's edition ("HS 2022"), from the cited record's title."""
        title = str(self.candidates[0].passage.metadata.get("title", "")) if self else ""
        found = _EDITION.search(title)
        return found.group(0) if found else "HS"

    def __bool__(self) -> bool:
        return bool(self.candidates)

    def distinctions(self, language: str = "en") -> list[str]:
        """What sets each candidate apart from the others of its heading: the parts of its
        qualifier ("of cotton") that they do not all have ("knitted or crocheted"). In
        another language, each line's own text in that language's nomenclature ("De
        coton" / "D'autres matières textiles") when it has them all and they differ."""
        if language != "en" and self.languages is not None:
            names = [self.languages.name(c.code, language) for c in self.candidates]
            if all(names) and len(set(names)) == len(names):
                return [str(n) for n in names]

        def parts(candidate: HSCandidate) -> dict[tuple[str, ...], str]:
            pieces = (p.strip() for p in _PARTS.split(candidate.qualifier))
            return {tuple(tokenize(p)): p for p in pieces if p}

        split = [parts(c) for c in self.candidates]
        out = []
        for candidate, own in zip(self.candidates, split, strict=True):
            kin = [
                set(p)
                for c, p in zip(self.candidates, split, strict=True)
                if c.heading == candidate.heading
            ]
            shared = set.intersection(*kin) if len(kin) > 1 else set()
            out.append(
                ", ".join(p for key, p in own.items() if key not in shared) or candidate.qualifier
            )
        return out


def nomenclature(records: Iterable[Passage]) -> list[HSCandidate]:
    """Every 6-digit subheading in the indexed HS records (one record per heading)."""
    lines = []
    for passage in records:
        heading = _HEADING.search(passage.text)
        if heading is None:
            continue
        chapter = _CHAPTER.search(passage.text)
        chapter_description = chapter.group(2) if chapter else ""
        for code, _, description in _LINE.findall(passage.text):
            lines.append(
                HSCandidate(
                    code, description, heading.group(1), heading.group(2), chapter_description,
                    passage,
                )
            )  # fmt: skip
    return lines


def nomenclature_texts(records: Iterable[tuple[str, dict]]) -> list[str]:
    """The texts the lookup embeds for these (text, metadata) records: the ingest job
    caches their vectors with the chunks' (``make vectors``)."""
    passages = [Passage(id="", text=t, metadata=m) for t, m in records]
    lines = nomenclature(p for p in passages if matches(p.metadata, {"source": HS_SOURCE}))
    return list(dict.fromkeys(t for c in lines for t in (c.path, c.heading_path)))


@dataclass(frozen=True)
class HSWeights:
    """How the scores combine (chosen on the tune halves of both HS sets: bench.hs --sweep)."""

    dense: float = 1.0  # cosine of the description and a path (the retrieval embedder)
    embed_words: int = 30  # words of the description embedded: the goods come first
    words: float = 0.3  # share of the description's idf weight found in a path
    stems: float = 0.0  # BM25 of the line's texts in every language (0 to 1)
    heading_stems: float = 0.3  # ... of the heading's texts and its lines'
    own_stems: float = 0.3  # ... of what a line adds to its heading, within the heading
    precedents: float = 0.5  # share of the similar rulings' votes for the line's code
    heading: float = 0.5  # the heading's own path against its best line
    qualifier: float = 0.3  # within a heading: the line's own qualifiers the product has
    unmatched: float = 0.15  # ... minus the share of qualifiers it does not mention
    headings: int = 5  # headings whose lines are ranked
    unsure: float = 0.03  # best two closer than this: ask


@dataclass(frozen=True)
class Signals:
    """A description against every line (``line_*``, ``own_stems``, ``qualifier_fit``,
    ``unmatched``) and heading (``head_*``): cosines, shares of its idf weight, BM25 of
    word stems in every language (0 to 1)."""

    line_dense: np.ndarray
    head_dense: np.ndarray
    line_words: np.ndarray
    head_words: np.ndarray
    line_stems: np.ndarray
    head_stems: np.ndarray
    own_stems: np.ndarray
    qualifier_fit: np.ndarray
    unmatched: np.ndarray
    precedent_line: np.ndarray  # the similar rulings' votes for the line's code
    precedent_head: np.ndarray  # ... for any code of the heading


class _Tables:
    """The nomenclature as matrices, built once per index generation."""

    def __init__(
        self,
        lines: list[HSCandidate],
        encode: Callable[[list[str]], np.ndarray] | None,
        languages: HSLanguages | None = None,
    ):
        self.lines = lines
        self.position = {c.code: i for i, c in enumerate(lines)}
        heads = list(dict.fromkeys(c.heading for c in lines))
        self.heads = heads
        position = {h: i for i, h in enumerate(heads)}
        self.head_of = np.array([position[c.heading] for c in lines], dtype=np.int64)
        first = {}
        for i, c in enumerate(lines):
            first.setdefault(c.heading, i)
        self.head_rows = [lines[first[h]] for h in heads]

        path_words = [set(tokenize(c.path)) for c in lines]
        head_words = [set(tokenize(c.heading_path)) for c in self.head_rows]
        # A line's qualifiers: what it adds to its heading and chapter ("of cotton"), before
        # any exclusion ("other than cotton" is not a word to match).
        qualifiers = [
            set(tokenize(_EXCLUSION.split(c.qualifier)[0]))
            - set(tokenize(c.heading_description))
            - set(tokenize(c.chapter_description))
            for c in lines
        ]
        counts = Counter(t for words in path_words for t in words)
        self.vocab = {t: i for i, t in enumerate(counts)}
        self.idf_unknown = math.log(1 + len(lines))
        self.idf = np.array([math.log(1 + len(lines) / (1 + counts[t])) for t in counts])
        self.path = self._matrix(path_words)
        self.head = self._matrix(head_words)
        self.qualifiers = self._matrix(qualifiers)
        self.qualifier_count = np.asarray(self.qualifiers.sum(axis=1)).ravel()
        # The same nomenclature in every language the file has, as word stems.
        line_docs = [f"{c.path} {languages.line_text(c.code) if languages else ''}" for c in lines]
        head_docs = [
            f"{c.heading_path} {languages.heading_text(c.heading) if languages else ''}"
            for c in self.head_rows
        ]
        for doc, head in zip(line_docs, self.head_of, strict=True):
            head_docs[head] += " " + doc
        self.line_words = WordIndex(line_docs)
        # What a line adds to its heading, in every language: "of cotton", "Van katoen".
        self.own_words = WordIndex(
            [f"{c.qualifier} {languages.line_text(c.code) if languages else ''}" for c in lines]
        )
        self.head_words = WordIndex(head_docs)
        self.line_vectors = self.head_vectors = None
        if encode is not None and lines:
            self.line_vectors = _unit(encode([c.path for c in lines]))
            self.head_vectors = _unit(encode([c.heading_path for c in self.head_rows]))

    def _matrix(self, rows: Sequence[set[str]]) -> sparse.csr_matrix:
        data = [
            (i, self.vocab[t]) for i, words in enumerate(rows) for t in words if t in self.vocab
        ]
        r, c = zip(*data, strict=True) if data else ((), ())
        shape = (len(rows), len(self.vocab))
        return sparse.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=shape)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


class HSLookup:
    """Ranks subheadings for a description. Shared by every request: the only state is
    the tables of the current index generation, replaced whole."""

    def __init__(
        self,
        lexical: LexicalIndex,
        embeddings: NamedEmbeddings | None = None,
        *,
        vector_cache: Path | None = None,
        languages: HSLanguages | None = None,
        precedents: Precedents | None = None,
        weights: HSWeights = HSWeights(),
    ) -> None:
        self.lexical = lexical
        self.languages = languages  # None: the English nomenclature only
        self.precedents = precedents  # None: no rulings to learn from
        self.embeddings = embeddings  # None: words only (the dense index is still building)
        self.vector_cache = vector_cache  # the shipped vectors of the nomenclature's paths
        self.weights = weights
        self._tables: tuple[int, tuple[str, ...], _Tables] | None = None  # generation, ids
        self._lock = threading.Lock()

    def tables(self) -> _Tables:
        """The tables of the indexed nomenclature. A write to the index (an upload, the
        background indexer's batches) rebuilds them only if the HS records themselves
        changed: chunk ids are content-addressed, so equal ids mean equal records."""
        generation = self.lexical.generation()
        current = self._tables
        if current is not None and current[0] == generation:
            return current[2]
        with self._lock:
            current = self._tables
            if current is not None and current[0] == generation:
                return current[2]
            records = self.lexical.records(lambda m: matches(m, {"source": HS_SOURCE}))
            ids = tuple(i for i, _, _ in records)
            if current is not None and current[1] == ids:
                tables = current[2]
            else:
                lines = nomenclature(Passage(id=i, text=t, metadata=m) for i, t, m in records)
                encode = None
                if self.embeddings is not None:
                    from ingest.vectors import with_cache

                    encode = with_cache(self.embeddings, self.vector_cache).encode_passages
                tables = _Tables(lines, encode, self.languages)
            self._tables = (generation, ids, tables)
            return tables

    def signals(
        self,
        description: str,
        weights: dict[str, float] | None = None,
        *,
        leave_out_same: bool = False,
    ) -> Signals | None:
        """What the lookup knows of ``description`` against every line and heading, before
        any weighting (None: nothing to look up). ``leave_out_same``: a precedent with the
        very same words does not vote (measuring on the precedents' own rulings)."""
        tables = self.tables()
        tokens = tokenize(description)
        if not tables.lines or not (tokens or description.strip()):
            return None
        query = np.zeros(len(tables.vocab), dtype=np.float32)
        total = 0.0
        for token in dict.fromkeys(tokens):
            factor = (weights or {}).get(token, 1.0)
            if token in tables.vocab:
                idf = tables.idf[tables.vocab[token]]
                query[tables.vocab[token]] = idf * factor
            else:
                idf = tables.idf_unknown  # a brand or size: counts in the total, matches nothing
            total += idf * factor
        total = total or 1.0
        line_sim = np.zeros(len(tables.lines), dtype=np.float32)
        head_sim = np.zeros(len(tables.heads), dtype=np.float32)
        if tables.line_vectors is not None:
            lead = " ".join(description.split()[: self.weights.embed_words])
            vector = _unit(np.asarray([self.embeddings.embed_query(lead)]))[0]
            line_sim = tables.line_vectors @ vector
            head_sim = tables.head_vectors @ vector
        present = (query > 0).astype(np.float32)
        shared = tables.qualifiers @ present
        unmatched = np.divide(
            tables.qualifier_count - shared,
            tables.qualifier_count,
            out=np.zeros(len(tables.lines), dtype=np.float32),
            where=tables.qualifier_count > 0,
        )
        precedent_line = np.zeros(len(tables.lines), dtype=np.float32)
        if self.precedents is not None:
            votes = self.precedents.votes(description, leave_out_same=leave_out_same)
            for code, share in votes.items():
                if code in tables.position:
                    precedent_line[tables.position[code]] = share
        precedent_head = np.zeros(len(tables.heads), dtype=np.float32)
        np.add.at(precedent_head, tables.head_of, precedent_line)
        return Signals(
            line_dense=line_sim,
            head_dense=head_sim,
            line_words=(tables.path @ query) / total,
            head_words=(tables.head @ query) / total,
            line_stems=tables.line_words.scores(description),
            head_stems=tables.head_words.scores(description),
            own_stems=tables.own_words.scores(description),
            qualifier_fit=(tables.qualifiers @ query) / total,
            unmatched=unmatched,
            precedent_line=precedent_line,
            precedent_head=precedent_head,
        )

    def rank(self, signals: Signals, w: HSWeights, k: int = 3) -> HSResult:
        """Heading first, then the line within the best headings."""
        tables = self.tables()
        flat = w.dense * signals.line_dense + w.words * signals.line_words
        flat = flat + w.stems * signals.line_stems
        best_line = np.full(len(tables.heads), -np.inf, dtype=np.float32)
        np.maximum.at(best_line, tables.head_of, flat)
        heads = (
            best_line
            + w.heading * (w.dense * signals.head_dense + w.words * signals.head_words)
            + w.heading_stems * signals.head_stems
            + w.precedents * signals.precedent_head
        )
        chosen = np.argsort(-heads, kind="stable")[: w.headings]
        rows = np.flatnonzero(np.isin(tables.head_of, chosen))
        fit = signals.qualifier_fit[rows] - w.unmatched * signals.unmatched[rows]
        # Within a heading: the line's own qualifiers (English), and its texts in every
        # language (a Dutch "van katoen" meets the Dutch line).
        own = w.own_stems * signals.own_stems[rows]
        ruled = w.precedents * signals.precedent_line[rows]
        scores = heads[tables.head_of[rows]] + w.qualifier * fit + own + ruled
        order = np.argsort(-scores, kind="stable")[:k]
        found = [replace(tables.lines[rows[i]], score=round(float(scores[i]), 4)) for i in order]
        unsure = len(found) > 1 and found[0].score - found[1].score < w.unsure
        unsure = unsure and found[0].qualifier != found[1].qualifier
        return HSResult(found, unsure=unsure, languages=self.languages)

    def lookup(
        self, description: str, *, k: int = 3, weights: dict[str, float] | None = None
    ) -> HSResult:
        """The ``k`` best subheadings; ``weights`` lets a follow-up's words count more."""
        signals = self.signals(description, weights)
        return HSResult([]) if signals is None else self.rank(signals, self.weights, k)
