"""Shared fixtures: a real archive home in a temporary folder, and transfers made on the spot."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strongroom.archive import Archive
from strongroom.cli import app

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus" / "sample-transfers"
SCHEMAS = SHARED / "schemas"
EXAMPLE_TRANSFER = REPO / "examples" / "sample-transfer"


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)


@dataclass
class Home:
    path: Path

    def run(self, *args: str) -> CliResult:
        runner = CliRunner()
        result = runner.invoke(app, ["--home", str(self.path), *args], catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    def ok(self, *args: str) -> CliResult:
        result = self.run(*args)
        assert result.exit_code == 0, f"{args} failed ({result.exit_code}):\n{result.stdout}\n{result.stderr}"
        return result

    def ingest(self, source: Path, *args: str) -> dict[str, object]:
        data = self.ok("ingest", str(source), "--json", *args).json()
        assert isinstance(data, dict)
        return data

    def archive(self) -> Archive:
        return Archive.open(self.path)


# Which catalogs archive-level tests run on: "sqlite" (the default), or e.g. "sqlite,postgresql".
# scripts/test.sh runs the archive tests a second time with STRONGROOM_TEST_CATALOGS=postgresql.
CATALOGS = [c.strip() for c in os.environ.get("STRONGROOM_TEST_CATALOGS", "sqlite").split(",") if c.strip()]


@pytest.fixture(params=CATALOGS)
def home(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    monkeypatch.setenv("STRONGROOM_WORKERS", "2")
    monkeypatch.setenv("STRONGROOM_OPERATOR", "test-archivist")
    # The optional ingest checks cost a JVM start and a scanner per ingest: tests of them turn them on
    # (tests/ingest/test_ingest_checks.py); the hundreds of other ingests here do without.
    monkeypatch.setenv("STRONGROOM_CHARACTERISE", "0")
    monkeypatch.setenv("STRONGROOM_VIRUS_SCAN", "off")
    monkeypatch.setenv("STRONGROOM_EXTRACT_TEXT", "0")
    with ExitStack() as stack:
        if request.param == "postgresql":
            from tests.services import fresh_postgresql_database

            # A database of this test's own; subprocesses the test starts inherit the variable.
            monkeypatch.setenv("STRONGROOM_CATALOG_URL", stack.enter_context(fresh_postgresql_database()))
        else:
            monkeypatch.delenv("STRONGROOM_CATALOG_URL", raising=False)
        h = Home(tmp_path / "home")
        h.ok("init", "--organisation", "Test County Archive", "--organisation-id", "TCA")
        yield h


@pytest.fixture
def example_transfer(tmp_path: Path) -> Path:
    """A copy of the bundled sample transfer that a test may alter."""
    dest = tmp_path / "transfer"
    shutil.copytree(EXAMPLE_TRANSFER, dest)
    return dest


def write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def requires_corpus() -> pytest.MarkDecorator:
    return pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared sample transfers are not present at {CORPUS}")


def object_root(home: Home, package: str) -> Path:
    """The OCFL object folder of a package under the home's storage (0003-hash-and-id-n-tuple layout)."""
    import hashlib

    digest = hashlib.sha256(f"urn:uuid:{package}".encode()).hexdigest()
    return home.path / "storage" / "ocfl" / digest[0:3] / digest[3:6] / digest[6:9] / f"urn%3auuid%3a{package}"


def ocfl_validate(home: Home) -> str:
    """Run ocfl-py's validator on the home's storage root; returns its output (asserting it passed)."""
    import subprocess
    import sys

    validator = Path(sys.executable).parent / "ocfl-validate.py"
    result = subprocess.run(
        [sys.executable, str(validator), str(home.path / "storage" / "ocfl")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def drop_catalog(home: Home) -> None:
    """Throw the catalog away entirely, whichever database holds it (as a lost or damaged catalog would be)."""
    url = os.environ.get("STRONGROOM_CATALOG_URL")
    if url:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        return
    for path in home.path.glob("catalog.sqlite*"):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


@pytest.fixture(autouse=True)
def _serial_tests_run_alone(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Under pytest-xdist (-n), a test marked `serial` runs with no other test beside it.

    Such tests kill processes at measured moments or hold wall-clock limits. Every test holds a shared
    lock while it runs; a serial one takes it exclusively, and first closes a turnstile so that the
    other workers wait instead of starting new tests. (xdist's own `--dist loadgroup` cannot do this,
    and with pytest 9.2 it does not group at all: pytest-xdist issue #1386.) Module-scoped fixtures are
    set up before this one, so scripts/test.sh still runs the serial tests in a pass of their own.
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield  # one process: tests run one at a time anyway
        return
    folder = tmp_path_factory.getbasetemp().parent  # this session's, shared by its workers only
    serial = request.node.get_closest_marker("serial") is not None
    with open(folder / "serial.turnstile", "a") as turnstile, open(folder / "serial.lock", "a") as lock:
        if serial:
            fcntl.flock(turnstile, fcntl.LOCK_EX)
            fcntl.flock(lock, fcntl.LOCK_EX)
        else:
            fcntl.flock(turnstile, fcntl.LOCK_SH)  # waits while a serial test waits or runs
            fcntl.flock(turnstile, fcntl.LOCK_UN)
            fcntl.flock(lock, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            if serial:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
