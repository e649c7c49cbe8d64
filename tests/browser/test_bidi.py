"""Bidirectional-override characters in people's text, in a real browser.

Before (issue 15): a question or comment with U+202E (RIGHT-TO-LEFT OVERRIDE) reversed
the text after it in the chat and in the helpdesk's review list; (issue 22) so did an
uploaded guide's title on citations and in the list of changes. Now such characters are
shown as U+FFFD (and stored so in titles), and every element with people's or documents'
text isolates it (``dir="auto"``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Locator, expect
from pydantic import SecretStr

from tests.browser.test_page import ask, last_answer
from tests.channels.test_helpdesk_documents import GUIDE, STAFF_KEY, guide_index
from tests.channels.test_helpdesk_documents import QUESTION as GUIDE_QUESTION
from tests.support.app_fixtures import serving

pytestmark = pytest.mark.slow

KEY = "bidi-helpdesk-key"
OVERRIDE = "\u202e"
QUESTION = f"How much of an invoice can I borrow with {OVERRIDE}gnirotcaf{OVERRIDE} invoice?"
COMMENT = f"Wrong for us {OVERRIDE}%09 ton{OVERRIDE} at all."


@pytest.fixture(scope="module")
def url(sample_index, embeddings) -> Iterator[str]:
    settings = sample_index.model_copy(update={"helpdesk_api_keys": [SecretStr(KEY)]})
    with serving(settings, embeddings) as live:
        yield live.url


def assert_isolated(node: Locator) -> None:
    expect(node).to_have_attribute("dir", "auto")
    text = node.text_content()
    assert OVERRIDE not in text and "\ufffd" in text, text
    assert node.evaluate("n => getComputedStyle(n).unicodeBidi") == "isolate"


def test_an_override_in_a_question_or_comment_reverses_nothing(new_page, url):
    page = new_page(base_url=url)
    page.goto("/")
    ask(page, QUESTION)
    last_answer(page)
    assert_isolated(page.locator(".ea-question p").last)
    recent = page.get_by_role("navigation").locator("button").first
    assert_isolated(recent)

    conversation = json.loads(page.evaluate("localStorage.getItem('ea.current')"))
    rating = {"conversation_id": conversation, "turn": 1, "rating": "down", "comment": COMMENT}
    assert httpx.post(f"{url}/api/feedback", json=rating, timeout=None).status_code == 201

    desk = new_page(base_url=url)
    desk.goto("/helpdesk")
    desk.fill("#api-key", KEY)
    desk.click("#key-form button")
    review = desk.locator("#reviews li").first
    assert_isolated(review.locator(".hd-question"))
    assert_isolated(review.locator("blockquote"))


@pytest.fixture(scope="module")
def desk_url(tmp_path_factory, embeddings) -> Iterator[str]:
    """A server over an index of its own: the test uploads a guide to it."""
    with serving(
        guide_index(tmp_path_factory.mktemp("bidi-titles"), embeddings), embeddings
    ) as live:
        yield live.url


def test_an_override_in_a_guides_title_reverses_nothing(new_page, desk_url):
    """Before (issue 22): a guide titled "x \\u202egnp.exe" showed as "ediug exe.png" on
    the chat's citations and in the helpdesk's list of changes."""
    title = f"Levies {OVERRIDE}gnp.exe"
    uploaded = httpx.post(
        f"{desk_url}/api/helpdesk/documents",
        files={"file": ("levies.md", GUIDE.encode())},
        data={"title": title, "publisher": f"Desk {OVERRIDE}lmth.x"},
        headers={"X-API-Key": STAFF_KEY},
        timeout=None,
    )
    assert uploaded.status_code == 202, uploaded.text
    (guide,) = uploaded.json()["uploaded"]
    assert guide["title"] == "Levies \ufffdgnp.exe", "stored as the pages show it"

    chat = new_page(base_url=desk_url)
    chat.goto("/")
    ask(chat, GUIDE_QUESTION)
    source = last_answer(chat).locator(".ea-sources a").first
    assert_isolated(source)
    source.click()
    assert_isolated(chat.locator(".ea-card h2"))
    assert_isolated(chat.locator(".ea-card dd").first)

    desk = new_page(base_url=desk_url)
    desk.goto("/helpdesk")
    desk.fill("#api-key", STAFF_KEY)
    desk.click("#key-form button")
    assert_isolated(desk.locator("#audit li").first)
    assert_isolated(desk.locator("#uploads h3").first)
