"""A real PostgreSQL 15 (Debian's packages) in a temporary directory.

``initdb`` refuses to run as root, so as root the server runs as user ``postgres``
(``runuser``). It listens on a free loopback port and a socket in its own directory;
each test gets a fresh database from ``postgres_url``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support.servers import free_port

__all__ = ["PG_BIN", "PostgresServer", "database_url", "postgres_server", "postgres_url"]


def _newest_bin() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return str(Path(found[-1]).parent) if found else "/usr/lib/postgresql/15/bin"


PG_BIN = Path(os.environ.get("PG_BIN") or _newest_bin())


def _run_as_postgres(*command: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    result = subprocess.run([*prefix, *command], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed: {result.stderr or result.stdout}")


class PostgresServer:
    """A cluster of its own (``initdb``) on a free port, which tests may stop and start
    again (same port, same data); ``close`` stops it and deletes it."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            pytest.skip(f"PostgreSQL is not installed ({PG_BIN}): apt-get install postgresql")
        # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
        self.root = Path(tempfile.mkdtemp(prefix="assistant-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        data = self.root / "data"
        self._pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(self.root / "log")]
        _run_as_postgres(
            str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run_as_postgres(*self._pg_ctl, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        _run_as_postgres(*self._pg_ctl, "-m", mode, "-w", "stop")

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # stopped already
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def new_database(self, user: str = "postgres", password: str | None = None) -> str:
        """A SQLAlchemy URL (psycopg 3) of a new, empty database owned by ``user``, whose
        ``password`` goes in the URL (the cluster trusts loopback; it is there to be masked)."""
        import psycopg  # here, so that the other tests run without it

        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as admin:
            if user != "postgres":
                exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
                if exists.fetchone() is None:
                    admin.execute(f'CREATE ROLE "{user}" LOGIN')
            admin.execute(f'CREATE DATABASE {name} OWNER "{user}"')
        url = make_url(self.url).set(
            drivername="postgresql+psycopg", database=name, username=user, password=password
        )
        return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One running server for the session's tests."""
    server = PostgresServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The conversations database on each backend: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'conversations.db'}"
    return request.getfixturevalue("postgres_url")
