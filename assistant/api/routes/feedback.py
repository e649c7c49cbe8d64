"""``POST /api/feedback``: thumbs up or down on one answer, with an optional comment."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request

from assistant.api.deps import ConversationsDep, SettingsDep, charge, conversation_not_found
from assistant.api.errors import ApiError
from assistant.api.schemas import FeedbackOut, FeedbackRequest, error_responses
from assistant.conversations import FeedbackFinal

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["feedback"])


@router.post("/feedback", status_code=201, responses=error_responses(400, 404, 409, 413, 422))
def give_feedback(
    request: Request, body: FeedbackRequest, conversations: ConversationsDep, settings: SettingsDep
) -> FeedbackOut:
    """Record the rating of a turn. It may be changed, or a comment added, for
    ``feedback_edit_seconds`` after the first rating; then it is final (409)."""
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
    turns = conversations.turn_count(conversation_id)  # turns are numbered 1..turns
    if turns is None:
        raise conversation_not_found(conversation_id)
    if body.turn > turns:
        raise ApiError(
            404,
            f"Conversation {conversation_id} has no turn {body.turn}.",
            code="turn_not_found",
            param="turn",
        )
    # Only a rating that can be recorded costs: the address's budget and the conversation's.
    charge(request, "feedback")
    charge(request, "conversation_feedback", conversation_id)
    editable = dt.timedelta(seconds=settings.feedback_edit_seconds)
    try:
        conversations.set_feedback(conversation_id, body.turn, body.rating, comment, editable)
    except FeedbackFinal as exc:
        raise ApiError(
            409,
            f"Turn {body.turn} was rated more than {settings.feedback_edit_seconds} s ago; "
            "its feedback is final.",
            code="feedback_final",
            param="turn",
        ) from exc
    return FeedbackOut(
        conversation_id=conversation_id, turn=body.turn, rating=body.rating, comment=comment
    )
