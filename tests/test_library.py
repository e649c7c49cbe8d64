"""The library: documents rebuilt from their chunks as sections, each with a stable anchor
that a citation's link points to."""

from __future__ import annotations

from langchain_core.documents import Document

from assistant.lexical import LexicalIndex
from assistant.library import Library, anchor_for, passage_url
from ingest.chunking import chunk_id

SOURCE = "guides/returns.md"


def record(position: int, section: str, path: str, text: str) -> tuple[str, str, dict]:
    meta = {
        "root": "corpus",
        "source": SOURCE,
        "title": "Returns",
        "section": section,
        "section_path": path,
        "context": f"Returns > {section}",
    }
    id_ = chunk_id("corpus", SOURCE, position, Document(page_content=text, metadata=meta))
    return id_, f"Returns > {section}\n{text}", meta


def test_anchors_and_links():
    assert anchor_for("Article 9 — Droit de rétractation") == "s-article-9-droit-de-retractation"
    assert anchor_for("§ 30.37") == "s-30-37" and anchor_for("") == "s-text"
    assert passage_url("a b/c.md", "") == "/api/sources/a%20b/c.md"


def test_chunks_become_sections_in_order_their_overlap_removed(tmp_path):
    path = tmp_path / "bm25.sqlite"
    first = "Goods may be returned within 14 days of delivery, at the buyer's cost."
    second = (
        "returned within 14 days of delivery, at the buyer's cost. A refund follows within 14 days."
    )
    chunks = [
        record(2, "Fees", "fees", "No fee is charged."),
        record(0, "Returns", "returns", first),
        record(1, "Returns", "returns", second),
        record(3, "Returns", "returns-again", "Returned goods must be unused."),
    ]
    LexicalIndex(path).apply(chunks, [])
    document = Library(path).document(SOURCE, section="Fees")
    assert document is not None and document.title == "Returns"
    assert [s.anchor for s in document.sections] == ["s-returns", "s-fees", "s-returns-2"]
    assert document.sections[0].text == (
        "Goods may be returned within 14 days of delivery, at the buyer's cost. "
        "A refund follows within 14 days."
    )
    assert document.anchor == "s-fees" and document.total_sections == 3
    assert Library(path).document("guides/none.md") is None
