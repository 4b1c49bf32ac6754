"""The job interface the CLI and the web service submit long work through.

Implemented by the embedded runner (embedded.py) and the Celery runner (celery_runner.py); open the one
`[jobs]` asks for with runners.open_runner. The suite every runner passes: tests/contracts/job_runner_contract.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from strongroom.jobs.model import JobKind, JobRecord, JobState


class JobRunner(Protocol):
    kinds: Mapping[str, JobKind]

    def submit(self, kind: str, params: Mapping[str, Any], owner: str, title: str) -> JobRecord:
        """Queue a job and return at once. StrongroomError if the kind is unknown or its tools are missing."""
        ...

    def get(self, job_id: str) -> JobRecord:
        """NotFound if there is no such job."""
        ...

    def list(self, *, owner: str | None = None, kinds: tuple[str, ...] | None = None,
             states: tuple[JobState, ...] | None = None, limit: int = 100) -> list[JobRecord]: ...  # fmt: skip

    def cancel(self, job_id: str) -> JobRecord:
        """Ask the job to stop: a queued one ends CANCELLED at once, a running one at its next safe point."""
        ...

    def wait(self, job_id: str, timeout: float | None = None) -> JobRecord:
        """Block until the job has finished (or the timeout passed); the job as it then is."""
        ...

    def close(self) -> None:
        """Stop taking jobs; let running steps reach a safe point. A single-step job that cannot resume elsewhere
        ends INTERRUPTED; the steps of a resumable one stay queued for any runner sharing the catalog."""
        ...
