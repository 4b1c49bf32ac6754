"""Dissemination packages: what goes in for whom, the METS, the index page, the zip, and damaged storage.

One archive is shared by the module (its ingests and one access migration with the real ImageMagick cost
a few seconds); each test builds its own DIPs into its own folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import lxml.html
import pytest
from lxml import etree

from strongroom.archive import Archive
from strongroom.errors import IntegrityError, StrongroomError
from strongroom.metadata.validate import MetsValidator
from strongroom.metadata.xmlsupport import METS, XLINK, unescape_href
from strongroom.model import (
    AccessRule,
    AccessStatus,
    Basis,
    DublinCore,
    FileRecord,
    FileRole,
    FormatMatch,
    Identification,
    PackageSummary,
)
from strongroom.preservation.actions import Purpose
from strongroom.preservation.dip import NO_COPY, ClosedPackageError, CopyKind, DipPlan, DipReport, build_dip, plan_dip
from strongroom.search.base import Role
from tests.conftest import Home, object_root, write
from tests.preservation.media import make_images
from tests.preservation.migrate_helpers import archive_env

SECRET_WORDS = ("Top Secret", "Nightjar", "nightjar", "CLASSIFIED-BYTES", "secret/", "personal data")
HOSTILE_NAMES = (
    "\"quoted\" 'name'.txt",
    "<script>alert(1)<script>.txt",
    "line\nbreak.txt",
    "-leading-dash.txt",
    "a&b 100% #x?.txt",
    "back\\slash.txt",
)
HOSTILE_TITLE = "</td><script>bad()</script>"
HOSTILE_PACKAGE_TITLE = "<img src=x onerror=alert(1)> & co"


@dataclass
class Shelf:
    home: Home
    package: str  # migrated (access copies of its BMPs in version 2), with closed records
    hostile: str  # hostile names and titles, never migrated
    closed: str  # closed as a whole
    secret_digests: frozenset[str]  # SHA-256 of every stored file of the closed records, their access copies too

    def archive(self) -> Archive:
        return Archive.open(self.home.path)

    def dip(self, dest: Path, ref: str | None = None, **options: object) -> DipReport:
        options.setdefault("viewer_role", Role.RESEARCHER)
        with self.archive() as archive:
            return build_dip(archive, ref or self.package, dest, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def shelf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shelf]:
    root = tmp_path_factory.mktemp("dip")
    with archive_env():
        home = Home(root / "home")
        home.ok("init", "--organisation", "Test County Archive", "--organisation-id", "TCA")
        images = make_images(root / "images", ["bmp3", "png"])
        transfer = root / "parish"
        pics = transfer / "objects" / "pics"
        pics.mkdir(parents=True)
        os.link(images["bmp3"], pics / "map.bmp")
        os.link(images["png"], pics / "photo.png")
        secret = transfer / "objects" / "secret"
        secret.mkdir()
        (secret / "Top Secret Plan.bmp").write_bytes(images["bmp3"].read_bytes()[:-4] + b"\x01\x02\x03\x04")
        write(secret / "nightjar.txt", "CLASSIFIED-BYTES-7731: the plan\n")
        write(transfer / "objects" / "papers" / "minutes.txt", "Minutes of the meeting of 7 January 1999\n")
        write(transfer / "objects" / "papers" / "data.bin", bytes(range(256)) * 4)
        write(transfer / "objects" / "opened" / "old letter.txt", "A letter of 1950, open since 2000\n")
        write(
            transfer / "metadata" / "metadata.csv",
            "filename,dc.title,dc.creator,dc.date,dc.description\n"
            "objects,Parish papers,Lower Wallop Parish Council,1999,Minutes and maps of the parish\n"
            "objects/papers/minutes.txt,Minutes 1999,Parish Clerk,1999-01-07,\n"
            "objects/secret/nightjar.txt,Codename Nightjar,Top Secret Office,1999,\n"
            "objects/opened/old letter.txt,Old letter,A villager,1950,\n",
        )
        package = str(home.ingest(transfer)["package"])
        hostile_transfer = root / "hostile"
        for name in HOSTILE_NAMES:
            write(hostile_transfer / "objects" / name, f"hello {name}\n")
        write(
            hostile_transfer / "metadata" / "metadata.csv",
            f'filename,dc.title\nobjects,"{HOSTILE_PACKAGE_TITLE}"\nobjects/-leading-dash.txt,"{HOSTILE_TITLE}"\n',
        )
        hostile = str(home.ingest(hostile_transfer)["package"])
        write(root / "closed" / "objects" / "sealed.txt", "sealed until further notice\n")
        closed = str(home.ingest(root / "closed")["package"])
        with Archive.open(home.path) as archive:
            report = archive.migrate([package], "test-archivist", purposes=[Purpose.ACCESS])
            assert report.ok, report
            archive.set_access(package, "objects/secret", AccessStatus.CLOSED, "personal data", None, "test")
            archive.set_access(package, "objects/opened/old letter.txt", AccessStatus.CLOSED, "fifty-year rule",
                               date(2000, 1, 1), "test")  # fmt: skip
            archive.set_access(closed, None, AccessStatus.CLOSED, "sealed", None, "test")
            files = list(archive.catalog.files(package))
        assert {f.path for f in files if f.role is FileRole.ACCESS} == {
            "access/objects/pics/map.bmp.png", "access/objects/secret/Top Secret Plan.bmp.png"
        }  # fmt: skip
        digests = frozenset(f.sha256 for f in files if "secret/" in f.path)
        assert len(digests) == 3
        yield Shelf(home, package, hostile, closed, digests)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _everything_written(dest: Path) -> list[tuple[str, bytes]]:
    """Every name and every byte under `dest`: files, the raw zip and each zip entry's name and content."""
    found: list[tuple[str, bytes]] = []
    for path in sorted(dest.rglob("*")):
        found.append((path.relative_to(dest).as_posix(), b""))
        if path.is_file():
            data = path.read_bytes()
            found.append((path.name, data))
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as zipped:
                    found += [(info.filename, zipped.read(info)) for info in zipped.infolist()]
    return found


