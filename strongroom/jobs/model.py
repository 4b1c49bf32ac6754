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
    chunks_total: int | None = None  # a staged job's chunk count, once planned
    chunks_done: int = 0


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
PlanFunction = Callable[["StepContext", Mapping[str, Any]], int]
ChunkFunction = Callable[["StepContext", Mapping[str, Any], int], None]
FinalizeFunction = Callable[["StepContext", Mapping[str, Any]], Mapping[str, Any]]

DEFAULT_STEP_SECONDS = 3600.0


class StepContext(JobContext, Protocol):
    """What a step of a staged job gets, from either runner.

    `scratch` is this job's own folder under `[jobs] shared_dir` (every worker host sees the same path:
    a shared mount in a distributed deployment); steps keep their outputs there under deterministic names
    (`chunk-000012.json`, written atomically), so a step delivered twice writes the same thing twice.
    The runner removes it when the job ends.
    """

    @property
    def scratch(self) -> Path: ...


@dataclass(frozen=True)
class JobKind:
    """One kind of long work, in one of two forms.

    Single-step: `run` opens what it needs (Archive.open(ctx.home)) and returns its result JSON.
    Staged (for work that fans out over workers and must survive one dying): `plan` prepares the job
    and returns how many chunks it has (0 allowed); `chunk` does chunk n (idempotent: it may run twice,
    or be cut off and run again elsewhere); `finalize` runs once after every chunk is done and returns
    the result JSON. Exactly one of `run` and (`plan`, `chunk`, `finalize`) is given.

    `permission` is the web permission (web/permissions.py Permission value) needed to submit it and to see
    its jobs; `tools` are external tools its steps need: checked before it is queued by the embedded
    runner, and naming the capability queue its steps go to on the distributed one.
    `step_seconds` is the hard time limit of one step; `resumable` says a step cut off by a dead worker may
    simply run again (always true of staged kinds; a single-step job that is not is marked INTERRUPTED).
    """

    name: str
    title: str
    run: JobFunction | None  # None for a staged kind
    permission: str
    tools: tuple[str, ...] = field(default=())
    plan: PlanFunction | None = None
    chunk: ChunkFunction | None = None
    finalize: FinalizeFunction | None = None
    step_seconds: float = DEFAULT_STEP_SECONDS
    resumable: bool = False

    def __post_init__(self) -> None:
        staged = (self.plan, self.chunk, self.finalize)
        if self.run is not None and any(f is not None for f in staged):
            raise ValueError(f"job kind {self.name!r} gives both run and plan/chunk/finalize (a bug)")
        if self.run is None and any(f is None for f in staged):
            raise ValueError(f"job kind {self.name!r} needs run, or all of plan, chunk and finalize (a bug)")

    @property
    def staged(self) -> bool:
        return self.run is None


class StepName(enum.StrEnum):
    PLAN = "plan"
    CHUNK = "chunk"
    FINALIZE = "finalize"
    RUN = "run"  # the one step of a single-step kind


@dataclass(frozen=True)
class StepRef:
    """The only thing a job engine carries: "run step S (chunk n) of job J". JSON-safe both ways."""

    job_id: str
    step: StepName
    chunk: int | None = None

    def __post_init__(self) -> None:
        if (self.step is StepName.CHUNK) != (self.chunk is not None):
            raise ValueError(f"step {self.step} with chunk {self.chunk!r} (a chunk step needs its number; others none)")

    @property
    def key(self) -> str:
        """The step's row key in the catalog: "plan", "chunk-000012", "finalize" or "run"."""
        return f"chunk-{self.chunk:06d}" if self.step is StepName.CHUNK else self.step.value

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job_id, "step": self.step.value, "chunk": self.chunk}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepRef:
        chunk = data.get("chunk")
        return cls(str(data["job"]), StepName(data["step"]), None if chunk is None else int(chunk))

    @classmethod
    def from_key(cls, job_id: str, key: str) -> StepRef:
        if key.startswith("chunk-"):
            return cls(job_id, StepName.CHUNK, int(key.removeprefix("chunk-")))
        return cls(job_id, StepName(key))


class StepState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"  # held by `worker` until `lease_until`; the worker renews the lease while it runs
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class StepRecord:
    job_id: str
    key: str
    state: StepState
    attempts: int = 0  # how many times a worker started it (more than 1: redelivered after a worker died)
    worker: str = ""  # "host:pid" of the worker that holds or last held it
    lease_until: datetime | None = None
    started: datetime | None = None
    finished: datetime | None = None
    error: str | None = None

    @property
    def ref(self) -> StepRef:
        return StepRef.from_key(self.job_id, self.key)


class StepStart(enum.StrEnum):
    """What `start_step` found."""

    STARTED = "started"  # the caller now holds the step (it was queued, or its holder's lease ran out)
    BUSY = "busy"  # another worker holds it with a live lease: leave it (the sweeper re-queues it if that one dies)
    DONE = "done"  # already done: a duplicate delivery, nothing to do
    JOB_ENDED = "job-ended"  # the job finished, failed or was cancelled: nothing to do
