"""Run one step of a job: the half of every runner that is not the engine.

Both runners (embedded.py, celery_runner.py) do the same with a step reference, wherever it came from:
take the step in the catalog under a lease (`start_step`), keep the lease alive on a thread while the
step runs, give the step a StepContext (throttled progress, cancellation, its scratch folder), record
its end, and say which steps must be sent next (`StepOutcome.follow_ups`). Fan-in is in the catalog:
the call that completes the last chunk adds "finalize", and only the call that added it sends it on.
A step delivered twice runs once (the second finds it BUSY or DONE); a step whose worker died is
queued again by `sweep_expired` once its lease has run out.

Time limits: a step's context raises at its next `check_cancelled` once `JobKind.step_seconds` have
passed (the job fails with words saying so). The Celery runner also kills a step that never checks;
the embedded runner cannot kill a thread, so a step that never checks holds its slot until it returns.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strongroom.catalog.base import Catalog
from strongroom.errors import StrongroomError
from strongroom.jobs.model import (
    JobCancelled,
    JobKind,
    JobRecord,
    JobState,
    StepName,
    StepRef,
    StepStart,
    StepState,
)
from strongroom.jobs.settings import JobSettings

if TYPE_CHECKING:
    from strongroom.tools import ToolStatus

log = logging.getLogger("strongroom.jobs")

PROGRESS_INTERVAL = 0.5  # seconds between progress writes (and cancellation reads): ~2 a second at most
GENERIC_FAILURE = "The job stopped because of an error in Strongroom."
GENERIC_HINTS = (
    "Check what the job had done before starting it again.",
    "If it keeps happening, tell the archive's administrator the time it happened: the service log has the cause.",
)
CANCELLED_MESSAGE = "The job was cancelled on request."
CANCELLED_HINTS = ("Check what it had done before starting it again.",)
STOPPED_MESSAGE = "The job stopped because the service was shut down while it ran."
STOPPED_HINTS = ("Check what it had done, then start it again.",)
DIED_MESSAGE = "The job stopped because the worker running it stopped answering (its process or machine went down)."
DIED_HINTS = (
    "Check what it had done, then start it again.",
    "If workers keep stopping, look at their logs and memory: strongroom doctor shows each host's set-up.",
)


class RunnerStopping(JobCancelled):
    """Raised by check_cancelled when the runner is shutting down: the step is handed back, not cancelled."""


class LeaseLost(JobCancelled):
    """Raised by check_cancelled when another worker took the step over (this one was presumed dead)."""


class JobEnded(JobCancelled):
    """Raised by check_cancelled when the job ended meanwhile (another of its steps failed): stop, change nothing."""


ENDED_MESSAGE = "The job had already ended when this step stopped."


@dataclass(frozen=True)
class StepOutcome:
    """What became of one delivery of a step, and the steps the caller must send to its engine next."""

    started: StepStart
    follow_ups: tuple[StepRef, ...] = field(default=())


def worker_id() -> str:
    """This process as a step's holder: "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _now() -> datetime:
    return datetime.now(UTC)


def find_kind(kinds: Mapping[str, JobKind], name: str) -> JobKind:
    kind = kinds.get(name)
    if kind is None:
        known = ", ".join(sorted(kinds)) or "none"
        raise StrongroomError(f"There is no kind of job called {name!r}.", details=[f"Known kinds: {known}."])
    return kind


def require_tools(kind: JobKind, environ: Mapping[str, str] | None = None,
                  found: Sequence[ToolStatus] | None = None) -> None:  # fmt: skip
    """Refuse a kind whose external tools are not installed here, saying how to install them.

    `found`: the tools already looked for (find_tools costs a JVM start); else they are looked for now."""
    if not kind.tools:
        return
    from strongroom.tools import find_tools

    statuses = {t.name: t for t in (found if found is not None else find_tools(environ))}
    missing = []
    for name in kind.tools:
        status = statuses.get(name)
        if status is None:
            missing.append((name, f"{name} is not a tool Strongroom knows how to find (a bug in job {kind.name})"))
        elif not status.found or status.command is None:
            missing.append((name, f"install {name}: {status.how_to_install}"))
    if missing:
        names = ", ".join(name for name, _ in missing)
        raise StrongroomError(
            f"{kind.title} needs {names}, which is not installed on the server.",
            details=[*(hint for _, hint in missing), "Then check with: strongroom doctor"],
        )