# --- what goes in -----------------------------------------------------------------------------------------------


def test_a_researcher_gets_access_copies_fit_originals_and_a_list_of_what_lacks_one(
    shelf: Shelf, tmp_path: Path
) -> None:
    report = shelf.dip(tmp_path)
    assert report.version == 2 and report.viewer is Role.RESEARCHER
    assert report.path == tmp_path / f"parish-{shelf.package[:8]}-dip"
    given = {f.path: f for f in report.files}
    assert set(given) == {
        "objects/pics/map.bmp.png", "objects/pics/photo.png", "objects/papers/minutes.txt",
        "objects/opened/old letter.txt",  # closed, but its opening date has passed
    }  # fmt: skip
    assert given["objects/pics/map.bmp.png"].kind == CopyKind.ACCESS_COPY
    assert given["objects/pics/map.bmp.png"].source == "access/objects/pics/map.bmp.png"
    assert given["objects/pics/photo.png"].kind == CopyKind.ORIGINAL
    assert [m.original for m in report.without_copy] == ["objects/papers/data.bin"]
    assert report.withheld == 2
    with shelf.archive() as archive:
        stored = {f.path: f for f in archive.catalog.files(shelf.package)}
    on_disk = _files(report.path)
    for path, item in given.items():
        assert hashlib.sha256(on_disk[path]).hexdigest() == stored[item.source].sha256 == item.sha256
    assert set(on_disk) == {*given, "METS.xml", "index.html"}
    page = (report.path / "index.html").read_text(encoding="utf-8")
    row = next(r for r in page.splitlines() if "data.bin" in r)
    assert NO_COPY in row and "<a " not in row


def test_nothing_of_a_closed_record_reaches_a_researcher_not_even_in_the_zip(shelf: Shelf, tmp_path: Path) -> None:
    report = shelf.dip(tmp_path, zip_it=True)
    assert report.zip_path is not None and report.zip_path.is_file()
    written = _everything_written(tmp_path)
    assert any(name.endswith("map.bmp.png") for name, _ in written)  # the search below does look at the output
    for name, data in written:
        for word in SECRET_WORDS:
            assert word not in name, f"{word!r} in the name {name!r}"
            assert word.encode() not in data, f"{word!r} in the bytes of {name!r}"
        for digest in shelf.secret_digests:
            assert digest.encode() not in data, f"a closed file's checksum in {name!r}"
            assert hashlib.sha256(data).hexdigest() != digest, f"{name!r} holds a closed file's bytes"
    page = (report.path / "index.html").read_text(encoding="utf-8")
    assert "2 record(s) withheld" in page


