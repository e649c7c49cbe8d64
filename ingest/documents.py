"""Finding the files to ingest and giving each loaded document its full provenance."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from langchain_core.documents import Document

from ingest.loaders import load_file
from ingest.manifest import Manifest
from ingest.structure import clip, visible

__all__ = ["SourceFile", "discover", "load_source"]

CORPUS_ROOT = "corpus"
UPLOADS_ROOT = "uploads"  # guides uploaded from the helpdesk page (assistant/uploads.py)
MAX_TITLE = 1000  # EU act titles run to 450 characters
_LANG_SUFFIX = re.compile(r"\.(en|fr|es|ar|pt|de|it)$")


@dataclass(frozen=True)
class SourceFile:
    """A file and where it sits: ``root`` scopes deletions, ``source`` is what citations show."""

    root: str
    source: str
    path: Path


def root_label(root: Path, corpus_dir: Path) -> str:
    """'corpus' for the shipped corpus; a stable label per other folder the user ingests."""
    resolved = root.resolve()
    if resolved == corpus_dir.resolve():
        return CORPUS_ROOT
    return "local-" + hashlib.sha1(str(resolved).encode()).hexdigest()[:10]


def discover(root: Path, corpus_dir: Path, manifest: Manifest) -> list[SourceFile]:
    """Candidate files under ``root`` (a folder or one file), sorted, minus provenance files."""
    label = root_label(root, corpus_dir)
    if root.is_file():
        return [SourceFile(label, root.name, root)]
    files = []
    for path in _walk(root):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        source = (
            rel.as_posix() if label == CORPUS_ROOT else f"{root.resolve().name}/{rel.as_posix()}"
        )
        if label == CORPUS_ROOT:
            if rel.as_posix() in {"manifest.yaml", "README.md"}:
                continue
            info = manifest.for_source(source)
            if info and info.excludes(path.name):
                continue
        files.append(SourceFile(label, source, path))
    return files


def _walk(root: Path) -> list[Path]:
    """Files under ``root``, following symlinked folders once (cycles are cut)."""
    seen: set[str] = set()
    found: list[Path] = []
    for folder, dirs, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        found += [Path(folder) / name for name in names]
    return sorted(p for p in found if p.is_file() or p.is_symlink())


def _detect_language(text: str) -> str:
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0  # langdetect is random unless seeded
    try:
        return detect(text[:3000])
    except LangDetectException:
        return "und"


def _first_heading(text: str) -> str:
    match = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


def load_source(file: SourceFile, manifest: Manifest) -> list[Document]:
    """Load a file and stamp every document with source, title, licence, language and date.

    Raises ``ingest.loaders.LoadError`` when the file cannot be used.
    """
    docs = load_file(file.path)
    info = manifest.for_source(file.source) if file.root == CORPUS_ROOT else None
    stem = _LANG_SUFFIX.sub("", file.path.stem)
    suffix_lang = _LANG_SUFFIX.search(file.path.stem)
    for doc in docs:
        meta = doc.metadata
        if not meta.get("title"):
            meta["title"] = (
                _first_heading(doc.page_content)
                or (info.title if info and meta.get("atomic") else "")
                or stem.replace("_", " ").replace("-", " ").strip().capitalize()
            )
        # Every chunk carries the title: a megabyte one would fill the index.
        meta["title"] = clip(str(meta["title"]), MAX_TITLE)
        if not meta.get("language"):
            if suffix_lang:
                meta["language"] = suffix_lang.group(1)
            elif info and len(info.languages) == 1:
                meta["language"] = info.languages[0]
            else:
                meta["language"] = _detect_language(doc.page_content)
        meta.update(
            source=file.source,
            root=file.root,
            # A file's own statement wins, even "no official page" (an empty one).
            url=meta.get("url", info.url if info else ""),
            publisher=meta.get("publisher") or (info.publisher if info else ""),
            licence=info.licence if info else "",
            jurisdiction=info.jurisdiction if info else "",
            topics=",".join(info.topics) if info else "",
            date=meta.get("date") or (info.date if info else ""),
            kind=info.kind if info else "user",
        )
        for key, value in meta.items():  # titles and the like, as every channel shows them
            if isinstance(value, str):
                meta[key] = visible(value)
    return docs
