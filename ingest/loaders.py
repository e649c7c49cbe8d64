"""Files -> LangChain ``Document``s whose text is Markdown-like, with the file's own metadata.

One loader per format, chosen by suffix. A file that cannot be used raises
``LoadError`` with a reason a person can act on; the caller reports it and goes on.
Tabular files become self-contained records (``metadata["atomic"] = True``) that the
chunker keeps whole.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import html
import io
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml
from langchain_core.documents import Document

from ingest.links import document_url

__all__ = ["SUPPORTED_SUFFIXES", "LoadError", "load_file"]

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_WORD = 1000


class LoadError(Exception):
    """A file was skipped; ``reason`` says why in plain words."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# ---------------------------------------------------------------- text helpers


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Read a byte that is not UTF-8 as Windows-1252 (latin-1 for its five holes)."""
    assert isinstance(error, UnicodeDecodeError)
    byte = error.object[error.start : error.start + 1]
    try:
        return byte.decode("cp1252"), error.start + 1
    except UnicodeDecodeError:
        return byte.decode("latin-1"), error.start + 1


codecs.register_error("ingest-cp1252", _cp1252_fallback)


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text without a byte-order mark: mostly-ASCII text has NULs in every other byte."""
    even, odd = data[0::2].count(0), data[1::2].count(0)
    half = len(data) // 2
    if half < 4 or max(even, odd) < 0.4 * half or min(even, odd) > 0.05 * half:
        return None
    try:
        text = data.decode("utf-16-be" if even > odd else "utf-16-le")
    except UnicodeDecodeError:
        return None
    # Words are separated by spaces: binary that happens to have NULs in place is not.
    return text if sum(c.isspace() for c in text) * 100 >= len(text) else None


def _decode(path: Path, data: bytes) -> str:
    """Text of any usual encoding: UTF-8 (with or without BOM), UTF-16/32 with a BOM or
    UTF-16 without, Windows-1252/latin-1, and UTF-8 files with stray Windows-1252 bytes
    (a file edited with two editors), each byte read the way it was most likely meant."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise LoadError(path, f"invalid {encoding.upper()} text") from exc
    if b"\x00" in data:
        text = _utf16_without_bom(data)
        if text is not None:
            return text
        if data.count(0) > max(8, len(data) // 100):
            raise LoadError(path, "binary content (NUL bytes) in a text file")
        data = data.replace(b"\x00", b"")  # a few stray NULs: the text around them is fine
    return data.decode("utf-8-sig", errors="ingest-cp1252")


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


def _scalar(meta: dict, *keys: str) -> str:
    """The first of ``keys`` holding a plain value; lists and mappings are ignored (and a
    YAML alias bomb is never expanded by ``str``)."""
    for key in keys:
        value = meta.get(key)
        if isinstance(value, (str, int, float, dt.date)) and str(value).strip():
            return str(value).strip()
    return ""


def _file_metadata(meta: dict) -> dict:
    """The front-matter fields the index keeps, under the index's own names. ``url`` is
    there only when the front matter says where the text is published (empty: nowhere)."""
    fields = {
        "title": _scalar(meta, "title"),
        "date": re.sub(
            r"^(modified|updated)\s+", "", _scalar(meta, "version_date", "date")
        ).strip(),
        "language": _scalar(meta, "language"),
        "publisher": _scalar(meta, "publisher"),
        "country": _scalar(meta, "country"),
    }
    kept = {key: value for key, value in fields.items() if value}
    if (url := document_url(meta)) is not None:
        kept["url"] = url
    return kept


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
    # Only innermost block elements, so nested lists/tables are not repeated. Their
    # ancestors are marked in one pass: bs4's find() per element walks the whole subtree,
    # which is quadratic on a deeply nested page (hours at 40,000 levels).
    blocks = body.find_all(["h1", "h2", "h3", "h4", "p", "li", "td", "th", "pre", "dt", "dd"])
    outer: set[int] = set()
    for inner in blocks:
        for parent in inner.parents:
            if id(parent) in outer:
                break
            outer.add(id(parent))
    lines: list[str] = []
    for element in blocks:
        if id(element) in outer:
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
        docs = loader(path, data)
    except LoadError:
        raise
    except RecursionError as exc:
        raise LoadError(path, "too deeply nested to parse") from exc
    except Exception as exc:  # a parser's bug on hostile input must not stop the run
        raise LoadError(path, f"could not parse ({exc.__class__.__name__}: {exc})") from exc
    return _plausible_text(path, docs)


# Runs this long without a space are encoded data (base64 images, data: URIs), not words.
# Anchored at a run's start: unanchored, each position of a long run would start a new try.
_BLOB = re.compile(rf"(?<!\S)\S{{{MAX_WORD},}}")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")


def _plausible_text(path: Path, docs: list[Document]) -> list[Document]:
    """The documents without encoded blobs; an error if what is left is not text."""
    for doc in docs:
        doc.page_content = _BLOB.sub(" ", doc.page_content)
    docs = [doc for doc in docs if doc.page_content.strip()]
    if not docs:
        raise LoadError(path, f"no text (only runs of over {MAX_WORD} characters without spaces)")
    sample = "".join(doc.page_content[:20_000] for doc in docs[:50])
    if len(_CONTROL.findall(sample)) > 0.05 * len(sample):
        raise LoadError(path, "binary or garbled content (control characters) in a text file")
    return docs
