"""What an outside probe still found (issue 22), against a real uvicorn server with the
protocol ``serve`` uses, each attack made as the probe made it and failing now: 500s on
odd input, a turn cap that raced, a header block sent in one write, refused requests
and new conversations that cost nothing.

The WhatsApp and Twilio items are in ``tests/channels``, the uploads' in
``tests/channels/test_upload_bounds.py``.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from pydantic import SecretStr

from assistant.answer import Answer
from tests.api.conftest import sse_events
from tests.security.test_hostile_client import another_visitor, assert_error, new_host
from tests.support.app_fixtures import LiveServer, serving

pytestmark = pytest.mark.slow

KEY = "probe-test-key-51d0"
FACTORING = "How much of an invoice can I borrow with invoice factoring?"
MAX_TURNS = 50
REFUSED = 20
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def server(sample_index, embeddings) -> Iterator[LiveServer]:
    """Over the sample index, its limits off but the turn cap."""
    update = {"helpdesk_api_keys": [SecretStr(KEY)], "max_turns": MAX_TURNS}
    with serving(sample_index.model_copy(update=update), embeddings, guarded=True) as live:
        yield live


@pytest.fixture(scope="module")
def budgeted(sample_index, embeddings) -> Iterator[LiveServer]:
    """Over the sample index, with small budgets for refusals and new conversations."""
    update = {"refused_rate_limit": f"{REFUSED}/minute", "conversation_rate_limit": "3/minute"}
    with serving(sample_index.model_copy(update=update), embeddings, guarded=True) as live:
        yield live


@pytest.fixture
def visitor(server) -> Iterator[httpx.Client]:
    with another_visitor(server) as client:
        yield client


def raw_json(client: httpx.Client, path: str, body: str, **headers: str) -> httpx.Response:
    """POST ``body`` as written: a JSON escape such as ``\\ud800`` reaches the server as is."""
    return client.post(
        path, content=body.encode(), headers={"Content-Type": "application/json", **headers}
    )


# ------------------------------------------------------------ 1. 500s


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        (
            "/v1/chat/completions",
            '{"messages": [{"role": "user", "content": "x \\ud800"}]}',
            "messages.0.content",
        ),
        (
            "/v1/chat/completions",
            '{"messages": [{"role": "user", "content": [{"type": "text", "text": "\\udfff"}]}]}',
            "messages.0.content.0.text",
        ),
        ("/api/chat", '{"message": "What is an EORI number? \\ud83d"}', "message"),
        ("/api/chat/stream", '{"message": "x \\udc00 y"}', "message"),
    ],
)
def test_a_lone_surrogate_is_a_422_not_a_500(visitor, path, body, param):
    """Before: the tokenizer's TypeError (completions), a 500."""
    error = assert_error(raw_json(visitor, path, body), 422, "invalid_text")
    assert error["param"] == param and "\\ud800" in error["message"]


def test_a_lone_surrogate_in_a_comment_is_a_422_and_a_pair_is_text(visitor):
    """Before: ``"comment": "\\ud800"`` was a UnicodeEncodeError in SQLite, a 500. An emoji
    written as its escaped pair is a character like any other."""
    conversation = visitor.post("/api/chat", json={"message": FACTORING}).json()
    rating = {"conversation_id": conversation["conversation_id"], "turn": 1, "rating": "up"}
    body = json.dumps({**rating, "comment": "PLACEHOLDER"}).replace("PLACEHOLDER", "\\ud800")
    error = assert_error(raw_json(visitor, "/api/feedback", body), 422, "invalid_text")
    assert error["param"] == "comment"

    pair = json.dumps({**rating, "comment": "thanks \U0001f44d"})  # ensure_ascii: \ud83d\udc4d
    assert "\\ud83d\\udc4d" in pair
    saved = raw_json(visitor, "/api/feedback", pair)
    assert saved.status_code == 201 and saved.json()["comment"] == "thanks \U0001f44d"


@pytest.mark.parametrize("route", ["/report", "/report.csv", "/freshness"])
@pytest.mark.parametrize(
    "period",
    [{"until": "9999-12-31"}, {"until": "0001-01-01"}, {"since": "0001-01-01"}],
    ids=["until-max", "until-min", "since-min"],
)
def test_a_report_period_past_what_a_date_holds_is_a_422(visitor, route, period):
    """Before: OverflowError, a 500."""
    response = visitor.get(f"/api/helpdesk{route}", params=period, headers={"X-API-Key": KEY})
    error = assert_error(response, 422, "invalid_request")
    assert error["param"] in ("since", "until")
    widest = {"since": "1970-01-01", "until": "9999-12-30"}
    response = visitor.get(f"/api/helpdesk{route}", params=widest, headers={"X-API-Key": KEY})
    assert response.status_code == 200, response.text


# ------------------------------------------------------------ 3. the turn cap


