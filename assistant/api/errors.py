"""Every error as one JSON shape, ``{"error": {message, type, param, code}}``.

It is the OpenAI API's shape, so OpenAI clients show our messages too::

    HTTPException (Starlette)        -> its status, type from the status
      ApiError                       -> its status, type, param and code
    RequestValidationError           -> 422, or 400 for a body that is not JSON
    a backend that failed            -> ``backend_error``: 503 + Retry-After, 507 when full
      httpx.TransportError             the Chroma server is down or restarting
      sqlalchemy OperationalError      the database is locked, full or unreachable
    anything else                    -> 500, logged with its traceback

``BodySizeLimit`` answers 413 in the same shape (Starlette's own limit answers in text),
``JsonCORS`` a refused preflight, and ``assistant.api.protocol`` the server's own 400.
"""

from __future__ import annotations

import logging
import sqlite3

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.store import chroma_address

__all__ = [
    "RETRY_SECONDS",
    "ApiError",
    "BodySizeLimit",
    "JsonCORS",
    "backend_error",
    "error_body",
    "error_response",
    "install_error_handlers",
    "stream_error",
    "validation_message",
]

log = logging.getLogger(__name__)

RETRY_SECONDS = 5  # the Retry-After of every 503: long enough for a restart to finish

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
    507: "insufficient_storage",
}

# Codes of the framework's own errors (a body that could not be parsed: 400).
_CODES = {
    400: "malformed_body",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}


class ApiError(HTTPException):
    """An error the client can act on: ``code`` is stable, ``message`` is for people."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        code: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code, message, headers)
        self.code = code
        self.param = param


def error_body(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict:
    """``{message, type, param, code}``: the inside of every error, streamed ones too."""
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"message": message, "type": kind, "param": param, "code": code}


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": error_body(status, message, code=code, param=param)}
    return JSONResponse(body, status_code=status, headers=headers)


def _unavailable(message: str, code: str) -> ApiError:
    return ApiError(503, message, code=code, headers={"Retry-After": str(RETRY_SECONDS)})


# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_SQLITE_DOWN = {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR}
# PostgreSQL SQLSTATEs: disk_full; lock_not_available, query_canceled (a lock timeout).
_PG_FULL = {"53100"}
_PG_BUSY = {"55P03", "57014"}


def backend_error(exc: Exception, chroma_url: str | None) -> ApiError | None:
    """What to tell the client when the vector server or the database failed: a 503 to
    retry after a while, or a 507 when the database has no space left; None when
    ``exc`` is not such a failure (it is then a bug: a 500)."""
    if isinstance(exc, httpx.TransportError) and chroma_url:
        try:
            url = exc.request.url
        except RuntimeError:  # no request attached: not a call to Chroma
            return None
        port = url.port or (443 if url.scheme == "https" else 80)  # httpx drops defaults
        if (url.host, port) == chroma_address(chroma_url):
            return _unavailable(
                "The search index server is not reachable; try again in a few seconds.",
                "vector_store_unavailable",
            )
        return None
    if not isinstance(exc, OperationalError):
        return None
    sqlite_code = getattr(exc.orig, "sqlite_errorcode", None)
    primary = sqlite_code & 0xFF if sqlite_code is not None else None
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if primary == sqlite3.SQLITE_FULL or sqlstate in _PG_FULL:
        return ApiError(
            507,
            "The conversations database has no space left, so this answer could not be "
            "saved; earlier conversations are intact. Please tell the site's operator.",
            code="storage_full",
        )
    if primary in _SQLITE_BUSY or sqlstate in _PG_BUSY:
        return _unavailable(
            "The conversations database is busy; try again in a few seconds.", "database_busy"
        )
    if _unreachable(sqlite_code, primary, sqlstate):
        return _unavailable(
            "The conversations database is not reachable; try again in a few seconds.",
            "database_unavailable",
        )
    return None  # a wrong schema, a corrupt file: a bug to see (500), not to retry


def _unreachable(sqlite_code: int | None, primary: int | None, sqlstate: str | None) -> bool:
    if sqlite_code is not None:
        return primary in _SQLITE_DOWN
    # psycopg: no SQLSTATE when the client lost the server; 08 connection exceptions;
    # 57P admin shutdown, crash, cannot connect now.
    return sqlstate is None or sqlstate.startswith(("08", "57P"))


def _location(loc: tuple) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path"))


def validation_message(errors: list[dict]) -> tuple[str, str | None]:
    """One readable sentence for pydantic's errors, and the first field concerned."""
    parts = []
    for error in errors:
        where = _location(error["loc"])
        if error["type"] == "extra_forbidden" and where.startswith("filters."):
            from assistant.retrieval import FILTER_KEYS

            key = where.split(".", 1)[1]
            parts.append(f"unknown filter '{key}' (known: {', '.join(FILTER_KEYS)})")
        elif error["type"] == "extra_forbidden":
            parts.append(f"unknown field '{where}'")
        else:
            parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    param = _location(errors[0]["loc"]) if errors else None
    return "Invalid request: " + "; ".join(parts) + ".", param or None


def stream_error(exc: Exception, chroma_url: str | None) -> dict:
    """The error of an answer that failed after its stream opened (the status line is
    sent, so the error becomes the stream's last event), logged."""
    error = backend_error(exc, chroma_url)
    if error is None:
        log.error("answering failed in a stream", exc_info=exc)
        return error_body(
            500, "The answer failed; it has been logged. Please try again.", code="answer_failed"
        )
    log.warning("%s in a stream: %s", error.code, exc)
    return error_body(error.status_code, error.detail, code=error.code)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc, ApiError):
            return error_response(
                exc.status_code, exc.detail, code=exc.code, param=exc.param, headers=exc.headers
            )
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        code = _CODES.get(exc.status_code)
        return error_response(exc.status_code, message, code=code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if errors and errors[0]["type"] == "json_invalid":
            return error_response(400, "The request body is not valid JSON.", code="malformed_json")
        message, param = validation_message(errors)
        return error_response(422, message, code="invalid_request", param=param)

    @app.exception_handler(httpx.TransportError)
    @app.exception_handler(OperationalError)
    async def _backend(request: Request, exc: Exception) -> JSONResponse:
        error = backend_error(exc, request.app.state.settings.chroma_url)
        if error is None:
            return await _unexpected(request, exc)
        log.warning("%s on %s %s: %s", error.code, request.method, request.url.path, exc)
        return await _http(request, error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "Internal error; it has been logged.", code="internal_error")


class BodySizeLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with a JSON 413, whether
    announced by Content-Length or found while reading a chunked body."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, *, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}  # path -> its own limit (uploads)

    def _error(self, limit: int) -> ApiError:
        return ApiError(
            413, f"The request body is larger than {limit} bytes.", code="request_too_large"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = next(
            (size for path, size in self.larger.items() if scope["path"].startswith(path)),
            self.max_bytes,
        )
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            error = self._error(limit)
            response = error_response(413, error.detail, code=error.code)
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise self._error(limit)  # an HTTPException: the handlers above answer it
            return message

        await self.app(scope, limited, send)


class JsonCORS(CORSMiddleware):
    """Starlette's CORS, with a refused preflight in the usual error shape (it says
    "Disallowed CORS origin" in plain text)."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = response.body.decode().removeprefix("Disallowed CORS ")
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.lower().startswith("access-control-") or name.lower() == "vary"
        }
        return error_response(
            400,
            f"This cross-origin request is not allowed (its {refused}).",
            code="cors_refused",
            headers=headers,
        )
