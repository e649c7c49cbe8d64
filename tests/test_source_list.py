"""Sources as plain text: the one shape the terminal, the OpenAI route and WhatsApp share."""

from __future__ import annotations

from assistant import source_list
from assistant.answer import Citation
from assistant.api.schemas import Filters
from assistant.retrieval import FILTER_KEYS


def cited(**fields) -> Citation:
    values = dict.fromkeys(("source", "title", "section", "url", "publisher", "date"), "")
    values |= {"language": "en", "snippet": ""}
    return Citation(n=2, **{**values, **fields})


def test_heading_names_title_and_a_different_section_only():
    assert source_list.heading(cited(title="Guide", section="Fees")) == "Guide — Fees"
    assert source_list.heading(cited(title="Guide", section="Guide")) == "Guide"
    assert source_list.heading(cited(title="Guide")) == "Guide"
    assert source_list.heading(cited(source="a/b.md", section="Fees")) == "a/b.md — Fees"
    long = cited(title="word " * 40, section="Fees")
    assert source_list.heading(long, (20, 3)) == "word word word… — Fe…"


def test_entry_puts_what_is_about_in_brackets_and_each_link_on_a_line():
    c = cited(title="Guide", section="Fees", source="a/b.md", url="https://example.org")
    links = [c.url, source_list.page_link(c, "https://ea.example/")]
    assert source_list.entry(c, links, about="2024", indent="  ") == (
        "[2] Guide — Fees (2024)\n  https://example.org\n"
        "  https://ea.example/api/sources/a/b.md?section=Fees#s-fees"
    )
    assert source_list.entry(c) == "[2] Guide — Fees"


def test_a_link_is_the_official_one_else_our_page_when_public():
    c = cited(source="a/b.md")
    assert source_list.citation_link(c, None) == ""
    assert source_list.citation_link(c, "https://ea.example").startswith("https://ea.example/api/")
    assert source_list.citation_link(cited(url="https://x.org"), "https://ea") == "https://x.org"


def test_the_api_filters_are_the_retrievers():
    assert tuple(Filters.model_fields) == FILTER_KEYS
