"""jobs/execute.py over a real catalog, with no runner: one delivery of one step at a time."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from strongroom.catalog import open_catalog
from strongroom.catalog.base import Catalog
from strongroom.config import load_settings
from strongroom.errors import StrongroomError, TransferError
from strongroom.jobs.execute import (
    GENERIC_FAILURE,
    STOPPED_MESSAGE,
    StepOutcome,
    execute_step,
    submit_job,
    worker_id,
)
from strongroom.jobs.model import JobContext, JobKind, JobState, StepContext, StepName, StepRef, StepStart, StepState
from strongroom.jobs.settings import JobSettings, load_job_settings
from tests.conftest import Home


def staged_plan(ctx: StepContext, params: Mapping[str, Any]) -> int:
    ctx.progress("Listing files", 1, 1)
    return int(params["chunks"])


def staged_chunk(ctx: StepContext, params: Mapping[str, Any], n: int) -> None:
    ctx.progress("Hashing", 5, 10)
    if params.get("hold"):
        until = time.monotonic() + float(params.get("hold_seconds", 3600))
        while time.monotonic() < until:  # until the context stops it (cancel, lease lost, time limit, stopping)
            ctx.check_cancelled()
            time.sleep(0.02)
    (ctx.scratch / f"chunk-{n:06d}.txt").write_text(str(n), encoding="utf-8")


def staged_finalize(ctx: StepContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"parts": sorted(int(p.read_text(encoding="utf-8")) for p in ctx.scratch.glob("chunk-*.txt"))}


def single(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    ctx.progress("Thinking", 1, 2)
    ctx.progress("Thinking", 2, 2)
    if params.get("fail"):
        raise TransferError("The transfer is damaged.", details=["Upload it again."])
    if params.get("crash"):
        raise KeyError("/secret/internal/path")
    if params.get("hold"):
        while True:
            ctx.check_cancelled()
            time.sleep(0.02)
    return {"answer": 42}


KINDS = {
    k.name: k
    for k in (
        JobKind("staged", "Staged", None, "ingest", plan=staged_plan, chunk=staged_chunk, finalize=staged_finalize),
        JobKind("single", "Single", single, "ingest"),
        JobKind("quick", "Quick", single, "ingest", step_seconds=0.3),
        JobKind(
            "staged-quick",
            "Staged quick",
            None,
            "ingest",
            plan=staged_plan,
            chunk=staged_chunk,
            finalize=staged_finalize,
            step_seconds=0.3,
        ),
    )
}


@pytest.fixture
def catalog(home: Home) -> Iterator[Catalog]:
    opened = open_catalog(load_settings(home.path).catalog_url)
    yield opened
    opened.close()


@pytest.fixture
def settings(home: Home) -> JobSettings:
    return load_job_settings(home.path)


def run(ref: StepRef, catalog: Catalog, home: Home, settings: JobSettings, worker: str = "w:1",
        **options: Any) -> StepOutcome:  # fmt: skip
    return execute_step(ref, catalog=catalog, home=home.path, job_settings=settings, kinds=KINDS, worker=worker,
                        progress_interval=0.0, **options)  # fmt: skip


def test_worker_id_is_host_and_pid() -> None:
    import os
    import socket

    assert worker_id() == f"{socket.gethostname()}:{os.getpid()}"


def test_submit_adds_the_job_and_its_first_step(catalog: Catalog) -> None:
    job, ref = submit_job(catalog, KINDS, "staged", {"chunks": 2}, "ann", "Two parts", runner_id="me:1")
    assert ref == StepRef(job.id, StepName.PLAN)
    assert catalog.job(job.id) == job and job.state is JobState.QUEUED and job.runner == "me:1"
    assert [(s.key, s.state) for s in catalog.steps(job.id)] == [("plan", StepState.QUEUED)]
    single_job, run_ref = submit_job(catalog, KINDS, "single", {}, "ann", "One", runner_id="me:1")
    assert run_ref == StepRef(single_job.id, StepName.RUN)
    with pytest.raises(StrongroomError, match="no kind of job called 'nope'") as raised:
        submit_job(catalog, KINDS, "nope", {}, "ann", "x", runner_id="me:1")
    assert "staged" in raised.value.details[0]


def test_a_staged_job_step_by_step(catalog: Catalog, home: Home, settings: JobSettings) -> None:
    job, plan = submit_job(catalog, KINDS, "staged", {"chunks": 3}, "ann", "Three parts", runner_id="me:1")
    planned = run(plan, catalog, home, settings)
    chunks = tuple(StepRef(job.id, StepName.CHUNK, n) for n in range(3))
    assert planned == StepOutcome(StepStart.STARTED, chunks)
    after_plan = catalog.job(job.id)
    assert after_plan is not None and after_plan.state is JobState.RUNNING and after_plan.chunks_total == 3
    assert (after_plan.done, after_plan.total) == (0, 3)
    assert run(chunks[1], catalog, home, settings).follow_ups == ()
    one_done = catalog.job(job.id)
    assert one_done is not None and (one_done.chunks_done, one_done.done, one_done.total) == (1, 1, 3)
    assert "2 of 3" in one_done.step  # the job as a whole: which part, of how many
    assert run(chunks[0], catalog, home, settings).follow_ups == ()
    assert run(chunks[2], catalog, home, settings).follow_ups == (StepRef(job.id, StepName.FINALIZE),)
    assert settings.scratch(job.id).is_dir()
    assert run(StepRef(job.id, StepName.FINALIZE), catalog, home, settings).follow_ups == ()
    done = catalog.job(job.id)
    assert done is not None and done.state is JobState.SUCCEEDED and done.result == {"parts": [0, 1, 2]}
    assert not settings.scratch(job.id).exists()  # the scratch folder goes with the job
    assert all(s.state is StepState.DONE for s in catalog.steps(job.id))
    assert run(chunks[0], catalog, home, settings) == StepOutcome(StepStart.DONE)  # a late duplicate: nothing


def test_zero_chunks_go_straight_to_finalize(catalog: Catalog, home: Home, settings: JobSettings) -> None:
    job, plan = submit_job(catalog, KINDS, "staged", {"chunks": 0}, "ann", "Nothing", runner_id="me:1")
    assert run(plan, catalog, home, settings).follow_ups == (StepRef(job.id, StepName.FINALIZE),)
    run(StepRef(job.id, StepName.FINALIZE), catalog, home, settings)
    done = catalog.job(job.id)
    assert done is not None and done.state is JobState.SUCCEEDED and done.result == {"parts": []}


def test_a_single_step_job_succeeds_with_its_last_progress(catalog: Catalog, home: Home,
                                                           settings: JobSettings) -> None:  # fmt: skip
    job, ref = submit_job(catalog, KINDS, "single", {}, "ann", "One", runner_id="me:1")
    assert run(ref, catalog, home, settings) == StepOutcome(StepStart.STARTED)
    done = catalog.job(job.id)
    assert done is not None and done.state is JobState.SUCCEEDED and done.result == {"answer": 42}
    assert (done.step, done.done, done.total) == ("Thinking", 2, 2)
    assert run(ref, catalog, home, settings).started is StepStart.DONE


def test_errors_end_the_job_failed_with_words_a_person_can_act_on(
    catalog: Catalog, home: Home, settings: JobSettings, caplog: pytest.LogCaptureFixture
) -> None:
    job, ref = submit_job(catalog, KINDS, "single", {"fail": True}, "ann", "Fails", runner_id="me:1")
    run(ref, catalog, home, settings)
    failed = catalog.job(job.id)
    assert failed is not None and failed.state is JobState.FAILED
    assert (failed.error, failed.details) == ("The transfer is damaged.", ("Upload it again.",))
    assert catalog.steps(job.id)[0].state is StepState.FAILED
    assert catalog.steps(job.id)[0].error == "The transfer is damaged."

    bug, ref = submit_job(catalog, KINDS, "single", {"crash": True}, "ann", "Bug", runner_id="me:1")
    with caplog.at_level(logging.ERROR, logger="strongroom.jobs"):
        run(ref, catalog, home, settings)
    crashed = catalog.job(bug.id)
    assert crashed is not None and crashed.state is JobState.FAILED and crashed.error == GENERIC_FAILURE
    assert "secret" not in crashed.error + " ".join(crashed.details)
    assert any("/secret/internal/path" in (r.exc_text or "") for r in caplog.records)


def test_a_kind_this_worker_does_not_know_fails_clearly(catalog: Catalog, home: Home, settings: JobSettings) -> None:
    job, ref = submit_job(catalog, {**KINDS, "newer": KINDS["single"]}, "single", {}, "ann", "x", runner_id="me:1")
    execute_step(ref, catalog=catalog, home=home.path, job_settings=settings, kinds={}, worker="w:1")
    failed = catalog.job(job.id)
    assert failed is not None and failed.state is JobState.FAILED
    assert failed.error is not None and "cannot run jobs of kind 'single'" in failed.error


def test_a_cancelled_job_between_steps_ends_when_its_next_step_arrives(
    catalog: Catalog, home: Home, settings: JobSettings
) -> None:
    job, plan = submit_job(catalog, KINDS, "staged", {"chunks": 2}, "ann", "Two", runner_id="me:1")
    outcome = run(plan, catalog, home, settings)
    catalog.request_cancel(job.id)
    assert run(outcome.follow_ups[0], catalog, home, settings) == StepOutcome(StepStart.JOB_ENDED)
    ended = catalog.job(job.id)
    assert ended is not None and ended.state is JobState.CANCELLED
    assert [s.state for s in catalog.steps(job.id)] == [StepState.QUEUED, StepState.QUEUED, StepState.DONE]


def test_a_running_step_sees_cancel_and_ends_the_job(catalog: Catalog, home: Home, settings: JobSettings) -> None:
    job, plan = submit_job(catalog, KINDS, "staged", {"chunks": 1, "hold": True}, "ann", "Held", runner_id="me:1")
    chunk = run(plan, catalog, home, settings).follow_ups[0]
    threading.Timer(0.5, lambda: catalog.request_cancel(job.id)).start()
    run(chunk, catalog, home, settings)
    ended = catalog.job(job.id)
    assert ended is not None and ended.state is JobState.CANCELLED and ended.result is None
    assert "1 of 1" in ended.step  # its progress was written while it ran


def test_a_step_taken_over_stops_without_touching_the_job(catalog: Catalog, home: Home) -> None:
    settings = JobSettings(home=home.path, lease_seconds=1)  # renewed every third of a second
    job, plan = submit_job(catalog, KINDS, "staged", {"chunks": 1, "hold": True}, "ann", "Held", runner_id="me:1")
    chunk = run(plan, catalog, home, settings).follow_ups[0]

    def steal() -> None:
        # Another worker found the lease lapsed (as after a long pause of this one) and took the step.
        later = datetime.now(UTC) + timedelta(seconds=5)
        assert catalog.start_step(job.id, chunk.key, "thief:1", later + timedelta(minutes=5), later) is (
            StepStart.STARTED)  # fmt: skip

    threading.Timer(0.3, steal).start()
    run(chunk, catalog, home, settings)
    job_now = catalog.job(job.id)
    assert job_now is not None and job_now.state is JobState.RUNNING  # the thief carries on with it
    step = {s.key: s for s in catalog.steps(job.id)}[chunk.key]
    assert (step.state, step.worker) == (StepState.RUNNING, "thief:1")


def test_a_step_over_its_time_limit_fails_the_job(catalog: Catalog, home: Home, settings: JobSettings) -> None:
    job, ref = submit_job(catalog, KINDS, "quick", {"hold": True}, "ann", "Too slow", runner_id="me:1")
    run(ref, catalog, home, settings)
    failed = catalog.job(job.id)
    assert failed is not None and failed.state is JobState.FAILED
    assert failed.error is not None and "longer than its limit of 0.3 second(s)" in failed.error


def test_a_stopping_runner_hands_resumable_steps_back_and_interrupts_the_rest(
    catalog: Catalog, home: Home, settings: JobSettings
) -> None:
    job, plan = submit_job(catalog, KINDS, "staged", {"chunks": 1, "hold": True}, "ann", "Held", runner_id="me:1")
    chunk = run(plan, catalog, home, settings).follow_ups[0]
    assert run(chunk, catalog, home, settings, stopping=lambda: True) == StepOutcome(StepStart.STARTED)
    step = {s.key: s for s in catalog.steps(job.id)}[chunk.key]
    assert step.state is StepState.QUEUED and step.attempts == 1  # any runner takes it next
    still = catalog.job(job.id)
    assert still is not None and still.state is JobState.RUNNING

    single_job, ref = submit_job(catalog, KINDS, "single", {"hold": True}, "ann", "Held", runner_id="me:1")
    run(ref, catalog, home, settings, stopping=lambda: True)
    stopped = catalog.job(single_job.id)
    assert stopped is not None and stopped.state is JobState.INTERRUPTED and stopped.error == STOPPED_MESSAGE


def test_a_step_already_held_is_busy(catalog: Catalog, home: Home, settings: JobSettings) -> None:
    job, ref = submit_job(catalog, KINDS, "single", {}, "ann", "One", runner_id="me:1")
    now = datetime.now(UTC)
    catalog.start_step(job.id, ref.key, "other:1", now + timedelta(minutes=1), now)
    assert run(ref, catalog, home, settings) == StepOutcome(StepStart.BUSY)
    assert catalog.job(job.id).state is JobState.RUNNING  # type: ignore[union-attr]


def test_claimed_steps_are_run_without_taking_them_again(catalog: Catalog, home: Home, settings: JobSettings) -> None:
    job, _ref = submit_job(catalog, KINDS, "single", {}, "ann", "One", runner_id="me:1")
    now = datetime.now(UTC)
    claimed = catalog.claim_step("w:1", now + timedelta(minutes=1), now)
    assert claimed is not None and claimed.job_id == job.id
    assert run(claimed.ref, catalog, home, settings, claimed=True).started is StepStart.STARTED
    assert catalog.job(job.id).state is JobState.SUCCEEDED  # type: ignore[union-attr]
    assert catalog.steps(job.id)[0].attempts == 1


class Killed(BaseException):
    """The worker dies here (kill -9): nothing after this line of execute_step runs, nothing is cleaned up."""


def _die(*_args: Any, **_kwargs: Any) -> Any:
    raise Killed()


def test_a_worker_killed_after_the_last_chunk_but_before_adding_finalize_leaves_it_queued(
    catalog: Catalog, home: Home, settings: JobSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from strongroom.jobs.celery_runner import unsent_follow_ups

    job, plan = submit_job(catalog, KINDS, "staged", {"chunks": 1}, "ann", "One part", runner_id="me:1")
    chunk = run(plan, catalog, home, settings).follow_ups[0]
    with monkeypatch.context() as patched:
        patched.setattr(catalog, "add_step", _die)
        with pytest.raises(Killed):
            run(chunk, catalog, home, settings)
    finalize = StepRef(job.id, StepName.FINALIZE)
    # The chunk counted as done with the job's last count: finalize is a queued row, whatever died after.
    assert [s.ref for s in catalog.steps(job.id) if s.state is StepState.QUEUED] == [finalize]
    # The chunk's message comes again (acks are late): it finds the chunk done and sends finalize on.
    assert run(chunk, catalog, home, settings) == StepOutcome(StepStart.DONE)
    assert unsent_follow_ups(catalog, chunk) == [finalize]
    run(finalize, catalog, home, settings)
    done = catalog.job(job.id)
    assert done is not None and done.state is JobState.SUCCEEDED and done.result == {"parts": [0]}


def test_a_plan_of_nothing_run_again_after_its_worker_died_still_sends_finalize(
    catalog: Catalog, home: Home, settings: JobSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from strongroom.jobs.execute import sweep_expired

    job, plan = submit_job(catalog, KINDS, "staged", {"chunks": 0}, "ann", "Nothing", runner_id="me:1")
    with monkeypatch.context() as patched:
        patched.setattr(catalog, "finish_step", _die)  # after finalize was added, before it was sent
        with pytest.raises(Killed):
            run(plan, catalog, home, settings)
    later = datetime.now(UTC) + timedelta(seconds=settings.lease_seconds + 1)
    assert sweep_expired(catalog, later, kinds=KINDS) == [plan]
    # Its new delivery must send finalize: nothing else would (finalize is queued, its message never sent).
    assert run(plan, catalog, home, settings).follow_ups == (StepRef(job.id, StepName.FINALIZE),)


class _CatalogAway:
    """A catalog whose lease renewals fail (the database is unreachable from this worker) once `away` is set."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self.away = threading.Event()
        self.renewals = 0

    def renew_step(self, *args: Any) -> bool:
        self.renewals += 1
        if self.away.is_set():
            raise StrongroomError("Cannot reach the catalog.")
        return self._catalog.renew_step(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._catalog, name)


