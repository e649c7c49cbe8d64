"""``GET /api/sources/{source}``: a cited document, as JSON or as a readable page.

A browser (``Accept: text/html``) gets a page whose sections carry their anchors, so a
citation's link (``?section=…#anchor``) opens at its passage; other clients get JSON.
Documents are read from the index's records, never from the file system.
"""

from __future__ import annotations

import re
from html import escape
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from assistant.api.deps import LibraryDep, charge
from assistant.api.errors import ApiError
from assistant.api.schemas import error_responses
from assistant.library import SourceDocument

__all__ = ["router"]

router = APIRouter(prefix="/api/sources", tags=["sources"])

_BAD_PATH = re.compile(r"(^|/)\.{1,2}(/|$)|^/|\\|\x00|//")

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'self'"
)


def _check_source(source: str) -> str:
    if not source or _BAD_PATH.search(source) or len(source) > 1000:
        raise ApiError(
            400,
            "A source is a relative path such as 'guides/payment-methods.html', "
            "without '..', '.', '//', backslashes or a leading '/'.",
            code="invalid_source",
            param="source",
        )
    return source


def _wants_html(request: Request, format: str | None) -> bool:
    if format:
        return format == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept.split(";", 1)[0]


@router.get(
    "/{source:path}",
    responses={
        **error_responses(400, 404, 422),
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
    },
)
def get_source(
    request: Request,
    library: LibraryDep,
    source: Annotated[str, Path(description="The citation's `source`.")],
    section: Annotated[
        str | None, Query(max_length=500, description="The citation's `section`.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=2000, description="Most sections returned.")] = 200,
    format: Annotated[
        Literal["json", "html"] | None,
        Query(description="Overrides the Accept header."),
    ] = None,
) -> SourceDocument:
    """A document's provenance and text, as sections (at most ``limit`` of them, around
    the section asked for); ``anchor`` is that section's id in the HTML page."""
    charge(request, "reads")
    document = library.document(_check_source(source), section=section, limit=limit)
    if document is None:
        raise ApiError(
            404,
            f"No indexed document '{source}'.",
            code="source_not_found",
            param="source",
        )
    if _wants_html(request, format):
        return HTMLResponse(
            render_page(document),
            headers={"Content-Security-Policy": PAGE_CSP},
        )
    return document


# C0/C1 controls (but tab and newlines), bidi embeddings, overrides and isolates.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _text(value: str) -> str:
    """Document text for the page: escaped, its control characters made visible (U+FFFD),
    so that an override cannot reverse what follows (each element also isolates it)."""
    return escape(_CONTROLS.sub("\ufffd", value))


def render_page(document: SourceDocument) -> str:
    """The document as a page; the section asked for is marked and linked at the top."""
    facts = " · ".join(
        escape(value) for value in (document.publisher, document.date, document.licence) if value
    )
    official = (
        f'<a href="{escape(document.url)}" rel="noopener noreferrer">{escape(document.url)}</a>'
        if document.url.startswith(("https://", "http://"))
        else ""
    )
    parts, jump = [], ""
    for section in document.sections:
        cited = section.anchor == document.anchor
        anchor, title = escape(section.anchor), _text(section.title)
        if cited:
            jump = f'<p class="jump"><a href="#{anchor}">↓ {title}</a></p>'
        parts.append(
            f'<section id="{anchor}"'
            + (' class="cited" aria-current="location"' if cited else "")
            + f'><h2 dir="auto">{title}</h2><p dir="auto">{_text(section.text)}</p></section>'
        )
    shown = ""
    if len(document.sections) < document.total_sections:
        shown = (
            f'<p class="partial">Sections {document.first + 1}–'
            f"{document.first + len(document.sections)} of {document.total_sections}.</p>"
        )
    lang = escape(document.language or "en")
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_text(document.title)}</title>"
        '<link rel="stylesheet" href="/source.css"></head><body><main>'
        f'<header><p class="path">{escape(document.source)}</p>'
        f'<h1 dir="auto">{_text(document.title)}</h1>'
        f'<p class="facts">{facts}</p><p class="official">{official}</p>{jump}{shown}</header>'
        + "".join(parts)
        + "</main></body></html>"
    )
