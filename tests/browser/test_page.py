"""The chat page in a real browser: streaming, citations, feedback, memory, languages,
failures, and a 360-px phone."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from assistant.api import create_app
from ingest.index import COMPLETE_STAMP, index_locks
from tests.browser.conftest import PHONE, screenshot
from tests.conftest import copy_sample_corpus, make_settings
from tests.support.app_fixtures import ServerThread, serving
from tests.support.axe import check_accessibility
from tests.support.browser_fixtures import DESKTOP
from tests.support.keyboard import unreachable_by_tab
from tests.support.servers import free_port

pytestmark = pytest.mark.slow

FACTORING = "How much of an invoice can I borrow with invoice factoring?"


def ask(page: Page, question: str) -> None:
    """Type a question as a keyboard user would and send it with Enter."""
    box = page.get_by_label(re.compile("^(Your question|Votre question)$"))
    box.click()
    box.fill(question)
    box.press("Enter")


def last_answer(page: Page):
    answer = page.locator(".ea-answer").last
    expect(answer).to_have_attribute("aria-busy", "false")
    return answer


def test_the_answer_streams_in_with_numbered_citations(new_page, live_server, held):
    page = new_page()
    page.goto(live_server.url)
    expect(page.get_by_role("heading", name="Export Assistant")).to_be_visible()
    ask(page, FACTORING)
    answer = page.locator(".ea-answer").last
    # The first piece is on screen while the rest is still being written.
    expect(answer.locator(".ea-text")).to_contain_text("Here is what the sources say:")
    expect(answer).to_have_attribute("aria-busy", "true")
    expect(answer.locator(".ea-text")).not_to_contain_text("90%")
    held.release.set()
    answer = last_answer(page)
    expect(answer.locator(".ea-text")).to_contain_text("90%")
    expect(answer.locator(".ea-cite").first).to_have_text("[1]")
    expect(answer.locator(".ea-sources li").first).to_contain_text("Borrow against assets")
    expect(answer.locator(".ea-notices")).to_contain_text("(2018)")
    screenshot(page, "desktop-chat")


def test_a_citation_opens_a_card_and_its_passage(new_page, live_server):
    page = new_page()
    page.goto(live_server.url)
    ask(page, FACTORING)
    marker = last_answer(page).locator(".ea-cite").first
    marker.click()
    card = page.get_by_role("dialog")
    expect(card).to_be_visible()
    expect(card.get_by_role("heading", name="Borrow against assets")).to_be_visible()
    expect(card).to_contain_text("Borrow against invoices")
    expect(card).to_contain_text("UK Department for International Trade")
    expect(card).to_contain_text("2018")
    expect(card.locator("blockquote")).to_contain_text("borrow up to 90% of the value")
    official = card.get_by_role("link", name="Official page")
    expect(official).to_have_attribute("href", "https://example.org/guides")
    screenshot(page, "desktop-citation")

    page.keyboard.press("Escape")
    expect(card).to_be_hidden()
    expect(marker).to_be_focused()

    marker.click()
    passage = card.get_by_role("link", name="Read the passage in full").get_attribute("href")
    assert passage.endswith("#s-borrow-against-invoices")
    page.goto(passage)
    cited = page.locator("section.cited")
    expect(cited).to_have_attribute("id", "s-borrow-against-invoices")
    expect(cited).to_be_in_viewport()
    expect(cited).to_contain_text("borrow up to 90% of the value of an invoice")
    check_accessibility(page, "a source's page")


def test_feedback_with_a_comment_is_saved(new_page, live_server):
    page = new_page()
    page.goto(live_server.url)
    ask(page, FACTORING)
    answer = last_answer(page)
    helpful = answer.get_by_role("button", name="Helpful", exact=True)
    helpful.click()
    expect(helpful).to_have_attribute("aria-pressed", "true")
    expect(answer.get_by_role("button", name="Not helpful")).to_have_attribute(
        "aria-pressed", "false"
    )
    expect(answer.get_by_role("status")).to_have_text("Thanks for your feedback.")
    answer.get_by_label("Tell us more (optional)").fill("Clear and sourced.")
    answer.get_by_role("button", name="Send feedback").click()
    expect(answer.get_by_label("Tell us more (optional)")).to_be_hidden()

    conversation_id = page.evaluate("localStorage.getItem('ea.current')")
    records = live_server.app.state.conversations.feedback(json.loads(conversation_id))
    assert [(n, r.rating, r.comment) for n, r in records] == [(1, "up", "Clear and sourced.")]


def test_a_reload_finds_the_conversation(new_page, live_server):
    page = new_page()
    page.goto(live_server.url)
    ask(page, FACTORING)
    last_answer(page)
    ask(page, "and against stock?")
    last_answer(page)
    page.reload()
    expect(page.locator(".ea-question")).to_have_count(2)
    expect(page.locator(".ea-question p").first).to_have_text(FACTORING)
    expect(last_answer(page).locator(".ea-cite").first).to_be_visible()
    recent = page.get_by_role("navigation").get_by_role("button", name=FACTORING)
    expect(recent).to_be_visible()

    page.get_by_role("button", name="New conversation").click()
    expect(page.locator(".ea-turn")).to_have_count(0)
    expect(
        page.get_by_role("button", name="When is an export exempt from EEI filing?")
    ).to_be_visible()
    recent.click()
    expect(page.locator(".ea-question")).to_have_count(2)


def test_the_page_speaks_french_to_a_french_browser_and_on_request(new_page, live_server):
    page = new_page(locale="fr-FR")
    page.goto(live_server.url)
    expect(page.get_by_role("heading", name="Assistant export")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("button", name="Nouvelle conversation")).to_be_visible()
    ask(page, "Combien de jours le consommateur a-t-il pour se rétracter ?")
    answer = last_answer(page)
    expect(answer.locator(".ea-text")).to_contain_text("Voici ce que disent les sources")
    expect(answer.get_by_role("button", name="Utile", exact=True)).to_be_visible()

    english = new_page(locale="en-US")
    english.goto(live_server.url)
    english.get_by_label("Language").select_option("fr")
    expect(english.get_by_role("button", name="Envoyer")).to_be_visible()
    expect(english.get_by_label("Votre question")).to_have_attribute(
        "placeholder", re.compile("douane")
    )
    english.reload()
    expect(english.get_by_role("heading", name="Assistant export")).to_be_visible()


def test_examples_and_the_copy_button(new_page, live_server):
    page = new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(live_server.url)
    page.get_by_role("button", name="When is an export exempt from EEI filing?").click()
    expect(page.locator(".ea-question p")).to_have_text("When is an export exempt from EEI filing?")
    answer = last_answer(page)
    answer.get_by_role("button", name="Copy answer").click()
    expect(answer.get_by_role("status")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(answer.locator(".ea-text p").first.inner_text().strip())
    assert "\nSources:\n[1] " in copied


def test_an_unreachable_server_says_so_and_can_be_retried(new_page, live_server):
    page = new_page()
    page.goto(live_server.url)
    page.route("**/api/chat/stream", lambda route: route.abort("connectionrefused"))
    ask(page, FACTORING)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Cannot reach the server")
    page.unroute("**/api/chat/stream")
    alert.get_by_role("button", name="Try again").click()
    expect(last_answer(page).locator(".ea-text")).to_contain_text("90%")
    expect(page.locator(".ea-turn")).to_have_count(1)


@pytest.mark.parametrize(
    ("status", "content_type", "body", "shown"),
    [
        (
            503,
            "application/json",
            '{"error": {"message": "The index is being prepared.", "code": "index_not_ready"}}',
            "The answer failed: The index is being prepared.",
        ),
        (
            200,
            "text/event-stream",
            'event: error\ndata: {"message": "It broke; it has been logged."}\n\n',
            "The answer failed: It broke; it has been logged.",
        ),
    ],
)
def test_a_failed_answer_is_explained(new_page, live_server, status, content_type, body, shown):
    page = new_page()
    page.goto(live_server.url)
    page.route(
        "**/api/chat/stream",
        lambda route: route.fulfill(status=status, content_type=content_type, body=body),
    )
    ask(page, FACTORING)
    expect(page.get_by_role("alert")).to_contain_text(shown)


def test_indexing_progress_is_shown(new_page, live_server):
    progress = {
        "ready": True,
        "documents": 7,
        "chunks": 15,
        "embedder": "x",
        "llm": "offline",
        "indexing": {
            "phase": "embedding",
            "done": 42,
            "total": 100,
            "percent": 42,
            "dense_ready": False,
            "error": None,
        },
    }
    page = new_page(locale="fr-FR")
    page.route("**/readyz", lambda route: route.fulfill(json=progress))
    page.goto(live_server.url)
    expect(page.locator("#status")).to_contain_text("Indexation en cours : 42 %")
    page.get_by_label("Langue").select_option("en")
    expect(page.locator("#status")).to_contain_text("Still indexing: 42 %")


def test_a_360_px_phone(new_page, live_server):
    page = new_page(viewport=PHONE, has_touch=True, is_mobile=True)
    page.goto(live_server.url)
    ask(page, FACTORING)
    answer = last_answer(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "phone-chat")
    answer.locator(".ea-cite").first.click()
    card = page.get_by_role("dialog")
    expect(card).to_be_in_viewport(ratio=1)
    box = card.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    screenshot(page, "phone-citation")
    card.get_by_role("button", name="Close").click()
    expect(card).to_be_hidden()


def test_every_control_has_a_name(new_page, live_server):
    page = new_page()
    page.goto(live_server.url)
    ask(page, FACTORING)
    last_answer(page).locator(".ea-cite").first.click()
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('button, a, textarea, select, input')]
            .filter((el) => el.offsetParent !== null)
            .filter((el) => !(el.getAttribute('aria-label') || el.textContent.trim()
                || (el.labels && el.labels.length)))
            .map((el) => el.outerHTML)"""
    )
    assert unnamed == []


