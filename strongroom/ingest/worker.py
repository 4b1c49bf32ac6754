"""Per-file work of an ingest, run in worker processes: copy, hash and identify.

Each file is read once: the bytes copied into the package are the bytes fed to
every digest the transfer needs. Identification then reads only the head and
tail FIDO asks for, from the copy, which the page cache still holds.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import multiprocessing
import os
import signal
import sys
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

from strongroom.errors import StorageError, TransferError
from strongroom.formats import make_identifier
from strongroom.formats.base import Identifier, extension_of
from strongroom.formats.engine import FastIdentifier, TailKeeper
from strongroom.model import Identification

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
    # Identical files (same SHA-256 and extension) are identified once per worker.
    cache: ClassVar[OrderedDict[tuple[str, str], Identification]] = OrderedDict()
    cache_size = 4096


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the ingest that started it dies.

    An orphaned worker would go on writing into a staging folder that the next
    run's clean-up has already removed, and so recreate it.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def init_worker(engine: str, pronom_override: str | None, parent_pid: int | None = None) -> None:
    if parent_pid is not None:
        _die_with_parent()
        if os.getppid() != parent_pid:  # the parent died before the request took effect
            os._exit(1)
    _WorkerState.identifier = make_identifier(engine, Path(pronom_override) if pronom_override else None)
    _WorkerState.cache.clear()


def process_file(task: FileTask) -> FileResult:
    hashers = {alg: hashlib.new(alg) for alg in task.algorithms}
    kept = TailKeeper()
    size = 0
    try:
        st = task.source.stat()
        task.dest.parent.mkdir(parents=True, exist_ok=True)
        with task.source.open("rb") as src, task.dest.open("xb") as out:
            while chunk := src.read(CHUNK):
                size += len(chunk)
                kept.feed(chunk)
                for hasher in hashers.values():
                    hasher.update(chunk)
                out.write(chunk)
            # No fsync: staging is scratch, discarded after a crash; storage makes the copy durable.
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


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def identify_batch(items: list[tuple[str, int]]) -> list[tuple[str, int, Identification]]:
    """Identify a batch of files in a worker; batches keep the inter-process traffic small."""
    identifier = _WorkerState.identifier
    if identifier is None:
        raise RuntimeError("init_worker() was not called in this process")
    return [(path, size, identifier.identify(Path(path))) for path, size in items]


class InlineExecutor(Executor):
    """Runs work in the calling process: used when one worker is asked for, and in tests."""

    def submit(self, fn: Callable[..., R], /, *args: object, **kwargs: object) -> Future[R]:
        future: Future[R] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def make_executor(workers: int, engine: str, pronom_override: Path | None) -> Executor:
    override = str(pronom_override) if pronom_override else None
    if workers <= 1:
        init_worker(engine, override)
        return InlineExecutor()
    # Spawned, not forked: a forked worker would inherit the ingest's staging lock and keep it
    # held after the ingest itself is killed, hiding the leftovers from the next run's clean-up.
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=init_worker, initargs=(engine, override, os.getpid())
    )


def bounded_map(executor: Executor, fn: Callable[[T], R], items: Iterable[T], window: int) -> Iterator[R]:
    """Like executor.map, in order, but with at most `window` tasks in flight, so memory stays flat."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(executor.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
