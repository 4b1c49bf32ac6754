"""A researcher (or the public) can never reach a closed record: by search, page, download, API or guessed URL.

One real archive holds an open package (with a closed file and a restricted file in it), a closed package,
a closed package with a redacted title, a restricted package and a package whose closure ended in 2001.
Each hidden thing carries its own distinctive word in its folder name, file name, title and content (a PDF
and text); the test asks for it every way a visitor could and asserts that the word is in no body and no
header, and that the answers are those for something that does not exist. Staff see it all, journalled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pytest

from strongroom.accounts.model import UserRole
from tests.conftest import Home, write
from tests.preservation.samples import pdf_bytes
from tests.web.conftest import BrowserClient, Web

CLOSED = "zanzibarclosed"  # a closed package, no redacted title: it does not exist for a researcher
REDACTED = "quetzalredacted"  # a closed package with a redacted title: only its stand-in
RESTRICTED = "wombatrestricted"  # a restricted package: only its stand-in
CLOSED_FILE = "narwhalclosedfile"  # a closed file of an open package
RESTRICTED_FILE = "ocelotrestrictedfile"  # a restricted file (redacted title) of an open package
HIDDEN = (CLOSED, REDACTED, RESTRICTED, CLOSED_FILE, RESTRICTED_FILE)
OPENED = "heronopened"  # closed until 2001: open now
OPEN_WORD = "lighthouse"
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"
VISITORS = (UserRole.PUBLIC, UserRole.RESEARCHER)


@dataclass
class Archive5:
    open_pkg: str
    closed: str
    redacted: str
    restricted: str
    opened: str
    names: dict[str, str]  # package uuid -> name
    paths: dict[str, list[str]] = field(default_factory=dict)  # package uuid -> every catalogued path
    originals: dict[str, bytes] = field(default_factory=dict)  # path in the open package -> bytes deposited


def _transfer(root: Path, word: str, title: str, extra: dict[str, bytes | str] | None = None) -> Path:
    write(root / f"objects/{word}-report.pdf", pdf_bytes(f"{word} report on the {OPEN_WORD}"))
    write(root / f"objects/{word}-notes.txt", f"notes: {word} and the harbour {OPEN_WORD}")
    for path, content in (extra or {}).items():
        write(root / path, content)
    write(root / "metadata/metadata.csv",
          f"filename,dc.title,dc.identifier,dc.date\nobjects,\"{title}\",REF/{root.name[:3]},1999\n")  # fmt: skip
    return root


@pytest.fixture
def archive5(home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Archive5:
    monkeypatch.setenv("STRONGROOM_EXTRACT_TEXT", "1")  # the words inside the PDFs are in the index
    open_root = tmp_path / "harbour-open"
    hostile = "objects/odd <b>\"name\"</b> & 'q'.txt"
    _transfer(open_root, "opentoken", f"Harbour {OPEN_WORD} papers", {
        f"objects/private/{CLOSED_FILE}.txt": f"{CLOSED_FILE} in confidence",
        f"objects/hr/{RESTRICTED_FILE}.pdf": pdf_bytes(f"{RESTRICTED_FILE} appraisal"),
        hostile: "hostile name, open content",
    })  # fmt: skip
    with (open_root / "metadata/metadata.csv").open("a") as csv:
        csv.write(f"objects/private/{CLOSED_FILE}.txt,{CLOSED_FILE} title,REF/P/1,1998\n")
        csv.write(f"objects/hr/{RESTRICTED_FILE}.pdf,{RESTRICTED_FILE} title,REF/P/2,1998\n")
    uuids = {}
    for word, title in ((CLOSED, f"{CLOSED} board minutes"), (REDACTED, f"{REDACTED} tribunal papers"),
                        (RESTRICTED, f"{RESTRICTED} staff files"), (OPENED, f"{OPENED} ferry papers")):  # fmt: skip
        uuids[word] = str(home.ingest(_transfer(tmp_path / f"{word}-files", word, title))["package"])
    open_pkg = str(home.ingest(open_root)["package"])
    home.ok("access", uuids[CLOSED], "--status", "closed", "--reason", "sealed", "--exemption", "s.41")
    home.ok("access", uuids[REDACTED], "--status", "closed", "--reason", "sealed", "--until", "2090-01-01",
            "--exemption", "s.40", "--redacted-title", "Tribunal papers (withheld)")  # fmt: skip
    home.ok("access", uuids[RESTRICTED], "--status", "restricted", "--reason", "personal", "--until", "2080-01-01",
            "--exemption", "s.40")  # fmt: skip
    home.ok("access", uuids[OPENED], "--status", "closed", "--reason", "was sealed", "--until", "2001-01-01")
    home.ok("access", open_pkg, "--file", f"objects/private/{CLOSED_FILE}.txt", "--status", "closed",
            "--reason", "in confidence")  # fmt: skip
    home.ok("access", open_pkg, "--file", f"objects/hr/{RESTRICTED_FILE}.pdf", "--status", "restricted", "--reason",
            "personal", "--until", "2075-01-01", "--exemption", "s.40", "--redacted-title", "Appraisal")  # fmt: skip
    found = Archive5(open_pkg, uuids[CLOSED], uuids[REDACTED], uuids[RESTRICTED], uuids[OPENED], {})
    with home.archive() as archive:
        for summary in archive.catalog.packages():
            found.names[summary.uuid] = summary.name
            found.paths[summary.uuid] = [f.path for f in archive.catalog.files(summary.uuid)]
    for path in found.paths[open_pkg]:
        if path.startswith("objects/"):
            found.originals[path] = (open_root / path).read_bytes()
    return found


class Visitor:
    """One role's way in: the API by bearer token, pages by a signed-in browser (the public: no sign-in)."""

    def __init__(self, web: Web, role: UserRole) -> None:
        self.web, self.role = web, role
        self._browser: BrowserClient | None = None

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        if path.startswith("/api/"):
            headers = {**self.web.api_headers(self.role), **kwargs.pop("headers", {})}  # type: ignore[dict-item]
            return self.web.client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
        if self.role is UserRole.PUBLIC:
            return self.web.client.request(method, path, **kwargs)  # type: ignore[arg-type]
        if self._browser is None:
            self._browser = self.web.browser(self.role)
        return self._browser.client.request(method, path, **kwargs)  # type: ignore[arg-type]

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.request("GET", path, **kwargs)


