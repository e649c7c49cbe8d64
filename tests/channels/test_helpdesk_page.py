"""The helpdesk page in Debian's chromium (``new_page`` of tests/browser): key,
search with visible highlights, a suggested reply copied to the clipboard, and the
answers rated down; in French and English, its tabs by keyboard, each tab checked by
axe-core and made to fit a 360-px screen. JavaScript errors fail the test (``new_page``)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from assistant.api import create_app
from assistant.channels.whatsapp import WebhookError
from tests.browser.conftest import PHONE, screenshot
from tests.channels.conftest import HELPDESK_KEY
from tests.support.app_fixtures import ServerThread, wait_indexed
from tests.support.axe import check_accessibility
from tests.support.browser_fixtures import DESKTOP
from tests.support.keyboard import unreachable_by_tab
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
            handoff = {"conversation_id": chat["conversation_id"], "turn": chat["turn"]}
            assert client.post("/api/handoffs", json=handoff).status_code in (200, 201)
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

    page.get_by_role("tab", name="Reviews").click()
    error = page.locator("#wa-errors li").first
    expect(error).to_contain_text("131026: Message undeliverable")
    expect(error).to_contain_text("Shown in the browser test.")
    expect(page.locator("#wa-error-count")).to_contain_text(re.compile(r"^[1-9]\d* reported"))

    review = page.locator("#reviews li").first
    expect(review).to_contain_text(FACTORING)
    expect(review.locator("blockquote")).to_have_text("Shown in the browser test.")

    page.get_by_role("tab", name="Search and reply").click()
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


def open_desk(page: Page) -> None:
    page.goto("/helpdesk")
    page.locator("#api-key").fill(HELPDESK_KEY)
    page.locator("#api-key").press("Enter")
    expect(page.locator("#desk")).to_be_visible()


def test_the_helpdesk_speaks_french_and_switches_language(new_page, helpdesk_url):
    page = new_page(base_url=helpdesk_url, locale="fr-FR")
    page.goto("/helpdesk")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Espace conseillers")).to_be_visible()
    expect(page.get_by_label("Clé d'API")).to_be_visible()
    open_desk(page)
    expect(page).to_have_title("Espace conseillers — Assistant export")
    search = page.get_by_role("tab", name="Recherche et réponse")
    expect(search).to_have_attribute("aria-selected", "true")
    page.get_by_label("Mots à chercher").fill("invoice factoring")
    page.get_by_role("button", name="Chercher").click()
    first = page.locator("#results li").first
    expect(first.get_by_role("link", name="Source officielle")).to_be_visible()

    # Tabs by keyboard: arrows move and select, Home and End go to the ends.
    search.focus()
    page.keyboard.press("ArrowRight")
    reviews = page.get_by_role("tab", name="À revoir")
    expect(reviews).to_be_focused()
    expect(reviews).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("heading", name="Réponses jugées inutiles")).to_be_visible()
    expect(page.locator("#reviews li").first).to_contain_text("échange 1")
    page.keyboard.press("End")
    expect(page.get_by_role("tab", name="Conseillers")).to_be_focused()
    expect(page.get_by_role("heading", name="Questions pour les conseillers")).to_be_visible()
    expect(page).to_have_url(re.compile("#inbox$"))
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("tab", name="Rapport")).to_be_focused()
    expect(page.get_by_role("heading", name="Questions sans réponse")).to_be_visible()
    expect(page).to_have_url(re.compile("#report$"))
    page.locator("#report-form").get_by_role("button", name="Afficher").click()
    expect(page.locator("#report-summary")).to_contain_text("thèmes, du ")
    expect(page.locator("#report-topics li").first).to_contain_text("jugée inutile")
    page.get_by_role("tab", name="Rapport").focus()
    page.keyboard.press("Home")
    expect(search).to_be_focused()

    # English on request: static and drawn texts, and the choice is kept (as the chat's).
    page.get_by_role("combobox", name=re.compile("^Langue")).first.select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("tab", name="Search and reply")).to_be_visible()
    expect(first.get_by_role("link", name="Official source")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Helpdesk", exact=True)).to_be_visible()
    page.goto("/")
    expect(page.get_by_role("heading", name="Export Assistant")).to_be_visible()


def fill_every_tab(page: Page) -> dict[str, str]:
    """Each tab with what it shows once used; returns tab name -> panel id."""
    page.get_by_label("Words to find").fill("invoice factoring")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#results li").first).to_be_visible()
    page.get_by_label("The customer's question").fill(FACTORING)
    page.get_by_role("button", name="Suggest a reply").click()
    expect(page.locator("#reply")).not_to_be_empty()
    page.get_by_role("tab", name="Reviews").click()
    expect(page.locator("#reviews li").first).to_be_visible()
    page.get_by_role("tab", name="Your guides").click()
    page.locator("#corpus-details summary").click()
    expect(page.locator("#corpus li").first).to_be_visible()
    page.get_by_role("tab", name="Report").click()
    page.locator("#report-form").get_by_role("button", name="Show").click()
    expect(page.locator("#report-summary")).to_contain_text("questions in")
    expect(page.locator("#report-advisers")).to_contain_text("handed to advisers")
    page.locator("#freshness-form").get_by_role("button", name="Show").click()
    expect(page.locator("#stale li").first).to_be_visible()
    page.get_by_role("tab", name="Advisers").click()
    page.locator("#inbox-status").select_option("")
    page.locator("#inbox-form").get_by_role("button", name="Show").click()
    page.locator("#inbox li", has_text=FACTORING).first.get_by_role("button", name="Open").click()
    expect(page.locator("#handoff-conversation li").first).to_be_visible()
    page.get_by_role("button", name="Suggest a reply").click()
    expect(page.locator("#cite-list li").first).to_be_visible()
    tabs = [page.get_by_role("tab").nth(i) for i in range(page.get_by_role("tab").count())]
    return {tab.inner_text(): tab.get_attribute("aria-controls") for tab in tabs}


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "360px"])
def test_every_tab_is_accessible_fits_the_screen_and_works_by_keyboard(
    new_page, helpdesk_url, viewport
):
    phone = viewport is PHONE
    page = new_page(base_url=helpdesk_url, viewport=viewport, has_touch=phone, is_mobile=phone)
    page.goto("/helpdesk")
    check_accessibility(page, f"the helpdesk key form at {viewport['width']} px")
    open_desk(page)
    panels = fill_every_tab(page)
    assert list(panels) == ["Search and reply", "Reviews", "Your guides", "Report", "Advisers"]
    for name in panels:
        page.get_by_role("tab", name=name).click()
        expect(page.locator(f"#{panels[name]}")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], name
        check_accessibility(page, f"the helpdesk tab {name!r} at {viewport['width']} px")
        assert unreachable_by_tab(page) == [], name
    screenshot(page, f"helpdesk-report-{viewport['width']}")
