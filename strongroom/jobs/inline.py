"""Run a job kind start to finish in the calling process: the reference meaning of a staged kind.

plan, then every chunk in order, then finalize, with no catalog rows and no engine. Tests of job kinds
use it, and so can a command that runs a staged kind without --submit. The runners (embedded.py,
celery_runner.py) give the same steps the same context, spread over workers.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from strongroom.jobs.model import JobCancelled, JobKind, JobRecord

Progress = Callable[[str, int, int | None], None]


class InlineContext:
    """A StepContext for one process: progress goes to a callback, cancellation to a callable."""

    def __init__(self, job: JobRecord, home: Path, scratch: Path, progress: Progress | None = None,
                 cancelled: Callable[[], bool] | None = None) -> None:  # fmt: skip
        self.job = job
        self.home = home
        self._scratch = scratch
        self._progress = progress
        self._cancelled = cancelled

    @property
    def scratch(self) -> Path:
        return self._scratch

    def progress(self, step: str, done: int, total: int | None) -> None:
        if self._progress is not None:
            self._progress(step, done, total)

    def check_cancelled(self) -> None:
        if self._cancelled is not None and self._cancelled():
            raise JobCancelled()


def run_inline(kind: JobKind, ctx: InlineContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Run every step of `kind` here; returns its result. Exceptions pass through unchanged."""
    if kind.run is not None:
        return kind.run(ctx, params)
    assert kind.plan is not None and kind.chunk is not None and kind.finalize is not None
    chunks = kind.plan(ctx, params)
    for n in range(chunks):
        ctx.check_cancelled()
        kind.chunk(ctx, params, n)
    return kind.finalize(ctx, params)


def run_inline_in_scratch(kind: JobKind, job: JobRecord, home: Path, parent: Path,
                          progress: Progress | None = None) -> Mapping[str, Any]:  # fmt: skip
    """run_inline with a scratch folder made under `parent` and removed afterwards, whatever happens."""
    parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"job-{job.id}-", dir=parent))
    try:
        return run_inline(kind, InlineContext(job, home, scratch, progress), job.params)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


__all__ = ["InlineContext", "run_inline", "run_inline_in_scratch"]
