"""Messages that are not questions for the sources: greetings, thanks, "who are you",
"help", and questions in a language the assistant does not answer. Each gets a short
reply of the assistant's own, in every channel, never a retrieval answer with citations.

Small talk is told by its words, not by a list of sentences: a short message made only
of the words of greetings, thanks, questions about the assistant and requests for help
(in the languages it answers), with at least one word that says which, and at most one
other word when it asks nothing ("Hello World", "Thanks Anna"). "Hello, what is an EORI
number?" has other words: it is a question, and is answered as one. A message with too
little in it to search for (one word or none besides filler, and no question mark:
"caption", "ok") gets the help reply, asking for a question in a sentence, rather than
whatever passages its one word happens to match.
"""

from __future__ import annotations

import re
import unicodedata

from assistant.answer import Answer
from assistant.language import SUPPORTED, message, translated, unsupported_language

__all__ = ["MAX_WORDS", "small_talk", "small_talk_kind"]

MAX_WORDS = 8

# kind -> the words that make a message of that kind, each with its language, folded as
# ``_words`` folds them (lower case, no accents or Arabic vowel marks: "شكراً" is "شكرا").
_KINDS: dict[str, dict[str, str]] = {
    "thanks": {
        **dict.fromkeys(("thanks", "thank", "thx", "ty", "cheers"), "en"),
        **dict.fromkeys(("merci", "remercie"), "fr"),
        **dict.fromkeys(("gracias",), "es"),
        **dict.fromkeys(("obrigado", "obrigada", "valeu"), "pt"),
        **dict.fromkeys(("شكرا",), "ar"),
    },
    "greeting": {
        **dict.fromkeys(("hi", "hello", "hey", "hiya", "greetings", "morning"), "en"),
        **dict.fromkeys(("afternoon", "evening"), "en"),
        **dict.fromkeys(("bonjour", "bonsoir", "salut", "coucou", "allo"), "fr"),
        **dict.fromkeys(("hola", "buenos", "buenas", "saludos"), "es"),
        **dict.fromkeys(("oi", "ola", "bom", "boa"), "pt"),
        **dict.fromkeys(("مرحبا", "اهلا", "السلام", "صباح", "مساء"), "ar"),
    },
    "identity": {
        **dict.fromkeys(("who", "you", "bot", "robot", "human", "assistant"), "en"),
        **dict.fromkeys(("qui", "vous", "tu", "toi", "humain"), "fr"),
        **dict.fromkeys(("quien", "usted", "eres", "asistente", "humano"), "es"),
        **dict.fromkeys(("quem", "voce", "assistente"), "pt"),
        **dict.fromkeys(("من", "انت"), "ar"),
    },
    "help": {
        **dict.fromkeys(("help", "start", "menu", "info"), "en"),
        **dict.fromkeys(("aide", "aider", "aidez", "aidez-moi", "aide-moi"), "fr"),
        **dict.fromkeys(("ayuda", "ayudar", "ayudame", "ayudarme"), "es"),
        **dict.fromkeys(("ajuda", "ajudar", "ajude"), "pt"),
        **dict.fromkeys(("مساعدة", "ساعدني"), "ar"),
    },
}
# Words that only go with the ones above ("good morning", "thank you very much", "what
# can you do", "est-ce que tu es un robot"), in any of the languages.
_WITH_WORDS = {
    "en": "good day there all everyone a an the so very much lot again and is are am i me my "
    "can could do does what how please ok okay nice to meet for your this that of",
    "fr": "est-ce bonne journee soir le la les un une est es etes ce que quoi peux pouvez faire "
    "fais beaucoup encore et de moi mon madame monsieur svp plait s il",
    "es": "dias tardes noches muchas mucho que es puedes puede hacer haces me mi el y por "
    "favor senor",
    "pt": "dia tarde noite muito muita e o os faz fazer pode podes me meu por",
    "ar": "الخير عليكم و ماذا يمكنك تفعل هل",
}
_WITH_BY_LANGUAGE = {language: set(words.split()) for language, words in _WITH_WORDS.items()}
_WITH = set().union(*_WITH_BY_LANGUAGE.values())
_QUESTION_MARKS = "?؟¿？"
_KIND_ORDER = ("thanks", "identity", "help", "greeting")  # which reply a mix of them gets


def _words(text: str) -> list[str]:
    """The message's words in lower case without accents (Arabic letters are kept)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.findall(r"\w+(?:-\w+)*", folded)


def small_talk_kind(text: str) -> tuple[str, str] | None:
    """(kind, language) of a message that is only small talk, or too little to search
    for ("vague"), else None."""
    words = _words(text)
    if len(words) > MAX_WORDS:
        return None
    asks = any(mark in text for mark in _QUESTION_MARKS)
    kinds: list[str] = []
    languages: dict[str, float] = {}
    others = 0  # words that are neither small talk nor filler
    for word in words:
        found = [kind for kind in _KIND_ORDER if word in _KINDS[kind]]
        if not found and word not in _WITH:
            others += 1
        for kind in found:
            kinds.append(kind)
            language = _KINDS[kind][word]
            languages[language] = languages.get(language, 0) + 1
        for language, filler in _WITH_BY_LANGUAGE.items():
            if not found and word in filler:  # filler tells a little ("what is": English)
                languages[language] = languages.get(language, 0) + 0.5
    if others > (0 if asks else 1):
        return None
    if not kinds and asks and words:
        return None  # "What is it?": a question, for the sources to answer or refuse
    kind = next((kind for kind in _KIND_ORDER if kind in kinds), "vague")
    language = max(languages, key=lambda lang: languages[lang]) if languages else "en"
    return kind, language


def _reply(kind: str, language: str) -> str:
    opener = message(f"smalltalk_{'help' if kind == 'vague' else kind}", language)
    intro, examples = message("smalltalk_intro", language), message("smalltalk_examples", language)
    return f"{opener} {intro}\n{examples}"


def _unsupported(language: str) -> str:
    """In ``language`` when a translation is shipped, else in English and French."""
    if translated("unsupported_language", language):
        return message("unsupported_language", language)
    return "\n\n".join(message("unsupported_language", lang) for lang in ("en", "fr"))


def small_talk(question: str) -> Answer | None:
    """The assistant's own reply to small talk or to a question in a language it does not
    answer; None for a question the sources should answer."""
    found = small_talk_kind(question)
    if found is not None and found[0] != "vague":
        return _small_talk_answer(*found)
    language = unsupported_language(question)
    if language is not None and language not in SUPPORTED:
        return Answer(
            text=_unsupported(language),
            refused=True,
            language=language,
            mode="unsupported-language",
        )
    return _small_talk_answer(*found) if found is not None else None


def _small_talk_answer(kind: str, language: str) -> Answer:
    return Answer(text=_reply(kind, language), language=language, mode="smalltalk")
