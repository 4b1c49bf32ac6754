"""Ingest with its checks: virus scanning (a real clamd) and characterisation (the real tools), end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import EXAMPLE_TRANSFER, Home, object_root, write
from tests.preservation.samples import (
    write_broken_pdf,
    write_damaged_pdf,
    write_pdf,
    write_pdfa_claim,
    write_truncated_tiff,
)
from tests.services import CLAMD_TEST_HASH_SAMPLE, CLAMD_TEST_HASH_SIGNATURE, CLAMD_TEST_MARKER, clamd_socket

SR = "urn:x-strongroom:metadata:1"


@pytest.fixture
def scanned(home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    """A home whose ingests scan with the tests' clamd (a signature database the tests write)."""
    monkeypatch.setenv("STRONGROOM_CLAMD_SOCKET", str(clamd_socket()))
    monkeypatch.setenv("STRONGROOM_VIRUS_SCAN", "required")
    return home


def transfer_with(tmp_path: Path, name: str, content: bytes) -> Path:
    source = tmp_path / "transfer"
    shutil.copytree(EXAMPLE_TRANSFER, source)
    write(source / "objects" / name, content)
    return source


def test_an_infected_transfer_is_refused_naming_file_and_signature(scanned: Home, tmp_path: Path) -> None:
    source = transfer_with(tmp_path, "invoice.txt", CLAMD_TEST_HASH_SAMPLE)
    refused = scanned.run("ingest", str(source))
    assert refused.exit_code != 0 and "Traceback" not in refused.stderr
    assert "objects/invoice.txt" in refused.stderr and CLAMD_TEST_HASH_SIGNATURE in refused.stderr
    assert "nothing was stored" in refused.stderr.lower()
    assert scanned.ok("list", "--json").json() == []


