"""The OpenAI-compatible endpoints, driven by the official `openai` client."""

from __future__ import annotations

import openai
import pytest

from assistant.api.routes.openai import MODEL_ID

pytestmark = pytest.mark.slow

FACTORING = "How much of an invoice can I borrow with invoice factoring?"


@pytest.fixture(scope="module")
def client(live_server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="unused", max_retries=0)


def test_models(client):
    models = client.models.list()
    assert [m.id for m in models.data] == [MODEL_ID]


def test_completion_has_a_sources_block_and_structured_citations(client, live_server):
    completion = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": FACTORING}]
    )
    content = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop" and completion.object == "chat.completion"
    answer, sources = content.split("\n\nSources:\n")
    assert "90%" in answer and "[1]" in answer
    assert sources.startswith("[1] Borrow against assets — Borrow against invoices")
    assert (
        f"{live_server.url}/api/sources/guides/borrow-against-assets.md"
        "?section=Borrow+against+invoices#s-borrow-against-invoices"
    ) in sources
    citations = completion.model_extra["citations"]
    assert citations[0]["source"] == "guides/borrow-against-assets.md"
    assert len(citations) == sources.count("\n[") + 1
    assert completion.model_extra["answer"]["refused"] is False


def test_streamed_completion_ends_with_the_citations(client):
    stream = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": FACTORING}], stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "90%" in text and "\n\nSources:\n[1] Borrow against assets" in text
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["citations"][0]["source"] == "guides/borrow-against-assets.md"
    assert len({c.id for c in chunks}) == 1


def test_earlier_messages_are_the_history(client):
    completion = client.chat.completions.create(
        model=MODEL_ID,
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "What's the HS code for wooden bedroom furniture?"},
            {"role": "assistant", "content": "9403.50 [1]\n\nSources:\n[1] HS"},
            {"role": "user", "content": [{"type": "text", "text": "and for kitchens?"}]},
        ],
    )
    first_code_line = next(
        line for line in completion.choices[0].message.content.splitlines() if line.startswith("- ")
    )
    assert "940340" in first_code_line


def test_filters_travel_in_extra_body(client):
    completion = client.chat.completions.create(
        model=MODEL_ID,
        messages=[{"role": "user", "content": "letters of credit and payment"}],
        extra_body={"filters": {"jurisdiction": "UK"}},
    )
    citations = completion.model_extra["citations"]
    assert citations and all(c["source"].startswith("guides/") for c in citations)


def test_errors_reach_the_client_as_openai_errors(client):
    with pytest.raises(openai.UnprocessableEntityError) as empty:
        client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": " "}])
    assert "The message is empty" in str(empty.value)
    with pytest.raises(openai.UnprocessableEntityError) as no_question:
        client.chat.completions.create(
            model=MODEL_ID, messages=[{"role": "assistant", "content": "Hello"}]
        )
    assert "last message must be the user's question" in str(no_question.value)


def test_small_talk_gets_no_sources_block(client):
    completion = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": "Who are you?"}]
    )
    content = completion.choices[0].message.content
    assert content.startswith("I'm the Export Assistant") and "Sources:" not in content
    assert completion.model_extra["citations"] == []
    assert completion.model_extra["answer"]["mode"] == "smalltalk"