def leaked(response: httpx.Response, typed: tuple[str, ...] = ()) -> list[str]:
    """The hidden words found anywhere in the answer: body (raw and JSON-unescaped) or any header.

    What the visitor typed (`typed`: a name, a path) may be echoed back, as it is for a name that does not exist.
    """
    text = response.content.decode("utf-8", "replace").lower()
    with contextlib.suppress(ValueError):
        text += json.dumps(response.json(), ensure_ascii=False).lower()
    text += " ".join(f"{k}: {v}" for k, v in response.headers.items()).lower()
    for echo in sorted(typed, key=len, reverse=True):
        text = text.replace(echo.lower(), "")
    return [w for w in HIDDEN if w in text]


def q(path: str) -> str:
    return quote(path, safe="/")


def every_door(a: Archive5, package: str) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """Every way to ask for a package and each of its files (pages, API, downloads; by UUID, prefix and name),
    with what the visitor typed."""
    name = a.names[package]
    for ref in (package, package[:8], name, name.upper()):
        yield "GET", f"/packages/{quote(ref, safe='')}", (ref,)
        yield "GET", f"/api/v1/packages/{quote(ref, safe='')}", (ref,)
        yield "GET", f"/api/v1/search?package={quote(ref, safe='')}", (ref,)
    for path in a.paths[package]:
        for ref in (package, name):
            base = f"/packages/{quote(ref, safe='')}"
            typed = (ref, path)
            yield "GET", f"{base}/files/{q(path)}", typed
            yield "GET", f"/api/v1{base}/files/{q(path)}", typed
            yield "GET", f"{base}/download/{q(path)}", typed
            yield "HEAD", f"{base}/download/{q(path)}", typed
            yield "GET", f"/api/v1{base}/download/{q(path)}", typed
            yield "GET", f"{base}/download/{q(path)}?version=1", typed


