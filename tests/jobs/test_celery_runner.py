"""The Celery runner against real RabbitMQ (scripts/services.sh) and real `strongroom worker` subprocesses.

The JobRunner contract (tests/contracts/job_runner_contract.py) runs over it with two worker processes;
then what only a distributed runner has: a job queued while no worker runs, routing by capability,
a worker killed with SIGKILL in the middle of a chunk, and the broker gone at submit time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from strongroom.catalog import open_catalog
from strongroom.catalog.base import Catalog
from strongroom.config import load_settings
from strongroom.jobs.base import JobRunner
from strongroom.jobs.celery_runner import (
    MAX_STEP_ATTEMPTS,
    BrokerUnreachable,
    CeleryRunner,
    StepWorker,
    celery_app,
    time_limits,
    unsent_follow_ups,
)
from strongroom.jobs.execute import submit_job
from strongroom.jobs.model import JobKind, JobState, StepName, StepRef, StepStart, StepState
from strongroom.jobs.settings import load_job_settings
from tests.conftest import Home
from tests.contracts.job_runner_contract import KINDS as CONTRACT_KINDS
from tests.contracts.job_runner_contract import JobRunnerContract, RunnerFactory
from tests.jobs.conftest import (
    StartWorker,
    WorkerProcess,
    configure_jobs,
    kinds_for_tests,
    queue_consumers,
    queue_messages,
)

WAIT = 90.0


def catalog_of(home: Path) -> Catalog:
    return open_catalog(load_settings(home).catalog_url)


def wait_until(check: object, what: str, timeout: float = WAIT) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# --- the contract ----------------------------------------------------------------------------------------------------


class TestCeleryRunnerContract(JobRunnerContract):
    """Two `strongroom worker` processes of one slot each serve the contract's kinds."""

    @pytest.fixture
    def runner_home(self, home: Home, broker_url: str, monkeypatch: pytest.MonkeyPatch) -> Home:
        # By the environment, not [jobs]: a contract test adds its own [jobs] table.
        monkeypatch.setenv("STRONGROOM_JOBS_BROKER_URL", broker_url)
        return home

    @pytest.fixture
    def runner_factory(self, broker_url: str, worker_processes: StartWorker) -> Iterator[RunnerFactory]:
        made: list[JobRunner] = []

        def make(home_path: Path, kinds: Mapping[str, JobKind]) -> JobRunner:
            env = {"STRONGROOM_EXTRA_JOB_KINDS": "tests.contracts.job_runner_contract:KINDS"}
            workers = [worker_processes(Home(home_path), "--concurrency", "1", env=env) for _ in range(2)]
            for worker in workers:
                worker.wait_consuming(broker_url, "default", len(workers))
            runner = CeleryRunner(home_path, kinds, load_job_settings(home_path))
            made.append(runner)
            return runner

        try:
            yield make
        finally:
            for runner in made:
                runner.close()

    def test_a_missing_tool_is_refused_before_anything_is_queued(
        self, runner_home: Home, runner_factory: RunnerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Not so for this runner: tools are the workers' business. The submitting process lacks mediainfo (an
        empty PATH), yet the job is queued, on cap.mediainfo, and runs on a worker that has it."""
        runner = runner_factory(runner_home.path, CONTRACT_KINDS)
        empty = tmp_path / "empty-path"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
        job = runner.submit("tool", {}, "alice", "Needs mediainfo")
        monkeypatch.undo()
        assert job.state is JobState.QUEUED
        done = runner.wait(job.id, timeout=WAIT)
        assert done.state is JobState.SUCCEEDED, (done.error, done.details)


# --- what only a distributed runner has ------------------------------------------------------------------------------


def test_a_job_queued_while_no_worker_runs_completes_when_one_starts(
    celery_home: Home, broker_url: str, worker_processes: StartWorker, tmp_path: Path
) -> None:
    runner = CeleryRunner(celery_home.path, kinds_for_tests(), load_job_settings(celery_home.path))
    try:
        job = runner.submit("test-chunks", {"chunks": 3, "seconds": 0, "out": str(tmp_path / "out")}, "alice", "Early")
        # The message waits in a durable queue that submit declared; nothing consumes it yet.
        assert queue_messages(broker_url, "default") == 1 and queue_consumers(broker_url, "default") == 0
        time.sleep(1)
        assert runner.get(job.id).state is JobState.QUEUED
        worker_processes(celery_home, "--concurrency", "1")
        done = runner.wait(job.id, timeout=WAIT)
        assert done.state is JobState.SUCCEEDED, (done.error, done.details)
        assert done.result is not None and done.result["chunks"] == 3
    finally:
        runner.close()


def test_a_kind_needing_a_tool_runs_only_on_a_worker_serving_its_queue(
    celery_home: Home, broker_url: str, worker_processes: StartWorker, tmp_path: Path
) -> None:
    plain = worker_processes(celery_home, "--concurrency", "1", "--queues", "default")
    plain.wait_consuming(broker_url, "default", 1)
    runner = CeleryRunner(celery_home.path, kinds_for_tests(), load_job_settings(celery_home.path))
    try:
        video = runner.submit("test-ffmpeg", {"chunks": 2, "seconds": 0, "out": str(tmp_path / "v")}, "alice", "V")
        other = runner.submit("test-answer", {"n": 4}, "alice", "Plain")
        done_other = runner.wait(other.id, timeout=WAIT)
        assert done_other.state is JobState.SUCCEEDED  # the plain worker is alive and working...
        time.sleep(2)
        assert runner.get(video.id).state is JobState.QUEUED  # ...but does not take the ffmpeg job
        assert queue_messages(broker_url, "cap.ffmpeg") == 1
        capable = worker_processes(celery_home, "--concurrency", "1", "--queues", "cap.ffmpeg")
        done = runner.wait(video.id, timeout=WAIT)
        assert done.state is JobState.SUCCEEDED, (done.error, done.details)
        assert done.result is not None and done.result["chunks"] == 2
        assert done.result["worker_pid"] in capable.group_pids()  # finalize ran on the capable worker
        pids = {int(line.split()[2]) for line in (tmp_path / "v" / "runs.log").read_text().splitlines()}
        assert pids <= capable.group_pids()
    finally:
        runner.close()


def _held_by(catalog: Catalog, job_id: str, worker: WorkerProcess) -> StepRef | None:
    pids = worker.group_pids()
    for step in catalog.steps(job_id):
        if (
            step.state is StepState.RUNNING
            and step.ref.step is StepName.CHUNK
            and int(step.worker.rsplit(":", 1)[1]) in pids
        ):
            return step.ref
    return None


@pytest.mark.serial
@pytest.mark.slow
def test_a_worker_killed_mid_chunk_loses_nothing_and_repeats_only_that_chunk(
    celery_home: Home, broker_url: str, worker_processes: StartWorker, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    victim = worker_processes(celery_home, "--concurrency", "1")
    survivor = worker_processes(celery_home, "--concurrency", "1")
    victim.wait_consuming(broker_url, "default", 2)
    runner = CeleryRunner(celery_home.path, kinds_for_tests(), load_job_settings(celery_home.path))
    catalog = catalog_of(celery_home.path)
    try:
        job = runner.submit("test-chunks", {"chunks": 6, "seconds": 2.0, "out": str(out)}, "alice", "Six chunks")
        held: list[StepRef] = []

        def victim_busy() -> bool:
            ref = _held_by(catalog, job.id, victim)
            if ref is not None:
                held.append(ref)
            return ref is not None

        wait_until(victim_busy, "the victim to hold a chunk")
        time.sleep(0.5)  # well inside the chunk's 2 s
        victim.kill()
        killed = held[-1]
        assert not (out / f"chunk-{killed.chunk:06d}.txt").exists()  # it was cut off before writing
        done = runner.wait(job.id, timeout=WAIT)
        assert done.state is JobState.SUCCEEDED, (done.error, done.details)
        assert (done.chunks_total, done.chunks_done) == (6, 6)  # every chunk counted once
        assert done.result is not None and done.result["chunks"] == 6  # no chunk output missing
        assert sorted(p.name for p in out.glob("chunk-*.txt")) == [f"chunk-{n:06d}.txt" for n in range(6)]
        steps = {s.key: s for s in catalog.steps(job.id)}
        assert all(s.state is StepState.DONE for s in steps.values())
        assert steps[killed.key].attempts == 2  # taken over once its lease ran out
        assert all(s.attempts == 1 for key, s in steps.items() if key != killed.key)  # nothing else repeated
        survivors = survivor.group_pids()
        assert int(steps[killed.key].worker.rsplit(":", 1)[1]) in survivors
        runs = (out / "runs.log").read_text().splitlines()
        ends = [line.split()[1] for line in runs if line.startswith("end ")]
        assert sorted(ends) == [str(n) for n in range(6)]  # each chunk finished exactly once
    finally:
        catalog.close()
        runner.close()


@pytest.mark.slow
def test_a_step_waits_out_a_catalog_that_is_away_for_a_while(celery_home: Home, worker_processes: StartWorker) -> None:
    url = load_settings(celery_home.path).catalog_url
    if not url.startswith("sqlite:///"):
        pytest.skip("takes the SQLite catalog's file away; the PostgreSQL catalog is the same code path")
    runner = CeleryRunner(celery_home.path, kinds_for_tests(), load_job_settings(celery_home.path))
    try:
        job = runner.submit("test-answer", {"n": 5}, "alice", "Catalog away")
    finally:
        runner.close()
    database = Path(url.removeprefix("sqlite://"))
    away = database.with_name(database.name + ".away")
    database.rename(away)
    database.mkdir()  # a folder where the catalog was: every open fails until it is back
    worker = worker_processes(celery_home, "--concurrency", "1")
    try:
        wait_until(
            lambda: "could not be run; trying again" in worker.output(), "the worker to meet the missing catalog"
        )
    finally:
        database.rmdir()
        away.rename(database)
    catalog = catalog_of(celery_home.path)
    try:
        wait_until(lambda: (j := catalog.job(job.id)) is not None and j.state.finished, "the job to finish")
        done = catalog.job(job.id)
        assert done is not None and done.state is JobState.SUCCEEDED and done.result is not None
        assert done.result["answer"] == 10
    finally:
        catalog.close()


def test_submit_with_the_broker_gone_fails_clearly_and_ends_the_job(home: Home) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    configure_jobs(home.path, f"amqp://strongroom:s3cret-pw@127.0.0.1:{port}/strongroom")
    runner = CeleryRunner(home.path, kinds_for_tests(), load_job_settings(home.path))
    try:
        with pytest.raises(BrokerUnreachable) as raised:
            runner.submit("test-answer", {"n": 1}, "alice", "No broker")
        message = raised.value.message + " ".join(raised.value.details)
        assert f"amqp://strongroom:***@127.0.0.1:{port}/strongroom" in raised.value.message
        assert "s3cret-pw" not in message and "RabbitMQ" in message
        [job] = runner.list(kinds=("test-answer",))
        assert job.state is JobState.FAILED and job.error == raised.value.message  # not left queued for ever
    finally:
        runner.close()


# --- the worker's handling of one delivery (in this process, real broker and catalog) ------------------------------


def _step_worker(home: Path) -> tuple[StepWorker, Any]:
    settings = load_job_settings(home)
    assert settings.broker_url is not None
    app = celery_app(settings.broker_url, kinds_for_tests(), home=home, job_settings=settings)
    steps = app.strongroom_steps
    assert isinstance(steps, StepWorker)
    return steps, app


def test_a_step_held_with_a_live_lease_is_sent_again_for_when_the_lease_ends(
    celery_home: Home, broker_url: str, tmp_path: Path
) -> None:
    steps, app = _step_worker(celery_home.path)
    catalog = steps.catalog()
    job, ref = submit_job(catalog, steps.kinds, "test-answer", {"n": 1}, "alice", "Held", runner_id="t:1")
    now = datetime.now(UTC)
    assert catalog.start_step(job.id, ref.key, "elsewhere:9", now + timedelta(seconds=4), now) is StepStart.STARTED
    try:
        assert steps.run(ref) is StepStart.BUSY
        # One message, not yet deliverable: a worker will hold it (unacked) until its countdown ends.
        wait_until(lambda: queue_messages(broker_url, "default") == 1, "the step sent again")
        assert steps._lease_left(catalog, ref) <= 4.5
        held = {s.key: s for s in catalog.steps(job.id)}[ref.key]
        assert held.worker == "elsewhere:9" and held.attempts == 1  # untouched
    finally:
        app.close()


def test_a_redelivered_finished_plan_sends_the_chunks_it_never_sent(celery_home: Home, tmp_path: Path) -> None:
    """A worker died after recording its plan done but before publishing the chunks: the plan's message comes
    back (acks are late), finds the plan DONE, and the queued chunks are sent from there."""
    steps, app = _step_worker(celery_home.path)
    catalog = steps.catalog()
    job, plan = submit_job(catalog, steps.kinds, "test-chunks", {"chunks": 3, "out": str(tmp_path)}, "a", "P",
                           runner_id="t:1")  # fmt: skip
    now = datetime.now(UTC)
    catalog.start_step(job.id, plan.key, "dead:1", now + timedelta(seconds=60), now)
    catalog.plan_chunks(job.id, 3, now)
    catalog.finish_step(job.id, plan.key, "dead:1", now)
    try:
        assert unsent_follow_ups(catalog, plan) == [StepRef(job.id, StepName.CHUNK, n) for n in range(3)]
        chunk = StepRef(job.id, StepName.CHUNK, 0)
        assert unsent_follow_ups(catalog, chunk) == []  # a chunk only re-sends a queued finalize
        assert steps.run(plan) is StepStart.DONE
    finally:
        app.close()


def test_a_step_that_keeps_killing_its_worker_fails_the_job(celery_home: Home, tmp_path: Path) -> None:
    steps, app = _step_worker(celery_home.path)
    catalog = steps.catalog()
    job, ref = submit_job(catalog, steps.kinds, "test-answer", {"n": 1}, "alice", "Poison", runner_id="t:1")
    try:
        for attempt in range(MAX_STEP_ATTEMPTS):
            now = datetime.now(UTC)
            # Each holder dies at once: its lease is already over when the next one comes.
            assert catalog.start_step(job.id, ref.key, f"dies:{attempt}", now, now) is StepStart.STARTED
            time.sleep(0.01)
        assert steps.run(ref) is StepStart.JOB_ENDED
        ended = catalog.job(job.id)
        assert ended is not None and ended.state is JobState.FAILED
        assert ended.error is not None and f"started {MAX_STEP_ATTEMPTS} times" in ended.error
    finally:
        app.close()


def test_time_limits_follow_the_kind() -> None:
    kinds = kinds_for_tests()
    soft, hard = time_limits(kinds["test-chunks"])
    assert kinds["test-chunks"].step_seconds < soft < hard
    app = celery_app("amqp://u:p@127.0.0.1:1/v", kinds)
    try:
        conf = app.conf
        assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
        assert conf.task_serializer == "json" and list(conf.accept_content) == ["json"] and conf.task_ignore_result
        assert conf.worker_max_tasks_per_child > 0 and conf.broker_connection_retry_on_startup
        assert all(q.durable for q in conf.task_queues)
        assert {q.name for q in conf.task_queues} >= {"default", "cap.ffmpeg"}
    finally:
        app.close()


def test_steps_whose_messages_were_lost_are_sent_again(
    celery_home: Home, broker_url: str, worker_processes: StartWorker, tmp_path: Path
) -> None:
    """The broker lost what it held (restarted on a wiped disk), or a sweeper's or worker's publish failed
    while it was away: steps queued in the catalog have no message. The workers' sweepers send them again."""
    catalog = catalog_of(celery_home.path)
    kinds = kinds_for_tests()
    try:
        lost, _plan = submit_job(
            catalog, kinds, "test-chunks", {"chunks": 2, "out": str(tmp_path / "out")}, "alice", "Lost", runner_id="t:1"
        )  # fmt: skip  (queued in the catalog, never published)
        other, _run = submit_job(catalog, kinds, "test-answer", {"n": 4}, "alice", "Also lost", runner_id="t:1")
        assert queue_messages(broker_url, "default") == 0
        worker_processes(celery_home, "--concurrency", "1")
        ids = (lost.id, other.id)
        wait_until(lambda: all((j := catalog.job(i)) is not None and j.state.finished for i in ids),
                   "the lost steps sent again and run", timeout=60)  # fmt: skip
        done = catalog.job(lost.id)
        assert done is not None and done.state is JobState.SUCCEEDED and done.result is not None
        assert done.result["chunks"] == 2
        answered = catalog.job(other.id)
        assert answered is not None and answered.state is JobState.SUCCEEDED and answered.result is not None
        assert answered.result["answer"] == 8
        assert all(s.attempts == 1 for s in catalog.steps(lost.id))  # each step ran once
    finally:
        catalog.close()
