"""The widget on a page of another site (another origin), allowed by CORS, and refused
where it is not."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, StaticSite, screenshot
from tests.support.axe import check_accessibility
from tests.support.browser_fixtures import DESKTOP
from tests.support.keyboard import unreachable_by_tab

pytestmark = pytest.mark.slow

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Exports</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: Georgia, serif"><h1>Acme Exports Ltd</h1><p>Our shop.</p>
<script src="{app}/widget.js" data-position="{position}" data-lang="fr"
        data-title="Questions export ?" async></script>
</body></html>
"""


def host_site(tmp_path, app_url: str, port: int | None = None, position: str = "left"):
    folder = tmp_path / f"site-{port}"
    folder.mkdir()
    (folder / "index.html").write_text(HOST_PAGE.format(app=app_url, position=position))
    return StaticSite(folder, port)


@pytest.fixture
def shop(tmp_path, live_server, other_origin) -> Iterator[StaticSite]:
    """A site on the origin the live server allows."""
    port = int(other_origin.rsplit(":", 1)[1])
    with host_site(tmp_path, live_server.url, port) as site:
        yield site


def test_the_widget_chats_from_another_site(new_page, shop, live_server):
    page = new_page()
    page.goto(shop.url)
    bubble = page.get_by_role("button", name="Ouvrir l'assistant export")
    expect(bubble).to_be_visible()
    assert bubble.bounding_box()["x"] < 200, "data-position=left"
    bubble.click()
    panel = page.get_by_role("dialog", name="Questions export ?")
    expect(panel).to_be_visible()
    expect(bubble).to_have_attribute("aria-expanded", "true")

    question = panel.get_by_label("Votre question")
    question.fill("Combien de jours le consommateur a-t-il pour se rétracter ?")
    question.press("Enter")
    answer = panel.locator(".ea-answer").last
    expect(answer).to_have_attribute("aria-busy", "false")
    expect(answer.locator(".ea-text")).to_contain_text("Voici ce que disent les sources")
    screenshot(page, "widget-desktop")

    answer.locator(".ea-cite").first.click()
    card = panel.locator(".ea-card")
    expect(card).to_be_visible()
    expect(card.locator("blockquote")).not_to_be_empty()
    passage = card.get_by_role("link", name="Lire le passage en entier").get_attribute("href")
    assert passage.startswith(f"{live_server.url}/api/sources/")
    screenshot(page, "widget-citation")

    page.reload()
    page.get_by_role("button", name="Ouvrir l'assistant export").click()
    expect(page.locator(".ea-question")).to_have_count(1)


def test_the_widget_on_a_phone(new_page, shop):
    page = new_page(viewport=PHONE, has_touch=True, is_mobile=True)
    page.goto(shop.url)
    page.get_by_role("button", name="Ouvrir l'assistant export").click()
    panel = page.get_by_role("dialog", name="Questions export ?")
    box = panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    question = panel.get_by_label("Votre question")
    question.fill("Combien de jours le consommateur a-t-il pour se rétracter ?")
    question.press("Enter")
    answer = panel.locator(".ea-answer").last
    expect(answer).to_have_attribute("aria-busy", "false")
    expect(answer.locator(".ea-cite").first).to_be_visible()
    screenshot(page, "widget-phone")
    panel.get_by_role("button", name="Fermer l'assistant export").click()
    expect(panel).to_be_hidden()


def test_a_site_that_is_not_allowed_gets_a_clear_message(new_page, tmp_path, live_server):
    with host_site(tmp_path, live_server.url, position="right") as stranger:
        page = new_page()
        page.goto(stranger.url)
        bubble = page.get_by_role("button", name="Ouvrir l'assistant export")
        assert bubble.bounding_box()["x"] > 1000, "data-position=right"
        bubble.click()
        question = page.get_by_label("Votre question")
        question.fill("Combien de jours pour se rétracter ?")
        question.press("Enter")
        expect(page.get_by_role("alert")).to_contain_text("Impossible de joindre le serveur")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "360px"])
def test_the_widget_is_accessible_and_works_by_keyboard(new_page, shop, viewport):
    phone = viewport is PHONE
    page = new_page(viewport=viewport, has_touch=phone, is_mobile=phone)
    page.goto(shop.url)
    bubble = page.get_by_role("button", name="Ouvrir l'assistant export")
    bubble.focus()
    page.keyboard.press("Enter")
    panel = page.get_by_role("dialog", name="Questions export ?")
    question = panel.get_by_label("Votre question")
    expect(question).to_be_focused()
    page.keyboard.type("Combien de jours le consommateur a-t-il pour se rétracter ?")
    page.keyboard.press("Enter")
    answer = panel.locator(".ea-answer").last
    expect(answer).to_have_attribute("aria-busy", "false")
    expect(question).to_be_focused()
    status = panel.locator(".ea-chat > [role=status]")
    expect(status).to_have_text(re.compile(r"^Assistant : Voici ce que disent les sources"))
    assert unobscured(answer.locator(".ea-text p").first, panel.locator(".ea-log"))
    check_accessibility(page, f"the widget with an answer at {viewport['width']} px")
    assert unreachable_by_tab(page) == []

    cite = answer.locator(".ea-cite").first
    cite.focus()
    page.keyboard.press("Enter")
    card = panel.locator(".ea-card")
    expect(card).to_be_focused()
    check_accessibility(page, f"the widget's citation card at {viewport['width']} px")
    page.keyboard.press("Escape")
    expect(cite).to_be_focused()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(bubble).to_be_focused()


def unobscured(locator, scroller) -> bool:
    """Whether ``locator``'s box lies within the visible part of ``scroller``."""
    box, view = locator.bounding_box(), scroller.bounding_box()
    return box["y"] >= view["y"] - 1 and box["y"] + box["height"] <= view["y"] + view["height"] + 1
