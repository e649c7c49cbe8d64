"""What one hostile client tried (issue 15), against a real uvicorn server with the
protocol ``serve`` uses: each attack is made as the probe made it, from its own client
address on the loopback network (127.0.0.x), and must fail now.

Connection floods, which need a process of their own, are in ``test_connections.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Iterator
from itertools import count

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import update

from assistant.channels.records import ChatRecord, MessageRecord, WhatsAppRecords
from assistant.channels.whatsapp import Inbound
from assistant.conversations import ConversationRecord, TurnRecord
from tests.api.conftest import open_client
from tests.security.test_headers import assert_secured
from tests.support.app_fixtures import LiveServer, serving

pytestmark = pytest.mark.slow

KEY = "hostile-test-key-7b1c"
ALLOWED_ORIGIN = "https://shop.example.com"
FACTORING = "How much of an invoice can I borrow with invoice factoring?"
GUIDE = "/api/sources/guides/borrow-against-assets.md"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
LIMITS = {
    "rate_limit": "3/minute",
    "feedback_rate_limit": "30/minute",
    "conversation_feedback_rate_limit": "4/minute",
    "reads_rate_limit": "5/minute",
    "helpdesk_rate_limit": "30/minute",
    "helpdesk_key_failure_limit": "3/minute",
    "helpdesk_global_key_failure_limit": "5/minute",
    "helpdesk_api_keys": [SecretStr(KEY)],
    "max_turns": 3,
    "feedback_edit_seconds": 0,  # every rating is final at once
    "cors_origins": [ALLOWED_ORIGIN],
}
_hosts = count(10)


@pytest.fixture(scope="module")
def server(sample_index, embeddings) -> Iterator[LiveServer]:
    """The app over the sample index on a real port, served by ``GuardedProtocol``."""
    with serving(sample_index.model_copy(update=LIMITS), embeddings, guarded=True) as live:
        yield live


@pytest.fixture
def visitor(server) -> Iterator[httpx.Client]:
    """A client at an address of its own (127.0.0.x), so that its budgets are its own."""
    host = f"127.0.0.{next(_hosts)}"
    transport = httpx.HTTPTransport(local_address=host)
    with httpx.Client(base_url=server.url, transport=transport, timeout=None) as client:
        yield client


def new_host() -> str:
    """A loopback address (127.0.0.x) no other client of the tests has used."""
    return f"127.0.0.{next(_hosts)}"


def another_visitor(server, host: str | None = None) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=host or new_host())
    return httpx.Client(base_url=server.url, transport=transport, timeout=None)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code, error
    assert set(error) == {"message", "type", "param", "code"}
    assert_secured(response)
    return error


def ask(client: httpx.Client, message: str = FACTORING, conversation_id: str | None = None):
    body = {"message": message, "conversation_id": conversation_id}
    return client.post("/api/chat", json={k: v for k, v in body.items() if v})


# ------------------------------------------------------------ 2. numbers and texts in


@pytest.mark.parametrize("turn", [2**63, 2**70, 9223372036854775808, 0, -1])
def test_a_huge_or_negative_turn_number_is_a_422_not_a_500(visitor, turn):
    """Before: ``"turn": 2**63`` overflowed SQLite's integer, a 500 and a traceback."""
    conversation = ask(visitor).json()["conversation_id"]
    rating = {"conversation_id": conversation, "turn": turn, "rating": "down"}
    error = assert_error(visitor.post("/api/feedback", json=rating), 422, "invalid_request")
    assert error["param"] == "turn"


@pytest.mark.parametrize(
    ("method", "path", "options", "param"),
    [
        ("POST", "/api/chat", {"json": {"message": "x", "filters": {"topic": "t" * 1001}}}, None),
        ("GET", f"/api/conversations/{UNKNOWN}", {"params": {"after": 2**70}}, "after"),
        ("GET", f"/api/conversations/{UNKNOWN}", {"params": {"limit": 10**6}}, "limit"),
        ("GET", GUIDE, {"params": {"limit": 2**64}}, "limit"),
        (
            "GET",
            "/api/helpdesk/search",
            {"params": {"q": "vat", "jurisdiction": "j" * 1001}, "headers": {"X-API-Key": KEY}},
            "jurisdiction",
        ),
    ],
)
def test_every_number_and_filter_is_bounded(visitor, method, path, options, param):
    error = assert_error(visitor.request(method, path, **options), 422, "invalid_request")
    assert param is None or error["param"] == param


