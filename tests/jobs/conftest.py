"""RabbitMQ, Celery-runner homes and `strongroom worker` subprocesses for the job tests.

    broker_url                  a vhost of this test's own on the test RabbitMQ (scripts/services.sh)
    celery_home                 an archive home with [jobs] runner = "celery" on that vhost, leases of 5 s
    worker_processes            starts `strongroom worker` subprocesses; every one is killed at teardown

The job kinds below are importable by worker processes (STRONGROOM_EXTRA_JOB_KINDS=tests.jobs.conftest:
CELERY_TEST_KINDS): a staged kind whose chunks sleep and then write `chunk-N.txt` into params["out"] (and
log every start and end to `runs.log`, so a test sees which chunk ran where, and how often), the same
kind routed to `cap.ffmpeg`, and a single-step kind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from strongroom.jobs.model import JobContext, JobKind, StepContext
from tests.conftest import REPO, Home

STRONGROOM = Path(sys.executable).parent / "strongroom"
KINDS_SPEC = "tests.jobs.conftest:CELERY_TEST_KINDS"


def _log_run(out: Path, line: str) -> None:
    with (out / "runs.log").open("a", encoding="utf-8") as log:
        log.write(line + "\n")


def plan_chunks(ctx: StepContext, params: Mapping[str, Any]) -> int:
    Path(params["out"]).mkdir(parents=True, exist_ok=True)
    return int(params["chunks"])


def sleepy_chunk(ctx: StepContext, params: Mapping[str, Any], n: int) -> None:
    out = Path(params["out"])
    _log_run(out, f"start {n} {os.getpid()}")
    deadline = time.monotonic() + float(params.get("seconds", 0))
    while time.monotonic() < deadline:
        ctx.check_cancelled()
        time.sleep(0.05)
    target = out / f"chunk-{n:06d}.txt"
    partial = out / f".chunk-{n:06d}.{os.getpid()}.tmp"
    partial.write_text(f"chunk {n} of job {ctx.job.id}\n", encoding="utf-8")
    os.replace(partial, target)  # deterministic name, written atomically: a second run writes the same
    _log_run(out, f"end {n} {os.getpid()}")


def count_chunks(ctx: StepContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    out = Path(params["out"])
    return {"chunks": len(list(out.glob("chunk-*.txt"))), "worker_pid": os.getpid()}


def answer(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"answer": int(params["n"]) * 2, "worker_pid": os.getpid()}


CELERY_TEST_KINDS = (
    JobKind("test-chunks", "Test chunks", None, "ingest", plan=plan_chunks, chunk=sleepy_chunk,
            finalize=count_chunks, step_seconds=120),
    JobKind("test-ffmpeg", "Test chunks needing ffmpeg", None, "ingest", tools=("ffmpeg",), plan=plan_chunks,
            chunk=sleepy_chunk, finalize=count_chunks, step_seconds=120),
    JobKind("test-answer", "Test answer", answer, "ingest", resumable=True),
)  # fmt: skip


def kinds_for_tests() -> dict[str, JobKind]:
    """The default kinds plus the ones above: what a worker started by `worker_processes` knows."""
    from strongroom.cli_worker import worker_kinds

    return worker_kinds({"STRONGROOM_EXTRA_JOB_KINDS": KINDS_SPEC})


@pytest.fixture
def broker_url() -> Iterator[str]:
    from tests.services import fresh_rabbitmq_vhost

    with fresh_rabbitmq_vhost() as url:
        yield url


def configure_jobs(home: Path, broker: str, *, lease_seconds: int = 5) -> None:
    """Append a [jobs] table for the Celery runner to the home's strongroom.toml."""
    config = home / "strongroom.toml"
    text = config.read_text(encoding="utf-8")
    assert "[jobs]" not in text, "the home already has a [jobs] table"
    config.write_text(
        text + f'\n[jobs]\nrunner = "celery"\nbroker_url = "{broker}"\nlease_seconds = {lease_seconds}\n',
        encoding="utf-8",
    )


@pytest.fixture
def celery_home(home: Home, broker_url: str) -> Home:
    configure_jobs(home.path, broker_url)
    return home


@dataclass
class WorkerProcess:
    """One `strongroom worker` subprocess, in a process group of its own (its pool children too)."""

    process: subprocess.Popen[bytes]
    log: Path
    args: tuple[str, ...]
    killed: bool = field(default=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def group_pids(self) -> set[int]:
        """The worker's processes: its main process and pool children (same process group)."""
        pids = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[2]) == self.pid:  # field 5 of stat: the process group
                    pids.add(int(entry.name))
        return pids

    def kill(self) -> None:
        """SIGKILL the whole process group, as a machine dying would; returns once the main process is gone."""
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.killed = True

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM (warm shutdown) and wait for the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def wait_consuming(self, broker: str, queue: str, consumers: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while queue_consumers(broker, queue) < consumers:
            if self.process.poll() is not None:
                raise AssertionError(f"worker {self.args} exited ({self.process.returncode}):\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker {self.args} did not consume {queue} in {timeout} s:\n{self.output()}")
            time.sleep(0.2)


def _queue_state(broker: str, queue: str) -> tuple[int, int]:
    """(ready messages, consumers) of `queue`; (0, 0) if it does not exist yet."""
    from kombu import connection as kombu_connection

    make: Any = kombu_connection.Connection
    with make(broker, connect_timeout=5) as connection:
        channel = connection.channel()
        try:
            _name, messages, consumers = channel.queue_declare(queue=queue, passive=True)
        except Exception:  # NOT_FOUND (it closes the channel): the queue does not exist yet
            return 0, 0
        return int(messages), int(consumers)


def queue_consumers(broker: str, queue: str) -> int:
    return _queue_state(broker, queue)[1]


def queue_messages(broker: str, queue: str) -> int:
    return _queue_state(broker, queue)[0]


StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def worker_processes(tmp_path: Path) -> Iterator[StartWorker]:
    """start(home, *args, env=None) -> WorkerProcess: `strongroom --home H worker *args` with the test kinds."""
    started: list[WorkerProcess] = []

    def start(home: Home, *args: str, env: Mapping[str, str] | None = None) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        environment = {**os.environ, "STRONGROOM_EXTRA_JOB_KINDS": KINDS_SPEC, "PYTHONPATH": str(REPO),
                       **(env or {})}  # fmt: skip
        command = [str(STRONGROOM), "--home", str(home.path), "worker", *args]
        with log.open("wb") as handle:
            process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=environment, cwd=REPO, start_new_session=True)  # fmt: skip
        worker = WorkerProcess(process, log, tuple(args))
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            if worker.process.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.process.wait(timeout=30)
            else:
                # The main process is gone; pool children left in its group go too.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(worker.pid, signal.SIGKILL)
