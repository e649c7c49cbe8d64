"""The helpdesk page's guides in Debian's chromium: upload a 20-page PDF, the web chat
answers from it with a citation (the time this takes is printed), replace
it, delete it (refused again); the report of unanswered questions opens a topic."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from assistant.api import create_app
from bench.upload import QUESTION, handbook
from tests.browser.conftest import screenshot
from tests.browser.test_page import ask, last_answer
from tests.channels.test_helpdesk_documents import STAFF_KEY, guide_index
from tests.support.app_fixtures import ServerThread, wait_for, wait_indexed
from tests.support.servers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def desk_url(tmp_path_factory, embeddings) -> Iterator[str]:
    settings = guide_index(tmp_path_factory.mktemp("guides-page"), embeddings)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with ServerThread(create_app(settings, embeddings=embeddings), port):
        with httpx.Client(base_url=url, timeout=None) as client:
            wait_indexed(client)
        yield url


def open_desk(new_page, url: str) -> Page:
    page = new_page(base_url=url)
    page.goto("/helpdesk")
    page.fill("#api-key", STAFF_KEY)
    page.click("#key-form button")
    expect(page.locator("#desk")).to_be_visible()
    page.get_by_role("tab", name="Your guides").click()
    return page


def chat_answer(chat: Page):
    chat.goto("/")
    ask(chat, QUESTION)
    return last_answer(chat)


def test_upload_ask_replace_delete_in_the_browser(new_page, desk_url, tmp_path):
    desk = open_desk(new_page, desk_url)
    chat = new_page(base_url=desk_url)
    expect(chat_answer(chat).locator(".ea-text")).to_contain_text("My sources do not answer")

    desk.set_input_files("#upload-file", str(handbook(tmp_path / "handbook.pdf", "7 percent")))
    desk.fill("#upload-form [name=date]", "2026-03")
    started = time.monotonic()
    desk.click("#upload-form button[type=submit]")
    guide = desk.locator("#uploads li").first
    expect(guide.locator("h3")).to_have_text("Quokkaland export handbook")
    expect(guide).to_contain_text("added by anna")
    # Keyword search has it at once; the chat answers with a citation.
    answer = wait_for(
        lambda: "7 percent" in (a := chat_answer(chat)).locator(".ea-text").inner_text() and a,
        "a cited answer",
    )
    cited = time.monotonic() - started
    expect(answer.locator(".ea-text")).to_contain_text("7 percent")
    expect(answer.locator(".ea-sources li").first).to_contain_text("Quokkaland export handbook")
    expect(guide.locator(".hd-status")).to_have_text("Ready")
    ready = time.monotonic() - started
    screenshot(desk, "helpdesk-guides")
    print(
        f"\n20-page PDF: cited in the web chat {cited:.1f} s after upload; embedded {ready:.1f} s"
    )

    (tmp_path / "v2").mkdir()
    replacement = handbook(tmp_path / "v2" / "handbook.pdf", "9 percent")
    with desk.expect_response(re.compile(r"/api/helpdesk/documents/\w+$")):
        guide.get_by_role("button", name="Replace… “Quokkaland export handbook”").click()
        desk.set_input_files("#replace-file", str(replacement))
    expect(guide).to_contain_text("version 2")
    expect(guide.locator(".hd-status")).to_have_text("Ready")
    answer = chat_answer(chat)
    expect(answer.locator(".ea-text")).to_contain_text("9 percent")
    expect(answer.locator(".ea-text")).not_to_contain_text("7 percent")

    desk.once("dialog", lambda dialog: dialog.accept())
    guide.get_by_role("button", name="Delete “Quokkaland export handbook”").click()
    expect(desk.locator("#no-uploads")).to_be_visible()
    expect(chat_answer(chat).locator(".ea-text")).to_contain_text("My sources do not answer")
    changes = desk.locator("#audit li")
    expect(changes).to_have_count(3)
    expect(changes.first).to_contain_text("anna · delete")

    # The refused questions are in the report; a topic opens on its questions and answers.
    desk.get_by_role("tab", name="Report").click()
    desk.click("#report-form button[type=submit]")
    topic = desk.locator("#report-topics li.hd-result").filter(has_text="Zorbian").first
    expect(topic).to_contain_text("web")
    topic.locator("summary").click()
    expect(topic.locator(".hd-question").first).to_have_text(QUESTION)
    expect(topic.locator(".hd-answer").first).to_contain_text("My sources do not answer")
    screenshot(desk, "helpdesk-report")
    with desk.expect_download() as download:
        desk.click("#report-csv")
    assert QUESTION in Path(download.value.path()).read_text(encoding="utf-8")


def test_a_refused_upload_shows_its_reason(new_page, desk_url, tmp_path):
    desk = open_desk(new_page, desk_url)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not a real pdf")
    desk.set_input_files("#upload-file", str(broken))
    desk.click("#upload-form button[type=submit]")
    expect(desk.locator("#upload-result")).to_contain_text("broken.pdf: corrupt or unreadable PDF")
    expect(desk.locator("#upload-limits")).to_contain_text("3 files in a ZIP")
