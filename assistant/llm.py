"""LLM mode: any LangChain chat model writes the answer; the sources then check it.

After generation every ``[n]`` must name a passage that was given, and each sentence
must be supported by the passages it cites (shared words, or embedding similarity
when the answer is in another language than the source). Unsupported sentences are
dropped; if nothing cited survives, or the model fails, the extractive answer stands in.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from assistant import prompts
from assistant.answer import Answer, CitationNumbers, Event, ExtractiveComposer
from assistant.injection import clean_passages, strip_urls
from assistant.language import message
from assistant.lexical import tokenize
from assistant.retrieval import Passage
from assistant.sentences import split_sentences
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.query import Query
    from assistant.reader import Read

__all__ = ["GroundingCheck", "LLMComposer", "make_chat_model"]

log = logging.getLogger(__name__)

_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_ANY_MARKER = re.compile(r"\[(?:[^\]]{0,20})\]")


def make_chat_model(settings: Settings) -> BaseChatModel | None:
    """The configured chat model, or None for the offline (extractive) mode."""
    if not settings.llm:
        return None
    from langchain.chat_models import init_chat_model

    kwargs: dict = {"temperature": 0, "timeout": settings.llm_timeout, "max_retries": 0}
    if settings.llm_base_url:
        kwargs["base_url"] = settings.llm_base_url
    if settings.llm_api_key:
        kwargs["api_key"] = settings.llm_api_key.get_secret_value()
    elif settings.llm_base_url:
        kwargs["api_key"] = "not-needed"  # local servers (llama.cpp, vLLM) take no key
    spec = settings.llm
    if settings.llm_base_url and ":" not in spec:
        spec = f"openai:{spec}"  # an OpenAI-compatible server (vLLM, llama.cpp, LM Studio)
    return init_chat_model(spec, **kwargs)


_FENCE_END = re.compile(r"</\s*source", re.IGNORECASE)  # </source> and </sources>


def build_messages(question: str, passages: list[Passage], language: str) -> list:
    passages = clean_passages(passages)  # the model never reads instructions aimed at it
    sources = "\n".join(
        prompts.SOURCE.format(
            n=n,
            # A document's title or text must not close its fence or the data block.
            title=html.escape(str(p.metadata.get("title", ""))),
            section=html.escape(str(p.metadata.get("section", ""))),
            date=html.escape(str(p.metadata.get("date", ""))),
            text=_FENCE_END.sub("</ source", p.body),
        )
        for n, p in enumerate(passages, 1)
    )
    return [
        SystemMessage(
            prompts.SYSTEM.format(language=prompts.LANGUAGE_NAMES.get(language, "English"))
        ),
        HumanMessage(prompts.USER.format(sources=sources, question=question)),
    ]


@dataclass
class GroundingCheck:
    """Decides whether a sentence is supported by the passages it cites."""

    embeddings: Embeddings | None = None
    min_overlap: float = 0.5
    min_similarity: float = 0.55

    def overlap(self, sentence: str, passage: Passage) -> float:
        words = set(tokenize(sentence))
        if not words:
            return 0.0
        return len(words & set(tokenize(passage.text))) / len(words)

    def similarity(self, sentence: str, passages: list[Passage]) -> float:
        if self.embeddings is None or not passages:
            return 0.0
        vectors = np.array(self.embeddings.embed_documents([sentence] + [p.body for p in passages]))
        return float(np.max(vectors[1:] @ vectors[0]))

    def supported(self, sentence: str, cited: list[Passage]) -> bool:
        if any(self.overlap(sentence, p) >= self.min_overlap for p in cited):
            return True
        return self.similarity(sentence, cited) >= self.min_similarity


class LLMComposer:
    """The model's answer, checked against the passages (see ``assistant.answer.Composer``);
    ``fallback`` answers when the model fails or cites nothing it may."""

    def __init__(
        self,
        model: BaseChatModel,
        check: GroundingCheck,
        fallback: ExtractiveComposer | None = None,
        *,
        reads: int | None = None,
    ) -> None:
        self.model = model
        self.check = check
        self.fallback = fallback
        self.reads = reads

    def stream(self, query: Query, passages: list[Passage], ranked: list[Read]) -> Iterator[Event]:
        """The model's tokens as it writes them, then the checked answer's citations and
        the answer; the fallback's answer (from ``ranked``), noticed, when the model fails
        or no sentence survives the check."""
        assert self.fallback is not None
        question, language = query.text, query.language
        raw: list[str] = []
        try:
            for token in self.tokens(question, passages, language):
                raw.append(token)
                yield Event("delta", token)
        except Exception as exc:  # timeouts, refused connections, bad replies: never a 500
            log.warning("LLM failed, answering extractively: %s", exc)
            answer = self.fallback.answer(self.fallback.choose(ranked), language)
            answer.notices.insert(0, message("llm_unavailable", language))
        else:
            checked = self.finish("".join(raw), passages, language)
            if checked is None:
                checked = self.fallback.answer(self.fallback.choose(ranked), language)
                checked.notices.insert(0, message("llm_fallback", language))
            answer = checked
        yield Event("citations", answer.citations)
        yield Event("done", answer)

    def tokens(self, question: str, passages: list[Passage], language: str) -> Iterator[str]:
        """Raw tokens as the model writes them (unchecked: ``finish`` checks the whole)."""
        for chunk in self.model.stream(build_messages(question, passages, language)):
            text = chunk.content if isinstance(chunk.content, str) else ""
            if text:
                yield text

    def finish(self, raw: str, passages: list[Passage], language: str) -> Answer | None:
        """The checked answer, or None when no sentence is both cited and supported.

        Links survive only to the sources' own addresses: a reply that a document talked
        into linking elsewhere (an image that would send the chat away) loses the link."""
        passages = clean_passages(passages)
        allowed = {str(p.metadata.get("url", "")) for p in passages}
        kept: list[str] = []
        numbers = CitationNumbers()
        dropped = 0
        for sentence in _sentences(raw):
            given = [
                int(n)
                for group in _MARKER.findall(sentence)
                for n in group.split(",")
                if 1 <= int(n.strip()) <= len(passages)
            ]
            plain = _ANY_MARKER.sub("", strip_urls(sentence, allowed))
            plain = re.sub(r"\s+([.,;:!?])", r"\1", plain).strip()
            cited = [passages[n - 1] for n in dict.fromkeys(given)]
            if not plain:
                continue
            if not cited or not self.check.supported(plain, cited):
                dropped += 1
                continue
            # Renumbered: citations read 1, 2, 3 in the order they are first used.
            markers = "".join(f"[{numbers.number(p, _best_snippet(plain, p))}]" for p in cited)
            end = plain[-1] if plain[-1] in ".!?" else ""
            kept.append(f"{plain[: len(plain) - len(end)]} {markers}{end}")
        if not kept:
            return None
        answer = Answer(
            text=" ".join(kept), citations=numbers.citations(), language=language, mode="llm"
        )
        if dropped:
            answer.notices.append(f"{dropped} unsupported sentence(s) removed")
        return answer


def _sentences(raw: str) -> list[str]:
    """Sentences of the model's reply, each keeping the markers that follow it."""
    raw = re.sub(r"\s+", " ", raw).strip()
    parts = re.split(r"(?<=[.!?])(\s*(?:\[[\d,\s]+\]\s*)*)\s+", raw)
    sentences, i = [], 0
    while i < len(parts):
        sentence = parts[i] + (parts[i + 1] if i + 1 < len(parts) and parts[i + 1] else "")
        sentences.append(sentence.strip())
        i += 2
    return [s for s in sentences if s]


def _best_snippet(sentence: str, passage: Passage) -> str:
    words = set(tokenize(sentence))
    language = str(passage.metadata.get("language", ""))
    candidates = split_sentences(passage.body, language) or [passage.body[:300]]
    return max(candidates, key=lambda s: len(words & set(tokenize(s))))