def test_quarantine_keeps_the_rest_and_moves_the_infected_file_out(
    scanned: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRONGROOM_INFECTED", "quarantine")
    source = transfer_with(tmp_path, "macro.txt", b"text before " + CLAMD_TEST_MARKER + b" and after\n")
    result = scanned.ingest(source)
    assert any("quarantine" in w and "objects/macro.txt" in w for w in result["warnings"])  # type: ignore[union-attr]
    package = str(result["package"])
    quarantined = scanned.path / "quarantine" / package / "objects" / "macro.txt"
    assert quarantined.is_file() and (quarantined.stat().st_mode & 0o777) == 0o400
    shown = scanned.ok("show", package, "--json", "--all-files").json()
    assert isinstance(shown, dict)
    assert "objects/macro.txt" not in {f["path"] for f in shown["files"]}
    events = shown["events"]
    assert any(e["type"] == "quarantine" and "objects/macro.txt" in e["detail"] for e in events)
    clean = [e for e in events if e["type"] == "virus check"]
    assert clean and all(e["outcome"] == "success" for e in clean)
    assert all(any(a.startswith("software:ClamAV") for a in e["agents"]) for e in clean)
    assert scanned.ok("verify", package, "--json").json()["problems"] == []  # type: ignore[index]


def test_required_scanning_without_a_scanner_refuses_and_says_how(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRONGROOM_VIRUS_SCAN", "required")
    monkeypatch.setenv("STRONGROOM_CLAMD_SOCKET", str(home.path / "no-clamd-here.sock"))
    refused = home.run("ingest", str(EXAMPLE_TRANSFER))
    assert refused.exit_code != 0 and "Traceback" not in refused.stderr
    assert "clamav-daemon" in refused.stderr and "clamd_socket" in refused.stderr
    assert home.ok("list", "--json").json() == []


def test_if_available_without_a_scanner_warns_and_records_not_scanned(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRONGROOM_VIRUS_SCAN", "if-available")
    monkeypatch.setenv("STRONGROOM_CLAMD_SOCKET", str(home.path / "no-clamd-here.sock"))
    result = home.ingest(EXAMPLE_TRANSFER)
    assert any(w.startswith("not scanned") for w in result["warnings"])  # type: ignore[union-attr]
    events = home.ok("show", str(result["package"]), "--json").json()["events"]  # type: ignore[index]
    assert any(e["type"] == "virus check" and e["outcome"] == "warning" for e in events)


def test_broken_files_are_stored_flagged_invalid_in_the_mets_and_the_catalog(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRONGROOM_CHARACTERISE", "1")
    monkeypatch.setenv("STRONGROOM_VIRUS_SCAN", "off")
    source = tmp_path / "scans"
    (source / "objects").mkdir(parents=True)
    write_pdf(source / "objects" / "good.pdf")
    write_damaged_pdf(source / "objects" / "broken.pdf")
    write_truncated_tiff(source / "objects" / "truncated.tif")
    write_pdfa_claim(source / "objects" / "claims-pdfa.pdf")
    # Cut off before its xref and %%EOF: DROID's PDF signatures need %%EOF at the end, so it is not identified
    # (DROID 6.5.2 agrees); it begins with %PDF-, so it is validated as a PDF all the same, and found invalid.
    write_broken_pdf(source / "objects" / "cut-off.pdf")
    result = home.ingest(source)
    assert any("not valid for their format" in w and "broken.pdf" in w for w in result["warnings"])  # type: ignore[union-attr]
    package = str(result["package"])
    mets = etree.parse(str(object_root(home, package) / "v1" / "content" / "data" / f"METS.{package}.xml"))
    verdicts = {}
    for obj in mets.iter("{http://www.loc.gov/premis/v3}object"):
        name = obj.findtext("{http://www.loc.gov/premis/v3}originalName")
        found = obj.find(f".//{{{SR}}}characterisation")
        if found is not None:
            verdicts[name] = (found.get("validity"), {t.get("name") for t in found.iter(f"{{{SR}}}tool")})
    assert verdicts["broken.pdf"][0] == "invalid" and "JHOVE" in verdicts["broken.pdf"][1]
    assert verdicts["truncated.tif"][0] == "invalid"
    assert verdicts["good.pdf"][0] in ("valid", "well-formed")
    assert "veraPDF" in verdicts["claims-pdfa.pdf"][1]
    assert verdicts["cut-off.pdf"][0] == "invalid" and "JHOVE" in verdicts["cut-off.pdf"][1]
    assert any("cut-off.pdf matched no format signature; it begins like a PDF" in w for w in result["warnings"])  # type: ignore[union-attr]
    by_validity = home.ok("formats", "--by", "validity", "--json").json()
    rows = {r["validity"]: r["files"] for r in by_validity["rows"]}  # type: ignore[index]
    assert rows["invalid"] == 3
    shown = home.ok("show", package, "--json").json()
    cut_off = next(f for f in shown["files"] if f["path"] == "objects/cut-off.pdf")  # type: ignore[index]
    assert (cut_off["puid"], cut_off["basis"]) == (None, "none")
    validation = [e for e in shown["events"] if e["type"] == "validation" and e["outcome"] == "failure"]  # type: ignore[index]
    assert len(validation) >= 2 and any("JHOVE" in " ".join(e["agents"]) for e in validation)
    found = home.ok("search", "pdf*", "--validity", "invalid", "--json").json()
    assert sorted(h["path"] for h in found["hits"]) == ["objects/broken.pdf", "objects/cut-off.pdf"]  # type: ignore[index]
    assert {h["validity"] for h in found["hits"]} == {"invalid"}  # type: ignore[index]
    home.ok("verify", package)  # stored whole, flagged, never refused


def test_progress_names_each_check_while_the_files_are_processed(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from strongroom.ingest.pipeline import IngestOptions

    monkeypatch.setenv("STRONGROOM_CHARACTERISE", "1")
    monkeypatch.setenv("STRONGROOM_VIRUS_SCAN", "off")
    source = tmp_path / "scans"
    (source / "objects").mkdir(parents=True)
    write_pdf(source / "objects" / "good.pdf")
    write_truncated_tiff(source / "objects" / "truncated.tif")
    calls: list[tuple[str, int, int | None]] = []
    with home.archive() as archive:
        archive.ingest(source, IngestOptions(), lambda step, done, total: calls.append((step, done, total)))
    steps = [step for step, _, _ in calls]
    # The archivist sees what the slow part is doing, not only "copying": characterising has words of its own.
    assert "Characterising" in steps
    assert all(done <= total for _, done, total in calls if total is not None)
