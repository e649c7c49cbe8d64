"""Security headers on every response.

Pages set their own Content-Security-Policy (``PAGE_CSP``: nothing from another
origin); any other response (JSON, errors, redirects) gets ``API_CSP``, which lets
nothing load or run, so a response opened as a document is inert. FastAPI's /docs and
/redoc are off: they load Swagger UI and ReDoc from a CDN. Our /docs serves Swagger UI
from installed files under ``PAGE_CSP`` (``create_app``).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["API_CSP", "PAGE_CSP", "SECURITY_HEADERS", "SecuredApp", "SecurityHeaders"]

PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'self'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # questions and sources are nobody else's business
    "X-Frame-Options": "SAMEORIGIN",  # for browsers that predate frame-ancestors
}


class SecurityHeaders:
    """ASGI middleware: ``SECURITY_HEADERS`` and ``API_CSP``; a header the route set
    (a page's own policy) is kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        defaults = {**SECURITY_HEADERS, "Content-Security-Policy": API_CSP}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in defaults.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SecuredApp(FastAPI):
    """FastAPI with ``SecurityHeaders`` outermost: Starlette answers an unhandled error
    (500) outside every middleware added with ``add_middleware``."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())
