"""Budgets per client, counted in memory and in a real Redis, and enforced by the API
with a 429 in the usual error shape and a Retry-After."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from starlette.requests import Request

from assistant.api.deps import client_ip
from assistant.ratelimit import Budgets
from assistant.settings import Settings
from tests.api.conftest import open_client
from tests.support.servers import free_port


@pytest.fixture(params=["memory", "redis"])
def storage_url(request) -> str:
    return "" if request.param == "memory" else request.getfixturevalue("redis_url")


def test_a_budget_refuses_past_its_limit_and_says_when_to_retry(storage_url):
    budgets = Budgets({"questions": "3/minute"}, storage_url)
    key = uuid.uuid4().hex  # the Redis server lives for the whole session
    assert [budgets.hit("questions", key) for _ in range(3)] == [None, None, None]
    refusal = budgets.hit("questions", key)
    assert refusal is not None and 1 <= refusal.retry_after <= 60
    assert str(refusal.limit) == "3 per 1 minute"
    assert budgets.hit("questions", key + "0") is None  # another client, its own budget


def test_each_limit_of_a_budget_counts(storage_url):
    budgets = Budgets({"questions": "5/minute;2/hour"}, storage_url)
    key = uuid.uuid4().hex
    assert budgets.hit("questions", key) is None and budgets.hit("questions", key) is None
    refusal = budgets.hit("questions", key)
    assert refusal is not None and str(refusal.limit) == "2 per 1 hour"
    assert 60 < refusal.retry_after <= 3600


def test_a_refused_request_uses_none_of_the_budget(storage_url):
    budgets = Budgets({"questions": "2/minute;3/hour"}, storage_url)
    key = uuid.uuid4().hex
    assert budgets.hit("questions", key) is None and budgets.hit("questions", key) is None
    for _ in range(3):  # refused by the minute: the hour must not count these
        assert str(budgets.hit("questions", key).limit) == "2 per 1 minute"
    stats = budgets._limiter.get_window_stats(budgets.budgets["questions"][1], "questions", key)
    assert stats.remaining == 1


def test_the_first_refusal_of_a_window_is_told_apart(storage_url):
    budgets = Budgets({"whatsapp": "1/minute"}, storage_url)
    number = uuid.uuid4().hex
    assert budgets.hit("whatsapp", number) is None
    refusals = [budgets.hit("whatsapp", number) for _ in range(3)]
    assert all(refusals)
    firsts = [budgets.first_refusal("whatsapp", number, r) for r in refusals if r]
    assert firsts == [True, False, False]


def test_an_empty_budget_is_no_limit():
    budgets = Budgets({"questions": ""})
    assert all(budgets.hit("questions", "192.0.2.1") is None for _ in range(100))
    assert budgets.describe() == "rate limits: off (counted in memory)"


def test_workers_sharing_redis_share_the_budget(redis_url):
    first, second = Budgets({"q": "2/minute"}, redis_url), Budgets({"q": "2/minute"}, redis_url)
    key = uuid.uuid4().hex
    assert first.hit("q", key) is None and second.hit("q", key) is None
    assert first.hit("q", key) is not None and second.hit("q", key) is not None
    assert "redis://:***@127.0.0.1" in first.describe()


def test_unreachable_storage_lets_requests_through_and_warns(caplog):
    budgets = Budgets({"q": "1/minute"}, f"redis://:pw-never-logged@127.0.0.1:{free_port()}/0")
    with caplog.at_level(logging.WARNING, logger="assistant.ratelimit"):
        assert budgets.hit("q", "192.0.2.9") is None
        assert budgets.hit("q", "192.0.2.9") is None
    assert "rate limit storage unavailable, not limiting: ConnectionError" in caplog.text
    assert "pw-never-logged" not in caplog.text
    assert caplog.text.count("rate limit storage unavailable") == 1, "once a minute"


def test_a_redis_that_hangs_lets_requests_through():
    """It accepts connections and never answers: requests wait half a second, not forever."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        budgets = Budgets({"q": "1/minute"}, f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        assert budgets.hit("q", "192.0.2.9") is None
        assert budgets.hit("q", "192.0.2.9") is None


