"""What a route may ask for: the components the lifespan put on ``app.state``, and a
checked chat request (its conversation's history loaded, its limits enforced)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from assistant.advisers import Advisers
from assistant.api.errors import RETRY_SECONDS, ApiError
from assistant.api.protocol import address_key
from assistant.api.schemas import ChatRequest
from assistant.approved import ApprovedAnswers, ApprovedFirst
from assistant.channels.bridge import Bridge, WhatsAppWorker
from assistant.clients import ClientKeys
from assistant.conversations import Conversations
from assistant.handoffs import Handoffs
from assistant.library import Library
from assistant.pipeline import Assistant, Turn
from assistant.ratelimit import Budgets, Refusal
from assistant.settings import Settings
from ingest.background import BackgroundIndexer

__all__ = [
    "AdvisersDep",
    "AnswererDep",
    "ApprovedDep",
    "AssistantDep",
    "BridgeDep",
    "ChatContext",
    "ChatContextDep",
    "ConversationsDep",
    "HandoffsDep",
    "IndexerDep",
    "LibraryDep",
    "SettingsDep",
    "WhatsAppDep",
    "charge",
    "check_length",
    "check_message",
    "client_digest",
    "client_ip",
    "conversation_full",
    "conversation_not_found",
    "rate_limited",
]


def conversation_not_found(conversation_id: str) -> ApiError:
    return ApiError(
        404,
        f"No conversation {conversation_id}.",
        code="conversation_not_found",
        param="conversation_id",
    )


def conversation_full(settings: Settings) -> ApiError:
    return ApiError(
        409,
        f"This conversation has reached its limit of {settings.max_turns} questions; "
        "please start a new conversation.",
        code="conversation_full",
        param="conversation_id",
    )


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_conversations(request: Request) -> Conversations:
    return request.app.state.conversations


def get_library(request: Request) -> Library:
    return request.app.state.library


def get_indexer(request: Request) -> BackgroundIndexer:
    return request.app.state.indexer


def get_bridge(request: Request) -> Bridge:
    return request.app.state.phone_bridge


def get_whatsapp(request: Request) -> WhatsAppWorker:
    worker = request.app.state.whatsapp
    if worker is None:
        raise ApiError(404, "WhatsApp is not configured here.", code="whatsapp_off")
    return worker


def client_ip(request: Request) -> str:
    """The client's address: the connecting one, or the one a trusted proxy forwarded
    (``ProxyHeadersMiddleware``, set up from ``trusted_proxies``, put it in the scope).
    An IPv6 client counts as its /64 (``address_key``)."""
    return address_key(request.client.host if request.client else "unknown")


def client_digest(request: Request) -> str:
    """Who asked, as stored with a turn: a keyed digest of the client's address."""
    keys: ClientKeys = request.app.state.client_keys
    return keys.digest(client_ip(request))


def rate_limited(refusal: Refusal, what: str = "Too many requests") -> ApiError:
    """The 429 of a refusal, with its Retry-After."""
    return ApiError(
        429,
        f"{what} ({refusal.limit}); try again in {refusal.retry_after} s.",
        code="rate_limited",
        headers={"Retry-After": str(refusal.retry_after)},
    )


def embedded_by_another_site(request: Request) -> bool:
    """Whether a browser sends this request for another site's page without its user
    asking (an image, a script, a frame: Fetch Metadata), rather than through CORS or as
    a page the user opens. Other clients send no such headers."""
    headers = request.headers
    if headers.get("sec-fetch-site") != "cross-site":
        return False
    mode, destination = headers.get("sec-fetch-mode"), headers.get("sec-fetch-dest")
    return not (mode == "cors" or (mode == "navigate" and destination == "document"))


def charge(request: Request, budget: str, key: str | None = None) -> None:
    """Count one request against ``budget`` for ``key`` (the client's address unless
    given): 429 when it is used up (see ``assistant.ratelimit``). Routes call it once the
    request is known to be valid, so that refused requests (422, 404) cost nothing, and a
    request another site's page embeds is refused (403) before it can spend anything."""
    if embedded_by_another_site(request):
        raise ApiError(
            403,
            "This address cannot be embedded in another site's page; open it directly.",
            code="cross_site_refused",
        )
    budgets: Budgets = request.app.state.budgets
    refusal = budgets.hit(budget, key or client_ip(request))
    if refusal is not None:
        raise rate_limited(refusal)


