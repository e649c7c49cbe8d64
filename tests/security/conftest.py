"""A real Redis server for the security tests, on a free port in a temporary folder,
stopped at the end of the session (skipped only when redis-server is not installed), and
a PostgreSQL database (``tests.support.postgres``) whose URL carries a password."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest
import redis

from tests.support.app_fixtures import wait_for
from tests.support.servers import free_port

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
            wait_for(lambda: _ping(client) or proc.poll() is not None, "redis-server")
            assert proc.poll() is None, "redis-server exited"
            yield f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0"
        finally:
            client.close()
            proc.terminate()
            proc.wait(30)


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A database whose URL carries a password, for the logs to leak if they would."""
    return postgres_server.new_database(user="assistant", password=POSTGRES_PASSWORD)
