"""Sentences of a passage, and whether a piece of text is a sentence worth quoting.

The extractive composer quotes source sentences word for word, so a cut at "U.S." or
"art. 5" puts half a sentence in an answer, and a "Link: …" line or a "38 FR 17447"
trailer quoted as a fact is noise. Each line of a passage (a list item is its own line)
is split by pySBD, a rule-based segmenter, after the periods it gets wrong in legal
text (``Art. 5``, ``Reg. No. 952``, ``§ 30.37(a) and (b)``) are hidden from it.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import pysbd

__all__ = [
    "MAX_SENTENCE",
    "MD_LINK",
    "Line",
    "is_sentence",
    "logical_lines",
    "split_line",
    "split_sentences",
    "trim",
]

MAX_SENTENCE = 450  # longer legal sentences are trimmed at a word, with " …"
MIN_SENTENCE = 25

# pySBD's languages; others (pt, …) are segmented with the English rules.
_PYSBD_LANGUAGES = frozenset(
    {"am", "ar", "bg", "da", "de", "el", "en", "es", "fa", "fr", "hi", "hy"}
    | {"it", "ja", "kk", "mr", "my", "nl", "pl", "ru", "sk", "ur", "zh"}
)

# Stand-ins that pySBD never splits at, put back after segmentation.
_DOT, _PAREN = "\ue000", "\ue001"
_UNMASK = str.maketrans({_DOT: ".", _PAREN: "("})

# Abbreviations that never end a sentence, whatever follows them.
_ALWAYS = re.compile(
    r"(?<![\w.])(?:(?i:e\.g|i\.e|viz|cf|c\.-à-d|p\.\s?ex|et\sseq|op\.\scit|loc\.\scit)|"
    r"Mr|Mrs|Ms|Messrs|Dr|Prof|St|M|MM|Mme|Mlle|Me|Reg|Regs|Pub|S\.E)\."
)
# Abbreviations that do not end a sentence when a number, "§", "(" or a lower-case word
# follows: "No. 952", "art. 8", "para. 1", "p. 17", "Jan. 26", "Pub. L. 100-690".
_BEFORE_NUMBER = re.compile(
    r"(?<![\w.])(?i:nos?|n|arts?|paras?|subparas?|al|pp?|secs?|ch|chap|vol|fig|stat|ed|éd|"
    r"approx|env|ca|nr|tit|ann|annex|sch|[a-z]|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|"
    r"dec|janv|févr|avr|juil|déc)\.(?=\s+[\d§(a-zà-ÿ])"
)
# "(a)", "(ii)", "(1)": references like "§ 30.37(a)" or "paragraphs (a) and (b)", which
# pySBD takes for the items of an inline list and splits before.
_ENUMERATOR = re.compile(r"\((?=(?:[a-z]{1,4}|[A-Z]|\d{1,3})\))")
# A line with no ".", "!" or "?" followed by more text is one sentence: pySBD is skipped.
_CANDIDATE = re.compile(r"[.!?…][)\]\"'»”’]*\s+\S")

# A list marker alone on its line ("a)", "(1)", "—", "e quater)"), as in EU texts.
_LONE_MARKER = re.compile(
    r"\(?\d{1,3}[a-z]?[.)]?|[—–-]|\(?(?:[a-z]{1,2}|[ivxlc]{1,6})"
    r"(?:\s(?:bis|ter|quater|quinquies|sexies|septies|octies|nonies|decies))?[.)]"
)
_ITEM_START = re.compile(r"(?:\(?(?:\d{1,3}|[a-z]{1,2}|[ivxlc]{1,6})[.)]|[—–•*-])\s")
_OPEN_END = re.compile(r"[\w,]$")  # a line that stops mid-sentence
_BULLET = re.compile(r"^(?:[-*>+](?:\s+|$)|•\s*)+")
_SPACES = re.compile(r"[ \t\u00a0]+")

_local = threading.local()


def _segmenter(language: str) -> pysbd.Segmenter:
    """One pySBD segmenter per language and thread: pySBD does not promise thread safety."""
    cache: dict[str, pysbd.Segmenter] | None = getattr(_local, "segmenters", None)
    if cache is None:
        cache = _local.segmenters = {}
    code = language.lower()[:2] if language else "en"
    code = code if code in _PYSBD_LANGUAGES else "en"
    if code not in cache:
        cache[code] = pysbd.Segmenter(language=code, clean=False)
    return cache[code]


def _mask(line: str) -> str:
    """Hide the periods of abbreviations and the "(" of enumerators from pySBD."""

    def dots(match: re.Match[str]) -> str:
        return match.group().replace(".", _DOT)

    line = _ALWAYS.sub(dots, line)
    line = _BEFORE_NUMBER.sub(dots, line)
    return _ENUMERATOR.sub(_PAREN, line)


def split_line(line: str, language: str) -> list[str]:
    """The sentences of one line, abbreviations and cross-references left whole."""
    if not _CANDIDATE.search(line):
        return [line]
    masked = _mask(line)
    # The processor alone: Segmenter.segment would then search each sentence back in
    # the text with one more regex per sentence, which doubles the time.
    pieces = _segmenter(language).processor(masked).process()
    # Should pySBD ever rewrite or lose text, the line is kept whole.
    if "".join(pieces).replace(" ", "") != masked.replace(" ", ""):
        return [line]
    return [p.strip().translate(_UNMASK) for p in pieces if p.strip()]


@dataclass(frozen=True)
class Line:
    """A logical line of a passage: ``item`` when it is a list item (bulleted or numbered)."""

    text: str
    item: bool = False


def logical_lines(text: str) -> list[Line]:
    """Logical lines: bullets dropped, lone list markers and wrapped lines joined."""
    lines: list[Line] = []
    pending = ""  # a list marker waiting for its item
    for raw in text.splitlines():
        raw = raw.strip()
        bulleted = bool(_BULLET.match(raw))
        line = _SPACES.sub(" ", _BULLET.sub("", raw)).strip()
        if not line:
            continue
        if _LONE_MARKER.fullmatch(line):
            pending = f"{pending} {line}".strip()
            continue
        if pending:
            lines.append(Line(f"{pending} {line}", item=True))
            pending = ""
            continue
        if (
            lines
            and line[0].islower()
            and not bulleted
            and not _ITEM_START.match(line)
            and not lines[-1].text.startswith(("#", "|"))
            and _OPEN_END.search(lines[-1].text)
        ):
            last = lines[-1]
            lines[-1] = Line(f"{last.text} {line}", last.item)  # a hard-wrapped sentence
            continue
        lines.append(Line(line, item=bulleted or bool(_ITEM_START.match(line))))
    if pending:
        lines.append(Line(pending, item=True))
    return lines


def trim(sentence: str) -> str:
    """Long legal sentences end at a word before MAX_SENTENCE characters, with " …"."""
    if len(sentence) <= MAX_SENTENCE:
        return sentence
    return sentence[:MAX_SENTENCE].rsplit(" ", 1)[0] + " …"


def split_sentences(text: str, language: str, *, keep_all: bool = False) -> list[str]:
    """The quotable sentences of a passage body, in order; ``keep_all`` keeps non-sentences."""
    out = []
    for line in logical_lines(text):
        for sentence in split_line(line.text, language):
            if keep_all or is_sentence(sentence, language):
                out.append(trim(sentence))
    return out


# --- what is not a sentence ------------------------------------------------------------

_LABEL_LINE = re.compile(
    r"[*_]*(?:links?|liens?|url|web ?site|site(?: web| internet)?|source|sources|authority|"
    r"autorité|contact|e-?mail|courriel|tel|tél|phone|téléphone|fax|valid from|valid to|"
    r"last updated|mis à jour(?: le)?|vérifié le)\s*:",
    re.IGNORECASE,
)
_URL = re.compile(r"<?(?:https?://|www\.)\S+>?")
MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")  # also links Markdown would not parse
_HEADING = re.compile(
    r"(?:article|art\.|section|sec\.|§+|chapter|chapitre|title|titre|part|partie|subpart|"
    r"sous-section|section|annex|annexe|livre|book|paragraphe|schedule|appendix|appendice|"
    r"protocol|protocole|regulation|règlement|directive)\s+"
    r"(?:[\dIVXLC]+[\w.()/-]*|premier|unique|first)\b",
    re.IGNORECASE,
)
_TITLED = re.compile(r"\S+\s+\S+\s*[—–:]")  # "Article 5 — …", "Chapitre II : …"
_CITATION = re.compile(
    r"\b\d+\s+FR\s+\d+|\bT\.D\.\s*\d|\bCBP Dec\.|\bOJ\s+[LC]\b|\bJO\s+[LC]\b|\bStat\.\s*\d"
)
_FURNITURE = re.compile(r"[▼►◄▲■□◆◇©]|\$[A-Za-z]\w*|\{\{|page \d+ (?:of|sur|/) \d+", re.IGNORECASE)
_MARKER = re.compile(r"^(?:\(?(?:\d{1,3}|[a-zA-Z]{1,2}|[ivxlcIVXLC]{1,6})[.)]\s*|[—–]\s*)+")
_FULL_STOP = re.compile(r"[.!?…][\"”’»)\]]*$")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")

# Common finite verbs and auxiliaries: a unit without any, and short, is a fragment
# ("lower your costs over time", "Directive 2001/4/EC (OJ L 22, 24.1.2001, p. 17)").
_VERB_WORDS = """
    is are was were be am isn't aren't wasn't weren't
    has have had hasn't haven't hadn't
    do does did don't doesn't didn't
    shall should will would may might must can cannot could won't can't couldn't
    shouldn't wouldn't mustn't needs
    apply applies include includes require requires means provide provides allow allows
    take takes took make makes give gives gave get gets pays becomes became remains
    consist consists contain contains refers
    see read find tell ask consult
    est sont était étaient sera seront serait seraient soient
    ont avait avaient aura auront aurait auraient ait aient
    peut peuvent pourra pourront pourrait pourraient puisse puissent
    doit doivent devra devront devrait devraient
    faut font fera feront va vont
    applique appliquent constitue constituent comprend comprennent concerne concernent
    permet permettent prévoit prévoient bénéficie bénéficient restent demeurent convient
    devient deviennent relève relèvent dispose disposent précisent désigne désignent
    entend entendent portent tient tiennent consultez contactez vérifiez
