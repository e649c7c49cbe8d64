"""``POST /api/chat`` and its streamed twin: a question in, a cited answer out, saved as
the next turn of its conversation."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.sse import EventSourceResponse, ServerSentEvent

from assistant.advisers import Advisers, HandoffLimited
from assistant.answer import Answer
from assistant.api.deps import (
    AdvisersDep,
    AnswererDep,
    ChatContext,
    ChatContextDep,
    ConversationsDep,
    SettingsDep,
    conversation_full,
)
from assistant.api.errors import error_body, stream_error
from assistant.api.schemas import ChatResponse, CitationOut, UserHandoffOut, error_responses
from assistant.conversations import ConversationFull, SavedTurn

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["chat"])

_ERRORS = (400, 404, 409, 413, 422, 503, 507)

_STREAM_DOC = """Server-Sent Events, each with a JSON `data`:

- `delta`: a piece of the answer's text (a string), as it is written;
- `citations`: the list of citations;
- `done`: the final object, as `POST /api/chat` returns it (in LLM mode its `answer`,
  checked against the sources, replaces the text streamed so far);
- `error`: `{"message", "type", "param", "code"}` if answering failed after the stream
  opened: the same codes as the JSON errors (`vector_store_unavailable`, `database_busy`,
  `storage_full`...), else `answer_failed`.
"""


def _response(
    context: ChatContext, saved: SavedTurn, answer: Answer, advisers: Advisers
) -> ChatResponse:
    """The answer as returned; a refusal handed off at once when ``handoff_on_refusal``
    is "auto" (the hand-off's message joins its notices)."""
    response = ChatResponse.of(saved.conversation_id, saved.n, answer)
    if answer.mode != "refusal" or advisers.settings.handoff_on_refusal != "auto":
        return response
    try:
        handoff = advisers.hand_off(
            saved.conversation_id, saved.n, channel="web", client=context.client
        )
    except HandoffLimited:
        return response  # the refusal stands; the user may still ask later
    response.handoff = UserHandoffOut.of(handoff.record)
    response.notices.append(advisers.told(handoff, answer.language))
    return response


@router.post("/chat", responses=error_responses(*_ERRORS))
def chat(
    context: ChatContextDep,
    assistant: AnswererDep,
    conversations: ConversationsDep,
    advisers: AdvisersDep,
    settings: SettingsDep,
) -> ChatResponse:
    """Answer a question, in the conversation given or a new one, with citations (an
    answer the desk approved for the same question comes first: ``mode: "approved"``)."""
    answer = assistant.answer(context.message, context.history, context.filters)
    try:
        saved = conversations.add_turn(
            context.conversation_id,
            context.message,
            answer,
            client=context.client,
            max_turns=settings.max_turns,
        )
    except ConversationFull as exc:  # questions asked together: one of them took the last turn
        raise conversation_full(settings) from exc
    return _response(context, saved, answer, advisers)


@router.post(
    "/chat/stream",
    response_class=EventSourceResponse,
    responses=error_responses(*_ERRORS, streaming=True),
    description=_STREAM_DOC,
)
def chat_stream(
    context: ChatContextDep,
    assistant: AnswererDep,
    conversations: ConversationsDep,
    settings: SettingsDep,
    advisers: AdvisersDep,
) -> Iterator[ServerSentEvent]:
    """The same answer as ``POST /api/chat``, streamed as it is written."""
    try:
        for event in assistant.stream(context.message, context.history, context.filters):
            if event.kind == "delta":
                yield ServerSentEvent(event="delta", data=event.data)
            elif event.kind == "citations":
                citations = [CitationOut.of(c).model_dump() for c in event.data]
                yield ServerSentEvent(event="citations", data=citations)
            elif event.kind == "done":
                saved = conversations.add_turn(
                    context.conversation_id,
                    context.message,
                    event.data,
                    client=context.client,
                    max_turns=settings.max_turns,
                )
                done = _response(context, saved, event.data, advisers)
                yield ServerSentEvent(event="done", data=done)
    except ConversationFull:
        full = conversation_full(settings)
        error = error_body(409, full.detail, code=full.code, param=full.param)
        yield ServerSentEvent(event="error", data=error)
    except Exception as exc:  # the status line is sent: the error becomes an event
        yield ServerSentEvent(event="error", data=stream_error(exc, settings.chroma_url))
