"""A stand-in for Twilio's Messages API (``POST /2010-04-01/Accounts/{sid}/Messages.json``):
a real HTTP server on a free port that checks the Basic authentication and the form as
Twilio documents them, answers like Twilio (201 with a message ``sid``), and records
every request, so tests see what a phone would have received."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from tests.support.servers import free_port

__all__ = ["TwilioMessage", "TwilioStandIn"]

BODY_LIMIT = 1600


@dataclass
class TwilioMessage:
    sid: str
    to: str
    sender: str
    body: str
    status_callback: str


@dataclass
class TwilioStandIn:
    account_sid: str
    auth_token: str
    url: str = ""
    messages: list[TwilioMessage] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def start(self) -> str:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode()
                status, reply = stand_in._answer(
                    self.path, self.headers.get("Authorization", ""), raw
                )
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sent_to(self, to: str) -> list[TwilioMessage]:
        with self._lock:
            return [m for m in self.messages if m.to == to]

    def _answer(self, path: str, authorization: str, raw: str) -> tuple[int, dict]:
        expected = (
            "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        )
        form = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
        with self._lock:
            if authorization != expected:
                self.problems.append("bad Basic authentication")
                return 401, {"code": 20003, "message": "Authenticate", "status": 401}
            if path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
                self.problems.append(f"bad path {path}")
                return 404, {"code": 20404, "message": "Not found", "status": 404}
            problems = [
                f"{name} is required" for name in ("To", "From", "Body") if not form.get(name)
            ]
            if any(not form.get(n, "").startswith("whatsapp:") for n in ("To", "From")):
                problems.append("To and From must be whatsapp: addresses")
            if len(form.get("Body", "")) > BODY_LIMIT:
                problems.append(f"Body is longer than {BODY_LIMIT} characters")
            if problems:
                self.problems.extend(problems)
                return 400, {"code": 21602, "message": "; ".join(problems), "status": 400}
            sid = f"SM{next(self._sids):032d}"
            self.messages.append(
                TwilioMessage(
                    sid, form["To"], form["From"], form["Body"], form.get("StatusCallback", "")
                )
            )
        return 201, {"sid": sid, "status": "queued", "to": form["To"], "body": form["Body"]}
