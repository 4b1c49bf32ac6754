"""The embedded job runner: steps of jobs run inside this process (threads) and its process pool.

Its queue is the catalog: every job and step is a row (catalog/jobs_base.py), so state, progress and
results survive the process, and several runners sharing one catalog (two `strongroom serve` workers,
or `serve` and `strongroom worker`) share the work: a dispatcher thread takes the oldest queued step
(`claim_step`, one conditional update: two runners never take the same step) whenever a slot is
free and runs it through jobs/execute.py, exactly as a Celery worker would. Chunk steps (CPU work:
hashing, identification) run in a spawned process pool that dies with this process; plan, finalize
and single-step jobs run on threads. Every lease/2 seconds the dispatcher also sweeps: a step whose
worker stopped renewing its lease is queued again (a single-step job that is not resumable ends
INTERRUPTED instead).

Time limits: a step stops at its next check_cancelled once its kind's step_seconds have passed; a
thread cannot be killed, so a step that never checks keeps its slot until it returns.
"""

from __future__ import annotations

import builtins
import logging
import multiprocessing
import os
import pickle
import socket
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from strongroom.catalog import open_catalog
from strongroom.catalog.base import Catalog
from strongroom.config import load_settings
from strongroom.errors import NotFound, StrongroomError
from strongroom.jobs.execute import (
    GENERIC_FAILURE,
    PROGRESS_INTERVAL,
    STOPPED_HINTS,
    STOPPED_MESSAGE,
    StepOutcome,
    execute_step,
    find_kind,
    require_tools,
    settle_cancel,
    submit_job,
    sweep_expired,
    worker_id,
)
from strongroom.jobs.model import JobKind, JobRecord, JobState, StepName, StepRecord, StepRef, StepState
from strongroom.jobs.settings import JobSettings, load_job_settings

log = logging.getLogger("strongroom.jobs")

CLOSE_TIMEOUT = 30.0  # how long close() lets running steps reach a safe point
POLL_SECONDS = 1.0  # an idle dispatcher looks for steps queued by other processes this often
ORPHAN_MESSAGE = "The job stopped when the service running it stopped."
ORPHAN_HINTS = ("Check what it had done, then start it again.",)


def runner_id() -> str:
    return worker_id()


def _now() -> datetime:
    return datetime.now(UTC)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _dead_local(holder: str, own: str) -> bool:
    """True for "host:pid" of a process of this host that no longer exists."""
    name, _, pid = holder.rpartition(":")
    if name != socket.gethostname() or not pid.isdigit() or holder == own:
        return False
    return not _process_alive(int(pid))


