"""What an answer may quote: sentences, list items with their lead-in, table rows with
their header, a sentence that points back with the one before it, Markdown as plain
text; and the store that makes them once per chunk text."""

from __future__ import annotations

import numpy as np

from assistant.embeddings import make_embeddings
from assistant.units import UnitIndex, plain_text, quotable_units


def texts(body: str, language: str = "en") -> list[str]:
    return [u.text for u in quotable_units(body, language)]


def test_a_list_item_is_quoted_with_its_lead_in():
    body = (
        "The electronic export information must include:\n"
        "- the name and address of the U.S. principal party in interest;\n"
        "- the value of the goods in U.S. dollars.\n"
        "Filing is done through AES."
    )
    units = quotable_units(body, "en")
    items = [u for u in units if u.kind == "item"]
    assert [u.own for u in items] == [
        "the name and address of the U.S. principal party in interest;",
        "the value of the goods in U.S. dollars.",
    ]
    assert all(u.text.startswith("The electronic export information must include:") for u in items)
    # the line after the list is a sentence of its own, without the lead-in
    assert units[-1].kind == "sentence" and units[-1].text == "Filing is done through AES."


def test_a_table_row_is_quoted_with_its_header():
    body = (
        "| Code | Details to be declared |\n"
        "|---|---|\n"
        "| GEN28 | Enter the duration of use and the date of re-export. |\n"
    )
    [row] = quotable_units(body, "en")
    assert row.kind == "row"
    details = "Enter the duration of use and the date of re-export."
    assert row.text == f"Code: GEN28; Details to be declared: {details}"


def test_a_row_without_a_header_keeps_its_cells():
    [row] = quotable_units(
        "| Temporary admission | GEN33 | Enter where the event takes place. |", "en"
    )
    assert row.text == "Temporary admission; GEN33; Enter where the event takes place."


def test_a_sentence_that_points_back_carries_the_one_before():
    body = (
        "Le consommateur dispose d'un délai de quatorze jours pour se rétracter. "
        "Il peut exercer ce droit sans motif."
    )
    first, second = quotable_units(body, "fr")
    assert not first.leans and second.leans
    assert second.text == (
        "Le consommateur dispose d'un délai de quatorze jours pour se rétracter. "
        "Il peut exercer ce droit sans motif."
    )
    assert second.pieces == (0, 1) and second.own == "Il peut exercer ce droit sans motif."


def test_markdown_is_plain_text_and_list_markers_go():
    body = (
        "(c) See the **[guidance on exports](https://example.org/a b.pdf)** for `AES` filers.\n"
        "2. Exporters must keep *records* for five years.\n\n"
        "(e) )  The filer must be in the United States at the time of filing.\n\n"
        "U.S. exporters file through the AES."
    )
    assert texts(body) == [
        "See the guidance on exports for AES filers.",
        "Exporters must keep records for five years.",
        "The filer must be in the United States at the time of filing.",
        "U.S. exporters file through the AES.",
    ]
    assert plain_text("[Final 06-09-11](http://export.gov/x y.pdf) rules") == "Final 06-09-11 rules"


def test_headings_and_scraps_are_not_units():
    assert texts("## Article 9\n\nOK\n\n12.5") == []


def test_units_are_made_once_per_text_and_kept_across_instances(tmp_path):
    model = make_embeddings("use")
    path = tmp_path / "units.sqlite"
    chunk = (
        "doc::1",
        "Title › Section\n\nExporters must keep records for five years.",
        {"context": "Title › Section", "language": "en"},
    )
    first = UnitIndex(path, model).get([chunk])["doc::1"]
    assert [u.text for u in first.units] == ["Exporters must keep records for five years."]
    # row 0 is the title line, then one row per unit; int8 rows keep the cosine
    vectors = model.encode_passages(
        ["Title › Section", "Exporters must keep records for five years."]
    )
    restored = first.matrix()
    cosines = (
        (restored * vectors).sum(1)
        / np.linalg.norm(restored, axis=1)
        / np.linalg.norm(vectors, axis=1)
    )
    assert cosines.min() > 0.999
    # another process (a new instance) reads them back; a changed id with the same text too
    again = UnitIndex(path, model)
    renamed = ("doc::1-new-link", chunk[1], {**chunk[2], "url": "https://example.org/new"})
    found = again.get([renamed])["doc::1-new-link"]
    assert found.units == first.units and np.array_equal(found.vectors, first.vectors)
    assert len(again) == 1