def test_a_step_that_cannot_renew_its_lease_stops_once_the_lease_may_have_run_out(catalog: Catalog, home: Home) -> None:
    settings = JobSettings(home=home.path, lease_seconds=1)
    job, plan = submit_job(catalog, KINDS, "staged", {"chunks": 1, "hold": True, "hold_seconds": 4.0}, "ann", "Held",
                           runner_id="me:1")  # fmt: skip
    chunk = run(plan, catalog, home, settings).follow_ups[0]
    away = _CatalogAway(catalog)
    away.away.set()  # from now on no renewal reaches the catalog; a sweeper elsewhere may give the step away
    began = time.monotonic()
    execute_step(chunk, catalog=away, home=home.path, job_settings=settings, kinds=KINDS,
                 worker="w:1", progress_interval=0.0)  # fmt: skip
    took = time.monotonic() - began
    assert away.renewals >= 1
    assert took < 3.0, f"the step ran on for {took:.1f} s without a lease"
    assert not (settings.scratch(job.id) / "chunk-000000.txt").exists()  # it stopped before writing its output
    step = {s.key: s for s in catalog.steps(job.id)}[chunk.key]
    assert step.state is StepState.RUNNING  # left for the sweeper: its lease runs out and it is queued again


def test_params_of_any_content_round_trip(catalog: Catalog) -> None:
    # A folder name that is not UTF-8 (an old USB drive's Latin-1 "café"), as Python decodes it: a lone surrogate.
    odd = os.fsdecode(b"/transfers/caf\xe9")
    params = {"path": odd, "nul": "a\x00b", "quote": "'\"; DROP TABLE jobs; --", "deep": [[[{"k": None}]]]}
    job, _ref = submit_job(catalog, KINDS, "single", params, "ann", f"Ingest {odd}", runner_id="me:1")
    stored = catalog.job(job.id)
    assert stored is not None and stored.params == params
    assert os.fsencode(stored.params["path"]) == b"/transfers/caf\xe9"  # the very folder, not a look-alike
    assert stored.title == "Ingest /transfers/caf\\xe9"  # words to read: the odd byte shown, not a failed job
    catalog.job_progress(job.id, f"Copying {odd}", 1, 2)
    catalog.finish_job(job.id, JobState.SUCCEEDED, datetime.now(UTC), result={"source": odd})
    ended = catalog.job(job.id)
    assert ended is not None and ended.step == "Copying /transfers/caf\\xe9" and ended.result == {"source": odd}


