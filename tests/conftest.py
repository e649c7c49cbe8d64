"""Shared fixtures: real embedder, real Chroma, small real documents."""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from assistant.embeddings import NamedEmbeddings, make_embeddings
from assistant.settings import Settings

pytest_plugins = [
    "tests.support.llm_server",
    "tests.support.app_fixtures",
    "tests.support.browser_fixtures",
    "tests.support.postgres",
]

DATA = Path(__file__).parent / "data"
TEST_EMBEDDER = "minilm"  # the fastest real model we ship

MANIFEST = """\
sources:
  regs:
    title: "Sample regulations"
    publisher: "Test Publisher"
    licence: "Public-Domain-US-Gov"
    url: "https://example.org/regs"
    languages: [en, fr]
    jurisdiction: US
    topics: [export-filing]
    date: "2025-01"
    kind: legal
    exclude: ["SOURCE.txt"]
  guides:
    title: "Sample guides"
    publisher: "Guide Publisher"
    licence: "OGL-UK-3.0"
    url: "https://example.org/guides"
    languages: [en]
    jurisdiction: UK
    topics: [finance, payment]
    date: "2018"
    kind: guidance
  hs-nomenclature:
    title: "Harmonized System nomenclature (sample)"
    publisher: "World Customs Organization"
    licence: "ODC-PDDL-1.0"
    url: "https://example.org/hs"
    languages: [en]
    jurisdiction: international
    topics: [hs-code]
    date: "HS 2022"
    kind: data
    exclude: ["sections.csv"]
"""


@pytest.fixture(scope="session")
def embeddings() -> NamedEmbeddings:
    return make_embeddings(TEST_EMBEDDER)


def copy_sample_corpus(root: Path) -> Path:
    """The sample corpus with its manifest and the HS sample, under ``root/corpus``."""
    corpus = root / "corpus"
    shutil.copytree(DATA / "sample", corpus)
    (corpus / "manifest.yaml").write_text(MANIFEST, encoding="utf-8")
    hs = corpus / "hs-nomenclature"
    hs.mkdir()
    shutil.copy(DATA / "hs-sample.csv", hs / "harmonized-system.csv")
    shutil.copy(DATA / "sections.csv", hs / "sections.csv")
    return corpus


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A small corpus with a manifest, copied so tests may change it."""
    root = copy_sample_corpus(tmp_path)
    (root / "regs" / "SOURCE.txt").write_text("provenance, not content", encoding="utf-8")
    return root


@functools.cache
def sample_hs_languages() -> Path:
    """The HS sample's nomenclature in French and Dutch (tests/data/cn-sample, written in
    the Combined Nomenclature's layout), built once per run by the real builder."""
    from ingest.hs_languages import build, write

    out = Path(tempfile.mkdtemp(prefix="hs-languages-")) / "hs-languages.json.gz"
    write(build(DATA / "cn-sample", 2025), out)
    return out


def make_settings(data_dir: Path, corpus: Path, **overrides) -> Settings:
    values = dict(
        data_dir=data_dir,
        hs_languages=sample_hs_languages(),
        hs_precedents=None,  # tests/test_hs_precedents.py reads the shipped ones
        corpus_dir=corpus,
        embedder=TEST_EMBEDDER,
        chunk_size=400,
        chunk_overlap=40,
        # Tests send many requests from one address; tests/security turn budgets on.
        rate_limit="",
        conversation_rate_limit="",
        refused_rate_limit="",
        feedback_rate_limit="",
        helpdesk_rate_limit="",
        whatsapp_rate_limit="",
        conversation_feedback_rate_limit="",
        reads_rate_limit="",
        helpdesk_key_failure_limit="",
        helpdesk_global_key_failure_limit="",
        handoff_rate_limit="",
        _env_file=None,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return make_settings(tmp_path / "var", corpus)


def subprocess_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for running `python -m ingest` / `python -m assistant` on ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        ASSISTANT_DATA_DIR=str(settings.data_dir),
        ASSISTANT_CORPUS_DIR=str(settings.corpus_dir),
        ASSISTANT_EMBEDDER=settings.embedder,
        ASSISTANT_CHUNK_SIZE=str(settings.chunk_size),
        ASSISTANT_CHUNK_OVERLAP=str(settings.chunk_overlap),
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
        **extra,
    )
    return env


PYTHON = sys.executable
