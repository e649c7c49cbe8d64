"""Documents -> chunks that follow the document's own structure, with stable ids.

A chunk's text starts with a context line ("short title › section path") so that a
passage about "trade barriers" still says it is about Brazil, both to the embedder
and to the person reading the citation. ``section`` is the deepest heading
("15 CFR 30.37 — Miscellaneous exemptions", "Article 9 — Right of withdrawal");
``section_path`` is the whole path; ``url`` is narrowed to the section where its
publisher allows (ingest/links.py).
"""

from __future__ import annotations

import hashlib
import json

from langchain_core.documents import Document
from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from ingest.links import section_url
from ingest.structure import clip, promote_structure, short_title, visible

__all__ = ["SEP", "Chunker", "chunk_id", "parse_chunk_id"]

SEP = "::"

_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4"), ("#####", "h5")]
_SEPARATORS = ["\n\n", "\n", ". ", "; ", ", ", " ", ""]
_MAX_HEADING = 300  # the corpus's longest is 228 characters


def chunk_id(root: str, source: str, position: int, chunk: Document) -> str:
    """Source path + position + a hash of text and metadata: equal content, equal id."""
    digest = hashlib.sha1(
        (chunk.page_content + json.dumps(chunk.metadata, sort_keys=True, default=str)).encode()
    ).hexdigest()[:16]
    return SEP.join((root, source, str(position), digest))


def parse_chunk_id(id_: str) -> tuple[str, str, int]:
    """(root, source, position) of a ``chunk_id``; a source path may itself hold ``SEP``."""
    root, rest = id_.split(SEP, 1)
    source, position, _ = rest.rsplit(SEP, 2)
    return root, source, int(position)


class Chunker:
    """Split on headings first, then on paragraphs and sentences, with overlap."""

    def __init__(self, chunk_size: int, chunk_overlap: int) -> None:
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._headers = MarkdownHeaderTextSplitter(_HEADERS, strip_headers=True)
        self._splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_size,
            chunk_overlap=min(chunk_overlap, chunk_size // 2),
            separators=_SEPARATORS,
            keep_separator="end",
        )

    def split(self, doc: Document) -> list[Document]:
        """Chunks of one loaded document; ``doc.metadata`` must hold at least ``title``."""
        title = str(doc.metadata.get("title", ""))
        if doc.metadata.get("atomic"):
            section = str(doc.metadata.get("section", title))
            meta = {k: v for k, v in doc.metadata.items() if k != "atomic"}
            meta.update(section=section, section_path=section)
            return [Document(page_content=doc.page_content.strip(), metadata=meta)]

        chunks: list[Document] = []
        for part in self._headers.split_text(promote_structure(doc.page_content)):
            # A heading prefixes every chunk below it: a megabyte "heading" must not.
            path = [
                visible(clip(part.metadata[key], _MAX_HEADING))
                for _, key in _HEADERS
                if key in part.metadata
            ]
            # The header splitter joins lines with Markdown hard breaks ("  \n").
            body = part.page_content.replace("  \n", "\n").strip()
            if not body:
                continue
            heading = " › ".join(path)
            context = short_title(title) if title else ""
            if path and context and path[0].lower().startswith(context.lower()[:40]):
                context = heading
            elif heading:
                context = f"{context} › {heading}" if context else heading
            for piece in self._splitter.split_text(body):
                meta = dict(doc.metadata)
                section = path[-1] if path else title
                meta.update(
                    section=section,
                    section_path=heading or title,
                    context=context,
                    url=section_url(str(doc.metadata.get("url", "")), section),
                )
                text = f"{context}\n\n{piece.strip()}" if context else piece.strip()
                chunks.append(Document(page_content=text, metadata=meta))
        return chunks
