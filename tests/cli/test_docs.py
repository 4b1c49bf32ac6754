"""Docs that cannot rot: every command has help, and the README's commands exist and run."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from strongroom.cli import app
from tests.conftest import REPO, Home, write

COMMANDS = sorted(c.name for c in typer.main.get_command(app).commands.values())  # type: ignore[attr-defined]


def test_the_cli_has_the_contracted_commands() -> None:
    assert {"init", "ingest", "list", "show", "verify", "search", "export", "rebuild"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    cli_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    assert cli_command.help and len(cli_command.help) > 20, f"{command} has no real help text"
    for param in cli_command.params:
        if param.name not in ("ctx",):
            assert getattr(param, "help", None), f"{command} --{param.name} has no help text"


def test_readme_commands_name_real_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    used = set(re.findall(r"strongroom (\w+)", readme))
    assert used <= set(COMMANDS) | {"COMMAND"}, used - set(COMMANDS)


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```sh", 1)[1].split("```", 1)[0]
    assert "bash scripts/quickstart.sh" in first_block and "bash scripts/test.sh" in first_block
    assert "scripts/test.sh" in (REPO / ".ci" / "run").read_text()
    for script in ("quickstart.sh", "test.sh", "install.sh"):
        subprocess.run(["bash", "-n", str(REPO / "scripts" / script)], check=True)


def test_readme_tour_runs(home: Home, tmp_path: Path) -> None:
    """The archivist's tour, command by command, on the bundled example."""
    data = home.ingest(
        REPO / "examples" / "sample-transfer", "--title", "Parish council records", "--creator", "Parish Clerk"
    )
    package = str(data["package"])
    home.ok("list")
    home.ok("show", package)
    home.ok("verify", "--all")
    home.ok("export", package, str(tmp_path / "out"))
    home.ok("rebuild")
    assert home.ok("search", "council minutes", "--json").json()["total"] >= 1  # type: ignore[index]
    assert home.ok("search", "parish", "--puid", "fmt/11", "--json").json()["total"] >= 1  # type: ignore[index]
    assert home.ok("search", "footpath*", "--package", package, "--json").json()["total"] >= 1  # type: ignore[index]


