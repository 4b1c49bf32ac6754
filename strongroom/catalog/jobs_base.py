"""What the catalog keeps for jobs: one row per job with its state, progress, result and error, and one row
per step (plan, chunk-N, finalize, or run) with its state and lease, so any worker on any host can pick
up, resume or skip a step from the catalog alone.

Operational state, not derived from storage: `Catalog.clear()` leaves the table alone.
Conformance suite: tests/contracts/catalog_jobs_contract.py, on every backend.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, Protocol

from strongroom.jobs.model import JobRecord, JobState, StepRecord, StepStart


class JobsCatalog(Protocol):
    def add_job(self, job: JobRecord) -> None: ...

    def job(self, job_id: str) -> JobRecord | None: ...

    def jobs(
        self,
        *,
        owner: str | None = None,
        kinds: tuple[str, ...] | None = None,
        states: tuple[JobState, ...] | None = None,
        limit: int = 100,
    ) -> list[JobRecord]:
        """Newest first."""
        ...  # fmt: skip

    def start_job(self, job_id: str, when: datetime, runner: str) -> bool:
        """QUEUED -> RUNNING, held by `runner`; False (and no change) if it was not queued (cancelled meanwhile)."""
        ...

    def job_progress(self, job_id: str, step: str, done: int, total: int | None) -> None: ...

    def finish_job(
        self,
        job_id: str,
        state: JobState,
        when: datetime,
        *,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
        details: tuple[str, ...] = (),
    ) -> None:
        """RUNNING or QUEUED -> a finished state; a job already finished stays as it was."""
        ...  # fmt: skip

    def request_cancel(self, job_id: str) -> JobRecord:
        """Ask a job to stop: a queued job becomes CANCELLED at once; a running one is flagged. NotFound if unknown."""
        ...

    def interrupt_jobs(self, when: datetime, runners: Collection[str]) -> int:
        """Mark the unfinished jobs held by these runners INTERRUPTED: their process has gone. Returns how many."""
        ...


class JobStepsCatalog(Protocol):
    """The step rows of jobs (jobs/model.py StepRecord): the durable half of both runners.

    Every change is one conditional update, so two workers given the same step (an engine delivers at
    least once) never both hold it, and a finished step or job is never changed again.
    """

    def add_step(self, job_id: str, key: str, when: datetime) -> bool:
        """Insert a QUEUED step if there is none with this key; True only for the call that inserted it.

        Fan-in uses it: whoever completes the last chunk adds "finalize", and only the call that added it
        sends it to the engine."""
        ...

    def plan_chunks(self, job_id: str, chunks: int, when: datetime) -> None:
        """Record a staged job's chunk count and insert chunk-000000 ... as QUEUED (idempotent: a plan run
        twice adds nothing twice; a second call with another count is a bug and raises ValueError)."""
        ...

    def start_step(self, job_id: str, key: str, worker: str, lease_until: datetime, when: datetime) -> StepStart:
        """Take a step: QUEUED (or RUNNING with a lease that ran out before `when`) -> RUNNING held by
        `worker`, attempts + 1; also moves a QUEUED job to RUNNING (started = when, runner = worker).
        A job that has finished or has been asked to cancel gives JOB_ENDED and is not touched."""
        ...

    def renew_step(self, job_id: str, key: str, worker: str, lease_until: datetime) -> bool:
        """Extend the lease; False if `worker` no longer holds the step (it was taken over: stop work)."""
        ...

    def finish_step(self, job_id: str, key: str, worker: str, when: datetime) -> bool:
        """RUNNING held by `worker` -> DONE. For a chunk, counts it into the job's chunks_done in the same
        transaction. True only if this call made chunks_done reach chunks_total (the caller then sends
        "finalize", which this call has added QUEUED in the same transaction, so a worker dying before it
        sends finalize leaves it queued); False for other steps, for a step not held by `worker`, and for a repeat."""
        ...

    def fail_step(self, job_id: str, key: str, worker: str, when: datetime, error: str) -> None:
        """RUNNING held by `worker` -> FAILED with the error (the runner then finishes the job FAILED)."""
        ...

    def steps(self, job_id: str) -> list[StepRecord]:
        """A job's steps in key order."""
        ...

    def expired_steps(self, now: datetime, limit: int = 1000) -> list[StepRecord]:
        """RUNNING steps of unfinished jobs whose lease ran out before `now`: their worker stopped renewing."""
        ...

    def requeue_step(self, job_id: str, key: str, now: datetime) -> bool:
        """RUNNING with an expired lease -> QUEUED; True only for the call that did it (the sweeper then
        sends it to the engine once, however many sweepers run)."""
        ...

    def waiting_steps(self, queued_before: datetime, limit: int = 1000) -> list[tuple[str, StepRecord]]:
        """(job kind, step) for QUEUED steps of live jobs (unfinished, not asked to cancel) queued before
        `queued_before`, oldest first: on a distributed runner, those whose message may have been lost."""
        ...

    def resend_step(self, job_id: str, key: str, queued_before: datetime, now: datetime) -> bool:
        """A QUEUED step queued before `queued_before` counts as queued at `now`; True only for the call that
        did it (of several sweepers finding one step whose message was lost, only that one sends it again)."""
        ...

    def claim_step(
        self, worker: str, lease_until: datetime, when: datetime, kinds: tuple[str, ...] | None = None
    ) -> StepRecord | None:
        """The embedded runner's queue: take the oldest QUEUED step (of jobs of these kinds) as start_step
        does, or None. Steps of cancelled or finished jobs are skipped."""
        ...  # fmt: skip
