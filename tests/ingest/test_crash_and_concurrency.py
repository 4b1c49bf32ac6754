"""A kill at any moment leaves nothing half-stored; two ingests at once both land intact."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Home, ocfl_validate, write

pytestmark = pytest.mark.slow


def cli(home: Home, *args: str, parallel: bool = True) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STRONGROOM_HOME": str(home.path), "STRONGROOM_WORKERS": "2"}
    # Worker processes even for these small transfers, so a kill also hits a pool mid-flight.
    env["STRONGROOM_PARALLEL_FROM_FILES"] = "0" if parallel else "100000"
    return subprocess.Popen(
        [sys.executable, "-m", "strongroom", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def make_transfer(root: Path, files: int, size: int, seed: int) -> Path:
    for i in range(files):
        write(root / f"series-{i % 7}" / f"record-{seed}-{i:04d}.txt", f"record {seed} {i}\n".encode() * (size // 12))
    return root


def object_folders(home: Home) -> list[Path]:
    """Every OCFL object folder in storage, finished or not (0003 layout: three levels, then the object)."""
    root = home.path / "storage" / "ocfl"
    return sorted(p for p in root.glob("[0-9a-f][0-9a-f][0-9a-f]/*/*/*") if p.is_dir()) if root.is_dir() else []


def package_state(home: Home) -> tuple[list[dict[str, object]], list[str]]:
    """(what `list` shows, the packages whose OCFL object has a root inventory: stored whole)."""
    listed = home.ok("list", "--json").json()
    assert isinstance(listed, list)
    committed = sorted(
        json.loads((folder / "inventory.json").read_text())["id"].removeprefix("urn:uuid:")
        for folder in object_folders(home)
        if (folder / "inventory.json").is_file()
    )
    return listed, committed


@pytest.fixture(scope="module")
def full_ingest_seconds(tmp_path_factory: pytest.TempPathFactory) -> float:
    """How long an uninterrupted ingest of the test transfer takes here, to spread the kills over it."""
    root = tmp_path_factory.mktemp("timing")
    home = Home(root / "home")
    home.ok("init")
    transfer = make_transfer(root / "t", files=400, size=20_000, seed=1)
    start = time.monotonic()
    process = cli(home, "ingest", str(transfer), "--json")
    assert process.wait(timeout=600) == 0
    return time.monotonic() - start


@pytest.mark.serial
@pytest.mark.parametrize("parallel", [True, False], ids=["worker-processes", "in-process"])
@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.7, 0.85, 0.95])
def test_kill_at_any_moment_leaves_no_half_package(
    home: Home, tmp_path: Path, fraction: float, parallel: bool, full_ingest_seconds: float
) -> None:
    transfer = make_transfer(tmp_path / "t", files=400, size=20_000, seed=1)
    process = cli(home, "ingest", str(transfer), "--json", parallel=parallel)
    time.sleep(full_ingest_seconds * fraction)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # The next command that ingests cleans up; before that, nothing half-done is visible.
    listed, committed = package_state(home)
    assert sorted(str(p["package"]) for p in listed) == committed or not listed
    if listed:  # the kill came after the package was stored whole
        assert home.ok("verify", "--all", "--json").json()["problems"] == []  # type: ignore[index]
    other = make_transfer(tmp_path / "other", files=3, size=100, seed=2)
    home.ingest(other)
    listed, committed = package_state(home)
    assert sorted(str(p["package"]) for p in listed) == committed
    # leftovers are gone: no staging folders, no unfinished objects, versions or temporary files
    assert list((home.path / "staging").iterdir()) == []
    folders = object_folders(home)
    assert len(folders) == len(committed)
    for folder in folders:
        assert sorted(p.name for p in folder.iterdir()) == [
            "0=ocfl_object_1.1",
            "inventory.json",
            "inventory.json.sha256",
            "v1",
        ]
    assert not [p for p in (home.path / "storage").rglob("*.partial")]
    ocfl_validate(home)
    assert home.ok("verify", "--all", "--json").json()["problems"] == []  # type: ignore[index]
    hits = home.ok("search", "record", "--json").json()
    assert {h["package"] for h in hits["hits"]} <= set(committed)  # type: ignore[index]


def test_two_ingests_at_once(home: Home, tmp_path: Path) -> None:
    first = make_transfer(tmp_path / "a", files=150, size=5_000, seed=3)
    second = make_transfer(tmp_path / "b", files=150, size=5_000, seed=4)
    processes = [cli(home, "ingest", str(first), "--json"), cli(home, "ingest", str(second), "--json")]
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
        assert json.loads(out)["files"] == 151
    listed, committed = package_state(home)
    assert len(listed) == 2 and len(committed) == 2
    assert home.ok("verify", "--all", "--json").json()["problems"] == []  # type: ignore[index]
    assert home.ok("search", "record", "--json").json()["facets"]["package"]  # type: ignore[index]


def test_the_same_transfer_twice_at_once_is_stored_once(home: Home, tmp_path: Path) -> None:
    """The duplicate check is a database constraint: two racing ingests of one payload cannot both win."""
    transfer = make_transfer(tmp_path / "same", files=60, size=2_000, seed=5)
    copy = tmp_path / "copy"
    shutil.copytree(transfer, copy)
    processes = [cli(home, "ingest", str(transfer), "--json"), cli(home, "ingest", str(copy), "--json")]
    outputs = [p.communicate(timeout=600) for p in processes]
    codes = sorted(p.returncode for p in processes)
    assert codes[0] == 0 and codes[1] != 0, outputs
    loser = next(err.decode() for p, (_out, err) in zip(processes, outputs, strict=True) if p.returncode != 0)
    assert "already stored" in loser and "Traceback" not in loser
    listed, committed = package_state(home)
    assert len(listed) == 1 and committed == [listed[0]["package"]]
    assert len(object_folders(home)) == 1  # the loser's copy was withdrawn whole
    assert home.ok("verify", "--all", "--json").json()["problems"] == []  # type: ignore[index]
