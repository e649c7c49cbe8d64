"""A WhatsApp number over its budget: its messages are recorded, not answered, and it is
asked once per window, in its language, to wait; Meta still gets its 200."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import open_client
from tests.channels.conftest import deliver, new_wa_id, new_wamid, text_message
from tests.channels.test_twilio import form, post

pytestmark = pytest.mark.slow

QUESTIONS_FR = [
    "Quels documents faut-il pour exporter au Canada ?",
    "Comment déclarer une exportation ?",
    "Quelle est la valeur minimale pour une déclaration ?",
    "Combien de temps dois-je garder mes factures ?",
]
WAIT_FR = re.compile(r"Merci d'attendre (\d+) secondes avant le prochain\.")
WAIT_EN = re.compile(r"Please wait (\d+) seconds before sending the next one\.")


@pytest.fixture(scope="module")
def limited(channel_settings, embeddings, tmp_path_factory) -> Iterator[TestClient]:
    database = tmp_path_factory.mktemp("limited") / "limited.db"
    settings = channel_settings.model_copy(
        update={"whatsapp_rate_limit": "2/minute", "database_url": f"sqlite:///{database}"}
    )
    client = open_client(settings, embeddings)
    yield client
    client.__exit__(None, None, None)


def test_a_number_over_its_budget_is_recorded_and_asked_once_to_wait(limited, graph):
    wa_id = new_wa_id()
    wamids = [new_wamid() for _ in QUESTIONS_FR]
    for question, wamid in zip(QUESTIONS_FR, wamids, strict=True):
        deliver(limited, text_message(wa_id, question, wamid))  # 200 each time

    texts = [sent.text for sent in graph.sent_to(wa_id)]
    waits = [text for text in texts if WAIT_FR.search(text)]
    assert len(waits) == 1 and texts[-1] == waits[0], texts
    assert 1 <= int(WAIT_FR.search(waits[0]).group(1)) <= 60

    records = limited.app.state.phone_bridge.records
    rows = [records.message(wamid) for wamid in wamids]
    assert [row.state for row in rows] == ["answered", "answered", "limited", "limited"]
    assert [row.text for row in rows] == QUESTIONS_FR  # kept, though not answered
    chat = records.chat(wa_id)
    assert len(limited.app.state.conversations.get(chat.conversation_id).turns) == 2
    assert graph.problems == []

    other = new_wa_id()  # every number has its own budget
    deliver(limited, text_message(other, QUESTIONS_FR[0]))
    assert graph.sent_to(other) and not any(WAIT_FR.search(s.text) for s in graph.sent_to(other))


def test_a_twilio_sender_over_its_budget_gets_one_request_to_wait(limited):
    sender = new_wa_id()
    question = "Do I need to file EEI for exports to Canada?"
    responses = [post(limited, form(sender, question)) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    assert all("<Message>" in r.text and not WAIT_EN.search(r.text) for r in responses[:2])
    assert WAIT_EN.search(responses[2].text)
    assert responses[3].text == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
