"""The most precise official link for a passage: its section's own page where the publisher
has one, else the document's page scrolled to the section's heading, else the document's.

Per shipped source (tests/test_links.py checks each):

- eCFR: every section has its page (``/current/title-15/section-30.37``) and every
  subpart its part's anchor page (``/current/title-15/part-30/subpart-A``).
- EUR-Lex: a consolidated text is one page without stable anchors for its articles, so
  the link to the exact version the text was taken from gets a text fragment
  (``#:~:text=Article%209,-Right%20of%20withdrawal``) that browsers supporting it
  (Chromium, Safari, Firefox 131+) scroll to and highlight; others open the page's top.
- Texts published by their author in a repository (great.gov.uk's articles, the
  Country Commercial Guides): the file at the commit it was taken from.
- A document that says it has no official page (``source_url: ""``) gets none: the
  "Read the passage in full" link of each citation then opens it at the cited section.
"""

from __future__ import annotations

import re
from urllib.parse import quote

__all__ = ["document_url", "section_url"]

_ECFR = re.compile(
    r"^(?P<base>https://www\.ecfr\.gov/(?:current|on/[\d-]+)/title-\d+)/part-[\w.]+/?$"
)
_CFR_SECTION = re.compile(r"^(?:\d+ CFR |§ )(?P<number>\d+\.\d+[a-z]?)\b")
_CFR_SUBPART = re.compile(r"^Subpart (?P<letter>[A-Z]+)\b")
_EURLEX = re.compile(r"^https://eur-lex\.europa\.eu/")
_EU_HEADING = re.compile(r"^(?P<label>(?:Article|ANNEX|ANNEXE) [\w]+)(?: — (?P<title>.+))?$")
_WEB = re.compile(r"^https?://\S+$")
_REPO = re.compile(r"^https://github\.com/[\w.-]+/[\w.-]+$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_FILE_PATH = re.compile(r"^[\w./-]+\.\w+$")


def document_url(front_matter: dict) -> str | None:
    """A file's official page as its front matter gives it: its ``source_url`` (empty: it
    has none), else the file in its author's repository at the commit it came from;
    None when the front matter says nothing (the folder's page is used)."""
    if "source_url" in front_matter or "url" in front_matter:
        given = front_matter.get("source_url") or front_matter.get("url") or ""
        # Shown as a link: only web addresses, never ``javascript:`` or ``data:``.
        return given.strip() if isinstance(given, str) and _WEB.match(given.strip()) else ""
    repo, commit, path = (
        str(front_matter.get(key, "")).strip()
        for key in ("source_repo", "source_commit", "source_path")
    )
    if _REPO.match(repo) and _COMMIT.match(commit) and _FILE_PATH.match(path):
        return f"{repo}/blob/{commit}/{path}"
    return None


def section_url(url: str, section: str) -> str:
    """``url`` (a document's page) narrowed to ``section`` where its publisher allows."""
    ecfr = _ECFR.match(url)
    if ecfr:
        if number := _CFR_SECTION.match(section):
            return f"{ecfr['base']}/section-{number['number']}"
        if subpart := _CFR_SUBPART.match(section):
            return f"{url.rstrip('/')}/subpart-{subpart['letter']}"
        return url
    heading = _EU_HEADING.match(section)
    if _EURLEX.match(url) and heading and "#" not in url:
        fragment = _fragment_text(heading["label"])
        words = (heading["title"] or "").split()[:4]
        if words and not words[0].startswith("▼"):
            fragment += ",-" + _fragment_text(" ".join(words))
        return f"{url}#:~:text={fragment}"
    return url


def _fragment_text(text: str) -> str:
    """Text for a URL text fragment: percent-encoded, with its syntax characters too."""
    return quote(text, safe="").replace("-", "%2D")