def unobscured(page: Page, locator) -> bool:
    """Whether ``locator``'s box is in the window and not under the question form."""
    box = locator.bounding_box()
    form = page.locator(".ea-form").bounding_box()
    height = page.viewport_size["height"]
    return box["y"] >= 0 and box["y"] + box["height"] <= min(height, form["y"]) + 1


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "360px"])
def test_the_new_answer_comes_into_view_and_is_announced(new_page, live_server, held, viewport):
    page = new_page(viewport=viewport)
    page.goto(live_server.url)
    held.release.set()
    # Enough turns that the page scrolls (how many depends on the answers' length).
    for question in (FACTORING, "and against stock?") * 3:
        ask(page, question)
        last_answer(page)
        if page.evaluate("document.documentElement.scrollHeight") > viewport["height"]:
            break
    assert page.evaluate("document.documentElement.scrollHeight") > viewport["height"]
    held.release.clear()

    ask(page, "What is factoring?")
    question = page.locator(".ea-question").last
    expect(page.locator(".ea-answer").last.locator(".ea-text")).to_contain_text("Here is what")
    assert unobscured(page, question), "the new question is in view while it is answered"
    held.release.set()
    answer = last_answer(page)
    assert unobscured(page, question)
    assert unobscured(page, answer.locator(".ea-text p").first)
    # Keyboard users keep the question box, for the next question; screen readers hear
    # the answer once, when it is complete.
    expect(page.get_by_label("Your question")).to_be_focused()
    status = page.locator(".ea-chat > [role=status]")
    expect(status).to_have_text(re.compile(r"^Assistant: Here is what the sources say"))
    screenshot(page, f"answer-in-view-{viewport['width']}")


