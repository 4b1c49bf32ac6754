"""What the catalog keeps for jobs: one row per job with its state, progress, result and error.

Operational state, not derived from storage: `Catalog.clear()` leaves the table alone.
Conformance suite: tests/contracts/catalog_jobs_contract.py, on every backend.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, Protocol

from strongroom.jobs.model import JobRecord, JobState


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
