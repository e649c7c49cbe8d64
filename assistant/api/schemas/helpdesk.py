"""Bodies of the helpdesk's routes: search, suggested replies, reviews, guides, reports."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.api.schemas import CitationOut, Filters
from assistant.uploads import UploadRecord

__all__ = [
    "ApproveFields",
    "ApprovedIn",
    "ApprovedMatchOut",
    "ApprovedOut",
    "AuditOut",
    "CitationRef",
    "CorpusDocumentOut",
    "DeliveryOut",
    "DocumentsOut",
    "FreshnessOut",
    "HandoffOut",
    "HandoffReportOut",
    "HandoffSummaryOut",
    "InboxOut",
    "Limits",
    "PassageOut",
    "QuestionOut",
    "Rejection",
    "ReplyRequest",
    "ReportOut",
    "ReviewOut",
    "SearchOut",
    "StaffReplyOut",
    "StaleOut",
    "StatusRequest",
    "SuggestOut",
    "SuggestRequest",
    "TopicOut",
    "TurnInboxOut",
    "UploadOut",
    "UploadedOut",
    "WhatsAppErrorOut",
    "WhatsAppErrorsOut",
]


class PassageOut(CitationOut):
    """A passage found, shaped like a citation (``n``: its rank; ``snippet``: the passage)
    with what a search adds."""

    score: float = Field(description="Fused rank score (higher is better).")
    jurisdiction: str
    topics: list[str]
    highlights: list[tuple[int, int]] = Field(
        description="[start, end) character offsets in ``snippet`` of the words that matched."
    )
    html: str = Field(description="``snippet``, HTML-escaped, the matched words in <mark>.")
    matched: list[str] = Field(description="The words that matched, once each.")


class SearchOut(BaseModel):
    query: str
    results: list[PassageOut]


class SuggestRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": "Do I need an EORI number to export?"}]},
    )

    question: str = Field(min_length=1, max_length=4000)
    filters: Filters | None = None


class SuggestOut(BaseModel):
    reply: str = Field(description="Plain text to edit and paste: answer, notices, sources.")
    refused: bool = Field(description="True when the sources do not answer the question.")
    language: str
    citations: list[CitationOut]
    mode: str = Field(description="As the chat's: approved when the desk approved one.")
    confidence: float | None = Field(
        description="The answer's calibrated confidence (0 to 1); null when not estimated."
    )


class ReviewOut(BaseModel):
    conversation_id: str
    turn: int
    question: str
    answer: str
    citations: list[CitationOut]
    language: str
    comment: str | None
    rated_at: dt.datetime
    downs: int = Field(description="Answers of this conversation rated down (shown: the latest).")


class WhatsAppErrorOut(BaseModel):
    code: int | None = Field(description="Meta's error code, e.g. 131047; null if none.")
    title: str
    details: str
    message_id: str = Field(description="The message we sent that failed; empty: the webhook.")
    business: str = Field(description="Phone number ID of the business number concerned.")
    received_at: dt.datetime


class WhatsAppErrorsOut(BaseModel):
    count: int = Field(description="Every error Meta has reported so far.")
    errors: list[WhatsAppErrorOut] = Field(description="The latest ones, newest first.")


class UploadOut(BaseModel):
    id: str
    filename: str
    source: str = Field(description="What citations show; opens at /api/sources/{source}.")
    title: str
    date: str
    language: str
    version: int
    status: str = Field(description="queued | searchable (keywords) | ready | failed")
    reason: str | None = Field(description="Why indexing failed.")
    chunks: int
    size: int
    added_by: str = Field(description="The name of the key that uploaded it.")
    added_at: dt.datetime
    updated_by: str
    updated_at: dt.datetime

    @classmethod
    def of(cls, row: UploadRecord) -> UploadOut:
        return cls(source=row.source, **{name: getattr(row, name) for name in _ROW_FIELDS})


_ROW_FIELDS = [name for name in UploadOut.model_fields if name != "source"]


class CorpusDocumentOut(BaseModel):
    source: str
    title: str
    date: str
    language: str
    chunks: int


class Limits(BaseModel):
    max_bytes: int
    max_files: int = Field(description="Files in one ZIP.")
    max_documents: int


class DocumentsOut(BaseModel):
    uploads: list[UploadOut]
    corpus: list[CorpusDocumentOut] = Field(description="Shipped or ingested: read-only.")
    limits: Limits


class Rejection(BaseModel):
    filename: str
    reason: str


class UploadedOut(BaseModel):
    uploaded: list[UploadOut]
    rejected: list[Rejection] = Field(description="Files of a ZIP left out, and why.")


class AuditOut(BaseModel):
    at: dt.datetime
    key_name: str = Field(description="The name of the staff key (never the key).")
    action: str = Field(description="upload | replace | delete")
    document_id: str
    filename: str
    title: str
    version: int


class QuestionOut(BaseModel):
    conversation_id: str
    turn: int
    asked_at: dt.datetime
    question: str
    answer: str = Field(description="The answer given.")
    language: str
    channel: str = Field(description="web | whatsapp")
    reasons: list[str] = Field(
        description="refused, rated down, handed off, low confidence, low evidence (an "
        "answer without a confidence)"
    )
    evidence: float | None
    confidence: float | None
    comment: str | None = Field(description="The user's comment on a rating down.")
    handoff_status: str | None = Field(description="new | assigned | answered | closed")
    first_reply_seconds: float | None = Field(
        description="From the hand-off to the adviser's first reply."
    )


class TopicOut(BaseModel):
    n: int
    label: str = Field(description="The question nearest the topic's centre.")
    count: int
    newest: dt.datetime
    languages: dict[str, int]
    channels: dict[str, int]
    reasons: dict[str, int]
    examples: list[str]
    questions: list[QuestionOut] = Field(description="Newest first, with the answers given.")


class HandoffReportOut(BaseModel):
    count: int = Field(description="Questions passed to the advisers in the period.")
    statuses: dict[str, int]
    channels: dict[str, int]
    unanswered: int = Field(description="Those without a reply yet.")
    median_first_reply_seconds: float | None
    longest_first_reply_seconds: float | None


class ReportOut(BaseModel):
    since: dt.date
    until: dt.date
    questions: int
    left_out: int = Field(
        description="Unanswered questions not listed: past the caps per conversation and "
        "per client, or the report's limit."
    )
    topics: list[TopicOut]
    handoffs: HandoffReportOut
    approved_answers_served: int = Field(description="Questions answered by approved answers.")


class StaleOut(BaseModel):
    source: str
    title: str
    date: str = Field(description="As the source gives it.")
    age_days: int = Field(description="Days since the latest day its date can mean.")
    cited: int = Field(description="Answers of the period that cited it.")
    uploaded: bool


class FreshnessOut(BaseModel):
    max_age_days: int
    since: dt.date
    until: dt.date
    sources: list[StaleOut]


# ------------------------------------------------------------ advisers: the inbox


class CitationRef(BaseModel):
    """A passage to cite, as a search result or a suggested reply gives it; the rest of
    the citation (title, publisher, link…) is read from the index."""

    model_config = ConfigDict(extra="ignore")

    source: str = Field(min_length=1, max_length=1000)
    section: str = Field("", max_length=1000)
    snippet: str = Field("", max_length=4000, description="Quoted text; it must be in the section.")


class DeliveryOut(BaseModel):
    state: str = Field(
        description="web: stored (waiting for the user's page) | seen; phone: sent | "
        "delivered | read (the channel's callbacks) | failed | undelivered (outside "
        "WhatsApp's 24-hour window: sent when the user writes again) | template"
    )
    detail: str | None = Field(description="Why it is not delivered, or how it went.")
    message_id: str | None


class StaffReplyOut(BaseModel):
    id: int
    text: str
    citations: list[CitationOut]
    author: str
    created_at: dt.datetime
    delivery: DeliveryOut


class TurnInboxOut(BaseModel):
    turn: int
    question: str
    answer: str
    mode: str
    refused: bool
    confidence: float | None
    created_at: dt.datetime


class HandoffSummaryOut(BaseModel):
    id: str
    conversation_id: str
    turn: int
    question: str
    language: str
    channel: str = Field(description="web | whatsapp | twilio")
    reason: str = Field(description="refused (the assistant did not answer) | asked")
    status: str = Field(description="new | assigned | answered | closed")
    assigned_to: str | None
    email_given: bool = Field(description="The user left an address for the reply.")
    created_at: dt.datetime
    first_reply_at: dt.datetime | None
    age_seconds: int
    notified: str = Field(description="Staff notification: pending | sent | failed | off")
    replies: int


class HandoffOut(HandoffSummaryOut):
    answer: str = Field(description="What the assistant answered.")
    conversation: list[TurnInboxOut] = Field(description="The whole conversation, in order.")
    staff_replies: list[StaffReplyOut]


class InboxOut(BaseModel):
    total: int = Field(description="Hand-offs matching the filters.")
    counts: dict[str, int] = Field(description="Hand-offs per status, all filters aside.")
    handoffs: list[HandoffSummaryOut] = Field(description="A page of them, oldest first.")


class StatusRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["new", "assigned", "closed"]
    assigned_to: str | None = Field(
        None, max_length=64, description="Who takes it (default: the key's name)."
    )


class ApproveFields(BaseModel):
    """Save the reply as an approved answer too."""

    model_config = ConfigDict(extra="forbid")

    paraphrases: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=list, max_length=20
    )
    review_on: dt.date = Field(description="Past this day it is no longer served.")


class ReplyRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": "Yes: every exporter from the EU needs an EORI number [1].",
                    "citations": [
                        {
                            "source": "fr-service-public-pro/F31118.md",
                            "section": "Numéro EORI",
                            "snippet": "",
                        }
                    ],
                }
            ]
        },
    )

    text: str = Field(min_length=1, max_length=8000, description="With [n] for citation n.")
    citations: list[CitationRef] = Field(default_factory=list, max_length=20)
    approve: ApproveFields | None = None


class ApprovedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=1000)
    paraphrases: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=list, max_length=20
    )
    texts: dict[
        Annotated[str, Field(pattern=r"^[a-z]{2}$")],
        Annotated[str, Field(min_length=1, max_length=8000)],
    ] = Field(min_length=1, max_length=5, description="The answer per language (en, fr…).")
    citations: list[CitationRef] = Field(default_factory=list, max_length=20)
    review_on: dt.date
    retired: bool = False


class ApprovedOut(BaseModel):
    id: str
    question: str
    paraphrases: list[str]
    texts: dict[str, str]
    languages: list[str]
    citations: list[CitationOut]
    review_on: dt.date
    review_due: bool = Field(description="Past its review date: not served until reviewed.")
    author: str
    updated_by: str
    handoff_id: str | None
    retired: bool
    uses: int = Field(description="Questions it has answered.")
    last_used_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ApprovedMatchOut(BaseModel):
    approved: ApprovedOut | None
    similarity: float | None
    matched: str | None = Field(description="The approved question or paraphrase matched.")
    served: bool = Field(description="It would be served now (not due for review).")
