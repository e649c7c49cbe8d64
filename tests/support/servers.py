"""Starting real server processes for tests and waiting until they answer."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_ready(url: str, proc: subprocess.Popen) -> None:
    """Poll ``url`` until it answers 200, however long a busy machine makes it take;
    fail as soon as the process exits (a wait that never ends meets the hang guard)."""
    with httpx.Client(timeout=None) as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server process exited with {proc.returncode} before ready")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            try:
                proc.wait(timeout=0.2)  # doubles as the pause between polls
            except subprocess.TimeoutExpired:
                continue


@contextlib.contextmanager
def assistant_server(ready: str = "/readyz", **settings: str) -> Iterator[str]:
    """``python -m assistant serve`` on a free port with these ``ASSISTANT_*`` settings
    (none inherited), its URL once ``ready`` answers 200; stopped on leaving."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(settings, ASSISTANT_PORT=str(port))
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}{ready}", server)
        yield url
    finally:
        stop(server)


def stop(proc: subprocess.Popen, grace: float = 60.0) -> None:
    """Terminate ``proc`` and wait for it; SIGKILL when it takes longer than ``grace``
    (an escalation, not a test's verdict)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class ChromaServer:
    """A `chroma run` process persisting to ``path``, which tests may kill and start
    again on the same port (the data stays, as after a real crash)."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
        command = [chroma, "run", "--path", str(self.path), "--host", "127.0.0.1"]
        self.proc = subprocess.Popen(
            [*command, "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"},
        )
        wait_until_ready(f"{self.url}/api/v2/heartbeat", self.proc)

    def kill(self) -> None:
        """SIGKILL: no chance to flush or say goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
