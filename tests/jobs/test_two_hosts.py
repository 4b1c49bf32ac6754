"""Durable jobs across two "hosts" (network namespaces): a worker killed with SIGKILL mid-job loses nothing.

sr-head-TAG runs RabbitMQ, PostgreSQL, the S3 server, the client and worker A; sr-node2-TAG runs worker B and
reaches the others over a veth pair only (tests/jobs/twohosts.py). Timings go to the test output (-s, or -rA).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from strongroom.jobs.model import JobState, StepRecord, StepState
from strongroom.model import FileRole
from tests.jobs.twohosts import Cluster, netns_unavailable, two_host_cluster
from tests.services import skip_services_requested

_WHY_NOT = netns_unavailable()

pytestmark = [
    pytest.mark.skipif(_WHY_NOT is not None, reason=_WHY_NOT or ""),
    pytest.mark.skipif(
        skip_services_requested(),
        reason="STRONGROOM_SKIP_SERVICES=1: the two-host tests need RabbitMQ, PostgreSQL and the S3 server",
    ),
]

FILES = 2000
CHUNK_FILES = 150  # 14 chunks
LEASE_SECONDS = 10


def make_transfer(root: Path, files: int) -> dict[str, str]:
    """`files` small files of distinct content in nested folders; returns {relative path: sha256}."""
    digests: dict[str, str] = {}
    for n in range(files):
        relative = f"series-{n % 7}/box-{n % 31:02d}/item-{n:05d}.txt"
        body = (f"Item {n} of the two-host transfer.\n" + "minutes of the parish council\n" * (n % 40 + 1)).encode()
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        digests[relative] = hashlib.sha256(body).hexdigest()
    return digests


Record = Callable[[str, object], None]


def report(record: Record, title: str, timings: dict[str, float]) -> None:
    """Timings in the test output (pytest -s, or -rA) and in a JUnit report's properties (record_property)."""
    record(title, {name: round(seconds, 1) for name, seconds in timings.items()})
    print(f"\n[two hosts] {title}: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items()))


@pytest.fixture
def cluster(tmp_path: Path, record_property: Record) -> Iterator[Cluster]:
    with two_host_cluster(tmp_path, chunk_files=CHUNK_FILES, lease_seconds=LEASE_SECONDS) as running:
        report(record_property, "cluster up", running.timings)
        yield running
    # Nothing may outlive the test: no namespace of this run is left.
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout.split()
    assert running.ns.head not in left and running.ns.node not in left


@pytest.mark.slow
@pytest.mark.serial
def test_servers_in_the_head_namespace_answer_from_the_node_namespace_only(cluster: Cluster) -> None:
    probe = f"""
import json, socket, boto3, psycopg, kombu
found = {{}}
with psycopg.connect({cluster.postgresql.url!r}) as conn:
    found["postgresql"] = conn.execute("select 1").fetchone()[0]
found["s3"] = [b["Name"] for b in boto3.client("s3", endpoint_url={cluster.s3.endpoint!r}).list_buckets()["Buckets"]]
with kombu.Connection({cluster.broker.url!r}, connect_timeout=10) as conn:
    conn.connect()
    found["amqp"] = conn.connected
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    found["outside"] = True
except OSError:
    found["outside"] = False
print(json.dumps(found))
"""
    found = json.loads(cluster.python("node", probe))
    assert found == {"postgresql": 1, "s3": ["strongroom-twohosts"], "amqp": True, "outside": False}


def _chunk_steps(steps: list[StepRecord]) -> list[StepRecord]:
    return [s for s in steps if s.key.startswith("chunk-")]


def _held_by(step: StepRecord, pids: set[int]) -> bool:
    """Whether the step's worker ("host:pid") is one of `pids` (the namespaces share the host name, not pids)."""
    pid = step.worker.rsplit(":", 1)[-1]
    return pid.isdigit() and int(pid) in pids


def _check_package(cluster: Cluster, job_id: str, digests: dict[str, str]) -> str:
    """The job's package holds every transferred file exactly once, with its digest; returns the package id."""
    record = cluster.job(job_id)
    assert record.state is JobState.SUCCEEDED, (record.state, record.error, record.details, cluster.worker_logs())
    assert record.result is not None
    package = str(record.result["package"])
    originals = [f for f in cluster.catalog.files(package) if f.role is FileRole.ORIGINAL]
    stored = sorted((f.path.removeprefix("objects/"), f.sha256) for f in originals)
    expected = sorted(digests.items())
    missing = {p for p, _ in expected} - {p for p, _ in stored}
    doubled = sorted({p for p, _ in stored if sum(1 for q, _ in stored if q == p) > 1})
    assert not missing, f"{len(missing)} files missing, e.g. {sorted(missing)[:5]}"
    assert not doubled, f"{len(doubled)} files recorded twice, e.g. {doubled[:5]}"
    assert stored == expected
    verify = cluster.strongroom("head", "verify", package, "--json", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    copies = json.loads(verify.stdout)["copies"]
    assert copies and all(copy["good"] for copy in copies), copies
    return package


@pytest.mark.slow
@pytest.mark.serial
def test_a_worker_killed_mid_job_on_the_other_host_loses_nothing(
    cluster: Cluster, tmp_path: Path, record_property: Record
) -> None:
    transfer = tmp_path / "transfer"
    digests = make_transfer(transfer, FILES)
    timings: dict[str, float] = {}
    worker_a = cluster.start_worker("head")
    worker_b = cluster.start_worker("node")
    started = time.monotonic()
    job_id = cluster.submit("ingest", str(transfer))
    timings["submit"] = time.monotonic() - started

    # Kill B while it holds a chunk and some chunks are done: the catalog says when.
    deadline = time.monotonic() + 300
    while True:
        assert time.monotonic() < deadline, f"B never held a chunk while others were done\n{cluster.worker_logs()}"
        chunks = _chunk_steps(cluster.catalog.steps(job_id))
        done = sum(1 for s in chunks if s.state is StepState.DONE)
        pids_b = cluster.ns.pids("node")
        if done >= 1 and done < len(chunks) - 2 and any(_running_on(s, pids_b) for s in chunks):
            worker_b.kill()
            timings["killed B at"] = time.monotonic() - started
            break
        assert not cluster.job(job_id).state.finished, "the job finished before B could be killed"
        time.sleep(0.05)
    assert not cluster.ns.pids("node"), "something of worker B survived SIGKILL of its process group"
    # B is gone, so what it held is fixed now: the steps in flight on it when it died.
    victims = {s.key: s for s in cluster.catalog.steps(job_id) if _running_on(s, pids_b)}
    assert victims
    print(f"\n[two hosts] killed worker B (pid {worker_b.pid}) holding {sorted(victims)}, {done} chunks done")

    record = cluster.wait(job_id, timeout=600)
    timings["job finished"] = time.monotonic() - started
    package = _check_package(cluster, job_id, digests)
    timings["checked"] = time.monotonic() - started

    final = {s.key: s for s in cluster.catalog.steps(job_id)}
    assert record.chunks_total is not None and record.chunks_total >= 10
    assert record.chunks_done == record.chunks_total
    for key in victims:
        # Attempted twice: once on B, cut off, then once more by worker A, the only one left.
        assert final[key].state is StepState.DONE
        assert final[key].attempts == 2, f"{key} started {final[key].attempts} times"
        assert not _held_by(final[key], pids_b), final[key].worker
    assert worker_a.process.poll() is None, f"worker A stopped too\n{worker_a.log_tail()}"
    # Only the work in flight ran again: every other step started once.
    assert {k: s.attempts for k, s in final.items() if k not in victims and s.attempts != 1} == {}
    report(record_property, f"kill -9 of B, {FILES} files, {record.chunks_total} chunks, package {package}", timings)


def _running_on(step: StepRecord, pids: set[int]) -> bool:
    return step.state is StepState.RUNNING and _held_by(step, pids)


@pytest.mark.slow
@pytest.mark.serial
def test_a_job_whose_every_worker_died_resumes_when_one_comes_back(
    cluster: Cluster, tmp_path: Path, record_property: Record
) -> None:
    transfer = tmp_path / "transfer"
    digests = make_transfer(transfer, FILES)
    timings: dict[str, float] = {}
    worker_a = cluster.start_worker("head")
    worker_b = cluster.start_worker("node")
    started = time.monotonic()
    job_id = cluster.submit("ingest", str(transfer))

    deadline = time.monotonic() + 300
    while True:
        assert time.monotonic() < deadline, f"no chunk was done in time\n{cluster.worker_logs()}"
        chunks = _chunk_steps(cluster.catalog.steps(job_id))
        done = sum(1 for s in chunks if s.state is StepState.DONE)
        if done >= 1 and any(s.state is StepState.RUNNING for s in chunks) and done < len(chunks) - 2:
            break
        time.sleep(0.05)
    worker_a.kill()
    worker_b.kill()
    timings["killed both at"] = time.monotonic() - started
    assert not cluster.ns.pids("node")
    in_flight = {s.key for s in cluster.catalog.steps(job_id) if s.state is StepState.RUNNING}
    assert in_flight

    # With no worker at all the job stands still: nothing moves, nothing is lost.
    frozen = cluster.job(job_id)
    time.sleep(LEASE_SECONDS + 5)
    later = cluster.job(job_id)
    assert later.state is JobState.RUNNING
    assert later.chunks_done == frozen.chunks_done < (later.chunks_total or 0)

    cluster.start_worker("node")
    restarted = time.monotonic()
    record = cluster.wait(job_id, timeout=600)
    timings["resumed to finished"] = time.monotonic() - restarted
    _check_package(cluster, job_id, digests)
    final = cluster.catalog.steps(job_id)
    assert all(s.state is StepState.DONE for s in final), [(s.key, s.state) for s in final]
    # The steps in flight when every worker died ran once more; nothing else ran twice.
    redone = sorted(s.key for s in final if s.attempts > 1)
    assert redone == sorted(in_flight)
    assert all(s.attempts == 2 for s in final if s.key in in_flight)
    report(
        record_property,
        f"every worker killed then one restarted, {record.chunks_total} chunks, redone {redone}",
        timings,
    )
