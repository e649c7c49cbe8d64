"""The helpdesk page in Debian's chromium (``new_page`` of tests/browser): key,
search with visible highlights, a suggested reply copied to the clipboard, and the
answers rated down. JavaScript errors fail the test (``new_page``)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from assistant.api import create_app
from assistant.channels.whatsapp import WebhookError
from tests.channels.conftest import HELPDESK_KEY
from tests.support.app_fixtures import ServerThread, wait_indexed
from tests.support.servers import free_port

pytestmark = pytest.mark.slow

FACTORING = "How much of an invoice can I borrow with invoice factoring?"


@pytest.fixture(scope="module")
def helpdesk_url(channel_settings, embeddings) -> Iterator[str]:
    """The app on a real port (WhatsApp off: the session's app already answers it)."""
    settings = channel_settings.model_copy(update={"whatsapp_app_secret": None})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(settings, embeddings=embeddings)
    with ServerThread(app, port):
        app.state.phone_bridge.records.add_errors(
            [WebhookError(131026, "Message undeliverable", "Shown in the browser test.", "w.1")]
        )
        with httpx.Client(base_url=url, timeout=None) as client:
            wait_indexed(client)
            chat = client.post("/api/chat", json={"message": FACTORING}).json()
            feedback = {
                "conversation_id": chat["conversation_id"],
                "turn": chat["turn"],
                "rating": "down",
                "comment": "Shown in the browser test.",
            }
            assert client.post("/api/feedback", json=feedback).status_code == 201
        yield url


@pytest.fixture
def page(new_page, helpdesk_url):
    page = new_page(base_url=helpdesk_url)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=helpdesk_url)
    return page


def test_helpdesk_page_search_suggest_copy_and_reviews(page):
    page.goto("/helpdesk")
    expect(page.locator("#key-form")).to_be_visible()
    expect(page.locator("#desk")).to_be_hidden()

    page.fill("#api-key", "wrong-key")
    page.click("#key-form button")
    expect(page.locator("#status")).to_contain_text("API key was refused")
    expect(page.locator("#key-form")).to_be_visible()

    page.fill("#api-key", HELPDESK_KEY)
    page.click("#key-form button")
    expect(page.locator("#desk")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 1

    error = page.locator("#wa-errors li").first
    expect(error).to_contain_text("131026: Message undeliverable")
    expect(error).to_contain_text("Shown in the browser test.")
    expect(page.locator("#wa-error-count")).to_contain_text(re.compile(r"^[1-9]\d* reported"))

    review = page.locator("#reviews li").first
    expect(review).to_contain_text(FACTORING)
    expect(review.locator("blockquote")).to_have_text("Shown in the browser test.")

    page.fill("#q", "invoice factoring")
    page.click("#search-form button")
    first = page.locator("#results li").first
    expect(first.locator("h3")).to_have_text("Borrow against assets — Borrow against invoices")
    mark = first.locator("mark").first
    expect(mark).to_be_visible()
    assert mark.inner_text().lower() in {"invoice", "factoring"}
    background = mark.evaluate("m => getComputedStyle(m).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    expect(first.locator("a", has_text="Official source")).to_have_attribute(
        "href", "https://example.org/guides"
    )

    page.fill("#question", FACTORING)
    page.click("#suggest-form button")
    reply = page.locator("#reply")
    expect(reply).to_have_value(re.compile(r"90%.*Sources:\n\[1\] Borrow against assets", re.S))
    page.fill("#reply", reply.input_value() + "\n\nKind regards, the export desk")
    page.click("#copy")
    expect(page.locator("#copied")).to_have_text("Copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("Here is what the sources say:")
    assert copied.endswith("Kind regards, the export desk")

    page.reload()  # the key is kept for the tab
    expect(page.locator("#desk")).to_be_visible()
