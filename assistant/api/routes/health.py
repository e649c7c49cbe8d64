"""``/healthz`` (the process answers) and ``/readyz`` (what the index can do yet)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from assistant.api.deps import IndexerDep, LibraryDep, SettingsDep
from assistant.api.schemas import Health, IndexingOut, Readiness

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> Health:
    """Alive: the process answers HTTP."""
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Nothing to search yet"}},
)
def readyz(library: LibraryDep, indexer: IndexerDep, settings: SettingsDep) -> JSONResponse:
    """Ready (200) once questions can be answered, by keyword search at least; 503 before.
    ``indexing`` tells how far the vector index is ("still indexing: 42 %")."""
    documents, chunks = library.counts()
    readiness = Readiness(
        ready=chunks > 0,
        documents=documents,
        chunks=chunks,
        embedder=indexer.embedder,
        llm=settings.llm or "offline",
        indexing=IndexingOut(**indexer.progress.as_dict()),
    )
    return JSONResponse(readiness.model_dump(), status_code=200 if readiness.ready else 503)
