"""Migrating the shared sample transfers' at-risk files: new versions that validate, links that resolve."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path
from urllib.parse import unquote

import lxml.html
import pytest

from strongroom.metadata.validate import MetsValidator
from strongroom.model import FileRole
from tests.conftest import CORPUS, Home, ocfl_validate, requires_corpus
from tests.preservation.migrate_helpers import export_and_check

pytestmark = [
    pytest.mark.slow,
    requires_corpus(),
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed (bash scripts/tools.sh)"),
]

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
    # The migrated packages' DIPs: access copies that resolve, a schema-valid METS, and a page a browser renders.
    for name, package in packages.items():
        made = home.ok("dip", package, str(tmp_path / f"dip-{name}"), "--json").json()
        folder = Path(made["path"])  # type: ignore[index]
        assert MetsValidator().validate(folder / "METS.xml") == []
        given = {f["path"] for f in made["contents"]}  # type: ignore[index]
        copies = [k for k in by_package[package]["kept"] if k["purpose"] == "access"]
        assert all(any(g.endswith(Path(k["path"]).name) for g in given) for k in copies), (given, copies)
        page = _rendered(folder / "index.html", tmp_path / f"chromium-{name}")
        assert len(page.findall(".//table/tbody/tr")) >= len(given)
        for link in page.iter("a"):
            href = link.get("href") or ""
            assert (folder / unquote(href)).is_file(), href


def _rendered(page: Path, profile: Path) -> lxml.html.HtmlElement:
    """The DOM headless Chromium builds from the page (scripts/tools.sh installs Chromium)."""
    argv = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
            "--window-size=320,800", "--dump-dom", page.as_uri()]  # fmt: skip
    browser = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        dom, _ = browser.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(browser.pid, signal.SIGKILL)
    return lxml.html.fromstring(dom)
