"""Small real filesystems (tmpfs) that tests can fill up, and give space back to."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["fill", "resize", "small_disk"]


def _mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. "400k") mounted at ``path``; skips the test where
    mounting is not allowed (it needs root, as in the container and in CI)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = _mount("-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(path))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=False)


def resize(path: Path, size: str) -> None:
    """Give the filesystem at ``path`` a new size: more space, with the data kept."""
    remounted = _mount("-o", f"remount,size={size}", str(path))
    assert remounted.returncode == 0, remounted.stderr


def fill(path: Path) -> Path:
    """Write a file into ``path`` until the disk says it is full; returns the file."""
    filler = path / "filler"
    block = b"\0" * 4096
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler
