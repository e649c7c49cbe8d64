"""Small talk through the web API (the chat page and the widget use its stream): the
assistant's own reply, stored as a turn, with no citations."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import sse_events

pytestmark = pytest.mark.slow


def test_a_greeting_gets_the_assistants_own_reply(client):
    body = client.post("/api/chat", json={"message": "Good afternoon"}).json()
    assert body["answer"].startswith("Hello! I answer questions on exporting")
    assert body["citations"] == [] and body["mode"] == "smalltalk" and not body["refused"]
    turns = client.get(f"/api/conversations/{body['conversation_id']}").json()["turns"]
    assert [t["question"] for t in turns] == ["Good afternoon"]


def test_the_stream_says_the_same(client):
    response = client.post("/api/chat/stream", json={"message": "Merci !"})
    events = sse_events(response.text)
    done = json.loads(next(data for name, data in events if name == "done"))
    assert done["answer"].startswith("Avec plaisir !") and done["citations"] == []
    streamed = "".join(json.loads(data) for name, data in events if name == "delta")
    assert streamed == done["answer"]


def test_a_russian_question_is_answered_in_russian_with_the_languages(client):
    body = client.post(
        "/api/chat", json={"message": "Какие документы нужны для экспорта в Канаду?"}
    ).json()
    assert body["answer"].startswith("Я могу отвечать только на английском")
    assert body["refused"] and body["language"] == "ru" and body["citations"] == []