def test_hidden_packages_and_files_never_leak_by_any_route(web: Web, archive5: Archive5) -> None:
    a = archive5
    hidden_files = [p for p in a.paths[a.open_pkg] if CLOSED_FILE in p or RESTRICTED_FILE in p]
    assert len(hidden_files) >= 2  # the records themselves, and their extracted text
    for role in VISITORS:
        visitor = Visitor(web, role)
        for package in (a.closed, a.redacted, a.restricted):
            for method, path, typed in every_door(a, package):
                answer = visitor.request(method, path)
                assert not leaked(answer, typed), (role, method, path, answer.status_code, leaked(answer, typed))
                if "/files/" in path or "/download/" in path or package == a.closed:
                    assert answer.status_code == 404, (role, method, path, answer.status_code)
        for path in [*hidden_files, "metadata/metadata.csv", f"METS.{a.open_pkg}.xml"]:
            for door in (f"/packages/{a.open_pkg}/download/{q(path)}", f"/api/v1/packages/{a.open_pkg}/files/{q(path)}",
                         f"/packages/{a.open_pkg}/files/{q(path)}" if "objects/" in path else "/search"):  # fmt: skip
                answer = visitor.get(door)
                assert not leaked(answer, (path,)), (role, door, leaked(answer, (path,)))
                if "download" in door or CLOSED_FILE in path or RESTRICTED_FILE in path:
                    assert answer.status_code == 404, (role, door, answer.status_code)
        # The open package shows its open records and the restricted file's stand-in, nothing of the hidden two.
        for door in (f"/packages/{a.open_pkg}", f"/api/v1/packages/{a.open_pkg}"):
            answer = visitor.get(door)
            assert answer.status_code == 200 and not leaked(answer), (role, door, leaked(answer))
            assert "Appraisal" in answer.text and "opentoken-report.pdf" in answer.text


def test_search_finds_nothing_hidden_by_word_title_name_or_facet(web: Web, archive5: Archive5) -> None:
    a = archive5
    for role in VISITORS:
        visitor = Visitor(web, role)
        for word in HIDDEN:
            for door in (f"/api/v1/search?q={word}&facet=all&include_housekeeping=true",
                         f"/api/v1/search?q={word}*&kind=file", f"/api/v1/search?q={word}-report.pdf",
                         f"/api/v1/search?creator={word}&facet=all",
                         "/api/v1/search?format=Plain+Text+File&facet=all&page_size=100"):  # fmt: skip
                answer = visitor.get(door)
                assert answer.status_code == 200, (role, door, answer.text[:300])
                assert not leaked(answer), (role, door, leaked(answer))
                assert word not in {h["path"] for h in answer.json()["hits"]}
            # The page echoes the words asked for: it must be the very page a word found nowhere gets.
            nowhere = "q" * len(word)
            for door in ("/search?q={}&include_housekeeping=true", "/search?q={}*&kind=file"):
                hidden, absent = visitor.get(door.format(word)), visitor.get(door.format(nowhere))
                assert hidden.status_code == absent.status_code == 200
                assert hidden.text.replace(word, nowhere) == absent.text, (role, door)
        everything = visitor.get("/api/v1/search?facet=all&page_size=100&include_housekeeping=true").json()
        assert not leaked(visitor.get("/api/v1/search?facet=all&page_size=100&include_housekeeping=true"))
        packages = {h["package"] for h in everything["hits"]}
        assert a.closed not in packages and a.closed not in everything["facets"]["package"]
        # The stand-ins are found, with their redacted title and exemption and no content.
        shown = visitor.get("/search?q=tribunal").text
        assert "Closed record: Tribunal papers (withheld)" in shown and "(exemption s.40)" in shown
        masked = [h for h in everything["hits"] if h["masked"]]
        assert {h["title"] for h in masked} >= {"Tribunal papers (withheld)", "Appraisal"}
        assert all(h["snippet"] is None and h["path"] is None for h in masked)
        # The word inside the open PDF is found; the closure that ended in 2001 no longer hides anything.
        found = visitor.get(f"/api/v1/search?q={OPEN_WORD}&kind=file&page_size=100").json()
        assert "objects/opentoken-report.pdf" in {h["path"] for h in found["hits"]}
        assert visitor.get(f"/api/v1/search?q={OPENED}").json()["total"] >= 1


