"""Provenance of the corpus: ``corpus/manifest.yaml`` read into typed entries."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

__all__ = ["Manifest", "SourceInfo"]


class SourceInfo(BaseModel):
    """What is known about one source folder; copied onto each of its chunks."""

    title: str = ""
    publisher: str = ""
    licence: str = ""
    licence_quote: str = ""
    url: str = ""
    languages: list[str] = Field(default_factory=list)
    jurisdiction: str = ""
    topics: list[str] = Field(default_factory=list)
    date: str = ""
    kind: str = "guidance"
    exclude: list[str] = Field(default_factory=list)

    def excludes(self, name: str) -> bool:
        return any(fnmatch.fnmatch(name, pattern) for pattern in self.exclude)


class Manifest(BaseModel):
    sources: dict[str, SourceInfo] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read a manifest; a folder without one (a user's own documents) has none."""
        if not path.is_file():
            return cls()
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})

    def for_source(self, source: str) -> SourceInfo | None:
        """The entry of the top-level folder that holds ``source`` (a corpus-relative path)."""
        folder = source.split("/", 1)[0]
        return self.sources.get(folder)
