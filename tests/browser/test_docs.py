"""/docs in a real browser: Swagger UI from this server only, under the pages' CSP; its
"Authorize" button takes the helpdesk key once for every helpdesk operation; axe-core
finds nothing serious at 1280 and 360 px."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from pydantic import SecretStr

from tests.browser.conftest import PHONE
from tests.support.app_fixtures import LiveServer, serving
from tests.support.axe import check_accessibility
from tests.support.browser_fixtures import DESKTOP
from tests.support.keyboard import unreachable_by_tab

pytestmark = pytest.mark.slow

KEY = "docs-test-key"


@pytest.fixture(scope="module")
def keyed_server(sample_index, embeddings) -> Iterator[LiveServer]:
    """The app with a (named) helpdesk key."""
    settings = sample_index.model_copy(update={"helpdesk_api_keys": [SecretStr(f"desk:{KEY}")]})
    with serving(settings, embeddings) as server:
        yield server


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


def test_authorize_sends_the_helpdesk_key_with_each_call(new_page, keyed_server):
    page = new_page()
    page.goto(f"{keyed_server.url}/docs")
    page.locator(".auth-wrapper").get_by_role("button", name="Authorize").click()
    dialog = page.locator(".modal-ux")
    expect(dialog).to_contain_text("X-API-Key")
    dialog.get_by_label("Value").fill(KEY)
    dialog.locator("button.authorize").click()
    expect(dialog.get_by_role("heading", name="Authorized")).to_be_visible()
    check_accessibility(page, "/docs's authorization dialog")
    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(dialog).to_be_hidden()

    operation = page.locator("#operations-helpdesk-reviews_api_helpdesk_reviews_get")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    with page.expect_response("**/api/helpdesk/reviews*") as response:
        operation.get_by_role("button", name="Execute").click()
    assert response.value.status == 200
    assert response.value.request.headers["x-api-key"] == KEY
    expect(operation.locator(".live-responses-table")).to_contain_text("200")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "360px"])
def test_docs_is_accessible(new_page, live_server, viewport):
    page = new_page(viewport=viewport)
    page.goto(f"{live_server.url}/docs")
    expect(page.get_by_text("/api/chat/stream").first).to_be_visible()
    page.locator(".opblock-summary").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    check_accessibility(page, f"/docs at {viewport['width']} px")
    assert unreachable_by_tab(page, presses=600) == []
