"""The answer pipeline end to end on a small real index (offline, extractive mode)."""

from __future__ import annotations

import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from assistant.language import message
from assistant.pipeline import Assistant, Turn, merge_history
from assistant.retrieval import Retriever
from assistant.store import chroma_client, vector_store


@pytest.fixture(scope="module")
def built(sample_index):
    """The session's index of the sample corpus (see tests/support/app_fixtures.py)."""
    return sample_index


@pytest.fixture
def assistant(built, embeddings) -> Assistant:
    store = vector_store(chroma_client(built), built.collection, embeddings)
    bot = Assistant.from_settings(built, store=store)
    bot.today = lambda: dt.date(2026, 11, 27)
    return bot


def claims(text: str) -> list[str]:
    """The sentences of an answer that carry a citation marker, without the marker."""
    return [
        re.sub(r"\s*\[\d+\]$", "", line)
        for line in text.splitlines()
        if re.search(r"\[\d+\]$", line)
    ]


def test_english_answer_cites_the_right_source_and_invents_nothing(assistant):
    answer = assistant.answer("How much of an invoice can I borrow with invoice factoring?")
    assert not answer.refused and answer.language == "en"
    assert answer.text.startswith("Here is what the sources say:")
    assert answer.citations[0].source == "guides/borrow-against-assets.md"
    assert "90%" in answer.text
    cited = {c.n for c in answer.citations}
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)} == cited
    for claim in claims(answer.text):
        assert any(
            claim.replace(" …", "") in c.snippet or claim in c.snippet for c in answer.citations
        )
    first = answer.citations[0]
    assert first.title == "Borrow against assets" and first.section == "Borrow against invoices"
    assert first.publisher and first.date == "2018" and first.url == "https://example.org/guides"


def test_french_question_gets_a_french_lead_in_and_a_cited_answer(assistant):
    answer = assistant.answer("Combien de jours le consommateur a-t-il pour se rétracter ?")
    assert answer.language == "fr" and not answer.refused
    assert answer.text.startswith("Voici ce que disent les sources")
    assert any(c.source.startswith("regs/consumer-rights") for c in answer.citations)
    assert "14 days" in answer.text or "quatorze jours" in answer.text


@pytest.mark.parametrize(
    ("question", "language", "reason"),
    [
        ("What will the weather be like in Lisbon tomorrow afternoon?", "en", "out_of_scope"),
        ("Quel temps fera-t-il demain après-midi à Lisbonne ?", "fr", "refusal"),
        ("¿Qué tiempo hará mañana por la tarde en Lisboa?", "es", "refusal"),
    ],
)
def test_unrelated_questions_are_refused_in_the_users_language(
    assistant, question, language, reason
):
    """Live data asked for in words the scope check knows ("weather") is refused
    before any search; otherwise the confidence refuses, naming the closest sources."""
    answer = assistant.answer(question)
    assert answer.refused and answer.mode == "refusal"
    assert answer.language == language and answer.text.startswith(message(reason, language))
    assert answer.text.endswith(message("ask_adviser", language))
    if reason == "out_of_scope":
        assert answer.citations == [] and answer.confidence is None
    else:
        assert answer.confidence < assistant.settings.refusal_threshold
        assert all(c.snippet == "" for c in answer.citations)


def test_hs_code_lookup(assistant):
    answer = assistant.answer("What's the HS code for frozen shrimp?")
    assert answer.mode == "hs-lookup"
    first_line = next(line for line in answer.text.splitlines() if line.startswith("- "))
    assert "030617" in first_line
    assert answer.citations[0].source == "hs-nomenclature/harmonized-system.csv"
    assert "030617" in answer.citations[0].snippet


def test_follow_up_uses_the_conversation(assistant):
    history = [
        Turn("user", "What's the HS code for wooden bedroom furniture?"),
        Turn("assistant", "Wooden bedroom furniture is 9403.50 (940350) [1]"),
    ]
    answer = assistant.answer("and for kitchens?", history)
    first_line = next(line for line in answer.text.splitlines() if line.startswith("- "))
    assert "940340" in first_line


def test_merge_history_only_for_follow_ups():
    history = [Turn("user", "HS code for bedroom furniture?")]
    assert merge_history("and for kitchens?", history).startswith("HS code for bedroom furniture?")
    long_question = "How long must an importer in Colombia keep the import documents and records?"
    assert merge_history(long_question, history) == long_question
    assert merge_history("and for kitchens?", []) == "and for kitchens?"


def test_old_sources_are_flagged_with_their_date(assistant):
    answer = assistant.answer("How much of an invoice can I borrow with invoice factoring?")
    assert any("(2018)" in notice and "out of date" in notice for notice in answer.notices)


def test_filters_restrict_the_sources(assistant):
    answer = assistant.answer("letters of credit and payment", filters={"jurisdiction": "UK"})
    assert answer.citations and all(c.source.startswith("guides/") for c in answer.citations)


def test_lexical_only_mode_still_answers_and_says_so(built):
    bot = Assistant.from_settings(built, store=None)
    answer = bot.answer("How much of an invoice can I borrow with invoice factoring?")
    assert answer.lexical_only and not answer.refused
    assert "90%" in answer.text
    assert any("keyword search only" in notice for notice in answer.notices)


def test_stream_yields_deltas_then_citations_then_done(assistant):
    events = list(assistant.stream("How much of an invoice can I borrow with invoice factoring?"))
    kinds = [e.kind for e in events]
    assert kinds[-2:] == ["citations", "done"] and set(kinds[:-2]) == {"delta"}
    assert "".join(e.data for e in events[:-2]) == events[-1].data.text


def test_passages_with_nothing_quotable_are_refused_not_answered_empty(assistant):
    """A table row or a heading is no answer: with no sentence to quote, refuse."""

    class TablesOnly(Retriever):
        def pool(self, query, *, filters=None, timings=None):
            found = super().pool(query, filters=filters, timings=timings)
            return [replace(p, text="## Borrow against invoices\n| a | b |") for p in found]

    retriever = assistant.retriever
    tables = TablesOnly(retriever.lexical, retriever.store, k=retriever.k)
    answer = replace(assistant, retriever=tables).answer("How much of an invoice can I borrow?")
    assert answer.refused and answer.confidence is not None
    # the closest sources are listed as "may help", quoting nothing of theirs
    assert answer.citations and all(c.snippet == "" for c in answer.citations)
    assert message("may_help", "en") in answer.text


def test_each_answer_carries_its_own_trace_under_concurrent_questions(assistant):
    """Timings and passages come back with the answer: nothing of a request is left on the
    shared assistant or retriever for another request to read."""
    questions = [
        "How much of an invoice can I borrow with invoice factoring?",
        "Combien de jours le consommateur a-t-il pour se rétracter ?",
    ] * 3
    alone = {q: assistant.answer(q).trace.passages for q in set(questions)}
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(assistant.answer, questions))
    for question, answer in zip(questions, answers, strict=True):
        assert answer.trace.passages == alone[question]
        assert answer.trace.timings.lexical > 0 and answer.trace.timings.fusion > 0
    assert alone[questions[0]] != alone[questions[1]]
    assert not hasattr(assistant.retriever, "last_timings")
