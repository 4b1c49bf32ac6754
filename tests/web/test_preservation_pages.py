"""Preservation pages and API: dashboard, formats, locations, audits, migrations, and the job forms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree, html

from strongroom.accounts.model import UserRole
from strongroom.jobs.model import JobState
from tests.conftest import Home, write
from tests.preservation.samples import pdf_bytes
from tests.web.conftest import Web

HOSTILE = "<script>alert('x')</script> & \" ' ../"


@pytest.fixture
def held(home: Home, tmp_path: Path) -> list[str]:
    packages = []
    for n in range(2):
        root = tmp_path / f"{HOSTILE}-{n}"
        write(root / "objects/report.pdf", pdf_bytes(f"report {n}"))
        write(root / "objects/notes.txt", f"notes {n}\n" * 20)
        packages.append(str(home.ingest(root)["package"]))
    return packages


def _api(web: Web, path: str, role: UserRole = UserRole.ARCHIVIST) -> Any:
    answer = web.client.get(path, headers=web.api_headers(role))
    assert answer.status_code == 200, answer.text[:500]
    return answer.json()


def _page(web: Web, path: str, role: UserRole = UserRole.ARCHIVIST) -> etree._Element:
    answer = web.browser(role).get(path)
    assert answer.status_code == 200, answer.text[:500]
    assert "<script>alert" not in answer.text
    tree = html.fromstring(answer.text)
    assert len(tree.xpath("//h1")) == 1
    assert not tree.xpath("//*[@style]") and not tree.xpath("//style")
    return tree


def test_the_dashboard_shows_the_charts_and_the_archives_numbers(web: Web, home: Home, held: list[str]) -> None:
    tree = _page(web, "/preservation")
    assert tree.xpath("string(//dd[@data-figure='packages'])").strip() == "2"
    assert tree.xpath("string(//dd[@data-figure='files'])").strip() == "4"
    charts = tree.xpath("//svg[@role='img']")
    assert {c.get("id") for c in charts} == {"chart-risk", "chart-format-files", "chart-growth-packages",
                                            "chart-growth-bytes", "chart-audit-age", "chart-retention"}  # fmt: skip
    for chart in charts:  # each chart's numbers are in a table beside it
        assert tree.xpath(f"//table[@data-chart='{chart.get('id')}']")
    ages = tree.xpath("//table[@data-chart='chart-audit-age']//tbody/tr")
    assert [r.xpath("string(th)") for r in ages] == ["never", "under 30 days", "30 to 90 days", "90 to 365 days",
                                                     "over 1 year"]  # fmt: skip


def test_the_dashboard_api_answers_every_series(web: Web, held: list[str]) -> None:
    data = _api(web, "/api/v1/reports/dashboard")
    assert data["totals"]["files"] == 4
    assert sum(f["files"] for f in data["formats"]) == 4
    assert data["growth"][-1]["total_packages"] == 2
    assert data["audit"]["packages"] == 2


def test_the_profile_api_is_what_formats_json_prints(web: Web, home: Home, held: list[str]) -> None:
    assert _api(web, "/api/v1/formats/profile") == home.ok("formats", "--json").json()


def test_formats_pages_list_formats_and_the_packages_holding_one(web: Web, home: Home, held: list[str]) -> None:
    profile: Any = home.ok("formats", "--json").json()
    tree = _page(web, "/preservation/formats")
    rows = tree.xpath("//table[@id='formats']/tbody/tr")
    assert len(rows) == len(profile["rows"])
    pdf = next(r for r in profile["rows"] if r["format_name"] and "PDF" in r["format_name"])
    link = tree.xpath(f"//table[@id='formats']//a[@href='/preservation/formats/{pdf['puid']}']")
    assert link
    page = _page(web, link[0].get("href"))
    names = [a.text_content() for a in page.xpath("//table//tbody//th/a")]
    with home.archive() as archive:
        assert sorted(names) == sorted(archive.package(p).name for p in held)
    missing = web.browser(UserRole.ARCHIVIST).get("/preservation/formats/fmt/999999")
    assert missing.status_code == 404


def test_locations_show_reachability_copies_and_last_audit(web: Web, home: Home, held: list[str]) -> None:
    data = _api(web, "/api/v1/locations")
    assert [(loc["name"], loc["reachable"], loc["packages"]) for loc in data] == [("primary", True, 2)]
    assert data[0]["last_audit"]["oldest"] is None
    listed: Any = home.ok("location", "list", "--json").json()
    rows = listed if isinstance(listed, list) else listed["locations"]
    assert {k: v for k, v in data[0].items() if k not in ("reachable", "problem")} == rows[0]
    tree = _page(web, "/preservation/locations")
    assert "primary" in tree.xpath("string(//table[@id='locations']//tbody//th)")


def test_audit_form_queues_a_job_and_the_audit_page_then_shows_the_checks(
    web: Web, home: Home, held: list[str]
) -> None:
    browser = web.browser(UserRole.ARCHIVIST)
    answer = browser.post("/preservation/audit", {"older_than": "", "max_bytes": "", "rate": "", "location": ""})
    assert answer.status_code == 303, answer.text[:500]
    job_id = answer.headers["location"].removeprefix("/jobs/")
    job = web.app.state.ctx.jobs.wait(job_id, timeout=120)
    assert job.kind == "audit" and job.state is JobState.SUCCEEDED, job.error
    assert job.result is not None and len(job.result["copies"]) == 2 and job.result["problems"] == []
    assert job.params["operator"] == f"web:{web.user_of(UserRole.ARCHIVIST)}"

    tree = _page(web, "/preservation/audits")
    assert "2 of 2 packages" in tree.xpath("string(//p[@data-figure='coverage'])")
    assert len(tree.xpath("//table//tbody/tr")) >= 2
    data = _api(web, "/api/v1/audits")
    assert data["checked"] == 2 and {r["outcome"] for r in data["recent"]} == {"success"}
    assert dict((a["age"], a["packages"]) for a in data["ages"])["under 30 days"] == 2


def test_bad_audit_options_are_refused_before_anything_is_queued(web: Web, held: list[str]) -> None:
    browser = web.browser(UserRole.ARCHIVIST)
    answer = browser.post("/preservation/audit", {"older_than": "soon", "rate": ""})
    assert answer.status_code == 400
    assert "soon" in answer.text
    api = web.client.post("/api/v1/preservation/audit", json={"rate": -3}, headers=web.api_headers(UserRole.ARCHIVIST))
    assert api.status_code == 400 and api.json()["hint"]
    unknown = web.client.post("/api/v1/preservation/replicate", json={"location": "<nowhere>"},
                              headers=web.api_headers(UserRole.ARCHIVIST))  # fmt: skip
    assert (
        unknown.status_code == 400 and "<nowhere>" in unknown.json()["error"] and "primary" in unknown.json()["error"]
    )
    assert browser.post("/preservation/audit", {"location": "../etc"}).status_code == 400
    assert web.app.state.ctx.jobs.list() == []


def test_the_api_starts_replicate_migrate_and_rebuild_jobs(web: Web, held: list[str]) -> None:
    archivist = web.api_headers(UserRole.ARCHIVIST)
    replicate = web.client.post("/api/v1/preservation/replicate", json={}, headers=archivist)
    assert replicate.status_code == 202
    done = web.app.state.ctx.jobs.wait(replicate.json()["job"], timeout=120)
    assert done.state is JobState.SUCCEEDED and done.result is not None and "copied" in done.result

    migrate = web.client.post("/api/v1/preservation/migrate", json={"dry_run": True, "risk": "high"}, headers=archivist)
    assert migrate.status_code == 202
    planned = web.app.state.ctx.jobs.wait(migrate.json()["job"], timeout=120)
    assert planned.params["dry_run"] is True and planned.params["risk"] == "high"
    assert planned.state is JobState.SUCCEEDED, planned.error

    bad = web.client.post("/api/v1/preservation/migrate", json={"risk": "<b>dire</b>"}, headers=archivist)
    assert bad.status_code == 400 and "dire" in bad.json()["error"]

    # Rebuild is for administrators only.
    assert web.client.post("/api/v1/preservation/rebuild", headers=archivist).status_code == 403
    rebuild = web.client.post("/api/v1/preservation/rebuild", headers=web.api_headers(UserRole.ADMIN))
    assert rebuild.status_code == 202
    rebuilt = web.app.state.ctx.jobs.wait(rebuild.json()["job"], timeout=300)
    assert rebuilt.state is JobState.SUCCEEDED, rebuilt.error
    assert rebuilt.result is not None and rebuilt.result["packages"] == 2


def test_migrations_page_lists_proposals_and_the_api_matches(web: Web, held: list[str]) -> None:
    data = _api(web, "/api/v1/migrations/proposals")
    assert data["policy_version"] and data["failures"] == []
    tree = _page(web, "/preservation/migrations")
    assert len(tree.xpath("//table[@id='proposals']/tbody/tr")) == len(data["proposals"])
    assert tree.xpath("//form[@action='/preservation/migrate']//input[@name='csrf_token']")


def test_forms_need_the_csrf_token_and_the_right_role(web: Web, held: list[str]) -> None:
    archivist = web.browser(UserRole.ARCHIVIST)
    forged = archivist.client.post("/preservation/audit", data={"older_than": ""})
    assert forged.status_code in (400, 403)
    manager = web.browser(UserRole.RECORDS_MANAGER)
    assert manager.post("/preservation/audit", {}).status_code == 403
    assert (
        _page(web, "/preservation/audits", UserRole.RECORDS_MANAGER).xpath("//form[@action='/preservation/audit']")
        == []
    )
    assert web.browser(UserRole.RESEARCHER).get("/preservation").status_code == 403
    assert web.client.get("/api/v1/reports/dashboard").status_code == 401
    assert web.app.state.ctx.jobs.list(kinds=("audit",)) == []


def test_an_empty_archive_says_so(web: Web) -> None:
    tree = _page(web, "/preservation")
    texts = [t.text for t in tree.xpath("//svg//text")]
    assert "No packages yet" in texts
    assert json.dumps(_api(web, "/api/v1/reports/dashboard")["formats"]) == "[]"
