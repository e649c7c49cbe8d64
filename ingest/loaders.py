"""Files -> LangChain ``Document``s whose text is Markdown-like, with the file's own metadata.

One loader per format, chosen by suffix. A file that cannot be used raises
``LoadError`` with a reason a person can act on; the caller reports it and goes on.
Tabular files become self-contained records (``metadata["atomic"] = True``) that the
chunker keeps whole.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml
from langchain_core.documents import Document

__all__ = ["SUPPORTED_SUFFIXES", "LoadError", "load_file"]

MAX_FILE_BYTES = 200 * 1024 * 1024


class LoadError(Exception):
    """A file was skipped; ``reason`` says why in plain words."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# ---------------------------------------------------------------- text helpers


def _decode(path: Path, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise LoadError(path, "binary content (NUL bytes) in a text file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    # latin-1 maps every byte; only reached when cp1252's five undefined bytes occur.
    return data.decode("latin-1")


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.DOTALL)


def split_front_matter(path: Path, text: str) -> tuple[dict, str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise LoadError(path, f"invalid YAML front matter ({exc.__class__.__name__})") from exc
    if not isinstance(meta, dict):
        raise LoadError(path, "YAML front matter is not a mapping")
    return meta, text[match.end() :]


def _file_metadata(meta: dict) -> dict:
    """The front-matter fields the index keeps, under the index's own names."""
    out: dict = {}
    if meta.get("title"):
        out["title"] = str(meta["title"]).strip()
    url = meta.get("source_url") or meta.get("url")
    if url:
        out["url"] = str(url)
    date = meta.get("version_date") or meta.get("date")
    if date:
        out["date"] = re.sub(r"^(modified|updated)\s+", "", str(date)).strip()
    if meta.get("language"):
        out["language"] = str(meta["language"])
    if meta.get("publisher"):
        out["publisher"] = str(meta["publisher"])
    if meta.get("country"):
        out["country"] = str(meta["country"])
    return out


def _require_text(path: Path, text: str, what: str = "text") -> str:
    if not text.strip():
        raise LoadError(path, f"no {what} (empty file)")
    return text


# ---------------------------------------------------------------- loaders


def load_markdown(path: Path, data: bytes) -> list[Document]:
    meta, body = split_front_matter(path, _decode(path, data))
    # Some exported Markdown keeps HTML entities (&rsquo;); the reader should not see them.
    body = html.unescape(body)
    return [Document(page_content=_require_text(path, body), metadata=_file_metadata(meta))]


def load_text(path: Path, data: bytes) -> list[Document]:
    return [Document(page_content=_require_text(path, _decode(path, data)), metadata={})]


def load_html(path: Path, data: bytes) -> list[Document]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "lxml")
    for tag in soup(["script", "style", "nav", "noscript", "template"]):
        tag.decompose()
    metadata: dict = {}
    if soup.title and soup.title.get_text(strip=True):
        metadata["title"] = soup.title.get_text(strip=True)
    lang = soup.html.get("lang") if soup.html else None
    if lang:
        metadata["language"] = str(lang).split("-")[0].lower()
    body = soup.body or soup
    lines: list[str] = []
    for element in body.find_all(
        ["h1", "h2", "h3", "h4", "p", "li", "td", "th", "pre", "dt", "dd"]
    ):
        # Only innermost block elements, so nested lists/tables are not repeated.
        if element.find(["p", "li", "td", "th", "pre", "h1", "h2", "h3", "h4"]):
            continue
        text = " ".join(element.get_text(" ", strip=True).split())
        if not text:
            continue
        if element.name in {"h1", "h2", "h3", "h4"}:
            lines.append(f"\n{'#' * int(element.name[1])} {text}\n")
        elif element.name == "li":
            lines.append(f"- {text}")
        else:
            lines.append(f"{text}\n")
    text = "\n".join(lines)
    if not text.strip():
        text = body.get_text("\n", strip=True)
    return [Document(page_content=_require_text(path, text), metadata=metadata)]


def load_pdf(path: Path, data: bytes) -> list[Document]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(path, "encrypted PDF (needs a password)")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or ""
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise LoadError(path, f"corrupt or unreadable PDF ({exc.__class__.__name__})") from exc
    # Form feeds keep page boundaries visible to the chunker without merging paragraphs.
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text.strip():
        raise LoadError(path, "PDF has no extractable text (scanned? run OCR first)")
    metadata = {"pages": len(pages)}
    if title.strip():
        metadata["title"] = title.strip()
    return [Document(page_content=text, metadata=metadata)]


def load_docx(path: Path, data: bytes) -> list[Document]:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoadError(path, f"corrupt or unreadable DOCX ({exc.__class__.__name__})") from exc
    lines: list[str] = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        level = re.match(r"Heading (\d)", style)
        if style == "Title":
            lines.append(f"# {text}\n")
        elif level:
            lines.append(f"\n{'#' * min(int(level.group(1)) + 1, 4)} {text}\n")
        elif "List" in style:
            lines.append(f"- {text}")
        else:
            lines.append(f"{text}\n")
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells]
            if any(cells):
                lines.append(" | ".join(cells))
    metadata: dict = {}
    if document.core_properties.title:
        metadata["title"] = document.core_properties.title
    if document.core_properties.language:
        metadata["language"] = document.core_properties.language.split("-")[0].lower()
    return [Document(page_content=_require_text(path, "\n".join(lines)), metadata=metadata)]


# ---------------------------------------------------------------- tables


def _records(rows: Iterable[tuple[str, str]], path: Path) -> list[Document]:
    docs = [
        Document(page_content=text, metadata={"atomic": True, "section": section})
        for section, text in rows
    ]
    if not docs:
        raise LoadError(path, "CSV has a header but no rows")
    return docs


