"""Ingest as a durable job: the embedded runner against the Celery runner on 1 and on 2 workers, in one run.

    .venv/bin/python benchmarks/jobs.py [--files 10000] [--slots 2] [--chunk-files 200] [--direct] [--json] [--work DIR]

Generates --files files (benchmarks/ingest.py's mixed corpus: text, CSV, HTML, PNG, PDF-like, binary), then
ingests them once per runner, each into a fresh archive home whose catalog is a fresh database on the same
PostgreSQL server (scripts/services.sh), with filesystem storage, so only the runner differs:
  - embedded: [jobs] runner = "embedded", one `strongroom worker` process running --slots steps at once;
  - celery x1: [jobs] runner = "celery" on RabbitMQ (scripts/services.sh), one `strongroom worker` with
    --slots pool processes;
  - celery x2: two `strongroom worker` processes sharing the same --slots between them (the two-machine shape
    on one machine).
Each time is what a user waits for: from `strongroom ingest PATH --submit` starting (its start-up included) to
the job's row in the catalog saying it finished, with the worker(s) already started and idle, as in a
deployment. Every run must end SUCCEEDED with every file in the package, or the benchmark fails.
--direct adds plain `strongroom ingest PATH` (no job at all) as a reference row.

Prints the machine (cores, CPUs this process may use), which catalog each run used, files/s, and each runner's
ratio to the embedded one. The goal (issue 15): Celery within 15% of embedded on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.ingest import corpus_size, generate_corpus  # noqa: E402

BIN = Path(sys.executable).parent
STRONGROOM = str(BIN / "strongroom")
_EXPORT = re.compile(r"^export ([A-Z0-9_]+)=(.*)$")
READY_SECONDS = 180.0  # a worker that has not said it is ready by then has failed to start
READY = re.compile(r"@\S+ ready\.|running the jobs queued in")
SETTLE_SECONDS = 2.0  # after every worker said so, before submitting: the embedded one says it a little early
JOB_SECONDS = 3600.0


@dataclass
class Run:
    runner: str
    workers: int  # `strongroom worker` processes (0: no job at all)
    slots: int  # steps running at once, over all of them
    catalog: str  # which catalog the run used
    seconds: float
    files: int
    bytes: int
    chunks: int | None
    startup_seconds: float  # starting the worker(s) until ready: not in `seconds`
    phases: dict[str, float]  # where the job's time went (see phases())

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds if self.seconds else 0.0


class BenchmarkError(RuntimeError):
    """A run that did not do what it should: the benchmark stops and says why."""


def services(names: Sequence[str]) -> dict[str, str]:
    """Start the named shared test servers (scripts/services.sh) and return what they export."""
    result = subprocess.run(["bash", str(REPO / "scripts" / "services.sh"), "start", *names], capture_output=True,
                            text=True, check=False)  # fmt: skip
    if result.returncode != 0:
        raise BenchmarkError(f"scripts/services.sh start {' '.join(names)} failed:\n{result.stderr}")
    return {m.group(1): m.group(2).strip("'\"") for m in map(_EXPORT.match, result.stdout.splitlines()) if m}


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A database of this run's own on the PostgreSQL server; dropped afterwards."""
    import psycopg
    import sqlalchemy as sa

    name = f"strongroom_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def base_env() -> dict[str, str]:
    """This process's environment without Strongroom settings, with the optional ingest checks off (a JVM and
    a virus scanner per run measure those tools, not the runner)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env.update(STRONGROOM_CHARACTERISE="0", STRONGROOM_VIRUS_SCAN="off", STRONGROOM_EXTRACT_TEXT="0",
               STRONGROOM_OPERATOR="benchmark")  # fmt: skip
    return env


def make_home(home: Path, env: Mapping[str, str], catalog_url: str, jobs: Mapping[str, Any]) -> None:
    subprocess.run([STRONGROOM, "--home", str(home), "init"], env=dict(env), check=True, stdout=subprocess.DEVNULL)
    config = home / "strongroom.toml"
    text = config.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^\[catalog\]\n", f'[catalog]\nurl = "{catalog_url}"\n', text, count=1)
    text += "\n[jobs]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in jobs.items())
    config.write_text(text, encoding="utf-8")


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def ready(self) -> bool:
        """Whether it said it is ready: Celery's "celery@host ready.", or the embedded worker's opening line."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return READY.search(text) is not None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=60)
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=30)


