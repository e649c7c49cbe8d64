"""Up in a minute on a fresh clone: keyword search at once, vectors in the background,
progress on /readyz, nothing re-embedded once complete, complete at once on a restart
(what was completed is stamped), and the real `serve` command."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import threading
import time

import httpx
import pytest
from filelock import FileLock
from typer.testing import CliRunner

from assistant import cli
from assistant.embeddings import NamedEmbeddings
from assistant.store import chroma_client
from ingest.index import COMPLETE_STAMP, Indexer
from tests.api.conftest import open_client
from tests.conftest import PYTHON, copy_sample_corpus, make_settings, subprocess_env
from tests.support.app_fixtures import wait_for
from tests.support.servers import free_port

pytestmark = pytest.mark.slow

FACTORING = "How much of an invoice can I borrow with invoice factoring?"


class MeteredEmbeddings(NamedEmbeddings):
    """The real embedder; each passage batch first takes a permit from ``permits`` (so a
    test can hold indexing at a known step) and is counted."""

    def __init__(self, inner: NamedEmbeddings, permits: int = 1_000_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.permits = threading.Semaphore(permits)
        self.embedded = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.permits.acquire()  # the test lets it through (or its hang guard ends it)
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


@pytest.fixture
def fresh(tmp_path):
    """Settings over a fresh data dir and a copy of the sample corpus; small steps."""
    return make_settings(tmp_path / "var", copy_sample_corpus(tmp_path), background_batch_size=4)


def readiness(client) -> dict:
    return client.get("/readyz").json()


def test_fresh_data_dir_answers_from_keywords_while_vectors_are_built(fresh, embeddings, caplog):
    caplog.set_level(logging.INFO, logger="assistant")
    caplog.set_level(logging.INFO, logger="ingest.background")
    metered = MeteredEmbeddings(embeddings, permits=0)
    client = open_client(fresh, metered, complete=False)
    try:
        # "embedding" is announced before the delta (and so the total) is known.
        held = wait_for(
            lambda: (
                (r := readiness(client))["indexing"]["phase"] == "embedding"
                and r["indexing"]["total"]
                and r
            ),
        )
        assert held["ready"] and held["documents"] == 7
        total = held["indexing"]["total"]
        assert total == held["chunks"] and held["indexing"]["percent"] == 0

        lexical = client.post("/api/chat", json={"message": FACTORING}).json()
        assert lexical["lexical_only"] and not lexical["refused"] and "90%" in lexical["answer"]
        assert any("keyword search only" in notice for notice in lexical["notices"])

        metered.permits.release()  # one batch of 4 chunks
        step = wait_for(lambda: (r := readiness(client))["indexing"]["done"] == 4 and r)
        assert step["indexing"]["percent"] == int(100 * 4 / total)
        assert not step["indexing"]["dense_ready"]
        assert f"indexing: 4/{total} chunks embedded" in caplog.text

        metered.permits.release(1000)
        wait_for(lambda: readiness(client)["indexing"]["phase"] == "complete")
        assert readiness(client)["indexing"]["percent"] == 100 and metered.embedded == total
        hybrid = client.post("/api/chat", json={"message": FACTORING}).json()
        assert not hybrid["lexical_only"]
        assert not any("keyword search only" in notice for notice in hybrid["notices"])
    finally:
        metered.permits.release(1000)
        client.__exit__(None, None, None)


def test_a_complete_index_is_not_re_embedded(sample_index, embeddings):
    metered = MeteredEmbeddings(embeddings)
    client = open_client(sample_index, metered)
    try:
        assert metered.embedded == 0
        assert readiness(client)["indexing"]["total"] == 0
    finally:
        client.__exit__(None, None, None)


def test_nothing_to_search_yet_is_a_503_with_retry_after(fresh, embeddings):
    fresh.data_dir.mkdir(parents=True)
    lock = FileLock(fresh.data_dir / ".lexical.lock")  # as if another process were reading
    lock.acquire()
    client = open_client(fresh, embeddings, complete=False)
    try:
        wait_for(lambda: readiness(client)["indexing"]["phase"] == "reading")
        assert client.get("/readyz").status_code == 503
        refused = client.post("/api/chat", json={"message": FACTORING})
        assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
        assert refused.json()["error"]["code"] == "index_not_ready"
        lock.release()
        wait_for(lambda: client.get("/readyz").status_code == 200)
        assert client.post("/api/chat", json={"message": FACTORING}).status_code == 200
    finally:
        if lock.is_locked:
            lock.release()
        client.__exit__(None, None, None)


def test_another_process_embedding_is_shown_and_waited_for(fresh, embeddings):
    fresh.data_dir.mkdir(parents=True)
    lock = FileLock(fresh.data_dir / ".dense.lock")
    lock.acquire()
    (fresh.data_dir / "indexing-progress.json").write_text(json.dumps({"done": 3, "total": 12}))
    client = open_client(fresh, embeddings, complete=False)
    try:
        waiting = wait_for(lambda: (r := readiness(client))["indexing"]["phase"] == "waiting" and r)
        assert waiting["indexing"]["percent"] == 25 and waiting["ready"]
        lock.release()
        wait_for(lambda: readiness(client)["indexing"]["phase"] == "complete")
    finally:
        if lock.is_locked:
            lock.release()
        client.__exit__(None, None, None)


def test_an_index_built_by_another_embedder_still_answers_by_keywords(sample_index, embeddings):
    class Other(MeteredEmbeddings):
        pass

    other = Other(embeddings)
    other.name = "sentence-transformers:some-other-model"
    client = open_client(sample_index, other, complete=False)
    try:
        failed = wait_for(lambda: (r := readiness(client))["indexing"]["phase"] == "failed" and r)
        assert "built with embedder" in failed["indexing"]["error"]
        answer = client.post("/api/chat", json={"message": FACTORING}).json()
        assert answer["lexical_only"] and not answer["refused"]
    finally:
        client.__exit__(None, None, None)


def test_index_on_start_off_serves_the_index_as_built(sample_index, embeddings):
    metered = MeteredEmbeddings(embeddings)
    settings = sample_index.model_copy(update={"index_on_start": False})
    client = open_client(settings, metered)
    try:
        answer = client.post("/api/chat", json={"message": FACTORING}).json()
        assert not answer["lexical_only"] and metered.embedded == 0
    finally:
        client.__exit__(None, None, None)


def test_several_workers_need_a_chroma_server(fresh):
    env = {**subprocess_env(fresh), "ASSISTANT_CHROMA_URL": ""}
    result = CliRunner().invoke(cli.app, ["serve", "--workers", "2"], env=env)
    assert result.exit_code == 2 and "ASSISTANT_CHROMA_URL" in result.output


def test_serve_answers_with_citations_within_a_minute_of_a_fresh_start(fresh):
    """`python -m assistant serve` on a fresh data dir: the real command, the real embedder."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    proc = subprocess.Popen(
        [PYTHON, "-m", "assistant", "serve", "--port", str(port)],
        env=subprocess_env(fresh),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def cited_answer():
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited with {proc.returncode}")
        try:
            response = httpx.post(f"{url}/api/chat", json={"message": FACTORING}, timeout=None)
        except httpx.TransportError:
            return None
        return response.status_code == 200 and response.json()["citations"] and response.json()

    try:
        answer = wait_for(cited_answer, "a cited answer")
        elapsed = time.monotonic() - started
        assert answer["citations"][0]["source"] == "guides/borrow-against-assets.md"
        print(f"fresh start to first cited answer: {elapsed:.1f} s")
        wait_for(lambda: httpx.get(f"{url}/readyz", timeout=None).json()["indexing"]["dense_ready"])
    finally:
        proc.terminate()
        _, log = proc.communicate()
    # uvicorn re-raises the signal once it has shut down gracefully
    assert proc.returncode in (0, -15) and "Application shutdown complete" in log, log
    assert "keyword search ready: 7 documents" in log
    assert "vector index complete" in log


