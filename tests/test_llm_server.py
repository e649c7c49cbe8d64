"""The real LLM server of tests/llm_server.py answers the official OpenAI client."""

from __future__ import annotations

import pytest
from openai import OpenAI

from tests.llm_server import LlamaServer

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


@pytest.mark.slow
def test_chat_completion_plain_and_streamed(llama_server: LlamaServer) -> None:
    client = OpenAI(base_url=llama_server.base_url, api_key="unused", timeout=120, max_retries=0)
    assert [m.id for m in client.models.list().data] == [llama_server.model]

    reply = client.chat.completions.create(
        model=llama_server.model, messages=QUESTION, max_tokens=48, temperature=0
    )
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    # A chat template that did not end the turn would let the model ramble on as "user".
    assert "<|im_start|>" not in choice.message.content

    stream = client.chat.completions.create(
        model=llama_server.model, messages=QUESTION, max_tokens=48, temperature=0, stream=True
    )
    pieces: list[str] = []
    finish_reasons: list[str] = []
    for chunk in stream:
        for streamed in chunk.choices:
            pieces.append(streamed.delta.content or "")
            if streamed.finish_reason:
                finish_reasons.append(streamed.finish_reason)
    assert sum(1 for p in pieces if p) > 1, "expected the answer in several chunks"
    assert "".join(pieces) == choice.message.content  # temperature 0: same text both ways
    assert finish_reasons == [choice.finish_reason]
