"""`strongroom migrate` on the command line: help, summaries, exit status, and a kill at any point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Home, object_root, write
from tests.preservation import media
from tests.preservation.migrate_helpers import imagemagick, policy_override, reap_wrappers, tool_wrapper


def images(folder: Path, copies: int = 1) -> Path:
    made = media.make_images(folder / "made", ("pcx", "tga"))
    for n in range(copies):
        for kind, path in made.items():
            write(folder / "transfer" / f"set-{n}" / kind / path.name, path.read_bytes())
    return folder / "transfer"


def test_help_says_what_exit_1_means(home: Home) -> None:
    text = home.ok("migrate", "--help").stdout
    assert "Exit status 1 when any conversion failed" in " ".join(text.split())
    for option in ("--risk", "--puid", "--purpose", "--dry-run", "--retry-failed", "--report", "--json"):
        assert option in text


def test_summary_lines_and_json_shapes(home: Home, tmp_path: Path) -> None:
    package = str(home.ingest(images(tmp_path))["package"])
    people = home.ok("migrate", package)
    assert "version 2 made; 4 kept, 0 failed" in people.stdout
    assert "Kept 4 derivative(s) in 1 new version(s); 0 failed" in people.stdout
    assert "in tools" in people.stdout
    again = home.ok("migrate", "--json").json()
    assert isinstance(again, dict)
    assert set(again) == {"dry_run", "policy_version", "ok", "totals", "missing_tools", "planned", "packages"}
    assert again["ok"] is True and again["totals"]["versions_made"] == 0
    assert set(again["totals"]) >= {"packages", "versions_made", "kept", "failed", "skipped", "seconds", "tool_seconds"}
    assert home.ok("migrate", "--report").stdout.startswith("No failed migrations")


def test_unknown_package_and_bad_option_are_clear_errors(home: Home) -> None:
    missing = home.run("migrate", "no-such-package")
    assert missing.exit_code != 0 and "No package" in missing.stderr
    bad = home.run("migrate", "--purpose", "everything")
    assert bad.exit_code == 2 and "everything" in bad.stderr


def test_a_broken_policy_file_is_a_clear_error(home: Home) -> None:
    policy_override(home, "[[rules]]\nid = 'Bad Id'\n")
    result = home.run("migrate", "--dry-run")
    assert result.exit_code != 0 and "migration-policy.toml" in result.stderr
    assert "Traceback" not in result.stderr


def _cli(home: Home, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STRONGROOM_HOME": str(home.path)}
    return subprocess.Popen([sys.executable, "-m", "strongroom", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip


@pytest.mark.slow
@pytest.mark.serial
def test_killed_mid_run_leaves_no_half_version_and_a_rerun_finishes(home: Home, tmp_path: Path) -> None:
    package = str(home.ingest(images(tmp_path, copies=2))["package"])
    tools = tmp_path / "tools"
    slow = tool_wrapper(tools, "slow-convert", imagemagick(), sleep=1.5)
    policy_override(home, f'[settings]\nconcurrency = 1\n\n[tools.imagemagick]\nexecutables = ["{slow}"]\n')
    root = object_root(home, package)
    try:
        process = _cli(home, "migrate", "--json")
        deadline = time.monotonic() + 60
        while len(list((tools / "pids").glob("*"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)  # wait until it is well into the conversions (8 of them, 1.5 s each)
        assert process.poll() is None, "migrate finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
        reap_wrappers(tools)
        assert not (root / "v2").exists() or not (root / "v2" / "inventory.json").exists()
        assert json.loads((root / "inventory.json").read_text())["head"] == "v1"
        assert home.ok("show", package, "--json").json()["version"] == 1  # type: ignore[index]

        finished = _cli(home, "migrate", "--json")
        out, err = finished.communicate(timeout=300)
        assert finished.returncode == 0, err.decode()
        report = json.loads(out)
        assert report["totals"]["kept"] == 8 and report["totals"]["versions_made"] == 1
    finally:
        reap_wrappers(tools)
    assert json.loads((root / "inventory.json").read_text())["head"] == "v2"
    assert not (root / "v3").exists()
    checked = home.ok("verify", "--all", "--json").json()
    assert checked["problems"] == [] and checked["versions"] == 2  # type: ignore[index]
    assert not list((home.path / "staging").glob(f"{package}*")) if (home.path / "staging").is_dir() else True
    again = home.ok("migrate", "--json").json()
    assert again["totals"]["versions_made"] == 0  # type: ignore[index]
