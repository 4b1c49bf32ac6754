"""The archivist's path on the bundled sample transfer: ingest, list, show, search, verify, export, rebuild."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import bagit
import pytest

from strongroom.metadata.validate import MetsValidator
from tests.conftest import EXAMPLE_TRANSFER, Home, drop_catalog, object_root, ocfl_validate


def stored_bag(home: Home, package: str) -> Path:
    """Version 1's content folder: the whole bag as first stored."""
    content = object_root(home, package) / "v1" / "content"
    assert content.is_dir()
    return content


def test_ingest_json_contract_and_list(home: Home) -> None:
    data = home.ingest(EXAMPLE_TRANSFER, "--title", "Parish records", "--creator", "Clerk")
    assert set(data) >= {"package", "name", "files", "bytes"}
    assert data["name"] == "sample-transfer"
    # 4 records + metadata.csv, rights.csv, checksum.sha256 + the METS document
    assert data["files"] == 8
    assert data["originals"] == 4
    listed = home.ok("list", "--json").json()
    assert isinstance(listed, list)
    assert [p["package"] for p in listed] == [data["package"]]
    assert listed[0]["title"] == "Parish records"


def test_stored_package_is_a_valid_bag_with_valid_mets(home: Home) -> None:
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    bag_dir = stored_bag(home, package)
    bag = bagit.Bag(str(bag_dir))
    bag.validate()
    assert bag.version_info == (1, 0)
    assert "sha256" in bag.algorithms
    # originals byte for byte under data/objects
    for original in (EXAMPLE_TRANSFER / "objects").rglob("*"):
        if original.is_file():
            stored = bag_dir / "data" / "objects" / original.relative_to(EXAMPLE_TRANSFER / "objects")
            assert stored.read_bytes() == original.read_bytes()
    assert (bag_dir / "data" / "metadata" / "metadata.csv").is_file()
    mets = bag_dir / "data" / f"METS.{package}.xml"
    assert MetsValidator().validate(mets) == []
    ocfl_validate(home)


def test_show_lists_formats_checksums_and_events(home: Home) -> None:
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    shown = home.ok("show", package, "--json").json()
    assert isinstance(shown, dict)
    files = {f["path"]: f for f in shown["files"]}
    png = files["objects/village-hall.png"]
    assert png["puid"] == "fmt/11"
    assert png["basis"] == "signature"
    assert png["sha256"] == hashlib.sha256((EXAMPLE_TRANSFER / "objects/village-hall.png").read_bytes()).hexdigest()
    assert files["objects/minutes/1999-01-07.txt"]["puid"] == "x-fmt/111"
    assert files["objects/minutes/1999-01-07.txt"]["basis"] == "extension"
    types = {e["type"] for e in shown["events"]}
    assert {"ingestion", "message digest calculation", "format identification", "fixity check",
            "information package creation"} <= types  # fmt: skip
    # the supplied checksum.sha256 was verified for each record
    fixity = [e for e in shown["events"] if e["type"] == "fixity check" and e["file"] == png["uuid"]]
    assert fixity and fixity[0]["outcome"] == "success"
    assert shown["description"]["objects"]["title"] == ["Lower Wallop Parish Council records 1999"]
    assert shown["description"]["objects/minutes/1999-01-07.txt"]["subject"] == ["Footpaths", "Precept"]


def test_search_by_dc_name_and_format_with_filters(home: Home) -> None:
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    found = home.ok("search", "Footpaths", "--json").json()
    assert isinstance(found, dict)
    assert found["total"] >= 1
    assert any(h["path"] == "objects/minutes/1999-01-07.txt" for h in found["hits"])
    assert {"package", "path", "title"} <= set(found["hits"][0])
    by_name = home.ok("search", "village", "--json").json()
    assert any(h["path"] == "objects/village-hall.png" for h in by_name["hits"])  # type: ignore[index]
    by_puid = home.ok("search", "parish", "--puid", "fmt/11", "--json").json()
    assert by_puid["hits"] and all(h["puid"] == "fmt/11" for h in by_puid["hits"])  # type: ignore[index]
    by_package = home.ok("search", "minutes", "--package", package, "--json").json()
    assert by_package["total"] >= 2  # type: ignore[index]
    nothing = home.ok("search", "zanzibar", "--json").json()
    assert nothing["total"] == 0  # type: ignore[index]