def _same_as_unknown(visitor: Visitor, door: str, ref: str, unknown: str) -> None:
    hidden, absent = visitor.get(door.format(ref=quote(ref, safe=""))), visitor.get(door.format(ref=unknown))
    assert hidden.status_code == absent.status_code == 404, (door, hidden.status_code, absent.status_code)
    assert hidden.text.replace(ref, unknown) == absent.text, door
    assert hidden.headers.get("content-type") == absent.headers.get("content-type")


def test_a_closed_package_is_answered_exactly_as_one_that_does_not_exist(web: Web, archive5: Archive5) -> None:
    a = archive5
    name = a.names[a.closed]
    for role in VISITORS:
        visitor = Visitor(web, role)
        for door in ("/packages/{ref}", "/api/v1/packages/{ref}", "/packages/{ref}/files/objects/x.txt",
                     "/api/v1/packages/{ref}/download/objects/x.txt", "/packages/{ref}/download/objects/x.txt",
                     "/api/v1/search?package={ref}"):  # fmt: skip
            _same_as_unknown(visitor, door, a.closed, UNKNOWN_UUID)
            _same_as_unknown(visitor, door, name, "no-such-package-" + "x" * max(0, len(name) - 16))
        # A restricted package's file is as absent as a file it never had.
        real = f"objects/{RESTRICTED}-notes.txt"
        fake = "objects/" + "x" * (len(real) - len("objects/"))
        hidden = visitor.get(f"/api/v1/packages/{a.restricted}/files/{real}")
        absent = visitor.get(f"/api/v1/packages/{a.restricted}/files/{fake}")
        assert hidden.status_code == absent.status_code == 404
        assert hidden.json() == json.loads(absent.text.replace(fake, real))


def test_guessed_urls_reach_nothing(web: Web, archive5: Archive5) -> None:
    a = archive5
    closed_file = f"objects/private/{CLOSED_FILE}.txt"
    guesses = [
        f"/packages/{a.open_pkg}/download/objects/../{closed_file}",
        f"/packages/{a.open_pkg}/download/objects/hr/../private/{CLOSED_FILE}.txt",
        f"/packages/{a.open_pkg}/download/objects%2Fprivate%2F{CLOSED_FILE}.txt",
        f"/packages/{a.open_pkg}/download/OBJECTS/PRIVATE/{CLOSED_FILE.upper()}.TXT",
        f"/packages/{a.open_pkg}/download/objects//private/{CLOSED_FILE}.txt",
        f"/packages/{a.open_pkg}/download/./{closed_file}",
        f"/packages/{a.open_pkg}/download/{closed_file}%00",
        f"/packages/{a.open_pkg}/download/text/{closed_file}.txt",
        f"/packages/{a.open_pkg}/download/access/{closed_file}.pdf",
        f"/packages/{a.open_pkg}/download/{closed_file}?version=1",
        f"/packages/{a.open_pkg}/download/{closed_file}?version=2",
        f"/packages/{a.open_pkg.upper()}/download/{closed_file}",
        f"/packages/{a.closed.upper()}",
        f"/packages/{a.closed[:8]}",
        f"/packages/{a.closed}%00",
        f"/packages/%2e%2e/{a.closed}",
        f"/api/v1/packages/%00{a.closed}/files/objects/{CLOSED}-notes.txt",
        f"/api/v1/search?package={a.closed}%00",
        f"/api/v1/packages/{a.closed}/download/objects/{CLOSED}-notes.txt?version=1",
        f"/api/v1/packages/{a.redacted}/download/objects/{REDACTED}-report.pdf",
        f"/api/v1/packages/{a.restricted}/download/METS.{a.restricted}.xml",
        f"/api/v1/packages/{a.open_pkg}/download/METS.{a.open_pkg}.xml",
    ]
    for role in VISITORS:
        visitor = Visitor(web, role)
        for door in guesses:
            for method in ("GET", "HEAD"):
                answer = visitor.request(method, door)
                # Downloads answer HEAD (404 here); pages and the rest of the API do not take it (405, or 404 for
                # a path no route has).
                wanted = (404,) if method == "GET" or "/download/" in door else (404, 405)
                assert answer.status_code in wanted, (role, method, door, answer.status_code)
                asked = unquote(answer.url.path.partition("/download/")[2])
                typed = (asked, asked.replace("\x00", ""))  # a missing file's name is echoed
                assert not leaked(answer, typed), (role, door, leaked(answer, typed))
        ranged = visitor.get(guesses[0], headers={"Range": "bytes=0-5"})
        assert ranged.status_code == 404 and not leaked(ranged, (closed_file,))


