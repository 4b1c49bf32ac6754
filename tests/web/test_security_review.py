"""Attacks found by the review of the web service's security, each kept as a test that failed before its fix."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from strongroom.accounts.model import UserRole
from strongroom.web.limits import BODY_LIMIT
from tests.web.conftest import PASSWORD, Web
from tests.web.test_closed_never_leaks import CLOSED_FILE, VISITORS, Archive5, Visitor, archive5, leaked

__all__ = ["archive5"]  # the fixture, shared with the closed-records tests

MIB = 1024 * 1024


def _post_streamed(web: Web, path: str, content_type: str, pieces: int, piece: bytes,
                   headers: tuple[tuple[bytes, bytes], ...] = ()) -> tuple[int, int]:  # fmt: skip
    """POST a body of `pieces` x `piece` straight to the ASGI app, as a client streaming it would (chunked, no
    Content-Length unless given): the answer's status and how many bytes the service read before answering."""
    read = 0
    total = pieces * len(piece)

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read < total:
            read += len(piece)
            return {"type": "http.request", "body": piece, "more_body": read < total}
        return {"type": "http.disconnect"}

    answers: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        answers.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "https",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "state": {},
        "headers": [(b"host", b"testserver"), (b"content-type", content_type.encode()), *headers],
        "client": ("192.0.2.7", 4000), "server": ("testserver", 443),
    }  # fmt: skip
    asyncio.run(web.app(scope, receive, send))
    start = next(m for m in answers if m["type"] == "http.response.start")
    return start["status"], read


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/users", "application/json"),  # a route with a JSON body, asked by someone not signed in
        ("/api/v1/account/tokens", "application/json"),
        ("/sign-in", "application/x-www-form-urlencoded"),  # the one form anyone may post
    ],
)
def test_a_stranger_cannot_make_the_service_read_an_endless_body(web: Web, path: str, content_type: str) -> None:
    # Before: FastAPI read the whole body (into memory) before asking who was asking: 300 MiB read, 422 answered.
    # Form fields of under 1 MiB each: Starlette refuses a longer one, but not a thousand of them.
    piece = b" " * MIB if content_type == "application/json" else b"f=" + b"a" * (MIB - 3) + b"&"
    status, read = _post_streamed(web, path, content_type, 64, piece)
    assert status == 413, status
    assert read <= BODY_LIMIT + MIB, f"read {read:,} bytes of an over-large body"
    # Declared too long: refused before a byte is read.
    status, read = _post_streamed(web, path, content_type, 64, piece, ((b"content-length", str(64 * MIB).encode()),))
    assert (status, read) == (413, 0)


