"""A question understood once: language, the follow-up merged with the question before,
the English words of its French terms, its intent, what it asks for."""

from __future__ import annotations

from assistant.embeddings import make_embeddings
from assistant.query import Turn, understand


def test_a_follow_up_is_searched_with_the_question_before():
    history = [
        Turn("user", "What documents do I need to export coffee to Brazil?"),
        Turn("assistant", "A commercial invoice … [1]"),
    ]
    query = understand("and to Colombia?", history)
    assert query.follow_up and query.language == "en"
    assert query.retrieval.startswith("What documents do I need to export coffee to Brazil?")
    assert query.text == "and to Colombia?" and query.current == "and to Colombia?"


def test_french_terms_gain_their_english_words_and_the_language_sticks(tmp_path):
    query = understand("Quel est le délai pour un certificat d'origine ?")
    assert query.language == "fr" and "certificate of origin" in query.expanded
    assert query.wants_quantity  # "délai" asks for a duration
    short = understand("ok merci", [Turn("user", "Quel est le délai de rétractation ?")])
    assert short.language == "fr"


def test_intents():
    assert understand("What's the exchange rate today?").intent == "out-of-scope"
    assert understand("What is the HS code for frozen shrimp?").intent == "hs-code"
    assert understand("Who pays the duties under DDP?").intent == "question"


def test_the_query_is_embedded_once_per_model():
    model = make_embeddings("use")
    query = understand("How long must I keep export records?")
    first = query.vector(model)
    assert query.vector(model) is first and first.shape == (model.dim,)