def start_workers(home: Path, env: Mapping[str, str], count: int, slots: int, folder: Path,
                  stack: ExitStack) -> float:  # fmt: skip
    """Start `count` workers sharing `slots`; returns the seconds until every one said it is ready."""
    started = time.perf_counter()
    workers = []
    for n in range(count):
        share = max(1, slots // count + (1 if n < slots % count else 0))
        log = folder / f"worker-{n}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [STRONGROOM, "--home", str(home), "worker", "--concurrency", str(share)], env=dict(env),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        worker = WorkerProcess(process, log)
        stack.callback(worker.stop)
        workers.append(worker)
    while not all(w.ready() for w in workers):
        for w in workers:
            if w.process.poll() is not None:
                raise BenchmarkError(f"a worker stopped while starting (exit {w.process.returncode}):\n"
                                     + w.log.read_text(errors="replace")[-3000:])  # fmt: skip
        if time.perf_counter() - started > READY_SECONDS:
            raise BenchmarkError(f"the workers did not say they were ready in {READY_SECONDS:.0f} s; see {folder}")
        time.sleep(0.1)
    ready = time.perf_counter() - started
    time.sleep(SETTLE_SECONDS)
    return ready


def run_job(home: Path, env: Mapping[str, str], corpus: Path, catalog_url: str,
            ) -> tuple[float, int | None, dict[str, float]]:  # fmt: skip
    """`ingest --submit`, then watch the job's row until it finishes; returns (seconds, chunks, phases)."""
    from strongroom.catalog import open_catalog
    from strongroom.jobs.model import JobState

    started = time.perf_counter()
    submitted = subprocess.run([STRONGROOM, "--home", str(home), "ingest", str(corpus), "--submit", "--json"],
                               env=dict(env), capture_output=True, text=True, check=False)  # fmt: skip
    if submitted.returncode != 0:
        raise BenchmarkError(f"ingest --submit failed:\n{submitted.stdout}{submitted.stderr}")
    job_id = str(json.loads(submitted.stdout)["job"])
    catalog = open_catalog(catalog_url)
    try:
        while True:
            job = catalog.job(job_id)
            if job is not None and job.state.finished:
                break
            if time.perf_counter() - started > JOB_SECONDS:
                raise BenchmarkError(f"job {job_id} did not finish in {JOB_SECONDS:.0f} s")
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        if job.state is not JobState.SUCCEEDED:
            raise BenchmarkError(f"job {job_id} ended {job.state}: {job.error} {job.details}")
        check_package(catalog, job.result, corpus)
        return seconds, job.chunks_total, phases(job, catalog.steps(job_id))
    finally:
        catalog.close()


def phases(job: Any, steps: Sequence[Any]) -> dict[str, float]:
    """Where a job's time went, from its rows: waiting for its first step, plan, the chunks (first start to last
    end), finalize, and the gaps between them (the engine's hand-over)."""
    by_key = {step.key: step for step in steps}
    chunks = [step for step in steps if step.key.startswith("chunk-")]
    plan, finalize = by_key.get("plan"), by_key.get("finalize")
    if plan is None or finalize is None or not chunks or None in (plan.started, plan.finished, finalize.started,
                                                                  finalize.finished):  # fmt: skip
        return {}
    first = min(step.started for step in chunks)
    last = max(step.finished for step in chunks)
    return {
        "to first step": (plan.started - job.created).total_seconds(),
        "plan": (plan.finished - plan.started).total_seconds(),
        "plan to chunks": (first - plan.finished).total_seconds(),
        "chunks": (last - first).total_seconds(),
        "chunks to finalize": (finalize.started - last).total_seconds(),
        "finalize": (finalize.finished - finalize.started).total_seconds(),
    }


def check_package(catalog: Any, result: Mapping[str, Any] | None, corpus: Path) -> None:
    from strongroom.model import FileRole

    files, _size = corpus_size(corpus)
    package = str((result or {}).get("package"))
    stored = [f.path for f in catalog.files(package) if f.role is FileRole.ORIGINAL]
    if len(stored) != files or len(set(stored)) != files:
        raise BenchmarkError(f"package {package} holds {len(set(stored))} distinct of {len(stored)} originals, "
                             f"not the {files} files of the corpus")  # fmt: skip


def run_direct(home: Path, env: Mapping[str, str], corpus: Path, slots: int) -> float:
    started = time.perf_counter()
    result = subprocess.run([STRONGROOM, "--home", str(home), "ingest", str(corpus), "--json"],
                            env={**env, "STRONGROOM_WORKERS": str(slots)}, capture_output=True, text=True,
                            check=False)  # fmt: skip
    if result.returncode != 0:
        raise BenchmarkError(f"strongroom ingest failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def describe(url: str) -> str:
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    return f"PostgreSQL {parsed.host}:{parsed.port}/{parsed.database}"


def benchmark(files: int, slots: int, chunk_files: int, work: Path, direct: bool, log: Any) -> dict[str, Any]:
    admin_url = services(["postgresql"])["STRONGROOM_TEST_POSTGRESQL_ADMIN_URL"]
    corpus = work / "corpus"
    if not corpus.exists() or corpus_size(corpus)[0] != files:
        shutil.rmtree(corpus, ignore_errors=True)
        log(f"generating {files} files in {corpus}")
        generate_corpus(corpus, files)
    count, size = corpus_size(corpus)
    env = base_env()
    runs: list[Run] = []
    plans: list[tuple[str, int, dict[str, Any]]] = [
        ("embedded", 1, {"runner": "embedded", "workers": slots, "chunk_files": chunk_files}),
        ("celery", 1, {"runner": "celery", "chunk_files": chunk_files}),
        ("celery", 2, {"runner": "celery", "chunk_files": chunk_files}),
    ]
    if direct:
        plans.insert(0, ("no job (plain ingest)", 0, {}))
    for name, workers, jobs in plans:
        folder = work / f"run-{len(runs)}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        home = folder / "home"
        if jobs.get("runner") == "celery":
            # Asked again before each run: the shared broker may have been restarted (on another port) meanwhile.
            jobs = {**jobs, "broker_url": services(["rabbitmq"])["STRONGROOM_TEST_RABBITMQ_URL"]}
        # The workers stop (the inner block) before their database is dropped.
        with fresh_database(admin_url) as catalog_url, ExitStack() as stack:
            make_home(home, env, catalog_url, jobs)
            log(f"{name}, {workers} worker(s), {slots} slots: catalog {describe(catalog_url)}")
            startup = 0.0
            chunks: int | None = None
            spent: dict[str, float] = {}
            if workers == 0:
                seconds = run_direct(home, env, corpus, slots)
            else:
                startup = start_workers(home, env, workers, slots, folder, stack)
                seconds, chunks, spent = run_job(home, env, corpus, catalog_url)
            total_slots = slots if workers <= 1 else workers * max(1, slots // workers)
            runs.append(Run(name, workers, total_slots, describe(catalog_url).rsplit("/", 1)[0], seconds, count,
                            size, chunks, startup, spent))  # fmt: skip
            log(f"  {seconds:.1f} s, {count / seconds:.0f} files/s (workers ready after {startup:.1f} s)")
        shutil.rmtree(folder, ignore_errors=True)
    embedded = next(r for r in runs if r.runner == "embedded")
    return {
        "machine": {
            "cores": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "files": count,
        "bytes": size,
        "runs": [
            {
                **asdict(r),
                "files_per_s": round(r.files_per_s, 1),
                "ratio_to_embedded": round(r.seconds / embedded.seconds, 3),
            }
            for r in runs
        ],
    }


def report(data: Mapping[str, Any]) -> None:
    machine = data["machine"]
    print(f"\nmachine: {machine['cores']} cores, this process may use {machine['affinity']} "
          f"(affinity); Python {machine['python']}; {machine['platform']}")  # fmt: skip
    print(f"ingest of {data['files']} generated files, {data['bytes'] / 1e6:.1f} MB\n")
    print(f"{'runner':24} {'workers':>7} {'slots':>5} {'chunks':>6} {'seconds':>8} {'files/s':>8} {'vs embedded':>11}"
          f"  catalog")  # fmt: skip
    for run in data["runs"]:
        chunks = "-" if run["chunks"] is None else str(run["chunks"])
        print(f"{run['runner']:24} {run['workers']:>7} {run['slots']:>5} {chunks:>6} {run['seconds']:>8.1f} "
              f"{run['files_per_s']:>8.0f} {run['ratio_to_embedded']:>10.2f}x  {run['catalog']}")  # fmt: skip
    print("\n(seconds: submit to job finished, the submitting command's start-up included; vs embedded: time "
          "ratio, lower is faster; goal: celery within 1.15x)")  # fmt: skip
    print("\nwhere each job's time went (s):")
    for run in data["runs"]:
        if run["phases"]:
            spent = ", ".join(f"{name} {seconds:.1f}" for name, seconds in run["phases"].items())
            print(f"  {run['runner']} x{run['workers']}: {spent}; workers ready after {run['startup_seconds']:.1f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=10_000, help="how many files to generate and ingest")
    parser.add_argument("--slots", type=int, default=os.cpu_count() or 1,
                        help="steps run at once, in total, by each runner (default: one per core)")  # fmt: skip
    parser.add_argument("--chunk-files", type=int, default=200, help="[jobs] chunk_files: files per chunk step")
    parser.add_argument("--direct", action="store_true", help="also time plain `strongroom ingest` (no job)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    parser.add_argument("--work", type=Path, help="folder for the corpus and the homes, kept so the next run "
                        "reuses the corpus (default: a temporary folder, removed afterwards)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.files < 1 or args.slots < 1 or args.chunk_files < 1:
        parser.error("--files, --slots and --chunk-files must be at least 1")
    work = args.work or Path(tempfile.mkdtemp(prefix="strongroom-bench-jobs-"))
    work.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        print(message, file=sys.stderr if args.json else sys.stdout, flush=True)

    try:
        data = benchmark(args.files, args.slots, args.chunk_files, work, args.direct, log)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        report(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
