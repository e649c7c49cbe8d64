"""Connection floods against the real `serve` command, in a process with a small file
limit (``ulimit -n``), as one machine with many half-sent connections would make them.

Before (issue 15): ~20,000 half-sent connections exhausted the server's file descriptors,
``/healthz`` and ``/api/chat`` got empty replies, and slow headers or bodies were held
for over a minute. Now each address holds a few connections, the process never more
than ``max_connections`` (the longest-waiting one gives way), and a request must
arrive within ``request_read_timeout``.
"""

from __future__ import annotations

import json
import resource
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from assistant.api.protocol import RESERVED_FILES
from tests.conftest import PYTHON, subprocess_env
from tests.support.app_fixtures import wait_for
from tests.support.servers import free_port, stop

pytestmark = pytest.mark.slow

FACTORING = "How much of an invoice can I borrow with invoice factoring?"
FILE_LIMIT = 256  # the serve process's `ulimit -n`; it uses about 40 before any client
# max_connections is left at its default (800): `serve` lowers it to fit the file limit.
MAX_CONNECTIONS = FILE_LIMIT - RESERVED_FILES
PER_ADDRESS = 20
READ_TIMEOUT = 3
HALF_A_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: flood\r\nX-Slow: "


@contextmanager
def serving(sample_index, folder: Path, read_timeout: float) -> Iterator[str]:
    """`python -m assistant serve` over a copy of the sample index, at a file limit of
    ``FILE_LIMIT``; its URL."""
    data_dir = folder / "var"
    shutil.copytree(sample_index.data_dir, data_dir)
    settings = sample_index.model_copy(update={"data_dir": data_dir})
    env = subprocess_env(
        settings,
        ASSISTANT_MAX_CONNECTIONS_PER_ADDRESS=str(PER_ADDRESS),
        ASSISTANT_REQUEST_READ_TIMEOUT=str(read_timeout),
        ASSISTANT_RATE_LIMIT="",
    )
    port = free_port()
    proc = subprocess.Popen(
        [PYTHON, "-m", "assistant", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT)),
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited with {proc.returncode}")
        try:
            readiness = httpx.get(f"{url}/readyz", timeout=5).json()
        except httpx.TransportError:
            return False
        return readiness["indexing"]["phase"] == "complete"

    try:
        wait_for(ready, "serve ready")
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def serve(sample_index, tmp_path_factory) -> Iterator[str]:
    """A server that waits long for requests: the flood stays for as long as a test."""
    with serving(sample_index, tmp_path_factory.mktemp("flood"), 600) as url:
        yield url


@pytest.fixture(scope="module")
def impatient(sample_index, tmp_path_factory) -> Iterator[str]:
    """A server that waits ``READ_TIMEOUT`` seconds for a request."""
    with serving(sample_index, tmp_path_factory.mktemp("slow"), READ_TIMEOUT) as url:
        yield url


def half_open(url: str, hosts: list[str], stack: ExitStack) -> list[socket.socket]:
    """A connection from each of ``hosts`` (127.0.0.x addresses) that sends half a
    request and waits; they stay open until ``stack`` closes."""
    port = int(url.rsplit(":", 1)[1])
    sockets = []
    for host in hosts:
        sock = stack.enter_context(socket.socket())
        sock.bind((host, 0))
        sock.connect(("127.0.0.1", port))
        sock.sendall(HALF_A_REQUEST)
        sock.setblocking(False)
        sockets.append(sock)
    return sockets


def still_open(sockets: list[socket.socket]) -> int:
    """How many of ``sockets`` the server has not closed."""
    alive = 0
    for sock in sockets:
        try:
            if sock.recv(65536) == b"":
                continue
        except BlockingIOError:
            pass  # nothing yet: still open
        except ConnectionResetError:
            continue
        alive += 1
    return alive


def assert_still_serves(url: str) -> None:
    with httpx.Client(base_url=url, timeout=None) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        answer = client.post("/api/chat", json={"message": FACTORING})
        assert answer.status_code == 200 and answer.json()["citations"]


def test_one_address_holds_a_few_connections_and_others_are_served(serve):
    with ExitStack() as stack:
        flood = half_open(serve, ["127.0.0.2"] * 400, stack)
        wait_for(lambda: still_open(flood) <= PER_ADDRESS, "the flood's surplus closed")
        assert_still_serves(serve)
        assert still_open(flood) <= PER_ADDRESS


def test_many_addresses_cannot_exhaust_the_process(serve):
    """400 half-sent connections from 200 addresses, under the per-address limit but past
    the file limit (plain uvicorn: "Server disconnected without sending a response"): the
    oldest give way to newer ones, and a real request finds a connection."""
    hosts = [f"127.0.1.{n}" for n in range(1, 201)] * 2
    with ExitStack() as stack:
        flood = half_open(serve, hosts, stack)
        wait_for(lambda: still_open(flood) <= MAX_CONNECTIONS, "the oldest closed")
        assert_still_serves(serve)
        assert still_open(flood) < MAX_CONNECTIONS


@pytest.mark.parametrize(
    "request_bytes",
    [
        HALF_A_REQUEST,  # slow headers
        b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{",  # a slow body
    ],
    ids=["slow-headers", "slow-body"],
)
def test_a_slow_request_is_cut_off_with_a_408(impatient, request_bytes):
    port = int(impatient.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request_bytes)
        started = time.monotonic()
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        waited = time.monotonic() - started
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 Request Timeout"), data
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body)["error"]["code"] == "request_timeout"
    assert waited >= READ_TIMEOUT - 0.5, "cut off before its time"
