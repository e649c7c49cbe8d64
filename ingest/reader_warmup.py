"""Imported once by the server process that forks upload readers (``ingest.bounded``):
what every reader would otherwise load for itself, each time (parsers, and langdetect's
language profiles, about a second)."""

from __future__ import annotations

import bs4  # noqa: F401
import docx  # noqa: F401
import lxml.etree  # noqa: F401
import pypdf  # noqa: F401
from langdetect.detector_factory import init_factory

import ingest.bounded  # noqa: F401

init_factory()
