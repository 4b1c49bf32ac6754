"""The embedded job runner over a real catalog: success, failure, cancelling, interrupted jobs, missing tools."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from strongroom.errors import StrongroomError, TransferError
from strongroom.jobs.base import JobRunner
from strongroom.jobs.embedded import GENERIC_FAILURE, EmbeddedRunner
from strongroom.jobs.model import JobContext, JobKind, JobRecord, JobState, StepState
from tests.conftest import Home
from tests.contracts.job_runner_contract import JobRunnerContract, RunnerFactory

RELEASE: dict[str, threading.Event] = {}  # per-test gates, keyed by the job's params


def succeed(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    for done in range(1, 4):
        ctx.progress("Counting", done, 3)
    return {"answer": params["n"] * 2}


def fail_clearly(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    raise TransferError("The transfer <b>x</b> is damaged.", details=["Upload it again."])


def crash(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    raise KeyError("/secret/internal/path")


def wait_for_gate(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    gate = RELEASE[params["gate"]]
    ctx.progress("Waiting", 0, None)
    while not gate.wait(0.02):
        ctx.check_cancelled()
    return {"released": True}


def needs_tool(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    return {}


KINDS = {
    k.name: k
    for k in (
        JobKind("succeed", "Succeed", succeed, "ingest"),
        JobKind("fail", "Fail", fail_clearly, "ingest"),
        JobKind("crash", "Crash", crash, "ingest"),
        JobKind("gate", "Gate", wait_for_gate, "ingest"),
        JobKind("tool", "Convert with MediaInfo", needs_tool, "run-preservation", tools=("mediainfo",)),
    )
}


@pytest.fixture
def runner(home: Home) -> Iterator[EmbeddedRunner]:
    r = EmbeddedRunner(home.path, KINDS, workers=1, progress_interval=0.05, close_timeout=5)
    try:
        yield r
    finally:
        for gate in RELEASE.values():
            gate.set()
        r.close()


def gate() -> str:
    name = uuid.uuid4().hex
    RELEASE[name] = threading.Event()
    return name


def wait_running(runner: EmbeddedRunner, job_id: str) -> JobRecord:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = runner.get(job_id)
        if job.state is JobState.RUNNING:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never started: {runner.get(job_id)}")


def test_a_job_succeeds_with_its_result_and_progress(runner: EmbeddedRunner) -> None:
    job = runner.submit("succeed", {"n": 21}, "alice", "Double 21")
    assert job.state is JobState.QUEUED and job.runner == runner.id == f"{socket.gethostname()}:{os.getpid()}"
    done = runner.wait(job.id, timeout=20)
    assert done.state is JobState.SUCCEEDED
    assert done.result == {"answer": 42}
    assert (done.step, done.done, done.total) == ("Counting", 3, 3)  # the last progress is written before finishing
    assert done.started is not None and done.finished is not None and done.owner == "alice"
    assert [j.id for j in runner.list(owner="alice")] == [job.id]


def test_a_strongroom_error_fails_the_job_with_its_message_and_hints(runner: EmbeddedRunner) -> None:
    job = runner.wait(runner.submit("fail", {}, "alice", "Fail").id, timeout=20)
    assert job.state is JobState.FAILED
    assert job.error == "The transfer <b>x</b> is damaged."
    assert job.details == ("Upload it again.",)


def test_any_other_error_fails_with_a_generic_message_and_a_logged_traceback(
    runner: EmbeddedRunner, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="strongroom.jobs"):
        job = runner.wait(runner.submit("crash", {}, "alice", "Crash").id, timeout=20)
    assert job.state is JobState.FAILED
    assert job.error == GENERIC_FAILURE
    assert "secret" not in (job.error + " ".join(job.details))  # never the internals
    assert any("/secret/internal/path" in (r.exc_text or "") for r in caplog.records)  # the log has the cause


def test_cancel_a_queued_job_and_a_running_one(runner: EmbeddedRunner) -> None:
    first = gate()
    running = runner.submit("gate", {"gate": first}, "alice", "Hold the only worker")
    queued = runner.submit("succeed", {"n": 1}, "alice", "Wait in line")
    wait_running(runner, running.id)
    cancelled = runner.cancel(queued.id)
    assert cancelled.state is JobState.CANCELLED  # a queued job stops at once
    flagged = runner.cancel(running.id)
    assert flagged.state is JobState.RUNNING and flagged.cancel_requested
    ended = runner.wait(running.id, timeout=20)
    assert ended.state is JobState.CANCELLED and ended.result is None
    assert runner.get(queued.id).state is JobState.CANCELLED  # never started afterwards
    assert runner.get(queued.id).started is None


def test_unknown_job_and_unknown_kind(runner: EmbeddedRunner) -> None:
    with pytest.raises(StrongroomError, match="no job"):
        runner.get(str(uuid.uuid4()))
    with pytest.raises(StrongroomError, match="no kind of job called 'nope'"):
        runner.submit("nope", {}, "alice", "x")


def test_a_kind_whose_tool_is_missing_is_refused_before_it_is_queued(home: Home) -> None:
    r = EmbeddedRunner(home.path, KINDS, workers=1, tools_environ={"PATH": str(home.path / "empty")})
    try:
        with pytest.raises(StrongroomError) as raised:
            r.submit("tool", {}, "alice", "Needs mediainfo")
        assert "needs mediainfo, which is not installed" in raised.value.message
        assert any("apt" in hint or "install" in hint for hint in raised.value.details)
        assert r.list() == []  # nothing was queued
    finally:
        r.close()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_jobs_of_a_dead_process_are_marked_interrupted_at_start(home: Home) -> None:
    dead = f"{socket.gethostname()}:{_dead_pid()}"
    other_host = "some-other-host:1"
    now = datetime.now(UTC)
    with home.archive() as archive:
        for job_id, state, runner_name in (("a", JobState.RUNNING, dead), ("b", JobState.QUEUED, dead),
                                           ("c", JobState.RUNNING, other_host)):  # fmt: skip
            archive.catalog.add_job(JobRecord(id=job_id, kind="succeed", title=job_id, owner="alice", params={},
                                              state=state, created=now, runner=runner_name))  # fmt: skip
    r = EmbeddedRunner(home.path, KINDS, workers=1)
    try:
        assert r.interrupted_at_start == 2
        a, b, c = (r.get(x) for x in "abc")
        assert a.state is JobState.INTERRUPTED and b.state is JobState.INTERRUPTED
        assert a.error and "stopped" in a.error and a.finished is not None
        assert c.state is JobState.RUNNING  # another host's runner may be alive: left alone
    finally:
        r.close()


def test_close_interrupts_what_it_cannot_finish(home: Home) -> None:
    r = EmbeddedRunner(home.path, KINDS, workers=1, progress_interval=0.05, close_timeout=10)
    hold = gate()
    running = r.submit("gate", {"gate": hold}, "alice", "Running at shutdown")
    queued = r.submit("succeed", {"n": 1}, "alice", "Queued at shutdown")
    wait_running(r, running.id)
    r.close()  # the running job stops at its next check_cancelled
    assert r.get(running.id).state is JobState.INTERRUPTED
    assert r.get(queued.id).state is JobState.INTERRUPTED
    with pytest.raises(StrongroomError, match="stopping"):
        r.submit("succeed", {"n": 1}, "alice", "Too late")
    RELEASE[hold].set()


def test_progress_is_written_at_most_about_twice_a_second(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    from strongroom.catalog.jobs_sql import JobsSql

    writes: list[float] = []
    original = JobsSql.job_progress

    def counting(self: JobsSql, job_id: str, step: str, done: int, total: int | None) -> None:
        writes.append(time.monotonic())
        original(self, job_id, step, done, total)

    monkeypatch.setattr(JobsSql, "job_progress", counting)
    kinds = {**KINDS, "many": JobKind("many", "Many", _many_steps, "ingest")}
    r = EmbeddedRunner(home.path, kinds, workers=1)  # the default interval
    try:
        job = r.wait(r.submit("many", {}, "alice", "Many steps").id, timeout=30)
    finally:
        r.close()
    assert job.state is JobState.SUCCEEDED and (job.done, job.total) == (5000, 5000)
    span = writes[-1] - writes[0] if len(writes) > 1 else 0.0
    assert len(writes) <= span / 0.5 + 2, writes  # 5000 calls, written every half second at most (and the last)


def _many_steps(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    for done in range(1, 5001):
        ctx.progress("Step", done, 5000)
        time.sleep(0.0002)
    return {}


class TestEmbeddedRunnerContract(JobRunnerContract):
    """The runner contract on the embedded runner, over SQLite and PostgreSQL; two slots, so chunks run in
    its spawned process pool."""

    @pytest.fixture(params=["sqlite", "postgresql"])
    def runner_home(self, request: pytest.FixtureRequest, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:  # fmt: skip
        monkeypatch.setenv("STRONGROOM_OPERATOR", "test-archivist")
        with ExitStack() as stack:
            if request.param == "postgresql":
                from tests.services import fresh_postgresql_database

                monkeypatch.setenv("STRONGROOM_CATALOG_URL", stack.enter_context(fresh_postgresql_database()))
            else:
                monkeypatch.delenv("STRONGROOM_CATALOG_URL", raising=False)
            h = Home(tmp_path / "home")
            h.ok("init", "--organisation", "Test County Archive", "--organisation-id", "TCA")
            yield h

    @pytest.fixture
    def runner_factory(self) -> Iterator[RunnerFactory]:
        opened: list[EmbeddedRunner] = []

        def make(home: Path, kinds: Mapping[str, JobKind]) -> JobRunner:
            runner = EmbeddedRunner(home, kinds, workers=2, progress_interval=0.05, close_timeout=10,
                                    poll_seconds=0.2)  # fmt: skip
            opened.append(runner)
            return runner

        yield make
        for runner in opened:
            runner.close()


def test_two_runners_sharing_a_catalog_run_each_step_once(home: Home, tmp_path: Path) -> None:
    """Two `serve` workers (or `serve` and `strongroom worker`) on one catalog: the work is shared, never doubled."""
    from tests.contracts.job_runner_contract import KINDS as STAGED
    from tests.contracts.job_runner_contract import expected_sum, marks

    marks_dir = tmp_path / "marks"
    first = EmbeddedRunner(home.path, STAGED, workers=1, progress_interval=0.05, poll_seconds=0.1)
    second = EmbeddedRunner(home.path, STAGED, workers=1, progress_interval=0.05, poll_seconds=0.1)
    try:
        jobs = [first.submit("sum", {"chunks": 12, "marks": str(marks_dir / str(i))}, "alice", f"Sum {i}")
                for i in range(2)]  # fmt: skip
        done = [second.wait(job.id, timeout=60) for job in jobs]
        steps = [s for job in jobs for s in second.steps(job.id)]
    finally:
        first.close()
        second.close()
    assert [(d.state, d.result) for d in done] == [(JobState.SUCCEEDED, expected_sum(12))] * 2
    for i in range(2):
        assert [marks(marks_dir / str(i), f"chunk-{n}") for n in range(12)] == [1] * 12
    assert len(steps) == 2 * 14 and all(s.state.value == "done" and s.attempts == 1 for s in steps)


def test_close_hands_back_chunks_running_in_its_process_pool_and_the_next_runner_finishes(
    home: Home, tmp_path: Path
) -> None:
    """`strongroom serve` stopped (systemctl stop) while chunks run in its spawned processes: they stop at their
    next check, go back to the queue at once (not after a lease), and the next runner does them, each once more."""
    from tests.contracts.job_runner_contract import KINDS as STAGED
    from tests.contracts.job_runner_contract import expected_sum, marks

    marks_dir, gate_file = tmp_path / "marks", tmp_path / "gate"
    first = EmbeddedRunner(home.path, STAGED, workers=2, progress_interval=0.05, close_timeout=20, poll_seconds=0.1)
    job = first.submit("sum", {"chunks": 2, "marks": str(marks_dir), "gate": str(gate_file)}, "alice", "Held")
    deadline = time.monotonic() + 60
    while marks(marks_dir, "chunk-0") + marks(marks_dir, "chunk-1") < 2:  # both chunks run, in the pool
        assert time.monotonic() < deadline, "the chunks never started"
        time.sleep(0.05)
    began = time.monotonic()
    first.close()
    assert time.monotonic() - began < 15  # they stopped at their next check: not cut off at the timeout
    steps = {s.key: s for s in first.steps(job.id)}
    assert [(steps[k].state, steps[k].attempts) for k in ("chunk-000000", "chunk-000001")] == [
        (StepState.QUEUED, 1)] * 2  # fmt: skip
    assert first.get(job.id).state is JobState.RUNNING  # staged: not interrupted, it waits for a runner
    gate_file.touch()
    second = EmbeddedRunner(home.path, STAGED, workers=1, progress_interval=0.05, poll_seconds=0.1)
    try:
        done = second.wait(job.id, timeout=60)
    finally:
        second.close()
    assert (done.state, done.result) == (JobState.SUCCEEDED, expected_sum(2))
    assert [marks(marks_dir, f"chunk-{n}") for n in range(2)] == [2, 2] and marks(marks_dir, "finalize") == 1


_KILLED_RUNNER = """
import sys, time
from pathlib import Path
from strongroom.jobs.embedded import EmbeddedRunner
from tests.contracts.job_runner_contract import KINDS, marks

