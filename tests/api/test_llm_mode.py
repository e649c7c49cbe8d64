"""The API in LLM mode, with a real OpenAI-compatible server (llama.cpp, SmolLM2-135M):
tokens stream, and the checked answer of `done` is what is saved and shown."""

from __future__ import annotations

import json
import re

import pytest

from tests.api.conftest import open_client, sse_events
from tests.support.llm_server import LlamaServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llm_client(sample_index, embeddings, llama_server: LlamaServer):
    settings = llama_server.configure(sample_index)
    client = open_client(settings, embeddings)
    yield client
    client.__exit__(None, None, None)


def test_readyz_names_the_model(llm_client, llama_server):
    assert llm_client.get("/readyz").json()["llm"] == llama_server.model


def test_tokens_stream_and_the_checked_answer_is_saved(llm_client):
    response = llm_client.post("/api/chat/stream", json={"message": "What is a letter of credit?"})
    events = sse_events(response.text)
    kinds = [name for name, _ in events]
    assert kinds.count("delta") >= 2 and kinds[-2:] == ["citations", "done"]
    done = json.loads(events[-1][1])
    assert done["mode"] in ("llm", "extractive") and done["citations"]
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", done["answer"])}
    assert markers <= {c["n"] for c in done["citations"]}
    stored = llm_client.get(f"/api/conversations/{done['conversation_id']}").json()
    assert stored["turns"][0]["answer"] == done["answer"]


def test_the_openai_face_sends_the_checked_answer(llm_client):
    body = llm_client.post(
        "/v1/chat/completions",
        json={
            "model": "x",
            "messages": [{"role": "user", "content": "What is a letter of credit?"}],
        },
    ).json()
    content = body["choices"][0]["message"]["content"]
    assert body["citations"] and "\n\nSources:\n[1] " in content
    assert body["answer"]["mode"] in ("llm", "extractive")
