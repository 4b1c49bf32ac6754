"""put_many's flushing: one syncfs(2) per batch, after every temporary is written and before any is read back or
renamed; each file fsynced where syncfs is missing; a failed syncfs stores nothing."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from strongroom.errors import StorageError
from strongroom.storage import filesystem, put_batch
from strongroom.storage.base import PutRequest
from strongroom.storage.filesystem import FilesystemStorage
from tests.contracts.storage_contract import stored_files


def _sources(folder: Path, count: int) -> list[PutRequest]:
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for n in range(count):
        data = os.urandom(n * 131 % 4000) + str(n).encode()
        path = folder / f"source-{n}"
        path.write_bytes(data)
        made.append(PutRequest(f"obj/{n % 4}/file-{n}", path, hashlib.sha256(data).hexdigest()))
    return made


class _Trace:
    """What put_many did, in order: flushes of files, syncfs calls, reads of temporaries and renames into place."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, syncfs: Callable[[int], int] | None) -> None:
        self.calls: list[str] = []
        real_fsync, real_replace, real_hash = os.fsync, os.replace, filesystem.hash_stream

        def fsync(fd: int) -> None:
            import stat

            self.calls.append("fsync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync-file")
            real_fsync(fd)

        def replace(src: str | Path, dst: str | Path) -> None:
            if filesystem.is_partial_name(Path(src).name):
                self.calls.append("rename")
            real_replace(src, dst)

        def hash_stream(stream, algorithm: str = "sha256"):  # type: ignore[no-untyped-def]
            self.calls.append("read-back")
            return real_hash(stream, algorithm)

        def traced_syncfs(fd: int) -> int:
            self.calls.append("syncfs")
            assert syncfs is not None
            return syncfs(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)
        monkeypatch.setattr(filesystem, "hash_stream", hash_stream)
        monkeypatch.setattr(put_batch, "_syncfs", lambda: traced_syncfs if syncfs is not None else None)


def test_one_syncfs_flushes_the_batch_before_any_read_back_or_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = FilesystemStorage(tmp_path / "store")
    items = _sources(tmp_path / "in", 30)
    real = put_batch._syncfs()
    if real is None:
        pytest.skip("no syncfs(2) here")
    trace = _Trace(monkeypatch, real)

    storage.put_many(items)

    calls = [c for c in trace.calls if c != "fsync-dir"]
    assert calls.count("syncfs") == 1
    assert "fsync-file" not in calls  # the one syncfs replaced every file's own flush
    first_read = calls.index("read-back")
    assert calls.index("syncfs") < first_read < calls.index("rename")
    assert calls[first_read:].count("read-back") == len(items) and "rename" not in calls[:first_read]
    for item in items:
        with storage.open(item.key) as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == item.sha256


def test_without_syncfs_each_file_is_fsynced_before_any_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = FilesystemStorage(tmp_path / "store")
    items = _sources(tmp_path / "in", 30)
    trace = _Trace(monkeypatch, None)

    storage.put_many(items, move=True)

    assert "syncfs" not in trace.calls
    first_rename = trace.calls.index("rename")
    assert trace.calls[:first_rename].count("fsync-file") == len(items)
    assert trace.calls[:first_rename].count("read-back") == len(items)
    assert sorted(storage.list("obj/")) == sorted(item.key for item in items)


def test_a_failed_syncfs_stores_nothing_of_the_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = FilesystemStorage(tmp_path / "store")
    items = _sources(tmp_path / "in", 12)

    def failing(_fd: int) -> int:
        import ctypes

        ctypes.set_errno(errno.EIO)
        return -1

    trace = _Trace(monkeypatch, failing)

    with pytest.raises(StorageError, match="Input/output error"):
        storage.put_many(items)

    assert trace.calls.count("syncfs") == 1
    assert "rename" not in trace.calls and "read-back" not in trace.calls
    assert list(storage.list("")) == []
    assert not [p for p in stored_files(storage.root) if p.endswith(".partial")]


def test_syncfs_is_found_on_this_linux() -> None:
    # The fast path is the one the benchmark measures: on a current Linux it must not silently fall back.
    release = tuple(int(p) for p in os.uname().release.split(".")[:2] if p.isdigit())
    if os.uname().sysname != "Linux" or release < (5, 8):
        pytest.skip("syncfs reports write-back errors only on Linux 5.8 and later")
    assert put_batch._syncfs() is not None
