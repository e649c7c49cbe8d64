"""Question (+ conversation) -> cited answer: the one object every channel talks to.

small talk or an unanswered language? the assistant's own reply (``smalltalk``)
-> the question understood once (``query.understand``: language, follow-up merged with
   the question before, English words of its French terms, intent)
-> live data or a writing task? refuse; an HS code asked for? the HS lookup
-> the reader's candidates (``Retriever.pool``) -> every unit scored (``Reader``)
-> how likely is the best reading to answer (``Confidence``)? below the operating
   point: say so, list the closest sources, offer an adviser
-> the extractive answer (or an LLM's, checked against the sources)
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
from assistant.confidence import Confidence, confidence_features
from assistant.embeddings import NamedEmbeddings, make_embeddings, part_named
from assistant.hs import HSLookup
from assistant.hs_intent import product_description
from assistant.hs_languages import HSLanguages
from assistant.hs_precedents import Precedents
from assistant.language import message
from assistant.lexical import LexicalIndex, tokenize
from assistant.llm import GroundingCheck, LLMComposer, make_chat_model
from assistant.query import Query, Turn, merge_history, understand
from assistant.reader import Reader, Reading
from assistant.retrieval import Passage, Retriever, Timings
from assistant.scope import unmatched_countries
from assistant.settings import Settings
from assistant.smalltalk import small_talk
from assistant.units import UnitIndex

__all__ = ["Assistant", "Event", "Turn", "merge_history"]

log = logging.getLogger(__name__)

MAY_HELP = 3  # closest sources listed when the assistant does not answer


def _sentence_model(spec: str) -> NamedEmbeddings | None:
    """The sentence model, or None (words and cues only) when it cannot be loaded: a
    missing model file must not keep the server from answering."""
    try:
        return make_embeddings(spec)
    except Exception as exc:
        log.warning("sentence model %r unavailable (%s): ranking units by words", spec, exc)
        return None


@dataclass
class Assistant:
    settings: Settings
    retriever: Retriever
    lexical: LexicalIndex
    reader: Reader
    confidence: Confidence
    extractive: ExtractiveComposer
    hs: HSLookup
    llm: LLMComposer | None = None
    today: Callable[[], dt.date] = dt.date.today
    composer: Composer = field(init=False)

    def __post_init__(self) -> None:
        self.composer = self.llm or self.extractive

    @property
    def sentence_embeddings(self) -> NamedEmbeddings | None:
        """The fast multilingual model that embeds units (also groups the report's topics)."""
        return self.reader.units.embeddings

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store=None,
        dense_ready=None,
        lexical: LexicalIndex | None = None,
        units: UnitIndex | None = None,
    ) -> Assistant:
        """Wire the real components; ``store`` may be None while the dense index is built.
        Pass the ``lexical`` index and the ``units`` of a previous assistant to keep one
        BM25 matrix, one sentence model and one store of units in memory."""
        lexical = lexical or LexicalIndex(settings.lexical_path)
        retriever = Retriever(
            lexical,
            store,
            k=settings.retrieval_k,
            pool_size=settings.reader_pool,
            dense_ready=dense_ready,
        )
        model = make_chat_model(settings)
        embeddings = store.embeddings if store is not None else None
        if units is None:
            sentences = None
            if settings.sentence_embedder:
                sentences = part_named(embeddings, settings.sentence_embedder) or _sentence_model(
                    settings.sentence_embedder
                )
            units = UnitIndex(settings.data_dir / "units.sqlite", sentences)
        extractive = ExtractiveComposer()
        llm = None
        if model is not None:
            check = GroundingCheck(embeddings)
            llm = LLMComposer(model, check, extractive, reads=settings.llm_passages)
        return cls(
            settings=settings,
            retriever=retriever,
            lexical=lexical,
            reader=Reader(lexical, units),
            confidence=Confidence.load(),
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
        from assistant.store import chroma_client, vector_store

        embeddings = make_embeddings(settings.embedder, batch_size=settings.embed_batch_size)
        store = vector_store(chroma_client(settings), settings.collection, embeddings)
        return cls.from_settings(settings, store=store)

    def read_ahead(self, stop: Callable[[], bool] = lambda: False) -> int:
        """Make the units of every indexed chunk that has none yet (the server does it in
        the background once the vectors are attached); returns how many chunks."""
        return self.reader.units.fill(self.lexical.records(lambda _: True), stop=stop)

    # ------------------------------------------------------------ steps

    def rewrite(self, question: str, history: Sequence[Turn]) -> str | None:
        """The LLM's standalone version of a follow-up, or None (no LLM, not a follow-up,
        or the LLM failed: the question merged with the one before is searched alone)."""
        if self.llm is None or merge_history(question, history) == question:
            return None
        from langchain_core.messages import HumanMessage

        from assistant import prompts

        transcript = "\n".join(f"{t.role}: {t.content}" for t in history[-6:])
        try:
            reply = self.llm.model.invoke(
                [HumanMessage(prompts.REWRITE.format(history=transcript, question=question))]
            )
            return str(reply.content).strip() or None
        except Exception as exc:  # the LLM is optional: any failure means the merge
            log.warning("question rewrite failed: %s", exc)
            return None

    @property
    def countries(self) -> Path:
        """The shipped country table (names in several languages)."""
        return self.settings.corpus_dir / "country-codes" / "country-codes.csv"

    def understand(self, question: str, history: Sequence[Turn] = ()) -> Query:
        return understand(
            question,
            history,
            corpus_dir=self.settings.corpus_dir,
            rewritten=self.rewrite(question, history),
        )

    def rate(self, query: Query, reading: Reading) -> float:
        """The confidence that the best reading answers ``query`` (0..1)."""
        top = [p.text for p in reading.passages[:3]]
        missing = bool(unmatched_countries(query.expanded, top, self.countries))
        return self.confidence(confidence_features(reading.reads, reading.features, missing))

    def _finalise(
        self,
        answer: Answer,
        passages: list[Passage],
        timings: Timings | None = None,
        confidence: float | None = None,
    ) -> Answer:
        answer.confidence = confidence
        answer.evidence = max((p.dense for p in passages[:3] if p.dense is not None), default=None)
        answer.trace = Trace(
            timings or Timings(), [p.id for p in passages], [p.text for p in passages]
        )
        answer.retrieved = list(dict.fromkeys(p.source for p in passages))
        answer.lexical_only = not self.retriever.dense_ready
        if answer.lexical_only and not answer.refused:
            answer.notices.append(message("lexical_only", answer.language))
        notice = dated_notice(answer.citations, answer.language, self.today().year)
        if notice and not answer.refused:
            answer.notices.append(notice)
        return answer

    def _refusal(
        self,
        language: str,
        passages: list[Passage],
        timings: Timings | None = None,
        confidence: float | None = None,
        reason: str = "refusal",
    ) -> Answer:
        """Says the sources do not answer, lists the closest ones (citing no claim of
        theirs: no snippet), and offers an adviser."""
        numbers = CitationNumbers()
        closest = list({p.source: p for p in passages}.values())[:MAY_HELP]
        lines = []
        for passage in closest:
            n = numbers.number(passage, "")
            title = str(passage.metadata.get("title", "")) or passage.source
            section = str(passage.metadata.get("section", ""))
            lines.append(
                f"- {title}" + (f" — {section}" if section and section != title else "") + f" [{n}]"
            )
        parts = [message(reason, language)]
        if lines:
            parts.append(message("may_help", language) + "\n" + "\n".join(lines))
        parts.append(message("ask_adviser", language))
        answer = Answer(
            text="\n\n".join(parts),
            citations=numbers.citations(),
            refused=True,
            language=language,
            mode="refusal",
        )
        return self._finalise(answer, passages, timings, confidence)

    def _hs_answer(self, query: Query) -> Answer | None:
        """HS codes for the product in ``query``; the words of this turn (with their
        English expansion) count double, so a follow-up's new words decide. When the
        best codes are too close to choose between, it asks what separates them, once:
        a follow-up's answer narrows the list without a second question."""
        language = query.language
        description = product_description(query.expanded)
        weights = {t: 2.0 for t in tokenize(product_description(query.current))}
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
        if result.unsure and not query.follow_up:
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
        query = self.understand(question, history)
        if query.intent == "out-of-scope":
            yield from events(self._refusal(query.language, [], reason="out_of_scope"))
            return
        if query.intent == "hs-code" and (hs_answer := self._hs_answer(query)) is not None:
            yield from events(hs_answer)
            return

        timings = Timings()
        pool = self.retriever.pool(query.expanded, filters=filters, timings=timings)
        started = time.perf_counter()
        reading = self.reader.read(query, pool)
        confidence = self.rate(query, reading)
        timings.read += time.perf_counter() - started
        passages = reading.passages
        if not reading.reads or confidence < self.settings.refusal_threshold:
            yield from events(self._refusal(query.language, passages, timings, confidence))
            return

        shown = passages[: self.composer.reads]
        for event in self.composer.stream(query, shown, reading.reads):
            if event.kind == "done":
                self._finalise(
                    event.data, passages[: self.settings.retrieval_k], timings, confidence
                )
            yield event