# ------------------------------------------------------------ 3. feedback spam and flips


def test_one_conversation_cannot_fill_the_review_list_or_flip_a_complaint(server, visitor):
    """Before: 22 of the 27 reviews were one client's thumbs-down, and a complaint could be
    flipped to "up" by anyone holding the conversation's id."""
    first = ask(visitor).json()
    conversation = first["conversation_id"]
    for _ in range(2):
        assert ask(visitor, FACTORING, conversation).status_code == 200
    for turn in (1, 2, 3):
        rating = {"conversation_id": conversation, "turn": turn, "rating": "down"}
        assert visitor.post("/api/feedback", json=rating).status_code == 201
    flip = {"conversation_id": conversation, "turn": 1, "rating": "up"}
    with another_visitor(server) as mallory:
        assert_error(mallory.post("/api/feedback", json=flip), 409, "feedback_final")
        # the conversation's own budget (4/minute), whoever rates: the fifth is refused
        assert_error(visitor.post("/api/feedback", json=flip), 429, "rate_limited")

        reviews = mallory.get("/api/helpdesk/reviews", headers={"X-API-Key": KEY}).json()
    mine = [r for r in reviews if r["conversation_id"] == conversation]
    assert [(r["turn"], r["downs"]) for r in mine] == [(3, 3)], "one entry per conversation"
    stored = visitor.get(f"/api/conversations/{conversation}").json()
    assert [t["feedback"] for t in stored["turns"]] == ["down", "down", "down"]


# ------------------------------------------------------------ 4. only work costs


def test_refused_requests_spend_no_question_budget(visitor):
    """Before: 30 cross-site text/plain posts (422) or unknown conversations (404) locked
    an address out of its questions for a minute."""
    for _ in range(30):  # what a hostile page makes its visitors' browsers send
        plain = visitor.post(
            "/api/chat",
            content=json.dumps({"message": FACTORING}),
            headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
        )
        assert plain.status_code == 422
    for _ in range(5):
        assert_error(ask(visitor, FACTORING, UNKNOWN), 404, "conversation_not_found")
        assert ask(visitor, "  ").status_code == 422
        completion = {"messages": [{"role": "assistant", "content": "no question"}]}
        assert visitor.post("/v1/chat/completions", json=completion).status_code == 422
    assert [ask(visitor).status_code for _ in range(3)] == [200, 200, 200]
    assert_error(ask(visitor), 429, "rate_limited")  # the budget (3/minute) still holds


# ------------------------------------------------------------ 5. conversation limits


def test_a_conversation_has_a_turn_cap_and_is_read_a_page_at_a_time(visitor):
    """Before: no cap (22 turns gave a 271 KB response) and no paging."""
    first = ask(visitor).json()
    conversation = first["conversation_id"]
    for _ in range(2):
        assert ask(visitor, "and against stock?", conversation).status_code == 200
    full = assert_error(ask(visitor, "one more?", conversation), 409, "conversation_full")
    assert "new conversation" in full["message"] and "3" in full["message"]

    page = visitor.get(f"/api/conversations/{conversation}", params={"limit": 2}).json()
    assert [t["turn"] for t in page["turns"]] == [1, 2]
    assert page["total_turns"] == 3 and page["next_after"] == 2
    rest = visitor.get(f"/api/conversations/{conversation}", params={"after": 2}).json()
    assert [t["turn"] for t in rest["turns"]] == [3] and rest["next_after"] is None


