"""`strongroom serve --workers N`: several uvicorn worker processes over one archive, as a person starts them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from strongroom.cli_web import default_workers
from tests.conftest import Home, write

STRONGROOM = Path(sys.executable).parent / "strongroom"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def workers_of(pid: int) -> list[int]:
    """uvicorn's worker processes (spawned by multiprocessing), not its resource tracker."""
    found = []
    for child in children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"spawn_main" in command:
            found.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def served(home: Home, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    source = tmp_path / "harbour-papers"
    write(source / "objects/tide-table.txt", "harbour tide table for the spring")
    write(source / "objects/closed.txt", "harbour minutes kept closed")
    package = str(home.ingest(source)["package"])
    home.ok("access", package, "--file", "objects/closed.txt", "--status", "closed", "--reason", "personal data")
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(STRONGROOM), "--home", str(home.path), "serve", "--port", str(port), "--workers", "2"],
            stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ),
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        yield url, process, log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_default_is_the_cpus_this_process_may_use() -> None:
    assert default_workers() == len(os.sched_getaffinity(0))


@pytest.mark.serial  # it times kept-alive answers (Nagle's 40 ms): other tests' load must not shift that
def test_two_workers_answer_the_same_search_and_stop_together(
    home: Home, served: tuple[str, subprocess.Popen[bytes], Path]
) -> None:
    url, process, log = served
    deadline = time.monotonic() + 30
    while len(workers := workers_of(process.pid)) < 2:
        assert time.monotonic() < deadline, f"fewer than 2 worker processes: {workers}\n{log.read_text()}"
        time.sleep(0.2)
    printed = home.ok("search", "harbour", "--json", "--as", "researcher").json()
    assert isinstance(printed, dict) and printed["total"] == 2  # the package and its open file, not the closed one
    assert "objects/closed.txt" not in {hit["path"] for hit in printed["hits"]}
    answers = set()
    for _ in range(12):  # a new connection each time: the kernel hands them to either worker
        with httpx.Client(base_url=url, timeout=30) as client:
            answer = client.get("/api/v1/search", params={"q": "harbour"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == printed
        answers.add(answer.text)
    assert len(answers) == 1 and len(workers_of(process.pid)) == 2
    closed = httpx.get(f"{url}/api/v1/search", params={"q": "minutes"}, timeout=30).json()
    assert closed["total"] == 0 and closed["hits"] == []
    # Nagle's algorithm is off on the workers' connections: with it on, every answer on a kept-alive
    # connection waits about 40 ms for the client's delayed acknowledgement (a health check takes ~1 ms).
    with httpx.Client(base_url=url, timeout=30) as client:
        client.get("/api/v1/health")
        took = []
        for _ in range(15):
            started = time.perf_counter()
            assert client.get("/api/v1/health").status_code == 200
            took.append(time.perf_counter() - started)
    assert sorted(took)[7] < 0.035, f"median {sorted(took)[7] * 1000:.0f} ms"

    process.send_signal(signal.SIGINT)  # Ctrl+C: the supervisor stops its workers, each closing its job runner
    assert process.wait(timeout=30) == 0, log.read_text(errors="replace")
    for pid in workers:
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(pid), f"worker {pid} outlived the service"
    printed_log = log.read_text(errors="replace")
    assert "with 2 worker processes" in printed_log
    # No admin account exists in this archive: serve says how to make one.
    assert "No administrator account yet: make one with strongroom user add NAME --role admin" in printed_log
