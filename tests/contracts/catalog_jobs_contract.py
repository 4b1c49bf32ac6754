"""The Catalog conformance suite, continued: background jobs and their steps (jobs_base.JobsCatalog, JobStepsCatalog).

The jobs table survives `Catalog.clear()`, so each test empties it first. A job moves
QUEUED -> RUNNING -> a finished state by conditional updates: whoever loses a race changes nothing.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TypeVar

import pytest
import sqlalchemy as sa

from strongroom.catalog import open_catalog
from strongroom.catalog import tables as t
from strongroom.catalog.base import Catalog
from strongroom.catalog.sql import SqlCatalog
from strongroom.errors import NotFound
from strongroom.jobs.model import JobRecord, JobState, StepName, StepRef, StepStart, StepState
from tests.contracts.catalog_contract import CONTROL, T0, new_uuid

HOSTILE = f"<script>'\" & ≠ 📁 %_ {CONTROL}"


def make_job(kind: str = "ingest", owner: str = "ann", minutes: int = 0, **changes: object) -> JobRecord:
    job = JobRecord(id=new_uuid(), kind=kind, title=f"Ingest {HOSTILE}", owner=owner,
                    params={"source": f"/tmp/{HOSTILE}", "n": 3, "nested": {"list": [1, "two", None, True]}},
                    state=JobState.QUEUED, created=T0 + timedelta(minutes=minutes))  # fmt: skip
    return dataclasses.replace(job, **changes)  # type: ignore[arg-type]


class JobsContract:
    @pytest.fixture(autouse=True)
    def _empty_jobs_table(self, catalog: Catalog) -> Iterator[None]:
        assert isinstance(catalog, SqlCatalog)
        with catalog._write_engine.begin() as conn:
            conn.execute(sa.delete(t.jobs))
        yield

    def test_a_job_round_trips_with_json_params(self, catalog: Catalog) -> None:
        job = make_job()
        catalog.add_job(job)
        assert catalog.job(job.id) == job
        assert catalog.job(new_uuid()) is None

    def test_a_finished_job_round_trips_whole(self, catalog: Catalog) -> None:
        job = make_job(state=JobState.FAILED, started=T0, finished=T0 + timedelta(seconds=1, microseconds=5),
                       step="Identifying ≠", done=7, total=10, result={"files": 3, "names": [HOSTILE]},
                       error=f"went wrong {HOSTILE}", details=("retry", HOSTILE), cancel_requested=True,
                       runner="host:1")  # fmt: skip
        catalog.add_job(job)
        assert catalog.job(job.id) == job

    def test_jobs_are_listed_newest_first_and_filtered(self, catalog: Catalog) -> None:
        a = make_job("ingest", "ann", 0)
        b = make_job("audit", "bob", 1, state=JobState.SUCCEEDED)
        c = make_job("ingest", "bob", 2)
        for job in (a, b, c):
            catalog.add_job(job)
        assert [j.id for j in catalog.jobs()] == [c.id, b.id, a.id]
        assert [j.id for j in catalog.jobs(owner="bob")] == [c.id, b.id]
        assert [j.id for j in catalog.jobs(kinds=("ingest",))] == [c.id, a.id]
        assert [j.id for j in catalog.jobs(states=(JobState.SUCCEEDED,))] == [b.id]
        assert [j.id for j in catalog.jobs(kinds=())] == []
        assert [j.id for j in catalog.jobs(limit=1)] == [c.id]

    def test_start_progress_finish(self, catalog: Catalog) -> None:
        job = make_job()
        catalog.add_job(job)
        assert catalog.start_job(job.id, T0, "host:42")
        assert not catalog.start_job(job.id, T0, "host:43")  # already running: started once
        catalog.job_progress(job.id, "Storing", 5, None)
        running = catalog.job(job.id)
        assert running is not None
        assert (running.state, running.runner, running.started, running.step, running.done, running.total) == (
            JobState.RUNNING, "host:42", T0, "Storing", 5, None)  # fmt: skip
        end = T0 + timedelta(minutes=1)
        catalog.finish_job(job.id, JobState.SUCCEEDED, end, result={"package": "p"})
        catalog.finish_job(job.id, JobState.FAILED, end + timedelta(1), error="late")  # finished stays as it was
        done = catalog.job(job.id)
        assert done is not None
        assert (done.state, done.finished, done.result, done.error) == (JobState.SUCCEEDED, end, {"package": "p"}, None)

    def test_finish_needs_a_finished_state(self, catalog: Catalog) -> None:
        job = make_job()
        catalog.add_job(job)
        with pytest.raises(ValueError, match="finished state"):
            catalog.finish_job(job.id, JobState.RUNNING, T0)

    def test_cancelling_a_queued_job_ends_it_and_a_running_one_is_flagged(self, catalog: Catalog) -> None:
        queued, running = make_job(), make_job(minutes=1)
        catalog.add_job(queued)
        catalog.add_job(running)
        catalog.start_job(running.id, T0, "host:1")
        cancelled = catalog.request_cancel(queued.id)
        assert cancelled.state is JobState.CANCELLED and cancelled.finished is not None
        assert not catalog.start_job(queued.id, T0, "host:1")  # a cancelled job is never started
        flagged = catalog.request_cancel(running.id)
        assert flagged.state is JobState.RUNNING and flagged.cancel_requested
        with pytest.raises(NotFound):
            catalog.request_cancel(new_uuid())

    def test_start_and_cancel_racing_do_exactly_one(self, catalog: Catalog) -> None:
        job = make_job()
        catalog.add_job(job)
        started: list[bool] = []
        threads = [threading.Thread(target=lambda: started.append(catalog.start_job(job.id, T0, "host:1"))),
                   threading.Thread(target=lambda: catalog.request_cancel(job.id))]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = catalog.job(job.id)
        assert final is not None
        assert (final.state is JobState.RUNNING) == started[0]
        assert final.state in (JobState.RUNNING, JobState.CANCELLED)

    def test_interrupt_marks_only_the_unfinished_jobs_of_gone_runners(self, catalog: Catalog) -> None:
        mine, other, done, queued = make_job(), make_job(minutes=1), make_job(minutes=2), make_job(minutes=3)
        for job in (mine, other, done, queued):
            catalog.add_job(job)
        catalog.start_job(mine.id, T0, "old:1")
        catalog.start_job(other.id, T0, "live:2")
        catalog.start_job(done.id, T0, "old:1")
        catalog.finish_job(done.id, JobState.SUCCEEDED, T0)
        assert catalog.interrupt_jobs(T0 + timedelta(hours=1), ["old:1"]) == 1
        assert catalog.interrupt_jobs(T0, []) == 0
        states = {j.id: j.state for j in catalog.jobs()}
        assert states == {mine.id: JobState.INTERRUPTED, other.id: JobState.RUNNING, done.id: JobState.SUCCEEDED,
                          queued.id: JobState.QUEUED}  # fmt: skip
        interrupted = catalog.job(mine.id)
        assert interrupted is not None and interrupted.error and interrupted.finished == T0 + timedelta(hours=1)

    def test_clear_for_rebuild_keeps_jobs(self, catalog: Catalog) -> None:
        job = make_job()
        catalog.add_job(job)
        catalog.clear()
        assert catalog.job(job.id) == job


def reopen(catalog: Catalog) -> Catalog:
    """A second catalog on the same database (as another worker process would open it)."""
    assert isinstance(catalog, SqlCatalog)
    url = catalog._engine.url
    if url.get_backend_name() == "sqlite":
        return open_catalog(catalog.url)
    return open_catalog(url.set(drivername="postgresql").render_as_string(hide_password=False))


LEASE = timedelta(minutes=1)
R = TypeVar("R")


def at_once(*calls: Callable[[], R]) -> list[R]:
    """Run the calls on threads released together by a barrier; their results in call order."""
    barrier = threading.Barrier(len(calls))
    results: dict[int, R] = {}
    errors: list[BaseException] = []

    def run(i: int, call: Callable[[], R]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(calls))]


def staged_job(catalog: Catalog, chunks: int | None = None, *, kind: str = "ingest", minutes: int = 0,
               **changes: object) -> JobRecord:  # fmt: skip
    job = make_job(kind, "ann", minutes, **changes)
    catalog.add_job(job)
    assert catalog.add_step(job.id, "plan", T0)
    if chunks is not None:
        catalog.plan_chunks(job.id, chunks, T0)
    return job


class JobStepsContract:
    """Step rows (jobs_base.JobStepsCatalog): insert-or-ignore, leases, fan-in, and races between workers."""

    @pytest.fixture(autouse=True)
    def _empty_jobs_table(self, catalog: Catalog) -> Iterator[None]:
        assert isinstance(catalog, SqlCatalog)
        with catalog._write_engine.begin() as conn:
            conn.execute(sa.delete(t.job_steps))
            conn.execute(sa.delete(t.jobs))
        yield

    def test_add_step_inserts_once(self, catalog: Catalog) -> None:
        job = make_job()
        catalog.add_job(job)
        assert catalog.add_step(job.id, "finalize", T0)
        assert not catalog.add_step(job.id, "finalize", T0 + LEASE)
        assert [(s.key, s.state, s.attempts, s.worker, s.lease_until) for s in catalog.steps(job.id)] == [
            ("finalize", StepState.QUEUED, 0, "", None)]  # fmt: skip

    def test_plan_chunks_is_idempotent_and_refuses_another_count(self, catalog: Catalog) -> None:
        job = staged_job(catalog, 3)
        catalog.plan_chunks(job.id, 3, T0 + LEASE)
        assert [s.key for s in catalog.steps(job.id)] == ["chunk-000000", "chunk-000001", "chunk-000002", "plan"]
        assert [s.ref for s in catalog.steps(job.id)][:1] == [StepRef(job.id, StepName.CHUNK, 0)]
        with pytest.raises(ValueError, match="3 chunks"):
            catalog.plan_chunks(job.id, 4, T0)
        planned = catalog.job(job.id)
        assert planned is not None and (planned.chunks_total, planned.chunks_done) == (3, 0)
        with pytest.raises(NotFound):
            catalog.plan_chunks(new_uuid(), 1, T0)

    def test_a_big_plan_adds_every_chunk(self, catalog: Catalog) -> None:
        job = staged_job(catalog, 2500)
        assert len(catalog.steps(job.id)) == 2501

    def test_start_takes_a_queued_step_once_and_starts_the_job(self, catalog: Catalog) -> None:
        job = staged_job(catalog)
        assert catalog.start_step(job.id, "plan", "w:1", T0 + LEASE, T0) is StepStart.STARTED
        assert catalog.start_step(job.id, "plan", "w:2", T0 + LEASE, T0) is StepStart.BUSY
        assert catalog.start_step(job.id, "plan", "w:1", T0 + LEASE, T0) is StepStart.BUSY  # even for its holder
        (step,) = catalog.steps(job.id)
        assert (step.state, step.worker, step.attempts, step.lease_until, step.started) == (
            StepState.RUNNING, "w:1", 1, T0 + LEASE, T0)  # fmt: skip
        running = catalog.job(job.id)
        assert running is not None and (running.state, running.started, running.runner) == (
            JobState.RUNNING, T0, "w:1")  # fmt: skip
        with pytest.raises(ValueError, match="no step"):
            catalog.start_step(job.id, "finalize", "w:1", T0 + LEASE, T0)

    def test_an_expired_lease_lets_another_worker_take_over(self, catalog: Catalog) -> None:
        job = staged_job(catalog)
        catalog.start_step(job.id, "plan", "w:1", T0 + LEASE, T0)
        later = T0 + 2 * LEASE
        assert catalog.start_step(job.id, "plan", "w:2", later + LEASE, later) is StepStart.STARTED
        (step,) = catalog.steps(job.id)
        assert (step.worker, step.attempts) == ("w:2", 2)
        assert not catalog.renew_step(job.id, "plan", "w:1", later + LEASE)  # the old holder learns it lost it
        assert not catalog.finish_step(job.id, "plan", "w:1", later)
        assert catalog.steps(job.id)[0].state is StepState.RUNNING
        assert catalog.renew_step(job.id, "plan", "w:2", later + 2 * LEASE)
        assert catalog.steps(job.id)[0].lease_until == later + 2 * LEASE

    def test_done_failed_finished_and_cancelled(self, catalog: Catalog) -> None:
        job = staged_job(catalog)
        catalog.start_step(job.id, "plan", "w:1", T0 + LEASE, T0)
        assert not catalog.finish_step(job.id, "plan", "w:1", T0)  # not a chunk: never the last chunk
        assert catalog.steps(job.id)[0].state is StepState.DONE
        assert catalog.start_step(job.id, "plan", "w:2", T0 + LEASE, T0) is StepStart.DONE
        assert not catalog.finish_step(job.id, "plan", "w:1", T0)  # a repeat changes nothing

        failing = staged_job(catalog)
        catalog.start_step(failing.id, "plan", "w:1", T0 + LEASE, T0)
        catalog.fail_step(failing.id, "plan", "w:2", T0, "not mine")  # not held by w:2: no change
        assert catalog.steps(failing.id)[0].state is StepState.RUNNING
        catalog.fail_step(failing.id, "plan", "w:1", T0, f"broke {HOSTILE}")
        (failed,) = catalog.steps(failing.id)
        assert (failed.state, failed.error, failed.finished, failed.lease_until) == (
            StepState.FAILED, f"broke {HOSTILE}", T0, None)  # fmt: skip
        assert catalog.start_step(failing.id, "plan", "w:2", T0 + LEASE, T0) is StepStart.JOB_ENDED

        cancelled = staged_job(catalog, 2)
        catalog.start_step(cancelled.id, "chunk-000000", "w:1", T0 + LEASE, T0)
        catalog.request_cancel(cancelled.id)
        assert catalog.start_step(cancelled.id, "chunk-000001", "w:1", T0 + LEASE, T0) is StepStart.JOB_ENDED
        ended = staged_job(catalog)
        catalog.finish_job(ended.id, JobState.SUCCEEDED, T0)
        assert catalog.start_step(ended.id, "plan", "w:1", T0 + LEASE, T0) is StepStart.JOB_ENDED
        assert catalog.steps(ended.id)[0].state is StepState.QUEUED  # not touched
        assert catalog.start_step(new_uuid(), "plan", "w:1", T0 + LEASE, T0) is StepStart.JOB_ENDED

    def test_finishing_the_last_chunk_says_so_once(self, catalog: Catalog) -> None:
        job = staged_job(catalog, 3)
        lasts = []
        for n in range(3):
            key = f"chunk-{n:06d}"
            assert catalog.start_step(job.id, key, "w:1", T0 + LEASE, T0) is StepStart.STARTED
            lasts.append(catalog.finish_step(job.id, key, "w:1", T0))
            lasts.append(catalog.finish_step(job.id, key, "w:1", T0))  # a repeat counts nothing
        assert lasts == [False, False, False, False, True, False]
        counted = catalog.job(job.id)
        assert counted is not None and (counted.chunks_done, counted.chunks_total) == (3, 3)

    def test_the_call_finishing_the_last_chunk_queues_finalize_with_it(self, catalog: Catalog) -> None:
        job = staged_job(catalog, 2)
        for n in range(2):
            assert catalog.start_step(job.id, f"chunk-{n:06d}", "w:1", T0 + LEASE, T0) is StepStart.STARTED
        assert not catalog.finish_step(job.id, "chunk-000000", "w:1", T0)
        assert "finalize" not in {s.key for s in catalog.steps(job.id)}  # not before every chunk is done
        assert catalog.finish_step(job.id, "chunk-000001", "w:1", T0 + LEASE)
        # In the same transaction: a worker dying right after cannot leave the job with no finalize at all.
        finalize = {s.key: s for s in catalog.steps(job.id)}["finalize"]
        assert (finalize.state, finalize.attempts, finalize.worker) == (StepState.QUEUED, 0, "")
        assert not catalog.add_step(job.id, "finalize", T0 + LEASE)  # the caller's own add finds it there

    def test_expired_steps_and_requeue(self, catalog: Catalog) -> None:
        job = staged_job(catalog, 2)
        catalog.start_step(job.id, "chunk-000000", "w:1", T0 + LEASE, T0)
        catalog.start_step(job.id, "chunk-000001", "w:2", T0 + 3 * LEASE, T0)
        ended = staged_job(catalog)
        catalog.start_step(ended.id, "plan", "w:1", T0 + LEASE, T0)
        catalog.finish_job(ended.id, JobState.FAILED, T0)
        assert catalog.expired_steps(T0 + LEASE) == []  # a lease that ends at `now` has not run out yet
        later = T0 + 2 * LEASE
        assert [(s.job_id, s.key, s.worker) for s in catalog.expired_steps(later)] == [
            (job.id, "chunk-000000", "w:1")]  # fmt: skip
        assert catalog.expired_steps(later, limit=0) == []
        assert catalog.requeue_step(job.id, "chunk-000000", later)
        assert not catalog.requeue_step(job.id, "chunk-000000", later)  # one sweeper wins
        assert not catalog.requeue_step(job.id, "chunk-000001", later)  # its lease is live
        step = catalog.steps(job.id)[0]
        assert (step.state, step.lease_until, step.attempts) == (StepState.QUEUED, None, 1)
        assert catalog.start_step(job.id, "chunk-000000", "w:3", later + LEASE, later) is StepStart.STARTED
        assert catalog.steps(job.id)[0].attempts == 2

    def test_steps_waiting_since_before_a_time_are_found_and_sent_again_once(self, catalog: Catalog) -> None:
        job = staged_job(catalog, 2, kind="audit")  # plan, chunk-000000, chunk-000001 queued at T0
        catalog.start_step(job.id, "chunk-000000", "w:1", T0 + LEASE, T0)  # running: not waiting
        cancelled = staged_job(catalog, kind="ingest", state=JobState.RUNNING)
        catalog.request_cancel(cancelled.id)
        ended = staged_job(catalog)
        catalog.finish_job(ended.id, JobState.FAILED, T0)
        assert catalog.waiting_steps(T0) == []  # queued at T0 is not before T0
        later = T0 + LEASE
        waiting = catalog.waiting_steps(later)
        assert [(kind, s.job_id, s.key, s.state) for kind, s in waiting] == [
            ("audit", job.id, "chunk-000001", StepState.QUEUED),
            ("audit", job.id, "plan", StepState.QUEUED),
        ]
        assert catalog.waiting_steps(later, limit=1) == waiting[:1]
        assert catalog.resend_step(job.id, "plan", later, later)
        assert not catalog.resend_step(job.id, "plan", later, later)  # of two sweepers, one sends it
        assert not catalog.resend_step(job.id, "chunk-000000", later, later)  # running, not queued
        assert [s.key for _, s in catalog.waiting_steps(later)] == ["chunk-000001"]
        assert [s.key for _, s in catalog.waiting_steps(later + LEASE)] == ["chunk-000001", "plan"]
        plan = catalog.steps(job.id)[-1]
        assert (plan.key, plan.state, plan.attempts) == ("plan", StepState.QUEUED, 0)  # only its time moved

    def test_claim_takes_the_oldest_queued_step_of_the_given_kinds(self, catalog: Catalog) -> None:
        audit = staged_job(catalog, kind="audit", minutes=0)
        ingest = staged_job(catalog, kind="ingest", minutes=1)
        cancelled = staged_job(catalog, kind="ingest", minutes=-1, state=JobState.RUNNING)
        catalog.request_cancel(cancelled.id)
        claimed = catalog.claim_step("w:1", T0 + LEASE, T0, kinds=("ingest",))
        assert claimed is not None and (claimed.job_id, claimed.key, claimed.state, claimed.worker) == (
            ingest.id, "plan", StepState.RUNNING, "w:1")  # fmt: skip
        assert catalog.claim_step("w:1", T0 + LEASE, T0, kinds=("ingest",)) is None
        assert catalog.claim_step("w:1", T0 + LEASE, T0, kinds=()) is None
        other = catalog.claim_step("w:2", T0 + LEASE, T0)
        assert other is not None and other.job_id == audit.id
        started = catalog.job(audit.id)
        assert started is not None and started.state is JobState.RUNNING and started.runner == "w:2"
        assert catalog.claim_step("w:2", T0 + LEASE, T0) is None

    def test_steps_go_with_their_job_and_survive_clear(self, catalog: Catalog) -> None:
        job = staged_job(catalog, 1)
        catalog.clear()
        assert len(catalog.steps(job.id)) == 2
        assert isinstance(catalog, SqlCatalog)
        with catalog._write_engine.begin() as conn:
            conn.execute(sa.delete(t.jobs).where(t.jobs.c.id == job.id))
        assert catalog.steps(job.id) == []

    def test_two_workers_starting_one_step_never_both_hold_it(self, catalog: Catalog) -> None:
        other = reopen(catalog)
        try:
            for _ in range(50):
                job = staged_job(catalog)
                results = at_once(
                    lambda: catalog.start_step(job.id, "plan", "w:0", T0 + LEASE, T0),  # noqa: B023 (runs in the loop)
                    lambda: other.start_step(job.id, "plan", "w:1", T0 + LEASE, T0),  # noqa: B023
                )
                assert sorted(results) == sorted([StepStart.STARTED, StepStart.BUSY])
                assert catalog.steps(job.id)[0].attempts == 1
        finally:
            other.close()

    def test_two_workers_claiming_never_take_one_step_twice(self, catalog: Catalog) -> None:
        job = staged_job(catalog, 30)
        other = reopen(catalog)
        taken: list[str] = []

        def claim(cat: Catalog, worker: str) -> None:
            while (step := cat.claim_step(worker, T0 + LEASE, T0)) is not None:
                taken.append(step.key)

        try:
            threads = [threading.Thread(target=claim, args=(c, f"w:{i}")) for i, c in enumerate((catalog, other))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            other.close()
        assert sorted(taken) == sorted(s.key for s in catalog.steps(job.id))
        assert all(s.attempts == 1 for s in catalog.steps(job.id))

    def test_two_workers_finishing_the_last_chunks_fan_in_once(self, catalog: Catalog) -> None:
        other = reopen(catalog)
        try:
            for _ in range(20):
                job = staged_job(catalog, 2)
                for n, cat in enumerate((catalog, other)):
                    cat.start_step(job.id, f"chunk-{n:06d}", f"w:{n}", T0 + LEASE, T0)
                lasts = at_once(
                    lambda: catalog.finish_step(job.id, "chunk-000000", "w:0", T0),  # noqa: B023 (runs in the loop)
                    lambda: other.finish_step(job.id, "chunk-000001", "w:1", T0),  # noqa: B023
                )
                assert sorted(lasts) == [False, True]
                queued = [s.key for s in catalog.steps(job.id) if s.state is StepState.QUEUED]
                assert queued == ["finalize", "plan"]  # (this test never ran the plan)
        finally:
            other.close()
