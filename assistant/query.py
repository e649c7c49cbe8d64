"""A question understood once: what every later step reads.

The question used to be re-derived at each step (language, follow-up merge, expansion,
tokens, intent), each step calling the helpers of the one before. ``understand`` builds
one ``Query`` from the user's words and the conversation, and the retriever, the reader,
the HS lookup and the composer all read it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from assistant.glossary import expand_query
from assistant.hs_intent import asks_for_hs_code
from assistant.language import detect_language
from assistant.lexical import tokenize
from assistant.scope import asks_out_of_scope

__all__ = ["Intent", "Query", "Turn", "merge_history", "understand"]

Intent = Literal["question", "hs-code", "out-of-scope"]

_FOLLOW_UP = re.compile(
    r"^\s*(and|also|what about|how about|same|et|aussi|pareil|même|y|también|e|também|"
    r"و)\b|\b(it|that|this|them|those|ça|cela|ceci|eso|isso)\b",
    re.IGNORECASE,
)

# Questions whose answer is a quantity, a date or a duration (the classic answer-type
# cue of extractive QA): the reader weighs sentences holding one of those.
_ASKS_QUANTITY = re.compile(
    r"\b(how (long|many|much|early|soon|old|late)|when|since when|what (percentage|rate|fine|"
    r"penalty|fee|cost|price|amount|deadline)|deadline|cost|fine|fee|penalty|rate|"
    r"combien|quand|depuis quand|quel (d[ée]lai|taux|montant|prix)|d[ée]lai|"
    r"cu[áa]nto|cu[áa]ndo|qu[ée] plazo|plazo|quanto|quando|prazo)\b",
    re.IGNORECASE,
)


@dataclass
class Turn:
    role: Literal["user", "assistant"]
    content: str


def merge_history(question: str, history: Sequence[Turn]) -> str:
    """The retrieval query for a follow-up: the previous question, then this one twice,
    so that BM25 weighs the new words ("for kitchens?") above the old ones."""
    previous = [t.content for t in history if t.role == "user"]
    if not previous:
        return question
    short = len(tokenize(question)) <= 5
    if not (short or _FOLLOW_UP.search(question)):
        return question
    return f"{previous[-1]} {question} {question}"


@dataclass(frozen=True)
class Query:
    """One turn's question, understood."""

    text: str  # the user's words, this turn
    language: str  # the language to answer in
    retrieval: str  # what is searched: follow-ups merged with the question before
    expanded: str  # ``retrieval`` and the English words of its French/Spanish terms
    current: str  # this turn's words, expanded the same way (the HS lookup weighs them)
    intent: Intent
    wants_quantity: bool  # asks how much, how long, when…
    history: tuple[Turn, ...] = ()
    _vectors: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @property
    def tokens(self) -> list[str]:
        return tokenize(self.expanded)

    @property
    def follow_up(self) -> bool:
        return self.retrieval != self.text

    def vector(self, embeddings) -> np.ndarray:
        """``expanded`` embedded by ``embeddings`` (a ``NamedEmbeddings``), once per model."""
        name = embeddings.name
        if name not in self._vectors:
            self._vectors[name] = np.asarray(embeddings.embed_query(self.expanded), np.float32)
        return self._vectors[name]


def understand(
    question: str,
    history: Sequence[Turn] = (),
    *,
    corpus_dir: Path | None = None,
    rewritten: str | None = None,
) -> Query:
    """The ``Query`` of ``question`` asked after ``history`` (``rewritten``: an LLM's
    standalone version of a follow-up, searched before the merged words)."""
    earlier = [t.content for t in history if t.role == "user"]
    language = detect_language(question, earlier=earlier)
    retrieval = merge_history(question, history)
    if rewritten:
        retrieval = f"{rewritten} {retrieval}"
    countries = corpus_dir / "country-codes" / "country-codes.csv" if corpus_dir else None

    def expand(text: str) -> str:
        return expand_query(text, language, countries, corpus_dir)

    intent: Intent = "question"
    if asks_out_of_scope(question):
        intent = "out-of-scope"
    elif asks_for_hs_code(retrieval):
        intent = "hs-code"
    return Query(
        text=question,
        language=language,
        retrieval=retrieval,
        expanded=expand(retrieval),
        current=expand(question),
        intent=intent,
        wants_quantity=bool(_ASKS_QUANTITY.search(retrieval)),
        history=tuple(history),
    )