def test_a_reader_who_scrolls_up_is_left_there(new_page, live_server, held):
    page = new_page(viewport=PHONE)
    page.goto(live_server.url)
    held.release.set()
    ask(page, FACTORING)
    last_answer(page)
    held.release.clear()
    ask(page, "and against stock?")
    expect(page.locator(".ea-answer").last.locator(".ea-text")).to_contain_text("Here is what")
    page.mouse.wheel(0, -5000)
    page.wait_for_function("window.scrollY === 0")
    held.release.set()
    last_answer(page)
    expect(page.locator(".ea-answer").last.locator(".ea-sources")).to_be_visible()
    assert page.evaluate("window.scrollY") == 0


def test_an_example_tapped_puts_the_focus_on_its_answer(new_page, live_server):
    page = new_page()
    page.goto(live_server.url)
    page.get_by_role("button", name="When is an export exempt from EEI filing?").focus()
    page.keyboard.press("Enter")
    answer = last_answer(page)
    expect(answer).to_be_focused()
    page.keyboard.press("Tab")
    expect(answer.locator(".ea-cite").first).to_be_focused()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "360px"])
def test_citation_targets_are_big_enough(new_page, live_server, viewport):
    phone = viewport is PHONE
    page = new_page(viewport=viewport, has_touch=phone, is_mobile=phone)
    page.goto(live_server.url)
    assert page.evaluate("matchMedia('(pointer: coarse)').matches") is phone
    ask(page, FACTORING)
    cites = last_answer(page).locator(".ea-cite")
    expect(cites.first).to_be_visible()
    hit = 44 if phone else 24  # WCAG 2.2: 24 x 24 CSS px; 44 preferred on touch screens
    for n in range(cites.count()):
        box = cites.nth(n).bounding_box()
        assert box["width"] >= 24 and box["height"] >= 24, box
        # Every point of a hit x hit square around the centre opens this citation.
        inside = cites.nth(n).evaluate(
            """(cite, size) => {
                const r = cite.getBoundingClientRect();
                const x = r.left + r.width / 2, y = r.top + r.height / 2, h = size / 2 - 0.5;
                return [[-h, -h], [h, -h], [-h, h], [h, h], [0, -h], [0, h], [-h, 0], [h, 0]]
                  .every(([dx, dy]) => cite.contains(document.elementFromPoint(x + dx, y + dy)));
            }""",
            hit,
        )
        assert inside, f"citation {n + 1}: a {hit}-px target"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "360px"])
