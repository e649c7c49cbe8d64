"""What the server does below the routes: connection limits, its own errors in the API's
shape, and ``HEAD`` wherever ``GET`` works.

``GuardedProtocol`` is uvicorn's h11 protocol with limits a single client cannot get
around by never finishing its requests (``serve`` uses it):

- a request, headers and body, must arrive within ``request_read_timeout`` of the
  connection (or of its first byte on a kept-alive one), else a 408 and the close;
- one client address holds at most ``max_connections_per_address`` connections (a
  trusted proxy's are not counted: the proxy limits its clients, see docs/security.md);
- past ``max_connections`` in the process (lowered to fit its file limit), the
  connection that has waited longest for its request is closed to make room (else the
  new one), so file descriptors never run out and a complete request finds a connection.

A request's header block may hold ``MAX_HEAD_BYTES`` (16 KiB), whether it comes in one
write or several (h11 only limits a block still incomplete): past it, a 431 and the close.

Its 400 for a request that is not HTTP, the 408 and the 431 are JSON in the usual error
shape with the security headers, like every response of the app.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import resource
import time
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

import h11
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from assistant.api.errors import error_body
from assistant.api.headers import API_CSP, SECURITY_HEADERS
from assistant.settings import Settings

__all__ = [
    "MAX_HEAD_BYTES",
    "RESERVED_FILES",
    "ConnectionLimits",
    "GuardedProtocol",
    "HeadAsGet",
    "address_key",
    "uvicorn_options",
]

log = logging.getLogger(__name__)

_REASONS = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large"}
# Files the process keeps open besides connections: models, databases, Chroma, logs.
RESERVED_FILES = 100
MAX_HEAD_BYTES = 16 * 1024  # a request line and its headers (h11's limit, in any write)
_HEAD_END = re.compile(rb"\r?\n\r?\n")


def address_key(host: str) -> str:
    """The key a client address is counted under: itself, or its /64 for IPv6 (one
    subscriber holds a whole /64 to rotate through)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6 and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return host


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int
    per_address: int  # 0: no limit
    read_timeout: float
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        """The limits of ``settings``, ``max_connections`` lowered to what the process's
        file limit (``ulimit -n``) leaves after ``RESERVED_FILES``."""
        room = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - RESERVED_FILES
        if room < settings.max_connections:
            log.warning(
                "max_connections lowered from %d to %d: the process may open %d files",
                settings.max_connections,
                max(room, 10),
                room + RESERVED_FILES,
            )
        return cls(
            min(settings.max_connections, max(room, 10)),
            settings.max_connections_per_address,
            settings.request_read_timeout,
            tuple(ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies),
        )

    def counts_address(self, host: str) -> bool:
        """Whether connections from ``host`` are limited per address (not a proxy's)."""
        if not self.per_address:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return True
        return not any(address in network for network in self.trusted)


@cache
def _limits_from_environment() -> ConnectionLimits:
    return ConnectionLimits.from_settings(Settings())


def raw_error(status: int, message: str, code: str) -> bytes:
    """A whole HTTP/1.1 error response in the API's shape, with the security headers,
    for when no request reached the app (the connection is closed after it)."""
    body = json.dumps({"error": error_body(status, message, code=code)}).encode()
    headers = {
        "content-type": "application/json",
        "content-length": str(len(body)),
        "connection": "close",
        **{name.lower(): value for name, value in SECURITY_HEADERS.items()},
        "content-security-policy": API_CSP,
    }
    head = f"HTTP/1.1 {status} {_REASONS[status]}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    return head.encode("latin-1") + b"\r\n" + body


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol with the limits of the module's docstring. ``limits`` is
    read from the environment's settings unless a subclass sets it (tests)."""

    limits: ClassVar[ConnectionLimits | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = self.limits or _limits_from_environment()
        self._deadline: asyncio.TimerHandle | None = None
        self.waiting_since: float | None = None  # a request is on its way since then
        self.address: str | None = None  # address_key of a client counted per address

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = self.client[0] if self.client else ""
        if self._limits.counts_address(host):
            self.address = address_key(host)
        self._start_waiting()
        victim = self._over_limits()
        if victim is not None:
            victim.transport.close()

    def _over_limits(self) -> GuardedProtocol | None:
        """The connection to close for this one to fit: this one, the oldest waiting one,
        or None."""
        others = [
            c
            for c in self.connections
            if c is not self and isinstance(c, GuardedProtocol) and not c.transport.is_closing()
        ]
        if self.address is not None:
            mine = sum(1 for c in others if c.address == self.address)
            if mine >= self._limits.per_address:
                return self
        if len(others) < self._limits.max_connections:
            return None
        waiting = [c for c in others if c.waiting_since is not None]
        return min(waiting, key=lambda c: c.waiting_since) if waiting else self

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._start_waiting()  # the first byte of the next request on this connection
        if self._head_too_large(data):
            message = f"The request's header block is larger than {MAX_HEAD_BYTES} bytes."
            self.transport.write(raw_error(431, message, "headers_too_large"))
            self.transport.close()
            return
        super().data_received(data)
        if self.cycle is not None and not self.cycle.more_body and not self.cycle.response_complete:
            self._stop_waiting()  # the request is in: the app takes its time

    def _head_too_large(self, data: bytes) -> bool:
        """Whether a request's header block, with ``data``, passes ``MAX_HEAD_BYTES``
        (complete or not: h11 would take a complete one of any size)."""
        if self.conn.their_state not in (h11.IDLE, h11.DONE):
            return False  # a body, or the connection is closing
        head = self.conn.trailing_data[0] + data
        end = _HEAD_END.search(head)
        return (end.start() if end else len(head)) > MAX_HEAD_BYTES

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _start_waiting(self) -> None:
        self.waiting_since = time.monotonic()
        self._deadline = self.loop.call_later(self._limits.read_timeout, self._too_slow)

    def _stop_waiting(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self.waiting_since = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            message = f"The request did not arrive within {self._limits.read_timeout:g} s."
            self.transport.write(raw_error(408, message, "request_timeout"))
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes that are not HTTP, in the API's shape."""
        message = "The request is not valid HTTP/1.1 (or its headers are too large)."
        self.transport.write(raw_error(400, message, "invalid_http"))
        self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What ``serve`` gives uvicorn besides the app, host and port."""
    return {
        "http": "assistant.api.protocol:GuardedProtocol",
        "timeout_keep_alive": settings.keep_alive_timeout,
        "timeout_graceful_shutdown": 30,
        "proxy_headers": False,  # the app believes forwarded headers from trusted_proxies only
    }


class HeadAsGet:
    """ASGI middleware: ``HEAD`` answered as the ``GET`` of the same URL would be, headers
    only (uvicorn sends no body for a HEAD)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}
        await self.app(scope, receive, send)
