"""The Celery runner: steps of jobs carried by RabbitMQ to `strongroom worker` processes on any host.

The catalog holds everything that matters (jobs, steps, leases, progress, results); a message only says
"run step S of job J" (StepRef JSON). Settings follow recipes/scaleout.md section 6: acks late and
rejected when the worker process is lost (a killed worker's step is delivered again at once), one
message reserved per process, JSON only, no result backend, a time limit per kind, a fresh child process
every MAX_TASKS_PER_CHILD steps, durable queues, confirmed publishing. RabbitMQ's `consumer_timeout`
must exceed the longest step (scripts/services.sh sets 2 h).

A delivery finding its step held by another worker with a live lease (BUSY: the holder died a moment ago,
or a message was duplicated) is sent again to arrive when that lease runs out, so a dead worker's step
is taken over within one lease. Each worker's main process also runs the lease sweeper (every lease/2),
which queues again steps whose worker stopped renewing: that recovers from a lost message too.

Celery is an optional extra (`pip install 'strongroom[distributed]'`): this module imports it only when
a runner or a worker is made.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from strongroom.catalog import open_catalog, redact
from strongroom.catalog.base import Catalog
from strongroom.config import load_settings
from strongroom.errors import NotFound, StrongroomError
from strongroom.jobs.execute import (
    execute_step,
    find_kind,
    remove_scratch,
    settle_cancel,
    submit_job,
    sweep_expired,
    worker_id,
)
from strongroom.jobs.model import JobKind, JobRecord, JobState, StepName, StepRef, StepStart, StepState
from strongroom.jobs.queues import all_queues, queue_for
from strongroom.jobs.settings import JobSettings

log = logging.getLogger("strongroom.jobs")

TASK_NAME = "strongroom.run_step"
MAX_TASKS_PER_CHILD = 100  # format tools and their libraries leak; a fresh child costs a fork
MAX_STEP_ATTEMPTS = 5  # a step started this often never finished: it kills its worker (or overruns its hard limit)
SOFT_MARGIN = 30.0  # the step's own check (execute.py) ends it at step_seconds, in words; Celery's soft limit after
HARD_MARGIN = 30.0  # ... and the hard kill after that, if the step is stuck where Python cannot interrupt it
RETRY_MAX_SECONDS = 60.0  # longest wait between tries of a step while the catalog or the broker is away
INSTALL_HINT = "Install the distributed runner: pip install 'strongroom[distributed]' (Celery), then retry."
POISONED_MESSAGE = "A step of this job was started {n} times and never finished: each time its worker stopped."
POISONED_HINTS = (
    "The step may crash or exhaust the worker (memory, a tool that hangs): look at the workers' logs.",
    "Fix the cause, then start the job again.",
)


class BrokerUnreachable(StrongroomError):
    """The job broker (RabbitMQ) did not take a message or a connection."""


def require_celery() -> None:
    """StrongroomError saying how to install Celery when it is missing."""
    try:
        import celery  # noqa: F401
    except ImportError as exc:
        raise StrongroomError(
            "The Celery runner needs Celery, which is not installed.",
            details=[INSTALL_HINT, 'Or use [jobs] runner = "embedded" (one machine).'],
        ) from exc


def broker_error(url: str, exc: BaseException) -> BrokerUnreachable:
    return BrokerUnreachable(
        f"Cannot reach the job broker at {redact(url)}: {exc}",
        details=[
            "Check that RabbitMQ runs there and that this machine can reach its host and port.",
            "Check the user, password and vhost in [jobs] broker_url (strongroom.toml) or STRONGROOM_JOBS_BROKER_URL.",
        ],
    )


def check_broker(url: str, timeout: float = 5.0) -> None:
    """Connect to the broker once; BrokerUnreachable (password masked, what to check) when that fails."""
    require_celery()
    from kombu import connection as kombu_connection

    make: Any = kombu_connection.Connection  # kombu's own hints are partial; this use is plain
    connection = make(url, connect_timeout=timeout)
    try:
        connection.connect()  # once: a worker or a submit waiting here would hide the problem
    except Exception as exc:  # kombu and amqp raise many kinds (socket, access refused, vhost not found)
        raise broker_error(url, exc) from exc
    finally:
        connection.release()


def time_limits(kind: JobKind) -> tuple[float, float]:
    """(soft, hard) seconds for one step of `kind`."""
    soft = kind.step_seconds + SOFT_MARGIN
    return soft, soft + HARD_MARGIN


# --- the app -------------------------------------------------------------------------------------------------------


def celery_app(
    broker_url: str,
    kinds: Mapping[str, JobKind],
    *,
    home: Path | None = None,
    job_settings: JobSettings | None = None,
    sweeper: bool = False,
) -> Any:
    """A Celery app for `kinds` on `broker_url`. With `home` (a worker), it runs steps against that home's
    catalog; with `sweeper`, its worker's main process also runs the lease sweeper."""
    require_celery()
    from celery import Celery
    from kombu import entity

    queue: Any = entity.Queue

    app = Celery("strongroom", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=MAX_TASKS_PER_CHILD,
        broker_connection_retry_on_startup=True,
        # A step running when the connection drops goes on to its end; its message comes back and finds it
        # DONE (or BUSY while it still runs), so nothing is cut off or done twice.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_transport_options={"confirm_publish": True},  # submit returns once RabbitMQ has the message
        task_default_queue="default",
        task_queues=[queue(name, durable=True, routing_key=name) for name in all_queues(kinds)],
        task_create_missing_queues=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        enable_utc=True,
    )
    steps = StepWorker(app, home, kinds, job_settings) if home is not None else None
    app.strongroom_steps = steps
    app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             max_retries=None)(run_step)  # fmt: skip
    if sweeper:
        if steps is None:
            raise ValueError("the lease sweeper needs a home (a bug)")
        app.steps["worker"].add(_sweeper_step())
    return app


