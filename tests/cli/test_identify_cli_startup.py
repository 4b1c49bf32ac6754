"""`strongroom identify` as a user runs it: the fast entry point, worker planning, progress and signature options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

import strongroom.cli_identify as cli_identify
from strongroom.cli import app
from strongroom.cli_identify import show_bar
from strongroom.formats import batch
from strongroom.formats.batch import IN_PROCESS_BYTES, IN_PROCESS_FILES, plan_workers

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(13) + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def strongroom(*args: str) -> subprocess.CompletedProcess[str]:
    """The command exactly as installed (python -m strongroom runs the same entry point)."""
    env = {k: v for k, v in os.environ.items() if k != "STRONGROOM_HOME"}
    return subprocess.run(
        [sys.executable, "-m", "strongroom", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_identify_runs_without_importing_the_archive_stack(tmp_path: Path) -> None:
    image = tmp_path / "image.png"
    image.write_bytes(PNG)
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['strongroom', 'identify', '--json', sys.argv[1]]\n"
        "try:\n"
        "    runpy.run_module('strongroom', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m in ('fido', 'strongroom.archive', 'strongroom.cli') or "
        "m.startswith(('strongroom.storage', 'strongroom.ingest', 'strongroom.metadata', 'strongroom.preservation')))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(image)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"][0]["puid"] == "fmt/11"
    assert "HEAVY []" in done.stderr, done.stderr


def test_the_fast_entry_point_gives_the_full_commands_help_and_errors() -> None:
    full = subprocess.run(
        [sys.executable, "-c", "from strongroom.cli import app; app(['identify', '--help'], prog_name='strongroom')"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    fast = strongroom("identify", "--help")
    assert fast.returncode == full.returncode == 0
    assert fast.stdout == full.stdout
    assert "Usage: strongroom identify" in fast.stdout and "--container-signatures" in fast.stdout

    missing = strongroom("identify", "--json")
    assert missing.returncode == 2
    assert json.loads(missing.stderr) == {
        "error": "Missing argument 'paths'.",
        "hint": ["See: strongroom identify --help"],
    }
    # Everything else still reaches the whole command line.
    assert strongroom("--version").stdout.startswith("strongroom ")


@pytest.mark.parametrize("as_json", [True, False])
def test_a_bad_signature_file_is_a_clear_error_not_a_traceback(tmp_path: Path, as_json: bool) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("hello\n")
    broken = tmp_path / "DROID_SignatureFile_V999.xml"
    broken.write_text("<FFSignatureFile Version='999'><InternalSignatureCollection>")
    flags = ["--json"] if as_json else []
    cases = [
        (["--signatures", str(broken)], "DROID signature file"),
        (["--signatures", str(tmp_path / "absent.xml")], "does not exist"),
        (["--container-signatures", str(target)], "container signature file"),
        (["--engine", "fido-fast", "--signatures", str(broken)], "cannot be used by the fido-fast engine"),
        (["--engine", "fido-fast", "--container-signatures", str(broken)], "for the droid engine"),
    ]
    for options, expected in cases:
        done = strongroom("identify", *flags, *options, str(target))
        assert done.returncode == 2, (options, done.stderr)
        assert "Traceback" not in done.stderr and done.stdout == "", (options, done.stderr)
        if as_json:
            error = json.loads(done.stderr.strip().splitlines()[-1])
            assert expected in error["error"] and isinstance(error["hint"], list), (options, error)
        else:
            assert "error:" in done.stderr and expected in done.stderr, (options, done.stderr)


def test_small_inputs_stay_in_one_process_and_large_ones_use_the_allowed_cores() -> None:
    assert plan_workers(0, 1, 10, cores=2) == 1
    assert plan_workers(0, IN_PROCESS_FILES - 1, IN_PROCESS_BYTES - 1, cores=2) == 1
    assert plan_workers(0, IN_PROCESS_FILES, 10, cores=2) == 2
    assert plan_workers(0, 10, IN_PROCESS_BYTES, cores=4) == 4
    assert plan_workers(0, 3, IN_PROCESS_BYTES, cores=8) == 3  # never more processes than files
    assert plan_workers(0, IN_PROCESS_FILES, 10, cores=1) == 1
    assert plan_workers(3, 1, 10, cores=1) == 3  # asked for: given


def test_the_default_worker_count_follows_the_affinity_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert plan_workers(0, 10 * IN_PROCESS_FILES, 10) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5})
    assert plan_workers(0, 10 * IN_PROCESS_FILES, 10) == 3


def test_small_input_is_identified_without_starting_a_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(3):
        (tmp_path / f"image{n}.png").write_bytes(PNG)

    class NoPool:
        def __init__(self, *args: object) -> None:
            raise AssertionError("a worker pool was started for three files")

    monkeypatch.setattr(batch, "IdentifyPool", NoPool)
    result = CliRunner().invoke(app, ["identify", "-r", "--json", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0
    assert [row["puid"] for row in json.loads(result.stdout)["files"]] == ["fmt/11"] * 3


def test_many_files_are_shared_among_workers_with_the_same_answers(tmp_path: Path) -> None:
    for n in range(40):
        (tmp_path / f"image{n:02}.png").write_bytes(PNG)
        (tmp_path / f"notes{n:02}.txt").write_text("plain words\n")
    one = CliRunner().invoke(app, ["identify", "-r", "--json", "--workers", "1", str(tmp_path)])
    two = CliRunner().invoke(app, ["identify", "-r", "--json", "--workers", "2", str(tmp_path)])
    assert one.exit_code == two.exit_code == 0
    assert json.loads(one.stdout) == json.loads(two.stdout)
    assert len(json.loads(one.stdout)["files"]) == 80


def test_progress_is_shown_to_a_person_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(4):
        (tmp_path / f"image{n}.png").write_bytes(PNG)
    seen: list[tuple[bool, list[tuple[str, int, int | None]]]] = []

    @contextmanager
    def recording(enabled: bool):  # type: ignore[no-untyped-def]
        calls: list[tuple[str, int, int | None]] = []
        seen.append((enabled, calls))
        yield lambda stage, done, total: calls.append((stage, done, total))

    monkeypatch.setattr(cli_identify, "progress", recording)
    monkeypatch.setattr(cli_identify, "show_bar", lambda for_script: not for_script)  # stderr is a terminal
    runner = CliRunner()
    assert runner.invoke(app, ["identify", "-r", str(tmp_path)]).exit_code == 0
    enabled, calls = seen[-1]
    assert enabled and calls[-1] == ("Identifying", 4, 4)
    assert runner.invoke(app, ["identify", "-r", "--json", str(tmp_path)]).exit_code == 0
    assert seen[-1][0] is False
    assert runner.invoke(app, ["identify", "-r", "--csv", str(tmp_path)]).exit_code == 0
    assert seen[-1][0] is False


@pytest.mark.parametrize(("terminal", "for_script", "shown"), [(True, False, True), (True, True, False),
                                                               (False, False, False)])  # fmt: skip
def test_the_bar_needs_a_terminal_on_stderr(
    monkeypatch: pytest.MonkeyPatch, terminal: bool, for_script: bool, shown: bool
) -> None:
    class Stderr:
        def isatty(self) -> bool:
            return terminal

    monkeypatch.setattr(sys, "stderr", Stderr())
    assert show_bar(for_script) is shown


USUAL = [
    ["a.png"],
    ["-r", "--json", "folder"],
    ["--recursive", "--csv", "a", "b"],
    ["--workers", "3", "--engine", "fido-fast", "x"],
    ["--workers=0", "--engine=droid", "--signatures=s.xml", "--container-signatures", "c.xml", "x"],
    ["x", "--json", "--signatures", "s.xml", "y"],
]
UNUSUAL = [
    [], ["--help"], ["-h"], ["--json"], ["-rj", "x"], ["--json", "--json", "x"], ["--workers", "two", "x"],
    ["--workers", "-1", "x"], ["--workers"], ["--bogus", "x"], ["--", "-x"], ["-", "x"], ["--json=yes", "x"],
    ["", "x"], ["--signatures=", "x"],
]  # fmt: skip


def _requests(monkeypatch: pytest.MonkeyPatch) -> list[tuple[cli_identify.Request, Path]]:
    seen: list[tuple[cli_identify.Request, Path]] = []
    monkeypatch.setattr(cli_identify, "run_identify", lambda request, home: seen.append((request, home)))
    return seen


@pytest.mark.parametrize("args", USUAL)
def test_the_usual_command_lines_parse_as_typer_parses_them(
    args: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STRONGROOM_HOME", str(tmp_path / "home"))
    seen = _requests(monkeypatch)
    result = CliRunner().invoke(app, ["identify", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert cli_identify.run_usual(args) is True
    assert len(seen) == 2 and seen[0] == seen[1]


@pytest.mark.parametrize("args", UNUSUAL)
def test_anything_else_is_left_to_typer(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _requests(monkeypatch)
    assert cli_identify.parse_usual(args) is None
    assert cli_identify.run_usual(args) is False and not seen


def test_the_usual_parser_knows_every_option_of_the_command() -> None:
    import typer.main

    command = typer.main.get_command(app).commands["identify"]  # type: ignore[attr-defined]
    options = {name for param in command.params if param.param_type_name == "option" for name in param.opts}
    assert options == set(cli_identify._FLAGS) | set(cli_identify._VALUES)


def test_the_usual_path_reports_errors_as_typer_does(tmp_path: Path) -> None:
    for flags in (["--json"], []):
        done = strongroom("identify", *flags, str(tmp_path / "absent.png"))
        assert done.returncode == 2 and "Traceback" not in done.stderr and done.stdout == ""
        assert "does not exist" in done.stderr


def test_json_and_csv_together_are_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    assert cli_identify.parse_usual(["--json", "--csv", str(tmp_path / "a.png")]) is None  # left to typer
    done = strongroom("identify", "--json", "--csv", str(tmp_path / "a.png"))
    assert done.returncode == 2 and "--csv" in done.stdout + done.stderr and '"files"' not in done.stdout


def test_only_ascii_digits_are_a_worker_count(tmp_path: Path) -> None:
    assert cli_identify.parse_usual(["a.pdf", "--workers", "\u00b2"]) is None  # typer refuses it
    assert cli_identify.parse_usual(["a.pdf", "--workers", "\u0663"]) is None
    done = strongroom("identify", str(tmp_path), "--workers", "\u00b2")
    assert done.returncode == 2 and "Traceback" not in done.stderr
