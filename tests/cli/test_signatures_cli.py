"""Issue 12: `strongroom signatures install` and `list`, and the signature versions PREMIS names after an ingest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from strongroom.metadata.reader import read_mets
from strongroom.metadata.validate import MetsValidator
from strongroom.model import PackageDocument
from tests.conftest import EXAMPLE_TRANSFER, Home, object_root, write
from tests.formats.test_signature_store import (  # noqa: F401  (fixtures)
    BILLION_LAUGHS,
    compiled_cache,
    container_file,
    droid_file,
    private_cache,
)

# compiled_cache and private_cache: test-made signature files are compiled into a cache of their own.


def stored_mets(home: Home, package: str) -> PackageDocument:
    mets = object_root(home, package) / "v1" / "content" / "data" / f"METS.{package}.xml"
    assert MetsValidator().validate(mets) == []
    return read_mets(mets)


def identification_names(document: PackageDocument) -> tuple[set[str], set[str]]:
    """The format identification events' details and the notes of the agents that identified."""
    events = [e for e in document.events if e.type == "format identification"]
    assert events, "no format identification event"
    agents = {a.key: a for a in document.agents}
    identifiers = {agents[e.agents[0]] for e in events}  # the identifying tool first, then the system
    assert all(a.name.startswith("Strongroom DROID engine") for a in identifiers), identifiers
    notes = {a.note or "" for a in identifiers}
    return {e.detail for e in events}, notes


def test_premis_names_the_signature_versions_before_and_after_an_install(home: Home, tmp_path: Path) -> None:
    first = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    details, notes = identification_names(stored_mets(home, first))
    for text in (*details, *notes):
        assert "DROID signature file V122" in text and "container signature file 40" in text, text
    assert notes, "no identifier agent"

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    installed = home.ok(
        "signatures", "install", str(droid_file(downloads, 999)), str(container_file(downloads, 41)), "--json"
    ).json()
    assert isinstance(installed, dict)
    assert [(f["kind"], f["version"], f["outcome"], f["in_use"]) for f in installed["files"]] == [
        ("droid", 999, "installed", True),
        ("container", 41, "installed", True),
    ]
    listed = home.ok("signatures", "list", "--json").json()
    assert isinstance(listed, dict)
    in_use = listed["in_use"]
    assert (in_use["droid"]["version"], in_use["droid"]["source"]) == (999, "installed")
    assert (in_use["container"]["version"], in_use["container"]["source"]) == (41, "installed")
    assert [(a["version"], a["source"], a["in_use"]) for a in listed["available"]] == [
        (999, "installed", True), (41, "installed", True), (122, "bundled", False), (40, "bundled", False),
    ]  # fmt: skip
    plain = home.ok("signatures", "list").stdout
    assert "In use: DROID signature file V999 (installed" in plain
    assert "In use: container signature file 41 (installed" in plain

    transfer = tmp_path / "second"
    write(transfer / "letter.txt", "A second deposit, identified with the newer signatures.\n")
    write(transfer / "scan.png", (EXAMPLE_TRANSFER / "objects" / "village-hall.png").read_bytes())
    second = str(home.ingest(transfer)["package"])
    details, notes = identification_names(stored_mets(home, second))
    assert notes
    for text in (*details, *notes):
        assert (
            "DROID signature file V999 (2026-01-19); container signature file 41 (container-signature-20260301-V41.xml)"
            in text
        ), text
    shown = home.ok("show", second, "--json").json()
    png = next(f for f in shown["files"] if f["path"] == "objects/scan.png")  # type: ignore[index]
    assert (png["puid"], png["basis"]) == ("fmt/11", "signature")  # the newer file identifies as V122 did
    # The first package's record is as it was: it was identified with V122.
    details, _notes = identification_names(stored_mets(home, first))
    assert all("V122" in text for text in details)


def test_a_hostile_file_is_refused_with_a_clear_error(home: Home, tmp_path: Path) -> None:
    bomb = tmp_path / "DROID_SignatureFile_V2000.xml"
    bomb.write_text(BILLION_LAUGHS, encoding="utf-8")
    plain = home.run("signatures", "install", str(bomb))
    assert plain.exit_code == 2
    assert "has a DTD" in plain.stderr and "Nothing was installed" in plain.stderr and "Traceback" not in plain.stderr
    as_json = home.run("signatures", "install", str(bomb), "--json")
    assert as_json.exit_code == 2 and as_json.stdout == ""
    assert '"error"' in as_json.stderr and "has a DTD" in as_json.stderr
    folder = home.path / "signatures"
    assert not folder.exists() or os.listdir(folder) == []
    assert "V122 (bundled" in home.ok("signatures", "list").stdout


def test_an_older_file_needs_allow_older(home: Home, tmp_path: Path) -> None:
    older = droid_file(tmp_path, 100)
    refused = home.run("signatures", "install", str(older))
    assert refused.exit_code == 2 and "--allow-older" in refused.stderr
    done = home.ok("signatures", "install", str(older), "--allow-older")
    assert "Installed DROID signature file V100 (older than the bundled DROID signature file V122" in done.stdout
    # The newest file stays in use; going back means naming the older one in [formats], as the hint says.
    assert "In use: DROID signature file V122 (bundled" in done.stdout
    flat = " ".join(done.stdout.split())
    assert 'under [formats], signature_file = "signatures/DROID_SignatureFile_V100.xml"' in flat