class EmbeddedRunner:
    """A JobRunner (jobs/base.py) running steps of jobs on `workers` slots of this process."""

    def __init__(
        self,
        home: Path,
        kinds: Mapping[str, JobKind],
        workers: int,
        *,
        tools_environ: Mapping[str, str] | None = None,
        progress_interval: float = PROGRESS_INTERVAL,
        close_timeout: float = CLOSE_TIMEOUT,
        job_settings: JobSettings | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.home = home
        self.kinds: Mapping[str, JobKind] = dict(kinds)
        self.id = runner_id()
        self.job_settings = job_settings or load_job_settings(home)
        self.workers = max(1, workers)
        self.progress_interval = progress_interval
        self.close_timeout = close_timeout
        self.poll_seconds = poll_seconds
        self._tools_environ = tools_environ
        self._catalog_url = load_settings(home).catalog_url
        self._catalog: Catalog = open_catalog(self._catalog_url)  # thread-safe: each call takes a pooled connection
        self._guard = threading.Lock()
        self._submitted: set[str] = set()
        self._running: set[Future[StepOutcome]] = set()
        self._slots = threading.Semaphore(self.workers)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        self.stopping = False
        self._claimable: tuple[str, ...] | None = None
        self._threads = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="strongroom-job")
        self._processes: Executor | None = None
        self._process_stop: Any = None  # a multiprocessing Event the pool's processes see
        self._picklable = self.workers > 1 and _picklable(self.kinds)
        self.interrupted_at_start = self._recover_orphans()
        self._dispatcher = threading.Thread(target=self._dispatch, name="strongroom-job-dispatcher", daemon=True)
        self._dispatcher.start()

    # --- start-up -----------------------------------------------------------------------------

    def _recover_orphans(self) -> int:
        """Jobs held by processes of this host that are gone: end those that cannot resume.

        A job of a dead process with no step rows (made before steps existed), or whose single step is not
        resumable, ends INTERRUPTED now. Steps of resumable jobs are queued again by the sweeper once
        their lease runs out, and any runner sharing the catalog then carries on.
        """
        catalog = self._catalog
        now = _now()
        count = 0
        for job in catalog.jobs(states=(JobState.QUEUED, JobState.RUNNING), limit=100_000):
            if not _dead_local(job.runner, self.id):
                continue  # another host's (it may be alive), or this very process's
            steps = catalog.steps(job.id)
            kind = self.kinds.get(job.kind)
            single = kind is not None and not kind.staged and not kind.resumable
            held = [s for s in steps if s.state is StepState.RUNNING and _dead_local(s.worker, self.id)]
            if steps and not (single and held):
                continue  # queued steps wait for any runner; the sweeper re-queues a dead worker's
            for step in held:
                catalog.fail_step(job.id, step.key, step.worker, now, ORPHAN_MESSAGE)
            catalog.finish_job(job.id, JobState.INTERRUPTED, now, error=ORPHAN_MESSAGE, details=ORPHAN_HINTS)
            count += 1
        if count:
            log.warning("marked %d job(s) of stopped processes interrupted", count)
        return count

    # --- the JobRunner interface -----------------------------------------------------------

    def kind(self, name: str) -> JobKind:
        return find_kind(self.kinds, name)

    def _require_tools(self, kind: JobKind) -> None:
        require_tools(kind, self._tools_environ)

    def submit(self, kind: str, params: Mapping[str, Any], owner: str, title: str) -> JobRecord:
        found = self.kind(kind)
        if self._closed:
            raise StrongroomError("The service is stopping and takes no new jobs.",
                                  details=["Start the job again once the service is back."])  # fmt: skip
        self._require_tools(found)
        job, _ref = submit_job(self._catalog, self.kinds, found.name, params, owner, title, runner_id=self.id)
        with self._guard:
            self._submitted.add(job.id)
        self._wake.set()
        return job

    def get(self, job_id: str) -> JobRecord:
        job = self._catalog.job(job_id)
        if job is None:
            raise NotFound(f"There is no job {job_id!r}.", details=["See the jobs on the Jobs page."])
        return job

    def list(
        self,
        *,
        owner: str | None = None,
        kinds: tuple[str, ...] | None = None,
        states: tuple[JobState, ...] | None = None,
        limit: int = 100,
    ) -> list[JobRecord]:
        return self._catalog.jobs(owner=owner, kinds=kinds, states=states, limit=limit)

    def cancel(self, job_id: str) -> JobRecord:
        job = self._catalog.request_cancel(job_id)
        if not job.state.finished and settle_cancel(self._catalog, job_id, self.job_settings):
            return self.get(job_id)  # nothing of it was running: it ended at once
        return job

    def wait(self, job_id: str, timeout: float | None = None) -> JobRecord:
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.05
        while True:
            job = self.get(job_id)
            if job.state.finished or (deadline is not None and time.monotonic() >= deadline):
                return job
            time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
            pause = min(pause * 2, 0.5)

    def steps(self, job_id: str) -> builtins.list[StepRecord]:
        return self._catalog.steps(job_id)

    def close(self) -> None:
        with self._guard:
            if self._closed:
                return
            self._closed = True
        self.stopping = True  # running steps stop at their next check_cancelled
        if self._process_stop is not None:
            self._process_stop.set()
        self._stop.set()
        self._wake.set()
        self._dispatcher.join()
        with self._guard:
            running = list(self._running)
        _done, not_done = wait_futures(running, timeout=self.close_timeout)
        self._interrupt_left_over()
        self._threads.shutdown(wait=False, cancel_futures=True)
        if self._processes is not None:
            _stop_pool(self._processes, self.close_timeout)
        if not_done:
            # Their threads still use the catalog: leave it open rather than pull it away mid-write.
            log.warning("%d job step(s) still running when the service stopped", len(not_done))
            return
        self._catalog.close()

    def _interrupt_left_over(self) -> None:
        """Jobs this runner took in that cannot wait for another runner end INTERRUPTED (as before steps existed).

        A staged or resumable job stays queued: its steps are rows any runner sharing the catalog takes next.
        """
        with self._guard:
            submitted = sorted(self._submitted)
        now = _now()
        for job_id in submitted:
            job = self._catalog.job(job_id)
            if job is None or job.state.finished:
                continue
            kind = self.kinds.get(job.kind)
            if kind is not None and (kind.staged or kind.resumable):
                continue
            if job.state is JobState.QUEUED or job.runner == self.id:
                self._catalog.finish_job(job_id, JobState.INTERRUPTED, now, error=STOPPED_MESSAGE,
                                         details=STOPPED_HINTS)  # fmt: skip

    # --- the dispatcher ----------------------------------------------------------------------

    def _claimable_kinds(self) -> tuple[str, ...]:
        """The kinds whose steps this runner may take: those whose tools this machine has."""
        if self._claimable is None:
            found = None
            if any(kind.tools for kind in self.kinds.values()):
                from strongroom.tools import find_tools

                found = find_tools(self._tools_environ)  # once for every kind: it costs a JVM start
            runnable = []
            for name, kind in self.kinds.items():
                try:
                    require_tools(kind, self._tools_environ, found)
                except StrongroomError:
                    continue
                runnable.append(name)
            self._claimable = tuple(runnable)
        return self._claimable

    def _dispatch(self) -> None:
        lease = timedelta(seconds=self.job_settings.lease_seconds)
        sweep_every = self.job_settings.lease_seconds / 2
        next_sweep = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_sweep:
                self._sweep()
                next_sweep = time.monotonic() + sweep_every
            if not self._slots.acquire(timeout=self.poll_seconds):
                continue
            if self._stop.is_set():
                self._slots.release()
                return
            self._wake.clear()
            step: StepRecord | None = None
            try:
                now = _now()
                step = self._catalog.claim_step(self.id, now + lease, now, self._claimable_kinds())
            except StrongroomError as err:  # the catalog is unreachable for a moment: try again shortly
                log.warning("could not take a job step: %s", err.message)
            if step is None:
                self._slots.release()
                self._wake.wait(self.poll_seconds)
                continue
            self._launch(step.ref)

    def _sweep(self) -> None:
        try:
            requeued = sweep_expired(self._catalog, kinds=self.kinds, job_settings=self.job_settings, worker=self.id)
        except StrongroomError as err:
            log.warning("could not look for job steps whose worker stopped: %s", err.message)
            return
        if requeued:
            log.warning("queued again %d job step(s) whose worker stopped answering", len(requeued))

    def _launch(self, ref: StepRef) -> None:
        future: Future[StepOutcome]
        try:
            if ref.step is StepName.CHUNK and self._picklable:
                future = self._process_pool().submit(_execute_in_process, ref.to_json(), self.id)
            else:
                future = self._threads.submit(self._execute, ref)
        except (RuntimeError, BrokenProcessPool) as exc:  # shutting down, or a pool process died
            log.warning("could not start step %s of job %s: %s", ref.key, ref.job_id, exc)
            self._processes = None
            self._slots.release()
            return  # its lease runs out and the sweeper queues it again
        with self._guard:
            self._running.add(future)
        future.add_done_callback(self._step_done)

    def _step_done(self, future: Future[StepOutcome]) -> None:
        with self._guard:
            self._running.discard(future)
        self._slots.release()
        self._wake.set()  # a follow-up (the next chunk, finalize) is queued: take it now
        if future.cancelled():
            return
        error = future.exception()
        if isinstance(error, BrokenProcessPool):
            log.error("a job process died; its step is queued again when its lease runs out")
            self._processes = None
        elif error is not None:
            log.error("a job step ended with an error outside the step", exc_info=error)

    def _execute(self, ref: StepRef) -> StepOutcome:
        return execute_step(ref, catalog=self._catalog, home=self.home, job_settings=self.job_settings,
                            kinds=self.kinds, worker=self.id, claimed=True, stopping=lambda: self.stopping,
                            progress_interval=self.progress_interval)  # fmt: skip

    def _process_pool(self) -> Executor:
        if self._processes is None:
            # Spawned, not forked (a fork would copy this process's threads' locks); killed with this process.
            context = multiprocessing.get_context("spawn")
            if self._process_stop is None:
                self._process_stop = context.Event()
            self._processes = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_init_process,
                initargs=(self.home, self._catalog_url, self.kinds, self.job_settings, self.progress_interval,
                          self._process_stop, os.getpid()),
            )  # fmt: skip
        return self._processes


