"""What an answer is, and the offline composer that builds one from source sentences only.

The extractive composer never writes a claim of its own: every sentence it shows is a
sentence of a retrieved passage, followed by the ``[n]`` of that passage. Only the
lead-in and notices are its own words, in the user's language.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from assistant.injection import clean_passages
from assistant.language import message
from assistant.lexical import LexicalIndex, tokenize
from assistant.retrieval import Passage

__all__ = [
    "Answer",
    "Citation",
    "ExtractiveComposer",
    "citation_for",
    "dated_notice",
    "split_sentences",
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

    def as_dict(self) -> dict:
        data = asdict(self)
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


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9(«\"'À-ÖØ-Þ])")
_MAX_SENTENCE = 450


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of a passage, long legal sentences trimmed at a word."""
    out = []
    for line in text.splitlines():
        line = line.strip().lstrip("-*•>").strip()
        if not line or line.startswith("#") or line.startswith("|"):
            continue
        for sentence in _SENTENCE_END.split(line):
            sentence = sentence.strip()
            if len(sentence) < 25:
                continue
            if len(sentence) > _MAX_SENTENCE:
                sentence = sentence[:_MAX_SENTENCE].rsplit(" ", 1)[0] + " …"
            out.append(sentence)
    return out


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


class ExtractiveComposer:
    """Picks the sentences of the passages that best cover the question's telling words."""

    def __init__(self, lexical: LexicalIndex, *, max_sentences: int = 4, max_chars: int = 900):
        self.lexical = lexical
        self.max_sentences = max_sentences
        self.max_chars = max_chars

    def coverage(self, query_tokens: list[str], text: str) -> float:
        """Share of the question's idf weight found in ``text`` (0..1)."""
        weights = {t: self.lexical.idf(t) for t in set(query_tokens)}
        total = sum(weights.values())
        if not total:
            return 0.0
        present = set(tokenize(text))
        return sum(w for t, w in weights.items() if t in present) / total

    def compose(self, question: str, passages: list[Passage], language: str) -> Answer:
        passages = clean_passages(passages)  # never quote what a document says to a model
        query = tokenize(question)
        wants_quantity = bool(_ASKS_QUANTITY.search(question))
        candidates: list[tuple[float, int, int, str]] = []  # score, passage rank, position, text
        # Quote the best document; other documents only from the runner-up passage, so
        # that an answer does not cite three loosely related texts.
        best_source = passages[0].source if passages else ""
        for rank, passage in enumerate(passages[:3]):
            if rank > 1 and passage.source != best_source:
                continue
            prior = 0.35 / (1 + rank)
            for position, sentence in enumerate(split_sentences(passage.body)):
                score = self.coverage(query, sentence) + prior - 0.002 * position
                if wants_quantity and _QUANTITY.search(sentence):
                    score += 0.25
                candidates.append((score, rank, position, sentence))
        candidates.sort(key=lambda c: c[0], reverse=True)

        chosen: list[tuple[int, int, str]] = []
        per_passage: dict[int, int] = {}
        length = 0
        for _, rank, position, sentence in candidates:
            if len(chosen) == self.max_sentences:
                break
            if chosen and length + len(sentence) > self.max_chars:
                continue
            if per_passage.get(rank, 0) >= 2 or any(sentence == c[2] for c in chosen):
                continue
            chosen.append((rank, position, sentence))
            per_passage[rank] = per_passage.get(rank, 0) + 1
            length += len(sentence)
        chosen.sort()  # read in the order of relevance of the passages, then of the text

        numbers: dict[int, int] = {}
        snippets: dict[int, list[str]] = {}
        parts = []
        for rank, _, sentence in chosen:
            n = numbers.setdefault(rank, len(numbers) + 1)
            snippets.setdefault(rank, []).append(sentence)
            parts.append(f"{sentence} [{n}]")
        citations = [
            citation_for(n, passages[rank], " … ".join(snippets[rank]))
            for rank, n in sorted(numbers.items(), key=lambda item: item[1])
        ]
        text = message("lead_in", language) + "\n\n" + "\n".join(parts)
        return Answer(text=text, citations=citations, language=language)