def test_verify_clean_then_one_corrupt_byte(home: Home) -> None:
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    clean = home.ok("verify", package, "--json").json()
    assert isinstance(clean, dict)
    copies = clean.pop("copies")
    assert clean == {"mode": "full", "checked": 12, "packages": 1, "versions": 1, "problems": [],
                     "unreachable_locations": {}}  # fmt: skip
    assert [(c["location"], c["good"], c["files_checked"]) for c in copies] == [("primary", True, 12)]
    target = stored_bag(home, package) / "data" / "objects" / "minutes" / "1999-01-07.txt"
    target.chmod(0o644)
    content = bytearray(target.read_bytes())
    content[10] ^= 0x01
    target.write_bytes(bytes(content))
    result = home.run("verify", "--all", "--json")
    assert result.exit_code == 1
    problems = result.json()["problems"]  # type: ignore[index]
    assert problems == [
        {
            "package": package,
            "location": "primary",
            "path": "v1/content/data/objects/minutes/1999-01-07.txt",
            "kind": "mismatch",
            "versions": [1],
            "algorithm": "sha256",
            "expected": hashlib.sha256((EXAMPLE_TRANSFER / "objects/minutes/1999-01-07.txt").read_bytes()).hexdigest(),
            "found": hashlib.sha256(bytes(content)).hexdigest(),
        }
    ]
    text = home.run("verify", package)
    assert text.exit_code == 1
    assert "1999-01-07.txt" in text.stdout
    # every check is recorded as a PREMIS fixity check event
    shown = home.ok("show", package, "--json").json()
    failures = [e for e in shown["events"] if e["type"] == "fixity check" and e["outcome"] == "failure"]  # type: ignore[index]
    assert any("1999-01-07.txt" in e["detail"] for e in failures)


def test_verify_reports_missing_and_unexpected(home: Home) -> None:
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    bag_dir = stored_bag(home, package)
    (bag_dir / "data" / "objects" / "village-hall.png").unlink()
    (bag_dir / "data" / "objects" / "intruder.txt").write_text("not ours")
    result = home.run("verify", package, "--json")
    assert result.exit_code == 1
    kinds = {(p["kind"], p["path"]) for p in result.json()["problems"]}  # type: ignore[index]
    root = f"{object_root(home, package).relative_to(home.path / 'storage').as_posix()}/"
    assert kinds == {
        ("missing", "v1/content/data/objects/village-hall.png"),
        ("unexpected", f"{root}v1/content/data/objects/intruder.txt"),
    }


def test_rebuild_restores_list_show_and_search(home: Home) -> None:
    first = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    before_list = home.ok("list", "--json").json()
    before_show = home.ok("show", first, "--json").json()
    drop_catalog(home)
    (home.path / "search.sqlite").unlink()
    assert home.ok("list", "--json").json() == []
    rebuilt = home.ok("rebuild", "--json").json()
    assert rebuilt == {"packages": 1, "files": 7, "indexed": 1, "journal_entries": 0, "unreachable_locations": {}}
    assert home.ok("list", "--json").json() == before_list
    after_show = home.ok("show", first, "--json").json()
    assert after_show == before_show
    assert home.ok("search", "Footpaths", "--json").json()["total"] >= 1  # type: ignore[index]


def test_export_writes_a_valid_bag(home: Home, tmp_path: Path) -> None:
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    result = home.ok("export", package, str(tmp_path / "out"))
    exported = tmp_path / "out" / f"sample-transfer-{package}"
    assert "bag valid" in result.stdout
    bagit.Bag(str(exported)).validate()
    assert (exported / "data" / "objects" / "village-hall.png").read_bytes() == (
        EXAMPLE_TRANSFER / "objects" / "village-hall.png"
    ).read_bytes()
    again = home.run("export", package, str(tmp_path / "out"))
    assert again.exit_code != 0
    assert "already exists" in again.stderr


def test_same_transfer_twice_needs_a_flag(home: Home, tmp_path: Path) -> None:
    first = home.ingest(EXAMPLE_TRANSFER)
    copy = tmp_path / "again"
    shutil.copytree(EXAMPLE_TRANSFER, copy)
    refused = home.run("ingest", str(copy), "--name", "sample-transfer")
    assert refused.exit_code != 0
    assert "already stored" in refused.stderr
    assert str(first["package"]) in refused.stderr
    assert "--allow-duplicate" in refused.stderr
    assert len(home.ok("list", "--json").json()) == 1  # type: ignore[arg-type]
    second = home.ingest(copy, "--allow-duplicate")
    assert second["package"] != first["package"]
    assert len(home.ok("list", "--json").json()) == 2  # type: ignore[arg-type]