def first_step(kind: JobKind, job_id: str) -> StepRef:
    return StepRef(job_id, StepName.PLAN if kind.staged else StepName.RUN)


def submit_job(
    catalog: Catalog,
    kinds: Mapping[str, JobKind],
    kind: str,
    params: Mapping[str, Any],
    owner: str,
    title: str,
    *,
    runner_id: str,
) -> tuple[JobRecord, StepRef]:
    """Add a QUEUED job and its first step ("plan" or "run"); the caller sends the StepRef to its engine."""
    found = find_kind(kinds, kind)
    job = JobRecord(id=str(uuid.uuid4()), kind=found.name, title=title, owner=owner, params=dict(params),
                    state=JobState.QUEUED, created=_now(), runner=runner_id)  # fmt: skip
    catalog.add_job(job)
    ref = first_step(found, job.id)
    try:
        catalog.add_step(job.id, ref.key, job.created)
    except BaseException:
        # A job with no step would wait for ever: end it, then let the error say why.
        catalog.finish_job(job.id, JobState.FAILED, _now(), error="The job could not be queued.",
                           details=("Start it again.",))  # fmt: skip
        raise
    return job, ref


class _LeaseKeeper:
    """Renews a step's lease every lease/3 on a daemon thread; notes when another worker has taken it.

    `lost` also turns true once a whole lease has passed (on this process's monotonic clock) since the
    last renewal the catalog took: when the catalog is away or a renewal hangs, a sweeper elsewhere may
    already have queued the step again, so it must stop rather than run on beside its new holder."""

    def __init__(self, catalog: Catalog, ref: StepRef, worker: str, lease: timedelta) -> None:
        self._catalog = catalog
        self._ref = ref
        self._worker = worker
        self.lease = lease
        self._stop = threading.Event()
        self._taken = False
        self._held_until = time.monotonic() + lease.total_seconds()  # the lease start_step/claim_step just set
        self._thread = threading.Thread(target=self._loop, name=f"lease-{ref.job_id[:8]}-{ref.key}", daemon=True)
        self._thread.start()

    @property
    def lost(self) -> bool:
        return self._taken or time.monotonic() >= self._held_until

    def _loop(self) -> None:
        interval = self.lease.total_seconds() / 3
        while not self._stop.wait(interval):
            asked = time.monotonic()
            try:
                held = self._catalog.renew_step(self._ref.job_id, self._ref.key, self._worker, _now() + self.lease)
            except StrongroomError as err:  # the catalog is unreachable for a moment: try again next time
                log.warning("could not renew the lease of step %s of job %s: %s", self._ref.key, self._ref.job_id,
                            err.message)  # fmt: skip
                continue
            if not held:
                self._taken = True
                return
            self._held_until = asked + self.lease.total_seconds()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class _Context:
    """The StepContext a step gets: throttled progress, cancellation and lease checks, its scratch folder."""

    def __init__(self, catalog: Catalog, job: JobRecord, home: Path, scratch: Path, ref: StepRef, kind: JobKind,
                 keeper: _LeaseKeeper, stopping: Callable[[], bool] | None, interval: float) -> None:  # fmt: skip
        self.job = job
        self.home = home
        self._scratch = scratch
        self._catalog = catalog
        self._ref = ref
        self._kind = kind
        self._keeper = keeper
        self._stopping = stopping
        self._interval = interval
        self._began = time.monotonic()
        self._last_write = 0.0
        self._last_check = 0.0
        self._pending: tuple[str, int, int | None] | None = None

    @property
    def scratch(self) -> Path:
        self._scratch.mkdir(parents=True, exist_ok=True)
        return self._scratch

    def progress(self, step: str, done: int, total: int | None) -> None:
        self._pending = (step, done, total)
        if time.monotonic() - self._last_write >= self._interval:
            self.flush()

    def flush(self) -> None:
        if self._pending is None:
            return
        step, done, total = self._pending
        self._pending = None
        self._last_write = time.monotonic()
        if self._ref.step is StepName.CHUNK:
            # Chunks run side by side: the job's figures are its chunks, the words this chunk's own.
            job = self._catalog.job(self.job.id)
            if job is not None and job.chunks_total is not None:
                words = f"{step} (chunk {(self._ref.chunk or 0) + 1} of {job.chunks_total})"
                self._catalog.job_progress(self.job.id, words, job.chunks_done, job.chunks_total)
            return
        self._catalog.job_progress(self.job.id, step, done, total)

    def check_cancelled(self) -> None:
        if self._stopping is not None and self._stopping():
            raise RunnerStopping()
        if self._keeper.lost:
            raise LeaseLost()
        if time.monotonic() - self._began > self._kind.step_seconds:
            raise StrongroomError(
                f"A step of this job ran longer than its limit of {_duration(self._kind.step_seconds)}, so it was "
                "stopped.",
                details=["Split the work into smaller jobs, or ask the administrator to look at the server's load."],
            )
        now = time.monotonic()
        if now - self._last_check < self._interval:
            return
        self._last_check = now
        current = self._catalog.job(self.job.id)
        if current is not None and current.state.finished and not current.cancel_requested:
            raise JobEnded()
        if current is None or current.cancel_requested:
            raise JobCancelled()


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} hour(s)"
    if seconds >= 60:
        return f"{seconds / 60:g} minute(s)"
    return f"{seconds:g} second(s)"


