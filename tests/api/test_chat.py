"""POST /api/chat and /api/chat/stream: cited answers, saved turns, follow-ups."""

from __future__ import annotations

import json
import re

import pytest

from tests.api.conftest import sse_events

pytestmark = pytest.mark.slow

FACTORING = "How much of an invoice can I borrow with invoice factoring?"


def test_chat_answers_with_citations_and_starts_a_conversation(client):
    response = client.post("/api/chat", json={"message": FACTORING})
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {
        "conversation_id",
        "turn",
        "answer",
        "citations",
        "refused",
        "language",
        "notices",
        "mode",
        "lexical_only",
    }
    assert body["turn"] == 1 and not body["refused"] and body["language"] == "en"
    assert "90%" in body["answer"] and not body["lexical_only"]
    first = body["citations"][0]
    assert first["source"] == "guides/borrow-against-assets.md"
    assert first["section"] == "Borrow against invoices"
    assert first["source_url"] == (
        "/api/sources/guides/borrow-against-assets.md?section=Borrow+against+invoices"
        "#s-borrow-against-invoices"
    )
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])}
    assert markers == {c["n"] for c in body["citations"]}


def test_turns_are_numbered_within_their_conversation(client):
    first = client.post("/api/chat", json={"message": FACTORING}).json()
    second = client.post(
        "/api/chat",
        json={"message": "What about stock?", "conversation_id": first["conversation_id"]},
    ).json()
    assert second["conversation_id"] == first["conversation_id"] and second["turn"] == 2


def test_a_follow_up_is_answered_with_the_conversations_history(client):
    hs_line = re.compile(r"^- .*\((\d{6})\)", re.MULTILINE)
    first = client.post(
        "/api/chat", json={"message": "What's the HS code for wooden bedroom furniture?"}
    ).json()
    assert "940350" in hs_line.findall(first["answer"])[:1]
    follow_up = client.post(
        "/api/chat",
        json={"message": "and for kitchens?", "conversation_id": first["conversation_id"]},
    ).json()
    assert hs_line.findall(follow_up["answer"])[:1] == ["940340"]
    alone = client.post("/api/chat", json={"message": "and for kitchens?"}).json()
    assert hs_line.findall(alone["answer"])[:1] != ["940340"]


def test_an_hs_question_between_close_codes_asks_and_the_reply_narrows(client):
    hs_line = re.compile(r"^- .*\((\d{6})\)", re.MULTILINE)
    asked = client.post("/api/chat", json={"message": "HS code for T-shirts?"}).json()
    assert set(hs_line.findall(asked["answer"])[:2]) == {"610910", "610990"}
    assert "What separates them: “of cotton”" in asked["answer"]
    narrowed = client.post(
        "/api/chat",
        json={"message": "they are cotton", "conversation_id": asked["conversation_id"]},
    ).json()
    assert hs_line.findall(narrowed["answer"])[:1] == ["610910"]
    assert "What separates them" not in narrowed["answer"]


def test_filters_restrict_the_sources(client):
    body = client.post(
        "/api/chat",
        json={"message": "letters of credit and payment", "filters": {"jurisdiction": "UK"}},
    ).json()
    assert body["citations"] and all(c["source"].startswith("guides/") for c in body["citations"])


def test_unanswerable_question_is_refused_in_the_users_language(client):
    body = client.post(
        "/api/chat", json={"message": "Quel temps fera-t-il demain après-midi à Lisbonne ?"}
    ).json()
    assert body["refused"] and body["language"] == "fr"
    assert body["answer"].startswith("Mes sources ne répondent pas")
    # the closest sources are offered as "may help", quoting nothing of theirs
    assert "Ces sources peuvent vous aider" in body["answer"]
    assert all(c["snippet"] == "" for c in body["citations"])


def test_stream_sends_deltas_then_citations_then_the_saved_turn(client):
    response = client.post("/api/chat/stream", json={"message": FACTORING})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    kinds = [name for name, _ in events]
    assert kinds[-2:] == ["citations", "done"] and set(kinds[:-2]) == {"delta"}
    streamed = "".join(json.loads(data) for name, data in events if name == "delta")
    done = json.loads(events[-1][1])
    assert streamed == done["answer"] and done["turn"] == 1
    assert json.loads(events[-2][1]) == done["citations"]
    stored = client.get(f"/api/conversations/{done['conversation_id']}").json()
    assert stored["turns"][0]["answer"] == done["answer"]


def test_stream_reports_a_failure_as_an_error_event(client, monkeypatch):
    assistant = client.app.state.assistant

    def broken(*args, **kwargs):
        yield from ()
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(assistant, "stream", broken)
    response = client.post("/api/chat/stream", json={"message": FACTORING})
    assert response.status_code == 200
    events = sse_events(response.text)
    assert [name for name, _ in events] == ["error"]
    error = json.loads(events[0][1])
    assert error["code"] == "answer_failed" and "disk on fire" not in error["message"]


def test_bad_requests_are_refused_before_a_stream_opens(client):
    response = client.post(
        "/api/chat/stream",
        json={"message": FACTORING, "conversation_id": "0b7e4a9e-3d5c-4f7e-9a51-2f1d7c1f2a10"},
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "conversation_not_found"
