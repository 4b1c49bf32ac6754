"""The batch machinery of FilesystemStorage.put_many(): one slot per file, its source moved or hard-linked as the
temporary file, the calls of a batch spread over a thread pool, and one syncfs(2) for the whole batch. Kept apart
from filesystem.py, which holds the backend's own rules (keys, locks, modes, read-back), so that module stays
readable; only filesystem.py uses what is here.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import re
import stat
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from strongroom.errors import StorageError

T = TypeVar("T")

# Threads of one put_many(): concurrent writes and read-backs (and, without syncfs, flushes that the file
# system then commits together).
BATCH_THREADS = 16


@dataclass
class Slot:
    """One file of a put_many() batch on its way: where it goes and, once made, its temporary file."""

    key: str
    source: Path
    folder: Path  # the folder it goes into
    target: str  # its final path (text: a Path per file costs more than the rest of its bookkeeping)
    expected: str  # its SHA-256
    partial: str | None = None
    fd: int | None = None
    moved: bool = False  # the source itself became the temporary file (moved or hard-linked there)
    copied: str | None = None  # the SHA-256 read while copying it (None when moved or linked)


def move(source: Path, partial: str) -> bool:
    """Rename the scratch file `source` to `partial`; False where it cannot be (another file system,
    not a plain file, more than one link), for the caller to copy it instead."""
    try:
        found = os.lstat(source)
        # A hard-linked file would share its bytes (and, after fchmod, its mode) with a file outside storage.
        if not stat.S_ISREG(found.st_mode) or found.st_nlink != 1:
            return False
        os.rename(source, partial)
    except FileNotFoundError:
        if not os.path.lexists(source):
            raise StorageError(f"Cannot read {source} to store it: it is gone.") from None
        raise  # the target folder was pruned: the caller retries
    except OSError as err:
        if err.errno == errno.EXDEV:
            return False
        raise
    return True


# Where a hard link cannot be made the source is copied instead: another file system (EXDEV), one that
# has no hard links (EPERM, ENOTSUP: FAT, some network file systems) or a file at its link limit (EMLINK).
_NO_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP})


def link(source: Path, partial: str) -> bool:
    """Hard-link the kept source `source` as `partial`; False where it cannot be (another file system,
    no hard links there, not a plain file), for the caller to copy it instead."""
    try:
        if not stat.S_ISREG(os.lstat(source).st_mode):
            return False
        os.link(source, partial, follow_symlinks=False)
    except FileNotFoundError:
        if not os.path.lexists(source):
            raise StorageError(f"Cannot read {source} to store it: it is gone.") from None
        raise  # the target folder was pruned: the caller retries
    except OSError as err:
        if err.errno in _NO_LINK:
            return False
        raise
    return True


def _all_done(futures: list[Future[T]]) -> list[Future[T]]:
    """`futures`, once every one has finished (so none is still using what the caller cleans up)."""
    wait(futures)
    return futures


def _results(futures: list[Future[T]]) -> list[T]:
    """The results of `futures` once every one has finished; the first error (in order) raised."""
    return [future.result() for future in _all_done(futures)]


# Tasks per thread for one step of a batch: a few each keep every thread busy when file sizes differ, without
# the cost of a future per file (which was a good part of the CPU of a batch of small files).
_TASKS_PER_THREAD = 4


def each(pool: ThreadPoolExecutor, function: Callable[[Slot], T], slots: Sequence[Slot]) -> list[T]:
    """function(slot) for every slot on the pool's threads, as a future per slot would: every call runs to its
    end (each closes its own file), then the results in order, or the first error (in order) raised."""
    tasks = min(len(slots), BATCH_THREADS * _TASKS_PER_THREAD)
    results: list[T | None] = [None] * len(slots)
    errors: list[Exception | None] = [None] * len(slots)

    def run(first: int) -> None:
        for index in range(first, len(slots), tasks):  # every tasks-th slot: big and small files spread out
            try:
                results[index] = function(slots[index])
            except Exception as err:  # raised below, once every call has finished
                errors[index] = err

    _results([pool.submit(run, first) for first in range(tasks)])
    for error in errors:
        if error is not None:
            raise error
    return results  # type: ignore[return-value]  # every call returned: no None left from failures


# syncfs(2) reports write-back errors only from Linux 5.8 on; before, it returned 0 even when a write failed.
_SYNCFS_REPORTS_ERRORS = (5, 8)


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    """libc's syncfs(2), where it exists and reports write-back errors; None elsewhere (each file is fsynced)."""
    if not sys.platform.startswith("linux"):
        return None
    release = re.match(r"(\d+)\.(\d+)", os.uname().release)
    if release is None or (int(release[1]), int(release[2])) < _SYNCFS_REPORTS_ERRORS:
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


def open_for_syncfs(root: Path) -> int | None:
    """A descriptor on the storage file system for one syncfs() per batch; None: fsync each file instead."""
    if _syncfs() is None:
        return None
    try:
        return os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None  # the batch fails (or not) on its own writes, each fsynced


def syncfs_or_raise(fd: int) -> None:
    """Flush every written page of the file system `fd` is on (ctypes releases the GIL while it waits)."""
    function = _syncfs()
    assert function is not None
    if function(fd) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