def execute_step(
    ref: StepRef,
    *,
    catalog: Catalog,
    home: Path,
    job_settings: JobSettings,
    kinds: Mapping[str, JobKind],
    worker: str,
    claimed: bool = False,
    stopping: Callable[[], bool] | None = None,
    progress_interval: float = PROGRESS_INTERVAL,
) -> StepOutcome:
    """Run one delivery of step `ref` to its end; never raises for what the step itself does.

    `claimed`: the caller already holds the step under `worker` (the embedded runner's claim_step).
    `stopping`: the runner is shutting down; the step stops at its next check and is handed back
    (a resumable one is queued again at once; a single-step job that is not resumable ends INTERRUPTED).
    """
    lease = timedelta(seconds=job_settings.lease_seconds)
    if not claimed:
        now = _now()
        started = catalog.start_step(ref.job_id, ref.key, worker, now + lease, now)
        if started is not StepStart.STARTED:
            if started is StepStart.JOB_ENDED:
                settle_cancel(catalog, ref.job_id, job_settings)
            return StepOutcome(started)
    job = catalog.job(ref.job_id)
    if job is None:  # deleted under us
        return StepOutcome(StepStart.JOB_ENDED)
    kind = kinds.get(job.kind)
    if kind is None:
        _end(catalog, ref, worker, job_settings, JobState.FAILED,
             f"This worker cannot run jobs of kind {job.kind!r}.",
             ("Run the same version of Strongroom on every worker host, then start the job again.",))  # fmt: skip
        return StepOutcome(StepStart.STARTED)
    keeper = _LeaseKeeper(catalog, ref, worker, lease)
    ctx = _Context(catalog, job, home, job_settings.scratch(job.id), ref, kind, keeper, stopping, progress_interval)
    follow_ups: tuple[StepRef, ...] = ()
    try:
        follow_ups = _run(ref, kind, ctx, catalog, worker, keeper)
    except LeaseLost:
        log.warning("step %s of job %s lost its lease (taken over, or the catalog was away for a whole lease); "
                    "this worker stopped it", ref.key, ref.job_id)  # fmt: skip
    except JobEnded:
        catalog.fail_step(ref.job_id, ref.key, worker, _now(), ENDED_MESSAGE)  # its scratch goes just below
    except RunnerStopping:
        _flush_quietly(ctx)
        if kind.staged or kind.resumable:
            release_step(catalog, ref, worker)
        else:
            _end(catalog, ref, worker, job_settings, JobState.INTERRUPTED, STOPPED_MESSAGE, STOPPED_HINTS)
    except JobCancelled:
        _flush_quietly(ctx)
        _end(catalog, ref, worker, job_settings, JobState.CANCELLED, CANCELLED_MESSAGE, CANCELLED_HINTS)
    except StrongroomError as err:
        _flush_quietly(ctx)
        _end(catalog, ref, worker, job_settings, JobState.FAILED, err.message, err.details)
    except Exception:  # any bug ends the job FAILED; the log keeps the traceback, pages never do
        log.exception("step %s of job %s (%s) failed", ref.key, ref.job_id, job.kind)
        _end(catalog, ref, worker, job_settings, JobState.FAILED, GENERIC_FAILURE, GENERIC_HINTS)
    finally:
        keeper.stop()
    _after_step(catalog, ref.job_id, job_settings)
    return StepOutcome(StepStart.STARTED, follow_ups)