def _hs_records(path: Path, rows: list[dict[str, str]]) -> list[Document]:
    """One record per 4-digit heading: its chapter, then every 6-digit subheading and code."""
    section_names: dict[str, str] = {}
    sections_file = path.with_name("sections.csv")
    if sections_file.is_file():
        with sections_file.open(encoding="utf-8-sig", newline="") as handle:
            section_names = {r["section"]: r["name"] for r in csv.DictReader(handle)}
    by_code = {row["hscode"]: row for row in rows}
    children: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        children.setdefault(row["parent"], []).append(row)

    out: list[tuple[str, str]] = []
    for heading in (r for r in rows if r["level"] == "4"):
        code = heading["hscode"]
        chapter = by_code.get(heading["parent"], {})
        section = heading.get("section", "")
        lines = [
            f"HS heading {code} — {heading['description']}",
            f"Chapter {heading['parent']}: {chapter.get('description', '')}"
            + (
                f" (Section {section}: {section_names[section]})"
                if section in section_names
                else ""
            ),
        ]
        subs = children.get(code, [])
        if subs:
            lines.append("Subheadings (6-digit HS codes):")
            lines += [
                f"- {s['hscode']} ({s['hscode'][:4]}.{s['hscode'][4:]}): {s['description']}"
                for s in subs
            ]
        out.append((f"HS {code} — {heading['description'][:80]}", "\n".join(lines)))
    return _records(out, path)


def _country_records(path: Path, rows: list[dict[str, str]]) -> list[Document]:
    """One record per country: names (en/fr/es/ar), ISO codes, currency, region, LDC flags."""

    def field(row: dict[str, str], *names: str) -> str:
        return next((row[n].strip() for n in names if row.get(n, "").strip()), "")

    out: list[tuple[str, str]] = []
    for row in rows:
        name = field(row, "CLDR display name", "UNTERM English Short", "official_name_en")
        if not name:
            continue
        flags = [
            label
            for column, label in (
                ("Least Developed Countries (LDC)", "Least Developed Country (LDC)"),
                ("Land Locked Developing Countries (LLDC)", "Landlocked Developing Country (LLDC)"),
                ("Small Island Developing States (SIDS)", "Small Island Developing State (SIDS)"),
            )
            if row.get(column, "").strip()
        ]
        currency = field(row, "ISO4217-currency_name")
        lines = [
            f"Country: {name}",
            f"English official name: {field(row, 'UNTERM English Formal', 'official_name_en')}",
            f"Nom en français : {field(row, 'UNTERM French Short', 'official_name_fr')}"
            f" ({field(row, 'UNTERM French Formal')})",
            f"Nombre en español: {field(row, 'official_name_es', 'UNTERM Spanish Short')}",
            f"الاسم بالعربية: {field(row, 'official_name_ar', 'UNTERM Arabic Short')}",
            f"ISO 3166 codes: alpha-2 {field(row, 'ISO3166-1-Alpha-2')}, "
            f"alpha-3 {field(row, 'ISO3166-1-Alpha-3')}, numeric {field(row, 'ISO3166-1-numeric')}",
            f"Currency (ISO 4217): {currency} — code "
            f"{field(row, 'ISO4217-currency_alphabetic_code')}, "
            f"numeric {field(row, 'ISO4217-currency_numeric_code')}"
            if currency
            else "Currency (ISO 4217): none listed",
            f"Capital: {field(row, 'Capital')}; region: {field(row, 'Region Name')}"
            f" / {field(row, 'Sub-region Name')}; continent code: {field(row, 'Continent')}",
            f"Telephone code: +{field(row, 'Dial')}; internet domain: {field(row, 'TLD')}; "
            f"languages: {field(row, 'Languages')}",
        ]
        if flags:
            lines.append("UN development status: " + ", ".join(flags))
        out.append((f"{name} ({field(row, 'ISO3166-1-Alpha-2')})", "\n".join(lines)))
    return _records(out, path)


def _generic_records(
    path: Path, rows: list[dict[str, str]], per_record: int = 20
) -> list[Document]:
    out = []
    for start in range(0, len(rows), per_record):
        block = rows[start : start + per_record]
        text = "\n".join(
            "; ".join(f"{k}: {v}" for k, v in row.items() if k and v and v.strip()) for row in block
        )
        out.append((f"Rows {start + 1}-{start + len(block)}", text))
    return _records(out, path)


def load_csv(path: Path, data: bytes) -> list[Document]:
    text = _decode(path, data)
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as exc:
        raise LoadError(path, f"malformed CSV ({exc})") from exc
    if not rows:
        raise LoadError(path, "no rows (empty CSV)")
    columns = set(rows[0])
    if {"hscode", "description", "parent", "level"} <= columns:
        return _hs_records(path, rows)
    if {"ISO3166-1-Alpha-2", "ISO4217-currency_alphabetic_code"} <= columns:
        return _country_records(path, rows)
    return _generic_records(path, rows)


Loader = Callable[[Path, bytes], list[Document]]

LOADERS: dict[str, Loader] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".csv": load_csv,
}
SUPPORTED_SUFFIXES = frozenset(LOADERS)


def load_file(path: Path) -> list[Document]:
    """Load one file, or raise ``LoadError`` saying why it cannot be used."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoadError(path, f"unsupported file type '{path.suffix or path.name}'")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise LoadError(path, f"file too large ({size // 2**20} MiB)")
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(path, f"unreadable ({exc.strerror or exc.__class__.__name__})") from exc
    if not data.strip():
        raise LoadError(path, "empty file")
    try:
        return loader(path, data)
    except LoadError:
        raise
    except Exception as exc:  # a parser's bug on hostile input must not stop the run
        raise LoadError(path, f"could not parse ({exc.__class__.__name__}: {exc})") from exc
