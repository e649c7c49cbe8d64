"""``/api/helpdesk/handoffs``: the desk's inbox of questions passed to advisers (filter,
read the conversation, take, reply with cited sources, close); ``/api/helpdesk/approved``:
the approved answers reused for the same questions (add, edit, retire, see their use).
Staff only (``X-API-Key``); see ``assistant.advisers`` and ``assistant.approved``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from assistant.advisers import Advisers
from assistant.answer import Citation
from assistant.api.deps import (
    AdvisersDep,
    ApprovedDep,
    ConversationsDep,
    HandoffsDep,
    LibraryDep,
)
from assistant.api.errors import ApiError
from assistant.api.routes.helpdesk import StaffDep
from assistant.api.schemas import CitationOut, error_responses
from assistant.api.schemas.helpdesk import (
    ApprovedIn,
    ApprovedMatchOut,
    ApprovedOut,
    CitationRef,
    DeliveryOut,
    HandoffOut,
    HandoffSummaryOut,
    InboxOut,
    ReplyRequest,
    StaffReplyOut,
    StatusRequest,
    TurnInboxOut,
)
from assistant.approved import ApprovedRecord, UnknownApproved
from assistant.conversations import UnknownConversation, utc_now
from assistant.handoffs import HandoffRecord, InboxFilter, UnknownHandoff
from assistant.library import Library, UnknownPassage

__all__ = ["router"]

router = APIRouter(prefix="/api/helpdesk", tags=["helpdesk"])

_ERRORS = {401: {"description": "No X-API-Key, or not one of the configured keys"}}
_MARKER = re.compile(r"\[(\d{1,3})\]")
Language = Annotated[str | None, Query(pattern=r"^[a-z]{2}$", description="e.g. fr")]


def _not_found(handoff_id: str) -> ApiError:
    return ApiError(404, f"No hand-off {handoff_id}.", code="handoff_not_found")


def _summary(record: HandoffRecord) -> dict:
    return {
        "id": record.id,
        "conversation_id": record.conversation_id,
        "turn": record.turn,
        "question": record.question,
        "language": record.language,
        "channel": record.channel,
        "reason": record.reason,
        "status": record.status,
        "assigned_to": record.assigned_to,
        "email_given": bool(record.email),
        "created_at": record.created_at,
        "first_reply_at": record.first_reply_at,
        "age_seconds": int((utc_now() - record.created_at).total_seconds()),
        "notified": record.notified,
        "replies": len(record.replies),
    }


def _full(record: HandoffRecord, advisers: Advisers, conversations) -> HandoffOut:
    try:
        turns = conversations.get(record.conversation_id).turns
    except UnknownConversation:
        turns = []
    staff = []
    for reply in record.replies:
        delivery = advisers.delivery(reply)
        staff.append(
            StaffReplyOut(
                id=reply.id,
                text=reply.text,
                citations=[CitationOut.of(c) for c in reply.citations],
                author=reply.author,
                created_at=reply.created_at,
                delivery=DeliveryOut(
                    state=delivery.state, detail=delivery.detail, message_id=reply.message_id
                ),
            )
        )
    return HandoffOut(
        **_summary(record),
        answer=record.answer,
        conversation=[
            TurnInboxOut(
                turn=t.n,
                question=t.question,
                answer=t.answer,
                mode=t.mode,
                refused=t.refused,
                confidence=t.confidence,
                created_at=t.created_at,
            )
            for t in turns
        ],
        staff_replies=staff,
    )


@router.get("/handoffs", responses={**_ERRORS, **error_responses(422)})
def inbox(
    _: StaffDep,
    handoffs: HandoffsDep,
    status: Annotated[
        list[Literal["new", "assigned", "answered", "closed"]] | None,
        Query(description="Any of these (default: all)."),
    ] = None,
    language: Language = None,
    channel: Annotated[Literal["web", "whatsapp", "twilio"] | None, Query()] = None,
    older_than_hours: Annotated[int | None, Query(ge=0, le=87600)] = None,
    newer_than_hours: Annotated[int | None, Query(ge=0, le=87600)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> InboxOut:
    """Questions passed to the advisers, oldest first, with their status."""
    hours = dt.timedelta(hours=1)
    wanted = InboxFilter(
        statuses=tuple(status or ()),
        language=language,
        channel=channel,
        older_than=None if older_than_hours is None else older_than_hours * hours,
        newer_than=None if newer_than_hours is None else newer_than_hours * hours,
    )
    total, rows = handoffs.inbox(wanted, limit=limit, offset=offset)
    return InboxOut(
        total=total,
        counts=handoffs.counts(),
        handoffs=[HandoffSummaryOut(**_summary(row)) for row in rows],
    )


@router.get("/handoffs/{handoff_id}", responses={**_ERRORS, **error_responses(404)})
def handoff(
    handoff_id: str,
    _: StaffDep,
    handoffs: HandoffsDep,
    advisers: AdvisersDep,
    conversations: ConversationsDep,
) -> HandoffOut:
    """One hand-off: the whole conversation, the replies sent and how they fared."""
    try:
        return _full(handoffs.get(handoff_id), advisers, conversations)
    except UnknownHandoff as exc:
        raise _not_found(handoff_id) from exc


@router.post("/handoffs/{handoff_id}/status", responses={**_ERRORS, **error_responses(404, 422)})
def set_status(
    handoff_id: str,
    body: StatusRequest,
    staff: StaffDep,
    handoffs: HandoffsDep,
    advisers: AdvisersDep,
    conversations: ConversationsDep,
) -> HandoffOut:
    """Take a hand-off (``assigned``, to ``assigned_to`` or yourself), close it, or put
    it back among the new ones."""
    try:
        handoffs.set_status(handoff_id, body.status, body.assigned_to or staff)
        return _full(handoffs.get(handoff_id), advisers, conversations)
    except UnknownHandoff as exc:
        raise _not_found(handoff_id) from exc


def _citations(library: Library, text: str, refs: list[CitationRef]) -> list[Citation]:
    """The cited passages, checked against the index and numbered in order; 422 when one
    is not there or the text cites a number it lacks."""
    citations = []
    for n, ref in enumerate(refs, 1):
        try:
            citations.append(library.citation(n, ref.source, ref.section, ref.snippet))
        except UnknownPassage as exc:
            raise ApiError(
                422, f"Citation {n}: {exc}.", code="unknown_passage", param=f"citations.{n - 1}"
            ) from exc
    missing = sorted({int(m) for m in _MARKER.findall(text)} - set(range(1, len(refs) + 1)))
    if missing:
        raise ApiError(
            422,
            f"The text cites [{missing[0]}] but only {len(refs)} citations are given.",
            code="citation_missing",
            param="citations",
        )
    return citations


@router.post(
    "/handoffs/{handoff_id}/replies",
    status_code=201,
    responses={**_ERRORS, **error_responses(404, 422)},
)
def reply(
    handoff_id: str,
    body: ReplyRequest,
    staff: StaffDep,
    handoffs: HandoffsDep,
    advisers: AdvisersDep,
    approved: ApprovedDep,
    library: LibraryDep,
    conversations: ConversationsDep,
) -> HandoffOut:
    """Reply to the user where they asked (web: in the conversation; WhatsApp and
    Twilio: as a message, within the 24-hour window), with ``[n]`` citations of indexed
    passages; ``approve`` also saves it as an approved answer."""
    text = body.text.strip()
    if not text:
        raise ApiError(422, "The reply is empty.", code="empty_message", param="text")
    citations = _citations(library, text, body.citations)
    try:
        record = handoffs.get(handoff_id)
        advisers.reply(handoff_id, text, citations, staff)
    except UnknownHandoff as exc:
        raise _not_found(handoff_id) from exc
    if body.approve is not None:
        approved.add(
            question=record.question,
            paraphrases=body.approve.paraphrases,
            texts={record.language: text},
            citations=[c.as_dict() for c in citations],
            review_on=body.approve.review_on,
            author=staff,
            handoff_id=handoff_id,
        )
    return _full(handoffs.get(handoff_id), advisers, conversations)


# ------------------------------------------------------------ approved answers


def _approved_out(record: ApprovedRecord) -> ApprovedOut:
    return ApprovedOut(
        id=record.id,
        question=record.question,
        paraphrases=list(record.paraphrases),
        texts=dict(record.texts),
        languages=record.languages,
        citations=[CitationOut.of(c) for c in record.citations],
        review_on=dt.date.fromisoformat(record.review_on),
        review_due=record.due(dt.datetime.now(dt.UTC).date()),
        author=record.author,
        updated_by=record.updated_by,
        handoff_id=record.handoff_id,
        retired=record.retired,
        uses=record.uses,
        last_used_at=record.last_used_at,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _approved_fields(body: ApprovedIn, library: Library) -> dict:
    citations = _citations(library, "\n".join(body.texts.values()), body.citations)
    return {
        "question": body.question.strip(),
        "paraphrases": [p.strip() for p in body.paraphrases if p.strip()],
        "texts": {language: text.strip() for language, text in body.texts.items()},
        "citations": [c.as_dict() for c in citations],
        "review_on": body.review_on,
    }


@router.get("/approved", responses={**_ERRORS, **error_responses(422)})
def list_approved(
    _: StaffDep,
    approved: ApprovedDep,
    retired: Annotated[bool, Query(description="Include the retired ones.")] = False,
) -> list[ApprovedOut]:
    """The approved answers, latest change first, with how often each was used and
    whether its review is due."""
    return [_approved_out(record) for record in approved.all(retired=retired)]


@router.post("/approved", status_code=201, responses={**_ERRORS, **error_responses(422)})
def add_approved(
    body: ApprovedIn, staff: StaffDep, approved: ApprovedDep, library: LibraryDep
) -> ApprovedOut:
    """Approve an answer (not from a hand-off), to be served for the same questions."""
    fields = _approved_fields(body, library)
    record = approved.add(**fields, author=staff)
    if body.retired:
        record = approved.update(record.id, staff, retired=True)
    return _approved_out(record)


@router.put("/approved/{approved_id}", responses={**_ERRORS, **error_responses(404, 422)})
def edit_approved(
    approved_id: str,
    body: ApprovedIn,
    staff: StaffDep,
    approved: ApprovedDep,
    library: LibraryDep,
) -> ApprovedOut:
    """Replace an approved answer's fields; ``retired: true`` retires it (kept, never
    served), ``false`` brings it back."""
    try:
        record = approved.update(
            approved_id, staff, **_approved_fields(body, library), retired=body.retired
        )
    except UnknownApproved as exc:
        raise ApiError(404, f"No approved answer {approved_id}.", code="not_found") from exc
    return _approved_out(record)


@router.get("/approved-match", responses={**_ERRORS, **error_responses(422)})
def match_approved(
    _: StaffDep,
    approved: ApprovedDep,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="A question.")],
) -> ApprovedMatchOut:
    """Which approved answer a question would get (nothing is counted)."""
    found = approved.match(q)
    if found is None:
        return ApprovedMatchOut(approved=None, similarity=None, matched=None, served=False)
    out = _approved_out(found.record)
    return ApprovedMatchOut(
        approved=out, similarity=found.similarity, matched=found.text, served=not out.review_due
    )
