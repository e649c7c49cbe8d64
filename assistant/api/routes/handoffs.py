"""The user's side of "Ask an adviser": ``POST /api/handoffs`` passes a question of a
conversation to the desk, and ``GET /api/conversations/{id}/events`` streams the
advisers' replies to the page while it is open (Server-Sent Events; ``EventSource``
reconnects by itself, and ``Last-Event-ID`` resumes after the last reply it got)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from assistant.advisers import HandoffLimited
from assistant.api.deps import (
    AdvisersDep,
    ConversationsDep,
    HandoffsDep,
    charge,
    client_digest,
    conversation_not_found,
    rate_limited,
)
from assistant.api.errors import ApiError
from assistant.api.schemas import (
    SSE_EVENTS,
    AdviserReplyOut,
    HandoffRequest,
    HandoffResponse,
    UserHandoffOut,
    error_responses,
)
from assistant.conversations import UnknownTurn
from assistant.handoffs import Handoffs

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["advisers"])

POLL_SECONDS = 2.0  # how often an open stream looks for new replies
STREAM_SECONDS = 300  # then the stream ends and the browser reconnects (a fresh check)
RECONNECT_MS = 3000

_EVENTS_DOC = """Server-Sent Events while the page is open, each with a JSON `data`:

- `reply`: an adviser's reply, with `handoff` (its hand-off id) and `turn` (the question
  it answers) besides the reply's own fields; its `id` is the reply's, which the browser
  sends back as `Last-Event-ID` when it reconnects;
- `handoff`: a hand-off of the conversation whose status changed (`new`, `assigned`,
  `answered`, `closed`).

The stream ends after five minutes; `EventSource` then reconnects by itself.
"""


@router.post(
    "/handoffs",
    status_code=201,
    responses={
        200: {"model": HandoffResponse, "description": "The question was handed off before"},
        **error_responses(400, 404, 413, 422, 429),
    },
)
def hand_off(
    request: Request,
    body: HandoffRequest,
    conversations: ConversationsDep,
    advisers: AdvisersDep,
) -> HandoffResponse:
    """Pass a question (a turn of a conversation) to the desk's advisers, who reply in
    the same conversation (and by e-mail to ``email``, if given and the server can send
    mail). Once per question: asking again returns the same hand-off (200)."""
    conversation_id = str(body.conversation_id)
    turns = conversations.turn_count(conversation_id)
    if turns is None:
        raise conversation_not_found(conversation_id)
    if body.turn > turns:
        raise ApiError(
            404,
            f"Conversation {conversation_id} has no turn {body.turn}.",
            code="turn_not_found",
            param="turn",
        )
    try:
        handoff = advisers.hand_off(
            conversation_id,
            body.turn,
            channel="web",
            client=client_digest(request),
            email=body.email,
        )
    except HandoffLimited as limited:
        raise rate_limited(limited.refusal, "Too many questions passed to the advisers") from None
    except UnknownTurn as exc:  # the conversation was deleted meanwhile
        raise conversation_not_found(conversation_id) from exc
    record = handoff.record
    response = HandoffResponse(
        handoff=UserHandoffOut.of(record),
        created=handoff.created,
        message=advisers.told(handoff, record.language),
    )
    if not handoff.created:
        return JSONResponse(response.model_dump(mode="json"), status_code=200)
    return response


def _reply_event(handoff_id: str, turn: int, reply) -> ServerSentEvent:
    data = {"handoff": handoff_id, "turn": turn, **AdviserReplyOut.of(reply).model_dump()}
    return ServerSentEvent(event="reply", id=str(reply.id), data=data, retry=RECONNECT_MS)


def _news(
    handoffs: Handoffs, conversation_id: str, after: int, statuses: dict[str, str]
) -> tuple[list[ServerSentEvent], int]:
    """The events since the last look: replies after ``after``, status changes against
    ``statuses`` (updated); web replies sent are marked seen."""
    found = handoffs.of_conversation(conversation_id)
    events, seen = [], []
    for turn, record in sorted(found.items()):
        if statuses.get(record.id) != record.status:
            if record.id in statuses:
                status = {"handoff": record.id, "turn": turn, "status": record.status}
                events.append(ServerSentEvent(event="handoff", data=status))
            statuses[record.id] = record.status
        for reply in record.replies:
            if reply.id > after:
                events.append(_reply_event(record.id, turn, reply))
                seen.append(reply.id)
    handoffs.mark_seen(seen)
    return events, max([after, *seen])


def _watched(request: Request, conversation_id: uuid.UUID, conversations: ConversationsDep) -> str:
    """The conversation to watch, checked (and the read counted) before the stream opens."""
    key = str(conversation_id)
    if conversations.turn_count(key) is None:
        raise conversation_not_found(key)
    charge(request, "reads")
    return key


@router.get(
    "/conversations/{conversation_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"content": SSE_EVENTS}, **error_responses(404, 422)},
    description=_EVENTS_DOC,
)
async def conversation_events(
    request: Request,
    key: Annotated[str, Depends(_watched)],
    handoffs: HandoffsDep,
    after: Annotated[
        int, Query(ge=0, le=2**62, description="Replies after this reply id only.")
    ] = 0,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """The advisers' replies to this conversation as they come."""
    if last_event_id and last_event_id.isdigit():
        after = max(after, int(last_event_id))
    statuses: dict[str, str] = {}
    deadline = time.monotonic() + STREAM_SECONDS
    while time.monotonic() < deadline and not await request.is_disconnected():
        events, after = await run_in_threadpool(_news, handoffs, key, after, statuses)
        for event in events:
            yield event
        await asyncio.sleep(POLL_SECONDS)