def phases(caplog) -> list[str]:
    return re.findall(r"indexing phase: (\w+)", caplog.text)


def checked(caplog) -> bool:
    return "vector index complete" in caplog.text


def test_a_restart_with_a_complete_index_is_complete_at_once(fresh, embeddings, caplog):
    caplog.set_level(logging.INFO, logger="ingest.background")
    open_client(fresh, embeddings).__exit__(None, None, None)
    assert phases(caplog)[:3] == ["reading", "lexical", "embedder"]
    assert (fresh.data_dir / COMPLETE_STAMP).is_file()

    caplog.clear()
    metered = MeteredEmbeddings(embeddings)
    client = open_client(fresh, metered, complete=False)
    try:
        # Complete as soon as the embedder is loaded; the check that follows is unseen.
        wait_for(lambda: checked(caplog), "the index checked")
        assert phases(caplog) == ["embedder", "complete"]
        assert readiness(client)["indexing"]["dense_ready"] and metered.embedded == 0
    finally:
        client.__exit__(None, None, None)

    # A changed file: the stamp no longer fits, the phases show again.
    guide = next(fresh.corpus_dir.rglob("*.md"))
    guide.write_text(guide.read_text() + "\n\nA new paragraph about invoice factoring fees.\n")
    caplog.clear()
    client = open_client(fresh, embeddings)
    try:
        wait_for(lambda: checked(caplog), "the index checked")
        assert phases(caplog)[:2] == ["reading", "lexical"] and phases(caplog)[-1] == "complete"
    finally:
        client.__exit__(None, None, None)


def test_a_stamp_that_lies_is_corrected_by_the_check(fresh, embeddings, caplog):
    """Vectors deleted behind the stamp's back: complete at first, then embedding them."""
    caplog.set_level(logging.INFO, logger="ingest.background")
    open_client(fresh, embeddings).__exit__(None, None, None)
    collection = chroma_client(fresh).get_collection(fresh.collection)
    lost = collection.get(include=[], limit=3)["ids"]
    collection.delete(ids=lost)

    caplog.clear()
    metered = MeteredEmbeddings(embeddings)
    client = open_client(fresh, metered, complete=False)
    try:
        wait_for(lambda: checked(caplog), "the index checked")
        assert phases(caplog) == ["embedder", "complete", "embedding", "complete"]
        assert metered.embedded == len(lost) == 3
        assert readiness(client)["indexing"]["dense_ready"]
    finally:
        client.__exit__(None, None, None)


def test_python_m_ingest_removes_the_stamp(fresh, embeddings):
    """A run of ingest may leave the index unfinished (killed): the server checks first."""
    fresh.data_dir.mkdir(parents=True)
    stamp = fresh.data_dir / COMPLETE_STAMP
    stamp.write_text('{"fingerprint": "x"}')
    Indexer(fresh, embeddings).run([fresh.corpus_dir], dry_run=True)
    assert stamp.is_file()  # a dry run changes nothing
    Indexer(fresh, embeddings).run([fresh.corpus_dir])
    assert not stamp.exists()
