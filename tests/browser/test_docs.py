"""/docs in a real browser: Swagger UI from this server only, under the pages' CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def test_swagger_ui_shows_the_api_loading_nothing_from_elsewhere(new_page, live_server):
    page = new_page()
    requested: list[str] = []
    blocked: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(f"{live_server.url}/docs")
    expect(page.get_by_text("/api/chat/stream").first).to_be_visible()
    elsewhere = [u for u in requested if not u.startswith((live_server.url, "data:"))]
    assert not elsewhere and not blocked, (elsewhere, blocked)