if __name__ == "__main__":
    home, marks_dir, gate = (Path(a) for a in sys.argv[1:4])
    runner = EmbeddedRunner(home, KINDS, workers=2, progress_interval=0.05, poll_seconds=0.1)
    runner.submit("sum", {"chunks": 2, "marks": str(marks_dir), "gate": str(gate)}, "alice", "Held")
    while marks(marks_dir, "chunk-0") + marks(marks_dir, "chunk-1") < 2:
        time.sleep(0.05)
    print("running", flush=True)
    time.sleep(600)
"""


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(c) for c in (task / "children").read_text().split())
    return found


def test_pool_processes_leave_when_the_runner_process_is_killed(home: Home, tmp_path: Path) -> None:
    script = tmp_path / "runner.py"
    script.write_text(_KILLED_RUNNER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen([sys.executable, str(script), str(home.path), str(tmp_path / "marks"),
                                str(tmp_path / "gate")], stdout=subprocess.PIPE, env=env)  # fmt: skip
    pool: set[int] = set()
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == b"running"
        pool = {pid for pid in _children(process.pid)
                if b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes()}  # fmt: skip
        assert len(pool) >= 2  # the two chunks' processes (and the spawn's resource tracker)
        process.kill()
        process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() and b"Z" not in Path(f"/proc/{pid}/stat").read_bytes().split()[2:3]
                  for pid in pool):  # fmt: skip
            assert time.monotonic() < deadline, "pool processes outlived the runner's process"
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in pool:  # when the test fails: leave no orphan holding its chunk
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
