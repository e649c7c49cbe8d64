"""The nomenclature in other languages: built from the Combined Nomenclature's layout,
read back, and matched word stem by word stem."""

from __future__ import annotations

import gzip

from assistant.hs_languages import HSLanguages, WordIndex, compound_parts, stems
from ingest.hs_languages import build, write
from tests.conftest import DATA


def test_the_builder_keeps_each_subheading_with_its_lines_in_every_language(tmp_path):
    data = build(DATA / "cn-sample", 2025)
    assert data["edition"] == "CN 2025 (HS 2022)"
    # An undivided subheading is its one CN line; a divided one its own text, then lines'.
    assert data["codes"]["fr"]["610910"] == ["De coton"]
    assert data["codes"]["en"]["610990"][0] == "Of other textile materials"
    assert "Of wool or fine animal hair or man-made fibres" in data["codes"]["en"]["610990"]
    # A text the translation lacks is left out, not replaced by English.
    assert data["codes"]["nl"]["610990"] == ["Van andere textielstoffen"]
    assert data["headings"]["nl"]["0306"] == "Schaaldieren"
    out = tmp_path / "hs.json.gz"
    write(data, out)
    languages = HSLanguages.load(out)
    assert languages is not None and languages.languages == ["en", "fr", "nl"]
    assert languages.name("940340", "fr") == "Meubles en bois des types utilisés dans les cuisines"
    assert languages.name("940340", "el") is None


def test_a_missing_or_broken_file_means_english_only(tmp_path):
    assert HSLanguages.load(tmp_path / "absent.json.gz") is None
    broken = tmp_path / "broken.json.gz"
    with gzip.open(broken, "wt") as handle:
        handle.write("{not json")
    assert HSLanguages.load(broken) is None


def test_words_are_folded_and_cut_to_their_start():
    assert stems("Bevroren GARNALEN, 100 g") == stems("bevroren garnalen")
    assert stems("Crevettes congelées") == stems("crevettes congelees")
    assert stems("motorvoertuig") == stems("motorvoertuigen")


def test_bm25_ranks_the_document_with_the_rare_words_first():
    index = WordIndex(["houten meubelen keuken", "houten meubelen slaapkamer", "garnalen"])
    scores = index.scores("meubelen voor de slaapkamer")
    assert scores.argmax() == 1 and scores.max() == 1.0
    assert not index.scores("onbekend").any()


def test_a_compound_meets_the_parts_the_nomenclature_names():
    known = set(stems("stabilisatoren stang kussens motoren"))
    assert compound_parts("stabilisatorstang", known) == ["stabil", "stang"]
    assert compound_parts("motorsteunkussen", known) == ["kussen"]  # "motors" unknown
    assert compound_parts("onbekendwoord", known) == []
    index = WordIndex(["stang van staal", "kussen van rubber"])
    assert index.scores("een stabilisatorstang").argmax() == 0
