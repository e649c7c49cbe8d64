"""HS-code lookup: heading first, the line whose qualifiers fit, and a question when unsure."""

from __future__ import annotations

import pytest

from assistant.hs import HSLookup, nomenclature_texts
from assistant.lexical import LexicalIndex
from assistant.pipeline import Assistant, Turn
from assistant.store import chroma_client, vector_store
from ingest.index import Indexer


@pytest.fixture(scope="module")
def built(sample_index):
    """The session's index of the sample corpus, whose nomenclature has a heading (6109)
    with two lines that differ only by material (see tests/data/hs-sample.csv)."""
    return sample_index


@pytest.fixture(scope="module")
def assistant(built, embeddings) -> Assistant:
    store = vector_store(chroma_client(built), built.collection, embeddings)
    return Assistant.from_settings(built, store=store)


def codes(result) -> list[str]:
    return [c.code for c in result.candidates]


def test_the_line_whose_qualifiers_the_product_has_comes_first(assistant):
    assert codes(assistant.hs.lookup("frozen shrimps"))[0] == "030617"
    cotton = assistant.hs.lookup("cotton T-shirts")
    assert codes(cotton)[0] == "610910" and not cotton.unsure
    # "other than cotton" excludes: it is not a qualifier that cotton matches.
    assert codes(cotton).index("610990") > 0


def test_close_codes_that_differ_ask_what_separates_them(assistant):
    result = assistant.hs.lookup("T-shirts")
    assert result.unsure
    assert set(codes(result)[:2]) == {"610910", "610990"}
    separating = result.distinctions()
    assert "of cotton" in separating
    assert "of textile materials (other than cotton)" in separating


@pytest.mark.parametrize(
    ("question", "reply", "asks", "caveat"),
    [
        (
            "What is the HS code for T-shirts?",
            "they are cotton",
            "What separates them: “of cotton”",
            "National tariffs add digits (8 to 10)",
        ),
        (  # in French, the French nomenclature's own lines
            "Quel code SH pour des t-shirts ?",
            "ils sont en coton",
            "Ce qui les distingue : “De coton” / “D'autres matières textiles”",
            "Les tarifs nationaux ajoutent des chiffres (8 à 10)",
        ),
    ],
)
def test_the_answer_asks_once_in_its_language_and_the_follow_up_narrows(
    assistant, question, reply, asks, caveat
):
    asked = assistant.answer(question)
    assert asked.mode == "hs-lookup"
    assert asks in asked.text
    assert "HS 2022" not in asked.text  # the sample's title names no edition
    assert caveat in asked.text
    follow_up = assistant.answer(reply, [Turn("user", question), Turn("assistant", asked.text)])
    first = next(line for line in follow_up.text.splitlines() if line.startswith("- "))
    assert "610910" in first
    assert asks.split(":")[0] not in follow_up.text
    assert follow_up.citations and follow_up.citations[0].source.startswith("hs-nomenclature/")


def test_the_edition_is_named_from_the_cited_record(assistant):
    result = assistant.hs.lookup("frozen shrimps")
    title = "Harmonized System (HS 2022) nomenclature — codes and descriptions"
    result.candidates[0].passage.metadata["title"] = title
    assert result.edition == "HS 2022"


def test_without_vectors_the_words_still_find_the_code(built):
    lookup = HSLookup(LexicalIndex(built.lexical_path))
    assert codes(lookup.lookup("wooden kitchen furniture"))[0] == "940340"


def test_a_description_in_another_language_finds_the_english_line(built):
    from assistant.embeddings import make_embeddings

    lookup = HSLookup(LexicalIndex(built.lexical_path), make_embeddings("use"))
    assert codes(lookup.lookup("crevettes congelées"))[0][:4] == "0306"
    assert codes(lookup.lookup("meubles de cuisine en bois"))[0][:4] == "9403"


def test_the_paths_the_lookup_embeds_are_what_make_vectors_caches(built):
    indexer = Indexer(built)
    plan = indexer.plan([built.corpus_dir])
    texts = indexer.cacheable_texts(plan)
    lookup_paths = {c.path for c in HSLookup(LexicalIndex(built.lexical_path)).tables().lines}
    assert len(lookup_paths) == 6 and lookup_paths <= set(texts)
    assert (
        nomenclature_texts([("HS heading 0306 — not in the HS folder", {"source": "x.md"})]) == []
    )


def test_the_tables_are_rebuilt_only_when_the_nomenclature_changes(tmp_path):
    lexical = LexicalIndex(tmp_path / "lexical.sqlite")
    shrimp = (
        "HS heading 0306 — Crustaceans\nChapter 03: Fish\n"
        "- 030617 (0306.17): Crustaceans; frozen, shrimps and prawns"
    )
    hs = {"source": "hs-nomenclature/harmonized-system.csv"}
    lexical.apply([("hs-1", shrimp, hs)], [])
    lookup = HSLookup(lexical)
    tables = lookup.tables()
    lexical.apply([("guide-1", "An unrelated guide on VAT.", {"source": "guides/vat.md"})], [])
    assert lookup.tables() is tables  # another document: the same tables
    lexical.apply([("hs-2", shrimp.replace("0306", "0307"), hs)], [])
    rebuilt = lookup.tables()
    assert rebuilt is not tables and len(rebuilt.lines) == 2


def test_a_description_in_dutch_meets_its_code_through_the_dutch_nomenclature(built):
    from assistant.hs_languages import HSLanguages

    english_only = HSLookup(LexicalIndex(built.lexical_path))
    dutch = HSLookup(
        LexicalIndex(built.lexical_path), languages=HSLanguages.load(built.hs_languages)
    )
    description = "Houten meubelen voor slaapkamers"
    assert codes(dutch.lookup(description))[0] == "940350"
    assert codes(english_only.lookup(description))[:1] != ["940350"]
