"""``GET /api/conversations/{id}``: a conversation's turns, with their citations, a page
at a time."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from assistant.api.deps import ConversationsDep, charge, conversation_not_found
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
    after: Annotated[
        int, Query(ge=0, le=TURN_LIMIT, description="Turns numbered after this one.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=100, description="Most turns returned.")] = 20,
) -> ConversationOut:
    """The questions and answers of the conversation, oldest first, with their feedback;
    ``next_after`` gives the next page."""
    charge(request, "reads")
    try:
        return ConversationOut.of(conversations.page(str(conversation_id), after, limit))
    except UnknownConversation as exc:
        raise conversation_not_found(str(conversation_id)) from exc
