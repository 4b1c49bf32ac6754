"""`strongroom dip`: what it prints, its default role, and its errors (never a traceback)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.conftest import Home, write


def _package(home: Home, tmp_path: Path) -> str:
    """Open minutes (fit to give out), a closed letter, and a file of no known format (no access copy)."""
    write(tmp_path / "t" / "objects" / "minutes.txt", "Minutes of the meeting\n")
    write(tmp_path / "t" / "objects" / "private" / "letter.txt", "Dear Nightjar\n")
    write(tmp_path / "t" / "objects" / "blob.bin", bytes(range(256)) * 2)
    package = str(home.ingest(tmp_path / "t", "--name", "parish")["package"])
    home.ok("access", package, "--status", "closed", "--file", "objects/private", "--reason", "personal data")
    return package


def test_dip_is_made_for_a_researcher_by_default_and_says_what_it_did(home: Home, tmp_path: Path) -> None:
    package = _package(home, tmp_path)
    result = home.ok("dip", package, str(tmp_path / "out"))
    folder = tmp_path / "out" / f"parish-{package[:8]}-dip"
    assert f"in {folder}" in result.stdout
    assert "for the researcher role: 1 file(s)" in result.stdout
    assert "Records withheld (closed): 1" in result.stdout
    assert "Records without an access copy: 1" in result.stdout and "objects/blob.bin" in result.stdout
    assert f"strongroom migrate {package}" in result.stdout
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "METS.xml", "index.html", "objects/minutes.txt"
    ]  # fmt: skip
    assert "letter" not in result.stdout and "private" not in result.stdout


def test_dip_as_archivist_with_zip_and_json(home: Home, tmp_path: Path) -> None:
    package = _package(home, tmp_path)
    data = home.ok("dip", package, str(tmp_path / "out"), "--as", "archivist", "--zip", "--json").json()
    assert isinstance(data, dict)
    assert (data["as"], data["files"], data["withheld"], data["version"]) == ("archivist", 2, 0, 1)
    assert [c["original"] for c in data["without_copy"]] == ["objects/blob.bin"]
    assert {c["path"] for c in data["contents"]} == {"objects/minutes.txt", "objects/private/letter.txt"}
    with zipfile.ZipFile(data["zip"]) as zipped:
        assert f"parish-{package[:8]}-dip/objects/private/letter.txt" in zipped.namelist()


def test_dip_errors_are_one_clear_message(home: Home, tmp_path: Path) -> None:
    package = _package(home, tmp_path)
    wrong_role = home.run("dip", package, str(tmp_path / "a"), "--as", "visitor")
    assert wrong_role.exit_code == 2 and "not a role" in wrong_role.stderr and "researcher" in wrong_role.stderr
    home.ok("dip", package, str(tmp_path / "b"))
    again = home.run("dip", package, str(tmp_path / "b"))
    assert again.exit_code == 2 and "already exists" in again.stderr
    no_version = home.run("dip", package, str(tmp_path / "c"), "--version", "5")
    assert no_version.exit_code != 0 and "no version 5" in no_version.stderr
    home.ok("access", package, "--status", "closed", "--reason", "sealed")
    refused = home.run("dip", package, str(tmp_path / "d"), "--json")
    assert refused.exit_code == 2 and "Traceback" not in refused.stderr
    assert "is closed" in refused.stderr and "--as archivist" in refused.stderr
    assert not (tmp_path / "d").exists() and not (tmp_path / "a").exists()
    assert home.ok("dip", package, str(tmp_path / "d"), "--as", "admin", "--json").json()["files"] == 2  # type: ignore[index]
