"""Make the structure of legal texts visible as Markdown headings.

Regulations arrive as plain lines ("Article 9" then "Right of withdrawal"; a CFR
table-of-contents line "§ 30.37   Miscellaneous exemptions." then "#### § § 30.37").
Rewriting them as headings lets one Markdown splitter cut every format on its own
structure and name each chunk's section the way a lawyer would cite it.
"""

from __future__ import annotations

import re

__all__ = ["clip", "promote_structure", "short_title", "visible"]

# C0 and C1 controls (but tab and line breaks), bidi embeddings, overrides and isolates:
# a title "x \u202egnp.exe" would show as "xexe.png" wherever it is not isolated.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# Titles are matched greedily and trimmed in Python: a lazy ``.*?`` before ``[ \t]*$``
# is quadratic on a long line of spaces (minutes for a hostile 100 kB line).
_CFR_TOC = re.compile(
    r"^[ \t]*§\s*(?P<num>\d+\.\d+[a-z]?(?:-\d+\.\d+[a-z]?)?)[ \t]{2,}(?P<title>\S.*)$"
)
_CFR_HEADING = re.compile(r"^#{1,6}\s*§\s*§*\s*(?P<num>\d+\.\d+[a-z]?(?:-\d+\.\d+[a-z]?)?)\s*$")
_CFR_PART = re.compile(r"^#\s*(?P<title>\d+)\s+CFR\s+PART", re.MULTILINE)
_CFR_SUBPART = re.compile(r"^[ \t]*(?P<label>Subpart [A-Z]+)\s*[—-]\s*(?P<title>\S.*)$")

_EU_LEVELS = (
    (re.compile(r"^(TITLE|TITRE)\s+[IVXLC]+[a-z]*$"), "##"),
    (re.compile(r"^(CHAPTER|CHAPITRE)\s+[IVXLC0-9]+[a-z]*$"), "###"),
    (re.compile(r"^(SECTION|Section)\s+[0-9IVX]+[a-z]*$"), "####"),
    (re.compile(r"^(ANNEX|ANNEXE)(\s+[IVXLC0-9]+[a-z]*)?$"), "###"),
    (re.compile(r"^(Article|Artikel)\s+(\d+[a-z]*|premier)$"), "#####"),
)


def _promote_cfr(text: str) -> str:
    part = _CFR_PART.search(text)
    prefix = f"{part.group('title')} CFR " if part else "§ "
    titles: dict[str, str] = {}
    for line in text.splitlines():
        toc = _CFR_TOC.match(line)
        if toc:
            titles.setdefault(toc.group("num"), toc.group("title").rstrip().removesuffix("."))
    out: list[str] = []
    for line in text.splitlines():
        heading = _CFR_HEADING.match(line)
        if heading:
            num = heading.group("num")
            title = titles.get(num, "")
            out.append(f"#### {prefix}{num}" + (f" — {title}" if title else ""))
            continue
        if _CFR_TOC.match(line):
            continue  # the title now lives in the heading
        subpart = _CFR_SUBPART.match(line) if len(line) < 200 else None
        if subpart:
            out.append(f"### {subpart.group('label')} — {subpart.group('title').rstrip()}")
            continue
        # eCFR Markdown indents paragraphs, which Markdown would read as code blocks.
        out.append(line.strip())
    return "\n".join(out)


def _is_title_line(line: str) -> bool:
    return (
        0 < len(line) <= 200
        and not line[0].isdigit()
        and not line.startswith(("(", "—", "-"))
        and not line.rstrip().endswith((".", ":", ";", ","))
    )


_NUMBER_ONLY = re.compile(r"^(\(?\d+[a-z]?[.)]|\([a-z]{1,4}\))$")


def _promote_articles(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if _NUMBER_ONLY.match(stripped):
            # EUR-Lex puts paragraph numbers ("1.", "(a)") on a line of their own.
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and not _NUMBER_ONLY.match(lines[j].strip()):
                lines[j] = f"{stripped} {lines[j].strip()}"
                i = j
                continue
        level = next((mark for pattern, mark in _EU_LEVELS if pattern.match(stripped)), None)
        if level is None:
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j < len(lines) and _is_title_line(lines[j].strip()):
            out.append(f"\n{level} {stripped} — {lines[j].strip()}\n")
            i = j + 1
        else:
            out.append(f"\n{level} {stripped}\n")
            i += 1
    return out


def promote_structure(text: str) -> str:
    """Turn CFR sections and EU titles/chapters/articles into Markdown headings."""
    if any(_CFR_HEADING.match(line) for line in text.splitlines()[:400]) or _CFR_PART.search(text):
        text = _promote_cfr(text)
    return "\n".join(_promote_articles(text.splitlines()))


_EU_NOISE = re.compile(
    r" of the European Parliament and of the Council| du Parlement européen et du Conseil"
    r"| of \d{1,2} \w+ \d{4}| du \d{1,2}(?:er)? \w+ \d{4}| \(Text with EEA relevance\)"
    r"| \(Texte présentant de l'intérêt pour l'EEE\)",
    re.IGNORECASE,
)


def visible(text: str) -> str:
    """``text`` with each control or bidi-override character shown as U+FFFD, as the
    pages show people's text: for titles and headings, which every channel shows."""
    return _INVISIBLE.sub("\ufffd", text)


def clip(text: str, limit: int) -> str:
    """``text`` cut at a word to at most ``limit`` characters (and an ellipsis)."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def short_title(title: str, limit: int = 110) -> str:
    """A title short enough to prefix every chunk (EU act titles run to 400 characters)."""
    return clip(" ".join(_EU_NOISE.sub("", title).split()), limit)
