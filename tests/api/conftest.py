"""A TestClient over the sample index, vectors attached, shared by a module's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.settings import Settings
from tests.support.app_fixtures import wait_indexed

pytestmark = pytest.mark.slow


def open_client(settings: Settings, embeddings, *, complete: bool = True) -> TestClient:
    """A started TestClient (lifespan run); with ``complete``, once vectors are attached."""
    client = TestClient(create_app(settings, embeddings=embeddings))
    client.__enter__()
    if complete:
        wait_indexed(client)
    return client


@pytest.fixture(scope="module")
def client(sample_index, embeddings) -> Iterator[TestClient]:
    client = open_client(sample_index, embeddings)
    yield client
    client.__exit__(None, None, None)


def sse_events(text: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a Server-Sent Events body."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, "\n".join(data)))
    return events
