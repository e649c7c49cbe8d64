"""``GET /api/conversations/{id}``: a conversation's turns, with their citations."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from assistant.api.deps import ConversationsDep, conversation_not_found
from assistant.api.schemas import ConversationOut, error_responses
from assistant.conversations import UnknownConversation

__all__ = ["router"]

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


@router.get("/{conversation_id}", responses=error_responses(404, 422))
def get_conversation(
    conversation_id: uuid.UUID, conversations: ConversationsDep
) -> ConversationOut:
    """Every question and answer of the conversation, oldest first, with their feedback."""
    try:
        return ConversationOut.of(conversations.get(str(conversation_id)))
    except UnknownConversation as exc:
        raise conversation_not_found(str(conversation_id)) from exc
