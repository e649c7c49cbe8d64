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
    assert message("refusal", "fr").startswith("Mes sources ne répondent pas")
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


@pytest.mark.parametrize(
    "text",
    [
        "si il faut une licence pr exporter du cacao ?",
        "slt c quoi le délai pour la tva",
        "c koi la tva sur les ventes en ligne",
        "y a combien de franchises en colombie, ca augmente?",
        "uk turquie y a un accord ?",
    ],
)
def test_casual_french_is_french(text):
    assert detect_language(text) == "fr"


def test_a_short_message_keeps_the_language_of_the_conversation():
    english = ["What documents do I need to export coffee to Brazil?"]
    french = ["Quels documents faut-il pour exporter du café au Brésil ?"]
    for short in ("ok merci", "Comment Text 4 2 0 0", "caption", "Hello World"):
        assert detect_language(short, earlier=english) == "en"
        assert detect_language(short, earlier=french) == "fr"
    # a full question in another language switches, whatever came before
    assert detect_language("Combien de jours pour se rétracter ?", earlier=english) == "fr"


def test_every_dev_question_is_detected_in_its_language():
    import json

    from assistant.settings import PROJECT_ROOT

    dev = PROJECT_ROOT.parent / "shared" / "eval" / "dev.jsonl"
    if not dev.is_file():
        pytest.skip("the shared dev set is not beside this checkout")
    rows = [json.loads(line) for line in dev.read_text(encoding="utf-8").splitlines() if line]
    wrong = [
        r["question"]
        for r in rows
        if detect_language(
            r["question"], earlier=[t["content"] for t in r["history"] if t["role"] == "user"]
        )
        != r["lang"]
    ]
    assert wrong == []
