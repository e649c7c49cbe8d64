"""A real browser (Debian's chromium, driven by Playwright) against the live server.

Never `playwright install`: the browser is the system's /usr/bin/chromium (installed by
.ci/run). Screenshots go to test-artifacts/ (git-ignored); a failed test's pages are
photographed there too, and listed in its report (tests/support/browser_fixtures.py).
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.support.browser_fixtures import ARTIFACTS
from tests.support.servers import free_port

pytestmark = pytest.mark.slow

PHONE = {"width": 360, "height": 740}


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 0
    return path


class StaticSite:
    """A plain HTTP server for a folder, on its own port (another origin than the app)."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port or free_port()), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> StaticSite:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class HeldStream:
    """Wraps the app's assistant: a streamed answer pauses after its first piece until
    ``release`` is set, so that a test can see the answer arrive in parts."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.release = threading.Event()

    def stream(self, *args, **kwargs):
        for position, event in enumerate(self.inner.stream(*args, **kwargs)):
            yield event
            if position == 0 and not self.release.wait(30):
                raise TimeoutError("the test never released the stream")

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture
def held(live_server) -> Iterator[HeldStream]:
    state = live_server.app.state
    original = state.assistant
    state.assistant = HeldStream(original)
    yield state.assistant
    state.assistant.release.set()
    state.assistant = original
