"""Each loader on real files, and every way a file can be unusable."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from ingest.loaders import LoadError, load_file
from tests.conftest import DATA


def make_pdf(path: Path, pages: list[list[str]], title: str = "") -> Path:
    pdf = canvas.Canvas(str(path), pagesize=A4)
    if title:
        pdf.setTitle(title)
    for lines in pages:
        y = 800
        for line in lines:
            pdf.drawString(72, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return path


def make_docx(path: Path) -> Path:
    document = docx.Document()
    document.core_properties.title = "Export checklist"
    document.add_heading("Export checklist", level=1)
    document.add_paragraph("Check the HS code of every product before you ship.")
    document.add_heading("Documents", level=2)
    document.add_paragraph("A commercial invoice and a packing list", style="List Bullet")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Incoterm"
    table.rows[0].cells[1].text = "FOB"
    document.save(str(path))
    return path


def test_markdown_front_matter_becomes_metadata():
    [doc] = load_file(DATA / "sample/regs/consumer-rights.en.md")
    assert doc.metadata["language"] == "en"
    assert doc.metadata["date"] == "2026-09-27"
    assert doc.metadata["url"].startswith("https://eur-lex.europa.eu/")
    assert doc.metadata["title"].startswith("Directive 2011/83/EU")
    assert "---" not in doc.page_content.splitlines()[0]
    assert "14 days" in doc.page_content


def test_markdown_html_entities_are_decoded(tmp_path):
    path = tmp_path / "a.md"
    path.write_text("# Title\n\nYour customer doesn&rsquo;t need to know.\n", encoding="utf-8")
    [doc] = load_file(path)
    assert "doesn’t" in doc.page_content


def test_text_in_windows_1252_is_decoded(tmp_path):
    path = tmp_path / "legacy.txt"
    path.write_bytes("Délai de rétractation : 14 jours".encode("cp1252"))
    [doc] = load_file(path)
    assert "Délai de rétractation" in doc.page_content


def test_html_keeps_headings_and_drops_scripts():
    [doc] = load_file(DATA / "sample/guides/payment-methods.html")
    text = doc.page_content
    assert doc.metadata["title"] == "Payment methods for exporters"
    assert doc.metadata["language"] == "en"
    assert "## Letters of credit" in text
    assert "### Confirmed letters of credit" in text
    assert "- It is the riskiest method for the exporter." in text
    assert "alert(" not in text and "Home | About" not in text and "color:red" not in text


def test_pdf_text_and_title(tmp_path):
    path = make_pdf(
        tmp_path / "guide.pdf",
        [["Export guide", "Letters of credit protect the exporter."], ["Page two: open account."]],
        title="Exporter's guide",
    )
    [doc] = load_file(path)
    assert doc.metadata["title"] == "Exporter's guide"
    assert doc.metadata["pages"] == 2
    assert "Letters of credit protect the exporter." in doc.page_content
    assert "Page two: open account." in doc.page_content


def test_pdf_without_text_is_reported(tmp_path):
    path = make_pdf(tmp_path / "scan.pdf", [[]])
    with pytest.raises(LoadError, match="no extractable text"):
        load_file(path)


def test_docx_headings_lists_and_tables(tmp_path):
    [doc] = load_file(make_docx(tmp_path / "checklist.docx"))
    text = doc.page_content
    assert doc.metadata["title"] == "Export checklist"
    assert "## Export checklist" in text
    assert "### Documents" in text
    assert "- A commercial invoice and a packing list" in text
    assert "Incoterm | FOB" in text


def test_hs_csv_becomes_one_record_per_heading():
    docs = load_file(DATA / "hs-sample.csv")
    assert len(docs) == 3
    shrimp = docs[0]
    assert shrimp.metadata["atomic"] is True
    assert shrimp.page_content.startswith("HS heading 0306")
    assert "030617 (0306.17): Crustaceans; frozen, shrimps and prawns" in shrimp.page_content
    assert "Section I: live animals; animal products" in shrimp.page_content


def test_country_csv_has_names_codes_and_currency():
    docs = load_file(DATA / "country-sample.csv")
    by_section = {d.metadata["section"]: d.page_content for d in docs}
    vietnam = by_section["Vietnam (VN)"]
    assert "code VND" in vietnam and "alpha-3 VNM" in vietnam
    assert "Nom en français : Viet Nam" in vietnam
    assert "Least Developed Country" in by_section["Senegal (SN)"]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "empty"),
        ("blank.txt", b"   \n\n  ", "empty"),
        ("binary.txt", b"\x00\x01\x02binary\x00" * 20, "binary"),
        ("corrupt.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
        ("random.pdf", bytes(range(256)) * 8, "PDF"),
        ("corrupt.docx", b"PK\x03\x04 not a zip", "DOCX"),
        ("image.png", b"\x89PNG\r\n\x1a\n", "unsupported"),
        ("bad-front-matter.md", b"---\ntitle: [unclosed\n---\nbody", "front matter"),
        ("header-only.csv", b"a,b,c\n", "no rows"),
    ],
)
def test_unusable_files_raise_load_error_with_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoadError) as info:
        load_file(path)
    assert info.value.path == path
    assert reason.lower() in info.value.reason.lower()


def test_unreadable_file_is_reported(tmp_path):
    path = tmp_path / "moved.md"
    path.symlink_to(tmp_path / "gone.md")  # a dangling link: listed, but cannot be read
    with pytest.raises(LoadError, match="unreadable"):
        load_file(path)
