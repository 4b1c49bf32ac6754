"""The JobRunner conformance suite (jobs/base.py): what any runner does with staged and single-step jobs.

A module using it provides two fixtures: `runner_home` (a Home: an initialised archive, on whatever
catalog) and `runner_factory(home_path, kinds) -> JobRunner` (the runner under test, closed by the
fixture). The embedded runner runs it in tests/jobs/test_embedded.py, the Celery runner in its own tests.

The test kinds are module-level functions (a runner may send them to other processes). Steps leave
marks in a folder outside the job's scratch (which goes when the job ends), so a test can count how
often each step ran; "gate" files let a test hold chunks running until it says so.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from strongroom.catalog import open_catalog
from strongroom.catalog.base import Catalog
from strongroom.config import CONFIG_NAME, load_settings
from strongroom.errors import StrongroomError, TransferError
from strongroom.jobs.base import JobRunner
from strongroom.jobs.execute import execute_step, submit_job
from strongroom.jobs.model import JobContext, JobKind, JobState, StepContext, StepName, StepRef, StepStart, StepState
from strongroom.jobs.settings import load_job_settings
from tests.conftest import Home
from tests.contracts.catalog_jobs_contract import at_once

RunnerFactory = Callable[[Path, Mapping[str, JobKind]], JobRunner]
WAIT = 60.0  # seconds a test waits for a job: generous, the machine is shared


def _mark(params: Mapping[str, Any], name: str) -> None:
    """Leave a mark that this step ran (one file per run, so a step run twice leaves two)."""
    folder = Path(params["marks"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.{os.getpid()}.{time.monotonic_ns()}").touch()


def marks(folder: Path, name: str) -> int:
    return len(list(folder.glob(f"{name}.*"))) if folder.is_dir() else 0


def sum_plan(ctx: StepContext, params: Mapping[str, Any]) -> int:
    _mark(params, "plan")
    ctx.progress("Planning", 0, None)
    return int(params["chunks"])


def sum_chunk(ctx: StepContext, params: Mapping[str, Any], n: int) -> None:
    _mark(params, f"chunk-{n}")
    gate = params.get("gate")
    while gate is not None and not Path(gate).exists():
        ctx.progress("Adding up", n, None)
        ctx.check_cancelled()
        time.sleep(0.02)
    if n == params.get("fail_at"):
        raise TransferError(f"Part {n} of the transfer is damaged.", details=["Upload it again."])
    if params.get("crash_at") == n:
        raise KeyError("/secret/internal/path")
    ctx.progress("Adding up", 1, 1)
    target = ctx.scratch / f"chunk-{n:06d}.json"
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps({"value": n * n}), encoding="utf-8")
    partial.replace(target)  # atomic: a chunk run twice writes the same file twice


def sum_finalize(ctx: StepContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    _mark(params, "finalize")
    parts = sorted(ctx.scratch.glob("chunk-*.json"))
    values = [json.loads(p.read_text(encoding="utf-8"))["value"] for p in parts]
    return {"sum": sum(values), "parts": len(values)}


def single_run(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    _mark(params, "run")
    return {"double": params["n"] * 2}


def tool_run(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    return {}


KINDS: dict[str, JobKind] = {
    k.name: k
    for k in (
        JobKind("sum", "Add up squares", None, "ingest", plan=sum_plan, chunk=sum_chunk, finalize=sum_finalize),
        JobKind("single", "Double a number", single_run, "ingest"),
        JobKind("tool", "Describe sound files", tool_run, "run-preservation", tools=("mediainfo",)),
    )
}


def expected_sum(chunks: int) -> dict[str, int]:
    return {"sum": sum(n * n for n in range(chunks)), "parts": chunks}


def catalog_of(home: Path) -> Catalog:
    return open_catalog(load_settings(home).catalog_url)


def wait_for(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class JobRunnerContract:
    @pytest.fixture
    def marks_dir(self, tmp_path: Path) -> Path:
        return tmp_path / "marks"

    def test_a_staged_job_adds_up_its_chunks(self, runner_home: Home, runner_factory: RunnerFactory,
                                             marks_dir: Path) -> None:  # fmt: skip
        runner = runner_factory(runner_home.path, KINDS)
        job = runner.submit("sum", {"chunks": 7, "marks": str(marks_dir)}, "alice", "Add up 7")
        assert job.state is JobState.QUEUED and job.kind == "sum" and job.owner == "alice"
        done = runner.wait(job.id, timeout=WAIT)
        assert done.state is JobState.SUCCEEDED, (done.error, done.details)
        assert done.result == expected_sum(7)
        assert (done.chunks_total, done.chunks_done) == (7, 7)
        assert done.started is not None and done.finished is not None
        assert [marks(marks_dir, f"chunk-{n}") for n in range(7)] == [1] * 7
        assert (marks(marks_dir, "plan"), marks(marks_dir, "finalize")) == (1, 1)
        catalog = catalog_of(runner_home.path)
        try:
            steps = catalog.steps(job.id)
        finally:
            catalog.close()
        assert [s.key for s in steps] == [f"chunk-{n:06d}" for n in range(7)] + ["finalize", "plan"]
        assert all(s.state is StepState.DONE and s.attempts == 1 for s in steps)
        assert not load_job_settings(runner_home.path).scratch(job.id).exists()  # removed when the job ended

    def test_a_staged_job_with_no_chunks_still_finalizes(self, runner_home: Home, runner_factory: RunnerFactory,
                                                         marks_dir: Path) -> None:  # fmt: skip
        runner = runner_factory(runner_home.path, KINDS)
        done = runner.wait(runner.submit("sum", {"chunks": 0, "marks": str(marks_dir)}, "alice", "Nothing").id,
                           timeout=WAIT)  # fmt: skip
        assert done.state is JobState.SUCCEEDED and done.result == {"sum": 0, "parts": 0}
        assert (done.chunks_total, done.chunks_done) == (0, 0)

    def test_a_single_step_job_gives_its_result(self, runner_home: Home, runner_factory: RunnerFactory,
                                                marks_dir: Path) -> None:  # fmt: skip
        runner = runner_factory(runner_home.path, KINDS)
        done = runner.wait(runner.submit("single", {"n": 21, "marks": str(marks_dir)}, "bob", "Double").id,
                           timeout=WAIT)  # fmt: skip
        assert done.state is JobState.SUCCEEDED and done.result == {"double": 42}
        assert marks(marks_dir, "run") == 1

    def test_progress_shows_mid_job_and_cancel_stops_every_chunk(self, runner_home: Home, runner_factory: RunnerFactory,
                                                                 marks_dir: Path, tmp_path: Path) -> None:  # fmt: skip
        runner = runner_factory(runner_home.path, KINDS)
        gate = tmp_path / "never-opened"
        job = runner.submit("sum", {"chunks": 6, "marks": str(marks_dir), "gate": str(gate)}, "alice", "Held")

        def chunk_progress() -> bool:
            current = runner.get(job.id)
            return current.state is JobState.RUNNING and current.total == 6 and "chunk" in current.step

        wait_for(chunk_progress, "progress of a running chunk")
        mid = runner.get(job.id)
        assert mid.chunks_total == 6 and mid.chunks_done == 0 and "of 6" in mid.step, mid
        started = {n for n in range(6) if marks(marks_dir, f"chunk-{n}")}
        assert 1 <= len(started) < 6  # held at the gate: the other chunks wait their turn
        flagged = runner.cancel(job.id)
        assert flagged.cancel_requested
        ended = runner.wait(job.id, timeout=WAIT)
        assert ended.state is JobState.CANCELLED and ended.result is None and ended.error
        ran = {n for n in range(6) if marks(marks_dir, f"chunk-{n}")}
        time.sleep(1.5)  # long enough for a runner that wrongly carried on to start another chunk
        assert {n for n in range(6) if marks(marks_dir, f"chunk-{n}")} == ran
        assert len(ran) < 6 and marks(marks_dir, "finalize") == 0
        assert runner.get(job.id).state is JobState.CANCELLED  # and it stays so
        wait_for(lambda: not load_job_settings(runner_home.path).scratch(job.id).exists(), "the scratch to go")

    def test_a_failing_chunk_fails_the_job_with_its_message(self, runner_home: Home, runner_factory: RunnerFactory,
                                                            marks_dir: Path) -> None:  # fmt: skip
        runner = runner_factory(runner_home.path, KINDS)
        job = runner.submit("sum", {"chunks": 3, "marks": str(marks_dir), "fail_at": 1}, "alice", "Damaged")
        ended = runner.wait(job.id, timeout=WAIT)
        assert ended.state is JobState.FAILED
        assert ended.error == "Part 1 of the transfer is damaged." and ended.details == ("Upload it again.",)
        assert marks(marks_dir, "finalize") == 0
        catalog = catalog_of(runner_home.path)
        try:
            failed = {s.key: s for s in catalog.steps(job.id)}["chunk-000001"]
        finally:
            catalog.close()
        assert failed.state is StepState.FAILED and failed.error == "Part 1 of the transfer is damaged."

    def test_a_bug_in_a_chunk_fails_with_a_generic_message(self, runner_home: Home, runner_factory: RunnerFactory,
                                                           marks_dir: Path) -> None:  # fmt: skip
        runner = runner_factory(runner_home.path, KINDS)
        job = runner.submit("sum", {"chunks": 2, "marks": str(marks_dir), "crash_at": 0}, "alice", "Bug")
        ended = runner.wait(job.id, timeout=WAIT)
        assert ended.state is JobState.FAILED and ended.error
        assert "secret" not in ended.error + " ".join(ended.details)  # never the internals

    def test_a_missing_tool_is_refused_before_anything_is_queued(
        self, runner_home: Home, runner_factory: RunnerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        runner = runner_factory(runner_home.path, KINDS)
        empty = tmp_path / "empty-path"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
        with pytest.raises(StrongroomError) as raised:
            runner.submit("tool", {}, "alice", "Needs mediainfo")
        monkeypatch.undo()
        assert "needs mediainfo, which is not installed" in raised.value.message
        assert any("install" in hint for hint in raised.value.details)
        assert runner.list(kinds=("tool",)) == []

    def test_a_step_held_by_a_dead_worker_is_queued_again_and_the_job_completes(
        self, runner_home: Home, runner_factory: RunnerFactory, marks_dir: Path
    ) -> None:
        if load_job_settings(runner_home.path).lease_seconds > 5:  # short leases, so the test need not wait long
            config = runner_home.path / CONFIG_NAME
            text = config.read_text(encoding="utf-8")
            if "\n[jobs]\n" in f"\n{text}":
                text = f"\n{text}".replace("\n[jobs]\n", "\n[jobs]\nlease_seconds = 5\n", 1).lstrip("\n")
            else:
                text += "\n[jobs]\nlease_seconds = 5\n"
            config.write_text(text, encoding="utf-8")
            assert load_job_settings(runner_home.path).lease_seconds == 5
        catalog = catalog_of(runner_home.path)
        try:
            job, ref = submit_job(catalog, KINDS, "sum", {"chunks": 3, "marks": str(marks_dir)}, "alice", "Orphan",
                                  runner_id="gone-host:1")  # fmt: skip
            now = datetime.now(UTC)
            # A worker on another machine took the plan, then died: it never renews its lease.
            assert catalog.start_step(job.id, ref.key, "gone-host:1", now + timedelta(seconds=1), now) is (
                StepStart.STARTED)  # fmt: skip
            runner = runner_factory(runner_home.path, KINDS)
            done = runner.wait(job.id, timeout=WAIT)
            assert done.state is JobState.SUCCEEDED, (done.error, done.details)
            assert done.result == expected_sum(3)
            plan = {s.key: s for s in catalog.steps(job.id)}["plan"]
            assert plan.attempts == 2 and plan.worker != "gone-host:1"
        finally:
            catalog.close()

    def test_every_step_delivered_twice_runs_once(self, runner_home: Home, marks_dir: Path) -> None:
        """execute_step, as every runner calls it: a duplicate delivery (at once, or later) does nothing."""
        home = runner_home.path
        settings = load_job_settings(home)
        catalog = catalog_of(home)
        other = catalog_of(home)  # a second worker process has its own catalog

        def deliver(ref: StepRef, worker: str) -> list[StepStart]:
            outcomes = at_once(
                lambda: execute_step(ref, catalog=catalog, home=home, job_settings=settings, kinds=KINDS,
                                     worker=f"{worker}-a"),
                lambda: execute_step(ref, catalog=other, home=home, job_settings=settings, kinds=KINDS,
                                     worker=f"{worker}-b"),
            )  # fmt: skip
            again = execute_step(ref, catalog=catalog, home=home, job_settings=settings, kinds=KINDS, worker=worker)
            follow_ups.extend(f for o in outcomes for f in o.follow_ups)
            return [*sorted(o.started for o in outcomes), again.started]

        try:
            job, plan = submit_job(catalog, KINDS, "sum", {"chunks": 4, "marks": str(marks_dir)}, "alice", "Twice",
                                   runner_id="test:1")  # fmt: skip
            follow_ups: list[StepRef] = []
            assert deliver(plan, "w1") in ([StepStart.BUSY, StepStart.STARTED, StepStart.DONE],
                                           [StepStart.DONE, StepStart.STARTED, StepStart.DONE])  # fmt: skip
            chunks = [StepRef(job.id, StepName.CHUNK, n) for n in range(4)]
            assert follow_ups == chunks
            follow_ups.clear()
            for ref in chunks:
                assert deliver(ref, "w2")[-1] is StepStart.DONE
            assert follow_ups == [StepRef(job.id, StepName.FINALIZE)]  # fan-in: sent once
            assert deliver(StepRef(job.id, StepName.FINALIZE), "w3")[-1] in (StepStart.DONE, StepStart.JOB_ENDED)
            ended = catalog.job(job.id)
            assert ended is not None and ended.state is JobState.SUCCEEDED and ended.result == expected_sum(4)
            counts = [marks(marks_dir, name) for name in ("plan", "chunk-0", "chunk-1", "chunk-2", "chunk-3",
                                                          "finalize")]  # fmt: skip
            assert counts == [1] * 6
        finally:
            catalog.close()
            other.close()
