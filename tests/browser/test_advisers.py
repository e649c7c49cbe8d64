"""Ask an adviser on a real server: the conversation's event stream brings a reply while
it is open, and in chromium a web user is handed off, staff reply on the helpdesk page,
and the user sees the reply in the same conversation, live."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from tests.support.app_fixtures import LiveServer, serving, wait_for

pytestmark = pytest.mark.slow

STAFF_KEY = "browser-desk-key"
REFUSED = "What are the customs office opening hours in Porto-Novo today?"


@pytest.fixture(scope="module")
def desk_server(sample_index, embeddings, tmp_path_factory) -> Iterator[LiveServer]:
    """The sample index served with its own database and a helpdesk key."""
    database = tmp_path_factory.mktemp("desk") / "desk.db"
    settings = sample_index.model_copy(
        update={
            "database_url": f"sqlite:///{database}",
            "helpdesk_api_keys": [SecretStr(f"anna:{STAFF_KEY}")],
            "desk_name": "the Export Desk",
        }
    )
    with serving(settings, embeddings) as server:
        yield server


def handed_off(http: httpx.Client, question: str) -> tuple[str, str]:
    """(conversation id, hand-off id) of a question asked and passed to the advisers."""
    asked = http.post("/api/chat", json={"message": question}).json()
    body = {"conversation_id": asked["conversation_id"], "turn": 1}
    handoff = http.post("/api/handoffs", json=body).json()["handoff"]
    return asked["conversation_id"], handoff["id"]


def test_the_event_stream_brings_a_reply_while_it_is_open(desk_server):
    with httpx.Client(base_url=desk_server.url, timeout=None) as http:
        conversation, handoff_id = handed_off(http, REFUSED)
        unknown = http.get("/api/conversations/0b7e4a9e-3d5c-4f7e-9a51-2f1d7c1f2a10/events")
        assert unknown.status_code == 404
        events: list[tuple[str, dict]] = []
        opened = threading.Event()

        def listen() -> None:
            with http.stream("GET", f"/api/conversations/{conversation}/events") as stream:
                opened.set()
                name = None
                for line in stream.iter_lines():
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        events.append((name, json.loads(line[5:])))
                        if name == "reply":
                            return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        wait_for(
            opened.is_set,
            "the event stream opened",
            fails=lambda: None if listener.is_alive() else "the listener ended",
        )
        reply = http.post(
            f"/api/helpdesk/handoffs/{handoff_id}/replies",
            json={"text": "The office opens at 8:00.", "citations": []},
            headers={"X-API-Key": STAFF_KEY},
        )
        assert reply.status_code == 201, reply.text
        listener.join()  # it returns at the reply event (the hang guard if none comes)
        data = next(data for name, data in events if name == "reply")
        assert data["text"] == "The office opens at 8:00." and data["turn"] == 1
        assert data["handoff"] == handoff_id
        seen = wait_for(
            lambda: (
                http.get(
                    f"/api/helpdesk/handoffs/{handoff_id}", headers={"X-API-Key": STAFF_KEY}
                ).json()["staff_replies"][0]["delivery"]["state"]
                == "seen"
            ),
            "the reply marked seen",
        )
        assert seen


def test_a_web_user_is_handed_off_and_sees_the_advisers_reply_live(new_page, desk_server):
    from playwright.sync_api import expect

    from tests.browser.test_page import ask, last_answer

    question = "What are the opening hours of the customs office in Parakou today?"
    user = new_page()
    user.goto(desk_server.url)
    ask(user, question)
    answer = last_answer(user)
    adviser = answer.get_by_role("button", name="Ask an adviser")
    expect(adviser).to_have_class("ea-adviser ea-prominent")  # under a refusal
    adviser.click()
    user.get_by_label("Your e-mail (optional): the reply goes there too").fill("me@example.org")
    user.get_by_role("button", name="Send to an adviser").click()
    told = user.locator(".ea-handoff .ea-told")
    expect(told).to_contain_text("passed to an adviser of the Export Desk")
    expect(answer.get_by_role("button", name="Sent to an adviser")).to_have_attribute(
        "aria-disabled", "true"
    )

    staff = new_page(base_url=desk_server.url)
    staff.goto("/helpdesk")
    staff.locator("#api-key").fill(STAFF_KEY)
    staff.locator("#api-key").press("Enter")
    staff.get_by_role("tab", name="Advisers").click()
    item = staff.locator("#inbox li", has_text=question)
    expect(item).to_contain_text("not answered")
    item.get_by_role("button", name="Open").click()
    expect(staff.locator("#handoff-conversation")).to_contain_text(question)
    staff.get_by_label("Find more passages").fill("invoice factoring")
    staff.locator("#cite-search").click()
    staff.locator("#cite-list li").first.get_by_role("checkbox").check()
    expect(staff.locator("#cite-list li").first).to_contain_text("[1]")
    staff.locator("#reply-text").fill("The Parakou office opens at 8:00; on factoring see [1].")
    staff.get_by_role("button", name="Send the reply").click()
    expect(staff.locator("#handoff-replies li").first).to_contain_text(
        "waiting for the user's page"
    )

    # The user's page, still open, gets it through the event stream.
    reply = user.locator(".ea-reply")
    expect(reply).to_contain_text("The Parakou office opens at 8:00")
    expect(reply.locator(".ea-cite")).to_have_text("[1]")
    expect(reply.locator(".ea-sources li")).to_have_count(1)
    # Coming back later, the reply is in the same conversation.
    user.reload()
    expect(user.locator(".ea-reply")).to_contain_text("The Parakou office opens at 8:00")
    staff.locator("#inbox-status").select_option("answered")
    staff.locator("#inbox-form").get_by_role("button", name="Show").click()
    expect(staff.locator("#inbox li", has_text=question)).to_contain_text("Answered")
