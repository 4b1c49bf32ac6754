"""Check -> approve -> store, as an archivist does it in the browser: a real transfer uploaded, checked, stored.

Also: a hostile archive refused by the check with nothing stored, transfer source folders confined
to themselves, approval and rejection rules, and the API equivalents.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from strongroom.accounts.model import UserRole
from strongroom.jobs.model import JobRecord, JobState
from tests.conftest import Home
from tests.web.conftest import BASE_URL, BrowserClient, Web


def zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()


def upload(browser: BrowserClient, data: bytes, filename: str) -> str:
    """Upload as upload.js does: a session, the CSRF token in a header, chunks with Content-Range."""
    headers = {"X-CSRF-Token": browser.csrf}
    made = browser.client.post("/api/v1/uploads", json={"filename": filename, "size": len(data)}, headers=headers)
    assert made.status_code == 201, made.text
    upload_id, chunk = made.json()["id"], 4096
    for first in range(0, len(data), chunk):
        piece = data[first : first + chunk]
        sent = browser.client.put(f"/api/v1/uploads/{upload_id}", content=piece, headers={
            **headers, "Content-Range": f"bytes {first}-{first + len(piece) - 1}/{len(data)}"})  # fmt: skip
        assert sent.status_code == 200, sent.text
    done = browser.client.post(f"/api/v1/uploads/{upload_id}/complete", headers=headers)
    assert done.status_code == 201, done.text
    return str(done.json()["id"])


def wait(web: Web, job_id: str) -> JobRecord:
    job: JobRecord = web.app.state.ctx.jobs.wait(job_id, timeout=120)
    assert job.state.finished, f"job {job_id} did not finish: {job}"
    return job


def transfer_of(web: Web, transfer_id: str) -> dict[str, object]:
    answer = web.client.get(f"/api/v1/transfers/{transfer_id}", headers=web.api_headers(UserRole.ARCHIVIST))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_upload_check_approve_store(web: Web, example_transfer: Path) -> None:
    browser = web.browser(UserRole.ARCHIVIST)
    transfer_id = upload(browser, zipped(example_transfer), "Parish council 1999.zip")
    check = wait(web, str(transfer_of(web, transfer_id)["check_job"]))
    assert check.state is JobState.SUCCEEDED, (check.error, check.details)

    page = browser.get(f"/ingest/transfers/{transfer_id}")
    assert page.status_code == 200
    text = page.text
    assert "Waiting for approval" in text
    for name, puid in (("Portable Network Graphics 1.0", "fmt/11"), ("Scalable Vector Graphics 1.0", "fmt/91"),
                       ("Hypertext Markup Language 5", "fmt/471"), ("Plain Text File", "x-fmt/111")):  # fmt: skip
        assert name in text and f'<td class="govuk-table__cell">{puid}</td>' in text, name
    assert "Lower Wallop Parish Council records 1999" in text  # the title metadata.csv gives
    assert "metadata.csv, rights.csv found" in text
    assert "All matched" in text  # metadata/checksum.sha256 was verified
    assert "Not scanned" in text  # the tests turn the scanner off: it says so rather than passing silently
    assert 'name="csrf_token"' in text and "Approve and store" in text and "Reject and delete the upload" in text
    report = transfer_of(web, transfer_id)["report"]
    assert isinstance(report, dict)
    assert report["originals"] == 4 and report["kind"] == "zip"
    assert {f["puid"]: f["files"] for f in report["formats"]} == {"fmt/11": 1, "fmt/91": 1, "fmt/471": 1,
                                                                  "x-fmt/111": 1}  # fmt: skip
    assert report["checksums"] == {"files_verified": 4, "sources": {"metadata/checksum.sha256": 4},
                                   "result": "all matched"}  # fmt: skip
    assert report["virus"]["ran"] is False and "off" in report["virus"]["result"]
    assert report["metadata_files"] == ["metadata.csv", "rights.csv"] and report["duplicates"] == []
    with web.home.archive() as archive:
        assert archive.catalog.packages() == []  # checked, not stored

    approved = browser.post(f"/ingest/transfers/{transfer_id}/approve", {"retention": ""})
    assert approved.status_code == 303 and approved.headers["location"] == f"/ingest/transfers/{transfer_id}"
    ingest = wait(web, str(transfer_of(web, transfer_id)["ingest_job"]))
    assert ingest.state is JobState.SUCCEEDED, (ingest.error, ingest.details)
    assert ingest.result is not None
    package = str(ingest.result["package"])
    assert ingest.result["name"] == "Parish council 1999" and ingest.result["originals"] == 4
    with web.home.archive() as archive:
        stored = archive.package(package)
    assert stored.name == "Parish council 1999" and stored.title == "Lower Wallop Parish Council records 1999"
    shown: Any = web.home.ok("show", package, "--json").json()
    assert sorted(f["path"] for f in shown["files"] if f["role"] == "original") == [
        "objects/maps/parish-boundary.svg", "objects/minutes/1999-01-07.txt", "objects/minutes/1999-01-14.html",
        "objects/village-hall.png"]  # fmt: skip

    after = browser.get(f"/ingest/transfers/{transfer_id}").text
    assert f'href="/packages/{package}"' in after and "Stored" in after
    job_page = browser.get(f"/jobs/{ingest.id}").text
    assert f'href="/packages/{package}"' in job_page  # the result page links the new package
    assert transfer_of(web, transfer_id)["state"] == "stored"
    assert not (web.home.path / "uploads" / "transfers" / transfer_id).exists()  # the upload's bytes are gone
    # Approving twice does not store twice.
    again = web.client.post(f"/api/v1/transfers/{transfer_id}/approve", headers=web.api_headers(UserRole.ARCHIVIST))
    assert again.status_code == 400 and "cannot be approved" in again.json()["error"]


def test_a_zip_slip_archive_is_refused_by_the_check_and_nothing_is_stored(web: Web, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("records/ok.txt", b"fine")
        zf.writestr("../../escape.txt", b"owned")
    browser = web.browser(UserRole.ARCHIVIST)
    transfer_id = upload(browser, buffer.getvalue(), "evil.zip")
    check = wait(web, str(transfer_of(web, transfer_id)["check_job"]))
    assert check.state is JobState.FAILED
    assert check.error is not None and "outside the transfer" in check.error
    transfer = transfer_of(web, transfer_id)
    assert transfer["state"] == "refused" and "outside the transfer" in str(transfer["error"])
    page = browser.get(f"/ingest/transfers/{transfer_id}").text
    assert "The check refused this transfer" in page and "outside the transfer" in page
    assert "Approve and store" not in page  # a refused transfer cannot be approved
    refused = browser.post(f"/ingest/transfers/{transfer_id}/approve")
    assert refused.status_code == 400
    with web.home.archive() as archive:
        assert archive.catalog.packages() == []
    for folder in (web.home.path, web.home.path.parent, tmp_path):
        assert not (folder / "escape.txt").exists()
    assert not any(p.name == "escape.txt" for p in web.home.path.rglob("*"))
    # Reject removes the upload.
    assert browser.post(f"/ingest/transfers/{transfer_id}/reject").status_code == 303
    assert transfer_of(web, transfer_id)["state"] == "rejected"
    assert not (web.home.path / "uploads" / "transfers" / transfer_id).exists()


@pytest.fixture
def sourced(home: Home, tmp_path: Path, example_transfer: Path) -> Iterator[tuple[Web, Path]]:
    """The app with a transfer source folder holding a transfer, a zip, a non-transfer and links out."""
    from strongroom.web.app import create_app

    source = tmp_path / "accessions"
    source.mkdir()
    shutil.copytree(example_transfer, source / "Parish <council> & 'minutes'")
    (source / "packed.zip").write_bytes(zipped(example_transfer))
    (source / "notes.txt").write_text("not a transfer")
    (source / ".hidden").mkdir()
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "payroll.csv").write_text("name,salary\n")
    os.symlink(outside, source / "link-out")
    config = home.path / "strongroom.toml"
    config.write_text(config.read_text(encoding="utf-8") + f'\n[web.transfer_sources]\naccessions = "{source}"\n',
                      encoding="utf-8")  # fmt: skip
    app = create_app(home.path)
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as client:
        w = Web(home, app, client)
        try:
            yield w, source
        finally:
            for other in w._clients:
                other.close()


def test_transfer_sources_list_and_confine_their_entries(sourced: tuple[Web, Path]) -> None:
    web, _source = sourced
    browser = web.browser(UserRole.ARCHIVIST)
    overview = browser.get("/ingest").text
    assert 'href="/ingest/sources/accessions"' in overview
    page = browser.get("/ingest/sources/accessions")
    assert page.status_code == 200
    assert "Parish &lt;council&gt; &amp; &#39;minutes&#39;" in page.text and "packed.zip" in page.text
    for hidden in ("notes.txt", "link-out", ".hidden", "payroll"):
        assert hidden not in page.text
    listed = web.client.get("/api/v1/transfer-sources/accessions", headers=web.api_headers(UserRole.ARCHIVIST))
    assert [e["name"] for e in listed.json()["entries"]] == ["packed.zip", "Parish <council> & 'minutes'"]
    headers = web.api_headers(UserRole.ARCHIVIST)
    for entry in ("../secret", "link-out", "..", ".", "notes.txt", "a/b", "../../etc/passwd", "missing"):
        answer = web.client.post("/api/v1/transfers", json={"source": "accessions", "entry": entry}, headers=headers)
        assert answer.status_code == 400, (entry, answer.text)
        assert "entry" in answer.json()["error"] or "neither a folder" in answer.json()["error"]
    for entry in ("\\ud800", "x" * 1000, "nul\\u0000byte"):  # not encodable, too long for a file name, a NUL
        body = '{"source": "accessions", "entry": "' + entry + '"}'
        answer = web.client.post(
            "/api/v1/transfers", content=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert answer.status_code in (400, 422), (entry[:20], answer.text)
    raw = '{"source": "elsewhere\\ud800", "entry": "x"}'  # a lone surrogate, escaped as JSON allows
    unknown = web.client.post("/api/v1/transfers", content=raw, headers={**headers, "Content-Type": "application/json"})
    assert unknown.status_code in (404, 422), unknown.text
    unknown = web.client.post("/api/v1/transfers", json={"source": "elsewhere", "entry": "x"}, headers=headers)
    assert unknown.status_code == 404
    assert web.client.get("/api/v1/transfers", headers=headers).json()["transfers"] == []  # nothing was made


def test_a_folder_from_a_source_is_checked_and_stored_with_a_retention_schedule(sourced: tuple[Web, Path]) -> None:
    web, source = sourced
    schedules = web.home.path.parent / "schedules.csv"
    schedules.write_text("code,title,description,authority,period,trigger,action\n"
                         "LG-1,Minutes,Council minutes,LGA 1972,P6Y,creation,destroy\n")  # fmt: skip
    web.home.ok("retention", "load", str(schedules))
    browser = web.browser(UserRole.ARCHIVIST)
    entry = "Parish <council> & 'minutes'"
    picked = browser.post("/ingest/sources/accessions", {"entry": entry})
    assert picked.status_code == 303
    found = re.fullmatch(r"/ingest/transfers/([0-9a-f]{32})", picked.headers["location"])
    assert found is not None
    transfer_id = found.group(1)
    assert wait(web, str(transfer_of(web, transfer_id)["check_job"])).state is JobState.SUCCEEDED
    page = browser.get(f"/ingest/transfers/{transfer_id}").text
    assert '<option value="LG-1">LG-1: Minutes</option>' in page
    unknown = web.client.post(f"/api/v1/transfers/{transfer_id}/approve", json={"retention": "NOPE"},
                              headers=web.api_headers(UserRole.ARCHIVIST))  # fmt: skip
    assert unknown.status_code == 404 and "NOPE" in unknown.json()["error"]
    assert transfer_of(web, transfer_id)["state"] == "checked"  # nothing queued
    assert browser.post(f"/ingest/transfers/{transfer_id}/approve", {"retention": "LG-1"}).status_code == 303
    job = wait(web, str(transfer_of(web, transfer_id)["ingest_job"]))
    assert job.state is JobState.SUCCEEDED, (job.error, job.details)
    assert job.result is not None
    shown: Any = web.home.ok("show", str(job.result["package"]), "--json").json()
    assert shown["name"] == entry
    with web.home.archive() as archive:
        assigned = archive.catalog.retention(str(job.result["package"]))
    assert assigned is not None and assigned.code == "LG-1"
    assert (source / entry / "metadata" / "metadata.csv").exists()  # a source is read in place, never removed


def test_a_file_changed_after_its_check_is_not_stored(web: Web, example_transfer: Path) -> None:
    browser = web.browser(UserRole.ARCHIVIST)
    transfer_id = upload(browser, zipped(example_transfer), "changing.zip")
    assert wait(web, str(transfer_of(web, transfer_id)["check_job"])).state is JobState.SUCCEEDED
    stored_file = web.home.path / "uploads" / "transfers" / transfer_id / "transfer.zip"
    with stored_file.open("ab") as handle:
        handle.write(b"tampered")
    browser.post(f"/ingest/transfers/{transfer_id}/approve")
    job = wait(web, str(transfer_of(web, transfer_id)["ingest_job"]))
    assert job.state is JobState.FAILED and job.error is not None and "changed after it was checked" in job.error
    assert transfer_of(web, transfer_id)["state"] == "failed"
    with web.home.archive() as archive:
        assert archive.catalog.packages() == []


def test_researchers_and_records_managers_cannot_ingest(web: Web) -> None:
    for role in (UserRole.RESEARCHER, UserRole.RECORDS_MANAGER):
        assert web.browser(role).get("/ingest").status_code == 403
        assert web.client.get("/api/v1/transfers", headers=web.api_headers(role)).status_code == 403
    assert web.client.get("/ingest").status_code == 303  # the public is sent to sign in


def test_the_ingest_page_lists_unfinished_uploads_and_transfers(web: Web, example_transfer: Path) -> None:
    browser = web.browser(UserRole.ARCHIVIST)
    transfer_id = upload(browser, zipped(example_transfer), "Finished <one>.zip")
    wait(web, str(transfer_of(web, transfer_id)["check_job"]))
    half = browser.client.post("/api/v1/uploads", json={"filename": "Half & half.tar.gz", "size": 5000},
                               headers={"X-CSRF-Token": browser.csrf})  # fmt: skip
    assert half.status_code == 201
    browser.client.put(f"/api/v1/uploads/{half.json()['id']}", content=b"x" * 1000,
                       headers={"X-CSRF-Token": browser.csrf, "Content-Range": "bytes 0-999/5000"})  # fmt: skip
    page = browser.get("/ingest")
    assert page.status_code == 200
    text = page.text
    assert text.count("<h1") == 1
    assert '<script type="module" src="/static/upload.js"></script>' in text
    assert 'enctype="multipart/form-data"' in text and 'name="csrf_token"' in text  # works without JavaScript
    assert '<label class="govuk-label govuk-label--s" for="transfer">' in text
    assert "Half &amp; half.tar.gz" in text and "1000 Bytes of 4.9 KiB" in text
    assert f'href="/ingest/transfers/{transfer_id}">Finished &lt;one&gt;.zip</a>' in text
    assert "Waiting for approval" in text
    # Another archivist sees the transfer (a shared queue) but not this person's unfinished upload.
    web.account("second-archivist", UserRole.ARCHIVIST)
    other = web.browser(UserRole.ARCHIVIST, name="second-archivist").get("/ingest").text
    assert "Finished &lt;one&gt;.zip" in other and "Half &amp; half" not in other


def test_a_transfer_already_stored_is_refused_unless_stored_on_purpose_as_a_second_package(
    web: Web, example_transfer: Path
) -> None:
    browser = web.browser(UserRole.ARCHIVIST)
    data = zipped(example_transfer)
    first = upload(browser, data, "first.zip")
    assert wait(web, str(transfer_of(web, first)["check_job"])).state is JobState.SUCCEEDED
    assert browser.post(f"/ingest/transfers/{first}/approve").status_code == 303
    assert wait(web, str(transfer_of(web, first)["ingest_job"])).state is JobState.SUCCEEDED

    second = upload(browser, data, "second.zip")
    assert wait(web, str(transfer_of(web, second)["check_job"])).state is JobState.SUCCEEDED
    page = browser.get(f"/ingest/transfers/{second}").text
    assert "storing it will be refused unless" in page and 'name="allow_duplicate"' in page
    assert browser.post(f"/ingest/transfers/{second}/approve").status_code == 303
    refused = wait(web, str(transfer_of(web, second)["ingest_job"]))
    assert refused.state is JobState.FAILED and refused.error is not None and "already" in refused.error.lower()
    with web.home.archive() as archive:
        assert len(archive.catalog.packages()) == 1

    assert browser.post(f"/ingest/transfers/{second}/approve", {"allow_duplicate": "yes"}).status_code == 303
    stored = wait(web, str(transfer_of(web, second)["ingest_job"]))
    assert stored.state is JobState.SUCCEEDED, (stored.error, stored.details)
    with web.home.archive() as archive:
        assert len(archive.catalog.packages()) == 2
