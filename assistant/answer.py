"""What an answer is, how a composer streams one, and the offline composer that builds
one from source sentences only.

Every composer (this one, ``assistant.llm.LLMComposer``) has the same contract: from the
question, the passages it may cite, the user's language and the passages' sentences
ranked for the question, it yields ``Event``s: text (``delta``), then ``citations``,
then ``done`` with the ``Answer``. Citations are numbered by ``CitationNumbers``.

The extractive composer never writes a claim of its own: every sentence it shows is a
sentence of a retrieved passage, followed by the ``[n]`` of that passage. Only the
lead-in and notices are its own words, in the user's language.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from assistant.injection import clean_passages
from assistant.language import message
from assistant.lexical import LexicalIndex, tokenize
from assistant.retrieval import Passage, Timings
from assistant.sentences import split_sentences

if TYPE_CHECKING:
    from assistant.embeddings import NamedEmbeddings

__all__ = [
    "Answer",
    "Citation",
    "CitationNumbers",
    "Composer",
    "Event",
    "ExtractiveComposer",
    "Sentence",
    "SentenceWeights",
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

    def stream(
        self, question: str, passages: list[Passage], language: str, ranked: list[Sentence]
    ) -> Iterator[Event]:
        """Events ending in ``done`` with the Answer (``ranked``: the sentences of the
        retrieved passages, best first, from the retrieval query)."""
        ...


def _latest_year(date: str) -> int | None:
    years = [int(y) for y in re.findall(r"\b(19\d\d|20\d\d)\b", date)]
    return max(years) if years else None


def dated_notice(citations: list[Citation], language: str, this_year: int) -> str | None:
    """A warning naming the cited sources older than a few years, with their dates."""
    old = [
        f"[{c.n}] ({c.date})"
        for c in citations
        if (year := _latest_year(c.date)) is not None and this_year - year >= STALE_AFTER_YEARS
    ]
    return message("dated", language, sources=", ".join(old)) if old else None


# Questions whose answer is a quantity, a date or a duration; sentences holding one of
# those then rank higher (the classic answer-type cue of extractive QA).
_ASKS_QUANTITY = re.compile(
    r"\b(how (long|many|much|early|soon|old|late)|when|since when|what (percentage|rate|fine|"
    r"penalty|fee|cost|price|amount|deadline)|deadline|cost|fine|fee|penalty|rate|"
    r"combien|quand|depuis quand|quel (d[ée]lai|taux|montant|prix)|d[ée]lai|"
    r"cu[áa]nto|cu[áa]ndo|qu[ée] plazo|plazo|quanto|quando|prazo)\b",
    re.IGNORECASE,
)
_QUANTITY = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|thirty|fourteen|"
    r"un|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|douze|quatorze|trente)\s+"
    r"(days?|weeks?|months?|years?|hours?|jours|semaines|mois|ans|années|heures|d[ií]as|meses|"
    r"años|anos)\b",
    re.IGNORECASE,
)


@dataclass
class Sentence:
    """A sentence of a retrieved passage, scored against the question."""

    text: str
    passage: Passage
    rank: int  # of its passage in retrieval
    position: int  # order within the passage
    score: float = 0.0
    vector: np.ndarray | None = None


@dataclass(frozen=True)
class SentenceWeights:
    """How a sentence's score is made: meaning (cosine to the question in a multilingual
    space), the share of the question's telling words it holds, an answer-type cue, and
    the rank of its passage in retrieval. Set by hand; on the dev set, weights searched on
    one half did no better on the other, except keeping more than one sentence (``keep``).
    """

    meaning: float = 1.0
    words: float = 0.6
    answer_type: float = 0.15
    retrieval: float = 0.2
    keep: float = 0.6  # a further sentence must score at least this share of the best
    redundant: float = 0.85  # cosine above which a sentence repeats one already chosen


class ExtractiveComposer:
    """Ranks every sentence of the retrieved passages against the question, leads with
    the one that answers, and adds at most three that bring something new.

    ``sentence_embeddings`` (a fast multilingual model) scores a French question against
    English sentences; without it, only words and cues count.
    """

    def __init__(
        self,
        lexical: LexicalIndex,
        sentence_embeddings: NamedEmbeddings | None = None,
        *,
        weights: SentenceWeights | None = None,
        max_sentences: int = 4,
        max_chars: int = 1000,
    ) -> None:
        self.reads: int | None = None
        self.lexical = lexical
        self.sentence_embeddings = sentence_embeddings
        self.weights = weights or SentenceWeights()
        self.max_sentences = max_sentences
        self.max_chars = max_chars

    def coverage(self, query_tokens: list[str], text: str) -> float:
        """Share of the question's idf weight found in ``text`` (0..1)."""
        weights = {t: self.lexical.idf(t) for t in dict.fromkeys(query_tokens)}  # fixed order
        total = sum(weights.values())
        if not total:
            return 0.0
        present = set(tokenize(text))
        return sum(w for t, w in weights.items() if t in present) / total

    def sentences(self, question: str, passages: list[Passage], language: str) -> list[Sentence]:
        """Every quotable sentence of ``passages``, best first. Passages are cleaned first:
        never quote what a document says to a model."""
        found = [
            Sentence(text, passage, rank, position)
            for rank, passage in enumerate(clean_passages(passages))
            for position, text in enumerate(
                split_sentences(passage.body, str(passage.metadata.get("language") or language))
            )
        ]
        if not found:
            return []
        w = self.weights
        tokens = tokenize(question)
        wants_quantity = bool(_ASKS_QUANTITY.search(question))
        meaning = self._meaning(question, found)
        for sentence, cosine in zip(found, meaning, strict=True):
            sentence.score = (
                w.meaning * cosine
                + w.words * self.coverage(tokens, sentence.text)
                + w.answer_type * (wants_quantity and bool(_QUANTITY.search(sentence.text)))
                + w.retrieval / (1 + sentence.rank)
                - 0.001 * sentence.position
            )
        return sorted(found, key=lambda s: s.score, reverse=True)

    def _meaning(self, question: str, found: list[Sentence]) -> list[float]:
        if self.sentence_embeddings is None:
            return [0.0] * len(found)
        model = self.sentence_embeddings
        vectors = model.encode_passages([s.text for s in found])
        query = np.asarray(model.embed_query(question), dtype=np.float32)
        for sentence, vector in zip(found, vectors, strict=True):
            sentence.vector = vector
        return [float(c) for c in vectors @ query]

    @staticmethod
    def rerank(passages: list[Passage], ranked: list[Sentence]) -> list[Passage]:
        """Passages ordered by their best sentence (a cheap late-interaction re-ranker);
        passages without a quotable sentence keep their order, after the others."""
        best: dict[str, float] = {}
        for sentence in ranked:
            best.setdefault(sentence.passage.id, sentence.score)
        return sorted(passages, key=lambda p: (p.id not in best, -best.get(p.id, 0.0)))

    def choose(self, ranked: list[Sentence]) -> list[Sentence]:
        """The best sentence, then up to three more that score close to it and repeat nothing."""
        chosen: list[Sentence] = []
        length = 0
        for sentence in ranked:
            if len(chosen) == self.max_sentences:
                break
            if chosen and sentence.score < self.weights.keep * chosen[0].score:
                break
            if chosen and length + len(sentence.text) > self.max_chars:
                continue
            if any(self._repeats(sentence, other) for other in chosen):
                continue
            chosen.append(sentence)
            length += len(sentence.text)
        return chosen

    def _repeats(self, a: Sentence, b: Sentence) -> bool:
        if a.text == b.text:
            return True
        if a.vector is not None and b.vector is not None:
            return float(a.vector @ b.vector) > self.weights.redundant
        words_a, words_b = set(tokenize(a.text)), set(tokenize(b.text))
        union = words_a | words_b
        return bool(union) and len(words_a & words_b) / len(union) > 0.7

    def stream(
        self, question: str, passages: list[Passage], language: str, ranked: list[Sentence]
    ) -> Iterator[Event]:
        """The chosen sentences of ``ranked``, as events (see ``Composer``)."""
        yield from events(self.answer(self.choose(ranked), language))

    def compose(self, question: str, passages: list[Passage], language: str) -> Answer:
        """The answer to ``question`` from ``passages``."""
        return self.answer(self.choose(self.sentences(question, passages, language)), language)

    @staticmethod
    def answer(chosen: list[Sentence], language: str) -> Answer:
        """Chosen sentences, each with the ``[n]`` of its passage, in the order chosen."""
        numbers = CitationNumbers()
        parts = [f"{s.text} [{numbers.number(s.passage, s.text)}]" for s in chosen]
        text = message("lead_in", language) + "\n\n" + "\n".join(parts)
        return Answer(text=text, citations=numbers.citations(), language=language)