@pytest.mark.slow
def test_zip_tar_and_bag_sources(home: Home, tmp_path: Path) -> None:
    zipped = Path(shutil.make_archive(str(tmp_path / "zipped"), "zip", EXAMPLE_TRANSFER.parent, EXAMPLE_TRANSFER.name))
    tarred = Path(
        shutil.make_archive(str(tmp_path / "tarred"), "gztar", EXAMPLE_TRANSFER.parent, EXAMPLE_TRANSFER.name)
    )
    z = home.ingest(zipped)
    t = home.ingest(tarred, "--allow-duplicate")
    assert z["originals"] == t["originals"] == 4
    assert z["kind"] == "zip" and t["kind"] == "tar"
    bag_source = tmp_path / "bag"
    shutil.copytree(EXAMPLE_TRANSFER, bag_source)
    bagit.make_bag(str(bag_source), {"Source-Organization": "Lower Wallop PC"}, checksums=["sha256", "md5"])
    b = home.ingest(bag_source, "--allow-duplicate")
    assert b["kind"] == "bag"
    shown = home.ok("show", str(b["package"]), "--json").json()
    paths = {f["path"] for f in shown["files"]}  # type: ignore[index]
    assert "objects/village-hall.png" in paths
    assert "logs/supplied-bag/bag-info.txt" in paths
    assert any(e["type"] == "validation" for e in shown["events"])  # type: ignore[index]
    mets = stored_bag(home, str(b["package"])) / "data" / f"METS.{b['package']}.xml"
    assert "Lower Wallop PC" in mets.read_text(encoding="utf-8")


def test_index_failure_never_undoes_storing(home: Home) -> None:
    config = home.path / "strongroom.toml"
    original = config.read_text()
    (home.path / "broken-index").mkdir()
    config.write_text(original.replace('path = "search.sqlite"', 'path = "broken-index"'))
    data = home.ingest(EXAMPLE_TRANSFER)
    assert data["indexed"] is False
    assert any("search index not updated" in w for w in data["warnings"])  # type: ignore[union-attr]
    assert [p["package"] for p in home.ok("list", "--json").json()] == [data["package"]]  # type: ignore[union-attr]
    config.write_text(original)
    # Searching never writes: the index catches up at the start of the next write command.
    assert home.ok("search", "Footpaths", "--json").json()["total"] == 0  # type: ignore[index]
    home.ok("verify", "--all")
    found = home.ok("search", "Footpaths", "--json").json()
    assert found["total"] >= 1  # type: ignore[index]
    assert {h["package"] for h in found["hits"]} == {data["package"]}  # type: ignore[index]


def test_identification_agent_names_the_signatures(home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from strongroom.formats.droid.identifier import BUNDLED_SIGNATURES

    # A newer DROID signature file: the bundled V122 as V200, with one format more.
    text = BUNDLED_SIGNATURES.read_text(encoding="utf-8")
    assert text.count('Version="122"') == 1 and text.count("<InternalSignatureCollection>") == 1
    text = (
        text.replace('Version="122"', 'Version="200"')
        .replace(
            "<InternalSignatureCollection>",
            '<InternalSignatureCollection><InternalSignature ID="99999" Specificity="Specific">'
            '<ByteSequence Reference="BOFoffset"><SubSequence Position="1" SubSeqMinOffset="0" SubSeqMaxOffset="0">'
            "<Sequence>4C45444745522D5631</Sequence></SubSequence></ByteSequence></InternalSignature>",
        )
        .replace(
            "<FileFormatCollection>",
            '<FileFormatCollection><FileFormat ID="99999" Name="Parish ledger" PUID="test-fmt/2">'
            "<InternalSignatureID>99999</InternalSignatureID><Extension>ledger</Extension></FileFormat>",
        )
    )
    newer = tmp_path / "DROID_SignatureFile_V200.xml"
    newer.write_text(text, encoding="utf-8")
    transfer = tmp_path / "t"
    transfer.mkdir()
    (transfer / "accounts.ledger").write_bytes(b"LEDGER-V1 1999 accounts")
    monkeypatch.setenv("STRONGROOM_SIGNATURE_FILE", str(newer))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # its compiled form, not in the user's cache
    package = str(home.ingest(transfer)["package"])
    shown = home.ok("show", package, "--json").json()
    ledger = next(f for f in shown["files"] if f["path"] == "objects/accounts.ledger")  # type: ignore[index]
    assert (ledger["puid"], ledger["basis"]) == ("test-fmt/2", "signature")
    event = next(e for e in shown["events"] if e["type"] == "format identification" and e["file"] == ledger["uuid"])  # type: ignore[index]
    with home.archive() as archive:
        agents = {a.key: a for a in archive.catalog.agents()}
    tool = agents[event["agents"][0]]
    assert tool.note is not None and "DROID signature file V200" in tool.note
    assert "container-signature-20260119.xml" in tool.note  # the bundled container file, still in use
    mets = (stored_bag(home, package) / "data" / f"METS.{package}.xml").read_text(encoding="utf-8")
    assert "DROID signature file V200" in mets
