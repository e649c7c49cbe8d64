"""Starting real server processes for tests and waiting until they answer."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_ready(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    """Poll ``url`` until it answers 200; fail fast if the process dies first."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
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
    proc.kill()
    raise TimeoutError(f"{url} did not answer within {timeout} s")
