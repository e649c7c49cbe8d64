"""What an answer may quote from a passage: its units.

A unit is a sentence, a list item or a table row, in plain text. Answers used to quote
sentences only, so a fact that sat in a table row or a short list line could not reach
the answer; and a sentence that leans on the one before ("Such goods…", "Elle peut…")
was quoted alone, meaning nothing. Here:

- a list item carries its lead-in ("The declaration must include: … the value");
- a table row carries its header ("Code: GEN28; Details: enter the duration…");
- a sentence that points back carries the sentence before it: both, or neither;
- Markdown (links, emphasis, code) is rendered to plain text by a Markdown parser, so
  no channel ever shows ``[text](url)`` or ``**``.

Each unit knows the pieces it is made of (its own sentence, and the lead-in or the
sentence before it), so that an answer never quotes the same words twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import astuple, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from markdown_it import MarkdownIt

from assistant.injection import clean_text
from assistant.sentences import MD_LINK, is_sentence, logical_lines, split_line, trim
from ingest.vectors import quantize

if TYPE_CHECKING:
    from assistant.embeddings import NamedEmbeddings

__all__ = ["ChunkUnits", "Unit", "UnitIndex", "plain_text", "quotable_units"]

log = logging.getLogger(__name__)

_MIN_CHARS = 12
_LEAD_IN = re.compile(r"[:：]\s*$")
# List markers left at the start of a quote: "2.", "(c)", "iv)", "—", and a bracket
# a source left unpaired ("(e) )  The person..."); unlike the sentence filter's, each
# needs a space after it, so "U.S. exporters" keeps its "U.".
_MARKER = re.compile(r"^(?:(?:\(?(?:\d{1,3}|[a-zA-Z]|[ivxlcIVXLC]{1,6})[.)]|[—–•)\]-])\s+)+")
# Units are kept by chunk text and by the rules that made them: a change to the rules
# (a new version) makes them again instead of serving the old ones.
RULES_VERSION = 2
# Words that open a sentence leaning on the previous one, in the answered languages.
_LEANS = re.compile(
    r"^(?:it|its|they|their|them|this|these|those|such|that|he|she|the latter|"
    r"the former|in (?:that|this|such) case|otherwise|however|also|moreover|"
    r"il|elle|ils|elles|ce|cet|cette|ces|celui-ci|celle-ci|ceux-ci|celles-ci|ceci|cela|"
    r"ladite|ledit|lesdits|lesdites|dans ce cas|toutefois|en outre|de même|"
    r"ello|ella|ellos|ellas|este|esta|estos|estas|dicho|dicha|"
    r"ele|ela|eles|elas|esse|essa|esses|essas)\b",
    re.IGNORECASE,
)
_TABLE_RULE = re.compile(r"^\|?\s*:?-{2,}")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")


@dataclass(frozen=True)
class Unit:
    """One quotable unit of a passage."""

    text: str  # as quoted: plain text, with its lead-in, header or previous sentence
    own: str  # its own words
    kind: str  # sentence | item | row
    position: int  # index of its own piece among the passage's pieces
    pieces: tuple[int, ...]  # the pieces it quotes, in order
    sentence_like: bool  # its own words pass ``is_sentence``
    leans: bool  # it points back and carries the sentence before it


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark")


def plain_text(text: str) -> str:
    """Inline Markdown as plain text: links keep their words, emphasis and code lose
    their marks, raw HTML goes."""
    if not any(mark in text for mark in "[*_`<\\!&"):
        return text
    parts: list[str] = []
    for block in _markdown().parseInline(text):
        for token in block.children or ():
            if token.type in ("text", "code_inline"):
                parts.append(token.content)
            elif token.type in ("softbreak", "hardbreak"):
                parts.append(" ")
            elif token.type == "image":
                parts.append(token.content)
    out = "".join(parts)
    out = MD_LINK.sub(r"\1", _AUTOLINK.sub(r"\1", out))
    return " ".join(out.split())


def _cells(line: str) -> list[str]:
    return [plain_text(c.strip()) for c in line.strip().strip("|").split("|")]


def quotable_units(body: str, language: str) -> list[Unit]:
    """The units of a passage body, in order."""
    pieces: list[str] = []
    units: list[Unit] = []
    lead: int | None = None  # the piece of the lead-in of the list being read
    header: list[str] | None = None
    lines = logical_lines(body)
    for n, line in enumerate(lines):
        text = line.text
        if text.startswith("#"):
            lead, header = None, None
            continue
        if text.startswith("|"):
            if _TABLE_RULE.match(text.strip().strip("|").strip()):
                continue
            cells = _cells(text)
            nxt = lines[n + 1].text if n + 1 < len(lines) else ""
            if header is None and _TABLE_RULE.match(nxt.strip().strip("|").strip()):
                header = cells
                continue
            named = header is not None and len(header) == len(cells)
            row = "; ".join(
                f"{h}: {c}" if named and h else c
                for h, c in zip(header if named else cells, cells, strict=True)
                if c
            )
            if len(row) >= _MIN_CHARS:
                pieces.append(trim(row))
                i = len(pieces) - 1
                units.append(Unit(pieces[i], pieces[i], "row", i, (i,), False, False))
            continue
        header = None
        if not line.item:
            lead = None
        for sentence in split_line(text, language):
            own = trim(_MARKER.sub("", plain_text(sentence)).strip())
            if len(own) < _MIN_CHARS or not re.search(r"[^\W\d_]{2}", own):
                continue
            pieces.append(own)
            i = len(pieces) - 1
            before: tuple[int, ...] = ()
            leans = False
            if line.item and lead is not None:
                before = (lead,)
            elif i > 0 and _LEANS.match(own) and units and units[-1].position == i - 1:
                before, leans = (i - 1,), True
            chosen = (*before, i)
            units.append(
                Unit(
                    text=" ".join(pieces[j] for j in chosen),
                    own=own,
                    kind="item" if line.item and lead is not None else "sentence",
                    position=i,
                    pieces=chosen,
                    sentence_like=is_sentence(own, language),
                    leans=leans,
                )
            )
            if not line.item and _LEAD_IN.search(own):
                lead = i
    return units


# --------------------------------------------------------------------------- the store


@dataclass(frozen=True)
class ChunkUnits:
    """A chunk's units, the sentence model's vectors of them, and of its title line."""

    units: tuple[Unit, ...]
    vectors: np.ndarray  # int8 rows: the title line's first, then one per unit
    scales: np.ndarray  # float32, one per row

    def vector(self, row: int) -> np.ndarray:
        return self.vectors[row].astype(np.float32) * self.scales[row]

    def matrix(self) -> np.ndarray:
        return self.vectors.astype(np.float32) * self.scales[:, None]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    units TEXT NOT NULL,
    vectors BLOB NOT NULL,
    scales BLOB NOT NULL
)
"""


