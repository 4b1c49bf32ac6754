"""Staging folders for ingests in progress, and clean-up after a crash.

Each ingest works in `<home>/staging/<package uuid>/` and holds an exclusive
lock on `<package uuid>.lock` beside it for as long as it runs. The kernel
drops the lock when the process dies, however it dies, so a folder whose lock
can be taken belongs to a dead ingest and can be removed safely, even while
other ingests are running.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StagingArea:
    package: str
    folder: Path


@contextmanager
def staging_area(staging_root: Path, package: str) -> Iterator[StagingArea]:
    staging_root.mkdir(parents=True, exist_ok=True)
    lock_path = staging_root / f"{package}.lock"
    fd = _lock(lock_path)
    assert fd is not None  # a blocking lock always returns a descriptor
    try:
        folder = staging_root / package
        folder.mkdir()
        try:
            yield StagingArea(package, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            lock_path.unlink(missing_ok=True)
    finally:
        os.close(fd)


def stale_ingests(staging_root: Path) -> Iterator[str]:
    """Package UUIDs of staging folders whose ingest is no longer running.

    The lock is held while the caller clears the leftovers, so a stale folder is
    never handed to two cleaners at once.
    """
    if not staging_root.is_dir():
        return
    names = {p.name.removesuffix(".lock") for p in staging_root.iterdir() if not p.name.startswith(".")}
    for package in sorted(names):
        lock_path = staging_root / f"{package}.lock"
        fd = _lock(lock_path, blocking=False)
        if fd is None:
            continue  # a live ingest holds it
        try:
            yield package
            shutil.rmtree(staging_root / package, ignore_errors=True)
            lock_path.unlink(missing_ok=True)
        finally:
            os.close(fd)


def _lock(path: Path, blocking: bool = True) -> int | None:
    """Lock `path`, making sure the file locked is still the one at `path`.

    A cleaner may unlink a lock file between our open() and flock(); locking the
    unlinked inode would protect nothing, so retry on a fresh file.
    """
    while True:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextmanager
def archive_lock(path: Path) -> Iterator[None]:
    """Serialise the short commit step (duplicate check, store, catalog) across processes."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