def test_an_archivist_gets_the_closed_records_too(shelf: Shelf, tmp_path: Path) -> None:
    report = shelf.dip(tmp_path, viewer_role="archivist")
    paths = {f.path for f in report.files}
    assert {"objects/secret/Top Secret Plan.bmp.png", "objects/secret/nightjar.txt"} <= paths
    assert report.withheld == 0
    page = (report.path / "index.html").read_text(encoding="utf-8")
    assert "Codename Nightjar" in page and "withheld" not in page
    mets = (report.path / "METS.xml").read_text(encoding="utf-8")
    assert "closed: personal data" in mets  # the record's access status travels with its description


def test_an_earlier_version_has_no_access_copies_and_lists_the_originals_that_need_one(
    shelf: Shelf, tmp_path: Path
) -> None:
    report = shelf.dip(tmp_path, version=1)
    assert report.version == 1
    assert {f.path for f in report.files} == {
        "objects/pics/photo.png", "objects/papers/minutes.txt", "objects/opened/old letter.txt"
    }  # fmt: skip
    assert all(f.kind == CopyKind.ORIGINAL for f in report.files)
    assert [m.original for m in report.without_copy] == ["objects/papers/data.bin", "objects/pics/map.bmp"]
    assert report.withheld == 2
    assert MetsValidator().validate(report.path / "METS.xml") == []
    with pytest.raises(StrongroomError, match="no version 9"):
        shelf.dip(tmp_path / "nine", version=9)


def test_a_closed_package_is_refused_to_a_researcher_and_given_to_an_archivist(shelf: Shelf, tmp_path: Path) -> None:
    with pytest.raises(ClosedPackageError, match="closed") as refused:
        shelf.dip(tmp_path / "out", shelf.closed)
    assert any("--as archivist" in d for d in refused.value.details)
    assert not (tmp_path / "out").exists()
    report = shelf.dip(tmp_path / "out", shelf.closed, viewer_role=Role.ADMIN)
    assert [f.path for f in report.files] == ["objects/sealed.txt"]


# --- the METS, the page and the zip ----------------------------------------------------------------------------


def test_the_mets_validates_and_describes_every_file_it_gives(shelf: Shelf, tmp_path: Path) -> None:
    report = shelf.dip(tmp_path)
    mets_path = report.path / "METS.xml"
    assert MetsValidator().validate(mets_path) == []
    tree = etree.parse(str(mets_path))
    ns = {"mets": METS, "xlink": XLINK, "dc": "http://purl.org/dc/elements/1.1/"}
    groups = tree.findall(".//mets:fileSec/mets:fileGrp", ns)
    assert [g.get("USE") for g in groups] == ["access"]
    described = {}
    for element in tree.iterfind(".//mets:file", ns):
        href = str(element.find("mets:FLocat", ns).get(f"{{{XLINK}}}href"))  # type: ignore[union-attr]
        target = report.path / unescape_href(href)
        assert target.is_file(), href
        data = target.read_bytes()
        assert element.get("CHECKSUMTYPE") == "SHA-256"
        assert element.get("CHECKSUM") == hashlib.sha256(data).hexdigest()
        assert element.get("SIZE") == str(len(data))
        described[unescape_href(href)] = element.get("MIMETYPE")
    assert set(described) == {f.path for f in report.files}
    assert described["objects/pics/map.bmp.png"] == "image/png"
    fptrs = {f.get("FILEID") for f in tree.iterfind(".//mets:structMap//mets:fptr", ns)}
    assert fptrs == {e.get("ID") for e in tree.iterfind(".//mets:file", ns)}
    package_dc = tree.find(".//mets:dmdSec[@ID='dmdSec_package']", ns)
    assert package_dc is not None
    assert package_dc.findtext(".//dc:title", namespaces=ns) == "Parish papers"
    assert package_dc.findtext(".//dc:creator", namespaces=ns) == "Lower Wallop Parish Council"
    titles = [t.text for t in tree.iterfind(".//mets:dmdSec//dc:title", ns)]
    assert "Minutes 1999" in titles and "Old letter" in titles


