"""French, Spanish and Portuguese trade terms and country names get their English words
appended to the query, so that keyword search finds the English sources."""

from __future__ import annotations

from assistant.glossary import expand_query
from assistant.settings import PROJECT_ROOT

COUNTRIES = PROJECT_ROOT / "corpus" / "country-codes" / "country-codes.csv"


def test_english_questions_are_left_alone():
    assert expand_query("customs duties in Japan", "en", COUNTRIES) == "customs duties in Japan"


def test_known_terms_and_countries_add_their_english_words():
    question = "Quels droits de douane pour le Japon ?"
    expanded = expand_query(question, "fr", COUNTRIES)
    assert expanded.startswith(question)
    assert {"customs", "duties", "Japan"} <= set(expanded[len(question) :].split())
    spanish = expand_query("¿Qué aranceles pagan las exportaciones a Japón?", "es", COUNTRIES)
    assert spanish.endswith(" Japan")


def test_accents_do_not_matter():
    assert expand_query("délai de livraison", "es").endswith(" delivery deadline period time")
    assert expand_query("delai de livraison", "es").endswith(" delivery deadline period time")
