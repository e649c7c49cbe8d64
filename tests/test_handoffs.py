"""Hand-offs and approved answers in the database, on SQLite and a real PostgreSQL: once
per question, the inbox's filters and order, replies waiting for the 24-hour window, the
report's figures; approved answers kept, edited and matched (by their words, without a
sentence model); conversations deleted by retention take their hand-offs along."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.answer import Answer
from assistant.approved import ApprovedAnswers
from assistant.conversations import Conversations, UnknownTurn
from assistant.handoffs import Handoffs, InboxFilter
from assistant.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow
COUNTRIES = PROJECT_ROOT / "corpus" / "country-codes" / "country-codes.csv"


def test_handoffs_on_each_backend(database_url):
    conversations = Conversations.from_url(database_url)
    handoffs = Handoffs(conversations.engine)
    web, phone = conversations.new_id(), conversations.new_id()
    conversations.add_turn(web, "Refused?", Answer(text="no", refused=True, language="fr"))
    conversations.add_turn(phone, "Answered?", Answer(text="yes", language="en"))
    first = handoffs.hand_off(web, 1, channel="web", email="me@example.org")
    assert first.created and first.record.reason == "refused" and first.record.language == "fr"
    again = handoffs.hand_off(web, 1, channel="web")
    assert not again.created and again.record.id == first.record.id
    with pytest.raises(UnknownTurn):
        handoffs.hand_off(web, 2, channel="web")
    other = handoffs.hand_off(phone, 1, channel="whatsapp", recipient="33600000001").record
    assert other.reason == "asked"

    total, rows = handoffs.inbox(InboxFilter(statuses=("new",), language="fr"), limit=10)
    assert total == 1 and rows[0].id == first.record.id
    total, rows = handoffs.inbox(InboxFilter(), limit=10)
    assert [r.id for r in rows] == [first.record.id, other.id]  # oldest first
    assert handoffs.inbox(InboxFilter(older_than=dt.timedelta(hours=1)), limit=10)[0] == 0

    handoffs.set_status(other.id, "assigned", "anna")
    reply = handoffs.add_reply(other.id, "Here.", [], "ben")
    handoffs.set_delivery(reply.id, "undelivered", detail="outside the window")
    assert [r.id for _, r in handoffs.waiting("whatsapp", "33600000001")] == [reply.id]
    record = handoffs.get(other.id)
    assert (record.status, record.assigned_to) == ("answered", "anna")
    assert handoffs.counts() == {"new": 1, "assigned": 0, "answered": 1, "closed": 0}
    now = dt.datetime.now(dt.UTC)
    stats = handoffs.stats(now - dt.timedelta(hours=1), now + dt.timedelta(hours=1))
    assert (stats.count, stats.unanswered, len(stats.waits)) == (2, 1, 1)

    # Retention deletes idle conversations: their hand-offs and replies go with them.
    assert conversations.delete_idle(now + dt.timedelta(days=1)) == 2
    assert handoffs.inbox(InboxFilter(), limit=10)[0] == 0
    assert handoffs.waiting("whatsapp", "33600000001") == []
    conversations.close()


def test_approved_answers_on_each_backend(database_url):
    conversations = Conversations.from_url(database_url)
    store = ApprovedAnswers(conversations.engine, lambda: None, COUNTRIES, 0.785)
    record = store.add(
        question="What is an EORI number?",
        paraphrases=["EORI number: what is it?"],
        texts={"en": "An identifier.", "fr": "Un identifiant."},
        citations=[],
        review_on=dt.date(2030, 1, 1),
        author="anna",
    )
    found = store.match("what is an  EORI number?")  # without a model: the same words
    assert found is not None and found.record.id == record.id
    store.record_use(record.id)
    store.update(record.id, "ben", retired=True)
    assert store.match("What is an EORI number?") is None
    (kept,) = store.all(retired=True)
    assert (kept.uses, kept.updated_by, kept.retired, kept.languages) == (
        1,
        "ben",
        True,
        ["en", "fr"],
    )
    assert store.all() == []
    conversations.close()