def _page(folder: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring((folder / "index.html").read_bytes())


def _assert_links_resolve(folder: Path, page: lxml.html.HtmlElement) -> list[str]:
    hrefs = [a.get("href") for a in page.iter("a")]
    for href in hrefs:
        assert href and "://" not in href and not href.startswith(("/", "#", "javascript")), href
        target = (folder / urllib.parse.unquote(href, errors="surrogateescape")).resolve()
        assert target.is_file(), href
        assert target.is_relative_to(folder.resolve()), href
    return hrefs


def test_the_index_page_is_plain_accessible_html_whose_links_resolve(shelf: Shelf, tmp_path: Path) -> None:
    report = shelf.dip(tmp_path)
    page = _page(report.path)
    assert page.get("lang") == "en"
    assert page.findtext(".//title") == "Parish papers: access copies"
    assert [h.text_content() for h in page.iter("h1")] == ["Parish papers"]
    text = page.text_content()
    for summary in ("Lower Wallop Parish Council", "1999", "Minutes and maps of the parish"):
        assert summary in text
    (table,) = page.iter("table")
    caption = table.find("caption")
    assert caption is not None and caption.text_content().startswith("Records")
    headers = table.findall(".//thead//th")
    assert [h.text_content() for h in headers] == ["Title", "Original name", "Format", "Size", "File"]
    assert all(h.get("scope") == "col" for h in headers)
    rows = table.findall(".//tbody/tr")
    assert len(rows) == len(report.files) + len(report.without_copy)
    assert {r[0].text_content() for r in rows} >= {"Minutes 1999", "Old letter", "map.bmp", "photo.png"}
    assert {r[1].text_content() for r in rows} >= {"pics/photo.png", "papers/minutes.txt"}  # with its folders
    hrefs = _assert_links_resolve(report.path, page)
    assert len(hrefs) == len(report.files) + 1  # every file, and the METS
    # Nothing runs and nothing is fetched: no script, no event handler, no external asset.
    assert not list(page.iter("script", "iframe", "object", "embed", "link", "img"))
    assert not [a for el in page.iter() for a in el.attrib if a.lower().startswith("on")]
    assert page.find(".//meta[@name='viewport']") is not None
    assert "@media (max-width:40rem)" in str(page.findtext(".//style"))


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Chromium is not installed: the page is checked with lxml only"
)
def test_the_index_page_opens_in_a_real_browser(shelf: Shelf, tmp_path: Path) -> None:
    """Headless Chromium loads the page from disk and builds the same table (--dump-dom: the DOM it rendered)."""
    report = shelf.dip(tmp_path / "dip", shelf.hostile)
    argv = [
        "chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=320,800", "--dump-dom", (report.path / "index.html").as_uri(),
    ]  # fmt: skip
    browser = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        dom, _ = browser.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(browser.pid, signal.SIGKILL)  # its helper processes too, whatever happened
    page = lxml.html.fromstring(dom)
    assert page.findtext(".//title") == f"{HOSTILE_PACKAGE_TITLE}: access copies"
    rows = page.findall(".//table/tbody/tr")
    assert len(rows) == len(HOSTILE_NAMES)
    assert HOSTILE_TITLE in [td.text_content() for td in page.iter("td")]
    assert not list(page.iter("script"))
    _assert_links_resolve(report.path, page)


