"""Chunked, resumable uploads through the API (and the form post without JavaScript), on a real app and disk."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from strongroom.accounts.model import UserRole
from strongroom.jobs.model import JobState
from tests.conftest import Home
from tests.web.conftest import BASE_URL, Web

LIMIT = 64 * 1024


def a_zip(size_hint: int = 20_000) -> bytes:
    """A real little transfer as a zip, with incompressible content so it has about `size_hint` bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("records/notes.txt", b"Minutes of the parish meeting.\n")
        zf.writestr("records/noise.bin", hashlib.shake_256(b"seed").digest(size_hint))
    return buffer.getvalue()


@pytest.fixture
def small(home: Home) -> Iterator[Web]:
    """The app with a small upload limit, so limits can be tested with small files."""
    from strongroom.web.app import create_app

    config = home.path / "strongroom.toml"
    config.write_text(config.read_text(encoding="utf-8") + f"\n[web]\nupload_limit = {LIMIT}\n", encoding="utf-8")
    app = create_app(home.path)
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as client:
        w = Web(home, app, client)
        try:
            yield w
        finally:
            for other in w._clients:
                other.close()


def parts_dir(w: Web) -> Path:
    return w.home.path / "uploads" / "parts"


def start(w: Web, data: bytes, filename: str = "parish-minutes.zip", role: UserRole = UserRole.ARCHIVIST,
          sha256: str | None = None) -> dict[str, object]:  # fmt: skip
    body: dict[str, object] = {"filename": filename, "size": len(data)}
    if sha256 is not None:
        body["sha256"] = sha256
    answer = w.client.post("/api/v1/uploads", json=body, headers=w.api_headers(role))
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["received"] == 0 and made["chunk_size"] > 0 and made["size"] == len(data)
    return dict(made)


def put(w: Web, upload_id: object, data: bytes, first: int, total: int, role: UserRole = UserRole.ARCHIVIST,
        last: int | None = None) -> httpx.Response:  # fmt: skip
    last = first + len(data) - 1 if last is None else last
    headers = {**w.api_headers(role), "Content-Range": f"bytes {first}-{last}/{total}",
               "Content-Type": "application/octet-stream"}  # fmt: skip
    answer: httpx.Response = w.client.put(f"/api/v1/uploads/{upload_id}", content=data, headers=headers)
    return answer


def test_a_chunked_upload_becomes_a_transfer_and_is_checked(web: Web) -> None:
    data = a_zip()
    made = start(web, data, sha256=hashlib.sha256(data).hexdigest())
    middle = len(data) // 2
    first = put(web, made["id"], data[:middle], 0, len(data))
    assert first.status_code == 200 and first.json()["received"] == middle
    asked = web.client.get(f"/api/v1/uploads/{made['id']}", headers=web.api_headers(UserRole.ARCHIVIST))
    assert asked.json()["received"] == middle
    second = put(web, made["id"], data[middle:], middle, len(data))
    assert second.json()["received"] == len(data)
    done = web.client.post(f"/api/v1/uploads/{made['id']}/complete", headers=web.api_headers(UserRole.ARCHIVIST))
    assert done.status_code == 201, done.text
    transfer = done.json()
    assert transfer["filename"] == "parish-minutes.zip" and transfer["name"] == "parish-minutes"
    assert transfer["state"] == "checking" and transfer["check_job"]
    assert "path" not in transfer  # the server's folders are not the client's business
    job = web.app.state.ctx.jobs.wait(transfer["check_job"], timeout=60)
    assert job.state is JobState.SUCCEEDED, (job.error, job.details)
    checked = web.client.get(f"/api/v1/transfers/{transfer['id']}", headers=web.api_headers(UserRole.ARCHIVIST))
    assert checked.json()["state"] == "checked"
    assert checked.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert checked.json()["report"]["originals"] == 2
    # The upload itself is gone (its bytes moved to the transfer), and nothing was stored yet.
    assert list(parts_dir(web).iterdir()) == []
    with web.home.archive() as archive:
        assert archive.catalog.packages() == []


def test_a_chunk_out_of_order_gets_409_with_the_offset_to_resume_from(web: Web) -> None:
    data = a_zip()
    made = start(web, data)
    assert put(web, made["id"], data[:1000], 0, len(data)).status_code == 200
    skipped = put(web, made["id"], data[2000:3000], 2000, len(data))
    assert skipped.status_code == 409
    assert skipped.json()["received"] == 1000 and "1,000" in skipped.json()["error"]
    again = put(web, made["id"], data[:1000], 0, len(data))  # a chunk sent twice
    assert again.status_code == 409 and again.json()["received"] == 1000
    assert (parts_dir(web) / f"{made['id']}.part").read_bytes() == data[:1000]


