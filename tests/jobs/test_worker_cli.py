"""`strongroom worker` as a real subprocess: its queues and why, clear refusals, and a warm shutdown."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strongroom.catalog import open_catalog
from strongroom.config import load_settings
from strongroom.jobs.celery_runner import CeleryRunner
from strongroom.jobs.execute import submit_job
from strongroom.jobs.model import JobState, StepName, StepState
from strongroom.jobs.settings import load_job_settings
from tests.conftest import REPO, Home
from tests.jobs.conftest import KINDS_SPEC, STRONGROOM, StartWorker, configure_jobs, kinds_for_tests

WAIT = 90.0


def run_worker(home: Home, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`strongroom worker` expected to stop at once (a refusal): its exit code and output."""
    import os

    environment = {**os.environ, "STRONGROOM_EXTRA_JOB_KINDS": KINDS_SPEC, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([str(STRONGROOM), "--home", str(home.path), "worker", *args], capture_output=True,
                          text=True, env=environment, timeout=120, cwd=REPO)  # fmt: skip


def test_worker_says_how_to_install_celery_when_it_is_missing(home: Home, tmp_path: Path) -> None:
    configure_jobs(home.path, "amqp://strongroom:pw@127.0.0.1:5672/strongroom")
    shim = tmp_path / "no-celery" / "celery"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('celery is hidden by this test')\n", encoding="utf-8")
    result = run_worker(home, env={"PYTHONPATH": f"{shim.parent}:{REPO}"})
    assert result.returncode != 0
    assert "The Celery runner needs Celery, which is not installed." in result.stderr
    assert "pip install 'strongroom[distributed]'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_worker_names_the_unreachable_broker_with_its_password_masked(home: Home) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configure_jobs(home.path, f"amqp://strongroom:s3cret-pw@127.0.0.1:{port}/strongroom")
    result = run_worker(home, "--queues", "default")
    assert result.returncode != 0
    assert f"Cannot reach the job broker at amqp://strongroom:***@127.0.0.1:{port}/strongroom" in result.stderr
    assert "Check that RabbitMQ runs there" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_worker_refuses_a_queue_whose_tool_is_missing_here(home: Home, tmp_path: Path) -> None:
    configure_jobs(home.path, "amqp://strongroom:pw@127.0.0.1:5672/strongroom")
    empty = tmp_path / "empty-path"
    empty.mkdir()
    result = run_worker(home, "--queues", "default,cap.ffmpeg", env={"PATH": str(empty)})
    assert result.returncode != 0
    assert "This machine cannot serve queue cap.ffmpeg: ffmpeg is not installed here." in result.stderr
    assert "strongroom doctor" in result.stderr
    unknown = run_worker(home, "--queues", "cap.nothing")
    assert (
        unknown.returncode != 0 and "No kind of job sends its steps to a queue called 'cap.nothing'" in unknown.stderr
    )


def test_queues_are_for_the_celery_runner_only(home: Home) -> None:
    result = run_worker(home, "--queues", "default")
    assert result.returncode != 0 and "--queues is for the Celery runner" in result.stderr


@pytest.mark.slow
def test_worker_serves_what_it_can_and_finishes_its_step_on_sigterm(
    celery_home: Home, broker_url: str, worker_processes: StartWorker, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = worker_processes(celery_home, "--concurrency", "1", "--queues", "default,cap.ffmpeg")
    first.wait_consuming(broker_url, "cap.ffmpeg", 1)
    said = first.output()
    assert "Serving queues: default, cap.ffmpeg" in said, said
    assert "Tools found:" in said and "ffmpeg" in said.split("Tools found:")[1].splitlines()[0]
    assert "Not serving:" in said  # the other capability queues, narrowed away
    runner = CeleryRunner(celery_home.path, kinds_for_tests(), load_job_settings(celery_home.path))
    catalog = open_catalog(load_settings(celery_home.path).catalog_url)
    try:
        job = runner.submit("test-ffmpeg", {"chunks": 1, "seconds": 3, "out": str(out)}, "alice", "One chunk")

        def chunk_running() -> bool:
            return any(s.key == "chunk-000000" and s.state is StepState.RUNNING for s in catalog.steps(job.id))

        deadline = time.monotonic() + WAIT
        while not chunk_running():
            assert time.monotonic() < deadline, first.output()
            time.sleep(0.1)
        assert first.terminate(timeout=60) == 0  # warm shutdown: the chunk in hand is finished first
        steps = {s.key: s for s in catalog.steps(job.id)}
        chunk = steps["chunk-000000"]
        assert chunk.state is StepState.DONE and chunk.attempts == 1
        assert (out / "chunk-000000.txt").is_file()
        assert "Warm shutdown" in first.output()
        # The finalize it sent waits in the queue for the next worker.
        assert steps["finalize"].state is StepState.QUEUED and runner.get(job.id).state is JobState.RUNNING
        worker_processes(celery_home, "--concurrency", "1")
        done = runner.wait(job.id, timeout=WAIT)
        assert done.state is JobState.SUCCEEDED and done.result is not None and done.result["chunks"] == 1
    finally:
        catalog.close()
        runner.close()


@pytest.mark.slow
def test_worker_with_the_embedded_runner_runs_jobs_queued_in_the_catalog(
    home: Home, worker_processes: StartWorker, tmp_path: Path
) -> None:
    catalog = open_catalog(load_settings(home.path).catalog_url)
    try:
        # Queued by another process (as `ingest --submit` does): the job and its first step, in the catalog only.
        job, ref = submit_job(catalog, kinds_for_tests(), "test-chunks", {"chunks": 2, "seconds": 0,
                              "out": str(tmp_path / "out")}, "alice", "Queued", runner_id="elsewhere:1")  # fmt: skip
        assert ref.step is StepName.PLAN
        worker = worker_processes(home, "--concurrency", "1")
        deadline = time.monotonic() + WAIT
        while (current := catalog.job(job.id)) is not None and not current.state.finished:
            assert time.monotonic() < deadline and worker.process.poll() is None, worker.output()
            time.sleep(0.1)
        assert current is not None and current.state is JobState.SUCCEEDED, (current, worker.output())
        assert current.result is not None and current.result["chunks"] == 2
        assert "embedded runner" in worker.output()
        assert worker.terminate(timeout=60) == 0
    finally:
        catalog.close()


def test_worker_runs_as_many_steps_at_once_as_jobs_workers_says(home: Home, worker_processes: StartWorker) -> None:
    """`[jobs] workers` is how many steps a worker runs at once (docs/deployment.md); --concurrency overrides it."""
    config = home.path / "strongroom.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n[jobs]\nworkers = 3\n", encoding="utf-8")
    for args, count in (((), 3), (("--concurrency", "1"), 1)):
        worker = worker_processes(home, *args)
        deadline = time.monotonic() + WAIT
        while "at a time" not in worker.output():
            assert time.monotonic() < deadline and worker.process.poll() is None, worker.output()
            time.sleep(0.1)
        assert f"with {count} at a time" in worker.output(), worker.output()
        assert worker.terminate(timeout=60) == 0


def test_extra_kinds_add_kinds_and_never_replace_a_built_in_one(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """STRONGROOM_EXTRA_JOB_KINDS (the test kinds of worker subprocesses) may add kinds; one called like a built-in
    kind ("ingest") would have every step of that kind run by other code than the web service and the CLI queued
    it for, so it is refused, naming the clash."""
    from strongroom.cli_worker import worker_kinds
    from strongroom.errors import ConfigError

    (tmp_path / "site_kinds.py").write_text(
        "from strongroom.jobs.model import JobKind\n"
        "def run(ctx, params):\n    return {}\n"
        "EXTRA = (JobKind('site-report', 'A report', run, 'ingest'),)\n"
        "CLASH = (JobKind('ingest', 'Not the ingest', run, 'ingest'),)\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    added = worker_kinds({"STRONGROOM_EXTRA_JOB_KINDS": "site_kinds:EXTRA"})
    assert added["site-report"].title == "A report" and added["ingest"].staged
    with pytest.raises(ConfigError, match=r"'ingest'.*already") as refused:
        worker_kinds({"STRONGROOM_EXTRA_JOB_KINDS": "site_kinds:CLASH"})
    assert "site_kinds:CLASH" in refused.value.message


def test_worker_has_help_text() -> None:
    result = subprocess.run([sys.executable, "-m", "strongroom", "worker", "--help"], capture_output=True, text=True,
                            timeout=60, cwd=REPO)  # fmt: skip
    assert result.returncode == 0
    assert "--queues" in result.stdout and "--concurrency" in result.stdout and "SIGTERM" in result.stdout