def run_step(task: Any, ref_json: Mapping[str, Any]) -> str:
    """The one task: run step `ref_json` of a job on this worker (and send on what follows). Returns what
    start_step found, for the worker's log.

    What a step itself does never raises here (execute_step records it). What does is the catalog or the
    broker being away: the message is then sent again with a growing delay, for as long as it takes, since
    acknowledging it would lose a step that may still be only queued in the catalog."""
    steps: StepWorker | None = task.app.strongroom_steps
    if steps is None:
        raise RuntimeError("this Celery app was made without a home: it cannot run steps (start `strongroom worker`)")
    ref = StepRef.from_json(ref_json)  # a malformed message is a bug: dropped, with its traceback in the log
    try:
        return steps.run(ref).value
    except Exception as exc:
        countdown = min(RETRY_MAX_SECONDS, 2.0 ** min(task.request.retries, 10))
        log.exception("step %s of job %s could not be run; trying again in %g s", ref.key, ref.job_id, countdown)
        raise task.retry(exc=exc, countdown=countdown) from exc


class StepPublisher:
    """Sends step references to the queue of their job's kind, with the kind's time limits."""

    def __init__(self, app: Any, kinds: Mapping[str, JobKind]) -> None:
        self.app = app
        self.kinds = kinds

    def publish(self, kind: JobKind, ref: StepRef, countdown: float | None = None) -> None:
        soft, hard = time_limits(kind)
        try:
            self.app.send_task(TASK_NAME, args=[ref.to_json()], queue=queue_for(kind), countdown=countdown,
                               soft_time_limit=soft, time_limit=hard)  # fmt: skip
        except Exception as exc:  # kombu's OperationalError, socket errors, a refused publish
            raise broker_error(self.app.conf.broker_url, exc) from exc

    def publish_for_job(self, catalog: Catalog, refs: Iterable[StepRef], countdown: float | None = None) -> int:
        """Send steps of jobs known by id (the kind is read from the job row); returns how many were sent."""
        kinds_of: dict[str, JobKind | None] = {}
        sent = 0
        for ref in refs:
            if ref.job_id not in kinds_of:
                job = catalog.job(ref.job_id)
                kinds_of[ref.job_id] = None if job is None else self.kinds.get(job.kind)
            kind = kinds_of[ref.job_id]
            if kind is None:
                log.warning("step %s of job %s: no such job or kind here; not sent", ref.key, ref.job_id)
                continue
            self.publish(kind, ref, countdown)
            sent += 1
        return sent


