"""Package and file pages, their API (what `strongroom show --json --as ROLE` prints) and downloads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from strongroom.accounts.model import UserRole
from strongroom.web.downloads import ByteRange, Unsatisfiable, byte_range, content_disposition, content_type
from tests.conftest import Home, object_root, write
from tests.preservation.samples import pdf_bytes
from tests.web.conftest import Web

HOSTILE_NAME = 'Mötörhead 世界 "q"; x=1 & <b>\'.txt'
TITLE = "<script>alert('t')</script> & \"minutes\""


@pytest.fixture
def package(home: Home, tmp_path: Path) -> str:
    root = tmp_path / "council-minutes"
    write(root / "objects/minutes.pdf", pdf_bytes("minutes of the harbour board"))
    write(root / f"objects/{HOSTILE_NAME}", "a file with a hostile name\n" * 2000)
    for n in range(55):
        write(root / f"objects/letters/letter-{n:02}.txt", f"letter number {n}")
    write(root / "metadata/metadata.csv",
          f'filename,dc.title,dc.identifier,dc.date,dc.creator\nobjects,"{TITLE.replace(chr(34), chr(34) * 2)}",'
          "CM/1,1999,Town Clerk\n")  # fmt: skip
    return str(home.ingest(root)["package"])


def _api(web: Web, role: UserRole, path: str, **kwargs: object) -> object:
    answer = web.client.get(path, headers=web.api_headers(role), **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text[:500]
    return answer.json()


@pytest.mark.parametrize(("role", "as_role"), [
    (UserRole.PUBLIC, "researcher"), (UserRole.RESEARCHER, "researcher"), (UserRole.ARCHIVIST, "archivist"),
    (UserRole.ADMIN, "admin"),
])  # fmt: skip
def test_the_package_api_answers_what_show_json_prints(
    web: Web, home: Home, package: str, role: UserRole, as_role: str
) -> None:
    home.ok("access", package, "--file", "objects/letters/letter-07.txt", "--status", "closed", "--reason", "private")
    shown = home.ok("show", package, "--json", "--as", as_role).json()
    assert _api(web, role, f"/api/v1/packages/{package}") == shown
    assert _api(web, role, f"/api/v1/packages/{package}", params={"files": 3}) == {**shown, "files": shown["files"][:3]}  # type: ignore[index]


def test_the_package_page_for_the_public_escapes_hostile_text_and_pages_the_files(web: Web, package: str) -> None:
    page = web.client.get(f"/packages/{package}")

    assert page.status_code == 200
    html = page.text
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in html
    assert "Town Clerk" in html and "CM/1" in html
    assert "Mötörhead 世界 &#34;q&#34;; x=1 &amp; &lt;b&gt;&#39;.txt" in html
    assert f'href="/packages/{package}/download/objects/{quote(HOSTILE_NAME)}"' in html
    assert "Events" not in html and "Copies and fixity" not in html  # staff only
    assert "page 1 of 2" in html and f'href="/packages/{package}?page=2#files"' in html
    second = web.client.get(f"/packages/{package}", params={"page": 2}).text
    assert "letter-54.txt" in second and "letter-00.txt" not in second
    assert web.client.get(f"/packages/{package}", params={"page": 0}).status_code == 422


def test_the_package_page_for_staff_has_versions_events_access_fixity_retention_and_holds(
    web: Web, home: Home, package: str
) -> None:
    home.ok("hold", "place", package, "--type", "litigation", "--reason", "case <42>", "--reference", "LIT/7")
    home.ok("access", package, "--file", "objects/letters", "--status", "closed", "--reason", "personal <data>")
    html = web.browser(UserRole.ARCHIVIST).get(f"/packages/{package}").text

    for words in ("Versions", "Events", "Access rules", "Copies and fixity", "Retention and holds", "hold placed",
                  "litigation hold LIT/7", "case &lt;42&gt;", "personal &lt;data&gt;", "objects/letters"):  # fmt: skip
        assert words in html, words
    assert f"/records/packages/{package}" not in html  # an archivist does not manage records
    manager = web.browser(UserRole.RECORDS_MANAGER).get(f"/packages/{package}").text
    assert f'href="/records/packages/{package}"' in manager


def test_the_file_page_and_its_api(web: Web, package: str) -> None:
    path = "objects/minutes.pdf"
    page = web.client.get(f"/packages/{package}/files/{path}")
    data = _api(web, UserRole.PUBLIC, f"/api/v1/packages/{package}/files/{path}")

    assert page.status_code == 200
    assert (
        "Acrobat PDF" in page.text
        and hashlib.sha256(pdf_bytes("minutes of the harbour board")).hexdigest() in page.text
    )
    assert isinstance(data, dict)
    assert (data["path"], data["puid"], data["role"], data["current"]) == (path, "fmt/18", "original", True)
    assert data["download"] == f"/packages/{package}/download/{path}" and data["access_copy"] is None
    assert "characterisation" not in data and "access" not in data  # staff only
    staff = _api(web, UserRole.ARCHIVIST, f"/api/v1/packages/{package}/files/{path}")
    assert isinstance(staff, dict) and staff["characterisation"] == [] and staff["access"] is None
    # Housekeeping files are listed but not given out to the public: they can name closed records.
    mets = _api(web, UserRole.PUBLIC, f"/api/v1/packages/{package}/files/METS.{package}.xml")
    assert isinstance(mets, dict) and mets["download"] is None
    assert web.client.get(f"/packages/{package}/download/METS.{package}.xml").status_code == 404
    assert web.client.get(f"/packages/{package}/files/objects/nothing.pdf").status_code == 404


def test_downloads_are_byte_identical_with_safe_headers(web: Web, home: Home, package: str, tmp_path: Path) -> None:
    deposited = ("a file with a hostile name\n" * 2000).encode()
    for door in (f"/packages/{package}/download/objects/{quote(HOSTILE_NAME)}",
                 f"/api/v1/packages/{package}/download/objects/{quote(HOSTILE_NAME)}"):  # fmt: skip
        answer = web.client.get(door)
        assert answer.status_code == 200
        assert hashlib.sha256(answer.content).hexdigest() == hashlib.sha256(deposited).hexdigest()
        headers = answer.headers
        assert headers["content-length"] == str(len(deposited))
        assert headers["x-content-type-options"] == "nosniff" and headers["content-type"].startswith("text/plain")
        disposition = headers["content-disposition"]
        assert "\r" not in disposition and "\n" not in disposition
        assert disposition.startswith('attachment; filename="') and disposition.count('"') == 2
        assert unquote(disposition.split("filename*=UTF-8''")[1]) == HOSTILE_NAME
        assert headers["etag"] == f'"{hashlib.sha256(deposited).hexdigest()}"'
    pdf = web.client.get(f"/packages/{package}/download/objects/minutes.pdf")
    assert pdf.content == pdf_bytes("minutes of the harbour board") and pdf.headers["content-type"] == "application/pdf"


def test_range_requests_and_head(web: Web, package: str) -> None:
    door = f"/packages/{package}/download/objects/minutes.pdf"
    whole = pdf_bytes("minutes of the harbour board")
    part = web.client.get(door, headers={"Range": "bytes=5-14"})
    assert part.status_code == 206 and part.content == whole[5:15]
    assert part.headers["content-range"] == f"bytes 5-14/{len(whole)}" and part.headers["content-length"] == "10"
    tail = web.client.get(door, headers={"Range": "bytes=-7"})
    assert tail.status_code == 206 and tail.content == whole[-7:]
    beyond = web.client.get(door, headers={"Range": f"bytes={len(whole)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(whole)}"
    stale = web.client.get(door, headers={"Range": "bytes=0-3", "If-Range": '"not-the-etag"'})
    assert stale.status_code == 200 and stale.content == whole
    several = web.client.get(door, headers={"Range": "bytes=0-1,4-5"})
    assert several.status_code == 200 and several.content == whole
    head = web.client.head(door)
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(whole))


def test_a_damaged_stored_copy_is_never_sent_as_a_whole_file(web: Web, home: Home, package: str) -> None:
    stored = next(object_root(home, package).rglob("minutes.pdf"))
    good = stored.read_bytes()
    stored.write_bytes(good[:-4] + b"XXXX")  # same length, other bytes

    with pytest.raises(OSError, match="damaged"):
        web.client.get(f"/packages/{package}/download/objects/minutes.pdf")
    assert web.client.get(f"/packages/{package}/download/objects/minutes.pdf",
                          headers={"Range": "bytes=0-3"}).content == good[:4]  # fmt: skip


def test_earlier_versions_are_for_staff_only(web: Web, home: Home, package: str, tmp_path: Path) -> None:
    csv = write(tmp_path / "new.csv", "filename,dc.title\nobjects,Council minutes (catalogued)\n")
    home.ok("update", package, "--metadata", str(csv), "--reason", "recatalogued")
    mets = f"METS.{package}.xml"
    staff = web.browser(UserRole.ARCHIVIST)
    old = staff.get(f"/packages/{package}/download/{mets}", params={"version": 1})
    new = staff.get(f"/packages/{package}/download/{mets}")
    assert old.status_code == new.status_code == 200 and old.content != new.content
    assert "Council minutes (catalogued)" in new.text and "Council minutes (catalogued)" not in old.text
    assert staff.get(f"/packages/{package}/files/objects/minutes.pdf", params={"version": 1}).status_code == 200
    assert staff.get(f"/packages/{package}/download/{mets}", params={"version": 9}).status_code == 404
    for role in (UserRole.PUBLIC, UserRole.RESEARCHER):
        original = f"/api/v1/packages/{package}/download/objects/minutes.pdf"
        assert web.client.get(original, params={"version": 1}, headers=web.api_headers(role)).status_code == 404
        assert web.client.get(original, params={"version": 2}, headers=web.api_headers(role)).status_code == 200


def test_the_package_list_is_for_staff(web: Web, package: str) -> None:
    assert web.client.get("/api/v1/packages").status_code == 401
    listed = _api(web, UserRole.ARCHIVIST, "/api/v1/packages")
    assert isinstance(listed, list) and [p["package"] for p in listed] == [package]
    html = web.browser(UserRole.ARCHIVIST).get("/packages").text
    assert f'href="/packages/{package}"' in html and "&lt;script&gt;" in html


# --- the download helpers on their own ---------------------------------------------------------------------


@pytest.mark.parametrize(("header", "size", "wanted"), [
    (None, 10, None), ("bytes=0-4", 10, ByteRange(0, 4)), ("bytes=5-", 10, ByteRange(5, 9)),
    ("bytes=-3", 10, ByteRange(7, 9)), ("bytes=-30", 10, ByteRange(0, 9)), ("bytes=2-100", 10, ByteRange(2, 9)),
    ("bytes=4-2", 10, None), ("items=0-1", 10, None), ("bytes=0-1,3-4", 10, None), ("bytes=-", 10, None),
])  # fmt: skip
def test_byte_ranges(header: str | None, size: int, wanted: ByteRange | None) -> None:
    assert byte_range(header, size) == wanted


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=-0", "bytes=99-100"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        byte_range(header, 10)


@pytest.mark.parametrize("name", ['a"b.txt', "x\r\nSet-Cookie: s=1.txt", "über 世界.pdf", "; filename=evil.exe", "",
                                  "\\..\\win.ini", "\udcff.bin"])  # fmt: skip
def test_content_disposition_cannot_be_broken_out_of(name: str) -> None:
    header = content_disposition(name)
    fallback = header.split('filename="')[1].split('"')[0]
    encoded = header.split("filename*=UTF-8''")[1]
    assert header.count('"') == 2 and all(c.isprintable() for c in header) and header.isascii()
    assert ";" not in fallback and "\\" not in fallback and ";" not in encoded and " " not in encoded
    assert unquote(encoded, errors="surrogateescape") == (name.replace("\x00", "") or "download")


def test_content_type_only_from_a_well_formed_media_type() -> None:
    assert content_type("application/pdf") == "application/pdf"
    assert content_type("text/html\r\nX-Evil: 1") == "application/octet-stream"
    assert content_type(None) == "application/octet-stream"
    assert json.dumps(content_type("image/svg+xml")) == '"image/svg+xml"'


def test_access_copies_of_open_records_only(web: Web, home: Home, tmp_path: Path) -> None:
    from strongroom.model import AccessStatus
    from strongroom.preservation.actions import Purpose
    from tests.preservation.media import make_images

    bmp = make_images(tmp_path / "images", ["bmp3"])["bmp3"]
    root = tmp_path / "parish-maps"
    write(root / "objects/map.bmp", bmp.read_bytes())
    write(root / "objects/secret/plan.bmp", bmp.read_bytes()[:-4] + b"\x01\x02\x03\x04")
    package = str(home.ingest(root)["package"])
    with home.archive() as archive:
        assert archive.migrate([package], "test-archivist", purposes=[Purpose.ACCESS]).ok
        archive.set_access(package, "objects/secret", AccessStatus.CLOSED, "personal data", None, "test")
        copies = {f.path: f for f in archive.catalog.files(package) if f.path.startswith("access/")}
    assert set(copies) == {"access/objects/map.bmp.png", "access/objects/secret/plan.bmp.png"}

    data = _api(web, UserRole.PUBLIC, f"/api/v1/packages/{package}/files/objects/map.bmp")
    assert isinstance(data, dict) and data["access_copy"]["path"] == "access/objects/map.bmp.png"
    page = web.client.get(f"/packages/{package}/files/objects/map.bmp").text
    assert f'href="/packages/{package}/download/access/objects/map.bmp.png"' in page and "Access copy" in page
    copy = web.client.get(data["access_copy"]["download"])
    assert copy.status_code == 200 and copy.headers["content-type"] == "image/png"
    assert hashlib.sha256(copy.content).hexdigest() == copies["access/objects/map.bmp.png"].sha256
    assert copy.headers["content-disposition"].endswith("filename*=UTF-8''map.bmp.png")
    for path in ("access/objects/secret/plan.bmp.png", "objects/secret/plan.bmp"):
        assert web.client.get(f"/packages/{package}/download/{path}").status_code == 404
        assert web.client.get(f"/api/v1/packages/{package}/files/{path}").status_code == 404
    staff = _api(web, UserRole.ARCHIVIST, f"/api/v1/packages/{package}/files/objects/secret/plan.bmp")
    assert isinstance(staff, dict) and staff["access_copy"]["path"] == "access/objects/secret/plan.bmp.png"
    # Nothing of the closed record anywhere in what the public gets of the package (versions' messages included).
    for door in (f"/api/v1/packages/{package}", f"/packages/{package}"):
        assert "plan.bmp" not in web.client.get(door).text