def test_retention_deletes_idle_conversations_and_whatsapp_records(
    sample_index, embeddings, tmp_path
):
    """Before: nothing was ever deleted. A database of its own: purging is global."""
    settings = sample_index.model_copy(
        update={"database_url": f"sqlite:///{tmp_path / 'retained.db'}"}
    )
    client = open_client(settings, embeddings)
    try:
        idle = ask(client).json()["conversation_id"]
        kept = ask(client).json()["conversation_id"]
        assert ask(client, "and against stock?", kept).status_code == 200
        engine = client.app.state.conversations.engine
        records = WhatsAppRecords(engine)
        assert records.receive(Inbound("wamid.old", "15550001", "text", "hi"), "meta")
        chat = records.chat("15550001")
        assert client.app.state.retention.purge() == (0, 0), "nothing is a year old yet"

        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
        with engine.begin() as db:  # a year passes for all but the follow-up
            db.execute(update(ConversationRecord).values(created_at=long_ago))
            db.execute(update(TurnRecord).where(TurnRecord.n == 1).values(created_at=long_ago))
            db.execute(update(MessageRecord).values(received_at=long_ago))
            db.execute(update(ChatRecord).values(updated_at=long_ago))
        assert client.app.state.retention.purge() == (1, 2)  # the message and the chat
        assert_error(client.get(f"/api/conversations/{idle}"), 404, "conversation_not_found")
        assert client.get(f"/api/conversations/{kept}").json()["total_turns"] == 2
        assert records.message("wamid.old") is None
        assert records.chat("15550001").conversation_id != chat.conversation_id
    finally:
        client.__exit__(None, None, None)


# ------------------------------------------------------------ 6. reads have a budget


def test_sources_and_conversation_reads_have_their_own_budget(visitor):
    """Before: /api/sources (1.46 MB a call) and conversation reads were not limited."""
    conversation = ask(visitor).json()["conversation_id"]
    reads = [visitor.get(GUIDE), visitor.get(f"/api/conversations/{conversation}")]
    reads += [visitor.get(GUIDE, params={"format": "html"}) for _ in range(3)]
    assert [r.status_code for r in reads] == [200] * 5
    error = assert_error(visitor.get(GUIDE), 429, "rate_limited")
    assert "5 per 1 minute" in error["message"]
    assert_error(visitor.get(f"/api/conversations/{conversation}"), 429, "rate_limited")
    assert ask(visitor).status_code == 200, "questions have their own budget"


def test_another_sites_page_cannot_spend_its_visitors_reads(visitor):
    """What a hostile page's <img src=…/api/sources/…> tags would spend of the budget of
    the office its visitors share an address with (Fetch Metadata of Chromium)."""
    embedded = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
    for destination in ["image", "script", "iframe"] * 3:
        headers = {**embedded, "Sec-Fetch-Dest": destination}
        assert_error(visitor.get(GUIDE, headers=headers), 403, "cross_site_refused")
    opened = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    link = visitor.get(GUIDE, headers={**opened, "Sec-Fetch-Dest": "document"})
    assert link.status_code == 200, "a citation's link opened from the widget's site"
    widget = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
    assert visitor.get(GUIDE, headers={**widget, "Sec-Fetch-Dest": "empty"}).status_code == 200
    assert [visitor.get(GUIDE).status_code for _ in range(3)] == [200] * 3
    assert_error(visitor.get(GUIDE), 429, "rate_limited")


# ------------------------------------------------------------ 7. the OpenAI history


def test_every_message_of_a_completion_is_bounded(visitor, server):
    """Before: only the last message was checked; a 250,000-character history passed."""
    long = {"role": "user", "content": "x" * 250_000}
    question = {"role": "user", "content": "What is an EORI number?"}
    body = {"messages": [long, {"role": "assistant", "content": "ok"}, question]}
    error = assert_error(visitor.post("/v1/chat/completions", json=body), 422, "message_too_long")
    assert error["param"] == "messages.0" and "4000" in error["message"]

    parts = {"role": "system", "content": [{"type": "text", "text": "y" * 4001}]}
    body = {"messages": [parts, question]}
    assert_error(visitor.post("/v1/chat/completions", json=body), 422, "message_too_long")

    many = {"messages": [question] * 201}
    assert_error(visitor.post("/v1/chat/completions", json=many), 422, "invalid_request")

    limit = server.settings.max_message_chars
    answer = {"role": "assistant", "content": "a" * limit + "\n\nSources:\n[1] " + "s" * 900}
    fine = {"messages": [question, answer, question]}
    assert visitor.post("/v1/chat/completions", json=fine).status_code == 200


# ------------------------------------------------------------ 8. helpdesk keys


