"""Transfers as they arrive in a first hour (issue 14): Mac and Windows leftovers, ';' spreadsheets,
an archivist's title beside the depositor's, a progress bar that moves, searches of records only."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import bagit
import pytest

from strongroom.archive import Archive
from strongroom.errors import TransferError
from strongroom.ingest.pipeline import IngestOptions, IngestReport
from strongroom.metadata.reader import read_mets
from strongroom.metadata.validate import MetsValidator
from strongroom.model import PackageDocument
from strongroom.search.base import ALL_ROLES, Role, SearchQuery
from tests.conftest import write

SYSTEM_FILES = (".DS_Store", "letters/Thumbs.db", "letters/desktop.ini", "Icon\r", "__MACOSX/letters/._a.txt")


@pytest.fixture
def archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Archive]:
    monkeypatch.setenv("STRONGROOM_WORKERS", "1")
    monkeypatch.delenv("STRONGROOM_CATALOG_URL", raising=False)
    monkeypatch.delenv("STRONGROOM_KEEP_SYSTEM_FILES", raising=False)
    monkeypatch.setenv("STRONGROOM_EXTRACT_TEXT", "0")  # this test counts the files a transfer keeps
    Archive.create(tmp_path / "home", "Test County Archive", "TCA")
    opened = Archive.open(tmp_path / "home")
    yield opened
    opened.close()


def transfer(tmp_path: Path, metadata_csv: str | None = None, system_files: bool = False) -> Path:
    root = tmp_path / "transfer"
    write(root / "objects" / "letters" / "a.txt", "a letter from the harbour master")
    write(root / "objects" / "letters" / "b.txt", "a reply")
    if metadata_csv is not None:
        write(root / "metadata" / "metadata.csv", metadata_csv)
    if system_files:
        for name in SYSTEM_FILES:
            write(root / "objects" / name, b"\x00\x01 made by the system")
    return root


def stored_mets(archive: Archive, package: str) -> PackageDocument:
    (mets,) = (archive.settings.home / "storage").rglob(f"v1/content/data/METS.{package}.xml")
    assert MetsValidator().validate(mets) == []
    return read_mets(mets)


def ingest(archive: Archive, source: Path, **options: object) -> IngestReport:
    return archive.ingest(source, IngestOptions(operator="tester", **options))  # type: ignore[arg-type]


# --- 1. the METS step reports progress with a total -------------------------------------------


def test_writing_mets_reports_progress_against_the_number_of_files(archive: Archive, tmp_path: Path) -> None:
    source = transfer(tmp_path)
    for n in range(30):
        write(source / "objects" / "more" / f"{n:02}.txt", f"note {n}")
    calls: list[tuple[str, int, int | None]] = []

    report = archive.ingest(source, IngestOptions(), lambda step, done, total: calls.append((step, done, total)))

    mets = [(done, total) for step, done, total in calls if step == "Writing METS"]
    files = report.files - 1  # every file but the METS itself
    assert mets[0] == (0, files)
    assert [done for done, _ in mets] == list(range(files + 1))
    assert {total for _, total in mets} == {files}


# --- 2. the archivist's title and creator beside the depositor's --------------------------------


def test_archivist_description_is_added_to_the_depositors(archive: Archive, tmp_path: Path) -> None:
    csv_text = "filename,dc.title,dc.creator,dc.date\nobjects,Harbour letters,Harbour Board,1921\n"
    source = transfer(tmp_path, csv_text)

    report = ingest(archive, source, description={"title": ("Harbour Board letters",), "creator": ("A. Clerk",)})

    (package_level,) = [d for d in stored_mets(archive, report.package).descriptions if d.target == "objects"]
    assert package_level.elements == {
        "title": ("Harbour Board letters", "Harbour letters"),
        "creator": ("A. Clerk", "Harbour Board"),
        "date": ("1921",),
    }
    assert any("'Harbour letters' is kept after the title given with --title" in w for w in report.warnings)
    assert any("'Harbour Board' is kept after the creator given with --creator" in w for w in report.warnings)
    summary = archive.catalog.find_package(report.package)
    assert summary is not None and summary.title == "Harbour Board letters"
    hits = archive.search(SearchQuery(text="", kind="package", viewer=Role.ADMIN)).hits
    assert [h.title for h in hits] == ["Harbour Board letters"]
    assert archive.search(SearchQuery(text="Harbour letters", kind="package", viewer=Role.ADMIN)).total == 1


def test_without_archivist_values_the_depositors_description_stands_alone(archive: Archive, tmp_path: Path) -> None:
    source = transfer(tmp_path, "filename,dc.title\nobjects,Harbour letters\n")

    report = ingest(archive, source, description={"title": ("Harbour letters",)})

    (package_level,) = [d for d in stored_mets(archive, report.package).descriptions if d.target == "objects"]
    assert package_level.elements == {"title": ("Harbour letters",)}
    assert not [w for w in report.warnings if "--title" in w]


# --- 3. metadata.csv from a spreadsheet: any header case, ';' separators, qualified DC ----------


def test_semicolon_csv_with_capital_header_and_qualified_terms(archive: Archive, tmp_path: Path) -> None:
    csv_text = (
        "Filename;DC.Title;dcterms.spatial;dcterms.extent\nobjects/letters/a.txt;Letter, first;Little Snoring;1 leaf\n"
    )
    report = ingest(archive, transfer(tmp_path, csv_text))

    described = {d.target: d.elements for d in stored_mets(archive, report.package).descriptions}
    assert described["objects/letters/a.txt"] == {
        "title": ("Letter, first",), "spatial": ("Little Snoring",), "extent": ("1 leaf",)
    }  # fmt: skip
    (hit,) = archive.search(SearchQuery(text="Snoring", viewer=Role.ADMIN)).hits
    assert hit.path == "objects/letters/a.txt"


def test_a_csv_header_without_filename_is_named(archive: Archive, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match=r"line 1 \(the header\) has no 'filename' or 'parts' column"):
        ingest(archive, transfer(tmp_path, "name;dc.title\nobjects;x\n"))


# --- 4. system files ----------------------------------------------------------------------------


def test_system_files_are_left_out_with_an_event(archive: Archive, tmp_path: Path) -> None:
    report = ingest(archive, transfer(tmp_path, system_files=True))

    stored = {f.path for f in archive.catalog.files(report.package)}
    assert stored == {"objects/letters/a.txt", "objects/letters/b.txt", f"METS.{report.package}.xml"}
    document = stored_mets(archive, report.package)
    (event,) = [e for e in document.events if e.type == "filtering"]
    assert event.detail == "System files left out"
    assert sorted(event.outcome_detail.splitlines()) == sorted(
        ["objects/.DS_Store", "objects/letters/Thumbs.db", "objects/letters/desktop.ini", "objects/Icon%0D",
         "objects/__MACOSX/letters/._a.txt"]
    )  # fmt: skip
    assert any("5 system file(s)" in w and "keep_system_files" in w for w in report.warnings)


def test_keep_system_files_setting_keeps_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRONGROOM_KEEP_SYSTEM_FILES", "true")
    monkeypatch.setenv("STRONGROOM_WORKERS", "1")
    monkeypatch.delenv("STRONGROOM_CATALOG_URL", raising=False)
    Archive.create(tmp_path / "home", "Test County Archive", "TCA")
    with Archive.open(tmp_path / "home") as archive:
        assert archive.settings.keep_system_files
        report = ingest(archive, transfer(tmp_path, system_files=True))

        stored = {f.path for f in archive.catalog.files(report.package)}
        assert {"objects/.DS_Store", "objects/__MACOSX/letters/._a.txt", "objects/letters/Thumbs.db"} <= stored
        assert not [e for e in stored_mets(archive, report.package).events if e.type == "filtering"]


def test_the_default_settings_file_names_the_setting(archive: Archive) -> None:
    text = (archive.settings.home / "strongroom.toml").read_text(encoding="utf-8")
    assert "keep_system_files = false" in text
    assert not archive.settings.keep_system_files


def test_a_system_file_a_checksum_file_lists_is_kept(archive: Archive, tmp_path: Path) -> None:
    source = transfer(tmp_path, system_files=True)
    digest = hashlib.sha256(b"\x00\x01 made by the system").hexdigest()
    write(source / "metadata" / "checksum.sha256", f"{digest}  letters/Thumbs.db\n")

    report = ingest(archive, source)

    stored = {f.path for f in archive.catalog.files(report.package)}
    assert "objects/letters/Thumbs.db" in stored
    assert "objects/.DS_Store" not in stored


def test_a_bag_keeps_the_system_files_its_manifest_lists_and_drops_the_rest(archive: Archive, tmp_path: Path) -> None:
    bag_dir = tmp_path / "bag"
    write(bag_dir / "letters" / "a.txt", "a letter")
    write(bag_dir / "letters" / ".DS_Store", b"listed in the manifest")
    bagit.make_bag(str(bag_dir), checksums=["sha256"])
    write(bag_dir / "data" / "Thumbs.db", b"added after bagging")  # a Windows thumbnail cache, never listed

    report = ingest(archive, bag_dir)

    stored = {f.path for f in archive.catalog.files(report.package)}
    assert "objects/letters/.DS_Store" in stored  # dropping it would break the bag's fixity
    assert "objects/Thumbs.db" not in stored
    (event,) = [e for e in stored_mets(archive, report.package).events if e.type == "filtering"]
    assert event.outcome_detail == "objects/Thumbs.db"


# --- 5. searches describe records -----------------------------------------------------------------


def test_search_leaves_out_the_packages_own_files_unless_asked(archive: Archive, tmp_path: Path) -> None:
    report = ingest(archive, transfer(tmp_path, "filename,dc.title\nobjects/letters/a.txt,Harbour master letter\n"))

    everything = archive.search(SearchQuery(text="", viewer=Role.ADMIN, limit=100))
    assert {h.path for h in everything.hits} == {None, "objects/letters/a.txt", "objects/letters/b.txt"}
    assert everything.total == 3
    assert archive.search(SearchQuery(text="METS", viewer=Role.ADMIN)).total == 0

    with_housekeeping = archive.search(SearchQuery(text="", viewer=Role.ADMIN, roles=ALL_ROLES, limit=100))
    roles = {h.path: h.role for h in with_housekeeping.hits}
    assert roles == {
        None: None,
        "objects/letters/a.txt": "original",
        "objects/letters/b.txt": "original",
        "metadata/metadata.csv": "metadata",
        f"METS.{report.package}.xml": "metadata",
    }
    assert with_housekeeping.total == 5