def _stop_pool(pool: Executor, timeout: float) -> None:
    """Shut the process pool down without waiting for ever: a process that does not leave in time is killed
    (its step, if any, is queued again by a sweeper when its lease runs out)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # the executor's own, to bound the wait
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            log.warning("a job process (pid %s) did not stop in time; killed", process.pid)
            process.kill()
            process.join(5)


def _picklable(kinds: Mapping[str, JobKind]) -> bool:
    """Kinds made of module-level functions can go to pool processes; others (closures) run on threads."""
    try:
        pickle.dumps(dict(kinds))
    except (pickle.PicklingError, AttributeError, TypeError):
        log.info("job kinds cannot be sent to worker processes; chunk steps run on threads")
        return False
    return True


class _ProcessState:
    """What one pool process keeps between steps: its own catalog, opened once (one per process)."""

    def __init__(self, home: Path, catalog_url: str, kinds: Mapping[str, JobKind], job_settings: JobSettings,
                 progress_interval: float, stop: Any) -> None:  # fmt: skip
        self.home = home
        self.catalog_url = catalog_url
        self.kinds = kinds
        self.job_settings = job_settings
        self.progress_interval = progress_interval
        self.stop = stop
        self.catalog: Catalog | None = None


_STATE: list[_ProcessState] = []  # set once by the pool's initializer, in each pool process only


PARENT_CHECK_SECONDS = 0.5  # how soon a pool process notices that the runner's process is gone


def _init_process(home: Path, catalog_url: str, kinds: Mapping[str, JobKind], job_settings: JobSettings,
                  progress_interval: float, stop: Any, parent_pid: int) -> None:  # fmt: skip
    _leave_with_parent(parent_pid)
    _STATE[:] = [_ProcessState(home, catalog_url, kinds, job_settings, progress_interval, stop)]


def _leave_with_parent(parent_pid: int) -> None:
    """Exit once the runner's process is gone (its steps' leases then run out and a sweeper queues them again).

    Not workers.die_with_parent: Linux sends its parent-death signal when the THREAD that started the process
    ends, and pool processes are started by the dispatcher thread, which close() ends first: the chunks
    running then would be killed instead of stopping at their next check and going back to the queue."""
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="strongroom-parent-watch", daemon=True).start()


def _execute_in_process(ref_json: Mapping[str, Any], worker: str) -> StepOutcome:
    state = _STATE[0]
    if state.catalog is None:
        state.catalog = open_catalog(state.catalog_url)
    return execute_step(StepRef.from_json(ref_json), catalog=state.catalog, home=state.home,
                        job_settings=state.job_settings, kinds=state.kinds, worker=worker, claimed=True,
                        stopping=state.stop.is_set, progress_interval=state.progress_interval)  # fmt: skip


__all__ = ["GENERIC_FAILURE", "EmbeddedRunner", "runner_id"]