# --- the worker side -----------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


class StepWorker:
    """What a worker process needs to run steps: the home, its job settings, the kinds, and a catalog of
    its own (opened on first use in each process: the prefork pool's children never share a connection)."""

    def __init__(self, app: Any, home: Path, kinds: Mapping[str, JobKind], job_settings: JobSettings | None) -> None:
        from strongroom.jobs.settings import load_job_settings

        self.home = home
        self.kinds = dict(kinds)
        self.job_settings = job_settings if job_settings is not None else load_job_settings(home)
        self.catalog_url = load_settings(home).catalog_url
        self.publisher = StepPublisher(app, self.kinds)
        self._catalog: tuple[int, Catalog] | None = None

    def catalog(self) -> Catalog:
        pid = os.getpid()
        if self._catalog is None or self._catalog[0] != pid:
            self._catalog = (pid, open_catalog(self.catalog_url))
        return self._catalog[1]

    def run(self, ref: StepRef) -> StepStart:
        catalog = self.catalog()
        worker = worker_id()
        started = self._start(catalog, ref, worker)
        if started is not StepStart.STARTED:
            if started is StepStart.BUSY:
                self.publisher.publish_for_job(catalog, [ref], countdown=self._lease_left(catalog, ref))
            elif started is StepStart.DONE:
                self.publisher.publish_for_job(catalog, unsent_follow_ups(catalog, ref))
            elif started is StepStart.JOB_ENDED:
                settle_cancel(catalog, ref.job_id, self.job_settings)
            return started
        outcome = execute_step(ref, catalog=catalog, home=self.home, job_settings=self.job_settings,
                               kinds=self.kinds, worker=worker, claimed=True)  # fmt: skip
        self.publisher.publish_for_job(catalog, outcome.follow_ups)
        return outcome.started

    def _start(self, catalog: Catalog, ref: StepRef, worker: str) -> StepStart:
        """start_step, refusing a step that has killed its worker MAX_STEP_ATTEMPTS times (it would loop)."""
        now = _now()
        started = catalog.start_step(ref.job_id, ref.key, worker, now + self._lease(), now)
        if started is not StepStart.STARTED:
            return started
        step = next((s for s in catalog.steps(ref.job_id) if s.key == ref.key), None)
        if step is not None and step.attempts > MAX_STEP_ATTEMPTS:
            message = POISONED_MESSAGE.format(n=step.attempts - 1)
            catalog.fail_step(ref.job_id, ref.key, worker, now, message)
            catalog.finish_job(ref.job_id, JobState.FAILED, now, error=message, details=POISONED_HINTS)
            remove_scratch(self.job_settings, ref.job_id)
            return StepStart.JOB_ENDED
        return started

    def _lease(self) -> timedelta:
        return timedelta(seconds=self.job_settings.lease_seconds)

    def _lease_left(self, catalog: Catalog, ref: StepRef) -> float:
        """Seconds until the holder's lease of `ref` runs out (at least 1): when to deliver it again."""
        step = next((s for s in catalog.steps(ref.job_id) if s.key == ref.key), None)
        if step is None or step.lease_until is None:
            return 1.0
        return max(1.0, (step.lease_until - _now()).total_seconds() + 0.5)

    def sweep(self) -> int:
        """Queue again the steps of dead workers (leases run out) and send them; returns how many."""
        catalog = open_catalog(self.catalog_url)  # opened per sweep: the pool forks children from this process
        try:
            refs = sweep_expired(catalog, kinds=self.kinds, job_settings=self.job_settings, worker=worker_id())
            if refs:
                log.warning("lease sweeper: %d step(s) of stopped workers queued again", len(refs))
            sent = self.publisher.publish_for_job(catalog, refs)  # if this fails, resend_lost sends them later
            return sent + self.resend_lost(catalog)
        finally:
            catalog.close()

    def resend_lost(self, catalog: Catalog, now: datetime | None = None) -> int:
        """Send again the steps queued in the catalog for over a lease whose queue holds no message ready.

        Their message was lost: the broker started again on an empty disk, or a publish failed while it was
        away (a sweep, follow-ups after a step, a retry). A queue with messages ready is left alone (the step's
        may be among them, or it waits its turn); an empty one cannot hold it. A message a worker has just
        taken may still make a duplicate, which finds its step BUSY or DONE. Returns how many were sent."""
        when = now or _now()
        before = when - self._lease()
        ready: dict[str, int] = {}
        sent = 0
        for kind_name, step in catalog.waiting_steps(before):
            kind = self.kinds.get(kind_name)
            if kind is None:
                continue  # a kind this worker does not know: a worker that does sends it
            queue = queue_for(kind)
            if queue not in ready:
                ready[queue] = self._ready_messages(queue)
            if ready[queue] == 0 and catalog.resend_step(step.job_id, step.key, before, when):
                self.publisher.publish(kind, step.ref)
                sent += 1
        if sent:
            log.warning("lease sweeper: %d queued step(s) had no message (lost by the broker); sent again", sent)
        return sent

    def _ready_messages(self, queue: str) -> int:
        """Messages ready for delivery in `queue` (0 if the broker has no such queue, as after losing its disk)."""
        try:
            with self.publisher.app.connection_for_write() as connection:
                channel = connection.channel()
                try:
                    _name, messages, _consumers = channel.queue_declare(queue=queue, passive=True)
                except connection.channel_errors:  # NOT_FOUND: nothing was ever declared there since the start
                    return 0
                return int(messages)
        except Exception as exc:  # kombu and amqp raise many kinds (socket, access refused)
            raise broker_error(self.publisher.app.conf.broker_url, exc) from exc


