"""Fixtures for the API and browser tests: one index of the sample corpus per session,
apps over it, and a real uvicorn server in a thread (the same process, so the loaded
embedder is shared and tests can reach ``app.state``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from assistant.api import create_app
from assistant.api.protocol import ConnectionLimits, GuardedProtocol, uvicorn_options
from assistant.settings import Settings
from ingest.index import Indexer
from tests.conftest import copy_sample_corpus, make_settings
from tests.support.servers import free_port

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T],
    what: str = "condition",
    *,
    fails: Callable[[], str | None] | None = None,
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that.

    There is no time limit: how long a step takes depends on the machine, and CI may be
    slower or busier than the one a limit was chosen on. A wait ends when its condition
    holds, or fails when ``fails`` says what it waits for can no longer come (a process
    that exited, an indexer that failed), or, for a wait that never ends, at the
    test's hang guard (``timeout`` in pyproject.toml, pytest-timeout)."""
    pause = threading.Event()
    while True:
        value = condition()
        if value:
            return value
        if fails is not None and (reason := fails()):
            raise AssertionError(f"{what} will not come: {reason}")
        pause.wait(0.05)


def indexing_phase(client) -> str:
    return client.get("/readyz").json()["indexing"]["phase"]


def wait_indexed(client) -> None:
    """Until the app's vectors are attached; fails at once if its indexing failed."""

    def failed() -> str | None:
        indexing = client.get("/readyz").json()["indexing"]
        return indexing["error"] if indexing["phase"] == "failed" else None

    wait_for(lambda: indexing_phase(client) == "complete", "vectors attached", fails=failed)


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, embeddings) -> Settings:
    """The sample corpus fully indexed (BM25 and vectors) once for the session."""
    root = tmp_path_factory.mktemp("sample-index")
    settings = make_settings(root / "var", copy_sample_corpus(root))
    Indexer(settings, embeddings).run([settings.corpus_dir])
    return settings


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    settings: Settings


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1:``port`` in a daemon thread; ``options``
    for ``uvicorn.Config``."""

    def __init__(self, app: FastAPI, port: int, **options) -> None:
        options = {"log_level": "warning", **options}
        config = uvicorn.Config(app, host="127.0.0.1", port=port, **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        wait_for(lambda: self.server.started or not self.thread.is_alive(), "uvicorn start")
        if not self.server.started:
            raise RuntimeError("uvicorn did not start")
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(60)


@pytest.fixture(scope="session")
def other_origin() -> str:
    """An origin (another port) that the live server lets call its API, for the widget."""
    return f"http://127.0.0.1:{free_port()}"


@contextmanager
def serving(settings: Settings, embeddings, *, guarded: bool = False) -> Iterator[LiveServer]:
    """The app of ``settings`` on a real port, once its vectors are loaded; ``guarded``:
    served by the protocol ``serve`` uses (``GuardedProtocol``, with its limits)."""
    app = create_app(settings, embeddings=embeddings)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    options = {}
    if guarded:
        limits = {"limits": ConnectionLimits.from_settings(settings)}
        options = {
            **uvicorn_options(settings),
            "http": type("Protocol", (GuardedProtocol,), limits),
        }
    with ServerThread(app, port, **options):
        with httpx.Client(base_url=url, timeout=None) as client:
            wait_indexed(client)
        yield LiveServer(url=url, app=app, settings=settings)


@pytest.fixture(scope="session")
def live_server(sample_index, embeddings, other_origin) -> Iterator[LiveServer]:
    """The app on a real port, over the sample index, its vectors loaded."""
    with serving(sample_index.model_copy(update={"cors_origins": [other_origin]}), embeddings) as s:
        yield s
