"""Question (+ conversation) -> cited answer: the one object every channel talks to.

small talk or an unanswered language? the assistant's own reply (``smalltalk``)
-> language -> retrieval query (follow-ups merged with the previous question)
-> HS-code lookup, if a tariff code is asked for
-> hybrid retrieval -> enough evidence? else refuse
-> LLM answer checked against the sources, or the extractive answer
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from assistant.answer import (
    Answer,
    CitationNumbers,
    Composer,
    Event,
    ExtractiveComposer,
    Trace,
    dated_notice,
    events,
)
from assistant.embeddings import NamedEmbeddings, make_embeddings, part_named
from assistant.glossary import expand_query
from assistant.hs import HSLookup
from assistant.hs_intent import asks_for_hs_code, product_description
from assistant.hs_languages import HSLanguages
from assistant.hs_precedents import Precedents
from assistant.language import detect_language, message
from assistant.lexical import LexicalIndex, tokenize
from assistant.llm import GroundingCheck, LLMComposer, make_chat_model
from assistant.retrieval import Passage, Retriever, Timings
from assistant.scope import asks_out_of_scope, unmatched_countries
from assistant.settings import Settings
from assistant.smalltalk import small_talk

__all__ = ["Assistant", "Event", "Turn", "merge_history"]

log = logging.getLogger(__name__)

_FOLLOW_UP = re.compile(
    r"^\s*(and|also|what about|how about|same|et|aussi|pareil|même|y|también|e|também|"
    r"و)\b|\b(it|that|this|them|those|ça|cela|ceci|eso|isso)\b",
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


@dataclass
class Evidence:
    """How well the best passages match: cosine similarity (None while the vectors are
    being built), the share of the question's idf weight they contain, and the penalty for
    a country the question names that none of the best passages does (passages on Brazil's
    tariffs rarely answer a question on Japan's, but a question may name its sender's)."""

    dense: float | None = None
    coverage: float = 0.0
    country_penalty: float = 0.0

    @property
    def score(self) -> float:
        found = self.coverage if self.dense is None else (max(self.dense, 0.0) + self.coverage) / 2
        return found - self.country_penalty


def _sentence_model(spec: str) -> NamedEmbeddings | None:
    """The sentence model, or None (words and cues only) when it cannot be loaded: a
    missing model file must not keep the server from answering."""
    try:
        return make_embeddings(spec)
    except Exception as exc:
        log.warning("sentence model %r unavailable (%s): ranking sentences by words", spec, exc)
        return None


@dataclass
class Assistant:
    settings: Settings
    retriever: Retriever
    lexical: LexicalIndex
    extractive: ExtractiveComposer
    hs: HSLookup
    llm: LLMComposer | None = None
    today: Callable[[], dt.date] = dt.date.today
    composer: Composer = field(init=False)

    def __post_init__(self) -> None:
        self.composer = self.llm or self.extractive

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store=None,
        dense_ready=None,
        lexical: LexicalIndex | None = None,
        sentences: NamedEmbeddings | None = None,
    ) -> Assistant:
        """Wire the real components; ``store`` may be None while the dense index is built.
        Pass the ``lexical`` index and ``sentences`` model of a previous assistant to keep
        one BM25 matrix and one sentence model in memory."""
        lexical = lexical or LexicalIndex(settings.lexical_path)
        retriever = Retriever(lexical, store, k=settings.retrieval_k, dense_ready=dense_ready)
        model = make_chat_model(settings)
        embeddings = store.embeddings if store is not None else None
        if sentences is None and settings.sentence_embedder:
            sentences = part_named(embeddings, settings.sentence_embedder) or _sentence_model(
                settings.sentence_embedder
            )
        extractive = ExtractiveComposer(lexical, sentences)
        llm = None
        if model is not None:
            check = GroundingCheck(embeddings)
            llm = LLMComposer(model, check, extractive, reads=settings.llm_passages)
        return cls(
            settings=settings,
            retriever=retriever,
            lexical=lexical,
            extractive=extractive,
            hs=HSLookup(
                lexical,
                embeddings,
                vector_cache=settings.vector_cache,
                languages=HSLanguages.load(settings.hs_languages),
                precedents=Precedents.load(settings.hs_precedents),
            ),
            llm=llm,
        )

    @classmethod
    def open(cls, settings: Settings) -> Assistant:
        """Load the embedder and the built index (raises IndexMissing / EmbedderMismatch)."""
        from assistant.embeddings import make_embeddings
        from assistant.store import chroma_client, vector_store

        embeddings = make_embeddings(settings.embedder, batch_size=settings.embed_batch_size)
        store = vector_store(chroma_client(settings), settings.collection, embeddings)
        return cls.from_settings(settings, store=store)

    # ------------------------------------------------------------ steps

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        """History-aware question for retrieval: the LLM's rewrite, else a merge."""
        merged = merge_history(question, history)
        if self.llm is None or merged == question:
            return merged
        from langchain_core.messages import HumanMessage

        from assistant import prompts

        transcript = "\n".join(f"{t.role}: {t.content}" for t in history[-6:])
        try:
            reply = self.llm.model.invoke(
                [HumanMessage(prompts.REWRITE.format(history=transcript, question=question))]
            )
            text = str(reply.content).strip()
        except Exception as exc:  # the LLM is optional: any failure means the merge
            log.warning("question rewrite failed: %s", exc)
            return merged
        return f"{text} {merged}" if text else merged

    @property
    def countries(self) -> Path:
        """The shipped country table (names in several languages)."""
        return self.settings.corpus_dir / "country-codes" / "country-codes.csv"

    def evidence(self, query: str, passages: list[Passage]) -> Evidence:
        tokens = tokenize(query)
        top = passages[:3]
        missing = unmatched_countries(query, [p.text for p in top], self.countries)
        return Evidence(
            dense=max((p.dense for p in top if p.dense is not None), default=None),
            coverage=max((self.extractive.coverage(tokens, p.text) for p in top), default=0.0),
            country_penalty=self.settings.refusal_country_penalty if missing else 0.0,
        )

    def _finalise(
        self,
        answer: Answer,
        passages: list[Passage],
        evidence: float | None = None,
        timings: Timings | None = None,
    ) -> Answer:
        answer.evidence = evidence
        answer.trace = Trace(timings or Timings(), [p.id for p in passages])
        answer.retrieved = list(dict.fromkeys(p.source for p in passages))
        answer.lexical_only = not self.retriever.dense_ready
        if answer.lexical_only and not answer.refused:
            answer.notices.append(message("lexical_only", answer.language))
        notice = dated_notice(answer.citations, answer.language, self.today().year)
        if notice:
            answer.notices.append(notice)
        return answer

    def _refusal(
        self,
        language: str,
        passages: list[Passage],
        evidence: float | None = None,
        timings: Timings | None = None,
    ) -> Answer:
        return self._finalise(
            Answer(
                text=message("refusal", language), refused=True, language=language, mode="refusal"
            ),
            passages,
            evidence,
            timings,
        )

    def _hs_answer(self, query: str, question: str, language: str) -> Answer | None:
        """HS codes for the product in ``query``; the words of ``question`` (this turn,
        with its English expansion) count double, so a follow-up's new words decide.
        When the best codes are too close to choose between, it asks what separates them,
        once: a follow-up's answer narrows the list without a second question."""
        description = product_description(query)
        weights = {t: 2.0 for t in tokenize(product_description(question))}
        result = self.hs.lookup(description, k=3, weights=weights)
        if not result:
            return None
        found = result.candidates
        numbers = CitationNumbers()
        lines = [
            f"- {c.code[:4]}.{c.code[4:]} ({c.code}): {c.description} — heading {c.heading} "
            f"[{numbers.number(c.passage, c.line)}]"
            for c in found
        ]
        citations = numbers.citations("\n")
        if result.unsure and query == question:
            options = " / ".join(f"“{d}”" for d in result.distinctions(language))
            text = "\n".join(
                [
                    message("hs_unsure", language),
                    *lines,
                    "",
                    message("hs_ask", language, options=options),
                ]
            )
        else:
            text = "\n".join([message("hs_lead_in", language), *lines])
        caveat = message("hs_caveat", language, edition=result.edition)
        answer = Answer(
            text=f"{text}\n\n{caveat}", citations=citations, language=language, mode="hs-lookup"
        )
        return self._finalise(answer, list({c.passage.id: c.passage for c in found}.values()))

    # ------------------------------------------------------------ public

    def answer(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: dict[str, str] | None = None,
    ) -> Answer:
        done = None
        for event in self.stream(question, history, filters):
            if event.kind == "done":
                done = event.data
        assert isinstance(done, Answer)
        return done

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: dict[str, str] | None = None,
    ) -> Iterator[Event]:
        if (own := small_talk(question)) is not None:
            yield from events(own)
            return
        language = detect_language(question)
        if asks_out_of_scope(question):
            yield from events(self._refusal(language, []))
            return
        query = self.rewrite(question, history)
        corpus = self.settings.corpus_dir
        expanded = expand_query(query, language, self.countries, corpus)

        if asks_for_hs_code(query):
            current = expand_query(question, language, self.countries, corpus)
            hs_answer = self._hs_answer(expanded, current, language)
            if hs_answer is not None:
                yield from events(hs_answer)
                return

        timings = Timings()
        passages = self.retriever.search(expanded, filters=filters, timings=timings)
        ranked = self.extractive.sentences(expanded, passages, language)
        passages = self.extractive.rerank(passages, ranked)
        evidence = self.evidence(expanded, passages).score
        # No quotable sentence in any passage (tables, headings): nothing to cite.
        if not ranked or evidence < self.settings.refusal_threshold:
            yield from events(self._refusal(language, passages, evidence, timings))
            return

        shown = passages[: self.composer.reads]
        for event in self.composer.stream(question, shown, language, ranked):
            if event.kind == "done":
                self._finalise(event.data, shown, evidence, timings)
            yield event
