"""Where staff notifications go in tests: a real HTTP server that records the JSON posted
to it (and can fail the first requests, to exercise retries), and a real SMTP server
(aiosmtpd) that keeps the messages it receives, optionally asking for a login."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.servers import free_port

__all__ = ["HttpReceiver", "SmtpReceiver"]


@dataclass
class HttpReceiver:
    """Records POSTs to ``path``; ``fail_next(503, 500)`` answers the next ones so."""

    path: str = "/hooks/T000/B000/s3cr3t-token"
    url: str = ""
    received: list[dict] = field(default_factory=list)
    attempts: int = 0
    _script: deque = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.attempts += 1
                    status = receiver._script.popleft() if receiver._script else 200
                    if self.path != receiver.path:
                        status = 404
                    if status == 200 and self.headers.get("Content-Type") == "application/json":
                        receiver.received.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"
        return self.url

    def fail_next(self, *statuses: int) -> None:
        with self._lock:
            self._script.extend(statuses)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Keep:
    def __init__(self, box: list[Message]) -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.box.append(message)
        return "250 OK"


class SmtpReceiver:
    """aiosmtpd on a free port; with ``user``/``password`` it requires that login (over
    plain text, allowed for this local test server only)."""

    def __init__(self, user: str = "", password: str = "") -> None:
        self.messages: list[Message] = []
        self.port = free_port()
        options = {}
        if user:

            def authenticate(server, session, envelope, mechanism, data) -> AuthResult:
                ok = isinstance(data, LoginPassword) and (
                    data.login.decode(),
                    data.password.decode(),
                ) == (user, password)
                return AuthResult(success=ok, handled=False)

            options = {
                "authenticator": authenticate,
                "auth_require_tls": False,
                "auth_required": True,
            }
        self.controller = Controller(
            _Keep(self.messages), hostname="127.0.0.1", port=self.port, **options
        )

    def start(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
