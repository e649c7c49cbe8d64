"""Language detection on short questions, and cross-language query expansion."""

from __future__ import annotations

import pytest

from assistant.glossary import expand_query
from assistant.language import detect_language, message
from tests.conftest import DATA


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("hs code for lithium ion batteries?", "en"),
        ("What's the fine if our EEI gets filed late?", "en"),
        ("Quel code SH pour des sacs à main en cuir ?", "fr"),
        ("Combien de jours mon client a-t-il pour se rétracter ?", "fr"),
        ("¿Cuánto cuesta una carta de crédito confirmada?", "es"),
        ("Qual é o código para exportar café não torrado?", "pt"),
        ("ما هو رمز النظام المنسق للتمور؟", "ar"),
    ],
)
def test_detects_the_language_of_short_questions(text, language):
    assert detect_language(text) == language


def test_messages_fall_back_to_english():
    assert message("refusal", "fr").startswith("Je ne trouve pas")
    assert message("refusal", "de") == message("refusal", "en")


def test_french_terms_and_country_names_gain_their_english_words():
    expanded = expand_query(
        "Mon importateur au Viet Nam doit conserver les documents combien de temps ?",
        "fr",
        DATA / "country-sample.csv",
    )
    assert expanded.startswith("Mon importateur au Viet Nam")
    for english in ("importer", "Vietnam", "keep", "documents"):
        assert english in expanded


def test_multiword_terms_win_over_their_words():
    expanded = expand_query("Quelle extension de nom de domaine choisir ?", "fr")
    assert "domain name" in expanded


def test_english_questions_are_left_alone():
    question = "How long must my importer keep the documents?"
    assert expand_query(question, "en") == question
