"""Migrating the shared sample transfers' at-risk files: new versions that validate, links that resolve."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.model import FileRole
from tests.conftest import CORPUS, Home, ocfl_validate, requires_corpus
from tests.preservation.migrate_helpers import export_and_check

pytestmark = [pytest.mark.slow, requires_corpus()]

FOLDERS = ("Images", "OfficeDocs")


def test_sample_transfers_migrate_into_versions_that_validate(home: Home, tmp_path: Path) -> None:
    packages = {name: str(home.ingest(CORPUS / name)["package"]) for name in FOLDERS}
    result = home.run("migrate", "--json")
    assert result.exit_code in (0, 1), result.stderr  # 1: a conversion failed verification (listed below)
    report = result.json()
    assert isinstance(report, dict)
    by_package = {p["package"]: p for p in report["packages"]}
    for name, package in packages.items():
        done = by_package[package]
        assert done["error"] is None, done["error"]
        assert done["version"] == 2, f"{name}: no version made: {done['failed']}"
        assert done["kept"], name
        for failure in done["failed"]:  # a failure is explained, never silent
            assert failure["reason"] and failure["event"]
    # At least one preservation master and one access copy across the two transfers.
    kept = [k for p in report["packages"] for k in p["kept"]]
    assert {k["purpose"] for k in kept} >= {"preservation", "access"}
    if report["totals"]["failed"]:
        listed = home.run("migrate", "--report", "--json").json()
        assert listed["count"] == report["totals"]["failed"]  # type: ignore[index]

    ocfl_validate(home)
    checked = home.ok("verify", "--all", "--json").json()
    assert checked["problems"] == []  # type: ignore[index]
    for name, package in packages.items():
        bag = export_and_check(home, package, tmp_path / f"export-{name}")
        for k in by_package[package]["kept"]:
            assert (bag / "data" / k["path"]).is_file()
    with home.archive() as archive:
        for package in packages.values():
            roles = {f.role for f in archive.catalog.files(package)}
            assert FileRole.ORIGINAL in roles and roles & {FileRole.PRESERVATION, FileRole.ACCESS}
