"""Issue 14, the command line: where the home is, how errors, help, long lists and wide tables read."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from strongroom import __version__
from strongroom.cli import app
from strongroom.config import load_settings
from strongroom.errors import ConfigError
from strongroom.home import default_home
from tests.conftest import CliResult, Home, write


def invoke(*args: str, env: dict[str, str] | None = None) -> CliResult:
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def _commands() -> dict[str, object]:
    root = typer.main.get_command(app)
    found: dict[str, object] = {}
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        if hasattr(command, "commands"):
            found |= {f"{name} {sub}": c for sub, c in command.commands.items()}
        found[name] = command
    return found


COMMANDS = sorted(_commands())
# identify and doctor need no archive; the others here are groups (their commands are listed)
GROUPS = ("journal", "location", "signatures", "retention", "hold", "disposal", "user", "jobs")
HOME_COMMANDS = [c for c in COMMANDS if c not in ("identify", "doctor", *GROUPS)]


# --- 1. --home before or after the command ----------------------------------------------------


def test_home_is_accepted_after_the_command_name(home: Home, example_transfer: Path) -> None:
    home.ingest(example_transfer)
    after = invoke("list", "--json", "--home", str(home.path))
    assert after.exit_code == 0, after.stderr
    assert [p["name"] for p in after.json()] == ["transfer"]  # type: ignore[index,union-attr]


@pytest.mark.parametrize("command", HOME_COMMANDS)
def test_every_command_that_uses_a_home_takes_home(command: str) -> None:
    result = invoke(*command.split(), "--help")
    assert result.exit_code == 0
    assert "--home" in result.stdout, f"strongroom {command} has no --home"


def test_home_after_the_command_wins_over_before_and_over_the_variable(home: Home, tmp_path: Path) -> None:
    empty = tmp_path / "not-an-archive"
    empty.mkdir()
    assert invoke("list", "--home", str(home.path), env={"STRONGROOM_HOME": str(empty)}).exit_code == 0
    assert invoke("--home", str(empty), "list", "--home", str(home.path)).exit_code == 0
    assert invoke("--home", str(home.path), "list", "--home", str(empty)).exit_code == 2
    assert invoke("list", env={"STRONGROOM_HOME": str(home.path)}).exit_code == 0  # the variable still works


# --- 2. the default home -----------------------------------------------------------------------


def test_default_home_is_the_platforms_data_folder_not_the_working_folder(tmp_path: Path) -> None:
    user = str(tmp_path / "user")
    assert default_home({"HOME": user}, "linux") == Path(user, ".local", "share", "strongroom")
    assert (
        default_home({"HOME": user, "XDG_DATA_HOME": str(tmp_path / "data")}, "linux")
        == tmp_path / "data" / "strongroom"
    )
    assert default_home({"HOME": user, "XDG_DATA_HOME": "relative"}, "linux") == Path(user, ".local/share/strongroom")
    assert default_home({"HOME": user}, "darwin") == Path(user, "Library", "Application Support", "strongroom")
    assert default_home({"LOCALAPPDATA": str(tmp_path / "local")}, "win32") == tmp_path / "local" / "strongroom"
    assert default_home({"HOME": user, "STRONGROOM_HOME": str(tmp_path / "mine")}, "linux") == tmp_path / "mine"


def test_init_without_home_uses_the_data_folder_and_says_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRONGROOM_HOME", raising=False)
    monkeypatch.delenv("STRONGROOM_CATALOG_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr("sys.platform", "linux")
    work = tmp_path / "somewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    result = invoke("init")
    assert result.exit_code == 0, result.stderr
    expected = tmp_path / "data" / "strongroom"
    assert (expected / "strongroom.toml").is_file()
    assert str(expected) in result.stdout and "default" in result.stdout
    assert not (work / "strongroom-home").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert invoke("list").exit_code == 0  # the same archive, wherever the command runs


# --- 3. a mistyped home ------------------------------------------------------------------------


def test_missing_home_folder_names_the_path_and_suggests_init_there(tmp_path: Path) -> None:
    missing = tmp_path / "archvie"
    result = invoke("list", "--home", str(missing))
    assert result.exit_code == 2
    assert str(missing) in result.stderr and "does not exist" in result.stderr
    assert f"strongroom --home {missing} init" in result.stderr
    assert not missing.exists()


def test_existing_folder_without_settings_does_not_suggest_init(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    with pytest.raises(ConfigError) as caught:
        load_settings(folder)
    text = str(caught.value)
    assert str(folder) in text and "holds no strongroom.toml" in text
    assert "init" not in " ".join(caught.value.details).replace("strongroom init` made", "")
    assert "STRONGROOM_HOME" in text and "--home" in text
    result = invoke("list", "--home", str(folder))
    assert result.exit_code == 2 and "holds no strongroom.toml" in result.stderr
    assert "init" not in result.stderr.replace("strongroom init` made", "")


def test_home_one_level_too_high_points_at_the_archive_below(home: Home) -> None:
    result = invoke("list", "--home", str(home.path.parent))
    assert result.exit_code == 2
    assert f"Did you mean --home {home.path}" in result.stderr


# --- 4. --version, flags in help, JSON errors --------------------------------------------------


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"strongroom {__version__}"


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_flags_read_as_flags_in_help(command: str) -> None:
    result = invoke(*command.split(), "--help")
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout and "BOOLEAN" not in result.stdout, result.stdout
    if command in ("list", "verify", "show"):
        line = next(ln for ln in result.stdout.splitlines() if "--json" in ln)
        assert "<" not in line  # no value placeholder of any kind after a flag


def test_library_errors_under_json_are_json_on_stderr(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = invoke("list", "--json", "--home", str(missing))
    assert result.exit_code == 2
    assert result.stdout == ""
    error = json.loads(result.stderr)
    assert str(missing) in error["error"] and any("init" in h for h in error["hint"])
    plain = invoke("list", "--home", str(missing))
    assert plain.exit_code == 2 and plain.stderr.startswith("error: No Strongroom archive")


def test_usage_and_cli_errors_under_json_are_json_too(home: Home) -> None:
    bad_option = home.run("list", "--json", "--bogus")
    assert bad_option.exit_code == 2
    assert "--bogus" in json.loads(bad_option.stderr)["error"]
    nothing_named = home.run("verify", "--json")
    assert nothing_named.exit_code == 2
    assert json.loads(nothing_named.stderr) == {"error": "name one or more packages, or use --all.", "hint": []}
    not_found = home.run("show", "deadbeef-cafe", "--json")
    assert not_found.exit_code == home.run("show", "deadbeef-cafe").exit_code == 2  # the same code as in plain text
    assert json.loads(not_found.stderr)["error"].startswith("No package")
    plain = home.run("list", "--bogus")
    assert plain.exit_code == 2 and "No such option" in plain.stderr and not plain.stderr.lstrip().startswith("{")


# --- 5. show on a large package ----------------------------------------------------------------


@pytest.fixture
def big_package(home: Home, tmp_path: Path) -> str:
    for i in range(45):
        write(tmp_path / "big" / "letters" / f"letter-{i:03}.txt", f"Dear Sir, letter {i}\n")
    write(tmp_path / "big" / "map.svg", '<svg xmlns="http://www.w3.org/2000/svg"/>')
    return str(home.ingest(tmp_path / "big")["package"])


def test_show_summarises_a_large_package(home: Home, big_package: str) -> None:
    out = home.ok("show", big_package).stdout
    listed = [line for line in out.splitlines() if "letter-0" in line]
    assert len(listed) == 19 and "letter-000.txt" in listed[0]  # the first 20 files: METS, then the letters
    assert "original 46" in out and "metadata 1" in out  # files by role
    # Files by format. map.svg has neither the XML declaration nor the closing tag that PRONOM's SVG signatures
    # need, so DROID (6.5.2 itself too) leaves it unidentified, beside the METS file; plain text is known by its
    # extension.
    assert "Plain Text File" in out and re.search(r"unidentified\s*│\s*2\s", out), out
    assert "Showing 20 of 47 files" in out and "--all-files" in out
    assert len(out.splitlines()) < 80


def test_show_files_and_all_files(home: Home, big_package: str) -> None:
    five = home.ok("show", big_package, "--files", "5").stdout
    assert "letter-003.txt" in five and "letter-004.txt" not in five and "Showing 5 of 47" in five
    every = home.ok("show", big_package, "--all-files").stdout
    assert "letter-044.txt" in every and "Showing" not in every
    assert home.run("show", big_package, "--files", "5", "--all-files").exit_code == 2


def test_show_json_lists_every_file_unless_told(home: Home, big_package: str) -> None:
    data = home.ok("show", big_package, "--json").json()
    assert isinstance(data, dict)
    assert len(data["files"]) == data["file_count"] >= 46
    limited = home.ok("show", big_package, "--json", "--files", "3").json()
    assert isinstance(limited, dict)
    assert len(limited["files"]) == 3 and limited["file_count"] == data["file_count"]


# --- 6. package references ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["show", "export", "update", "access", "verify"])
def test_package_arguments_say_prefixes_need_eight_characters(command: str) -> None:
    cli_command = _commands()[command]
    helps = [getattr(p, "help", "") or "" for p in cli_command.params]  # type: ignore[attr-defined]
    assert any("UUID, UUID prefix (8+ characters) or name" in h for h in helps), helps


def test_short_prefix_error_says_eight_characters(home: Home, example_transfer: Path) -> None:
    package = str(home.ingest(example_transfer)["package"])
    result = home.run("show", package[:6])
    assert result.exit_code != 0
    assert "No package" in result.stderr and "at least 8 characters" in result.stderr
    assert home.run("show", package[:8]).exit_code == 0


# --- 7. progress -------------------------------------------------------------------------------


def test_verify_progress_never_passes_its_total(home: Home, example_transfer: Path, tmp_path: Path) -> None:
    package = str(home.ingest(example_transfer)["package"])
    csv = write(tmp_path / "metadata.csv", "filename,dc.title\nobjects,Parish council records (revised)\n")
    home.ok("update", package, "--metadata", str(csv), "--reason", "Catalogued")
    home.ingest(example_transfer, "--allow-duplicate", "--name", "second")
    calls: list[tuple[int, int | None]] = []
    with home.archive() as archive:
        report = archive.verify([], "test", progress=lambda stage, done, total: calls.append((done, total)))
    assert calls
    assert all(total is not None and done <= total for done, total in calls), calls
    assert calls[-1] == (report.checked, report.checked)  # the last total is exact
    # Two versions and the bag's tag files: more stored files than the catalog's current file count.
    assert report.checked > sum(p.files for p in home.archive().catalog.packages())


# --- 8. wide tables to a file or pipe ----------------------------------------------------------


def test_tables_are_not_cut_when_not_on_a_terminal(home: Home, example_transfer: Path, tmp_path: Path) -> None:
    name = "Correspondence of the Lower Wallop Parish Council Footpaths Committee " * 2
    title = "Letters, minutes and maps about the footpath dispute of 1999, as deposited by the clerk"
    home.ingest(example_transfer, "--name", name.strip(), "--title", title)
    listed = home.ok("list").stdout
    assert name.strip() in listed and title in listed and "…" not in listed
    deep = write(tmp_path / ("a-rather-long-folder-name-for-a-test/" * 4) / "minutes-of-the-meeting.txt", "Minutes\n")
    identified = invoke("identify", str(deep))
    assert identified.exit_code == 0 and str(deep) in identified.stdout


# --- 9. verify's next step ---------------------------------------------------------------------


def test_verify_mismatch_names_version_and_next_step(home: Home, example_transfer: Path) -> None:
    from tests.conftest import object_root

    package = str(home.ingest(example_transfer)["package"])
    clean = home.ok("verify", package, "--json").json()
    assert isinstance(clean, dict) and "next_steps" not in clean  # a clean run keeps its shape
    damaged = object_root(home, package) / "v1" / "content" / "data" / "objects" / "minutes" / "1999-01-07.txt"
    damaged.write_bytes(damaged.read_bytes() + b"bit rot")
    text = home.run("verify", package)
    assert text.exit_code == 1
    out = text.stdout
    assert "mismatch transfer (" in out and "version 1: v1/content/data/objects/minutes/1999-01-07.txt" in out
    assert "Restore" in out and "backup or another copy" in out and "strongroom repair" in out
    assert f"strongroom verify {package}" in out and "Nothing has been changed" in out
    assert "to fix: Restore v1/content/data/objects/minutes/1999-01-07.txt in the package's storage folder" in out
    result = home.run("verify", package, "--json")
    assert result.exit_code == 1
    data = result.json()
    assert isinstance(data, dict)
    (problem,) = data["problems"]
    assert problem["kind"] == "mismatch" and problem["versions"] == [1]
    (explained,) = data["problems_explained"]
    assert explained["path"] == problem["path"] and explained["name"] == "transfer"
    assert "version 1" in explained["message"]
    problem = explained
    assert problem["next_step"].startswith("Restore v1/content/data/objects/minutes/1999-01-07.txt")
    assert problem["storage_key"] in problem["next_step"] and f"strongroom verify {package}" in problem["next_step"]
    assert any("repair" in step for step in data["next_steps"])


def test_engine_fast_written_by_an_older_init_means_the_default_droid_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before the DROID engine, `init` wrote engine = "fast" (the FIDO-exact engine, then the default): such a home
    # was not choosing FIDO's answers, so it now identifies with the default as a new home does.
    from strongroom.config import write_default_config

    monkeypatch.delenv("STRONGROOM_IDENTIFIER", raising=False)
    home = tmp_path / "old-home"
    home.mkdir()
    config = write_default_config(home, "Test County Archive", "TCA")
    assert 'engine = "droid"' in config.read_text(encoding="utf-8")
    assert load_settings(home).identifier_engine == "droid"
    for written, engine in (("fido-fast", "fido-fast"), ("fido", "fido"), ("droid", "droid"), ("fast", "droid")):
        config.write_text(
            config.read_text(encoding="utf-8").replace(
                next(line for line in config.read_text(encoding="utf-8").splitlines() if line.startswith("engine =")),
                f'engine = "{written}"',
            ),
            encoding="utf-8",
        )
        settings = load_settings(home)
        assert (written, settings.identifier_engine, settings.identifier_spec.engine) == (written, engine, engine)
    # A person's explicit choice on the command line or in the environment keeps the old alias's meaning.
    assert load_settings(home, {"STRONGROOM_IDENTIFIER": "fast"}).identifier_engine == "fido-fast"
    assert 'engine = "fast"' in config.read_text(encoding="utf-8")  # the last one written
    listed = invoke("signatures", "list", "--home", str(home), "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout)["in_use"]["engine"] == "droid"
