"""Structure-aware chunking: CFR sections, EU articles, Markdown headings, stable ids."""

from __future__ import annotations

from langchain_core.documents import Document

from ingest.chunking import Chunker, chunk_id, parse_chunk_id
from ingest.loaders import load_file
from ingest.structure import promote_structure, short_title
from tests.conftest import DATA


def chunks_of(relpath: str, size: int = 1200) -> list[Document]:
    [doc] = load_file(DATA / "sample" / relpath)
    doc.metadata.setdefault("title", relpath)
    return Chunker(size, size // 10).split(doc)


def test_cfr_sections_are_cited_by_number_and_title():
    chunks = chunks_of("regs/15cfr-sample.md")
    sections = [c.metadata["section"] for c in chunks]
    assert "15 CFR 30.37 — Miscellaneous exemptions" in sections
    assert "15 CFR 30.36 — Exemption for destinations in Canada" in sections
    exemption = next(c for c in chunks if c.metadata["section"].startswith("15 CFR 30.37"))
    assert "$2,500 or less" in exemption.page_content
    assert "Subpart D — Exemptions" in exemption.metadata["section_path"]
    # The table-of-contents line is folded into the heading, not repeated in the text.
    assert "§ 30.37   Miscellaneous" not in exemption.page_content


def test_eu_articles_in_english_and_french():
    en = {c.metadata["section"]: c for c in chunks_of("regs/consumer-rights.en.md")}
    assert set(en) >= {"Article 9 — Right of withdrawal", "Article 18 — Delivery"}
    assert "period of 14 days" in en["Article 9 — Right of withdrawal"].page_content
    assert en["Article 18 — Delivery"].metadata["section_path"].startswith("CHAPTER III")
    # Paragraph numbers are joined to their paragraph.
    assert "1. Unless the parties" in en["Article 18 — Delivery"].page_content
    fr = {c.metadata["section"] for c in chunks_of("regs/consumer-rights.fr.md")}
    assert "Article 9 — Droit de rétractation" in fr


def test_markdown_heading_path_and_context_line():
    chunks = chunks_of("guides/borrow-against-assets.md")
    invoices = next(c for c in chunks if c.metadata["section"] == "Borrow against invoices")
    assert invoices.metadata["section_path"] == "Borrow against assets › Borrow against invoices"
    assert invoices.page_content.startswith("Borrow against assets › Borrow against invoices\n\n")
    assert "90% of the value" in invoices.page_content


def test_long_sections_are_split_with_overlap():
    sentences = " ".join(f"Sentence number {i} about customs declarations." for i in range(200))
    doc = Document(
        page_content=f"# Guide\n\n## Long part\n\n{sentences}", metadata={"title": "Guide"}
    )
    chunks = Chunker(500, 100).split(doc)
    assert len(chunks) > 5
    assert all(c.metadata["section"] == "Long part" for c in chunks)
    assert all(len(c.page_content) <= 500 + len("Guide › Long part\n\n") for c in chunks)
    first, second = chunks[0].page_content, chunks[1].page_content
    tail = first.split("\n\n", 1)[1][-60:]
    assert tail.split(" ", 1)[1][:20] in second  # the overlap carries text across


def test_atomic_records_stay_whole():
    docs = load_file(DATA / "hs-sample.csv")
    chunks = [c for d in docs for c in Chunker(200, 20).split(d)]
    assert len(chunks) == len(docs)
    assert "atomic" not in chunks[0].metadata


def test_chunk_ids_are_stable_and_content_addressed():
    doc = Document(page_content="text", metadata={"source": "a.md"})
    same = chunk_id("corpus", "a.md", 0, doc)
    assert same == chunk_id(
        "corpus", "a.md", 0, Document(page_content="text", metadata={"source": "a.md"})
    )
    assert same != chunk_id(
        "corpus", "a.md", 0, Document(page_content="text!", metadata={"source": "a.md"})
    )
    assert same != chunk_id("corpus", "a.md", 1, doc)
    assert same.startswith("corpus::a.md::0::")


def test_article_reference_inside_a_sentence_is_not_a_heading():
    text = (
        "Article 9\n\nRight of withdrawal\n\n"
        "Article 6(7), Article 8(2) shall apply mutatis mutandis;\n"
    )
    promoted = promote_structure(text)
    assert "##### Article 9 — Right of withdrawal" in promoted
    assert "\nArticle 6(7), Article 8(2)" in promoted


def test_short_title_drops_eu_boilerplate():
    title = (
        "Directive 2011/83/EU of the European Parliament and of the Council of 25 October 2011 "
        "on consumer rights (Text with EEA relevance)"
    )
    assert short_title(title) == "Directive 2011/83/EU on consumer rights"


def test_a_chunk_id_gives_back_its_root_source_and_position():
    chunk = Document(page_content="text", metadata={"source": "a::b.md"})
    assert parse_chunk_id(chunk_id("uploads", "a::b.md", 7, chunk)) == ("uploads", "a::b.md", 7)
