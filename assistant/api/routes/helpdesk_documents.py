"""``/api/helpdesk/documents``: staff add, replace and delete their own guides (the
shipped corpus is listed read-only), and ``/api/helpdesk/audit``: who did which, when.
See ``assistant.uploads`` for how an upload is checked, stored and indexed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile

from assistant.api.deps import LibraryDep, SettingsDep
from assistant.api.errors import ApiError
from assistant.api.routes.helpdesk import StaffDep
from assistant.api.schemas import error_responses
from assistant.api.schemas.helpdesk import (
    AuditOut,
    CorpusDocumentOut,
    DocumentsOut,
    Limits,
    Rejection,
    UploadedOut,
    UploadOut,
)
from assistant.uploads import ROOT, GuideFields, UploadError, Uploads

__all__ = ["router"]

router = APIRouter(prefix="/api/helpdesk", tags=["helpdesk"])


def get_uploads(request: Request) -> Uploads:
    return request.app.state.uploads


UploadsDep = Annotated[Uploads, Depends(get_uploads)]


def _fields(
    title: Annotated[str, Form(max_length=1000)] = "",
    publisher: Annotated[str, Form(max_length=300)] = "",
    licence: Annotated[str, Form(max_length=300)] = "",
    date: Annotated[str, Form(max_length=64, description="Free form: '2026-03'.")] = "",
    jurisdiction: Annotated[str, Form(max_length=64)] = "",
    language: Annotated[str, Form(max_length=8, description="e.g. 'en', 'fr'.")] = "",
    topics: Annotated[str, Form(max_length=500, description="Comma-separated.")] = "",
) -> GuideFields:
    """The guide's metadata; empty fields keep what the file says (its title, language,
    date...)."""
    return GuideFields(title, publisher, licence, date, jurisdiction, language, topics)


FieldsDep = Annotated[GuideFields, Depends(_fields)]
FileField = Annotated[
    UploadFile, File(description="PDF, DOCX, HTML, Markdown, text, CSV, or a ZIP of them.")
]


def _api_error(error: UploadError) -> ApiError:
    return ApiError(error.status, error.message, code=error.code, param="file")


_UPLOAD_ERRORS = error_responses(400, 401, 409, 413, 415, 422)  # 400: broken multipart


@router.get("/documents", responses=error_responses(401))
def documents(
    _: StaffDep, uploads: UploadsDep, library: LibraryDep, settings: SettingsDep
) -> DocumentsOut:
    """The uploaded guides (newest first, with their indexing status) and the rest of
    the index, read-only."""
    corpus = [
        CorpusDocumentOut(
            source=source,
            title=str(meta.get("title", "")),
            date=str(meta.get("date", "")),
            language=str(meta.get("language", "")),
            chunks=chunks,
        )
        for root, source, chunks, meta in library.records.documents()
        if root != ROOT
    ]
    return DocumentsOut(
        uploads=[UploadOut.of(row) for row in uploads.all()],
        corpus=corpus,
        limits=Limits(
            max_bytes=settings.upload_max_bytes,
            max_files=settings.upload_max_files,
            max_documents=settings.upload_max_documents,
        ),
    )


@router.post("/documents", status_code=202, responses=_UPLOAD_ERRORS)
def upload(file: FileField, fields: FieldsDep, staff: StaffDep, uploads: UploadsDep) -> UploadedOut:
    """Add a guide (or each guide of a ZIP). It is searchable by keyword within seconds
    and by meaning once embedded: watch ``status`` in ``GET /documents``."""
    try:
        rows, rejected = uploads.add(file.filename or "", file.file, fields, staff)
    except UploadError as error:
        raise _api_error(error) from error
    return UploadedOut(
        uploaded=[UploadOut.of(row) for row in rows],
        rejected=[Rejection(filename=r.filename, reason=r.reason) for r in rejected],
    )


@router.put(
    "/documents/{document_id}",
    status_code=202,
    responses={**_UPLOAD_ERRORS, **error_responses(404)},
)
def replace(
    document_id: str,
    file: FileField,
    fields: FieldsDep,
    staff: StaffDep,
    uploads: UploadsDep,
) -> UploadOut:
    """A new version of a guide (one file, not a ZIP): its old passages are removed and
    citations show the new version's date. Fields left empty keep their previous values,
    but the date, which is the new file's (or today's) unless given."""
    try:
        row = uploads.replace(document_id, file.filename or "", file.file, fields, staff)
    except UploadError as error:
        raise _api_error(error) from error
    return UploadOut.of(row)


@router.delete("/documents/{document_id}", responses=error_responses(401, 404))
def remove(document_id: str, staff: StaffDep, uploads: UploadsDep) -> UploadOut:
    """Delete a guide: it is no longer searched nor cited (within seconds)."""
    try:
        return UploadOut.of(uploads.remove(document_id, staff))
    except UploadError as error:
        raise _api_error(error) from error


@router.get("/audit", responses=error_responses(401))
def audit(
    _: StaffDep, uploads: UploadsDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[AuditOut]:
    """Who uploaded, replaced or deleted which guide, newest first."""
    return [
        AuditOut(**{name: getattr(entry, name) for name in AuditOut.model_fields})
        for entry in uploads.audit(limit)
    ]