def test_the_turn_cap_holds_when_questions_come_together(server):
    """Before: 20 concurrent questions to a 49-turn conversation ended at 69 turns."""
    conversations = server.app.state.conversations
    conversation = conversations.new_id()
    filler = Answer(text="An earlier answer.", citations=[], refused=False, language="en")
    for _ in range(MAX_TURNS - 1):
        conversations.add_turn(conversation, "An earlier question?", filler)

    def ask(path: str) -> tuple[int, str]:
        with another_visitor(server) as client:
            body = {"message": FACTORING, "conversation_id": conversation}
            response = client.post(path, json=body)
            if path.endswith("stream") and response.status_code == 200:
                events = dict(sse_events(response.text))
                if "done" in events:
                    return 200, ""
                return json.loads(events["error"])["type"], json.loads(events["error"])["code"]
            code = response.json()["error"]["code"] if response.status_code != 200 else ""
            return response.status_code, code

    paths = ["/api/chat", "/api/chat/stream"] * 10
    with ThreadPoolExecutor(len(paths)) as pool:
        outcomes = list(pool.map(ask, paths))
    answered = [o for o in outcomes if o[0] == 200]
    assert len(answered) == 1, outcomes
    assert all(code == "conversation_full" for status, code in outcomes if status != 200)
    assert conversations.turn_count(conversation) == MAX_TURNS


# ------------------------------------------------------------ 6. the header block


def exchange(server: LiveServer, *writes: bytes) -> bytes:
    """What the server answers to ``writes``, each sent on its own."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as raw:
        for data in writes:
            try:
                raw.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                break  # refused before the rest arrived
        answer = b""
        try:
            while chunk := raw.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    return answer


def head(size: int) -> bytes:
    """A complete GET whose header block is about ``size`` bytes."""
    filler = b"".join(b"X-Pad-%d: %s\r\n" % (n, b"a" * 900) for n in range(size // 914 + 1))
    return b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + filler + b"Connection: close\r\n\r\n"


@pytest.mark.parametrize("split", [False, True], ids=["one-write", "two-writes"])
def test_a_header_block_past_16_kib_is_refused_in_one_write_or_two(server, split):
    """Before: a 100 KB header block sent in one write was accepted (in two, refused)."""
    request = head(100_000)
    writes = (request[:8000], request[8000:]) if split else (request,)
    answer = exchange(server, *writes)
    status, _, body = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"content-type: application/json" in status
    assert json.loads(body)["error"]["code"] == "headers_too_large"


def test_a_header_block_under_16_kib_is_served(server):
    answer = exchange(server, head(15_000))
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


# ------------------------------------------------------------ 7. free requests


def test_refused_requests_have_a_budget_and_past_it_the_door_is_shut(budgeted):
    """Before: one address sent 826 refused requests a second (404s spend no budget),
    making others' answers 3-4 times slower. Past its budget of refusals an address is
    answered 429 at once, its body not even read, and asked to reconnect."""
    host = new_host()
    with another_visitor(budgeted, host) as flooder, another_visitor(budgeted) as neighbour:
        unknown = f"/api/conversations/{UNKNOWN}"
        refused = [flooder.get(unknown).status_code for _ in range(REFUSED)]
        assert refused == [404] * REFUSED
        shut = assert_error(flooder.get(unknown), 429, "rate_limited")
        assert "refused requests" in shut["message"]
        door = flooder.post("/api/chat", json={"message": FACTORING})
        assert door.status_code == 429 and door.headers["connection"] == "close"
        assert 0 < int(door.headers["Retry-After"]) <= 60
        assert neighbour.post("/api/chat", json={"message": FACTORING}).status_code == 200

    # A body announced and never sent: answered without waiting for it.
    _, port = budgeted.url.removeprefix("http://").split(":")
    with socket.create_connection(("127.0.0.1", int(port)), None, (host, 0)) as raw:
        raw.sendall(
            b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )
        answer = raw.recv(65536)
    assert answer.startswith(b"HTTP/1.1 429 "), answer[:200]


def test_a_hostile_pages_refusals_do_not_shut_the_door_on_its_visitors(budgeted):
    """What a hostile page makes its visitors' browsers send (cross-site, refused) is
    counted apart: the same address still uses the chat directly."""
    cross_site = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
    with another_visitor(budgeted) as office:
        for _ in range(REFUSED + 5):
            office.post("/api/chat", content=b"{}", headers=cross_site)
        assert_error(
            office.post("/api/chat", content=b"{}", headers=cross_site), 429, "rate_limited"
        )
        assert office.post("/api/chat", json={"message": FACTORING}).status_code == 200


def test_a_new_conversation_costs(budgeted):
    """Before: each new conversation was free, and each can put one entry on the
    helpdesk's review list (~30 a minute from one address)."""
    with another_visitor(budgeted) as visitor:
        started = [visitor.post("/api/chat", json={"message": FACTORING}) for _ in range(3)]
        assert [r.status_code for r in started] == [200] * 3
        error = assert_error(
            visitor.post("/api/chat", json={"message": FACTORING}), 429, "rate_limited"
        )
        assert "new conversations" in error["message"]
        body = {
            "message": "and against stock?",
            "conversation_id": started[0].json()["conversation_id"],
        }
        assert visitor.post("/api/chat", json=body).status_code == 200, "one of its own goes on"
