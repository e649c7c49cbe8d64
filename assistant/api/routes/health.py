"""``/healthz`` (the process answers) and ``/readyz`` (what the index can do yet)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from assistant.api.deps import ConversationsDep, IndexerDep, LibraryDep, SettingsDep
from assistant.api.schemas import Health, IndexingOut, Readiness
from assistant.store import chroma_reachable

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> Health:
    """Alive: the process answers HTTP."""
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {"model": Readiness, "description": "Nothing to search yet, or a backend is down"}
    },
)
def readyz(
    library: LibraryDep,
    indexer: IndexerDep,
    settings: SettingsDep,
    conversations: ConversationsDep,
) -> JSONResponse:
    """Ready (200) once questions can be answered, by keyword search at least; 503 before,
    and while the Chroma server or the database does not answer (``unavailable``).
    ``indexing`` tells how far the vector index is ("still indexing: 42 %")."""
    documents, chunks = library.counts()
    unavailable = [
        name
        for name, up in (
            ("vector_store", chroma_reachable(settings)),
            ("database", conversations.reachable()),
        )
        if not up
    ]
    readiness = Readiness(
        ready=chunks > 0 and not unavailable,
        documents=documents,
        chunks=chunks,
        embedder=indexer.embedder,
        llm=settings.llm or "offline",
        indexing=IndexingOut(**indexer.progress.as_dict()),
        unavailable=unavailable,
    )
    return JSONResponse(readiness.model_dump(), status_code=200 if readiness.ready else 503)
