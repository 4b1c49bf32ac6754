"""JobsCatalog (jobs_base.py) in SQL: one row per background job.

A mixin of SqlCatalog (sql.py). State changes are conditional updates (`WHERE state = ...`),
so a job cancelled while its runner picks it up is either started or cancelled, never both,
and a finished job is never changed again.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from strongroom.catalog import tables as t
from strongroom.catalog.codec import strings_from_json, strings_to_json
from strongroom.errors import NotFound
from strongroom.jobs.model import JobRecord, JobState

UNFINISHED = (JobState.QUEUED.value, JobState.RUNNING.value)


class JobsSql:
    """The jobs table of an SqlCatalog (mixed into it; uses its connections and helpers)."""

    url: str

    if TYPE_CHECKING:

        def _write(self, action: str) -> AbstractContextManager[Connection]: ...

        def _read(self, action: str) -> AbstractContextManager[Connection]: ...

    def add_job(self, job: JobRecord) -> None:
        with self._write(f"record job {job.id}") as conn:
            conn.execute(sa.insert(t.jobs), _job_values(job))

    def job(self, job_id: str) -> JobRecord | None:
        with self._read(f"read job {job_id}") as conn:
            row = conn.execute(sa.select(t.jobs).where(t.jobs.c.id == job_id)).first()
        return _job(row) if row is not None else None

    def jobs(
        self,
        *,
        owner: str | None = None,
        kinds: tuple[str, ...] | None = None,
        states: tuple[JobState, ...] | None = None,
        limit: int = 100,
    ) -> list[JobRecord]:
        c = t.jobs.c
        query = sa.select(t.jobs).order_by(c.created.desc(), c.id.desc()).limit(max(0, limit))
        if owner is not None:
            query = query.where(c.owner == owner)
        if kinds is not None:
            query = query.where(c.kind.in_(kinds))
        if states is not None:
            query = query.where(c.state.in_([JobState(s).value for s in states]))
        with self._read("list jobs") as conn:
            return [_job(r) for r in conn.execute(query).all()]

    def start_job(self, job_id: str, when: datetime, runner: str) -> bool:
        c = t.jobs.c
        stmt = (
            sa.update(t.jobs)
            .where(c.id == job_id, c.state == JobState.QUEUED.value)
            .values(state=JobState.RUNNING.value, started=when, runner=runner)
        )
        with self._write(f"start job {job_id}") as conn:
            return int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount) == 1

    def job_progress(self, job_id: str, step: str, done: int, total: int | None) -> None:
        stmt = sa.update(t.jobs).where(t.jobs.c.id == job_id).values(step=_text(step), done=done, total=total)
        with self._write(f"record the progress of job {job_id}") as conn:
            conn.execute(stmt)

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
        state = JobState(state)
        if not state.finished:
            raise ValueError(f"finish_job needs a finished state, not {state.value!r} (a bug).")
        c = t.jobs.c
        stmt = (
            sa.update(t.jobs)
            .where(c.id == job_id, c.state.in_(UNFINISHED))
            .values(state=state.value, finished=when, result=_json_or_none(result),
                    error=None if error is None else _text(error), details=strings_to_json(details))
        )  # fmt: skip
        with self._write(f"finish job {job_id}") as conn:
            conn.execute(stmt)

    def request_cancel(self, job_id: str) -> JobRecord:
        c = t.jobs.c
        with self._write(f"cancel job {job_id}") as conn:
            conn.execute(
                sa.update(t.jobs)
                .where(c.id == job_id, c.state == JobState.QUEUED.value)
                .values(state=JobState.CANCELLED.value, finished=datetime.now(UTC), cancel_requested=True)
            )
            conn.execute(
                sa.update(t.jobs).where(c.id == job_id, c.state == JobState.RUNNING.value).values(cancel_requested=True)
            )
            row = conn.execute(sa.select(t.jobs).where(c.id == job_id)).first()
        if row is None:
            raise NotFound(f"There is no job {job_id!r}.", details=["See the jobs on the Jobs page."])
        return _job(row)

    def interrupt_jobs(self, when: datetime, runners: Collection[str]) -> int:
        if not runners:
            return 0
        c = t.jobs.c
        stmt = (
            sa.update(t.jobs)
            .where(c.runner.in_(list(runners)), c.state.in_(UNFINISHED))
            .values(state=JobState.INTERRUPTED.value, finished=when,
                    error="The job stopped when the service running it stopped.",
                    details=strings_to_json(["Check what it had done, then start it again."]))
        )  # fmt: skip
        with self._write("mark interrupted jobs") as conn:
            return int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount)


def _json_or_none(value: Mapping[str, Any] | None) -> str | None:
    # ASCII with escapes: a lone surrogate (a file name that is not UTF-8, as Python decodes it) survives
    # the database as \udce9 and comes back as the very same string; NUL comes back too.
    return None if value is None else json.dumps(dict(value))


def _text(words: str) -> str:
    """Words a person reads (a title, progress, an error), storable whatever they hold: a lone surrogate from
    a file name that is not UTF-8 is written as \xe9, where the database would refuse the whole row."""
    try:
        words.encode("utf-8")
    except UnicodeEncodeError:
        return words.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return words


def _job_values(j: JobRecord) -> dict[str, Any]:
    return {
        "id": j.id, "kind": j.kind, "title": _text(j.title), "owner": _text(j.owner),
        "params": json.dumps(dict(j.params)), "state": JobState(j.state).value,
        "created": j.created, "started": j.started, "finished": j.finished, "step": _text(j.step), "done": j.done,
        "total": j.total, "result": _json_or_none(j.result), "error": None if j.error is None else _text(j.error),
        "details": strings_to_json(j.details),
        "cancel_requested": j.cancel_requested, "runner": j.runner, "chunks_total": j.chunks_total,
        "chunks_done": j.chunks_done,
    }  # fmt: skip


def _job(r: Row[Any]) -> JobRecord:
    return JobRecord(
        id=r.id, kind=r.kind, title=r.title, owner=r.owner, params=json.loads(r.params), state=JobState(r.state),
        created=r.created, started=r.started, finished=r.finished, step=r.step, done=int(r.done),
        total=None if r.total is None else int(r.total), result=None if r.result is None else json.loads(r.result),
        error=r.error, details=strings_from_json(r.details), cancel_requested=bool(r.cancel_requested),
        runner=r.runner, chunks_total=None if r.chunks_total is None else int(r.chunks_total),
        chunks_done=int(r.chunks_done),
    )  # fmt: skip


__all__ = ["UNFINISHED", "JobsSql"]
