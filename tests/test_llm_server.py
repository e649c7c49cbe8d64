"""The real LLM server of tests/support/llm_server.py answers the official OpenAI client, and its
fixtures say in one line when it dies."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from openai import OpenAI

from tests.support.llm_server import ROOT, LlamaServer

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
LONG_QUESTION = [{"role": "user", "content": "Write a long story about a ship and its cargo."}]


def openai_client(server: LlamaServer) -> OpenAI:
    return OpenAI(base_url=server.base_url, api_key="unused", timeout=None, max_retries=0)


@pytest.mark.slow
def test_chat_completion_plain_and_streamed(llama_server: LlamaServer) -> None:
    client = openai_client(llama_server)
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


@pytest.mark.slow
def test_a_waiting_request_does_not_cut_a_running_stream_short(llama_server: LlamaServer):
    client = openai_client(llama_server)
    stream = client.chat.completions.create(
        model=llama_server.model, messages=LONG_QUESTION, max_tokens=200, stream=True
    )
    chunks = iter(stream)
    first = next(chunks)  # the stream is running
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(
            client.chat.completions.create,
            model=llama_server.model,
            messages=QUESTION,
            max_tokens=16,
        )
        finish_reasons = [c.finish_reason for chunk in [first, *chunks] for c in chunk.choices]
        reply = waiting.result()
    assert [r for r in finish_reasons if r] in (["stop"], ["length"])
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.choices[0].message.content


INNER_TESTS = """
def test_kills_the_server(llama_server, llama_process):
    llama_process.proc.kill()
    llama_process.proc.wait()


def test_after_the_death(llama_server):
    pass
"""


@pytest.mark.slow
def test_a_dead_server_is_reported_in_one_line(tmp_path: Path) -> None:
    """An inner pytest run whose first test kills the server: that test and the next one
    fail with the pid, the exit code, the test and the log, not with "Connection refused"."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    path = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "tests.support.llm_server",
        "-p",
        "no:cacheprovider",
    ]
    result = subprocess.run(
        [*command, "--basetemp", str(tmp_path / "tmp"), "test_inner.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    died = re.search(
        r"^LLM test server \(xllamacpp, pid (\d+)\) exited with code -9 "
        r"during test_inner.py::test_kills_the_server; log: (\S+/server\.log)$",
        output,
        re.MULTILINE,
    )
    assert died, output
    pid, log_path = died.groups()
    assert "listening on" in Path(log_path).read_text()
    after = (
        f"LLM test server (xllamacpp, pid {pid}) exited with code -9 "
        f"before test_inner.py::test_after_the_death; log: {log_path}"
    )
    assert after in output.splitlines(), output
    assert "1 passed, 2 errors" in output.splitlines()[-1], output
