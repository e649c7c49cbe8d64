"""Conversations and feedback: the API, the repository, and a restart in between."""

from __future__ import annotations

import pytest

from assistant.answer import Answer, Citation
from assistant.conversations import Conversations, UnknownConversation, UnknownTurn
from tests.api.conftest import open_client

pytestmark = pytest.mark.slow

FACTORING = "How much of an invoice can I borrow with invoice factoring?"
UNKNOWN = "0b7e4a9e-3d5c-4f7e-9a51-2f1d7c1f2a10"


def test_a_conversation_lists_its_turns_with_citations(client):
    first = client.post("/api/chat", json={"message": FACTORING}).json()
    conversation_id = first["conversation_id"]
    client.post("/api/chat", json={"message": "and stock?", "conversation_id": conversation_id})
    body = client.get(f"/api/conversations/{conversation_id}").json()
    assert body["id"] == conversation_id and body["title"] == FACTORING
    assert [t["turn"] for t in body["turns"]] == [1, 2]
    assert [t["question"] for t in body["turns"]] == [FACTORING, "and stock?"]
    turn = body["turns"][0]
    assert turn["answer"] == first["answer"] and turn["citations"] == first["citations"]
    assert turn["language"] == "en" and turn["refused"] is False and turn["feedback"] is None
    assert turn["created_at"]


def test_unknown_or_malformed_conversation_ids(client):
    missing = client.get(f"/api/conversations/{UNKNOWN}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "conversation_not_found"
    assert client.get("/api/conversations/not-a-uuid").status_code == 422


def test_feedback_is_recorded_and_a_second_rating_replaces_the_first(client):
    turn = client.post("/api/chat", json={"message": FACTORING}).json()
    feedback = {"conversation_id": turn["conversation_id"], "turn": 1}
    up = client.post("/api/feedback", json={**feedback, "rating": "up"})
    assert up.status_code == 201
    assert up.json() == {**feedback, "rating": "up", "comment": None}
    down = client.post(
        "/api/feedback", json={**feedback, "rating": "down", "comment": "  Out of date.  "}
    )
    assert down.json()["comment"] == "Out of date."
    stored = client.get(f"/api/conversations/{turn['conversation_id']}").json()
    assert stored["turns"][0]["feedback"] == "down"
    records = client.app.state.conversations.feedback(turn["conversation_id"])
    assert [(n, r.rating, r.comment) for n, r in records] == [(1, "down", "Out of date.")]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"turn": 2}, 404, "turn_not_found"),
        (
            {"conversation_id": "0b7e4a9e-3d5c-4f7e-9a51-2f1d7c1f2a10"},
            404,
            "conversation_not_found",
        ),
        ({"rating": "meh"}, 422, "invalid_request"),
        ({"turn": 0}, 422, "invalid_request"),
    ],
)
def test_feedback_on_what_does_not_exist(client, change, status, code):
    turn = client.post("/api/chat", json={"message": FACTORING}).json()
    body = {"conversation_id": turn["conversation_id"], "turn": 1, "rating": "up", **change}
    response = client.post("/api/feedback", json=body)
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_conversations_and_feedback_survive_a_restart(sample_index, embeddings, database_url):
    settings = sample_index.model_copy(update={"database_url": database_url})
    first = open_client(settings, embeddings, complete=False)
    turn = first.post("/api/chat", json={"message": FACTORING}).json()
    first.post(
        "/api/feedback",
        json={"conversation_id": turn["conversation_id"], "turn": 1, "rating": "up"},
    )
    first.__exit__(None, None, None)

    second = open_client(settings, embeddings, complete=False)
    try:
        stored = second.get(f"/api/conversations/{turn['conversation_id']}").json()
        assert stored["turns"][0]["answer"] == turn["answer"]
        assert stored["turns"][0]["feedback"] == "up"
        follow_up = second.post(
            "/api/chat",
            json={"message": "and stock?", "conversation_id": turn["conversation_id"]},
        ).json()
        assert follow_up["turn"] == 2
    finally:
        second.__exit__(None, None, None)


# ------------------------------------------------------------ the repository itself


def answer(text: str, n_citations: int = 1) -> Answer:
    citations = [
        Citation(n, f"s{n}.md", "T", "S", "", "P", "2025", "en", "snippet")
        for n in range(1, n_citations + 1)
    ]
    return Answer(text=text, citations=citations, notices=["note"], mode="extractive")


def test_repository_numbers_turns_and_returns_recent_history(database_url):
    store = Conversations.from_url(database_url)
    conversation = store.new_id()
    for i in range(1, 5):
        saved = store.add_turn(conversation, f"q{i}", answer(f"a{i}"))
        assert saved.n == i
    history = store.history(conversation, 2)
    assert [(t.role, t.content) for t in history] == [
        ("user", "q3"),
        ("assistant", "a3"),
        ("user", "q4"),
        ("assistant", "a4"),
    ]
    assert store.history(conversation, 0) == []
    record = store.get(conversation)
    assert record.turns[0].citations[0]["source"] == "s1.md" and record.turns[0].notices == ["note"]
    with pytest.raises(UnknownConversation):
        store.get(store.new_id())
    with pytest.raises(UnknownTurn):
        store.set_feedback(conversation, 9, "up", None)
    store.close()