def test_hostile_names_and_titles_are_only_ever_text(shelf: Shelf, tmp_path: Path) -> None:
    report = shelf.dip(tmp_path, shelf.hostile, zip_it=True)
    page = _page(report.path)
    assert not list(page.iter("script", "img"))
    assert [h.text_content() for h in page.iter("h1")] == [HOSTILE_PACKAGE_TITLE]
    cells = [td.text_content() for td in page.iter("td")]
    assert HOSTILE_TITLE in cells
    for name in HOSTILE_NAMES:
        # The stored name (ingest writes a newline as %0A), shown as text; a backslash is also %-escaped in the DIP
        stored = name.replace("\n", "%0A")
        assert stored in cells, name
    _assert_links_resolve(report.path, page)
    # DROID takes a file's extension from its URI, where '#' starts a fragment: "a&b 100% #x?.txt" has none, so
    # it is not identified (DROID 6.5.2 itself says so) and, not known to be plain text, it has no access copy.
    unidentified = "a&b 100% #x?.txt"
    given = sorted("objects/" + n.replace("\n", "%0A") for n in HOSTILE_NAMES if n != unidentified)
    assert sorted(f.original for f in report.files) == given
    assert [(c.original, c.puid) for c in report.without_copy] == [(f"objects/{unidentified}", None)]
    assert (report.path / "objects" / "-leading-dash.txt").read_text() == "hello -leading-dash.txt\n"
    assert (report.path / "objects" / "back%5Cslash.txt").is_file()
    raw = (report.path / "index.html").read_text(encoding="utf-8")
    assert "<script" not in raw and "<img" not in raw
    assert MetsValidator().validate(report.path / "METS.xml") == []


def test_the_zip_holds_exactly_the_folder_and_nothing_outside_it(shelf: Shelf, tmp_path: Path) -> None:
    report = shelf.dip(tmp_path, shelf.hostile, zip_it=True)
    assert report.zip_path == tmp_path / f"{report.path.name}.zip"
    folder = _files(report.path)
    with zipfile.ZipFile(report.zip_path) as zipped:
        assert zipped.testzip() is None
        names = zipped.namelist()
        for name in names:
            assert name.startswith(f"{report.path.name}/"), name
            assert ".." not in name.split("/") and "\\" not in name and not name.startswith("/")
        inside = {name.removeprefix(f"{report.path.name}/"): zipped.read(name) for name in names}
    assert inside == folder
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([report.path.name, report.zip_path.name])


def test_an_existing_destination_is_refused_and_left_alone(shelf: Shelf, tmp_path: Path) -> None:
    first = shelf.dip(tmp_path)
    before = _files(first.path)
    with pytest.raises(StrongroomError, match="already exists"):
        shelf.dip(tmp_path)
    assert _files(first.path) == before
    (tmp_path / "zips").mkdir()
    taken = tmp_path / "zips" / f"{first.path.name}.zip"
    taken.write_bytes(b"someone else's")
    with pytest.raises(StrongroomError, match="already exists"):
        shelf.dip(tmp_path / "zips", zip_it=True)
    assert [p.name for p in (tmp_path / "zips").iterdir()] == [taken.name]
    assert taken.read_bytes() == b"someone else's"


def test_damaged_storage_is_detected_and_nothing_is_left_behind(home: Home, tmp_path: Path) -> None:
    write(tmp_path / "t" / "objects" / "a.txt", "first file\n")
    write(tmp_path / "t" / "objects" / "b.txt", "second file\n")
    package = str(home.ingest(tmp_path / "t")["package"])
    stored = object_root(home, package) / "v1" / "content" / "data" / "objects" / "b.txt"
    stored.write_bytes(b"second fil3\n")  # same size: only the checksum tells
    dest = tmp_path / "out"
    with home.archive() as archive, pytest.raises(IntegrityError, match="damaged") as damaged:
        build_dip(archive, package, dest, viewer_role=Role.ARCHIVIST, zip_it=True)
    assert "objects/b.txt" in damaged.value.message
    assert any("strongroom verify" in d for d in damaged.value.details)
    assert list(dest.iterdir()) == []


# --- the plan, unit by unit --------------------------------------------------------------------------------------


def _record(path: str, role: FileRole, puid: str | None) -> FileRecord:
    ident = None
    if puid:
        ident = Identification(Basis.SIGNATURE, (FormatMatch(puid, puid, None, None, ""),), "t", "1", "1")
    digest = hashlib.sha256(path.encode()).hexdigest()
    return FileRecord(hashlib.md5(path.encode()).hexdigest(), path, path.rpartition("/")[2], 1, digest, role, ident)


_SUMMARY = PackageSummary("0" * 8 + "-0000-0000-0000-" + "0" * 12, "p", datetime.now(UTC), 0, 0, "", "")