def _run(ref: StepRef, kind: JobKind, ctx: _Context, catalog: Catalog, worker: str,
         keeper: _LeaseKeeper) -> tuple[StepRef, ...]:  # fmt: skip
    job, params = ctx.job, ctx.job.params
    if ref.step is StepName.PLAN:
        assert kind.plan is not None
        chunks = kind.plan(ctx, params)
        if not isinstance(chunks, int) or isinstance(chunks, bool) or chunks < 0:
            raise TypeError(f"plan of job kind {kind.name} returned {chunks!r}, not a number of chunks (a bug)")
        ctx.flush()
        _still_held(catalog, ref, worker, keeper)
        now = _now()
        catalog.plan_chunks(job.id, chunks, now)
        catalog.job_progress(job.id, f"{chunks} part(s) to do" if chunks else "Finishing", 0, chunks)
        follow: tuple[StepRef, ...] = tuple(StepRef(job.id, StepName.CHUNK, n) for n in range(chunks))
        if chunks == 0:
            # Sent by every run of the plan, not only the one that added it: a plan run again after its worker
            # died past this point would otherwise leave finalize queued with no message (a duplicate is harmless).
            catalog.add_step(job.id, StepName.FINALIZE.value, now)
            follow = (StepRef(job.id, StepName.FINALIZE),)
        catalog.finish_step(job.id, ref.key, worker, _now())
        return follow
    if ref.step is StepName.CHUNK:
        assert kind.chunk is not None and ref.chunk is not None
        ctx.check_cancelled()
        kind.chunk(ctx, params, ref.chunk)
        ctx.flush()
        last = catalog.finish_step(job.id, ref.key, worker, _now())
        current = catalog.job(job.id)
        if current is not None and current.chunks_total is not None:
            catalog.job_progress(job.id, f"Finished part {ref.chunk + 1} of {current.chunks_total}",
                                 current.chunks_done, current.chunks_total)  # fmt: skip
        if last:  # only one call sees the count reach the total; the catalog queued finalize with it
            catalog.add_step(job.id, StepName.FINALIZE.value, _now())  # (a no-op then: kept for any other catalog)
            return (StepRef(job.id, StepName.FINALIZE),)
        return ()
    # finalize, or the one step of a single-step kind: runs once, then the job has its result
    ctx.check_cancelled()
    if ref.step is StepName.FINALIZE:
        assert kind.finalize is not None
        result = kind.finalize(ctx, params)
    else:
        assert kind.run is not None
        result = kind.run(ctx, params)
    ctx.flush()
    _still_held(catalog, ref, worker, keeper)
    catalog.finish_step(job.id, ref.key, worker, _now())
    catalog.finish_job(job.id, JobState.SUCCEEDED, _now(), result=dict(result))
    return ()


def _still_held(catalog: Catalog, ref: StepRef, worker: str, keeper: _LeaseKeeper) -> None:
    """Before a step's effects become visible: stop if another worker took it over meanwhile."""
    lease_until = _now() + keeper.lease
    if keeper.lost or not catalog.renew_step(ref.job_id, ref.key, worker, lease_until):
        raise LeaseLost()


def _flush_quietly(ctx: _Context) -> None:
    try:
        ctx.flush()
    except StrongroomError as err:  # the end of the job matters more than its last progress words
        log.warning("could not record the last progress of job %s: %s", ctx.job.id, err.message)


def _end(catalog: Catalog, ref: StepRef, worker: str, job_settings: JobSettings, state: JobState, error: str,
         details: tuple[str, ...]) -> None:  # fmt: skip
    now = _now()
    catalog.fail_step(ref.job_id, ref.key, worker, now, error)
    catalog.finish_job(ref.job_id, state, now, error=error, details=details)
    remove_scratch(job_settings, ref.job_id)


