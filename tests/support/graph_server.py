"""A stand-in for Meta's Graph API messages endpoint: a real HTTP server on a free
port that checks what a client sends the way Meta documents it, answers like Meta,
and records every request, so tests see exactly what a phone would have received."""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.servers import free_port

__all__ = ["GraphStandIn", "Recorded"]

# A business-scoped user id: country code, "." (a parent BSUID: "ENT."), up to 128 letters
# and digits.
BSUID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")
PHONE = re.compile(r"\+?[0-9]{1,20}")  # ASCII digits: "٣٣٦…" passes str.isdigit


@dataclass
class Recorded:
    path: str
    authorization: str
    body: dict
    status: int

    @property
    def to(self) -> str:
        """The phone number (``to``) or, failing that, the BSUID (``recipient``) sent to."""
        return self.body.get("to") or self.body.get("recipient", "")

    @property
    def phone_number_id(self) -> str:
        """The business number the message was sent from (the path's second part)."""
        return self.path.split("/")[2]

    @property
    def text(self) -> str:
        """What the phone shows: the text, or the body of a message with buttons (a
        template: its name)."""
        if self.body.get("type") == "template":
            return f"template:{self.body['template']['name']}"
        if self.body.get("type") == "interactive":
            return self.body["interactive"]["body"]["text"]
        return self.body["text"]["body"]

    @property
    def buttons(self) -> dict[str, str]:
        """Button id -> title."""
        if self.body.get("type") != "interactive":
            return {}
        return {
            b["reply"]["id"]: b["reply"]["title"]
            for b in self.body["interactive"]["action"]["buttons"]
        }


def _problems(body: object) -> list[str]:
    """What Meta would reject in a messages request (the parts this project uses)."""
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    problems = []
    if body.get("messaging_product") != "whatsapp":
        problems.append("messaging_product must be 'whatsapp'")
    if body.get("recipient_type", "individual") != "individual":
        problems.append("recipient_type must be 'individual'")
    to, recipient = body.get("to"), body.get("recipient")
    if to is None and recipient is None:
        problems.append("'to' (a phone number) or 'recipient' (a BSUID) is required")
    if to is not None and not (isinstance(to, str) and PHONE.fullmatch(to)):
        problems.append("'to' must be a phone number")
    if recipient is not None and not (isinstance(recipient, str) and BSUID.fullmatch(recipient)):
        problems.append("'recipient' must be a business-scoped user id")
    kind = body.get("type")
    if kind == "text":
        text = body.get("text", {}).get("body")
        if not (isinstance(text, str) and 0 < len(text) <= 4096):
            problems.append("text.body must hold 1 to 4096 characters")
    elif kind == "interactive":
        interactive = body.get("interactive", {})
        text = interactive.get("body", {}).get("text")
        buttons = interactive.get("action", {}).get("buttons")
        if interactive.get("type") != "button":
            problems.append("interactive.type must be 'button'")
        if not (isinstance(text, str) and 0 < len(text) <= 1024):
            problems.append("interactive.body.text must hold 1 to 1024 characters")
        if not (isinstance(buttons, list) and 1 <= len(buttons) <= 3):
            problems.append("1 to 3 buttons")
        else:
            replies = [b.get("reply", {}) for b in buttons if b.get("type") == "reply"]
            ids = [r.get("id") for r in replies]
            titles = [r.get("title") for r in replies]
            if len(replies) != len(buttons):
                problems.append("buttons must be of type 'reply'")
            if not all(isinstance(i, str) and 0 < len(i) <= 256 for i in ids):
                problems.append("button ids: 1 to 256 characters")
            if not all(isinstance(t, str) and 0 < len(t) <= 20 for t in titles):
                problems.append("button titles: 1 to 20 characters")
            if len(set(ids)) != len(ids) or len(set(titles)) != len(titles):
                problems.append("button ids and titles must be unique")
    elif kind == "template":
        template = body.get("template", {})
        if not (isinstance(template.get("name"), str) and template["name"]):
            problems.append("template.name is required")
        if not isinstance(template.get("language", {}).get("code"), str):
            problems.append("template.language.code is required")
    else:
        problems.append(f"unsupported type {kind!r}")
    return problems


@dataclass
class GraphStandIn:
    token: str
    paths: set[str]  # /{version}/{phone_number_id}/messages of each business number
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _script: deque = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> str:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                status, headers, reply = stand_in._answer(
                    self.path, self.headers.get("Authorization", ""), raw
                )
                data = json.dumps(reply).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, *statuses: int | tuple[int, dict[str, str]]) -> None:
        """Answer the next requests with these statuses (optionally with headers)."""
        with self._lock:
            self._script.extend(s if isinstance(s, tuple) else (s, {}) for s in statuses)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.problems.clear()
            self._script.clear()

    def sent_to(self, wa_id: str) -> list[Recorded]:
        """The messages Meta would have delivered to ``wa_id`` (accepted ones only)."""
        with self._lock:
            return [r for r in self.requests if r.to == wa_id and r.status == 200]

    def attempts_to(self, wa_id: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.to == wa_id]

    def _answer(self, path: str, authorization: str, raw: bytes) -> tuple[int, dict, dict]:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with self._lock:
            if authorization != f"Bearer {self.token}":
                self.problems.append(f"bad Authorization header {authorization!r}")
                status, headers = 401, {}
            elif path not in self.paths:
                self.problems.append(f"bad path {path}")
                status, headers = 404, {}
            elif problems := _problems(body):
                self.problems.extend(problems)
                status, headers = 400, {}
            elif self._script:
                status, headers = self._script.popleft()
            else:
                status, headers = 200, {}
            n = len(self.requests) + 1
            self.requests.append(Recorded(path, authorization, body or {}, status))
        if status == 200:
            # Meta answers with wa_id for a phone number, user_id for a BSUID.
            to = body.get("to")
            contact = {"input": to, "wa_id": to} if to else {"input": body["recipient"]}
            contact.setdefault("user_id", body.get("recipient", ""))
            return (
                200,
                headers,
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{k: v for k, v in contact.items() if v}],
                    "messages": [{"id": f"wamid.out-{n}"}],
                },
            )
        error = {"message": f"stand-in error {status}", "type": "OAuthException", "code": 1}
        if status == 429:
            error["code"] = 130429
        return status, headers, {"error": error}