def test_the_body_limit_answers_as_the_service_does(web: Web) -> None:
    api = web.client.post(
        "/api/v1/users", content=b" " * (BODY_LIMIT + 1), headers={"content-type": "application/json"}
    )
    assert api.status_code == 413 and "bytes" in api.json()["error"]
    assert api.headers["x-content-type-options"] == "nosniff"
    page = web.client.post("/sign-in", content=b"a" * (BODY_LIMIT + 1),
                           headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert page.status_code == 413 and "The file is too large" in page.text
    # A body within the bound is read and answered as before.
    ok = web.client.post("/api/v1/account/tokens", json={"label": "x" * 50, "pad": "y" * MIB},
                         headers=web.api_headers(UserRole.RESEARCHER))  # fmt: skip
    assert ok.status_code == 201, ok.text


# --- what a researcher reads of an open package that holds a closed record ------------------------------------


def test_a_package_s_versions_and_totals_tell_a_researcher_nothing_of_its_closed_records(
    web: Web, archive5: Archive5, tmp_path: Path
) -> None:
    # An archivist's reason for a new version is free text, and naturally names the record it is about.
    a = archive5
    csv = tmp_path / "metadata.csv"
    csv.write_text(f"filename,dc.title\nobjects/private/{CLOSED_FILE}.txt,Letter\n", encoding="utf-8")
    web.home.ok("update", a.open_pkg, "--metadata", str(csv), "--reason", f"{CLOSED_FILE} retitled for the donor")
    for role in VISITORS:
        visitor = Visitor(web, role)
        page = visitor.get(f"/packages/{a.open_pkg}")
        assert page.status_code == 200 and not leaked(page), (role, leaked(page))
        shown = visitor.get(f"/api/v1/packages/{a.open_pkg}").json()
        assert not leaked(visitor.get(f"/api/v1/packages/{a.open_pkg}")), role
        # The totals are of what the visitor is shown: no count or size from which a hidden record can be inferred.
        assert shown["file_count"] == len(shown["files"])
        assert shown["bytes"] == sum(f["size"] for f in shown["files"])
        assert all(v["files"] <= len(shown["files"]) for v in shown["versions"]), shown["versions"]
    staff = Visitor(web, UserRole.ARCHIVIST).get(f"/api/v1/packages/{a.open_pkg}").json()
    assert CLOSED_FILE in json.dumps(staff["versions"]) and staff["file_count"] > len(shown["files"])


# --- the current password on the account page is a sign-in ------------------------------------------------------


def _failed_sign_ins(web: Web, name: str) -> list[str]:
    from strongroom.accounts.audit import SIGN_IN_FAILED

    with web.home.archive() as archive:
        return [e.data["account"]["reason"] for e in archive.journal.entries()
                if e.event.type == SIGN_IN_FAILED and e.data["account"]["name_tried"] == name]  # fmt: skip


def test_guessing_the_current_password_on_the_account_page_is_limited_and_journalled(web: Web) -> None:
    # Someone at a signed-in browser left unattended must not be able to try passwords without end: the
    # account page's "current password" answers as the sign-in form does, counted, journalled and rate limited.
    name = web.user_of(UserRole.RESEARCHER)
    here = web.browser(UserRole.RESEARCHER)
    guesses = [
        {"current_password": f"guess {i}", "new_password": "n" * 3, "confirm_password": "n" * 3} for i in range(7)
    ]
    answers = [here.post("/account/password", guess).status_code for guess in guesses]
    assert answers[:5] == [400] * 5 and answers[5:] == [429, 429], answers
    assert _failed_sign_ins(web, name) == ["wrong password"] * 5 + ["rate limited"] * 2
    # Even the right password now waits, as it would on the sign-in form.
    right = here.post("/account/password", {"current_password": PASSWORD, "new_password": "a fine new password 7",
                                            "confirm_password": "a fine new password 7"})  # fmt: skip
    assert right.status_code == 429 and "Too many failed sign-ins" in right.text


# --- a role that may not upload cannot make the service take its upload in --------------------------------------


def test_a_researcher_s_upload_is_refused_before_its_body_is_read(web: Web) -> None:
    # The CSRF check of a form post reads the form; done before the permission check, it took in a whole upload
    # (up to the 20 GiB upload limit, spooled to a temporary file) from anyone signed in, only to answer 403.
    browser = web.browser(UserRole.RESEARCHER)
    cookie = f"strongroom_session={browser.client.cookies.get('strongroom_session')}".encode()
    head = b'--XX\r\nContent-Disposition: form-data; name="transfer"; filename="t.zip"\r\n\r\n'
    pieces = 64
    length = str(pieces * MIB).encode()
    headers = ((b"cookie", cookie), (b"content-length", length))
    status, read = _post_streamed(web, "/ingest/upload", "multipart/form-data; boundary=XX", pieces,
                                  head + b"\0" * (MIB - len(head)), headers)  # fmt: skip
    assert status == 403 and read <= MIB, (status, read)


def test_a_token_s_days_in_other_digits_are_answered_not_a_server_error(web: Web) -> None:
    # "²".isdigit() is true but int("²") fails: the account page answered 500.
    browser = web.browser(UserRole.RESEARCHER)
    for days in ("²", "1²", "⑤"):
        answer = browser.post("/account/tokens", {"label": "script", "expires_days": days})
        assert answer.status_code == 400 and "whole number from 1 to" in answer.text, (days, answer.status_code)
    # Decimal digits of any script are numbers: "٣" is 3.
    assert browser.post("/account/tokens", {"label": "script", "expires_days": "٣"}).status_code == 201
