"""The one worker-pool helper: process pools that die with their parent, batching and bounded mapping.

Ingest (copy, hash, identify) and `strongroom identify` both run their per-file work
through these, so the rules (spawned not forked, killed with the parent, at most a
window of tasks in flight) are kept in one place.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """The cores this process may run on (its CPU affinity), not every core of the machine."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to kill this worker when the process that started it dies.

    An orphaned worker would go on writing into a staging folder that the next
    run's clean-up has already removed, and so recreate it.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


class InlineExecutor(Executor):
    """Runs work in the calling process: used when one worker is asked for, and in tests."""

    def submit(self, fn: Callable[..., R], /, *args: object, **kwargs: object) -> Future[R]:
        future: Future[R] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def make_pool(workers: int, initializer: Callable[..., None], initargs: tuple[object, ...]) -> Executor:
    """A pool of `workers` processes, each set up by `initializer(*initargs, parent_pid)`; in-process for 1."""
    if workers <= 1:
        initializer(*initargs, None)
        return InlineExecutor()
    # Spawned, not forked: a forked worker would inherit the parent's locks (the ingest's staging
    # lock) and keep them held after the parent is killed, hiding its leftovers from clean-up.
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=initializer, initargs=(*initargs, os.getpid())
    )


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def bounded_map(executor: Executor, fn: Callable[[T], R], items: Iterable[T], window: int) -> Iterator[R]:
    """Like executor.map, in order, but with at most `window` tasks in flight, so memory stays flat."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(executor.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