def test_open_records_download_byte_identical_and_the_past_closure_is_open(web: Web, archive5: Archive5) -> None:
    a = archive5
    for role in VISITORS:
        visitor = Visitor(web, role)
        for path, deposited in a.originals.items():
            if CLOSED_FILE in path or RESTRICTED_FILE in path:
                continue
            for door in (
                f"/packages/{a.open_pkg}/download/{q(path)}",
                f"/api/v1/packages/{a.open_pkg}/download/{q(path)}",
            ):
                answer = visitor.get(door)
                assert answer.status_code == 200, (role, door, answer.text[:200])
                assert hashlib.sha256(answer.content).hexdigest() == hashlib.sha256(deposited).hexdigest()
        opened = visitor.get(f"/api/v1/packages/{a.opened}").json()
        assert opened["title"] == f"{OPENED} ferry papers" and opened["withheld"] == 0
        pdf = visitor.get(f"/packages/{a.opened}/download/objects/{OPENED}-report.pdf")
        assert pdf.status_code == 200 and pdf.content == pdf_bytes(f"{OPENED} report on the {OPEN_WORD}")


def _closed_views(home: Home) -> list[tuple[str, str]]:
    from strongroom.accounts.audit import CLOSED_VIEWED

    with home.archive() as archive:
        return [
            (e.package, e.data["account"]["what"]) for e in archive.journal.entries() if e.event.type == CLOSED_VIEWED
        ]


@pytest.mark.parametrize("role", [UserRole.ARCHIVIST, UserRole.ADMIN])
def test_staff_see_every_hidden_record_and_each_look_is_journalled(
    web: Web, archive5: Archive5, role: UserRole
) -> None:
    a = archive5
    staff = Visitor(web, role)
    before = _closed_views(web.home)
    page = staff.get(f"/packages/{a.closed}")
    assert page.status_code == 200 and CLOSED in page.text
    assert staff.get(f"/api/v1/packages/{a.restricted}").json()["title"] == f"{RESTRICTED} staff files"
    closed_file = f"objects/private/{CLOSED_FILE}.txt"
    answer = staff.get(f"/packages/{a.open_pkg}/download/{closed_file}")
    assert answer.status_code == 200 and answer.content == a.originals[closed_file]
    assert staff.get(f"/packages/{a.open_pkg}/files/{closed_file}").status_code == 200
    mets = staff.get(f"/api/v1/packages/{a.closed}/download/METS.{a.closed}.xml")
    assert mets.status_code == 200 and CLOSED in mets.text
    found = staff.get(f"/api/v1/search?q={CLOSED_FILE}").json()
    assert closed_file in {h["path"] for h in found["hits"]}
    # An open record of an open package is not a closed record: no journal entry for it.
    assert staff.get(f"/packages/{a.opened}").status_code == 200
    views = _closed_views(web.home)[len(before) :]
    assert [package for package, _ in views] == [a.closed, a.restricted, a.open_pkg, a.open_pkg, a.closed]
    assert any(closed_file in what for _, what in views)
