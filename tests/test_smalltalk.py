"""Small talk and unanswered languages, told apart from questions by their words."""

from __future__ import annotations

import pytest

from assistant.language import SUPPORTED, translated, unsupported_language
from assistant.smalltalk import small_talk, small_talk_kind


@pytest.mark.parametrize(
    ("said", "kind", "language"),
    [
        ("Hi", "greeting", "en"),
        ("hello!", "greeting", "en"),
        ("Good afternoon", "greeting", "en"),
        ("Hey there, good morning", "greeting", "en"),
        ("Thanks a lot!", "thanks", "en"),
        ("thank you very much", "thanks", "en"),
        ("Who are you?", "identity", "en"),
        ("What can you do?", "identity", "en"),
        ("Are you a bot?", "identity", "en"),
        ("help", "help", "en"),
        ("Bonjour", "greeting", "fr"),
        ("Bonsoir madame", "greeting", "fr"),
        ("Merci beaucoup !", "thanks", "fr"),
        ("Est-ce que tu es un robot ?", "identity", "fr"),
        ("aide", "help", "fr"),
        ("¡Hola! Buenos días", "greeting", "es"),
        ("Muchas gracias", "thanks", "es"),
        ("¿Quién eres?", "identity", "es"),
        ("Olá, bom dia", "greeting", "pt"),
        ("Muito obrigada", "thanks", "pt"),
        ("ajuda", "help", "pt"),
        ("مرحبا", "greeting", "ar"),
        ("شكرا", "thanks", "ar"),
        ("شكراً", "thanks", "ar"),
        ("أهلا", "greeting", "ar"),
        ("من أنت؟", "identity", "ar"),
    ],
)
def test_small_talk_is_told_by_its_words(said, kind, language):
    assert small_talk_kind(said) == (kind, language)
    answer = small_talk(said)
    assert answer is not None and answer.mode == "smalltalk" and answer.language == language
    assert answer.citations == [] and not answer.refused
    _, *examples = answer.text.splitlines()
    assert len(examples) == 3 and all(e.rstrip().endswith(("?", "؟")) for e in examples)


@pytest.mark.parametrize(
    "question",
    [
        "Hello, what is an EORI number?",
        "hi there, do I need an EORI?",
        "Thanks! And which documents do I need to export wine to Canada?",
        "Who pays the import VAT on goods sent to France?",
        "Can you help me classify wooden chairs?",
        "Bonjour, quel est le taux de TVA à l'export ?",
        "Hola, ¿necesito una licencia para exportar vino?",
        "Hello EORI?",  # it asks: the sources answer or refuse
        "VAT rates",  # two words to search for
        "Hi " * 9,  # greetings, but too many words for small talk
    ],
)
def test_questions_with_greeting_words_are_still_questions(question):
    assert small_talk_kind(question) is None
    assert small_talk(question) is None


@pytest.mark.parametrize(
    ("said", "kind"),
    [
        ("Hello World", "greeting"),
        ("Thanks Anna!", "thanks"),
        ("caption", "vague"),
        ("ok", "vague"),
        ("👍", "vague"),
        ("what is", "vague"),
        ("EORI", "vague"),
    ],
)
def test_a_greeting_with_one_more_word_or_too_little_to_search_is_not_searched(said, kind):
    """Before (issue 22): "Hello World" and "caption" were answered with whatever cited
    passages their word matched. A greeting keeps its reply; a message with one word to
    search for, or none, and no question mark gets the help reply."""
    assert small_talk_kind(said) == (kind, "en")
    answer = small_talk(said)
    assert answer is not None and answer.mode == "smalltalk" and answer.citations == []
    if kind == "vague":
        assert answer.text.startswith("Type your question in a sentence")


@pytest.mark.parametrize(
    ("question", "language", "starts"),
    [
        ("Какие документы нужны для экспорта в Канаду?", "ru", "Я могу отвечать только"),
        ("Welche Dokumente brauche ich für den Export nach Kanada?", "de", "Ich kann nur"),
        ("Quali documenti servono per esportare in Canada?", "it", "Posso rispondere solo"),
        ("出口到加拿大需要什么文件？", "zh", "我只能用英语"),
    ],
)
def test_an_unanswered_language_is_told_the_languages_in_its_own(question, language, starts):
    answer = small_talk(question)
    assert answer is not None and answer.mode == "unsupported-language" and answer.refused
    assert answer.language == language and answer.text.startswith(starts)


def test_without_a_shipped_translation_the_reply_is_in_english_and_french():
    answer = small_talk("Ποια έγγραφα χρειάζομαι για εξαγωγή στον Καναδά;")
    assert answer is not None and answer.language == "el"
    english, french = answer.text.split("\n\n")
    assert english.startswith("I can only answer in English, French")
    assert french.startswith("Je ne peux répondre qu'en anglais, français")


@pytest.mark.parametrize(
    "question",
    [
        "Do I need to file EEI for exports to Canada?",
        "What is the HS code for wooden bedroom furniture?",
        "Quelles formalités de dédouanement pour exporter hors de l'UE ?",
        "¿Cuánto puedo pedir prestado con el factoring de una factura?",
        "Que documentos preciso para exportar para os Estados Unidos?",
        "ما هو رمز النظام المنسق لأثاث غرف النوم الخشبي؟",
        "How do goods come into the EU per consignment?",
    ],
)
def test_answered_languages_are_not_refused(question):
    assert unsupported_language(question) is None
    assert small_talk(question) is None


@pytest.mark.parametrize(
    "key",
    [
        "smalltalk_greeting",
        "smalltalk_thanks",
        "smalltalk_identity",
        "smalltalk_help",
        "smalltalk_intro",
        "smalltalk_examples",
    ],
)
def test_small_talk_is_written_in_every_answered_language(key):
    assert all(translated(key, language) for language in SUPPORTED)
