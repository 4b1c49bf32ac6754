"""Per-file work of an ingest, run in worker processes: copy, hash and identify.

Each file is read once: the bytes copied into the package are the bytes fed to
every digest the transfer needs, and to identification (the FIDO-exact engine's
head and tail; for DROID, a file of up to one chunk whole). Larger files are
identified from the copy, whose head and tail the page cache still holds.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections import OrderedDict
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

from strongroom.errors import StorageError, TransferError
from strongroom.formats import make_identifier
from strongroom.formats.base import Identifier, IdentifierSpec, extension_of
from strongroom.formats.droid.identifier import DroidIdentifier
from strongroom.formats.engine import FastIdentifier, TailKeeper
from strongroom.model import Identification
from strongroom.workers import die_with_parent, make_pool

CHUNK = 1024 * 1024
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class FileTask:
    index: int
    source: Path
    dest: Path
    name: str  # deposited name, for extension matching
    algorithms: tuple[str, ...]  # always includes sha256
    identify: bool
    replace: bool = False  # a copy left by an earlier run of the same chunk is overwritten, not refused
    # Written here first, then renamed to `dest`: a run of the same chunk elsewhere at the same time (a lease
    # that ran out under a slow worker) never shows a reader a copy cut short, only one whole copy or another.
    staging: Path | None = None


@dataclass(frozen=True)
class FileResult:
    index: int
    size: int
    digests: dict[str, str]
    identification: Identification | None
    mtime: float


class _WorkerState:
    """Holds the identifier of one worker process; created by the pool initializer."""

    identifier: Identifier | None = None
    spec: IdentifierSpec | None = None
    # Identical files (same SHA-256 and extension) are identified once per worker.
    cache: ClassVar[OrderedDict[tuple[str, str], Identification]] = OrderedDict()
    cache_size = 4096


def init_worker(spec: IdentifierSpec, parent_pid: int | None = None) -> None:
    if parent_pid is not None:
        die_with_parent(parent_pid)
    _WorkerState.identifier = make_identifier(spec)
    _WorkerState.spec = spec
    _WorkerState.cache.clear()


def ensure_identifier(spec: IdentifierSpec) -> None:
    """Load the identifier in this process unless it holds one of `spec` already (a job worker's chunks reuse it)."""
    if _WorkerState.identifier is None or _WorkerState.spec != spec:
        init_worker(spec)


def process_file(task: FileTask) -> FileResult:
    hashers = {alg: hashlib.new(alg) for alg in task.algorithms}
    kept = TailKeeper()
    size = 0
    content: bytes | None = None  # the whole file, while it fits in one chunk
    try:
        st = task.source.stat()
        task.dest.parent.mkdir(parents=True, exist_ok=True)
        written = task.staging or task.dest
        with task.source.open("rb") as src, written.open("wb" if task.replace else "xb") as out:
            while chunk := src.read(CHUNK):
                content = chunk if size == 0 else None
                size += len(chunk)
                kept.feed(chunk)
                for hasher in hashers.values():
                    hasher.update(chunk)
                out.write(chunk)
            # No fsync: staging is scratch, discarded after a crash; storage makes the copy durable.
        if task.staging is not None:
            os.replace(task.staging, task.dest)
    except PermissionError as exc:
        raise TransferError(
            f"{task.source} cannot be read ({exc.strerror}); nothing was ingested.",
            details=["Give the account running Strongroom read access to the whole transfer and retry."],
        ) from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageError(
                "The disk holding the archive's staging area is full; nothing was stored.",
                details=["Free some space (or move the archive home to a larger disk) and run the ingest again."],
            ) from exc
        if exc.errno == errno.ENAMETOOLONG:
            raise TransferError(
                f"The path {task.name!r} is too long to store on this system.",
                details=["Shorten the folder or file names in the transfer and retry."],
            ) from exc
        raise TransferError(f"{task.source} could not be copied: {exc.strerror or exc}.") from exc
    identification = None
    if task.identify:
        identifier = _WorkerState.identifier
        if identifier is None:  # running in-process (one worker)
            raise RuntimeError("init_worker() was not called in this process")
        key = (hashers["sha256"].hexdigest(), extension_of(task.name))
        cached = _WorkerState.cache.get(key)
        if cached is None:
            if isinstance(identifier, FastIdentifier):
                # The bytes just copied are the bytes to identify: no second read of the file.
                cached = identifier.identify(task.dest, task.name, kept.buffers())
            elif isinstance(identifier, DroidIdentifier) and content is not None:
                # A file of at most one chunk is in memory whole: DROID reads it from there.
                cached = identifier.identify(task.dest, task.name, data=content)
            else:
                cached = identifier.identify(task.dest, task.name)
            _WorkerState.cache[key] = cached
            if len(_WorkerState.cache) > _WorkerState.cache_size:
                _WorkerState.cache.popitem(last=False)
        identification = cached
    return FileResult(
        index=task.index,
        size=size,
        digests={alg: h.hexdigest() for alg, h in hashers.items()},
        identification=identification,
        mtime=st.st_mtime,
    )


def process_files(tasks: list[FileTask]) -> list[FileResult]:
    """A batch of files per task: one round trip between processes for many small files."""
    return [process_file(task) for task in tasks]


def identify_batch(items: list[tuple[str, int]]) -> list[tuple[str, int, Identification]]:
    """Identify a batch of files in a worker; batches keep the inter-process traffic small."""
    identifier = _WorkerState.identifier
    if identifier is None:
        raise RuntimeError("init_worker() was not called in this process")
    return [(path, size, identifier.identify(Path(path))) for path, size in items]


def make_executor(workers: int, spec: IdentifierSpec) -> Executor:
    """Worker processes (or the calling process, for one) that each hold a loaded identifier."""
    return make_pool(workers, init_worker, (spec,))