"""
_VERBS = frozenset(_VERB_WORDS.split())
# A subject pronoun is followed by a finite verb ("they sail", "lorsqu'elle parvient");
# French "a" (has) is a verb where English "a" is an article.
_SUBJECT_EN = re.compile(r"\b(?:it|he|she|they|we|you|who)\s+(?:not\s+|also\s+|\w+ly\s+)?(\w+)")
_SUBJECT_FR = re.compile(
    r"\b(?:il|elle|ils|elles|on|qui|celui-ci|celle-ci|ceux-ci|celles-ci)\s+(?:ne\s+|n['’])?"
    r"(?:(?:se|le|la|les|lui|leur|y|en)\s+|[sl]['’])*([^\W\d_]+)"
)
_FR_HAS = re.compile(r"\ba\s+(?:été|droit|lieu|[^\W\d_]+é(?:e|s|es)?)\b")
_NOT_VERB_WORDS = """
    and or to the a an in of for with at on by from as
    de du des la le les et ou à au aux en un une
"""
_NOT_VERBS = frozenset(_NOT_VERB_WORDS.split())


def _has_verb(text: str, language: str) -> bool:
    """Whether ``text`` holds a common finite verb or auxiliary, or a pronoun and its verb."""
    words = {w.lower().replace("’", "'") for w in _WORD.findall(text)}
    if words & _VERBS:
        return True
    lowered = text.lower()
    french = language.startswith("fr")
    cues = [_SUBJECT_FR] if french else [_SUBJECT_EN] if language else [_SUBJECT_EN, _SUBJECT_FR]
    for cue in cues:
        if any(m.group(1) not in _NOT_VERBS for m in cue.finditer(lowered)):
            return True
    return french and bool(_FR_HAS.search(lowered))


def is_sentence(text: str, language: str = "") -> bool:
    """False for links, citation trailers, headings, tables, furniture and verbless bits."""
    text = text.strip()
    if len(text) < MIN_SENTENCE or text.startswith(("#", "|")) or text.count(" | ") >= 2:
        return False
    if _LABEL_LINE.match(text) or _FURNITURE.search(text):
        return False
    # Links alone: what is left without URLs and Markdown links is not a sentence.
    bare = _URL.sub("", MD_LINK.sub("", text)).strip(" \t.,;:-–—()[]<>*_")
    if len(bare) < MIN_SENTENCE:
        return False
    text = MD_LINK.sub(r"\1", text)
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 0.5 * len(text):
        return False  # numbers and punctuation: codes, amounts, references
    upper = sum(c.isupper() for c in letters)
    if upper > 0.8 * len(letters):
        return False  # an all-capitals heading
    if text.startswith("[") and text.endswith("]"):
        return False  # "[38 FR 17447, July 2, 1973, as amended at …]"
    verb = _has_verb(text, language)
    words = len(_WORD.findall(text))
    if not verb and words < 8 * len(_CITATION.findall(text)):
        return False  # "73-175, 38 FR 17447", "T.D. 73-27, 38 FR 2449, Jan. 26, 1973, …"
    if _HEADING.match(text) and (not verb or (_TITLED.match(text) and not _FULL_STOP.search(text))):
        return False  # "Section 30.37 Miscellaneous exemptions.", "Article 9 — Who must pay"
    if verb:
        return True
    # Without a common verb, only what is shaped like a sentence: a capital first, a full
    # stop last, seven words at least ("The Colombian Congress passed the postal law …").
    body = _MARKER.sub("", text)
    return body[:1].isupper() and bool(_FULL_STOP.search(body)) and len(_WORD.findall(body)) >= 7