def unsent_follow_ups(catalog: Catalog, ref: StepRef) -> list[StepRef]:
    """After a repeated delivery of a finished plan or chunk: the steps it should have sent on, still queued.

    A worker that dies after a step is recorded done but before its follow-ups are published leaves them
    queued in the catalog with no message; the redelivered message (acks are late) finds the step DONE,
    and sends them from here. A duplicate costs one message per queued step, each finding its step
    DONE or BUSY."""
    if ref.step is StepName.FINALIZE or ref.step is StepName.RUN:
        return []
    job = catalog.job(ref.job_id)
    if job is None or job.state.finished:
        return []
    queued = [s.ref for s in catalog.steps(ref.job_id) if s.state is StepState.QUEUED]
    if ref.step is StepName.PLAN:
        return queued
    return [r for r in queued if r.step is StepName.FINALIZE]


def _sweeper_step() -> type:
    """A worker bootstep running the lease sweeper on a thread of the worker's main process."""
    from celery import bootsteps

    class LeaseSweeper(bootsteps.StartStopStep):  # type: ignore[misc]
        label = "strongroom lease sweeper"

        def __init__(self, parent: Any, **kwargs: Any) -> None:
            super().__init__(parent, **kwargs)
            self._stop = threading.Event()
            self._thread: threading.Thread | None = None

        def start(self, parent: Any) -> None:
            steps: StepWorker = parent.app.strongroom_steps
            interval = max(1.0, steps.job_settings.lease_seconds / 2)

            def loop() -> None:
                while not self._stop.wait(interval):
                    try:
                        steps.sweep()
                    except Exception:  # the catalog or broker is away for a moment: next round tries again
                        log.exception("lease sweeper: this round failed")

            self._thread = threading.Thread(target=loop, name="strongroom-lease-sweeper", daemon=True)
            self._thread.start()

        def stop(self, parent: Any) -> None:
            self._stop.set()
            if self._thread is not None:
                self._thread.join(timeout=10)

        def shutdown(self, parent: Any) -> None:
            self.stop(parent)

    return LeaseSweeper


