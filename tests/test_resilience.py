"""Real processes: an ingest killed part-way, and Chroma as a `chroma run` server."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.lexical import LexicalIndex
from assistant.retrieval import Retriever
from assistant.store import chroma_address, chroma_client, vector_store
from ingest.index import Indexer
from tests.conftest import PYTHON, subprocess_env
from tests.support.servers import ChromaServer
from tests.test_index import index_contents

pytestmark = pytest.mark.slow


def grow(corpus: Path, copies: int) -> None:
    """Copies of the guides, so that a run has many batches to interrupt."""
    for n in range(copies):
        shutil.copytree(corpus / "guides", corpus / f"guides-{n:02d}")


# ``python -m ingest`` as run from a terminal, where SIGINT is Ctrl+C: a process started
# in the background by a non-interactive shell (a CI runner's, say) inherits SIGINT
# ignored, and Python then leaves it ignored in its children.
_INGEST_WITH_CTRL_C = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('ingest', run_name='__main__', alter_sys=True)"
)


def interrupt_after_first_batch(settings, sig: signal.Signals) -> int:
    """Start an ingest, wait until it has written one batch, then send ``sig``.

    One chunk per batch, each logged. The ingest's stderr is a pipe of one page, read
    here a byte at a time: the ingest cannot run ahead of this test by more than a page
    of log lines (about 90 batches, fewer than it has), so the signal lands before the
    last batch however busy the machine is."""
    env = subprocess_env(settings, ASSISTANT_INGEST_BATCH_SIZE="1")
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    proc = subprocess.Popen(
        [PYTHON, "-c", _INGEST_WITH_CTRL_C], env=env, stderr=write_end, stdout=subprocess.DEVNULL
    )
    os.close(write_end)
    with os.fdopen(read_end, "rb", buffering=0) as stderr:
        for line in iter(stderr.readline, b""):
            if b"embedded" in line:
                proc.send_signal(sig)
                break
        stderr.read()
    return proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_ingest_is_completed_by_the_next_run(
    tmp_path, settings, corpus, embeddings, sig
):
    grow(corpus, 24)  # about 210 chunks
    code = interrupt_after_first_batch(settings, sig)
    assert code != 0, "the ingest finished before it could be interrupted"
    partial = index_contents(settings)

    resumed = Indexer(settings, embeddings).run([corpus])
    assert resumed.unchanged < resumed.added + resumed.updated + resumed.unchanged
    clean = settings.model_copy(update={"data_dir": tmp_path / "clean"})
    Indexer(clean, embeddings).run([corpus])
    expected = index_contents(clean)
    assert 0 < len(partial) < len(expected)
    assert index_contents(settings) == expected  # same ids, texts, metadata: nothing twice or lost
    lexical = LexicalIndex(settings.lexical_path)
    assert lexical.stored_ids() == LexicalIndex(clean.lexical_path).stored_ids()


@pytest.fixture
def chroma_server(tmp_path) -> Iterator[str]:
    server = ChromaServer(tmp_path / "server")
    try:
        server.start()
    except (RuntimeError, TimeoutError) as exc:
        pytest.fail(str(exc))
    yield server.url
    server.stop()


def test_client_server_mode(settings, corpus, embeddings, chroma_server):
    remote = settings.model_copy(update={"chroma_url": chroma_server})
    report = Indexer(remote, embeddings).run([corpus])
    assert report.added == 7 and not report.failed
    assert not remote.chroma_dir.exists(), "server mode must not write an embedded index"
    again = Indexer(remote, embeddings).run([corpus])
    assert again.unchanged == 7 and again.chunks_added == 0
    store = vector_store(chroma_client(remote), remote.collection, embeddings)
    top = Retriever(LexicalIndex(remote.lexical_path), store).search(
        "How long to withdraw from a distance contract?", k=3
    )
    assert any(p.source.startswith("regs/consumer-rights") for p in top)


def test_a_tenant_and_database_of_its_own_on_the_server(
    settings, corpus, embeddings, chroma_server
):
    """Chroma Cloud and shared servers keep each deployment in its own tenant and database."""
    import chromadb

    host, port = chroma_address(chroma_server)
    admin = chromadb.AdminClient(
        chromadb.config.Settings(
            chroma_server_host=host,
            chroma_server_http_port=port,
            chroma_api_impl="chromadb.api.fastapi.FastAPI",
        )
    )
    admin.create_tenant("acme")
    admin.create_database("exports", tenant="acme")
    remote = settings.model_copy(
        update={"chroma_url": chroma_server, "chroma_tenant": "acme", "chroma_database": "exports"}
    )
    Indexer(remote, embeddings).run([corpus])

    default = chromadb.HttpClient(host=host, port=port)
    assert remote.collection not in {c.name for c in default.list_collections()}
    store = vector_store(chroma_client(remote), remote.collection, embeddings)
    top = store.similarity_search("How long to withdraw from a distance contract?", k=3)
    assert any(d.metadata["source"].startswith("regs/consumer-rights") for d in top)


def test_exact_search_on_a_server_and_the_same_answer_every_time(
    settings, corpus, embeddings, chroma_server
):
    """Vector search over a `chroma run` server's collection gives the brute-force order
    (Chroma's approximate index does not), so one question gets one answer."""
    import numpy as np

    from assistant.dense import ExactSearch
    from assistant.pipeline import Assistant

    remote = settings.model_copy(update={"chroma_url": chroma_server})
    Indexer(remote, embeddings).run([corpus])
    store = vector_store(chroma_client(remote), remote.collection, embeddings)
    question = "How long to withdraw from a distance contract?"
    query = np.asarray(embeddings.embed_query(question))
    scores = ExactSearch(store).score(query)
    got = store.get(include=["embeddings"])
    matrix = np.asarray(got["embeddings"])
    cosine = matrix @ query / np.linalg.norm(matrix, axis=1) / np.linalg.norm(query)
    expected = [got["ids"][i] for i in np.argsort(-cosine, kind="stable")]
    assert [scores.snapshot.ids[i] for i in scores.top(len(expected))] == expected

    bot = Assistant.from_settings(remote, store=store)
    first = bot.answer(question)
    assert first.citations
    assert all(bot.answer(question) == first for _ in range(3))
