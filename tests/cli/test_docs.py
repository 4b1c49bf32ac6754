"""Docs that cannot rot: every command has help, and the README's commands exist and run."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from strongroom.cli import app
from tests.conftest import REPO, Home

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
