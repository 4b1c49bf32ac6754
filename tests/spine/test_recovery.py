"""A process killed between storing a version and cataloguing it loses nothing: the next write command recovers it.

The kill is made exact by replacing the catalog write with os._exit in a child process:
the version is then whole in storage (root inventory written) and absent from the catalog.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_TRANSFER, Home, ocfl_validate, write

# Slow: each test runs the CLI in a child process that dies on purpose.
pytestmark = pytest.mark.slow

DIE_INSTEAD_OF = """
import os, sys
from strongroom.catalog.sql import SqlCatalog

def die(*args, **kwargs):
    os._exit(9)  # as abrupt as kill -9: no clean-up runs

setattr(SqlCatalog, sys.argv[1], die)
from strongroom.cli import app
app(sys.argv[2:], prog_name="strongroom")
"""


def run_and_die(home: Home, method: str, *args: str) -> None:
    env = {**os.environ, "STRONGROOM_HOME": str(home.path)}
    result = subprocess.run(
        [sys.executable, "-c", DIE_INSTEAD_OF, method, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 9, result.stderr


def test_an_ingest_killed_after_storing_is_catalogued_by_the_next_write(home: Home, tmp_path: Path) -> None:
    run_and_die(home, "add_package", "ingest", str(EXAMPLE_TRANSFER))
    assert home.ok("list", "--json").json() == []  # reading never repairs
    assert list((home.path / "staging").iterdir())  # the dead ingest's staging folder is left
    other = write(tmp_path / "other" / "note.txt", "another transfer")
    home.ingest(other.parent)
    listed = home.ok("list", "--json").json()
    assert isinstance(listed, list)
    assert sorted(p["name"] for p in listed) == ["other", "sample-transfer"]
    assert list((home.path / "staging").iterdir()) == []
    recovered = next(p for p in listed if p["name"] == "sample-transfer")
    shown = home.ok("show", str(recovered["package"]), "--json").json()
    assert isinstance(shown, dict)
    assert {e["type"] for e in shown["events"]} >= {"ingestion", "format identification", "message digest calculation"}
    assert home.ok("search", "Footpaths", "--json").json()["total"] >= 1  # type: ignore[index]
    assert home.ok("verify", "--all", "--json").json()["problems"] == []  # type: ignore[index]
    # the recovered package still holds its payload claim: the same transfer again is a duplicate
    again = home.run("ingest", str(EXAMPLE_TRANSFER))
    assert again.exit_code != 0 and "already stored" in again.stderr
    ocfl_validate(home)


def test_an_update_killed_after_storing_is_catalogued_by_the_next_write(home: Home, tmp_path: Path) -> None:
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    csv = write(tmp_path / "m.csv", "filename,dc.title\nobjects,Title of version two\n")
    run_and_die(home, "add_version", "update", package, "--metadata", str(csv), "--reason", "retitled")
    assert home.ok("show", package, "--json").json()["version"] == 1  # type: ignore[index]
    home.ok("verify", package)  # a write command: recovers first
    shown = home.ok("show", package, "--json").json()
    assert isinstance(shown, dict)
    assert shown["version"] == 2 and shown["title"] == "Title of version two"
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert any(e["type"] == "metadata modification" for e in shown["events"])
    assert list((home.path / "staging").iterdir()) == []
    ocfl_validate(home)


FAIL_INSTEAD_OF = """
import sys
from strongroom.catalog.sql import SqlCatalog
from strongroom.errors import CatalogError

def fail(*args, **kwargs):
    raise CatalogError("The catalog database went away.", details=["Check the database server."])

setattr(SqlCatalog, sys.argv[1], fail)
from strongroom.cli import app
app(sys.argv[2:], prog_name="strongroom")
"""


def test_a_catalog_failure_after_storing_is_reported_and_repaired_next_time(home: Home, tmp_path: Path) -> None:
    env = {**os.environ, "STRONGROOM_HOME": str(home.path)}
    result = subprocess.run(
        [sys.executable, "-c", FAIL_INSTEAD_OF, "add_package", "ingest", str(EXAMPLE_TRANSFER)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2
    assert "went away" in result.stderr and "stored whole" in result.stderr and "next command" in result.stderr
    assert "Traceback" not in result.stderr
    assert home.ok("list", "--json").json() == []
    home.ingest(write(tmp_path / "other" / "note.txt", "another transfer").parent)
    names = sorted(p["name"] for p in home.ok("list", "--json").json())  # type: ignore[union-attr, index]
    assert names == ["other", "sample-transfer"]
    assert not list((home.path / "commits").iterdir())
