"""The dashboard's series on a real archive: formats, risk, growth, audit age, retention due by month."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from strongroom.formats.risk import RiskLevel
from strongroom.reports.dashboard import (
    AGE_BUCKETS,
    OVERDUE,
    RETENTION_MONTHS,
    build_dashboard,
    migration_proposals,
)
from tests.conftest import Home, write
from tests.preservation.samples import pdf_bytes

SCHEDULES = """
[[schedule]]
code = "CLOSE-1"
title = "Complaints"
authority = "Business need"
period = "P1Y"
trigger = "closure"
action = "destroy"

[[schedule]]
code = "CONTRACT-3"
title = "Contracts"
authority = "Limitation Act 1980 s.5"
period = "P3Y"
trigger = "event:contract-end"
action = "transfer"
transfer_to = "County Record Office"
"""

HOSTILE = "<script>alert(1)</script> & \"'"


@pytest.fixture
def archive_home(home: Home, tmp_path: Path) -> Home:
    home.ok("retention", "load", str(write(tmp_path / "schedules.toml", SCHEDULES)))
    for name, schedule in (("old-complaints", "CLOSE-1"), ("new-complaints", "CLOSE-1"), ("contracts", "CONTRACT-3")):
        root = tmp_path / name
        write(root / "objects/report.pdf", pdf_bytes(f"report of {name}"))
        write(root / "objects/notes.txt", f"notes of {name}\n" * 50)
        write(root / f"objects/{HOSTILE}.txt", "hostile name")
        home.ingest(root, "--retention", schedule)
    return home


def _package(home: Home, name: str) -> str:
    with home.archive() as archive:
        return next(p.uuid for p in archive.catalog.packages() if p.name == name)


def test_format_and_risk_series_add_up_to_the_profile(archive_home: Home) -> None:
    with archive_home.archive() as archive:
        dashboard = build_dashboard(archive)
        profile = archive.collection_profile()
    assert dashboard.profile.totals == profile.totals
    assert sum(f.files for f in dashboard.formats) == profile.totals.files == 9
    assert sum(f.bytes for f in dashboard.formats) == profile.totals.bytes
    assert {f.puid for f in dashboard.formats} == {r.puid for r in profile.rows}
    # Every level appears once, most urgent first, and the levels hold every file.
    assert [r.risk for r in dashboard.risks] == [RiskLevel.HIGH, RiskLevel.UNKNOWN, RiskLevel.MEDIUM, RiskLevel.LOW]
    assert sum(r.files for r in dashboard.risks) == 9
    for level in dashboard.risks:
        assert level.files == sum(f.files for f in dashboard.formats if f.risk is level.risk)
    pdf = next(f for f in dashboard.formats if f.name.startswith("Acrobat PDF") or "PDF" in f.name)
    assert pdf.files == 3 and pdf.puid


def test_growth_counts_packages_files_and_bytes_by_month(archive_home: Home) -> None:
    now = datetime.now(UTC)
    with archive_home.archive() as archive:
        dashboard = build_dashboard(archive, now)
        versions = [v for p in archive.catalog.packages() for v in archive.catalog.versions(p.uuid)]
    this_month = dashboard.growth[-1]
    assert this_month.month == now.strftime("%Y-%m")
    assert this_month.packages == this_month.total_packages == 3
    # Everything stored: every version's new files, METS and metadata included.
    assert this_month.total_bytes == sum(v.new_bytes for v in versions) > 0
    assert this_month.total_files == sum(v.new_files for v in versions) > 9


def test_audit_age_moves_from_never_to_recent_after_an_audit(archive_home: Home) -> None:
    with archive_home.archive() as archive:
        before = build_dashboard(archive).audit
    assert before.packages == 3
    assert sum(n for _, n in before.ages) == 3
    assert [label for label, _ in before.ages] == list(AGE_BUCKETS)
    archive_home.ok("audit")
    with archive_home.archive() as archive:
        after = build_dashboard(archive).audit
        a_year_on = build_dashboard(archive, datetime.now(UTC) + timedelta(days=400)).audit
        in_two_months = build_dashboard(archive, datetime.now(UTC) + timedelta(days=60)).audit
    assert dict(after.ages) == {"never": 0, "under 30 days": 3, "30 to 90 days": 0, "90 to 365 days": 0,
                                "over 1 year": 0}  # fmt: skip
    assert after.checked == 3 and after.failing == 0 and after.oldest is not None
    assert dict(a_year_on.ages)["over 1 year"] == 3
    assert dict(in_two_months.ages)["30 to 90 days"] == 3


def test_retention_due_by_month_counts_overdue_and_coming_packages(archive_home: Home) -> None:
    today = datetime.now(UTC).date()
    archive_home.ok("retention", "event", _package(archive_home, "old-complaints"), "closure",
                    "--date", (today - timedelta(days=800)).isoformat())  # fmt: skip
    six_months = today - timedelta(days=365) + timedelta(days=183)
    archive_home.ok("retention", "event", _package(archive_home, "new-complaints"), "closure",
                    "--date", six_months.isoformat())  # fmt: skip
    with archive_home.archive() as archive:
        dashboard = build_dashboard(archive)
    months = dict((r.month, r.packages) for r in dashboard.retention)
    assert len(dashboard.retention) == RETENTION_MONTHS + 1
    assert dashboard.retention[0].month == OVERDUE and months[OVERDUE] == 1
    due_month = date(six_months.year + 1, six_months.month, 1).strftime("%Y-%m")
    assert months[due_month] == 1
    assert sum(months.values()) == 2
    assert dashboard.waiting_for_trigger == 1  # the contract has no contract-end date yet


def test_the_json_has_every_series(archive_home: Home) -> None:
    with archive_home.archive() as archive:
        data = build_dashboard(archive).to_json()
    assert set(data) >= {"formats", "risks", "growth", "audit", "retention", "totals", "waiting_for_trigger"}
    assert data["totals"]["files"] == 9
    assert [r["risk"] for r in data["risks"]] == ["high", "unknown", "medium", "low"]


def test_proposals_list_at_risk_formats_with_the_policys_rules(archive_home: Home) -> None:
    with archive_home.archive() as archive:
        dashboard = build_dashboard(archive)
        version, proposals = migration_proposals(archive, dashboard.formats)
    assert version
    at_risk = {f.puid for f in dashboard.formats if f.risk is not RiskLevel.LOW}
    assert {p.puid for p in proposals} == at_risk
    for p in proposals:
        assert (p.rule is None) == (p.tool is None) == (p.target is None)


def test_an_empty_archive_has_empty_series(home: Home) -> None:
    with home.archive() as archive:
        dashboard = build_dashboard(archive)
    assert dashboard.formats == () and dashboard.growth == ()
    assert dashboard.audit.packages == 0 and all(n == 0 for _, n in dashboard.audit.ages)
    assert all(r.packages == 0 for r in dashboard.retention)
