"""The lease sweeper (jobs/execute.py sweep_expired): steps whose worker stopped renewing go back to the queue."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from strongroom.catalog import open_catalog
from strongroom.catalog.base import Catalog
from strongroom.config import load_settings
from strongroom.jobs.execute import DIED_MESSAGE, submit_job, sweep_expired
from strongroom.jobs.model import JobContext, JobKind, JobState, StepContext, StepName, StepRef, StepStart, StepState
from strongroom.jobs.settings import load_job_settings
from tests.conftest import Home
from tests.contracts.catalog_jobs_contract import at_once

LEASE = timedelta(seconds=30)


def plan(ctx: StepContext, params: Mapping[str, Any]) -> int:
    return 3


def chunk(ctx: StepContext, params: Mapping[str, Any], n: int) -> None:
    return None


def finalize(ctx: StepContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    return {}


def once(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    return {}


KINDS = {
    k.name: k
    for k in (
        JobKind("staged", "Staged", None, "ingest", plan=plan, chunk=chunk, finalize=finalize),
        JobKind("once", "Send the e-mails", once, "ingest"),
        JobKind("again", "Count the files", once, "ingest", resumable=True),
    )
}


@pytest.fixture
def catalog(home: Home) -> Iterator[Catalog]:
    opened = open_catalog(load_settings(home.path).catalog_url)
    yield opened
    opened.close()


def held_by_the_dead(catalog: Catalog, kind: str, key: str = "", chunks: int = 3) -> tuple[str, str, datetime]:
    """A job one of whose steps a worker took at `start` and never renewed; returns (job id, key, start)."""
    job, ref = submit_job(catalog, KINDS, kind, {}, "ann", kind, runner_id="gone:1")
    start = datetime.now(UTC) - timedelta(hours=1)
    if KINDS[kind].staged:
        assert catalog.start_step(job.id, "plan", "gone:1", start + LEASE, start) is StepStart.STARTED
        catalog.plan_chunks(job.id, chunks, start)
        catalog.finish_step(job.id, "plan", "gone:1", start)
    step = key or ref.key
    assert catalog.start_step(job.id, step, "gone:1", start + LEASE, start) is StepStart.STARTED
    return job.id, step, start


def test_an_expired_chunk_is_queued_again_once(catalog: Catalog) -> None:
    job_id, key, start = held_by_the_dead(catalog, "staged", "chunk-000001")
    assert sweep_expired(catalog, start + LEASE / 2) == []  # still within its lease
    assert sweep_expired(catalog, start + 2 * LEASE) == [StepRef(job_id, StepName.CHUNK, 1)]
    assert sweep_expired(catalog, start + 3 * LEASE) == []  # queued now: nothing left to sweep
    step = {s.key: s for s in catalog.steps(job_id)}[key]
    assert (step.state, step.attempts, step.lease_until) == (StepState.QUEUED, 1, None)


def test_two_sweepers_at_once_queue_each_step_once(catalog: Catalog, home: Home) -> None:
    job_id, _key, start = held_by_the_dead(catalog, "staged", "chunk-000000")
    other_job, _other_key, _ = held_by_the_dead(catalog, "staged", "chunk-000002")
    second = open_catalog(load_settings(home.path).catalog_url)
    try:
        now = start + 2 * LEASE
        found = at_once(lambda: sweep_expired(catalog, now), lambda: sweep_expired(second, now))
    finally:
        second.close()
    swept = sorted((r.job_id, r.key) for refs in found for r in refs)
    assert swept == sorted([(job_id, "chunk-000000"), (other_job, "chunk-000002")])


def test_a_single_step_job_that_cannot_resume_ends_interrupted(catalog: Catalog, home: Home) -> None:
    job_id, _key, start = held_by_the_dead(catalog, "once")
    scratch = load_job_settings(home.path).scratch(job_id)
    scratch.mkdir(parents=True)
    assert sweep_expired(catalog, start + 2 * LEASE, kinds=KINDS, job_settings=load_job_settings(home.path)) == []
    job = catalog.job(job_id)
    assert job is not None and job.state is JobState.INTERRUPTED
    assert job.error == DIED_MESSAGE and job.details  # what to do next
    assert catalog.steps(job_id)[0].state is StepState.FAILED
    assert not scratch.exists()
    assert sweep_expired(catalog, start + 3 * LEASE, kinds=KINDS) == []  # the job has ended: nothing to do


def test_without_kinds_a_single_step_counts_as_not_resumable(catalog: Catalog) -> None:
    job_id, _key, start = held_by_the_dead(catalog, "again")
    assert sweep_expired(catalog, start + 2 * LEASE) == []
    assert catalog.job(job_id).state is JobState.INTERRUPTED  # type: ignore[union-attr]


def test_a_resumable_single_step_is_queued_again(catalog: Catalog) -> None:
    job_id, _key, start = held_by_the_dead(catalog, "again")
    assert sweep_expired(catalog, start + 2 * LEASE, kinds=KINDS) == [StepRef(job_id, StepName.RUN)]
    assert catalog.job(job_id).state is JobState.RUNNING  # type: ignore[union-attr]


def test_an_expired_step_of_a_job_asked_to_cancel_ends_it_cancelled(catalog: Catalog) -> None:
    job_id, _key, start = held_by_the_dead(catalog, "staged", "chunk-000000")
    catalog.request_cancel(job_id)
    assert sweep_expired(catalog, start + 2 * LEASE, kinds=KINDS) == []
    job = catalog.job(job_id)
    assert job is not None and job.state is JobState.CANCELLED

    once_id, _key, start = held_by_the_dead(catalog, "once")
    catalog.request_cancel(once_id)
    assert sweep_expired(catalog, start + 2 * LEASE, kinds=KINDS) == []
    assert catalog.job(once_id).state is JobState.CANCELLED  # type: ignore[union-attr]