def _after_step(catalog: Catalog, job_id: str, job_settings: JobSettings) -> None:
    """A job that ended (here or elsewhere) loses its scratch folder; a cancelled one with nothing running ends."""
    job = catalog.job(job_id)
    if job is None or job.state.finished:
        remove_scratch(job_settings, job_id)
    elif job.cancel_requested:
        settle_cancel(catalog, job_id, job_settings)


def remove_scratch(job_settings: JobSettings, job_id: str) -> None:
    shutil.rmtree(job_settings.scratch(job_id), ignore_errors=True)


def settle_cancel(
    catalog: Catalog, job_id: str, job_settings: JobSettings | None = None, now: datetime | None = None
) -> bool:
    """End a job asked to cancel once none of its steps runs any more; True if this call ended it.

    Once the flag is set no step of the job can start (start_step refuses), so a job whose steps are all
    queued or done would otherwise stay "running" for ever. Runners call it after cancel() too.
    """
    job = catalog.job(job_id)
    if job is None or job.state.finished or not job.cancel_requested:
        return False
    when = now or _now()
    live = [s for s in catalog.steps(job_id)
            if s.state is StepState.RUNNING and s.lease_until is not None and s.lease_until >= when]  # fmt: skip
    if live:
        return False  # the running step stops at its next check and ends the job itself
    catalog.finish_job(job_id, JobState.CANCELLED, when, error=CANCELLED_MESSAGE, details=CANCELLED_HINTS)
    if job_settings is not None:
        remove_scratch(job_settings, job_id)
    return True


def release_step(catalog: Catalog, ref: StepRef, worker: str) -> bool:
    """Hand a step this worker holds back to the queue at once (the runner is stopping); True if it did."""
    now = _now()
    if not catalog.renew_step(ref.job_id, ref.key, worker, now - timedelta(microseconds=1)):
        return False
    return catalog.requeue_step(ref.job_id, ref.key, now)


def sweep_expired(
    catalog: Catalog,
    now: datetime | None = None,
    *,
    kinds: Mapping[str, JobKind] | None = None,
    job_settings: JobSettings | None = None,
    worker: str | None = None,
) -> list[StepRef]:
    """Queue again the steps whose worker stopped renewing its lease; returns those this call queued.

    The caller sends them to its engine (the embedded runner needs not: its queue is the catalog).
    The one step of a single-step kind that is not resumable is not run again: its job ends INTERRUPTED
    (`kinds` says which are resumable; a kind this caller does not know counts as not resumable).
    A job asked to cancel ends CANCELLED instead of running on.
    """
    when = now or _now()
    sweeper = worker or worker_id()
    requeued: list[StepRef] = []
    for step in catalog.expired_steps(when):
        ref = step.ref
        job = catalog.job(step.job_id)
        if job is None:
            continue
        kind = None if kinds is None else kinds.get(job.kind)
        resumable = ref.step is not StepName.RUN or (kind is not None and kind.resumable)
        if not resumable:
            # Take it (only one sweeper can), then end the job: running it again could do its work twice.
            lease_until = when + timedelta(minutes=5)
            if catalog.start_step(ref.job_id, ref.key, sweeper, lease_until, when) is StepStart.STARTED:
                catalog.fail_step(ref.job_id, ref.key, sweeper, when, DIED_MESSAGE)
                catalog.finish_job(ref.job_id, JobState.INTERRUPTED, when, error=DIED_MESSAGE, details=DIED_HINTS)
                if job_settings is not None:
                    remove_scratch(job_settings, ref.job_id)
            elif job.cancel_requested and catalog.requeue_step(ref.job_id, ref.key, when):
                settle_cancel(catalog, ref.job_id, job_settings, when)
            continue
        if catalog.requeue_step(ref.job_id, ref.key, when):
            if job.cancel_requested:  # nothing more of it runs: end it rather than queue it
                settle_cancel(catalog, ref.job_id, job_settings, when)
                continue
            requeued.append(ref)
    return requeued


__all__ = [
    "CANCELLED_MESSAGE",
    "DIED_MESSAGE",
    "GENERIC_FAILURE",
    "PROGRESS_INTERVAL",
    "STOPPED_MESSAGE",
    "LeaseLost",
    "RunnerStopping",
    "StepOutcome",
    "execute_step",
    "find_kind",
    "first_step",
    "release_step",
    "remove_scratch",
    "require_tools",
    "settle_cancel",
    "submit_job",
    "sweep_expired",
    "worker_id",
]
