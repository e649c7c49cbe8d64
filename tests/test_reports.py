"""The report of unanswered questions on a seeded history (grouped by the real
multilingual sentence model), its CSV, and the freshness of sources."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from assistant.answer import Answer, Citation
from assistant.conversations import Conversations, TurnRecord, make_engine
from assistant.embeddings import make_embeddings
from assistant.handoffs import Handoffs
from assistant.reports import (
    EncodingCache,
    ReportRules,
    group,
    latest_date,
    report_csv,
    stale_sources,
    unanswered,
)

NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
LOW = 0.2
RULES = ReportRules(evidence_below=LOW)


def cite(source: str) -> Citation:
    return Citation(1, source, "T", "", "", "", "", "en", "snippet")


# (question, language, channel, refused, evidence, rating, hours ago, cited source)
HISTORY = [
    ("Do I need an EORI number to export to the UK?", "en", "web", True, 0.05, None, 50, ""),
    ("What documents does Japanese customs need?", "en", "web", False, 0.15, None, 40, "a.md"),
    (
        "Numéro EORI nécessaire pour exporter au Royaume-Uni ?",
        "fr",
        "whatsapp",
        True,
        0.04,
        None,
        30,
        "",
    ),
    ("Which documents for customs clearance in Japan?", "en", "whatsapp", True, 0.1, None, 20, ""),
    ("How do I get an EORI number?", "en", "web", False, 0.5, "down", 10, "b.md"),
    # Answered well: not in the report, but its citation counts for freshness.
    ("What is the VAT rate on books in France?", "en", "web", False, 0.6, "up", 5, "a.md"),
    # Refused, but before the period.
    ("Do I need an EORI number for Norway?", "en", "web", True, 0.05, None, 24 * 40, ""),
]


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Conversations:
    conversations = Conversations.from_url(
        f"sqlite:///{tmp_path_factory.mktemp('report') / 'history.db'}"
    )
    for question, language, channel, refused, evidence, rating, hours, source in HISTORY:
        answer = Answer(
            text="(refused)" if refused else f"An answer to: {question}",
            citations=[cite(source)] if source else [],
            refused=refused,
            language=language,
            evidence=evidence,
        )
        conversation = conversations.new_id()
        conversations.add_turn(conversation, question, answer, channel=channel)
        with Session(conversations.engine) as session, session.begin():
            session.execute(
                update(TurnRecord)
                .where(TurnRecord.conversation_id == conversation)
                .values(created_at=NOW - dt.timedelta(hours=hours))
            )
        if rating:
            conversations.set_feedback(conversation, 1, rating, f"{rating}: not what I asked")
    return conversations


@pytest.fixture(scope="module")
def sentences():
    return make_embeddings("use")


def period(days: int = 30) -> tuple[dt.datetime, dt.datetime]:
    return NOW - dt.timedelta(days=days), NOW


def test_unanswered_questions_are_refused_rated_down_or_weak_in_the_period(history):
    items = unanswered(history.engine, *period(), RULES).items
    assert [item.question for item in items] == [q for q, *_ in reversed(HISTORY[:5])]
    reasons = {item.question: item.reasons for item in items}
    assert reasons["How do I get an EORI number?"] == ["rated down"]
    assert reasons["What documents does Japanese customs need?"] == ["low evidence"]
    assert reasons["Do I need an EORI number to export to the UK?"] == ["refused"]
    down = next(item for item in items if item.reasons == ["rated down"])
    assert down.comment == "down: not what I asked"
    assert down.answer == "An answer to: How do I get an EORI number?"


def test_similar_questions_group_into_topics_across_languages(history, sentences):
    items = unanswered(history.engine, *period(), RULES).items
    topics = group(items, sentences.encode_passages, 0.5)
    assert [topic.count for topic in topics] == [3, 2]
    eori, japan = topics
    assert "EORI" in eori.label
    assert eori.languages == {"en": 2, "fr": 1}
    assert eori.channels == {"web": 2, "whatsapp": 1}
    assert eori.reasons == {"refused": 2, "rated down": 1}
    assert eori.examples[0] == "How do I get an EORI number?"  # newest first
    assert eori.newest == NOW - dt.timedelta(hours=10)
    assert {q.question for q in japan.questions} == {HISTORY[1][0], HISTORY[3][0]}
    assert japan.channels == {"whatsapp": 1, "web": 1}


def test_without_a_sentence_model_only_the_same_question_groups(history):
    items = unanswered(history.engine, *period(), RULES).items
    topics = group([*items, items[0]], None, 0.6)
    assert [topic.count for topic in topics] == [2, 1, 1, 1, 1]


def test_the_csv_has_one_row_per_question_and_no_formulas(history, sentences):
    items = unanswered(history.engine, *period(), RULES).items
    items[0].question = '=HYPERLINK("http://evil.example")'
    topics = group(items, sentences.encode_passages, 0.5)
    rows = list(csv.DictReader(io.StringIO(report_csv(topics))))
    assert len(rows) == 5
    assert rows[0]["question"].startswith("'=HYPERLINK")
    assert {row["channel"] for row in rows} == {"web", "whatsapp"}
    assert {row["topic"] for row in rows} == {str(t.n) for t in topics}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01", dt.date(2025, 1, 31)),
        ("2017-2018", dt.date(2018, 12, 31)),
        ("HS 2022 edition (data packaged 2024-10-25)", dt.date(2024, 10, 25)),
        ("eCFR as of January 2025 (not current)", dt.date(2025, 12, 31)),
        ("undated", None),
    ],
)
def test_latest_date_reads_free_form_dates(text, expected):
    assert latest_date(text) == expected


def test_stale_sources_are_listed_most_cited_first(history):
    documents = [
        ("corpus", "a.md", 3, {"title": "A", "date": "2018"}),
        ("uploads", "b.md", 1, {"title": "B", "date": "2015-06"}),
        ("corpus", "c.md", 2, {"title": "C", "date": "2026-06"}),
        ("corpus", "d.md", 2, {"title": "D", "date": ""}),
    ]
    stale = stale_sources(
        documents,
        history.engine,
        max_age_days=365,
        since=NOW - dt.timedelta(days=30),
        until=NOW,
        today=NOW.date(),
    )
    assert [(s.source, s.cited, s.uploaded) for s in stale] == [
        ("a.md", 2, False),
        ("b.md", 1, True),
    ]
    assert stale[0].age_days == (NOW.date() - dt.date(2018, 12, 31)).days


@pytest.mark.slow
def test_an_older_database_gets_the_new_columns(database_url):
    """``database_url``: SQLite and a real PostgreSQL (tests/support/postgres.py)."""
    url = database_url
    Conversations.from_url(url).close()
    # As before turns kept their channel, evidence, confidence and client.
    with make_engine(url).begin() as connection:
        for column in ("channel", "evidence", "confidence", "client"):
            connection.execute(text(f"ALTER TABLE turns DROP COLUMN {column}"))
    conversations = Conversations.from_url(url)
    answer = Answer(text="A", evidence=0.5, confidence=0.3)
    saved = conversations.add_turn(
        conversations.new_id(), "Q?", answer, channel="whatsapp", client="c1"
    )
    Handoffs(conversations.engine)  # the report reads hand-offs too
    today = dt.datetime.now(dt.UTC)
    findings = unanswered(conversations.engine, today - dt.timedelta(hours=1), today, RULES)
    (item,) = findings.items
    assert (item.conversation_id, item.channel, item.evidence, item.confidence) == (
        saved.conversation_id,
        "whatsapp",
        0.5,
        0.3,
    )
    assert item.reasons == ["low confidence"]


def test_one_client_or_conversation_cannot_fill_the_report(tmp_path):
    conversations = Conversations.from_url(f"sqlite:///{tmp_path / 'crowd.db'}")
    Handoffs(conversations.engine)
    refused = Answer(text="(refused)", refused=True)
    # A flood: 40 junk questions from one address, in 40 conversations...
    for i in range(40):
        conversations.add_turn(conversations.new_id(), f"junk {i}", refused, client="flooder")
    # ...10 in one conversation from another...
    chatty = conversations.new_id()
    for i in range(10):
        conversations.add_turn(chatty, f"again {i}", refused, client="chatty")
    # ...and three real users.
    for i in range(3):
        conversations.add_turn(conversations.new_id(), f"real {i}", refused, client=f"user{i}")
    today = dt.datetime.now(dt.UTC)
    rules = ReportRules(evidence_below=LOW, per_conversation=3, per_client=5)
    findings = unanswered(conversations.engine, today - dt.timedelta(hours=1), today, rules)
    questions = [item.question for item in findings.items]
    assert sum(q.startswith("junk") for q in questions) == 5  # the newest five
    assert [q for q in questions if q.startswith("again")] == ["again 9", "again 8", "again 7"]
    assert {q for q in questions if q.startswith("real")} == {"real 0", "real 1", "real 2"}
    assert findings.matched == 53 and len(findings.items) == 11


def test_handoffs_and_low_confidence_are_reasons_with_the_wait_for_a_reply(tmp_path):
    conversations = Conversations.from_url(f"sqlite:///{tmp_path / 'h.db'}")
    handoffs = Handoffs(conversations.engine)
    sure = conversations.new_id()
    conversations.add_turn(sure, "Sure?", Answer(text="A", evidence=0.9, confidence=0.9))
    unsure = conversations.new_id()
    conversations.add_turn(unsure, "Unsure?", Answer(text="A", evidence=0.9, confidence=0.2))
    asked = conversations.new_id()
    conversations.add_turn(asked, "Adviser?", Answer(text="A", evidence=0.9, confidence=0.9))
    handoff = handoffs.hand_off(asked, 1, channel="web").record
    handoffs.add_reply(handoff.id, "Here you are.", [], "anna")
    today = dt.datetime.now(dt.UTC)
    items = unanswered(conversations.engine, today - dt.timedelta(hours=1), today, RULES).items
    reasons = {item.question: item.reasons for item in items}
    assert reasons == {"Unsure?": ["low confidence"], "Adviser?": ["handed off"]}
    adviser = next(item for item in items if item.question == "Adviser?")
    assert adviser.handoff_status == "answered"
    assert 0 <= adviser.first_reply_seconds < 60
    stats = handoffs.stats(today - dt.timedelta(hours=1), today + dt.timedelta(hours=1))
    assert (stats.count, stats.statuses, stats.unanswered) == (1, {"answered": 1}, 0)


def test_the_encoding_cache_encodes_each_question_once(sentences):
    calls: list[list[str]] = []

    class Counting:
        name = sentences.name

        def encode_passages(self, texts):
            calls.append(list(texts))
            return sentences.encode_passages(texts)

    encode = EncodingCache(size=3).encoder(Counting())
    first = encode(["a b", "c d", "a b"])
    assert calls == [["a b", "c d"]]
    again = encode(["c d", "a b"])
    assert len(calls) == 1  # nothing new to encode
    assert abs(float(again[1] @ first[0]) - float(first[0] @ first[0])) < 1e-2
    encode(["e f", "g h"])  # pushes the least recently used ("c d") out of a cache of three
    encode(["a b"])
    assert calls[-1] == ["e f", "g h"]
    encode(["c d"])
    assert calls[-1] == ["c d"]
