"""Jobs as typed records: their state, progress, result and error."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # its process stopped while it ran (found so at the next start)

    @property
    def finished(self) -> bool:
        return self not in (JobState.QUEUED, JobState.RUNNING)


@dataclass(frozen=True)
class JobRecord:
    id: str  # uuid4
    kind: str
    title: str  # what a person reads in the jobs list, e.g. "Ingest council-minutes-2019.zip"
    owner: str  # the account (name) that submitted it, or the OS operator for CLI jobs
    params: Mapping[str, Any]  # JSON-safe
    state: JobState
    created: datetime
    started: datetime | None = None
    finished: datetime | None = None
    step: str = ""  # the current step's words, e.g. "Identifying"
    done: int = 0
    total: int | None = None
    result: Mapping[str, Any] | None = None  # JSON-safe; the same shape the CLI prints with --json
    error: str | None = None  # a message a person can act on
    details: tuple[str, ...] = ()  # what to do next, from StrongroomError.details
    cancel_requested: bool = False
    runner: str = ""  # which process holds it: "host:pid" for the embedded runner (to find jobs orphaned by a crash)


class JobCancelled(Exception):
    """Raised inside a job function (by JobContext.check_cancelled) to stop at a safe point."""


class JobContext(Protocol):
    """What a running job may ask of its runner."""

    job: JobRecord
    home: Path

    def progress(self, step: str, done: int, total: int | None) -> None:
        """Record progress (runners throttle writes). Same signature as archive.StepProgress."""
        ...

    def check_cancelled(self) -> None:
        """Raise JobCancelled if someone asked to cancel; call it between safe steps."""
        ...


JobFunction = Callable[[JobContext, Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class JobKind:
    """One kind of long work. `run` opens what it needs (Archive.open(ctx.home)) and returns its result JSON.

    `permission` is the web permission (web/permissions.py Permission value) needed to submit it and to see
    its jobs; `tools` are external tools it needs (checked before it is queued).
    """

    name: str
    title: str
    run: JobFunction
    permission: str
    tools: tuple[str, ...] = field(default=())
