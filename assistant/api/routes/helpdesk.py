"""``/api/helpdesk/*``: search, suggested replies, answers to review and the errors Meta
reported for WhatsApp, for help-desk staff (an ``X-API-Key`` from
``helpdesk_api_keys``); ``/helpdesk``: their page."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.responses import RedirectResponse
from fastapi.security import APIKeyHeader
from pydantic import SecretStr

from assistant.answer import citation_for
from assistant.api.deps import (
    AnswererDep,
    AssistantDep,
    BridgeDep,
    ConversationsDep,
    SettingsDep,
    charge,
    client_ip,
    rate_limited,
)
from assistant.api.errors import ApiError
from assistant.api.schemas import FILTER_CHARS, CitationOut, Filters, error_responses
from assistant.api.schemas.helpdesk import (
    PassageOut,
    ReviewOut,
    SearchOut,
    SuggestOut,
    SuggestRequest,
    WhatsAppErrorOut,
    WhatsAppErrorsOut,
)
from assistant.channels.helpdesk import highlight, recent_reviews, suggested_reply
from assistant.ratelimit import Budgets

__all__ = ["StaffDep", "named_key", "require_api_key", "router"]

router = APIRouter(tags=["helpdesk"])


_NAMED_KEY = re.compile(r"([A-Za-z][\w.@-]{0,63}):(.+)", re.DOTALL)


def named_key(configured: SecretStr) -> tuple[str, bytes]:
    """(name, key) of a configured key: ``name:key``, or the key named by its digest
    (what the audit records: never the key)."""
    value = configured.get_secret_value()
    named = _NAMED_KEY.fullmatch(value)
    if named:
        return named.group(1), named.group(2).encode()
    return f"key-{hashlib.sha256(value.encode()).hexdigest()[:8]}", value.encode()


# Declared as an OpenAPI security scheme, so that /docs has an "Authorize" button that
# sends the key with every call; missing keys are handled below (auto_error=False).
API_KEY = APIKeyHeader(
    name="X-API-Key",
    scheme_name="HelpdeskKey",
    description="A key of ASSISTANT_HELPDESK_API_KEYS (its part after `name:` when named).",
    auto_error=False,
)


def require_api_key(
    request: Request,
    settings: SettingsDep,
    key: Annotated[str | None, Security(API_KEY)] = None,
) -> str:
    """The name of the key in the header; 401 unless it is one of the configured keys
    (none configured: closed).

    Wrong keys (not missing ones) are counted per address and from all addresses
    together. An address past its count, or with a recent wrong key while all together
    are past theirs, is refused (429) before its key is compared, so that guessing from it
    teaches nothing; a key from any other address is still checked. Calls with a valid
    key spend the address's helpdesk budget."""
    budgets: Budgets = request.app.state.budgets
    address = client_ip(request)
    locked = budgets.over("key_failures", address)
    if locked is None and budgets.used("key_failures", address):
        locked = budgets.over("all_key_failures", "all")
    if locked is not None:
        raise rate_limited(locked, "Too many wrong API keys")
    given = (key or "").encode()
    keys = [named_key(allowed) for allowed in settings.helpdesk_api_keys]
    matches = [name for name, allowed in keys if hmac.compare_digest(given, allowed)]
    if not key or not matches:
        if key:  # a guess; no key at all is what any page can make a browser send
            budgets.hit("key_failures", address)
            budgets.hit("all_key_failures", "all")
        raise ApiError(401, "A valid X-API-Key header is required.", code="invalid_api_key")
    charge(request, "helpdesk")
    return matches[0]


StaffDep = Annotated[str, Depends(require_api_key)]  # the key's name
_AUTH = [Depends(require_api_key)]
_ERRORS = {401: {"description": "No X-API-Key, or not one of the configured keys"}}


@router.get(
    "/api/helpdesk/search", dependencies=_AUTH, responses={**_ERRORS, **error_responses(503)}
)
def search(
    assistant: AssistantDep,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="Words to find.")],
    k: Annotated[int, Query(ge=1, le=50)] = 10,
    jurisdiction: Annotated[str | None, Query(max_length=FILTER_CHARS)] = None,
    topic: Annotated[str | None, Query(max_length=FILTER_CHARS)] = None,
    lang: Annotated[
        str | None, Query(max_length=FILTER_CHARS, description="Language of the sources.")
    ] = None,
) -> SearchOut:
    """The passages that best match ``q``, ranked, with the matching words marked."""
    filters = Filters(jurisdiction=jurisdiction, topic=topic, language=lang)
    passages = assistant.retriever.search(q, k=k, filters=filters.as_dict())
    results = []
    for rank, passage in enumerate(passages, 1):
        marked = highlight(passage.body, q)
        results.append(
            PassageOut(
                **CitationOut.of(citation_for(rank, passage, passage.body)).model_dump(),
                score=passage.score,
                jurisdiction=str(passage.metadata.get("jurisdiction", "")),
                topics=[t for t in str(passage.metadata.get("topics", "")).split(",") if t],
                highlights=marked.spans,
                html=marked.html,
                matched=marked.terms,
            )
        )
    return SearchOut(query=q, results=results)


@router.post(
    "/api/helpdesk/suggest", dependencies=_AUTH, responses={**_ERRORS, **error_responses(422)}
)
def suggest(body: SuggestRequest, assistant: AnswererDep, settings: SettingsDep) -> SuggestOut:
    """A cited reply to a customer's question, for an agent to check and send (it is not
    stored as a conversation); an approved answer to the same question comes first."""
    filters = body.filters.as_dict() if body.filters else None
    answer = assistant.answer(body.question.strip(), (), filters)
    return SuggestOut(
        reply=suggested_reply(answer, settings.public_url),
        refused=answer.refused,
        language=answer.language,
        citations=[CitationOut.of(c) for c in answer.citations],
        mode=answer.mode,
        confidence=answer.confidence,
    )


@router.get("/api/helpdesk/reviews", dependencies=_AUTH, responses=_ERRORS)
def reviews(
    conversations: ConversationsDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[ReviewOut]:
    """The latest answers users rated down, newest first, with their comments; one per
    conversation."""
    return [
        ReviewOut(**{**asdict(review), "citations": [CitationOut.of(c) for c in review.citations]})
        for review in recent_reviews(conversations.engine, limit)
    ]


@router.get("/api/helpdesk/whatsapp-errors", dependencies=_AUTH, responses=_ERRORS)
def whatsapp_errors(
    bridge: BridgeDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> WhatsAppErrorsOut:
    """Errors Meta reported in WhatsApp webhooks (a call's ``errors``, failed statuses)."""
    count, latest = bridge.records.errors(limit)
    return WhatsAppErrorsOut(
        count=count,
        errors=[WhatsAppErrorOut.model_validate(row, from_attributes=True) for row in latest],
    )


@router.get("/helpdesk", include_in_schema=False)
def page() -> RedirectResponse:
    return RedirectResponse("helpdesk.html")
