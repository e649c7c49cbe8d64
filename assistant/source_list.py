"""An answer's sources as plain text: ``[n] Title — Section (about)``, a line each below.

The one shape of every channel that lists sources in text: the terminal (``ask``), the
OpenAI route's content, WhatsApp, and the helpdesk's suggested replies. Each chooses
only what goes in the brackets and on the lines below.
"""

from __future__ import annotations

from collections.abc import Iterable

from assistant.answer import Citation
from assistant.library import passage_url

__all__ = ["citation_link", "entry", "heading", "page_link", "shorten"]


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word to at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def heading(citation: Citation, chars: tuple[int, int] | None = None) -> str:
    """``Title — Section``: the source's path when it has no title, the section only
    when it is another one; cut to ``chars`` (title, section) when given."""
    title = citation.title or citation.source
    section = citation.section if citation.section != title else ""
    if chars is not None:
        title, section = shorten(title, chars[0]), shorten(section, chars[1])
    return " — ".join(part for part in (title, section) if part)


def page_link(citation: Citation, base_url: str | None) -> str:
    """This server's page of the cited section, under ``base_url``; none without one."""
    return base_url.rstrip("/") + passage_url(citation.source, citation.section) if base_url else ""


def citation_link(citation: Citation, base_url: str | None) -> str:
    """The official URL of a source; else this server's page of it, when it is public."""
    return citation.url or page_link(citation, base_url)


def entry(
    citation: Citation,
    lines: Iterable[str] = (),
    *,
    about: str = "",
    indent: str = "",
    chars: tuple[int, int] | None = None,
) -> str:
    """``[n] Heading (about)``, then each of ``lines`` that is not empty."""
    first = f"[{citation.n}] {heading(citation, chars)}" + (f" ({about})" if about else "")
    return "\n".join([first, *(indent + line for line in lines if line)])
