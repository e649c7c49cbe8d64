"""The ingested documents as people read them: sections of text rebuilt from the BM25 records.

Every chunk ingest wrote is in the lexical store with its text and metadata, so a
cited document can be shown even when it has no public URL, with no file system
access at request time (nothing to traverse). Consecutive chunks of one section are
joined back, their overlap removed; each section gets a stable anchor derived from
its heading, which is what a citation's link points to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlencode

from pydantic import Field

from assistant.answer import Citation
from assistant.lexical import LexicalRecords, fold
from ingest.chunking import parse_chunk_id

__all__ = [
    "Library",
    "SourceDocument",
    "SourceSection",
    "UnknownPassage",
    "anchor_for",
    "passage_url",
]

SNIPPET_CHARS = 400  # of a section quoted when no snippet is given


class UnknownPassage(LookupError):
    """No indexed document has this source, section or quoted text."""


_SHIFT_PROBE = 40  # characters of a chunk's start looked for in the previous chunk's end


def anchor_for(section: str) -> str:
    """``"Article 9 — Right of withdrawal"`` -> ``"s-article-9-right-of-withdrawal"``."""
    slug = re.sub(r"[^a-z0-9]+", "-", fold(section)).strip("-")[:80].rstrip("-")
    return f"s-{slug or 'text'}"


def passage_url(source: str, section: str) -> str:
    """The app-relative link that opens ``source`` at ``section``."""
    query = f"?{urlencode({'section': section})}" if section else ""
    fragment = f"#{anchor_for(section)}" if section else ""
    return f"/api/sources/{quote(source)}{query}{fragment}"


@dataclass
class SourceSection:
    anchor: Annotated[str, Field(description="HTML id of the section in the document's page.")]
    title: str
    path: str
    text: str


@dataclass
class SourceDocument:
    source: str
    title: str
    publisher: str
    url: str
    date: str
    language: str
    licence: str
    jurisdiction: str
    kind: str
    sections: list[SourceSection] = field(default_factory=list)
    anchor: Annotated[
        str | None, Field(description="Anchor of the section asked for, when found.")
    ] = None
    first: Annotated[int, Field(description="Index of the first section returned.")] = 0
    total_sections: int = 0


def _join(previous: str, following: str) -> str:
    """Two consecutive pieces of one section, without the text they share."""
    probe = following[:_SHIFT_PROBE]
    start = previous.find(probe, max(0, len(previous) - 4 * len(following)))
    while start != -1:
        if following.startswith(previous[start:]):
            return previous + following[len(previous) - start :]
        start = previous.find(probe, start + 1)
    return f"{previous}\n\n{following}"


def _body(text: str, metadata: dict) -> str:
    context = str(metadata.get("context", ""))
    if context and text.startswith(context):
        return text[len(context) :].lstrip()
    return text


class Library:
    """The documents of the lexical store, read-only."""

    def __init__(self, path: Path) -> None:
        self.records = LexicalRecords(path)
        self._counted: tuple[int, int, int] | None = None  # generation, documents, chunks
        self._searchable = False

    def counts(self) -> tuple[int, int]:
        """(documents, chunks) in the index; (0, 0) before the first records."""
        generation = self.records.generation()
        if self._counted is None or self._counted[0] != generation:
            self._counted = self.records.counts()
        return self._counted[1], self._counted[2]

    def searchable(self) -> bool:
        """Whether there are records to search. Asked by every question, so a yes is kept:
        ingest replaces records in one transaction, and never leaves none behind."""
        if not self._searchable:
            self._searchable = self.counts()[1] > 0
        return self._searchable

    def document(
        self, source: str, *, section: str | None = None, limit: int = 200
    ) -> SourceDocument | None:
        """The document ``source`` as sections; at most ``limit`` of them, around ``section``."""
        rows = self.records.of_source(source)
        if not rows:
            return None
        # The shipped corpus first, should a folder of the user's give the same path.
        root = min({r[1] for r in rows}, key=lambda label: (label != "corpus", label))
        chunks = sorted(
            (
                (parse_chunk_id(id_)[2], text, meta)
                for id_, label, text, meta in rows
                if label == root
            ),
            key=lambda chunk: chunk[0],
        )
        sections = self._sections(chunks)
        meta = chunks[0][2]
        document = SourceDocument(
            source=source,
            **{
                key: str(meta.get(key, ""))
                for key in ("title", "publisher", "url", "date", "language", "licence")
            },
            jurisdiction=str(meta.get("jurisdiction", "")),
            kind=str(meta.get("kind", "")),
            total_sections=len(sections),
        )
        cited = next((i for i, s in enumerate(sections) if section and s.title == section), None)
        if cited is not None:
            document.anchor = sections[cited].anchor
        centre = cited or 0
        document.first = max(0, min(centre - limit // 2, len(sections) - limit))
        document.sections = sections[document.first : document.first + limit]
        return document

    def citation(self, n: int, source: str, section: str, snippet: str) -> Citation:
        """Citation ``n`` of ``section`` of ``source`` quoting ``snippet`` (by default the
        section's start), all checked against the index; its other fields come from the
        index, never from the caller. UnknownPassage says what is not there."""
        rows = self.records.of_source(source)
        if not rows:
            raise UnknownPassage(f"no indexed document '{source}'")
        chunks = [
            (text, meta)
            for _, _, text, meta in rows
            if not section or meta.get("section") == section
        ]
        if not chunks:
            raise UnknownPassage(f"'{source}' has no section '{section}'")
        text = " ".join(" ".join(_body(t, m).split()) for t, m in chunks)
        lines = [" ".join(line.split()) for line in snippet.splitlines() if line.strip()]
        if any(line not in text for line in lines):
            raise UnknownPassage(f"the quoted text is not in '{source}' ({section or 'any'})")
        quoted = "\n".join(lines)
        meta = chunks[0][1]
        fields = ("title", "url", "publisher", "date", "language", "licence")
        return Citation(
            n=n,
            source=source,
            section=section,
            snippet=quoted or text[:SNIPPET_CHARS],
            **{key: str(meta.get(key, "")) for key in fields},
        )

    @staticmethod
    def _sections(chunks: list[tuple[int, str, dict]]) -> list[SourceSection]:
        sections: list[SourceSection] = []
        used: dict[str, int] = {}
        current_path = None
        for _, text, meta in chunks:
            body = _body(text, meta)
            path = str(meta.get("section_path", ""))
            if sections and path == current_path:
                sections[-1].text = _join(sections[-1].text, body)
                continue
            title = str(meta.get("section", "")) or str(meta.get("title", ""))
            anchor = anchor_for(title)
            used[anchor] = used.get(anchor, 0) + 1
            if used[anchor] > 1:
                anchor = f"{anchor}-{used[anchor]}"
            sections.append(SourceSection(anchor=anchor, title=title, path=path, text=body))
            current_path = path
        return sections