def test_the_chat_page_is_accessible_and_works_by_keyboard(new_page, live_server, viewport):
    phone = viewport is PHONE
    page = new_page(viewport=viewport, has_touch=phone, is_mobile=phone)
    page.goto(live_server.url)
    check_accessibility(page, f"the chat page at {viewport['width']} px")
    assert unreachable_by_tab(page) == []
    ask(page, FACTORING)
    answer = last_answer(page)
    check_accessibility(page, f"the chat page with an answer at {viewport['width']} px")
    assert unreachable_by_tab(page) == []

    # A citation opens with Enter, the card takes the focus, Escape gives it back.
    cite = answer.locator(".ea-cite").first
    cite.focus()
    page.keyboard.press("Enter")
    card = page.get_by_role("dialog")
    expect(card).to_be_focused()
    check_accessibility(page, f"the citation card at {viewport['width']} px")
    page.keyboard.press("Tab")
    expect(card.get_by_role("button", name="Close")).to_be_focused()
    page.keyboard.press("Escape")
    expect(card).to_be_hidden()
    expect(cite).to_be_focused()

    # Rating and commenting by keyboard.
    helpful = answer.get_by_role("button", name="Helpful", exact=True)
    helpful.focus()
    page.keyboard.press("Space")
    expect(helpful).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(answer.get_by_label("Tell us more (optional)")).to_be_focused()
    page.keyboard.type("By keyboard.")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(answer.get_by_label("Tell us more (optional)")).to_be_hidden()


@pytest.fixture(scope="module")
def stamped(tmp_path_factory, embeddings):
    """Settings over an index that a server completed (and so stamped) once."""
    root = tmp_path_factory.mktemp("stamped")
    settings = make_settings(root / "var", copy_sample_corpus(root))
    with serving(settings, embeddings):
        pass
    assert (settings.data_dir / COMPLETE_STAMP).is_file()
    return settings


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "360px"])
def test_a_restart_with_a_complete_index_never_says_it_is_indexing(
    new_page, stamped, embeddings, viewport
):
    page = new_page(viewport=viewport)
    phases: list[str] = []
    page.on(
        "response",
        lambda r: phases.append(r.json()["indexing"]["phase"]) if r.url.endswith("/readyz") else 0,
    )
    port = free_port()
    # Another process writing keyword records holds the server's check back: the page
    # must not wait for it to hear that the index is complete.
    lexical_lock = index_locks(stamped.data_dir)[0]
    lexical_lock.acquire()
    try:
        with ServerThread(create_app(stamped, embeddings=embeddings), port):
            page.goto(f"http://127.0.0.1:{port}/")
            expect(page.locator("#status")).to_be_hidden()
            ask(page, FACTORING)
            expect(last_answer(page).locator(".ea-text")).to_contain_text("90%")
            lexical_lock.release()  # the check goes on, unseen
    finally:
        lexical_lock.release()
    assert phases and phases[-1] == "complete"
    assert set(phases) <= {"starting", "embedder", "complete"}, phases


def test_an_hs_question_is_asked_back_in_french_and_the_reply_narrows(new_page, live_server):
    """ "Ask, and narrow" as a French user types it: the page shows what separates the
    close codes in French, and the reply settles the code without a second question."""
    page = new_page()
    page.goto(live_server.url)
    ask(page, "Quel code SH pour des t-shirts ?")
    asked = last_answer(page).locator(".ea-text")
    expect(asked).to_contain_text("Ce qui les distingue : “De coton” / “D'autres matières")
    ask(page, "ils sont en coton")
    settled = last_answer(page).locator(".ea-text")
    expect(settled).not_to_contain_text("Ce qui les distingue")
    listed = [line for line in settled.inner_text().splitlines() if "(6109" in line]
    assert listed and "6109.10 (610910)" in listed[0]
    screenshot(page, "hs-ask-and-narrow-fr")
