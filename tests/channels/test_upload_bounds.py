"""Uploads that cost far more than their size (issue 22): each is refused with its reason
before it costs minutes or gigabytes, a slow one delays no one else's, and deleting a
guide stops its embedding. The probe's files are made by ``bench.hostile_uploads``.

Before: a 6 KB PDF of 12 pages sharing one 900,000-operator stream took 56 s (173 s
here, on a busy machine), a 31 KB DOCX of 20 MB of XML 48 s and +1 GB, a 19 MB text
became 51,670 chunks; each held the upload lock, so a small upload waited as long.
"""

from __future__ import annotations

import io
import multiprocessing
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.conversations import make_engine
from assistant.settings import Settings
from assistant.uploads import GuideFields, UploadError, Uploads
from bench.hostile_uploads import docx_of_xml, pdf_of_shared_stream, text_guide
from bench.upload import handbook
from tests.api.conftest import open_client
from tests.channels.test_helpdesk_documents import KEY, chunk_ids, guide_index, upload
from tests.conftest import copy_sample_corpus, make_settings
from tests.support.app_fixtures import wait_for

pytestmark = pytest.mark.slow

SMALL = b"# Small guide\n\nThe Zorbian levy is 7 percent of the invoice value.\n"


def uploads_of(root: Path, **limits) -> Uploads:
    """Uploads over a fresh data dir (no index: only the check and the store run)."""
    settings = make_settings(
        root / "var",
        copy_sample_corpus(root),
        database_url=f"sqlite:///{root / 'a.db'}",
        upload_max_bytes=2**25,
        **limits,
    )
    return Uploads(settings, make_engine(settings.database_url))


def refusal(uploads: Uploads, name: str, data: bytes) -> UploadError:
    with pytest.raises(UploadError) as refused:
        uploads.add(name, io.BytesIO(data), GuideFields(), "anna")
    assert refused.value.status == 422, refused.value.message
    return refused.value


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("shared-stream.pdf", pdf_of_shared_stream, "its pages' contents unpack to"),
        ("xml-bomb.docx", docx_of_xml, "its parts unpack to 19.1 MiB"),
        ("huge-guide.txt", text_guide, "characters of text; a guide may hold 2,000,000"),
    ],
)
def test_the_probes_files_are_refused_before_they_cost(tmp_path, name, make, reason):
    """With the default limits: refused by what they unpack to, or hold, not parsed whole."""
    error = refusal(uploads_of(tmp_path), name, make())
    assert error.code == "unreadable_file"
    assert f"{name}: " in error.message and reason in error.message


def test_pages_and_passages_per_guide_are_bounded(tmp_path):
    uploads = uploads_of(tmp_path, upload_max_pages=3, upload_max_chunks=5)
    pdf = handbook(tmp_path / "handbook.pdf", "7 percent", pages=4)
    assert "4 pages; a guide may have 3" in refusal(uploads, pdf.name, pdf.read_bytes()).message
    error = refusal(uploads, "long.txt", text_guide(20_000))
    assert "passages; a guide may have 5" in error.message


def test_passages_of_all_guides_together_are_bounded(tmp_path):
    uploads = uploads_of(tmp_path, upload_max_total_chunks=3)
    uploads.add("small.md", io.BytesIO(SMALL), GuideFields(), "anna")
    with pytest.raises(UploadError) as refused:
        uploads.add("long.txt", io.BytesIO(text_guide(4_000)), GuideFields(), "anna")
    assert refused.value.code == "too_many_passages" and "limit of 3" in refused.value.message


def test_a_reader_past_its_time_is_stopped(tmp_path):
    """The shared-stream PDF read for real (its unpacked size allowed): the worker is
    killed at the time budget, and nothing is left running."""
    uploads = uploads_of(tmp_path, upload_max_unpacked_bytes=2**30, upload_read_seconds=2)
    error = refusal(uploads, "shared-stream.pdf", pdf_of_shared_stream())
    assert "took longer than 2 s to read" in error.message
    assert not [p for p in multiprocessing.active_children() if p.name == "read-upload"]


def test_a_reader_past_its_memory_is_stopped(tmp_path):
    """The XML bomb parsed for real (its unpacked size allowed) within 128 MiB."""
    uploads = uploads_of(tmp_path, upload_max_unpacked_bytes=2**30, upload_read_memory_mb=128)
    error = refusal(uploads, "xml-bomb.docx", docx_of_xml())
    assert "memory" in error.message or "stopped unexpectedly" in error.message, error.message


def test_a_slow_upload_delays_no_other(tmp_path):
    """Before: each upload held the lock while it was read; another staff member's small
    guide waited 53 s. Now the small one is stored while the slow one is still read."""
    uploads = uploads_of(tmp_path, upload_max_unpacked_bytes=2**30, upload_read_seconds=600)
    slow_done = threading.Event()

    def slow() -> None:
        try:
            uploads.add("shared-stream.pdf", io.BytesIO(pdf_of_shared_stream()), GuideFields(), "a")
        except UploadError:
            pass
        finally:
            slow_done.set()

    reading = [p for p in multiprocessing.active_children() if p.name == "read-upload"]
    assert not reading
    thread = threading.Thread(target=slow, daemon=True)
    thread.start()
    wait_for(
        lambda: any(p.name == "read-upload" for p in multiprocessing.active_children()),
        what="the slow guide's reader",
    )
    rows, _ = uploads.add("small.md", io.BytesIO(SMALL), GuideFields(), "ben")
    assert not slow_done.is_set(), "the slow guide is still being read"
    assert [row.filename for row in uploads.all()] == ["small.md"]
    for worker in multiprocessing.active_children():
        if worker.name == "read-upload":
            worker.kill()  # the test has seen what it needed; the upload is refused
    thread.join()
    assert rows and [row.filename for row in uploads.all()] == ["small.md"]


# ------------------------------------------------------------ deleting stops embedding


@pytest.fixture
def desk(tmp_path, embeddings) -> Iterator[TestClient]:
    settings: Settings = guide_index(tmp_path, embeddings, upload_max_bytes=2**21)
    client = open_client(settings, embeddings)
    yield client
    client.__exit__(None, None, None)


def test_deleting_a_guide_stops_its_embedding(desk):
    """Before: deleting a guide of 51,670 chunks left it being embedded to the end."""
    response = upload(desk, "long.txt", text_guide(900_000))
    assert response.status_code == 202, response.text
    (guide,) = response.json()["uploaded"]
    settings = desk.app.state.settings
    wait_for(lambda: chunk_ids(settings, guide["source"])[1], what="its first vectors")
    deleted = desk.delete(f"/api/helpdesk/documents/{guide['id']}", headers=KEY)
    assert deleted.status_code == 200, deleted.text
    wait_for(lambda: chunk_ids(settings, guide["source"]) == (set(), set()), what="its chunks gone")
    runs = desk.app.state.upload_indexer.runs
    stopped = [run for run in runs if run.stopped]
    assert stopped and stopped[0].embedded < stopped[0].planned == guide["chunks"], runs
