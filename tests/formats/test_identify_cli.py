"""`strongroom identify`: a drop-in for fido/sf users, in the terminal, as JSON and as CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from strongroom.cli import app
from strongroom.formats.engine import FastIdentifier
from tests.formats.fixtures import make_fixtures


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_fido_fast_json_answers_equal_the_engine_in_process_with_all_workers(tmp_path: Path) -> None:
    paths = make_fixtures(tmp_path)
    code, out, _ = run("identify", "--recursive", "--json", "--workers", "2", "--engine", "fido-fast", str(tmp_path))
    assert code == 0
    data = json.loads(out)
    assert "formats-v109.xml" in data["signatures"]
    by_path = {row["path"]: row for row in data["files"]}
    assert len(by_path) == len(paths)
    engine = FastIdentifier()
    for path in paths:
        ident = engine.identify(path)
        row = by_path[str(path)]
        assert (row["puid"], row["basis"], row["matches"]) == (
            ident.puid,
            ident.basis.value,
            [m.puid for m in ident.matches],
        )
        assert row["size"] == path.stat().st_size


def test_csv_and_table(tmp_path: Path) -> None:
    paths = make_fixtures(tmp_path)
    png = next(p for p in paths if p.name == "image.png")
    code, out, _ = run("identify", "--csv", str(png), str(tmp_path / "plain.txt"))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["puid"], r["basis"], r["mime"]) for r in rows] == [
        ("fmt/11", "signature", "image/png"),
        ("x-fmt/111", "extension", "text/plain"),
    ]
    code, out, _ = run("identify", str(png))
    assert code == 0 and "fmt/11" in out and "Portable" in out and "Network" in out


def test_a_folder_needs_recursive_and_a_missing_path_is_named(tmp_path: Path) -> None:
    code, _, err = run("identify", str(tmp_path))
    assert code != 0 and "--recursive" in err
    code, _, err = run("identify", str(tmp_path / "absent.pdf"))
    assert code != 0 and "absent.pdf" in err


def test_the_fido_engine_is_available_as_reference_for_fido_fast(tmp_path: Path) -> None:
    make_fixtures(tmp_path)
    fast = json.loads(run("identify", "-r", "--json", "--workers", "1", "--engine", "fido-fast", str(tmp_path))[1])
    fido = json.loads(run("identify", "-r", "--json", "--workers", "1", "--engine", "fido", str(tmp_path))[1])
    assert [(r["path"], r["matches"], r["basis"]) for r in fast["files"]] == [
        (r["path"], r["matches"], r["basis"]) for r in fido["files"]
    ]
    assert fido["tool"] == "FIDO" and fast["tool"] != "FIDO"
