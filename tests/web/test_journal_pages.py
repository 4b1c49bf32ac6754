"""The journal page and API: newest first, paged, filtered by package and day, with its verification banner
("intact", or "damaged at entry N" after a batch file is edited on disk), and its CSV and JSON exports."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from strongroom.accounts.model import UserRole
from strongroom.records.holds import place_hold
from strongroom.records.model import HoldType
from tests.conftest import Home
from tests.web.conftest import Web
from tests.web.test_records_pages import HOSTILE, assert_escaped, due_packages, error_summary, h1_count

RM = UserRole.RECORDS_MANAGER


def _hold(home: Home, package: str, reason: str, reference: str) -> None:
    with home.archive() as archive:
        place_hold(archive, packages=[package], type=HoldType.FOI, reason=reason, authority=None,
                   reference=reference, operator="test")  # fmt: skip


def _edit_journal(home: Home, old: str, new: str) -> None:
    """Change `old` to `new` in the one journal line holding it, as someone editing a batch file by hand would."""
    for path in sorted((home.path / "storage" / "journal").rglob("*")):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if old in text:
                path.write_text(text.replace(old, new, 1), encoding="utf-8")
                return
    raise AssertionError(f"no journal batch file holds {old!r}")


def _sequences(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<th scope="row" class="govuk-table__header govuk-table__header--numeric">'
                                       r"(\d+)</th>", html)]  # fmt: skip


def test_the_journal_page_shows_intact_then_damaged_at_the_edited_entry(web: Web, tmp_path: Path) -> None:
    packages = due_packages(web.home, tmp_path, "alpha")
    _hold(web.home, packages["alpha"], f"FOI request {HOSTILE}", "2026/17")
    headers = web.api_headers(RM)  # its token is journalled: issued before the journal is read
    browser = web.browser(RM)
    page = browser.get("/journal")
    assert page.status_code == 200 and h1_count(page.text) == 1
    assert "The journal is intact" in page.text and "damaged" not in page.text
    assert "FOI request &lt;script&gt;alert(" in page.text
    assert_escaped(page.text)
    assert web.client.get("/api/v1/journal/verify", headers=headers).json()["problems"] == []

    _edit_journal(web.home, "2026/17", "2026/18")
    with web.home.archive() as archive:
        problems = archive.journal_verify().problems
    assert problems and problems[0].sequence is not None
    damaged = browser.get("/journal")
    assert damaged.status_code == 200
    assert f"The journal is damaged at entry {problems[0].sequence}." in damaged.text
    assert "The journal is intact" not in damaged.text
    verify = web.client.get("/api/v1/journal/verify", headers=headers).json()
    assert verify["problems"] and verify["problems"][0]["sequence"] == problems[0].sequence
    listed = web.client.get("/api/v1/journal", headers=headers).json()
    assert listed["verified"] is False and listed["problems"]
    export = browser.get("/journal/export.csv")
    assert export.headers["x-journal-verified"] == "false"


def test_the_journal_is_newest_first_paged_filtered_and_exported(web: Web, tmp_path: Path) -> None:
    packages = due_packages(web.home, tmp_path, "alpha", "beta")
    for n in range(55):  # more than one page of 50
        _hold(web.home, packages["beta"], f"Request {n}", f"R-{n}")
    headers = web.api_headers(RM)  # its token is journalled: issued before the journal is read
    browser = web.browser(RM)
    first = browser.get("/journal")
    sequences = _sequences(first.text)
    assert len(sequences) == 50 and sequences == sorted(sequences, reverse=True)
    assert 'aria-label="Pages of the journal"' in first.text
    second = _sequences(browser.get("/journal?page=2").text)
    assert second and max(second) < min(sequences)
    assert browser.get("/journal?page=0").status_code == 422

    only_alpha = browser.get(f"/journal?package={packages['alpha']}").text
    assert packages["alpha"] in only_alpha and "Request 3" not in only_alpha
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert "No entries match these filters" in browser.get(f"/journal?from={tomorrow}").text
    bad = browser.get("/journal?from=yesterday")
    assert bad.status_code == 400 and 'href="#journal-from"' in error_summary(bad.text)
    backwards = browser.get(f"/journal?from={tomorrow}&to=2001-01-01")
    assert backwards.status_code == 400 and "before" in error_summary(backwards.text)

    export = browser.get(f"/journal/export.csv?package={packages['alpha']}")
    assert export.status_code == 200 and export.headers["content-disposition"] == 'attachment; filename="journal.csv"'
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert rows and {r["package"] for r in rows} == {packages["alpha"]}
    as_json = json.loads(browser.get("/journal/export.json").content)
    assert as_json["verified"] is True
    newest = [e["sequence"] for e in as_json["entries"]][::-1]
    assert sequences == newest[:50] and second == newest[50:100]

    api = web.client.get("/api/v1/journal?per_page=5&page=2", headers=headers).json()
    assert api["page"] == 2 and api["total"] == len(as_json["entries"]) and len(api["entries"]) == 5
    assert [e["sequence"] for e in api["entries"]] == newest[5:10]


@pytest.mark.parametrize(("role", "status"), [(UserRole.ARCHIVIST, 200), (UserRole.RESEARCHER, 403)])
def test_the_journal_is_for_staff(web: Web, role: UserRole, status: int) -> None:
    assert web.browser(role).get("/journal").status_code == status
    assert web.client.get("/api/v1/journal", headers=web.api_headers(role)).status_code == status