def run_worker(
    home: Path,
    job_settings: JobSettings,
    kinds: Mapping[str, JobKind],
    queues: Iterable[str],
    concurrency: int,
    *,
    loglevel: str = "INFO",
) -> int:
    """Run a Celery worker (prefork, `concurrency` processes) on `queues` until SIGTERM or SIGINT (warm
    shutdown: the steps in hand finish first); returns its exit code."""
    if not job_settings.broker_url:
        raise StrongroomError("The Celery runner needs a broker: set [jobs] broker_url or STRONGROOM_JOBS_BROKER_URL.")
    check_broker(job_settings.broker_url)
    app = celery_app(job_settings.broker_url, kinds, home=home, job_settings=job_settings, sweeper=True)
    worker = app.Worker(
        queues=list(queues),
        concurrency=concurrency,
        pool="prefork",
        loglevel=loglevel,
        hostname=f"strongroom-{os.getpid()}@{socket.gethostname()}",
        without_mingle=True,
        without_gossip=True,
        without_heartbeat=True,
        optimization="fair",
        quiet=True,
    )
    worker.start()
    return int(worker.exitcode or 0)


# --- the runner the CLI and the web service use ----------------------------------------------------------------------


class CeleryRunner:
    """A JobRunner (jobs/base.py) whose steps run on `strongroom worker` processes through RabbitMQ.

    submit adds the job and its first step to the catalog and publishes that step; everything else reads
    the catalog, so any process (the web service, the CLI) sees any job, whoever submitted it. close()
    stops this process submitting; the workers carry on with what is queued.
    """

    def __init__(self, home: Path, kinds: Mapping[str, JobKind], job_settings: JobSettings) -> None:
        if not job_settings.broker_url:
            raise StrongroomError("The Celery runner needs a broker.",
                                  details=["Set [jobs] broker_url or STRONGROOM_JOBS_BROKER_URL."])  # fmt: skip
        self.home = home
        self.kinds: Mapping[str, JobKind] = dict(kinds)
        self.job_settings = job_settings
        self.id = worker_id()
        self._catalog_url = load_settings(home).catalog_url
        self._app = celery_app(job_settings.broker_url, self.kinds)
        self._publisher = StepPublisher(self._app, self.kinds)
        self._local = threading.local()
        self._guard = threading.Lock()
        self._catalogs: list[Catalog] = []
        self._closed = False

    def _catalog(self) -> Catalog:
        catalog: Catalog | None = getattr(self._local, "catalog", None)
        if catalog is None:
            catalog = open_catalog(self._catalog_url)
            self._local.catalog = catalog
            with self._guard:
                self._catalogs.append(catalog)
        return catalog

    def submit(self, kind: str, params: Mapping[str, Any], owner: str, title: str) -> JobRecord:
        found = find_kind(self.kinds, kind)
        if self._closed:
            raise StrongroomError("This runner is stopping and takes no new jobs.",
                                  details=["Start the job again once the service is back."])  # fmt: skip
        catalog = self._catalog()
        job, ref = submit_job(catalog, self.kinds, found.name, params, owner, title, runner_id=self.id)
        try:
            self._publisher.publish(found, ref)
        except BrokerUnreachable as err:
            # Nothing will ever run it: end it now, with the reason, rather than leave it queued.
            catalog.finish_job(job.id, JobState.FAILED, _now(), error=err.message, details=err.details)
            raise
        return job

    def get(self, job_id: str) -> JobRecord:
        job = self._catalog().job(job_id)
        if job is None:
            raise NotFound(f"There is no job {job_id!r}.", details=["See the jobs with: strongroom jobs list"])
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
        catalog = self._catalog()
        job = catalog.request_cancel(job_id)
        if settle_cancel(catalog, job_id, self.job_settings):
            return self.get(job_id)
        return job

    def wait(self, job_id: str, timeout: float | None = None) -> JobRecord:
        """Poll the job's row (never Celery results: there are none) until it has finished or `timeout` passed."""
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
            catalogs, self._catalogs = self._catalogs, []
        self._app.close()
        for catalog in catalogs:
            catalog.close()


__all__ = [
    "MAX_STEP_ATTEMPTS",
    "TASK_NAME",
    "BrokerUnreachable",
    "CeleryRunner",
    "StepPublisher",
    "StepWorker",
    "celery_app",
    "check_broker",
    "require_celery",
    "run_step",
    "run_worker",
    "time_limits",
    "unsent_follow_ups",
]
