"""Every error as one JSON shape, ``{"error": {message, type, param, code}}``.

It is the OpenAI API's shape, so OpenAI clients show our messages too::

    HTTPException (Starlette)        -> its status, type from the status
      ApiError                       -> its status, type, param and code
    RequestValidationError           -> 422, or 400 for a body that is not JSON
    anything else                    -> 500, logged with its traceback

``BodySizeLimit`` answers 413 in the same shape (Starlette's own limit answers in text).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ApiError",
    "BodySizeLimit",
    "error_response",
    "install_error_handlers",
    "validation_message",
]

log = logging.getLogger(__name__)

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
}

_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


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


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {
            "message": message,
            "type": _TYPES.get(
                status, "server_error" if status >= 500 else "invalid_request_error"
            ),
            "param": param,
            "code": code,
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "Internal error; it has been logged.", code="internal_error")


class BodySizeLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with a JSON 413, whether
    announced by Content-Length or found while reading a chunked body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _error(self) -> ApiError:
        return ApiError(
            413,
            f"The request body is larger than {self.max_bytes} bytes.",
            code="request_too_large",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            error = self._error()
            response = error_response(413, error.detail, code=error.code)
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise self._error()  # an HTTPException: the handlers above answer it
            return message

        await self.app(scope, limited, send)
