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
    topics = group(unanswered(history.engine, *period(), RULES).items, sentences.encode_passages, 0.5)
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
