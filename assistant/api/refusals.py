"""A budget for refused requests: an address that keeps sending requests the API refuses
(404s, 422s, 401s…: none of them spends a work budget) is answered 429 at the door.

Every response with a 4xx status counts against ``refused_rate_limit`` for the client's
address. Once an address is past it, its requests are answered at once, before routing,
reading the body or touching a database, with ``Connection: close`` (a flood must open a
new connection for each), until the window has room. Requests a browser sends for
another site's page (``Sec-Fetch-Site: cross-site``) are counted apart, so that a hostile
page making its visitors' browsers send bad requests cannot lock their office's address
out of the chat it uses directly.
"""

from __future__ import annotations

import math
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.api.errors import error_response
from assistant.api.protocol import address_key
from assistant.ratelimit import Budgets

__all__ = ["RefusedBudget", "refused_key"]

_MAX_BLOCKED = 10_000  # addresses remembered as over their budget, before expired ones go


def refused_key(scope: Scope) -> str:
    """The key a request's refusals are counted under: its client's address (its /64
    for IPv6), apart for requests a browser sends for another site's page."""
    client = scope.get("client")
    key = address_key(client[0] if client else "unknown")
    headers = dict(scope["headers"])
    return f"{key} cross-site" if headers.get(b"sec-fetch-site") == b"cross-site" else key


class RefusedBudget:
    """ASGI middleware: see the module's docstring. It must run inside the proxy-headers
    middleware, which puts the forwarded client address in the scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # key -> monotonic time its block ends: the door's check needs no storage call.
        self._blocked: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = refused_key(scope)
        wait = self._blocked.get(key, 0.0) - time.monotonic()
        if wait > 0:
            await self._refuse(scope, receive, send, math.ceil(wait))
            return
        status = 0

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watched)
        if 400 <= status < 500:
            budgets: Budgets = scope["app"].state.budgets
            refusal = budgets.hit("refused", key) or budgets.over("refused", key)
            if refusal is not None:
                self._block(key, refusal.retry_after)

    def _block(self, key: str, seconds: int) -> None:
        now = time.monotonic()
        if len(self._blocked) >= _MAX_BLOCKED:
            self._blocked = {k: end for k, end in self._blocked.items() if end > now}
        self._blocked[key] = now + seconds

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, seconds: int) -> None:
        response = error_response(
            429,
            "Too many refused requests from this address; try again in "
            f"{seconds} s (and check what the refusals said).",
            code="rate_limited",
            headers={"Retry-After": str(seconds), "Connection": "close"},
        )
        await response(scope, receive, send)
