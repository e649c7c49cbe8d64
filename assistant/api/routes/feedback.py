"""``POST /api/feedback``: thumbs up or down on one answer, with an optional comment."""

from __future__ import annotations

from fastapi import APIRouter

from assistant.api.deps import ConversationsDep, SettingsDep, conversation_not_found
from assistant.api.errors import ApiError
from assistant.api.schemas import FeedbackOut, FeedbackRequest, error_responses
from assistant.conversations import UnknownConversation, UnknownTurn

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["feedback"])


@router.post("/feedback", status_code=201, responses=error_responses(400, 404, 413, 422))
def give_feedback(
    body: FeedbackRequest, conversations: ConversationsDep, settings: SettingsDep
) -> FeedbackOut:
    """Record the rating of a turn; a second rating of the same turn replaces the first."""
    comment = (body.comment or "").strip() or None
    if comment and len(comment) > settings.max_comment_chars:
        raise ApiError(
            422,
            f"The comment is {len(comment)} characters long; the limit is "
            f"{settings.max_comment_chars}.",
            code="comment_too_long",
            param="comment",
        )
    conversation_id = str(body.conversation_id)
    try:
        conversations.set_feedback(conversation_id, body.turn, body.rating, comment)
    except UnknownConversation as exc:
        raise conversation_not_found(str(conversation_id)) from exc
    except UnknownTurn as exc:
        raise ApiError(
            404,
            f"Conversation {conversation_id} has no turn {body.turn}.",
            code="turn_not_found",
            param="turn",
        ) from exc
    return FeedbackOut(
        conversation_id=conversation_id, turn=body.turn, rating=body.rating, comment=comment
    )
