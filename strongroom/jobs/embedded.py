"""The embedded job runner: background jobs on a thread pool inside the web service's process.

Every job is a row in the catalog (JobsCatalog), so its state, progress and result survive the
process and any page can show them. Each thread opens its own catalog. A job left QUEUED or
RUNNING by a process of this host that no longer exists is marked INTERRUPTED when a runner
starts; `close` marks what it could not finish INTERRUPTED too, so no job stays "running" forever.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from strongroom.catalog import open_catalog
from strongroom.catalog.base import Catalog
from strongroom.config import load_settings
from strongroom.errors import NotFound, StrongroomError
from strongroom.jobs.model import JobCancelled, JobKind, JobRecord, JobState

log = logging.getLogger("strongroom.jobs")

PROGRESS_INTERVAL = 0.5  # seconds between progress writes (and cancellation reads): ~2 a second at most
CLOSE_TIMEOUT = 30.0  # how long close() lets running jobs reach a safe point
GENERIC_FAILURE = "The job stopped because of an error in Strongroom."
GENERIC_HINTS = (
    "Check what the job had done before starting it again.",
    "If it keeps happening, tell the archive's administrator the time it happened: the service log has the cause.",
)
STOPPED_MESSAGE = "The job stopped because the service was shut down while it ran."
STOPPED_HINTS = ("Check what it had done, then start it again.",)


class _Stopping(JobCancelled):
    """Raised by check_cancelled when the runner is closing: the job ends INTERRUPTED, not CANCELLED."""


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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


class _Context:
    """The JobContext a running job gets: throttled progress writes and cancellation checks."""

    def __init__(self, runner: EmbeddedRunner, job: JobRecord, catalog: Catalog) -> None:
        self.job = job
        self.home = runner.home
        self._runner = runner
        self._catalog = catalog
        self._last_write = 0.0
        self._last_check = 0.0
        self._pending: tuple[str, int, int | None] | None = None

    def progress(self, step: str, done: int, total: int | None) -> None:
        self._pending = (step, done, total)
        now = time.monotonic()
        if now - self._last_write >= self._runner.progress_interval:
            self.flush()

    def flush(self) -> None:
        if self._pending is not None:
            step, done, total = self._pending
            self._catalog.job_progress(self.job.id, step, done, total)
            self._pending = None
            self._last_write = time.monotonic()

    def check_cancelled(self) -> None:
        if self._runner.stopping:
            raise _Stopping()
        now = time.monotonic()
        if now - self._last_check < self._runner.progress_interval:
            return
        self._last_check = now
        current = self._catalog.job(self.job.id)
        if current is not None and current.cancel_requested:
            raise JobCancelled()


class EmbeddedRunner:
    """A JobRunner (jobs/base.py) running jobs on `workers` threads of this process."""

    def __init__(
        self,
        home: Path,
        kinds: Mapping[str, JobKind],
        workers: int,
        *,
        tools_environ: Mapping[str, str] | None = None,
        progress_interval: float = PROGRESS_INTERVAL,
        close_timeout: float = CLOSE_TIMEOUT,
    ) -> None:
        self.home = home
        self.kinds: Mapping[str, JobKind] = dict(kinds)
        self.id = runner_id()
        self.progress_interval = progress_interval
        self.close_timeout = close_timeout
        self._tools_environ = tools_environ
        self._catalog_url = load_settings(home).catalog_url
        self._local = threading.local()
        self._guard = threading.Lock()
        self._catalogs: list[Catalog] = []
        self._futures: dict[str, Future[None]] = {}
        self._closed = False
        self.stopping = False
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="strongroom-job")
        self.interrupted_at_start = self._interrupt_orphans()

    # --- the catalog, one per thread -------------------------------------------------------

    def _catalog(self) -> Catalog:
        catalog: Catalog | None = getattr(self._local, "catalog", None)
        if catalog is None:
            catalog = open_catalog(self._catalog_url)
            self._local.catalog = catalog
            with self._guard:
                self._catalogs.append(catalog)
        return catalog

    def _interrupt_orphans(self) -> int:
        """Jobs held by processes of this host that are gone: their runner can never finish them."""
        host = socket.gethostname()
        unfinished = self._catalog().jobs(states=(JobState.QUEUED, JobState.RUNNING), limit=100_000)
        dead: set[str] = set()
        for job in unfinished:
            name, _, pid = job.runner.rpartition(":")
            if name != host or not pid.isdigit() or job.runner == self.id:
                continue  # another host's (it may be alive), or this very process's
            if not _process_alive(int(pid)):
                dead.add(job.runner)
        if not dead:
            return 0
        count = self._catalog().interrupt_jobs(_now(), sorted(dead))
        log.warning("marked %d job(s) of stopped processes (%s) interrupted", count, ", ".join(sorted(dead)))
        return count

    # --- the JobRunner interface -----------------------------------------------------------

    def kind(self, name: str) -> JobKind:
        kind = self.kinds.get(name)
        if kind is None:
            known = ", ".join(sorted(self.kinds)) or "none"
            raise StrongroomError(f"There is no kind of job called {name!r}.", details=[f"Known kinds: {known}."])
        return kind

    def _require_tools(self, kind: JobKind) -> None:
        if not kind.tools:
            return
        from strongroom.tools import find_tools

        statuses = {t.name: t for t in find_tools(self._tools_environ)}
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

    def submit(self, kind: str, params: Mapping[str, Any], owner: str, title: str) -> JobRecord:
        found = self.kind(kind)
        if self._closed:
            raise StrongroomError("The service is stopping and takes no new jobs.",
                                  details=["Start the job again once the service is back."])  # fmt: skip
        self._require_tools(found)
        job = JobRecord(id=str(uuid.uuid4()), kind=found.name, title=title, owner=owner, params=dict(params),
                        state=JobState.QUEUED, created=_now(), runner=self.id)  # fmt: skip
        self._catalog().add_job(job)
        with self._guard:
            self._futures[job.id] = self._pool.submit(self._run, job.id)
        return job

    def get(self, job_id: str) -> JobRecord:
        job = self._catalog().job(job_id)
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
        return self._catalog().jobs(owner=owner, kinds=kinds, states=states, limit=limit)

    def cancel(self, job_id: str) -> JobRecord:
        return self._catalog().request_cancel(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> JobRecord:
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.05
        while True:
            job = self.get(job_id)
            if job.state.finished or (deadline is not None and time.monotonic() >= deadline):
                return job
            time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
            pause = min(pause * 2, 0.5)

    def close(self) -> None:
        with self._guard:
            if self._closed:
                return
            self._closed = True
            futures = dict(self._futures)
        self.stopping = True  # running jobs stop at their next check_cancelled
        self._pool.shutdown(wait=False, cancel_futures=True)
        running = [f for f in futures.values() if not f.done()]
        _done, not_done = wait_futures(running, timeout=self.close_timeout)
        catalog = self._catalog()
        for job_id in futures:
            job = catalog.job(job_id)
            if job is not None and not job.state.finished:
                catalog.finish_job(job_id, JobState.INTERRUPTED, _now(), error=STOPPED_MESSAGE, details=STOPPED_HINTS)
        if not_done:
            # Their threads still use their catalogs: leave those open rather than pull them away mid-write.
            log.warning("%d job(s) still running when the service stopped; marked interrupted", len(not_done))
            return
        with self._guard:
            catalogs, self._catalogs = self._catalogs, []
        for opened in catalogs:
            opened.close()

    # --- running one job -------------------------------------------------------------------

    def _run(self, job_id: str) -> None:
        catalog = self._catalog()
        if self.stopping or not catalog.start_job(job_id, _now(), self.id):
            return  # cancelled while queued, or the service is stopping (close() marks it)
        job = catalog.job(job_id)
        if job is None:
            return
        ctx = _Context(self, job, catalog)
        kind = self.kinds[job.kind]
        try:
            result = kind.run(ctx, job.params)
            ctx.flush()
            catalog.finish_job(job_id, JobState.SUCCEEDED, _now(), result=dict(result))
        except _Stopping:
            ctx.flush()
            catalog.finish_job(job_id, JobState.INTERRUPTED, _now(), error=STOPPED_MESSAGE, details=STOPPED_HINTS)
        except JobCancelled:
            ctx.flush()
            catalog.finish_job(job_id, JobState.CANCELLED, _now(), error="The job was cancelled on request.",
                               details=("Check what it had done before starting it again.",))  # fmt: skip
        except StrongroomError as err:
            ctx.flush()
            catalog.finish_job(job_id, JobState.FAILED, _now(), error=err.message, details=err.details)
        except Exception:  # any bug ends the job FAILED; the log keeps the traceback, pages never do
            log.exception("job %s (%s) failed", job_id, job.kind)
            catalog.finish_job(job_id, JobState.FAILED, _now(), error=GENERIC_FAILURE, details=GENERIC_HINTS)
        finally:
            with self._guard:
                self._futures.pop(job_id, None)


__all__ = ["EmbeddedRunner", "runner_id"]