SettingsDep = Annotated[Settings, Depends(get_settings)]
ConversationsDep = Annotated[Conversations, Depends(get_conversations)]
LibraryDep = Annotated[Library, Depends(get_library)]
IndexerDep = Annotated[BackgroundIndexer, Depends(get_indexer)]
BridgeDep = Annotated[Bridge, Depends(get_bridge)]
WhatsAppDep = Annotated[WhatsAppWorker, Depends(get_whatsapp)]


def get_handoffs(request: Request) -> Handoffs:
    return request.app.state.handoffs


def get_advisers(request: Request) -> Advisers:
    return request.app.state.advisers


def get_approved(request: Request) -> ApprovedAnswers:
    return request.app.state.approved


HandoffsDep = Annotated[Handoffs, Depends(get_handoffs)]
AdvisersDep = Annotated[Advisers, Depends(get_advisers)]
ApprovedDep = Annotated[ApprovedAnswers, Depends(get_approved)]


def get_assistant(request: Request, library: LibraryDep) -> Assistant:
    """The assistant, once there is anything to search (503 on a fresh data dir's first
    seconds, while the corpus is read)."""
    if not library.searchable():
        raise ApiError(
            503,
            "The index is being prepared (reading the corpus); try again in a few seconds.",
            code="index_not_ready",
            headers={"Retry-After": str(RETRY_SECONDS)},
        )
    return request.app.state.assistant


AssistantDep = Annotated[Assistant, Depends(get_assistant)]


def get_answerer(
    assistant: AssistantDep, approved: ApprovedDep, settings: SettingsDep
) -> ApprovedFirst:
    """What answers a question: the desk's approved answers first, then the assistant."""
    return ApprovedFirst(approved, assistant, settings.desk_name)


AnswererDep = Annotated[ApprovedFirst, Depends(get_answerer)]


def check_message(text: str, settings: Settings) -> str:
    """The question, stripped; 422 when it is empty or longer than the limit."""
    text = text.strip()
    if not text:
        raise ApiError(422, "The message is empty.", code="empty_message", param="message")
    check_length(text, settings)
    return text


def check_length(
    text: str, settings: Settings, *, what: str = "The message", param: str = "message"
) -> None:
    """422 when ``text`` is longer than any message may be."""
    if len(text) > settings.max_message_chars:
        raise ApiError(
            422,
            f"{what} is {len(text)} characters long; the limit is {settings.max_message_chars}.",
            code="message_too_long",
            param=param,
        )


@dataclass
class ChatContext:
    message: str
    conversation_id: str
    history: list[Turn]
    filters: dict[str, str] | None
    client: str  # ``client_digest``


def get_chat_context(
    request: Request, body: ChatRequest, settings: SettingsDep, conversations: ConversationsDep
) -> ChatContext:
    """Checked before any answering starts, so that a stream never opens on a bad request;
    only a question that will be answered costs the client's question budget."""
    message = check_message(body.message, settings)
    if body.conversation_id is None:
        refusal = request.app.state.budgets.over("conversations", client_ip(request))
        if refusal is not None:  # a new conversation costs too: each may be a review entry
            raise rate_limited(refusal, "Too many new conversations from this address")
        conversation_id, history = conversations.new_id(), []
    else:
        conversation_id = str(body.conversation_id)
        turns = conversations.turn_count(conversation_id)
        if turns is None:
            raise conversation_not_found(conversation_id)
        if turns >= settings.max_turns:
            raise conversation_full(settings)
        history = conversations.history(conversation_id, settings.history_turns)
    charge(request, "questions")
    if body.conversation_id is None:
        charge(request, "conversations")
    filters = body.filters.as_dict() if body.filters else None
    return ChatContext(message, conversation_id, history, filters or None, client_digest(request))


ChatContextDep = Annotated[ChatContext, Depends(get_chat_context)]
