"""The staff package list on the web and the API: access, last audit and fixity columns, the filters, pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from strongroom.accounts.model import UserRole
from tests.conftest import Home
from tests.reports.test_package_list import _set_copies, _transfer
from tests.web.conftest import Web

ARCHIVIST = UserRole.ARCHIVIST


def _packages(home: Home, tmp_path: Path, count: int) -> list[str]:
    found = [
        str(home.ingest(_transfer(tmp_path, f"box-{n:02d}", f"Box {n} <b>&</b>"))["package"]) for n in range(count)
    ]
    home.ok("access", found[1], "--status", "closed", "--reason", "Personal data", "--until", "2090-01-01")
    now = datetime.now(UTC)
    _set_copies(home, found[0], (now - timedelta(days=3), "success"), (now - timedelta(days=400), "failure"))
    return found


def test_the_list_shows_access_audit_and_fixity_and_filters_them(web: Web, tmp_path: Path) -> None:
    found = _packages(web.home, tmp_path, 3)
    browser = web.browser(ARCHIVIST)
    page = browser.get("/packages").text
    assert "3 packages in the archive." in page
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in page and "<b>&</b>" not in page
    assert re.search(r'<strong class="govuk-tag govuk-tag--red">failing</strong><br><span class="govuk-body-s">1 of '
                     r"2 copies</span>", page)  # fmt: skip
    assert "over 1 year ago" in page and "opens 2090-01-01" in page
    closed = browser.get("/packages", params={"access": "closed"}).text
    assert "1 package matches the filters." in closed and found[1] in closed and found[0] not in closed
    assert '<option value="closed" selected>' in closed and 'href="/packages">Clear the filters</a>' in closed
    old = browser.get("/packages", params={"audit": "over 1 year"}).text
    assert found[0] in old and found[1] not in old and found[2] not in old
    named = browser.get("/packages", params={"name": "BOX-02"}).text
    assert found[2] in named and found[0] not in named
    # Values it does not know list everything rather than fail.
    assert "3 packages in the archive." in browser.get("/packages", params={"access": "<x>", "audit": "soon"}).text
    assert browser.get("/packages", params={"name": "x" * 201}).status_code == 422


def test_the_api_pages_with_offset_limit_and_says_the_total(web: Web, tmp_path: Path) -> None:
    found = _packages(web.home, tmp_path, 3)
    headers = web.api_headers(ARCHIVIST)
    first = web.client.get("/api/v1/packages", params={"limit": 2}, headers=headers)
    assert first.status_code == 200 and first.headers["x-total-count"] == "3"
    assert [p["package"] for p in first.json()] == found[:2]
    assert first.headers["link"] == '</api/v1/packages?offset=2&limit=2>; rel="next"'
    second = web.client.get("/api/v1/packages", params={"limit": 2, "offset": 2}, headers=headers)
    assert [p["package"] for p in second.json()] == found[2:] and "link" not in second.headers
    row = first.json()[0]
    assert row["fixity"] == "failing" and row["failing_copies"] == 1 and row["audit_age"] == "over 1 year"
    assert row["access"] == "open" and row["copies"] == 2 and row["name"] == "box-00"
    closed = web.client.get("/api/v1/packages", params={"access": "closed"}, headers=headers).json()
    assert [p["package"] for p in closed] == [found[1]] and closed[0]["opening_date"] == "2090-01-01"
    bad = web.client.get("/api/v1/packages", params={"audit": "soon"}, headers=headers)
    assert bad.status_code == 400 and "Unknown audit age" in bad.json()["error"] and bad.json()["hint"]
    assert web.client.get("/api/v1/packages", params={"limit": 501}, headers=headers).status_code == 422
    assert web.client.get("/api/v1/packages", headers=web.api_headers(UserRole.RESEARCHER)).status_code == 403
