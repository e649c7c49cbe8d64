"""What an answer is, how a composer streams one, and the offline composer that builds
one from source sentences only.

Every composer (this one, ``assistant.llm.LLMComposer``) has the same contract: from the
query, the passages it may cite and their units as the reader ranked them, it yields
``Event``s: text (``delta``), then ``citations``, then ``done`` with the ``Answer``.
Citations are numbered by ``CitationNumbers``.

The extractive composer never writes a claim of its own: every unit it shows (sentence,
list item with its lead-in, table row with its header) is quoted from a retrieved
passage, followed by the ``[n]`` of that passage. Only the lead-in and notices are its
own words, in the user's language.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from assistant.language import message
from assistant.retrieval import Passage, Timings

if TYPE_CHECKING:
    from assistant.query import Query
    from assistant.reader import Read

__all__ = [
    "Answer",
    "Citation",
    "CitationNumbers",
    "Composer",
    "Event",
    "ExtractiveComposer",
    "Trace",
    "citation_for",
    "dated_notice",
    "events",
]

STALE_AFTER_YEARS = 4


@dataclass
class Citation:
    n: int
    source: str
    title: str
    section: str
    url: str
    publisher: str
    date: str
    language: str
    snippet: str
    licence: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Trace:
    """How one answer was found, for the evaluation and the benchmarks: returned with the
    answer rather than kept on the shared assistant, so concurrent questions keep theirs."""

    timings: Timings = field(default_factory=Timings)
    passages: list[str] = field(default_factory=list)  # ids of the passages used, best first
    texts: list[str] = field(default_factory=list)  # their texts (the eval's "fact read")


@dataclass
class Answer:
    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    language: str = "en"
    mode: str = "extractive"  # extractive | llm | hs-lookup | refusal
    notices: list[str] = field(default_factory=list)
    retrieved: list[str] = field(default_factory=list)  # source paths, best first
    lexical_only: bool = False
    # The evidence score the refusal decision was made on (None: not retrieved, e.g. HS).
    evidence: float | None = None
    # How likely the answer is to hold what answers the question (0..1, calibrated on the
    # dev set's tune half); below the operating point the assistant refuses. None: not
    # estimated (small talk, HS lookups, the naive baseline).
    confidence: float | None = None
    trace: Trace = field(default_factory=Trace, repr=False, compare=False)

    def as_dict(self) -> dict:
        data = asdict(self)
        del data["trace"]
        data["citations"] = [c.as_dict() for c in self.citations]
        return data


def citation_for(n: int, passage: Passage, snippet: str) -> Citation:
    m = passage.metadata
    return Citation(
        n=n,
        source=passage.source,
        title=str(m.get("title", "")),
        section=str(m.get("section", "")),
        url=str(m.get("url", "")),
        publisher=str(m.get("publisher", "")),
        date=str(m.get("date", "")),
        language=str(m.get("language", "")),
        snippet=snippet,
        licence=str(m.get("licence", "")),
    )


class CitationNumbers:
    """``[1]``, ``[2]``… for passages in the order they are first cited, and the citations
    with what each was cited for: the one numbering of every kind of answer."""

    def __init__(self) -> None:
        self._passages: dict[str, Passage] = {}
        self._snippets: dict[str, list[str]] = {}

    def number(self, passage: Passage, snippet: str) -> int:
        """The number of ``passage`` (a new one the first time), citing it for ``snippet``."""
        self._passages.setdefault(passage.id, passage)
        snippets = self._snippets.setdefault(passage.id, [])
        if snippet not in snippets:
            snippets.append(snippet)
        return list(self._passages).index(passage.id) + 1

    def citations(self, joiner: str = " … ") -> list[Citation]:
        """One citation a passage, in number order, its snippets joined by ``joiner``."""
        return [
            citation_for(n, passage, joiner.join(self._snippets[passage.id]))
            for n, passage in enumerate(self._passages.values(), 1)
        ]


@dataclass
class Event:
    """One step of a streamed answer: ``delta`` (text), ``citations``, or ``done`` (Answer)."""

    kind: Literal["delta", "citations", "done"]
    data: object = None


def events(answer: Answer) -> Iterator[Event]:
    """A finished answer as a stream: its lines, its citations, then itself."""
    for line in answer.text.splitlines(keepends=True):
        yield Event("delta", line)
    yield Event("citations", answer.citations)
    yield Event("done", answer)


class Composer(Protocol):
    """Writes the answer once the pipeline has decided there is one to give."""

    reads: int | None  # how many of the best passages it is given (None: all)

    def stream(self, query: Query, passages: list[Passage], ranked: list[Read]) -> Iterator[Event]:
        """Events ending in ``done`` with the Answer (``passages``: the pool re-ranked by
        the reader; ``ranked``: their units as the reader scored them, best first)."""
        ...


def _latest_year(date: str) -> int | None:
    years = [int(y) for y in re.findall(r"\b(19\d\d|20\d\d)\b", date)]
    return max(years) if years else None


def dated_notice(citations: list[Citation], language: str, this_year: int) -> str | None:
    """A warning naming the cited sources older than a few years: each source once, its
    citation numbers together, with the year of its text ("[1] [3] (2014)")."""
    old: dict[str, tuple[list[int], int]] = {}
    for c in citations:
        year = _latest_year(c.date)
        if year is not None and this_year - year >= STALE_AFTER_YEARS:
            old.setdefault(c.source, ([], year))[0].append(c.n)
    if not old:
        return None
    named = ", ".join(
        f"{' '.join(f'[{n}]' for n in numbers)} ({year})" for numbers, year in old.values()
    )
    return message("dated", language, sources=named)


class ExtractiveComposer:
    """Leads with the unit the reader found to answer, then adds distinct units it scored
    close to it, up to ``max_chars``: every word quoted is a word of a source.

    The reader's scores are rank shares (0..1); ``margin`` 0.04 (the units within the
    best 4 % of the pool) was chosen on the dev set's tune half: more of the answer's
    room filled with distinct units put the fact in 0.40 of answers against 0.35 for
    0.01.

    A unit shares no piece with one already quoted (a lead-in shown once), and repeats
    none in meaning (sentence-model cosine above ``redundant``).
    """

    def __init__(
        self,
        *,
        margin: float = 0.04,
        max_units: int = 5,
        max_chars: int = 1000,
        redundant: float = 0.85,
    ) -> None:
        self.reads: int | None = None
        self.margin = margin
        self.max_units = max_units
        self.max_chars = max_chars
        self.redundant = redundant

    def choose(self, ranked: Sequence[Read]) -> list[Read]:
        """The best unit, then those within ``margin`` of its score that add something."""
        chosen: list[Read] = []
        length = 0
        for read in ranked:
            if len(chosen) == self.max_units:
                break
            if chosen and read.score < chosen[0].score - self.margin:
                break
            if chosen and length + len(read.unit.text) > self.max_chars:
                continue
            if any(self._repeats(read, other) for other in chosen):
                continue
            chosen.append(read)
            length += len(read.unit.text)
        return chosen

    def _repeats(self, a: Read, b: Read) -> bool:
        if a.passage.id == b.passage.id and set(a.unit.pieces) & set(b.unit.pieces):
            return True
        if a.unit.own == b.unit.own:
            return True
        if a.vector is not None and b.vector is not None:
            norms = float(np.linalg.norm(a.vector) * np.linalg.norm(b.vector)) or 1.0
            return float(a.vector @ b.vector) / norms > self.redundant
        return False

    def stream(self, query: Query, passages: list[Passage], ranked: list[Read]) -> Iterator[Event]:
        """The chosen units of ``ranked``, as events (see ``Composer``)."""
        yield from events(self.answer(self.choose(ranked), query.language))

    @staticmethod
    def answer(chosen: list[Read], language: str) -> Answer:
        """Chosen units, each with the ``[n]`` of its passage, in the order chosen."""
        numbers = CitationNumbers()
        parts = [f"{r.unit.text} [{numbers.number(r.passage, r.unit.text)}]" for r in chosen]
        text = message("lead_in", language) + "\n\n" + "\n".join(parts)
        return Answer(text=text, citations=numbers.citations(), language=language)
