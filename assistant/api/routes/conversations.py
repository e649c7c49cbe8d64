"""``GET /api/conversations/{id}``: a conversation's turns, with their citations, a page
at a time."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from assistant.api.deps import ConversationsDep, HandoffsDep, charge, conversation_not_found
from assistant.api.schemas import ConversationOut, error_responses
from assistant.conversations import UnknownConversation
from assistant.settings import TURN_LIMIT

__all__ = ["router"]

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


@router.get("/{conversation_id}", responses=error_responses(404, 422))
def get_conversation(
    request: Request,
    conversation_id: uuid.UUID,
    conversations: ConversationsDep,
    handoffs: HandoffsDep,
    after: Annotated[
        int, Query(ge=0, le=TURN_LIMIT, description="Turns numbered after this one.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=100, description="Most turns returned.")] = 20,
) -> ConversationOut:
    """The questions and answers of the conversation, oldest first, with their feedback
    and the advisers' replies to those handed off; ``next_after`` gives the next page."""
    charge(request, "reads")
    key = str(conversation_id)
    try:
        page = conversations.page(key, after, limit)
    except UnknownConversation as exc:
        raise conversation_not_found(key) from exc
    found = handoffs.of_conversation(key)
    handoffs.mark_seen([r.id for t in page.turns if t.n in found for r in found[t.n].replies])
    return ConversationOut.of(page, found)
