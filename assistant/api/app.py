"""``create_app(settings)``: the HTTP API, the chat page and the embeddable widget.

Nothing happens at import: the lifespan opens the conversations database, wires an
assistant that answers from keyword search at once, and starts the background
indexing that later hands it the vector store (see ``ingest.background``).
Components live on ``app.state``; routes reach them through ``assistant.api.deps``.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from assistant.advisers import Advisers
from assistant.api.errors import ApiError, BodySizeLimit, JsonCORS, install_error_handlers
from assistant.api.headers import PAGE_CSP, SecuredApp
from assistant.api.protocol import HeadAsGet
from assistant.api.refusals import RefusedBudget
from assistant.api.routes import (
    chat,
    conversations,
    feedback,
    handoffs,
    health,
    helpdesk,
    helpdesk_advisers,
    helpdesk_documents,
    helpdesk_report,
    openai,
    sources,
    whatsapp,
)
from assistant.api.schemas import error_responses
from assistant.api.surrogates import LoneSurrogates
from assistant.approved import ApprovedAnswers, ApprovedFirst
from assistant.channels.bridge import Bridge, WhatsAppWorker
from assistant.channels.records import WhatsAppRecords
from assistant.channels.twilio import TwilioClient
from assistant.channels.whatsapp import GraphClient, missing_settings
from assistant.clients import ClientKeys
from assistant.conversations import Conversations
from assistant.embeddings import NamedEmbeddings
from assistant.handoffs import Handoffs
from assistant.library import Library
from assistant.notify import Notifier
from assistant.pipeline import Assistant
from assistant.ratelimit import Budgets
from assistant.reports import EncodingCache
from assistant.retention import Retention
from assistant.settings import PROJECT_ROOT, Settings, masked_url
from assistant.uploads import UploadIndexer, Uploads
from ingest.background import BackgroundIndexer

__all__ = ["WEB_DIR", "create_app"]

log = logging.getLogger(__name__)

WEB_DIR = PROJECT_ROOT / "web"
# Swagger UI as the fastapi-offline package installs it: /docs needs no CDN.
SWAGGER_DIR = Path(importlib.util.find_spec("fastapi_offline").origin).parent / "static"
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")
WIDGET_PARTS = ("chat-core.js", "widget.js")  # served together as /widget.js

WEB_TYPES = {".html", ".js", ".css"}
UPLOAD_FORM_BYTES = 65_536  # an upload's form fields and multipart framing
WEB_HEADERS = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"}


def _lifespan(settings: Settings, embeddings: NamedEmbeddings | None):
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        state.settings = settings
        state.budgets = Budgets.from_settings(settings)
        log.info("%s", state.budgets.describe())
        log.info("conversations in %s", masked_url(settings.database))
        state.conversations = Conversations.from_url(settings.database)
        state.retention = Retention(state.conversations, settings.conversation_retention_days)
        state.retention.start()
        state.library = Library(settings.lexical_path)
        state.assistant = Assistant.from_settings(settings)  # keyword search only, for now

        def warm_keyword_index() -> None:
            state.assistant.lexical.refresh()  # so that no request waits for the matrix

        stopping = threading.Event()

        def attach_store(store) -> None:
            with_vectors = Assistant.from_settings(
                settings,
                store=store,
                dense_ready=lambda: indexer.progress.dense_ready,
                lexical=state.assistant.lexical,  # one BM25 matrix per worker
                units=state.assistant.reader.units,  # and one store of units
            )
            with_vectors.lexical.refresh()
            state.assistant = with_vectors
            # Every chunk's units, made ahead of the questions that will need them.
            threading.Thread(
                target=with_vectors.read_ahead, args=(stopping.is_set,), daemon=True, name="units"
            ).start()

        indexer = BackgroundIndexer(
            settings, on_lexical=warm_keyword_index, on_store=attach_store, embeddings=embeddings
        )
        state.indexer = indexer
        indexer.start()
        state.uploads = Uploads(settings, state.conversations.engine)
        state.upload_indexer = UploadIndexer(
            state.uploads, lambda: indexer.embeddings, on_lexical=warm_keyword_index
        )
        state.upload_indexer.start()
        engine = state.conversations.engine
        state.client_keys = ClientKeys.in_dir(settings.data_dir)
        state.handoffs = Handoffs(engine)
        state.notifier = Notifier(settings, state.handoffs)
        state.notifier.start()
        state.report_vectors = EncodingCache()
        # The sentence model: the vector-backed assistant keeps the same one.
        sentences = state.assistant.sentence_embeddings
        state.approved = ApprovedAnswers(
            engine,
            lambda: sentences,
            _country_table(settings),
            settings.approved_similarity,
        )
        records = WhatsAppRecords(engine)
        state.twilio = TwilioClient.from_settings(settings)
        state.advisers = Advisers(
            settings,
            state.handoffs,
            records,
            state.notifier,
            state.budgets,
            lambda: state.whatsapp.graph if state.whatsapp is not None else None,
            state.twilio,
        )
        state.phone_bridge = Bridge(
            settings,
            records,
            state.conversations,
            lambda: ApprovedFirst(state.approved, state.assistant, settings.desk_name),
            state.budgets,
            state.advisers,
            state.client_keys,
        )
        state.whatsapp = None
        state.whatsapp = _whatsapp_worker(settings, state.phone_bridge)
        log.info("serving; indexing %s in the background", settings.corpus_dir)
        try:
            yield
        finally:
            stopping.set()
            if state.whatsapp is not None:
                state.whatsapp.stop()
            state.notifier.stop()
            if state.twilio is not None:
                state.twilio.close()
            state.upload_indexer.stop()
            indexer.stop()
            state.retention.stop()
            state.assistant.lexical.close()
            state.conversations.close()

    return lifespan


def _country_table(settings: Settings) -> Path:
    """The country names approved answers are compared on: the corpus's table, else the
    one shipped (a corpus of one's own may have none)."""
    table = Path("country-codes") / "country-codes.csv"
    found = settings.corpus_dir / table
    return found if found.is_file() else PROJECT_ROOT / "corpus" / table


def _whatsapp_worker(settings: Settings, bridge: Bridge) -> WhatsAppWorker | None:
    """The running worker that answers Meta's webhooks; None when WhatsApp is not set up
    (a warning when it is only partly)."""
    missing = missing_settings(settings)
    if missing:
        if len(missing) < 3:
            log.warning("WhatsApp webhook off: %s not set", ", ".join(missing))
        return None
    worker = WhatsAppWorker(bridge, GraphClient.from_settings(settings))
    worker.start()
    return worker


def create_app(settings: Settings | None = None, *, embeddings: NamedEmbeddings | None = None):
    """The ASGI app; ``embeddings`` lets tests share one loaded model between apps."""
    settings = settings or Settings()
    app = SecuredApp(
        title="Export Assistant",
        summary="Answers export, customs and cross-border VAT questions with cited sources.",
        version="0.1.0",
        lifespan=_lifespan(settings, embeddings),
        # FastAPI's pages load Swagger UI and ReDoc from a CDN: blank offline, and outside
        # our CSP. /docs is ours (``add_docs_routes``); the schema is at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    # Added before the size limit, so inside it: it reads only what the limit lets in.
    app.add_middleware(LoneSurrogates, skip=("/whatsapp/", "/twilio/"))
    # An uploaded guide (one file, in a form) may be larger than any other request.
    upload_bytes = settings.upload_max_bytes + UPLOAD_FORM_BYTES
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_request_bytes,
        larger={"/api/helpdesk/documents": max(upload_bytes, settings.max_request_bytes)},
    )
    if settings.cors_origins:
        app.add_middleware(
            JsonCORS,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization"],
            max_age=600,
        )
    # Inside the proxy headers (added before them), which give it the client's address.
    app.add_middleware(RefusedBudget)
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.add_middleware(HeadAsGet)
    # Budgets are charged by the routes once a request is valid (``deps.charge``).
    limited = {chat, conversations, feedback, sources, openai, helpdesk}
    limited |= {helpdesk_documents, helpdesk_report, helpdesk_advisers, handoffs}
    for module in (
        chat,
        conversations,
        handoffs,
        feedback,
        sources,
        openai,
        health,
        whatsapp,
        helpdesk,
        helpdesk_advisers,
        helpdesk_documents,
        helpdesk_report,
    ):
        app.include_router(
            module.router, responses=error_responses(403, 429) if module in limited else None
        )

    add_web_routes(app)
    return app


def add_web_routes(app: FastAPI) -> None:
    """The chat page and its files, by name (no directory is served), /widget.js, and
    /docs: Swagger UI from installed files and our own set-up script (``web/docs.js``),
    so that it works offline, under ``PAGE_CSP``."""
    files = {p.name for p in WEB_DIR.iterdir() if p.suffix in WEB_TYPES}

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> Response:
        script = "\n".join((WEB_DIR / name).read_text(encoding="utf-8") for name in WIDGET_PARTS)
        return Response(script, media_type="text/javascript; charset=utf-8", headers=WEB_HEADERS)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers=WEB_HEADERS)

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(WEB_DIR / "docs.html", headers=WEB_HEADERS)

    @app.get("/docs/{name}", include_in_schema=False)
    def swagger_file(name: str) -> FileResponse:
        return _named_file(SWAGGER_DIR, SWAGGER_FILES, name, "file")

    @app.get("/{name}", include_in_schema=False)
    def web_file(name: str) -> FileResponse:
        return _named_file(WEB_DIR, files, name, "page or file")


def _named_file(folder: Path, names: Collection[str], name: str, what: str) -> FileResponse:
    """``name`` in ``folder`` when it is one of ``names``: no path is made of a request."""
    if name not in names:
        raise ApiError(404, f"No {what} '{name}'.", code="not_found")
    return FileResponse(folder / name, headers=WEB_HEADERS)
