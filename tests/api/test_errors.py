"""Bad input gets a clear JSON 4xx in one shape: {"error": {message, type, param, code}}."""

from __future__ import annotations

import pytest

from tests.api.conftest import open_client

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def strict(sample_index, embeddings):
    """An app with small limits, so that they are cheap to exceed."""
    settings = sample_index.model_copy(
        update={"max_message_chars": 50, "max_comment_chars": 20, "max_request_bytes": 2048}
    )
    client = open_client(settings, embeddings, complete=False)
    yield client
    client.__exit__(None, None, None)


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    return error


def test_malformed_json(strict):
    response = strict.post(
        "/api/chat", content=b'{"message": "hi"', headers={"content-type": "application/json"}
    )
    assert error_of(response, 400)["code"] == "malformed_json"


@pytest.mark.parametrize("message", ["", "   \n\t "])
def test_empty_message(strict, message):
    error = error_of(strict.post("/api/chat", json={"message": message}), 422)
    assert error["param"] == "message"


def test_oversized_message_names_the_limit(strict):
    error = error_of(strict.post("/api/chat", json={"message": "x" * 51}), 422)
    assert error["code"] == "message_too_long" and "50" in error["message"]
    assert strict.post("/api/chat", json={"message": "What is invoice factoring?"}).is_success


def test_oversized_body(strict):
    response = strict.post("/api/chat", json={"message": "x" * 5000})
    assert error_of(response, 413)["type"] == "request_too_large"


def test_unknown_conversation(strict):
    response = strict.post(
        "/api/chat",
        json={"message": "Hello", "conversation_id": "0b7e4a9e-3d5c-4f7e-9a51-2f1d7c1f2a10"},
    )
    error = error_of(response, 404)
    assert error["code"] == "conversation_not_found" and error["param"] == "conversation_id"


def test_conversation_id_must_be_a_uuid(strict):
    response = strict.post("/api/chat", json={"message": "Hello", "conversation_id": "abc"})
    assert error_of(response, 422)["param"] == "conversation_id"


def test_unknown_filter_key_lists_the_known_ones(strict):
    response = strict.post("/api/chat", json={"message": "VAT", "filters": {"colour": "red"}})
    error = error_of(response, 422)
    assert "unknown filter 'colour'" in error["message"]
    assert "jurisdiction, topic, language, source" in error["message"]


def test_unknown_field(strict):
    error = error_of(strict.post("/api/chat", json={"message": "VAT", "stream": True}), 422)
    assert "unknown field 'stream'" in error["message"]


def test_oversized_feedback_comment(strict):
    turn = strict.post("/api/chat", json={"message": "What is invoice factoring?"}).json()
    response = strict.post(
        "/api/feedback",
        json={
            "conversation_id": turn["conversation_id"],
            "turn": 1,
            "rating": "down",
            "comment": "far too long a comment",
        },
    )
    assert error_of(response, 422)["code"] == "comment_too_long"


def test_unknown_route_and_method(strict):
    assert error_of(strict.get("/api/nothing-here"), 404)
    assert error_of(strict.get("/api/chat"), 405)