def test_every_address_of_an_ipv6_subscriber_shares_one_budget():
    def ip(host: str) -> str:
        return client_ip(Request({"type": "http", "client": (host, 1234), "headers": []}))

    assert ip("2001:db8:1:2:aaaa::1") == ip("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert ip("2001:db8:1:3::1") != ip("2001:db8:1:2::1")
    assert ip("192.0.2.7") == "192.0.2.7"


def test_trusting_every_proxy_is_refused():
    with pytest.raises(ValidationError, match="list your proxies"):
        Settings(trusted_proxies="*")


# ------------------------------------------------------------ through the API

BUDGETS = {
    "rate_limit": "2/minute",
    "feedback_rate_limit": "1/minute",
    "reads_rate_limit": "1/minute",
    "trusted_proxies": ["10.0.0.0/8"],
}
GUIDE = "/api/sources/guides/borrow-against-assets.md"
_addresses = iter(range(1, 250))


@pytest.fixture(scope="module")
def limited(sample_index, embeddings) -> Iterator[TestClient]:
    """The app with small budgets; ``from_address`` gives clients at other addresses."""
    settings = sample_index.model_copy(update={**BUDGETS, "helpdesk_api_keys": []})
    client = open_client(settings, embeddings)
    yield client
    client.__exit__(None, None, None)


def from_address(client: TestClient, host: str | None = None) -> TestClient:
    """A client of the same (started) app, connecting from ``host`` (a new one if None)."""
    return TestClient(client.app, client=(host or f"192.0.2.{next(_addresses)}", 40000))


def assert_rate_limited(response) -> None:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limited" and error["type"] == "rate_limit_error"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert f"{response.headers['Retry-After']} s" in error["message"]


QUESTION = {"message": "How much of an invoice can I borrow with factoring?"}
COMPLETION = {"model": "export-assistant", "messages": [{"role": "user", "content": "EORI?"}]}


@pytest.mark.slow
def test_questions_share_one_budget_per_address(limited):
    alice, bob = from_address(limited), from_address(limited)
    assert alice.post("/api/chat", json=QUESTION).status_code == 200
    assert alice.post("/v1/chat/completions", json=COMPLETION).status_code == 200
    assert_rate_limited(alice.post("/api/chat", json=QUESTION))
    assert_rate_limited(alice.post("/api/chat/stream", json=QUESTION))
    assert_rate_limited(alice.post("/v1/chat/completions", json=COMPLETION))
    assert alice.get("/v1/models").status_code == 200  # listing models is no question
    assert alice.get("/readyz").status_code == 200
    assert bob.post("/api/chat/stream", json=QUESTION).status_code == 200  # his own budget


@pytest.mark.slow
def test_feedback_has_its_own_budget(limited):
    carol = from_address(limited)
    asked = carol.post("/api/chat", json=QUESTION).json()
    rating = {"conversation_id": asked["conversation_id"], "turn": 1}
    assert carol.post("/api/feedback", json={**rating, "rating": "up"}).status_code == 201
    assert_rate_limited(carol.post("/api/feedback", json={**rating, "rating": "down"}))
    assert carol.post("/api/chat", json=QUESTION).status_code == 200


@pytest.mark.slow
def test_forwarded_address_is_believed_from_trusted_proxies_only(limited):
    proxy = from_address(limited, "10.1.2.3")
    dave, erin = {"X-Forwarded-For": "203.0.113.70"}, {"X-Forwarded-For": "203.0.113.71"}
    assert proxy.get(GUIDE, headers=dave).status_code == 200
    assert proxy.get(GUIDE, headers=erin).status_code == 200
    assert_rate_limited(proxy.get(GUIDE, headers=dave))

    spoofer = from_address(limited)  # not a proxy: its X-Forwarded-For is ignored
    assert spoofer.get(GUIDE, headers={"X-Forwarded-For": "1.1.1.1"}).status_code == 200
    assert_rate_limited(spoofer.get(GUIDE, headers={"X-Forwarded-For": "2.2.2.2"}))


@pytest.mark.slow
def test_budgets_are_counted_in_redis_by_url(sample_index, embeddings, redis_url, caplog):
    settings = sample_index.model_copy(
        update={"rate_limit": "1/minute", "rate_limit_storage_url": redis_url}
    )
    with caplog.at_level(logging.INFO, logger="assistant"):
        client = open_client(settings, embeddings, complete=False)
    try:
        frank = from_address(client)
        assert frank.post("/api/chat", json={"message": ""}).status_code == 422  # not counted
        assert frank.post("/api/chat", json=QUESTION).status_code == 200
        assert_rate_limited(frank.post("/api/chat", json=QUESTION))
    finally:
        client.__exit__(None, None, None)
    assert "rate limits: questions 1 per 1 minute (counted in redis://:***@127.0.0.1" in caplog.text