class UnitIndex:
    """The units of each chunk and their vectors, made once per chunk and kept in SQLite
    under the data dir: a restart, another worker and every later question reuse them.

    Splitting a chunk takes about 2 ms and embedding its units a few more: done per
    question over a pool of 100 passages, that was most of an answer's time. What a
    question needs and nobody made yet is made on the spot (and kept); ``fill`` makes the
    rest in the background.
    """

    def __init__(self, path: Path, embeddings: NamedEmbeddings | None) -> None:
        self.path = path
        self.embeddings = embeddings
        self.model = embeddings.name if embeddings is not None else "none"
        self._memory: dict[str, ChunkUnits] = {}
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def __len__(self) -> int:
        return len(self._memory)

    def get(self, chunks: Sequence[tuple[str, str, dict]]) -> dict[str, ChunkUnits]:
        """The units of each (id, text, metadata) chunk, made where nobody has yet. They
        are kept by text (and language), not by id: a chunk whose metadata changed (a new
        link, say) has a new id and the same units."""
        keyed = {id_: (_key(text, meta), text, meta) for id_, text, meta in chunks}
        found = {k: self._memory[k] for k, _, _ in keyed.values() if k in self._memory}
        missing = {k: (k, text, meta) for k, text, meta in keyed.values() if k not in found}
        if missing:
            found.update(self._load(list(missing)))
            missing = {k: c for k, c in missing.items() if k not in found}
        if missing:
            made = self._make(list(missing.values()))
            self._save(made)
            found.update(made)
        return {id_: found[k] for id_, (k, _, _) in keyed.items()}

    def fill(
        self,
        chunks: Sequence[tuple[str, str, dict]],
        *,
        batch: int = 256,
        stop: Callable[[], bool] = lambda: False,
    ) -> int:
        """Load or make the units of every chunk, a batch at a time; returns how many."""
        done = 0
        for start in range(0, len(chunks), batch):
            if stop():
                break
            done += len(self.get(chunks[start : start + batch]))
            if start // batch % 20 == 0:
                log.info("units: %d/%d chunks read", done, len(chunks))
        return done

    def _load(self, keys: list[str]) -> dict[str, ChunkUnits]:
        out: dict[str, ChunkUnits] = {}
        with closing(self._connect()) as db:
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                rows = db.execute(
                    f"SELECT key, units, vectors, scales FROM units WHERE model = ? "
                    f"AND key IN ({','.join('?' * len(part))})",
                    (self.model, *part),
                ).fetchall()
                for id_, units, vectors, scales in rows:
                    decoded = tuple(Unit(*u[:4], tuple(u[4]), *u[5:]) for u in json.loads(units))
                    out[id_] = ChunkUnits(
                        decoded,
                        np.frombuffer(vectors, np.int8).reshape(len(decoded) + 1, -1),
                        np.frombuffer(scales, np.float32),
                    )
        with self._lock:
            self._memory.update(out)
        return out

    def _make(self, chunks: Sequence[tuple[str, str, dict]]) -> dict[str, ChunkUnits]:
        split = [
            (id_, str(meta.get("context", "")), _units_of(text, meta)) for id_, text, meta in chunks
        ]
        texts = [t for _, context, units in split for t in (context, *(u.text for u in units))]
        if self.embeddings is None or not texts:
            vectors = np.zeros((len(texts), 1), np.float32)
        else:
            vectors = self.embeddings.encode_passages(texts)
        out: dict[str, ChunkUnits] = {}
        row = 0
        for id_, _, units in split:
            ints, scales = quantize(np.asarray(vectors[row : row + len(units) + 1], np.float32))
            out[id_] = ChunkUnits(tuple(units), ints, scales)
            row += len(units) + 1
        with self._lock:
            self._memory.update(out)
        return out

    def _save(self, made: dict[str, ChunkUnits]) -> None:
        rows = [
            (
                id_,
                self.model,
                json.dumps([astuple(u) for u in c.units], ensure_ascii=False),
                c.vectors.tobytes(),
                c.scales.astype(np.float32).tobytes(),
            )
            for id_, c in made.items()
        ]
        try:
            with closing(self._connect()) as db, db:
                db.executemany("INSERT OR REPLACE INTO units VALUES (?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:  # kept in memory all the same
            log.warning("units not saved (%s)", exc)


def _key(text: str, meta: dict) -> str:
    key = f"{RULES_VERSION}\0{meta.get('language') or 'en'}\0{text}"
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def _units_of(text: str, meta: dict) -> list[Unit]:
    """The units of a chunk's body, once what it says to a model is cut out: an answer
    never quotes an instruction planted in a document."""
    context = str(meta.get("context", ""))
    body = text[len(context) :].lstrip() if context and text.startswith(context) else text
    return quotable_units(clean_text(body), str(meta.get("language") or "en"))