def test_a_chunk_cut_short_is_dropped_and_the_upload_resumes(web: Web) -> None:
    data = a_zip()
    made = start(web, data)
    assert put(web, made["id"], data[:4000], 0, len(data)).json()["received"] == 4000
    # The connection broke mid-chunk: fewer bytes arrived than Content-Range announced.
    broken = put(web, made["id"], data[4000:5000], 4000, len(data), last=7999)
    assert broken.status_code == 400 and "not kept" in broken.json()["error"]
    asked = web.client.get(f"/api/v1/uploads/{made['id']}", headers=web.api_headers(UserRole.ARCHIVIST)).json()
    assert asked["received"] == 4000  # cut back to where that chunk began
    assert put(web, made["id"], data[4000:], 4000, len(data)).json()["received"] == len(data)
    finished = web.client.post(f"/api/v1/uploads/{made['id']}/complete", headers=web.api_headers(UserRole.ARCHIVIST))
    assert finished.status_code == 201
    stored = Path(web.home.path / "uploads" / "transfers" / finished.json()["id"] / "transfer.zip")
    assert stored.read_bytes() == data


def test_the_size_limit_at_creation_and_while_streaming(small: Web) -> None:
    too_big = small.client.post("/api/v1/uploads", json={"filename": "big.zip", "size": LIMIT + 1},
                                headers=small.api_headers(UserRole.ARCHIVIST))  # fmt: skip
    assert too_big.status_code == 413 and "at most" in too_big.json()["error"]
    data = a_zip(1000)
    made = start(small, data)
    # The client declared a small file, then sends more than that (and more than the limit).
    flood = b"x" * (LIMIT + 10)
    answer = put(small, made["id"], flood, 0, len(data), last=len(data) - 1)
    assert answer.status_code == 413
    assert not (parts_dir(small) / f"{made['id']}.part").exists()  # the partial file is removed
    assert not (parts_dir(small) / f"{made['id']}.json").exists()
    gone = small.client.get(f"/api/v1/uploads/{made['id']}", headers=small.api_headers(UserRole.ARCHIVIST))
    assert gone.status_code == 404


def test_the_form_upload_without_javascript_and_its_limit(small: Web) -> None:
    browser = small.browser(UserRole.ARCHIVIST)
    data = a_zip(1000)
    answer = browser.client.post("/ingest/upload", data={"csrf_token": browser.csrf},
                                 files={"transfer": ("form upload.zip", data, "application/zip")})  # fmt: skip
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/ingest/transfers/([0-9a-f]{32})", answer.headers["location"])
    assert found is not None
    transfer = small.client.get(f"/api/v1/transfers/{found.group(1)}", headers=small.api_headers(UserRole.ARCHIVIST))
    assert transfer.json()["filename"] == "form upload.zip" and transfer.json()["size"] == len(data)
    big = browser.client.post("/ingest/upload", data={"csrf_token": browser.csrf},
                              files={"transfer": ("big.zip", b"z" * (LIMIT * 2), "application/zip")})  # fmt: skip
    assert big.status_code == 413  # refused from its Content-Length, before the body is read
    assert "too large" in big.text.lower() or "larger than" in big.text
    # Just over the limit: within the form's allowance for its other fields, so caught while it is copied.
    near = browser.client.post("/ingest/upload", data={"csrf_token": browser.csrf},
                               files={"transfer": ("near.zip", b"z" * (LIMIT + 1000), "application/zip")})  # fmt: skip
    assert near.status_code == 413 and "larger than" in near.text
    leftovers = [p for p in parts_dir(small).iterdir()] if parts_dir(small).exists() else []
    assert leftovers == []
    # Without the session's CSRF token nothing is taken.
    forged = browser.client.post("/ingest/upload", files={"transfer": ("x.zip", data, "application/zip")})
    assert forged.status_code == 403


