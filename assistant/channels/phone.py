"""An answer written for a phone on a slow connection.

The essential answer comes first and short (``first_chars``, about 1,000 characters),
with the sources after it as a numbered list (title, date, link), so that one small
message is usually all a user waits for. The rest of a long answer waits behind a
"More" button; the cited passages themselves behind "Sources". Every cut falls
between sentences, and no message exceeds WhatsApp's limits (4,096 characters of
text; 1,024 in a message with buttons).

Phones show text as typed: the Markdown of the sources (links, ``**strong**``, ``#``
headings, ``-`` lists) is rewritten as plain lines first (``plain``): a link becomes
its title, then a "title: URL" line under its line; WhatsApp's own ``*bold*`` and
``_italics_`` are only added by this module, where it means them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from assistant import source_list
from assistant.answer import Answer, Citation
from assistant.language import SUPPORTED, message
from assistant.source_list import citation_link, shorten

__all__ = [
    "BODY_LIMIT",
    "TEXT_LIMIT",
    "Reply",
    "answer_pages",
    "button_action",
    "command_for",
    "first_replies",
    "more_replies",
    "plain",
    "source_lines",
    "source_replies",
    "split_text",
]

TEXT_LIMIT = 4096  # characters in a WhatsApp text message
BODY_LIMIT = 1024  # characters in the body of a message with reply buttons
SNIPPET_CHARS = 500

# A sentence ends at . ! ? … ؟ (and the citation markers right after it), or a line ends.
_BREAK = re.compile(
    r"\s*\n\s*|(?<=[.!?…؟])\s+(?!\[\d)|(?<=[.!?…؟] \[\d\])\s+|(?<=[.!?…؟] \[\d\d\])\s+"
)


# Markdown, as the sources are written: [title](url "tooltip"), ![image](url), <url>; a
# URL may hold spaces, as some sources' do ("…Wash%20DC %20Final….pdf").
_LINK = re.compile(
    r"!?\[([^\]\n]*)\]\(\s*<?([^\s()<>][^()<>\n]*?)>?(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
)
_AUTOLINK = re.compile(r"<(https?://[^\s<>]+)>")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=[^\s*_])([^*_\n]+?)(?<=[^\s*_])\1(?![\w*])")
_CODE = re.compile(r"`+([^`\n]+?)`+")
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+", re.MULTILINE)
_BULLET = re.compile(r"^[ \t]*[-*+•][ \t]+", re.MULTILINE)
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!])")


def _plain_line(line: str) -> str:
    """One line without Markdown; its links as "title: URL" lines after it."""
    links: list[str] = []

    def link(found: re.Match) -> str:
        title, url = " ".join(found.group(1).split()), found.group(2).replace(" ", "%20")
        if not title or title.replace(" ", "%20") == url:
            return url  # [url](url): the address once, where it stands
        entry = f"{title}: {url}"
        if entry not in links:
            links.append(entry)
        return title

    line = _AUTOLINK.sub(lambda found: found.group(1), _LINK.sub(link, line))
    line = _EMPHASIS.sub(r"\2", _STRONG.sub(r"\2", _CODE.sub(r"\1", line)))
    return "\n".join([_ESCAPED.sub(r"\1", line), *links])


def plain(text: str) -> str:
    """``text`` as a phone should show it: no Markdown syntax (see the module's note)."""
    text = _BULLET.sub("", _HEADING.sub("", text))
    return "\n".join(_plain_line(line) for line in text.split("\n"))


@dataclass(frozen=True)
class Reply:
    """One message: its text, and the reply buttons (id, title) that go with it."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()


def _units(text: str) -> Iterable[str]:
    """Sentences and lines, each with the white space that followed it."""
    start = 0
    for found in _BREAK.finditer(text):
        yield text[start : found.end()]
        start = found.end()
    if start < len(text):
        yield text[start:]


def _cut_long(unit: str, limit: int) -> list[str]:
    """A sentence longer than a message, cut between words (or anywhere, failing that)."""
    pieces = []
    while len(unit.strip()) > limit:
        cut = unit.rfind(" ", 0, limit + 1)
        cut = cut if cut > 0 else limit
        pieces.append(unit[:cut])
        unit = unit[cut:].lstrip()
    return [*pieces, unit]


def split_text(text: str, limit: int = TEXT_LIMIT, *, first: int | None = None) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters (the first one ``first``), cut
    between sentences or lines; a single longer sentence is cut between words."""
    pieces: list[str] = []
    current = ""
    for unit in _units(text):
        size = first if first is not None and not pieces else limit
        if len((current + unit).strip()) <= size:
            current += unit
            continue
        if current.strip():
            pieces.append(current.strip())
            size = limit
        *whole, current = _cut_long(unit, size)
        pieces += [piece.strip() for piece in whole]
    if current.strip():
        pieces.append(current.strip())
    return pieces


def answer_pages(answer: Answer, first_chars: int) -> list[str]:
    """The answer's text as pages: the essential first (with the notices, in italics),
    then the rest in messages of up to 4,096 characters."""
    notices = "\n".join(f"_{notice}_" for notice in answer.notices)
    budget = max(first_chars - len(notices) - 2, first_chars // 2)
    pages = split_text(plain(answer.text), TEXT_LIMIT, first=budget) or [""]
    pages[0] = "\n\n".join(part for part in (pages[0], notices) if part)
    return pages


def source_lines(citations: Iterable[Citation], public_url: str | None) -> list[str]:
    """``[n] Title — Section (date)`` and its link, one entry per citation."""
    return [
        source_list.entry(c, [citation_link(c, public_url)], about=c.date, chars=(90, 60))
        for c in citations
    ]


def _source_list(answer: Answer, public_url: str | None, limit: int) -> str:
    """The numbered sources under a heading, as many as fit in ``limit`` characters."""
    text = f"*{message('button_sources', answer.language)}*"
    for entry in source_lines(answer.citations, public_url):
        if len(text) + 1 + len(entry) > limit:
            break
        text += "\n" + entry
    return text


_BUTTON_ID = re.compile(r"(more|sources|adviser):([0-9]{1,9})|new", re.ASCII)
# Answers that get no "Ask an adviser" button: the assistant's own words, not an answer.
NOT_ANSWERS = frozenset({"smalltalk", "unsupported-language"})
MAX_BUTTONS = 3  # WhatsApp's reply buttons per message


def button_action(button_id: str) -> tuple[str, int | None] | None:
    """("more" | "sources" | "adviser", turn) or ("new", None) for the id of a button this
    module made; None for any other id (a template's quick reply, a list item), whose title is
    then the user's message. Only ASCII digits count: "more:²" is no id of ours."""
    found = _BUTTON_ID.fullmatch(button_id.strip())
    if found is None:
        return None
    return (found.group(1), int(found.group(2))) if found.group(1) else ("new", None)


def _buttons(language: str, turn: int, *, more: bool, sources: bool, adviser: bool) -> tuple:
    """The reply buttons, at most three: "New question" gives way to the others (it can
    be typed, see ``command_for``)."""
    buttons = []
    if more:
        buttons.append((f"more:{turn}", message("button_more", language)))
    if sources:
        buttons.append((f"sources:{turn}", message("button_sources", language)))
    if adviser:
        buttons.append((f"adviser:{turn}", message("button_adviser", language)))
    buttons.append(("new", message("button_new", language)))
    return tuple(buttons[:MAX_BUTTONS])


def first_replies(
    answer: Answer, turn: int, *, first_chars: int, public_url: str | None
) -> list[Reply]:
    """The messages an answer is sent as: one with buttons when it fits, else the
    answer, then the sources list with the buttons."""
    language = answer.language
    pages = answer_pages(answer, first_chars)
    more = len(pages) > 1
    continues = message("continues", language) if more else ""
    sources = ""
    if answer.citations:
        sources = _source_list(answer, public_url, BODY_LIMIT - len(continues) - 2)
    tail = "\n\n".join(part for part in (sources, continues) if part)
    adviser = answer.mode not in NOT_ANSWERS
    buttons = _buttons(language, turn, more=more, sources=bool(answer.citations), adviser=adviser)
    whole = "\n\n".join(part for part in (pages[0], tail) if part)
    if len(whole) <= BODY_LIMIT:
        return [Reply(whole, buttons)]
    if not tail:
        return [Reply(piece) for piece in split_text(pages[0])]
    return [Reply(pages[0]), Reply(tail, buttons)]


def more_replies(answer: Answer | None, *, first_chars: int) -> list[Reply]:
    """What "More" sends: the rest of the answer, in as many messages as it takes."""
    pages = answer_pages(answer, first_chars)[1:] if answer else []
    if not pages:
        return [Reply(message("nothing_more", answer.language if answer else "en"))]
    return [Reply(page) for page in pages]


def source_replies(answer: Answer | None, *, public_url: str | None) -> list[Reply]:
    """What "Sources" sends: each cited passage with its title, section, date and link."""
    if not answer or not answer.citations:
        return [Reply(message("nothing_more", answer.language if answer else "en"))]
    entries = []
    for c in answer.citations:
        where = source_list.heading(c, (90, 90))
        who = ", ".join(part for part in (c.publisher, c.date) if part)
        quote = f"“{shorten(plain(c.snippet), SNIPPET_CHARS)}”" if c.snippet else ""
        link = citation_link(c, public_url)
        entries.append("\n".join(part for part in (f"*[{c.n}] {where}*", who, quote, link) if part))
    return [Reply(piece) for piece in split_text("\n\n".join(entries))]


_COMMANDS = {
    message(key, language).casefold(): action
    for key, action in (
        ("button_more", "more"),
        ("button_sources", "sources"),
        ("button_new", "new"),
        ("button_adviser", "adviser"),
    )
    for language in SUPPORTED
}


def command_for(text: str) -> str | None:
    """ "more", "sources", "adviser" or "new" when a typed message is just a button's
    label (in any language), for users who type rather than tap, and for channels without
    buttons."""
    return _COMMANDS.get(text.strip().strip(".!¡¿?* ").casefold())
