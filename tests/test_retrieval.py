"""Hybrid retrieval on its own: filter semantics, fusion, near-duplicates collapsed, and
the timings each search returns to its caller (keyword search only: no vector store)."""

from __future__ import annotations

import pytest

from assistant.lexical import LexicalIndex
from assistant.retrieval import Retriever, Timings, matches

BOILERPLATE = (
    "Originating products of a party shall benefit from tariff preferences under the agreement."
)
RECORDS = [
    (
        "eu-1",
        BOILERPLATE,
        {"source": "eu/japan.md", "jurisdiction": "EU", "topics": "tariffs,origin"},
    ),
    ("eu-2", BOILERPLATE, {"source": "eu/korea.md", "jurisdiction": "EU", "topics": "tariffs"}),
    (
        "uk-1",
        "UK tariff preferences for originating goods.",
        {"source": "uk/gsp.md", "jurisdiction": "UK"},
    ),
]


@pytest.fixture(scope="module")
def retriever(tmp_path_factory) -> Retriever:
    lexical = LexicalIndex(tmp_path_factory.mktemp("lexical") / "bm25.sqlite")
    lexical.apply(RECORDS, [])
    return Retriever(lexical, k=5)


def test_filters_topic_among_topics_source_by_folder_the_rest_equal():
    meta = {"source": "eu/japan.md", "jurisdiction": "EU", "topics": "tariffs,origin"}
    assert matches(meta, {"topic": "origin", "source": "eu", "jurisdiction": "EU"})
    assert matches(meta, {"source": "eu/japan.md", "language": ""})  # empty: no filter
    assert not matches(meta, {"topic": "orig"})
    assert not matches(meta, {"source": "e"})
    assert not matches(meta, {"jurisdiction": "UK"})


def test_the_same_text_twice_is_one_passage(retriever):
    found = retriever.search("tariff preferences originating products")
    assert [p.id for p in found].count("eu-1") + [p.id for p in found].count("eu-2") == 1
    assert "uk-1" in {p.id for p in found}
    assert all(p.lexical is not None and p.dense is None for p in found)
    assert [p.score for p in found] == sorted((p.score for p in found), reverse=True)


def test_filters_restrict_the_passages(retriever):
    found = retriever.search("tariff preferences", filters={"jurisdiction": "UK"})
    assert [p.id for p in found] == ["uk-1"]


def test_each_search_fills_the_callers_timings(retriever):
    mine = Timings()
    retriever.search("tariff preferences", timings=mine)
    assert mine.lexical > 0 and mine.dense == mine.embed == 0
