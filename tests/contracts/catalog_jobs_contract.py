"""The Catalog conformance suite, continued: background jobs (jobs_base.JobsCatalog).

The jobs table survives `Catalog.clear()`, so each test empties it first. A job moves
QUEUED -> RUNNING -> a finished state by conditional updates: whoever loses a race changes nothing.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from strongroom.catalog import tables as t
from strongroom.catalog.base import Catalog
from strongroom.catalog.sql import SqlCatalog
from strongroom.errors import NotFound
from strongroom.jobs.model import JobRecord, JobState
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