def test_another_users_upload_does_not_exist_for_them(web: Web) -> None:
    data = a_zip()
    made = start(web, data, role=UserRole.ARCHIVIST)
    other = UserRole.ADMIN  # allowed to ingest, but not this person's upload
    headers = web.api_headers(other)
    assert web.client.get(f"/api/v1/uploads/{made['id']}", headers=headers).status_code == 404
    assert put(web, made["id"], data, 0, len(data), role=other).status_code == 404
    assert web.client.post(f"/api/v1/uploads/{made['id']}/complete", headers=headers).status_code == 404
    assert web.client.delete(f"/api/v1/uploads/{made['id']}", headers=headers).status_code == 404
    assert (parts_dir(web) / f"{made['id']}.part").exists()
    # The owner may abandon it.
    own = web.client.delete(f"/api/v1/uploads/{made['id']}", headers=web.api_headers(UserRole.ARCHIVIST))
    assert own.status_code == 204
    assert not (parts_dir(web) / f"{made['id']}.part").exists()
    # Researchers may not upload at all.
    refused = web.client.post("/api/v1/uploads", json={"filename": "a.zip", "size": 10},
                              headers=web.api_headers(UserRole.RESEARCHER))  # fmt: skip
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("<img src=x onerror=alert(1)>.zip", "<img src=x onerror=alert(1)>.zip"),
        ("<script>alert(1)</script>.zip", "script>.zip"),  # only the last part of a path-like name is kept
        ("../../../etc/cron.d/evil.zip", "evil.zip"),
        ("C:\\Users\\me\\\" ' & < >.tar.gz", "\" ' & < >.tar.gz"),
        ("r\u202eexe.zip", "rexe.zip"),  # a right-to-left override would disguise the name
        ("Résumé 世界.7z", "Résumé 世界.7z"),
    ],
)
def test_hostile_file_names_are_shown_safely_and_never_used_as_paths(web: Web, filename: str, shown: str) -> None:
    data = a_zip(500)
    made = start(web, data, filename=filename)
    assert made["filename"] == shown
    assert sorted(p.name for p in parts_dir(web).iterdir()) == sorted([f"{made['id']}.json", f"{made['id']}.part"])
    put(web, made["id"], data, 0, len(data))
    transfer = web.client.post(f"/api/v1/uploads/{made['id']}/complete", headers=web.api_headers(UserRole.ARCHIVIST))
    assert transfer.status_code == 201
    folder = web.home.path / "uploads" / "transfers" / transfer.json()["id"]
    assert [p.name for p in folder.iterdir()] in (["transfer.zip"], ["transfer.tar.gz"], ["transfer.7z"])
    assert not (web.home.path.parent / "etc").exists()
    page = web.browser(UserRole.ARCHIVIST).get(f"/ingest/transfers/{transfer.json()['id']}")
    assert page.status_code == 200
    assert "<img src=x" not in page.text and "<script>alert" not in page.text  # escaped wherever it is shown
    if "<img" in shown:
        assert "&lt;img src=x onerror=alert(1)&gt;.zip" in page.text


def test_only_archive_files_are_accepted(web: Web) -> None:
    for name in ("virus.exe", "notes.txt", "zip", "archive.zip.exe"):
        answer = web.client.post("/api/v1/uploads", json={"filename": name, "size": 100},
                                 headers=web.api_headers(UserRole.ARCHIVIST))  # fmt: skip
        assert answer.status_code == 400, name
        assert ".zip" in " ".join(answer.json()["hint"])


def test_a_sha256_mismatch_is_refused_and_the_upload_removed(web: Web) -> None:
    data = a_zip()
    made = start(web, data, sha256="0" * 64)
    put(web, made["id"], data, 0, len(data))
    answer = web.client.post(f"/api/v1/uploads/{made['id']}/complete", headers=web.api_headers(UserRole.ARCHIVIST))
    assert answer.status_code == 400
    assert "not the file that was sent" in answer.json()["error"]
    assert not (parts_dir(web) / f"{made['id']}.part").exists()
    bad = web.client.post("/api/v1/uploads", json={"filename": "a.zip", "size": 10, "sha256": "xyz"},
                          headers=web.api_headers(UserRole.ARCHIVIST))  # fmt: skip
    assert bad.status_code in (400, 422)


def test_an_incomplete_upload_cannot_be_completed(web: Web) -> None:
    data = a_zip()
    made = start(web, data)
    put(web, made["id"], data[:100], 0, len(data))
    answer = web.client.post(f"/api/v1/uploads/{made['id']}/complete", headers=web.api_headers(UserRole.ARCHIVIST))
    assert answer.status_code == 409 and answer.json()["received"] == 100
