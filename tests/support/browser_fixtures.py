"""The one Playwright browser of a test session: Debian's chromium, never a downloaded one.

A plugin (registered in tests/conftest.py) rather than a conftest, because two
sync_playwright instances cannot run in one thread: every folder shares this one.
When a test fails, every page it opened is photographed into test-artifacts/ and the
files are listed in the test's report ("screenshots").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Error, Page, expect, sync_playwright

from assistant.settings import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
_PAGES = pytest.StashKey[list[Page]]()


@pytest.fixture(scope="session")
def browser(pytestconfig: pytest.Config) -> Iterator[Browser]:
    # A busy machine only makes an expectation slower: ``expect`` waits as long as the
    # tests' hang guard lets a test run (it has no "no limit"), the pages' actions with
    # no limit at all (0, in ``new_page``).
    expect.set_options(timeout=float(pytestconfig.getini("timeout")) * 1000)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, request) -> Iterator:
    """``new_page(viewport=DESKTOP, locale="en-GB")``: a page in a fresh context
    (fresh storage); JavaScript errors fail the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []
    pages = request.node.stash.setdefault(_PAGES, [])

    def make(viewport: dict = DESKTOP, locale: str = "en-GB", **options) -> Page:
        context = browser.new_context(viewport=viewport, locale=locale, **options)
        context.set_default_timeout(0)  # no time limit on actions (see ``browser``)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        pages.append(page)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, errors


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """A failed test's pages, photographed while they are still open, listed in its report."""
    outcome = yield
    report = outcome.get_result()
    pages = item.stash.get(_PAGES, [])
    if report.when != "call" or not report.failed or not pages:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^\w.-]+", "-", item.nodeid.split("::", 1)[-1]).strip("-")
    shots = []
    for n, page in enumerate(pages, 1):
        path = ARTIFACTS / f"failed-{name}-{n}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
            shots.append(f"{path} ({page.url})")
        except Error as exc:  # a closed page or context: say so, keep the report
            shots.append(f"page {n} ({page.url}): no screenshot: {exc.message.splitlines()[0]}")
    report.sections.append(("screenshots", "\n".join(shots)))
