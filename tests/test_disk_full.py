"""Ingest on a data disk that fills up: a one-line error naming the cause, a non-zero
exit, and, once there is space again, a next run that equals a clean build."""

from __future__ import annotations

import subprocess

import pytest

from assistant.lexical import LexicalIndex
from ingest.index import Indexer
from tests.conftest import PYTHON, subprocess_env
from tests.support.disks import resize, small_disk
from tests.support.servers import free_port
from tests.test_index import index_contents

pytestmark = pytest.mark.slow


def ingest(settings, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "ingest"],
        env=subprocess_env(settings, **env),
        capture_output=True,
        text=True,
        check=False,
    )


# Sizes that run out while opening Chroma's database, and in the middle of writing vectors
# (the sample corpus' index takes about 550 KiB).
@pytest.mark.parametrize("size", ["128k", "400k"])
def test_ingest_on_a_full_disk_says_so_and_the_next_run_completes(
    tmp_path, settings, corpus, embeddings, size
):
    with small_disk(tmp_path / "var", size):
        failed = ingest(settings)
        assert failed.returncode == 2, failed.stderr
        last = failed.stderr.strip().splitlines()[-1]
        assert last.startswith("error: no space left on the disk of"), failed.stderr
        assert "Traceback" not in failed.stderr and "│" not in failed.stderr

        resize(settings.data_dir, "16m")
        done = ingest(settings)
        assert done.returncode == 0, done.stderr

        clean = settings.model_copy(update={"data_dir": tmp_path / "clean"})
        Indexer(clean, embeddings).run([corpus])
        assert index_contents(settings) == index_contents(clean)
        lexical = LexicalIndex(settings.lexical_path).stored_ids()
        assert lexical == LexicalIndex(clean.lexical_path).stored_ids()


def test_ingest_without_its_chroma_server_says_so_in_one_line(settings):
    gone = f"http://127.0.0.1:{free_port()}"
    failed = ingest(settings, ASSISTANT_CHROMA_URL=gone)
    assert failed.returncode == 2, failed.stderr
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: the Chroma server at {gone} does not answer"), last
    assert "Traceback" not in failed.stderr and "│" not in failed.stderr