def test_wrong_keys_lock_their_address_out_not_the_right_key_elsewhere(server):
    """Before: 120 guesses a minute per address, no lockout, no global cap, and an
    address over its budget had the right key refused too."""
    wrong, right = {"X-API-Key": "guess"}, {"X-API-Key": KEY}
    reviews = "/api/helpdesk/reviews"
    with (
        another_visitor(server) as mallory,
        another_visitor(server) as staff,
        another_visitor(server) as trent,
        another_visitor(server) as newcomer,
    ):
        for _ in range(10):  # no key at all: what a hostile page's <img> sends; no guess
            assert_error(staff.get(reviews), 401, "invalid_api_key")
        for _ in range(3):
            assert_error(mallory.get(reviews, headers=wrong), 401, "invalid_api_key")
        locked = assert_error(mallory.get(reviews, headers=wrong), 429, "rate_limited")
        assert "wrong API keys" in locked["message"]
        # locked out: not even the right key is compared from there (a guess teaches nothing)
        assert_error(mallory.get(reviews, headers=right), 429, "rate_limited")
        assert staff.get(reviews, headers=right).status_code == 200

        # all addresses together: 5 a minute. Past it, an address with a wrong key of
        # its own is locked out; one without is still checked.
        for _ in range(2):
            assert_error(trent.get(reviews, headers=wrong), 401, "invalid_api_key")
        assert_error(trent.get(reviews, headers=right), 429, "rate_limited")
        assert staff.get(reviews, headers=right).status_code == 200
        assert_error(newcomer.get(reviews, headers=wrong), 401, "invalid_api_key")
        assert_error(newcomer.get(reviews, headers=wrong), 429, "rate_limited")


# ------------------------------------------------------------ 10. one error shape


def raw_exchange(server: LiveServer, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Status line, headers and body of what the server answers to ``request`` bytes."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall(request)
        data = b""
        while chunk := raw.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return status, headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status_line", "code"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", "HTTP/1.1 400 Bad Request", "invalid_http"),
        (  # past 16 KiB (issue 22: 431, whether the block is complete or not)
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 17_000,
            "HTTP/1.1 431 Request Header Fields Too Large",
            "headers_too_large",
        ),
    ],
    ids=["garbage", "endless-headers"],
)
def test_the_servers_own_400_is_in_the_error_shape(server, request_bytes, status_line, code):
    """Before: uvicorn's ``Invalid HTTP request received.``, plain text, no headers."""
    status, headers, body = raw_exchange(server, request_bytes)
    assert status == status_line
    assert headers["content-type"] == "application/json"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert json.loads(body)["error"]["code"] == code


def test_a_refused_preflight_is_in_the_error_shape(visitor):
    """Before: ``Disallowed CORS origin`` in plain text."""
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    error = assert_error(visitor.options("/api/chat", headers=preflight), 400, "cors_refused")
    assert "origin" in error["message"]
    allowed = visitor.options("/api/chat", headers={**preflight, "Origin": ALLOWED_ORIGIN})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


def test_a_body_that_cannot_be_parsed_has_a_code(visitor):
    """Before: ``"code": null``."""
    body = b"\xff\xfe\x00\x00not utf-8 json"
    response = visitor.post("/api/chat", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "malformed_body"
    assert_secured(response)


@pytest.mark.parametrize("path", ["/", "/healthz", "/helpdesk.html", GUIDE, "/openapi.json"])
def test_head_works_where_get_does(server, path):
    """Before: ``HEAD /`` was a 405."""
    with another_visitor(server) as client:
        head, get = client.head(path), client.get(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]
    assert_secured(head)


@pytest.mark.parametrize("page", ["/", "/helpdesk.html"])
def test_no_page_links_to_what_is_off(visitor, page):
    """Before: the <noscript> of the pages pointed to /docs, which was off (404)."""
    html = visitor.get(page).text
    assert 'href="/redoc"' not in html
    assert visitor.get("/openapi.json").status_code == 200
    assert visitor.get("/redoc").status_code == 404


def test_helpdesk_calls_with_a_valid_key_have_a_budget(server):
    with another_visitor(server) as staff:
        ok = [staff.get("/api/helpdesk/reviews", headers={"X-API-Key": KEY}) for _ in range(30)]
        assert {r.status_code for r in ok} == {200}
        refused = staff.get("/api/helpdesk/reviews", headers={"X-API-Key": KEY})
        assert_error(refused, 429, "rate_limited")
