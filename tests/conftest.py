"""Shared fixtures: a real archive home in a temporary folder, and transfers made on the spot."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
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


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    monkeypatch.setenv("STRONGROOM_WORKERS", "2")
    monkeypatch.setenv("STRONGROOM_OPERATOR", "test-archivist")
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
