"""Opening the Chroma index, embedded on disk or as a `chroma run` server.

The collection's metadata records which embedder built it; opening it with another
one raises ``EmbedderMismatch`` instead of returning nonsense neighbours.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from langchain_chroma import Chroma

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from assistant.embeddings import NamedEmbeddings
    from assistant.settings import Settings

__all__ = [
    "EmbedderMismatch",
    "IndexMissing",
    "check_collection",
    "chroma_address",
    "chroma_client",
    "chroma_reachable",
    "connection_lost",
    "existing_collection",
    "vector_store",
]

EMBEDDER_KEY = "embedder"


class IndexMissing(RuntimeError):
    """No index has been built yet."""


class EmbedderMismatch(RuntimeError):
    """The index was built with a different embedder than the one configured."""

    def __init__(self, built_with: str, configured: str) -> None:
        super().__init__(
            f"The index was built with embedder '{built_with}' but '{configured}' is configured. "
            "Set ASSISTANT_EMBEDDER to match the index, or rebuild it with "
            "`python -m ingest --rebuild`."
        )
        self.built_with = built_with
        self.configured = configured


def chroma_address(url: str) -> tuple[str, int]:
    """(host, port) of a Chroma server URL, with Chroma's default port."""
    parsed = urlparse(url)
    return parsed.hostname or "localhost", parsed.port or (
        443 if parsed.scheme == "https" else 8000
    )


def chroma_client(settings: Settings) -> ClientAPI:
    """An embedded persistent client, or an HTTP client when ``chroma_url`` is set."""
    # Chroma reads this variable too; set it so no code path phones home.
    os.environ["ANONYMIZED_TELEMETRY"] = "False"
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        host, port = chroma_address(settings.chroma_url)
        client = chromadb.HttpClient(
            host=host,
            port=port,
            ssl=urlparse(settings.chroma_url).scheme == "https",
            headers=_chroma_headers(settings),
            tenant=settings.chroma_tenant,
            database=settings.chroma_database,
            settings=chroma_settings,
        )
        _limit_waits(client, settings.chroma_timeout)
        return client
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


def _chroma_headers(settings: Settings) -> dict[str, str]:
    """The token header of a Chroma server or Cloud that wants one."""
    key = settings.chroma_api_key
    return {"x-chroma-token": key.get_secret_value()} if key else {}


def _limit_waits(client: ClientAPI, seconds: float) -> None:
    """chromadb's HTTP client waits forever (``httpx.Client(timeout=None)``): a server
    that hangs would hold each request's thread until none is left. Its session is
    private; if a chromadb release renames it, the test of a hung server says so."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(seconds, connect=min(seconds, 3.0))


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was raised from, a connection to a server refused or lost:
    chromadb's client raises ``ValueError("Could not connect to a Chroma server…")``
    from httpx's ``ConnectError``."""
    import httpx

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx.TransportError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def chroma_reachable(settings: Settings) -> bool:
    """Whether the Chroma server answers its heartbeat within two seconds (always true
    for the embedded index); a plain request, so a hung server cannot hang the check."""
    if not settings.chroma_url:
        return True
    import httpx

    try:
        url = f"{settings.chroma_url.rstrip('/')}/api/v2/heartbeat"
        return httpx.get(url, headers=_chroma_headers(settings), timeout=2.0).is_success
    except httpx.HTTPError:
        return False


def existing_collection(client: ClientAPI, name: str) -> Collection | None:
    """The collection if it exists, without creating it."""
    if name not in {c if isinstance(c, str) else c.name for c in client.list_collections()}:
        return None
    return client.get_collection(name)


def check_collection(client: ClientAPI, name: str, embedder: str, *, create: bool = False) -> None:
    """Make sure ``name`` exists (if ``create``) and was built by ``embedder``."""
    collection = existing_collection(client, name)
    if collection is None:
        if not create:
            raise IndexMissing(f"No index named '{name}' yet: run `python -m ingest` to build it.")
        client.create_collection(name, metadata={EMBEDDER_KEY: embedder, "hnsw:space": "cosine"})
        return
    built_with = (collection.metadata or {}).get(EMBEDDER_KEY)
    if built_with != embedder:
        raise EmbedderMismatch(str(built_with), embedder)


def vector_store(
    client: ClientAPI, name: str, embeddings: NamedEmbeddings, *, create: bool = False
) -> Chroma:
    """LangChain's Chroma store over ``name``, after checking who built it."""
    check_collection(client, name, embeddings.name, create=create)
    return Chroma(client=client, collection_name=name, embedding_function=embeddings)