def _plan(records: list[FileRecord], rules: list[AccessRule], viewer: Role = Role.RESEARCHER,
          today: date = date(2030, 1, 1)) -> DipPlan:  # fmt: skip
    return plan_dip(_SUMMARY, 1, records, [DublinCore("objects/a.doc", {"title": ("A",)})], rules, viewer,
                    frozenset({"fmt/18", "fmt/477"}), today)  # fmt: skip


def test_the_plan_prefers_the_access_copy_then_a_fit_original_then_a_fit_master() -> None:
    records = [
        _record("objects/a.doc", FileRole.ORIGINAL, "fmt/40"),
        _record("access/objects/a.doc.pdf", FileRole.ACCESS, "fmt/477"),
        _record("preservation/objects/a.doc.odt", FileRole.PRESERVATION, "fmt/290"),
        _record("objects/b.pdf", FileRole.ORIGINAL, "fmt/18"),
        _record("objects/c.x", FileRole.ORIGINAL, "x-fmt/1"),
        _record("preservation/objects/c.x.pdf", FileRole.PRESERVATION, "fmt/477"),
        _record("objects/d.x", FileRole.ORIGINAL, None),
        _record("preservation/objects/d.x.odt", FileRole.PRESERVATION, "fmt/290"),
        _record("text/objects/a.doc.txt", FileRole.TEXT, "x-fmt/111"),
    ]
    plan = _plan(records, [])
    chosen = {e.original.path: (e.path, e.kind) for e in plan.entries}
    assert chosen == {
        "objects/a.doc": ("objects/a.doc.pdf", CopyKind.ACCESS_COPY),
        "objects/b.pdf": ("objects/b.pdf", CopyKind.ORIGINAL),
        "objects/c.x": ("objects/c.x.pdf", CopyKind.PRESERVATION_MASTER),
        "objects/d.x": (None, None),
    }
    assert plan.entries[0].title == "A" and plan.withheld == 0


def test_the_plan_withholds_closed_records_and_copies_and_opens_them_on_their_day() -> None:
    records = [
        _record("objects/a.doc", FileRole.ORIGINAL, "fmt/40"),
        _record("access/objects/a.doc.pdf", FileRole.ACCESS, "fmt/477"),
        _record("objects/b.pdf", FileRole.ORIGINAL, "fmt/18"),
        _record("objects/c/d.pdf", FileRole.ORIGINAL, "fmt/18"),
    ]
    package = _SUMMARY.uuid
    rules = [
        AccessRule(package, "access/objects/a.doc.pdf", AccessStatus.CLOSED, "copy not cleared"),
        AccessRule(package, "objects/c", AccessStatus.CLOSED, "fifty years", date(2030, 1, 1)),
    ]
    early = _plan(records, rules, today=date(2029, 12, 31))
    assert [(e.original.path, e.path) for e in early.entries] == [
        ("objects/a.doc", None),
        ("objects/b.pdf", "objects/b.pdf"),
    ]
    assert early.withheld == 1
    on_the_day = _plan(records, rules, today=date(2030, 1, 1))
    assert [e.path for e in on_the_day.entries] == [None, "objects/b.pdf", "objects/c/d.pdf"]
    staff = _plan(records, rules, viewer=Role.ARCHIVIST, today=date(2029, 1, 1))
    assert [e.path for e in staff.entries] == ["objects/a.doc.pdf", "objects/b.pdf", "objects/c/d.pdf"]
    closed_package = [AccessRule(package, None, AccessStatus.CLOSED, "sealed", date(2031, 1, 1))]
    with pytest.raises(ClosedPackageError):
        _plan(records, closed_package)
    assert len(_plan(records, closed_package, today=date(2031, 1, 1)).entries) == 3


def test_two_records_meant_for_one_place_get_distinct_names() -> None:
    records = [
        _record("objects/a", FileRole.ORIGINAL, "fmt/40"),
        _record("access/objects/a.pdf", FileRole.ACCESS, "fmt/477"),
        _record("objects/a.pdf", FileRole.ORIGINAL, "fmt/18"),
    ]
    paths = [e.path for e in _plan(records, []).entries]
    assert paths[0] == "objects/a.pdf" and paths[1] is not None and paths[1].startswith("objects/a.")
    assert len(set(paths)) == 2
