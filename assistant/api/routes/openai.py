"""An OpenAI-compatible face: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Any OpenAI client (SDKs, chat front-ends) can use the assistant: the last user message
is the question, the earlier user and assistant messages its history. The answer's
sources come twice: as a "Sources" block at the end of the content, for people, and
as ``citations`` on the response (on the last chunk when streamed), for programs.
Nothing is stored: the client holds the conversation, as the OpenAI API expects.

When streamed, the text sent is the final, checked answer (in LLM mode the draft is
checked against the sources first), since an OpenAI client cannot take text back.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.sse import EventSourceResponse, format_sse_event

from assistant import source_list
from assistant.answer import Answer
from assistant.api.deps import AnswererDep, SettingsDep, charge, check_length, check_message
from assistant.api.errors import ApiError, stream_error
from assistant.api.schemas import SSE_EVENTS, CitationOut, error_responses
from assistant.api.schemas.openai import (
    MODEL_ID,
    AnswerInfo,
    Choice,
    Completion,
    CompletionMessage,
    CompletionRequest,
    Model,
    ModelList,
)
from assistant.approved import ApprovedFirst
from assistant.pipeline import Turn
from assistant.settings import Settings

__all__ = ["MODEL_ID", "router", "sources_block"]

_CREATED = 1767225600  # 2026-01-01, a fixed "created" for the one model
SOURCES_HEADING = "Sources:"
router = APIRouter(prefix="/v1", tags=["openai"])


@router.get("/models")
def list_models() -> ModelList:
    """The one model: this assistant."""
    return ModelList(data=[Model(id=MODEL_ID, created=_CREATED, owned_by="export-assistant")])


def _question(body: CompletionRequest, settings: Settings) -> tuple[str, list[Turn]]:
    """The question and its history; every message is held to the question's length (an
    earlier answer without its Sources block), so no history message is a way around it."""
    last = body.messages[-1]
    if last.role != "user":
        raise ApiError(
            422,
            "The last message must be the user's question.",
            code="no_question",
            param="messages",
        )
    for index, message in enumerate(body.messages[:-1]):
        text = _without_sources(message.text)
        check_length(text, settings, what=f"Message {index}", param=f"messages.{index}")
    history = [
        Turn(m.role, _without_sources(m.text))
        for m in body.messages[:-1]
        if m.role in ("user", "assistant") and m.text.strip()
    ]
    return check_message(last.text, settings), history[-2 * settings.history_turns :]


def _without_sources(text: str) -> str:
    """An earlier answer of ours without its Sources block (the history is about words)."""
    head, _, _ = text.partition(f"\n\n{SOURCES_HEADING}\n")
    return head


def sources_block(answer: Answer, base_url: str) -> str:
    """The notices and numbered sources that follow the answer in ``content``."""
    lines = [f"\n\nNote: {notice}" for notice in answer.notices]
    if answer.citations:
        lines.append(f"\n\n{SOURCES_HEADING}")
        for c in answer.citations:
            about = ", ".join(part for part in (c.publisher, c.date) if part)
            links = [c.url, source_list.page_link(c, base_url)]
            lines.append("\n" + source_list.entry(c, links, about=about, indent="    "))
    return "".join(lines)


def _info(answer: Answer) -> AnswerInfo:
    return AnswerInfo(
        refused=answer.refused,
        language=answer.language,
        mode=answer.mode,
        notices=answer.notices,
        lexical_only=answer.lexical_only,
        confidence=answer.confidence,
    )


@router.post(
    "/chat/completions",
    responses={
        **error_responses(400, 413, 422, 429, 503),
        200: {"content": SSE_EVENTS},
    },
)
def chat_completions(
    body: CompletionRequest, request: Request, assistant: AnswererDep, settings: SettingsDep
) -> Completion:
    """A chat completion from the assistant; ``stream: true`` for Server-Sent Events
    (``chat.completion.chunk`` objects, then ``[DONE]``)."""
    question, history = _question(body, settings)
    charge(request, "questions")
    filters = (body.filters.as_dict() if body.filters else None) or None
    base_url = str(request.base_url)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if body.stream:
        events = _stream(
            assistant,
            question,
            history,
            filters,
            base_url,
            completion_id,
            created,
            settings.chroma_url,
        )
        return EventSourceResponse(events, headers={"Cache-Control": "no-cache"})
    answer = assistant.answer(question, history, filters)
    content = answer.text + sources_block(answer, base_url)
    return Completion(
        id=completion_id,
        created=created,
        choices=[Choice(message=CompletionMessage(content=content))],
        citations=[CitationOut.of(c) for c in answer.citations],
        answer=_info(answer),
    )


def _sse(data: dict | str) -> bytes:
    return format_sse_event(data_str=data if isinstance(data, str) else json.dumps(data))


def _chunk(completion_id: str, created: int, delta: dict, finish: str | None = None, **extra):
    return _sse(
        {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
    )


def _stream(
    assistant: ApprovedFirst,
    question: str,
    history: list[Turn],
    filters: dict[str, str] | None,
    base_url: str,
    completion_id: str,
    created: int,
    chroma_url: str | None,
) -> Iterator[bytes]:
    yield _chunk(completion_id, created, {"role": "assistant", "content": ""})
    try:
        answer = assistant.answer(question, history, filters)
    except Exception as exc:  # the status line is sent: the error becomes a chunk
        yield _sse({"error": stream_error(exc, chroma_url)})
        return
    for line in (answer.text + sources_block(answer, base_url)).splitlines(keepends=True):
        yield _chunk(completion_id, created, {"content": line})
    citations = [CitationOut.of(c).model_dump() for c in answer.citations]
    info = _info(answer).model_dump()
    yield _chunk(completion_id, created, {}, "stop", citations=citations, answer=info)
    yield _sse("[DONE]")