def _readme_command_lines() -> list[list[str]]:
    """Each `strongroom ...` command shown in the README's sh and ini blocks, as argv from the command name on."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```(?:sh|ini)\n(.*?)```", readme, re.DOTALL):
        for line in block.splitlines():
            line = line.split("ExecStart=", 1)[-1]
            words = shlex.split(re.sub(r"<(\w+)>", r"\1", line), comments=True)  # <package> is a placeholder
            for index, word in enumerate(words):
                after_option = index > 0 and words[index - 1].startswith("-")  # --s3 strongroom: a bucket
                if (word == "strongroom" or word.endswith("/bin/strongroom")) and not after_option:
                    lines.append(list(itertools.takewhile(lambda w: w not in (">>", "|", "2>&1"), words[index + 1 :])))
    return lines


def test_readme_command_lines_use_real_options() -> None:
    """Every option in a README command line (the crontab and systemd lines included) exists on that command."""
    root = typer.main.get_command(app)
    lines = _readme_command_lines()
    checked = set()
    for argv in lines:
        words = list(argv)
        if words[:1] == ["--home"]:  # the one option that also goes before the command name
            words = words[2:]
        command, path = root, []
        while words and not words[0].startswith("-") and words[0] in getattr(command, "commands", {}):
            path.append(words[0])
            command = command.commands[words.pop(0)]  # type: ignore[attr-defined]
        assert command is not root, f"no command in: strongroom {shlex.join(argv)}"
        known = {opt for param in command.params for opt in param.opts} | {"--help"}
        used = {w.split("=", 1)[0] for w in words if w.startswith("--")}
        assert used <= known, f"strongroom {shlex.join(argv)}: no such option {used - known}"
        checked.add(" ".join(path))
    assert {"location add", "location list", "replicate", "repair", "audit"} <= checked, checked


def test_readme_copies_tour_runs(home: Home, tmp_path: Path) -> None:
    """Two folder locations as the README shows them: add, replicate, audit, damage, audit, repair, audit."""
    package = str(home.ingest(REPO / "examples" / "sample-transfer")["package"])
    offsite = tmp_path / "offsite"
    home.ok("location", "add", "offsite", "--path", str(offsite))
    assert "It lacks 1 of the 1 existing package" in home.ok("location", "add", "usb", "--path",
                                                                 str(tmp_path / "usb")).stdout  # fmt: skip
    copied = home.ok("replicate", "--json").json()
    assert isinstance(copied, dict) and len(copied["copied"]) == 2
    listed = home.ok("location", "list", "--json").json()
    assert isinstance(listed, dict)
    held = [(loc["name"], loc["current"]) for loc in listed["locations"]]
    assert held == [("primary", 1), ("offsite", 1), ("usb", 1)]
    assert home.ok("audit", "--older-than", "90d", "--max-bytes", "500G", "--rate", "50", "--json").json()
    damaged = next(p for p in offsite.rglob("*") if p.is_file() and "/data/objects/" in p.as_posix())
    damaged.chmod(0o644)
    damaged.write_bytes(damaged.read_bytes() + b"bit rot")
    found = home.run("audit", "--older-than", "90d", "--location", "offsite")
    assert found.exit_code == 0  # checked a moment ago: a copy not known to be bad waits for its turn
    found = home.run("audit", "--location", "offsite", "--json")
    assert found.exit_code == 1
    problems = found.json()["problems"]  # type: ignore[index]
    assert [(p["location"], p["versions"], p["kind"]) for p in problems] == [("offsite", [1], "mismatch")]
    assert damaged.as_posix().endswith(problems[0]["path"])
    again = home.run("audit", "--older-than", "90d", "--json")  # a failing copy is checked on every run
    assert again.exit_code == 1 and again.json()["problems"]  # type: ignore[index]
    assert "restored" in home.ok("repair", package).stdout
    assert home.ok("audit", "--json").json()["problems"] == []  # type: ignore[index]


# --- set-up: the quickstart an archivist runs -------------------------------------------------


def _quickstart(home: Path, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STRONGROOM_HOME": str(home), "STRONGROOM_OPERATOR": "test-archivist"}
    env.pop("STRONGROOM_CATALOG_URL", None)
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "quickstart.sh"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _packages(home: Path) -> list[dict[str, object]]:
    listed = Home(home).ok("list", "--json").json()
    assert isinstance(listed, list)
    return listed


@pytest.mark.slow
def test_quickstart_is_quiet_and_stores_the_sample_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRONGROOM_CATALOG_URL", raising=False)  # the quickstart's archive is all SQLite
    home = tmp_path / "demo-home"
    first = _quickstart(home)
    assert "Stored sample-transfer as package" in first.stdout
    second = _quickstart(home)
    assert "already stored" in second.stdout and "Stored " not in second.stdout
    assert [p["name"] for p in _packages(home)] == ["sample-transfer"]
    for run in (first, second):
        output = (run.stdout + run.stderr).lower()
        # The one warning a new user sees: no virus scanner yet (the default "if-available" says so, and how).
        lines = [line for line in output.splitlines() if "warning" in line]
        assert all(line.startswith("warning: not scanned: no virus scanner answers") for line in lines), output
        assert "deprecat" not in output and "traceback" not in output, output
        assert "all good" in run.stdout and "bash scripts/quickstart.sh PATH" in run.stdout
    # A transfer named on the command line (relative to where the command is typed) is still ingested.
    elsewhere = tmp_path / "elsewhere"
    write(elsewhere / "box-1" / "objects" / "letter.txt", "A letter about the parish boundary.\n")
    third = _quickstart(home, "box-1", "--title", "Box one", cwd=elsewhere)
    assert "Stored box-1 as package" in third.stdout
    assert sorted(str(p["name"]) for p in _packages(home)) == ["box-1", "sample-transfer"]


def test_an_archivists_install_is_the_package_alone_and_the_test_command_adds_the_tools() -> None:
    install = (REPO / "scripts" / "install.sh").read_text()
    installs = re.findall(r"pip install -q (.+)$", install, re.MULTILINE)
    # The archivist's install (the last) is neither editable nor carries extras.
    assert installs == ["--upgrade pip", "-e '.[dev,bench]'", "."], installs
    assert re.search(r"^bash scripts/install\.sh$", (REPO / "scripts" / "quickstart.sh").read_text(), re.MULTILINE)
    assert re.search(r"^bash scripts/install\.sh --dev$", (REPO / "scripts" / "test.sh").read_text(), re.MULTILINE)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    dev = " ".join(project["project"]["optional-dependencies"]["dev"])
    assert "pytest-xdist" in dev and "pytest>=" in dev and "ruff" in dev and "mypy" in dev
    runtime_deps = " ".join(project["project"]["dependencies"])
    assert not re.search(r"\b(pytest|ruff|mypy|pygfried)\b", runtime_deps), runtime_deps


def test_the_license_is_an_spdx_expression_with_a_setuptools_that_takes_it() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["license"] == "AGPL-3.0-or-later"
    (requirement,) = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    minimum = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", requirement)
    assert minimum and int(minimum.group(1)) >= 77, requirement  # 77: the first to accept the SPDX string


@pytest.mark.slow
def test_the_package_builds_without_a_single_warning(tmp_path: Path) -> None:
    """What pip shows an archivist while installing: nothing (setuptools' deprecation notices included)."""
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(REPO / "pyproject.toml", source)
    shutil.copy(REPO / "README.md", source)
    shutil.copytree(REPO / "strongroom", source / "strongroom", ignore=shutil.ignore_patterns("__pycache__"))
    # The development install carries a setuptools new enough for pyproject.toml, so no network is needed.
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"),
         str(source)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""
    (wheel,) = (tmp_path / "dist").glob("strongroom-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: AGPL-3.0-or-later" in metadata


# --- CONTRIBUTING.md: the contributor's page ---------------------------------------------------

CONTRIBUTING = REPO / "CONTRIBUTING.md"
_ENV = re.compile(r"^([A-Z][A-Z0-9_]*)=(\S*)$")


def _shell_lines(text: str) -> list[list[str]]:
    """Each command of the page's ```sh blocks as argv (comments dropped, `VAR=value` prefixes kept)."""
    lines: list[list[str]] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            argv = shlex.split(line, comments=True)
            if argv:
                lines.append(argv)
    return lines


def _pytest_arguments(argv: list[str]) -> tuple[dict[str, str], list[str]] | None:
    """(environment, pytest arguments) of a command that runs the tests; None for any other command."""
    env: dict[str, str] = {}
    while argv and _ENV.match(argv[0]):
        name, value = argv[0].split("=", 1)
        env[name] = value
        argv = argv[1:]
    if argv[:2] == ["bash", "scripts/test.sh"]:
        return env, argv[2:]
    if argv[:3] == [".venv/bin/python", "-m", "pytest"]:
        return env, argv[3:]
    return None


def test_contributing_exists_and_the_readme_points_to_it() -> None:
    text = CONTRIBUTING.read_text(encoding="utf-8")
    for heading in ("## The architecture in a page", "## Running the tests", "## Adding a backend", "## Habits"):
        assert heading in text
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    developers = readme.split("## For developers", 1)[1]
    assert "CONTRIBUTING.md" in developers
    assert "GUIDE.md" not in readme  # the layout guide outside the repository is not the contributor's page


def test_contributing_names_files_that_exist() -> None:
    text = CONTRIBUTING.read_text(encoding="utf-8")
    # Paths as written, leaving out templates such as tests/storage/test_<name>.py.
    named = set(re.findall(r"\b((?:strongroom|tests|scripts|benchmarks)/[\w./-]*\w)(?![\w./<-])", text))
    assert {"strongroom/storage/base.py", "strongroom/catalog/base.py", "strongroom/search/base.py"} <= named
    assert {"tests/contracts/storage_contract.py", "tests/contracts/catalog_contract.py"} <= named
    missing = sorted(n for n in named if not (REPO / n).exists())
    assert not missing, f"CONTRIBUTING.md names paths that do not exist: {missing}"
    for registry in ("strongroom/storage/__init__.py", "strongroom/search/__init__.py"):
        assert "_FACTORIES" in (REPO / registry).read_text()
    assert "_OPENERS" in (REPO / "strongroom/catalog/__init__.py").read_text()
    for suite in ("StorageContract", "CatalogContract", "SearchContract"):
        assert f"class {suite}" in "".join(p.read_text() for p in (REPO / "tests/contracts").glob("*.py"))


@pytest.mark.slow
def test_contributing_test_commands_are_real() -> None:
    text = CONTRIBUTING.read_text(encoding="utf-8")
    markers = {m.split(":", 1)[0] for m in tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]
               ["ini_options"]["markers"]}  # fmt: skip
    test_sh = (REPO / "scripts" / "test.sh").read_text()
    assert '"$@"' in test_sh and "STRONGROOM_TEST_WORKERS" in test_sh  # arguments go to pytest, workers can be set
    test_code = "".join(p.read_text() for p in (REPO / "tests").glob("*.py"))
    runs = [r for r in map(_pytest_arguments, _shell_lines(text)) if r is not None]
    assert any(not args for _env, args in runs)  # the whole suite
    assert ["-m", "not slow"] in [args for _env, args in runs]  # the fast set
    assert any("::" in a for _env, args in runs for a in args)  # one test
    for env, args in runs:
        for name in env:
            assert name in test_code or name in test_sh, f"{name} is used by neither the tests nor scripts/test.sh"
        for flag, value in itertools.pairwise(args):
            if flag == "-m":
                words = set(re.findall(r"\w+", value)) - {"not", "and", "or"}
                assert words <= markers, f"-m {value!r}: unregistered markers {words - markers}"
        if not args:
            continue
        # pytest itself says whether the options exist and the paths and test names select something.
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args, "-n", "0"],
            cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"pytest {shlex.join(args)}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        assert re.search(r"^(\d+/)?[1-9]\d* tests? collected", result.stdout, re.MULTILINE), result.stdout[-500:]


def test_contributing_service_commands_are_real() -> None:
    text = CONTRIBUTING.read_text(encoding="utf-8")
    script = (REPO / "scripts" / "services.sh").read_text()
    known = re.search(r"^SERVICES=\((.*)\)$", script, re.MULTILINE)
    assert known
    used = [argv for argv in _shell_lines(text) if "scripts/services.sh" in argv]
    assert {argv[argv.index("scripts/services.sh") + 1] for argv in used} == {"start", "stop", "status"}
    for argv in used:
        action, *services = argv[argv.index("scripts/services.sh") + 1 :]
        assert re.search(rf"\b{action}\b.*\)", script.split("case $action in", 1)[1].split(";;", 1)[0])
        assert set(services) <= set(known.group(1).split()), services
    assert "STRONGROOM_SKIP_SERVICES" in (REPO / "tests" / "services.py").read_text()
