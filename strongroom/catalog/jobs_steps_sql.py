"""JobStepsCatalog (jobs_base.py) in SQL: one row per step of a job, with its state and lease.

A mixin of SqlCatalog (sql.py). Every change is one conditional UPDATE (or an insert that does nothing
on conflict) whose row count says whether this call won: on SQLite writes are serialised by BEGIN
IMMEDIATE; on PostgreSQL a second UPDATE of the same row waits for the first to commit and then finds
its condition false. So two workers given the same step never both hold it, whatever the engine does.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from strongroom.catalog import tables as t
from strongroom.catalog.jobs_sql import UNFINISHED
from strongroom.errors import NotFound
from strongroom.jobs.model import JobState, StepRecord, StepStart, StepState

QUEUED, RUNNING, DONE, FAILED = (s.value for s in (StepState.QUEUED, StepState.RUNNING, StepState.DONE,
                                                   StepState.FAILED))  # fmt: skip
CHUNK_PREFIX = "chunk-"
FINALIZE_KEY = "finalize"
INSERT_BATCH = 1000  # chunk rows per executemany when a plan adds them
CLAIM_CANDIDATES = 8  # queued steps looked at per try: another worker may take the first few meanwhile


def chunk_key(n: int) -> str:
    return f"{CHUNK_PREFIX}{n:06d}"


class JobStepsSql:
    """The job_steps table of an SqlCatalog (mixed into it; uses its connections and helpers)."""

    url: str

    if TYPE_CHECKING:
        _insert: Callable[[sa.Table], Any]

        def _write(self, action: str) -> AbstractContextManager[Connection]: ...

        def _read(self, action: str) -> AbstractContextManager[Connection]: ...

    def add_step(self, job_id: str, key: str, when: datetime) -> bool:
        stmt = self._insert(t.job_steps).on_conflict_do_nothing(index_elements=["job_id", "key"])
        with self._write(f"add step {key} of job {job_id}") as conn:
            result = conn.execute(stmt.execution_options(preserve_rowcount=True), _queued(job_id, key, when))
            return int(result.rowcount) == 1

    def plan_chunks(self, job_id: str, chunks: int, when: datetime) -> None:
        if chunks < 0:
            raise ValueError(f"A job cannot have {chunks} chunks (a bug in its plan).")
        j = t.jobs.c
        with self._write(f"record the chunks of job {job_id}") as conn:
            conn.execute(sa.update(t.jobs).where(j.id == job_id, j.chunks_total.is_(None)).values(chunks_total=chunks))
            recorded = conn.execute(sa.select(j.chunks_total).where(j.id == job_id)).first()
            if recorded is None:
                raise NotFound(f"There is no job {job_id!r}.", details=["See the jobs on the Jobs page."])
            if int(recorded.chunks_total) != chunks:
                raise ValueError(f"job {job_id} was planned with {recorded.chunks_total} chunks, now {chunks} (a bug: "
                                 "a plan must give the same count every time it runs)")  # fmt: skip
            stmt = self._insert(t.job_steps).on_conflict_do_nothing(index_elements=["job_id", "key"])
            for start in range(0, chunks, INSERT_BATCH):
                rows = [_queued(job_id, chunk_key(n), when) for n in range(start, min(chunks, start + INSERT_BATCH))]
                conn.execute(stmt, rows)

    def start_step(self, job_id: str, key: str, worker: str, lease_until: datetime, when: datetime) -> StepStart:
        with self._write(f"start step {key} of job {job_id}") as conn:
            if _take(conn, job_id, key, worker, lease_until, when):
                return StepStart.STARTED
            step = conn.execute(_one_step(job_id, key)).first()
            job = conn.execute(sa.select(t.jobs.c.state, t.jobs.c.cancel_requested)
                               .where(t.jobs.c.id == job_id)).first()  # fmt: skip
        if step is not None and step.state == DONE:
            return StepStart.DONE
        if job is None or job.state not in UNFINISHED or job.cancel_requested:
            return StepStart.JOB_ENDED
        if step is None:
            raise ValueError(f"job {job_id} has no step {key!r} (a bug: a step is added before it is sent)")
        if step.state == FAILED:
            return StepStart.JOB_ENDED
        return StepStart.BUSY

    def renew_step(self, job_id: str, key: str, worker: str, lease_until: datetime) -> bool:
        s = t.job_steps.c
        stmt = (
            sa.update(t.job_steps)
            .where(s.job_id == job_id, s.key == key, s.worker == worker, s.state == RUNNING)
            .values(lease_until=lease_until)
        )
        with self._write(f"renew the lease of step {key} of job {job_id}") as conn:
            return int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount) == 1

    def finish_step(self, job_id: str, key: str, worker: str, when: datetime) -> bool:
        s, j = t.job_steps.c, t.jobs.c
        stmt = (
            sa.update(t.job_steps)
            .where(s.job_id == job_id, s.key == key, s.worker == worker, s.state == RUNNING)
            .values(state=DONE, finished=when, lease_until=None)
        )
        with self._write(f"finish step {key} of job {job_id}") as conn:
            if int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount) != 1:
                return False
            if not key.startswith(CHUNK_PREFIX):
                return False
            # In the same transaction as the step's own change: a chunk counts once, and of two workers
            # finishing the last two chunks, exactly one sees the count reach the total.
            counted = conn.execute(
                sa.update(t.jobs).where(j.id == job_id).values(chunks_done=j.chunks_done + 1)
                .returning(j.chunks_done, j.chunks_total)
            ).first()  # fmt: skip
            last = (
                counted is not None and counted.chunks_total is not None and counted.chunks_done == counted.chunks_total
            )
            if last:
                # Finalize is queued with the count that calls for it: a worker dying before it adds or sends
                # finalize leaves it queued (the embedded runner takes it; a repeated delivery sends it on).
                add = self._insert(t.job_steps).on_conflict_do_nothing(index_elements=["job_id", "key"])
                conn.execute(add, _queued(job_id, FINALIZE_KEY, when))
        return last

    def fail_step(self, job_id: str, key: str, worker: str, when: datetime, error: str) -> None:
        s = t.job_steps.c
        stmt = (
            sa.update(t.job_steps)
            .where(s.job_id == job_id, s.key == key, s.worker == worker, s.state == RUNNING)
            .values(state=FAILED, finished=when, lease_until=None, error=error)
        )
        with self._write(f"record the failure of step {key} of job {job_id}") as conn:
            conn.execute(stmt)

    def steps(self, job_id: str) -> list[StepRecord]:
        s = t.job_steps.c
        with self._read(f"read the steps of job {job_id}") as conn:
            rows = conn.execute(sa.select(t.job_steps).where(s.job_id == job_id).order_by(s.key)).all()
        return [_step(r) for r in rows]

    def expired_steps(self, now: datetime, limit: int = 1000) -> list[StepRecord]:
        s, j = t.job_steps.c, t.jobs.c
        query = (
            sa.select(t.job_steps)
            .join(t.jobs, j.id == s.job_id)
            .where(s.state == RUNNING, s.lease_until < now, j.state.in_(UNFINISHED))
            .order_by(s.lease_until, s.job_id, s.key)
            .limit(max(0, limit))
        )
        with self._read("find job steps whose worker stopped") as conn:
            return [_step(r) for r in conn.execute(query).all()]

    def requeue_step(self, job_id: str, key: str, now: datetime) -> bool:
        s = t.job_steps.c
        stmt = (
            sa.update(t.job_steps)
            .where(s.job_id == job_id, s.key == key, s.state == RUNNING, s.lease_until < now)
            .values(state=QUEUED, lease_until=None, queued=now)
        )
        with self._write(f"queue step {key} of job {job_id} again") as conn:
            return int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount) == 1

    def waiting_steps(self, queued_before: datetime, limit: int = 1000) -> list[tuple[str, StepRecord]]:
        s, j = t.job_steps.c, t.jobs.c
        query = (
            sa.select(j.kind, t.job_steps)
            .join(t.jobs, j.id == s.job_id)
            .where(s.state == QUEUED, s.queued < queued_before, j.state.in_(UNFINISHED),
                   j.cancel_requested == sa.false())
            .order_by(s.queued, s.job_id, s.key)
            .limit(max(0, limit))
        )  # fmt: skip
        with self._read("find job steps waiting for a worker") as conn:
            return [(r.kind, _step(r)) for r in conn.execute(query).all()]

    def resend_step(self, job_id: str, key: str, queued_before: datetime, now: datetime) -> bool:
        s = t.job_steps.c
        stmt = (
            sa.update(t.job_steps)
            .where(s.job_id == job_id, s.key == key, s.state == QUEUED, s.queued < queued_before)
            .values(queued=now)
        )
        with self._write(f"send step {key} of job {job_id} again") as conn:
            return int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount) == 1

    def claim_step(
        self, worker: str, lease_until: datetime, when: datetime, kinds: tuple[str, ...] | None = None
    ) -> StepRecord | None:
        s, j = t.job_steps.c, t.jobs.c
        query = (
            sa.select(s.job_id, s.key)
            .join(t.jobs, j.id == s.job_id)
            .where(s.state == QUEUED, j.state.in_(UNFINISHED), j.cancel_requested == sa.false())
            .order_by(j.created, s.queued, s.key)
            .limit(CLAIM_CANDIDATES)
        )
        if kinds is not None:
            query = query.where(j.kind.in_(kinds))
        while True:
            # Looked for in a read first: an idle runner polls, and on SQLite a write takes the one write lock.
            with self._read("look for a queued job step") as conn:
                candidates = conn.execute(query).all()
            if not candidates:
                return None
            with self._write("take a queued job step") as conn:
                for candidate in candidates:
                    if _take(conn, candidate.job_id, candidate.key, worker, lease_until, when):
                        row = conn.execute(_one_step(candidate.job_id, candidate.key)).one()
                        return _step(row)
            # Every candidate was taken by another worker between the look and the update: look again.


def _take(conn: Connection, job_id: str, key: str, worker: str, lease_until: datetime, when: datetime) -> bool:
    """QUEUED (or RUNNING with a lapsed lease) -> RUNNING held by `worker`, if its job is live; the job starts too."""
    s, j = t.job_steps.c, t.jobs.c
    live_job = sa.select(j.id).where(j.id == job_id, j.state.in_(UNFINISHED), j.cancel_requested == sa.false())
    takeable = sa.or_(s.state == QUEUED, sa.and_(s.state == RUNNING, s.lease_until < when))
    stmt = (
        sa.update(t.job_steps)
        .where(s.job_id == job_id, s.key == key, takeable, s.job_id.in_(live_job.scalar_subquery()))
        .values(state=RUNNING, worker=worker, lease_until=lease_until, started=when, finished=None, error=None,
                attempts=s.attempts + 1)
    )  # fmt: skip
    if int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount) != 1:
        return False
    conn.execute(
        sa.update(t.jobs)
        .where(j.id == job_id, j.state == JobState.QUEUED.value)
        .values(state=JobState.RUNNING.value, started=when, runner=worker)
    )
    return True


def _one_step(job_id: str, key: str) -> sa.Select[Any]:
    s = t.job_steps.c
    return sa.select(t.job_steps).where(s.job_id == job_id, s.key == key)


def _queued(job_id: str, key: str, when: datetime) -> dict[str, Any]:
    return {"job_id": job_id, "key": key, "state": QUEUED, "attempts": 0, "worker": "", "queued": when}


def _step(r: Row[Any]) -> StepRecord:
    return StepRecord(job_id=r.job_id, key=r.key, state=StepState(r.state), attempts=int(r.attempts), worker=r.worker,
                      lease_until=r.lease_until, started=r.started, finished=r.finished, error=r.error)  # fmt: skip


__all__ = ["CHUNK_PREFIX", "JobStepsSql", "chunk_key"]
