"""Security headers on every response.

Pages set their own Content-Security-Policy (``PAGE_CSP``: nothing from another
origin); any other response (JSON, errors, redirects) gets ``API_CSP``, which lets
nothing load or run, so a response opened as a document is inert. FastAPI's own
/docs and /redoc load Swagger UI and ReDoc from a CDN and keep no CSP.
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
    """ASGI middleware: ``SECURITY_HEADERS``, and ``API_CSP`` unless the response set a
    policy or its path is one of ``no_csp``; a header the route set is kept."""

    def __init__(self, app: ASGIApp, no_csp: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.no_csp = no_csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        defaults = dict(SECURITY_HEADERS)
        if scope["path"] not in self.no_csp:
            defaults["Content-Security-Policy"] = API_CSP

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
        docs = {self.docs_url, self.redoc_url, self.swagger_ui_oauth2_redirect_url}
        return SecurityHeaders(super().build_middleware_stack(), frozenset(docs - {None}))
