"""Real Redis and PostgreSQL servers for the security tests, each on a free port in a
temporary folder, stopped at the end of the session; skipped only when the server
binaries are not installed."""

from __future__ import annotations

import glob
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.app_fixtures import wait_for
from tests.servers import free_port

REDIS_PASSWORD = "redis-secret-7f3a9c"
POSTGRES_PASSWORD = "pg-secret-4d81e2"


def _ping(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """``redis://:password@127.0.0.1:port/0`` of a redis-server of our own."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                folder,
                "--requirepass",
                REDIS_PASSWORD,
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=port, password=REDIS_PASSWORD, socket_connect_timeout=1)
        try:
            wait_for(lambda: _ping(client) or proc.poll() is not None, 30, "redis-server")
            assert proc.poll() is None, "redis-server exited"
            yield f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0"
        finally:
            client.close()
            proc.terminate()
            proc.wait(30)


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL, with a password, of a PostgreSQL cluster of our own (run as
    the ``postgres`` user, as initdb requires)."""
    bin_dir = _postgres_bin()
    if bin_dir is None or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL is not installed")
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix="pg-"))  # not under pytest's 0700 folders
    shutil.chown(root, "postgres")
    (root / "pw").write_text(POSTGRES_PASSWORD)
    shutil.chown(root / "pw", "postgres")

    def as_postgres(*args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args]

    subprocess.run(
        as_postgres(
            str(bin_dir / "initdb"),
            "-D",
            str(root / "data"),
            "-U",
            "assistant",
            f"--pwfile={root / 'pw'}",
            "--auth=scram-sha-256",
        ),
        check=True,
        capture_output=True,
    )
    proc = subprocess.Popen(
        as_postgres(
            str(bin_dir / "postgres"),
            "-D",
            str(root / "data"),
            "-p",
            str(port),
            "-k",
            str(root),
            "-c",
            "listen_addresses=127.0.0.1",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def ready() -> bool:
        check = [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)]
        return subprocess.run(check, capture_output=True).returncode == 0

    try:
        wait_for(lambda: ready() or proc.poll() is not None, 60, "PostgreSQL")
        assert proc.poll() is None, "PostgreSQL exited"
        yield f"postgresql+psycopg://assistant:{POSTGRES_PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(root, ignore_errors=True)