def test_a_chunk_still_running_when_its_job_ended_elsewhere_stops_at_its_next_check(
    catalog: Catalog, home: Home, settings: JobSettings
) -> None:
    job, plan = submit_job(catalog, KINDS, "staged", {"chunks": 2, "hold": True, "hold_seconds": 5.0}, "ann", "Two",
                           runner_id="me:1")  # fmt: skip
    chunks = run(plan, catalog, home, settings).follow_ups

    def other_chunk_fails() -> None:  # as execute_step does when chunk 1 fails on another worker
        now = datetime.now(UTC)
        catalog.start_step(job.id, chunks[1].key, "other:1", now + timedelta(minutes=1), now)
        catalog.fail_step(job.id, chunks[1].key, "other:1", now, "Part 2 is damaged.")
        catalog.finish_job(job.id, JobState.FAILED, now, error="Part 2 is damaged.")

    threading.Timer(0.3, other_chunk_fails).start()
    began = time.monotonic()
    run(chunks[0], catalog, home, settings)
    assert time.monotonic() - began < 3.0  # not the whole 5 s of work for a job that has already failed
    ended = catalog.job(job.id)
    assert ended is not None and (ended.state, ended.error) == (JobState.FAILED, "Part 2 is damaged.")  # unchanged
    assert not settings.scratch(job.id).exists()
    stopped = {s.key: s for s in catalog.steps(job.id)}[chunks[0].key]
    assert stopped.state is StepState.FAILED and stopped.error is not None and "already ended" in stopped.error