def test_doctor_shows_the_signatures_in_use(home: Home, tmp_path: Path) -> None:
    home.ok("signatures", "install", str(container_file(tmp_path, 41)))
    shown = home.ok("doctor").stdout
    assert "In use: DROID signature file V122 (bundled" in shown and "container signature file 41 (installed" in shown
    data = home.ok("doctor", "--json").json()
    assert isinstance(data, dict)
    assert (data["signatures"]["droid"]["version"], data["signatures"]["container"]["version"]) == (122, 41)


def test_the_commands_need_an_archive_home(tmp_path: Path) -> None:
    nowhere = Home(tmp_path / "nowhere")
    for args in (("signatures", "list"), ("signatures", "install", str(droid_file(tmp_path, 999)))):
        result = nowhere.run(*args)
        assert result.exit_code == 2 and "No Strongroom archive" in result.stderr
    assert not nowhere.path.exists()


def _set_formats(home: Home, line: str) -> None:
    config = home.path / "strongroom.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[formats]\n", f"[formats]\n{line}\n"), encoding="utf-8")


def test_list_install_and_doctor_say_when_a_fido_engine_leaves_the_droid_files_unused(
    home: Home, tmp_path: Path
) -> None:
    assert "Engine: droid" in home.ok("signatures", "list").stdout
    config = home.path / "strongroom.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('engine = "droid"', 'engine = "fido-fast"'))
    plain = " ".join(home.ok("signatures", "list").stdout.split())
    assert "Engine: fido-fast ([formats] engine): FIDO's answers, from FIDO's signature files formats-v" in plain
    assert "The DROID signature files below are not used" in plain
    assert "Not used: DROID signature file V122 (bundled" in plain and "In use:" not in plain
    listed = home.ok("signatures", "list", "--json").json()
    assert isinstance(listed, dict)
    in_use = listed["in_use"]
    assert (in_use["engine"], in_use["droid_files_used"]) == ("fido-fast", False)
    assert in_use["fido_signatures"].startswith("formats-v") and in_use["fido_problem"] is None
    assert not any(a["in_use"] for a in listed["available"])

    installed = home.ok("signatures", "install", str(droid_file(tmp_path, 999)))
    flat = " ".join(installed.stdout.split())
    assert "Engine: fido-fast" in flat and "Not used: DROID signature file V999 (installed" in flat
    assert "DROID signature files are used only with engine" in flat
    report = home.ok("signatures", "install", str(container_file(tmp_path, 41)), "--json").json()
    assert isinstance(report, dict)
    assert report["files"][0]["in_use"] is False and report["in_use"]["engine"] == "fido-fast"

    doctor = " ".join(home.ok("doctor").stdout.split())
    assert "Engine: fido-fast" in doctor and "Not used: DROID signature file V999" in doctor
    data = home.ok("doctor", "--json").json()
    assert isinstance(data, dict)
    assert (data["signatures"]["engine"], data["signatures"]["droid_files_used"]) == ("fido-fast", False)


def test_ingest_with_a_configured_signature_file_that_is_missing_is_a_clear_error(home: Home, tmp_path: Path) -> None:
    _set_formats(home, 'signature_file = "signatures/DROID_SignatureFile_V130.xml"')
    transfer = tmp_path / "transfer"
    write(transfer / "letter.txt", "A deposit.\n")
    result = home.run("ingest", str(transfer))
    assert result.exit_code == 2, result
    assert "Traceback" not in result.stderr + result.stdout
    flat = " ".join(result.stderr.split())
    assert str(home.path / "signatures" / "DROID_SignatureFile_V130.xml") in flat
    assert "[formats] signature_file" in flat
    assert home.ok("list", "--json").json() == []  # nothing was ingested


def test_install_into_a_home_whose_signatures_folder_is_a_file_is_a_clear_error(home: Home, tmp_path: Path) -> None:
    # A read-only home cannot be made in a test running as root (root writes anyway); it gives the same error.
    (home.path / "signatures").write_text("notes\n", encoding="utf-8")
    result = home.run("signatures", "install", str(droid_file(tmp_path, 999)))
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr + result.stdout
    flat = " ".join(result.stderr.split())
    assert "cannot be installed into" in flat and "is not a folder: move that file away" in flat


@pytest.mark.parametrize("engine", ["fido-fast", "fido"])
def test_identify_with_a_fido_engine_refuses_a_droid_signature_file(engine: str, home: Home) -> None:
    from strongroom.formats.droid.identifier import BUNDLED_SIGNATURES

    target = EXAMPLE_TRANSFER / "objects" / "village-hall.png"
    result = home.run("identify", "--engine", engine, "--signatures", str(BUNDLED_SIGNATURES), str(target))
    assert result.exit_code == 2, result
    assert "Traceback" not in result.stderr + result.stdout
    flat = " ".join(result.stderr.split())
    assert f"cannot be used by the {engine} engine: it is a DROID signature file" in flat
    assert "FIDO's formats-vNNN.xml" in flat
