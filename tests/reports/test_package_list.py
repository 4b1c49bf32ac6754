"""The staff package list: access status on the day, last audit (least recently checked copy), fixity, the
filters, and pages read with LIMIT/OFFSET on a catalog of 100,000 packages."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from strongroom.catalog import tables as t
from strongroom.errors import StrongroomError
from strongroom.model import AccessStatus, Outcome
from strongroom.reports.dashboard import AGE_BUCKETS, _connection, audit_coverage
from strongroom.reports.package_list import PackageFilter, list_packages, package_row_json
from tests.conftest import Home, write

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def _transfer(tmp_path: Path, name: str, title: str) -> Path:
    source = tmp_path / "sources" / name
    write(source / "objects" / "a.txt", f"The text of {name}.\n")
    quoted = title.replace('"', '""')
    write(source / "metadata" / "metadata.csv", f'filename,dc.title\nobjects,"{quoted}"\n')
    return source


def _set_copies(home: Home, package: str, *checks: tuple[datetime | None, str | None]) -> None:
    """Replaces the package's copies with one per (checked, outcome), as audits would have left them."""
    with home.archive() as archive:
        catalog = _connection(archive)
        with catalog._write("test copies") as conn:
            conn.execute(sa.delete(t.copies).where(t.copies.c.package == package))
            for n, (checked, outcome) in enumerate(checks):
                row = {"package": package, "location": f"loc-{n}", "version": 1, "stored": NOW - timedelta(days=800),
                       "checked": checked, "outcome": outcome, "problems": int(outcome == "failure")}  # fmt: skip
                conn.execute(sa.insert(t.copies).values(**row))


@pytest.fixture
def three(home: Home, tmp_path: Path) -> dict[str, str]:
    names = {"minutes": "Council minutes", "letters": 'Letters <script>alert("x")</script> 100%_done',
             "plans": "Town plans"}  # fmt: skip
    found = {n: str(home.ingest(_transfer(tmp_path, n, title))["package"]) for n, title in names.items()}
    home.ok("access", found["letters"], "--status", "closed", "--reason", "Personal data",
            "--until", "2040-01-01")  # fmt: skip
    home.ok(
        "access", found["plans"], "--status", "restricted", "--reason", "Security", "--until", "2029-01-01"
    )  # fmt: skip (opened before NOW: open on NOW's day)
    _set_copies(home, found["minutes"], (NOW - timedelta(days=10), Outcome.SUCCESS.value),
                (NOW - timedelta(days=100), Outcome.SUCCESS.value))  # fmt: skip
    _set_copies(home, found["letters"], (NOW - timedelta(days=40), Outcome.FAILURE.value),
                (NOW - timedelta(days=5), Outcome.SUCCESS.value))  # fmt: skip
    _set_copies(home, found["plans"], (NOW - timedelta(days=2), Outcome.SUCCESS.value), (None, None))
    return found


def test_each_row_has_its_access_last_audit_and_fixity(home: Home, three: dict[str, str]) -> None:
    with home.archive() as archive:
        page = list_packages(archive, now=NOW)
        coverage = audit_coverage(archive, NOW)
    rows = {r.package.name: r for r in page.rows}
    assert page.total == 3 and list(rows) == ["minutes", "letters", "plans"]  # oldest first, as `list`
    minutes, letters, plans = rows["minutes"], rows["letters"], rows["plans"]
    assert minutes.access is AccessStatus.OPEN and minutes.opening_date is None
    assert letters.access is AccessStatus.CLOSED and letters.opening_date == date(2040, 1, 1)
    assert plans.access is AccessStatus.OPEN, "a restricted package whose opening date has come is open"
    # The least recently checked copy decides: 100 days for minutes, 40 for letters, never for plans.
    assert minutes.last_audit == NOW - timedelta(days=100) and minutes.audit_age == "90 to 365 days"
    assert letters.last_audit == NOW - timedelta(days=40) and letters.audit_age == "30 to 90 days"
    assert plans.last_audit is None and plans.audit_age == "never"
    assert (minutes.fixity, letters.fixity, plans.fixity) == ("passing", "failing", "not checked")
    assert letters.failing == 1 and letters.copies == 2
    # The same buckets as the dashboard's audit coverage.
    assert sorted(r.audit_age for r in page.rows) == sorted(a for a, n in coverage.ages for _ in range(n))
    shown = package_row_json(letters)
    assert shown["package"] == three["letters"] and shown["access"] == "closed"
    assert shown["opening_date"] == "2040-01-01" and shown["fixity"] == "failing" and shown["failing_copies"] == 1
    assert shown["last_audit"] == (NOW - timedelta(days=40)).isoformat()


def test_filters_by_access_audit_age_and_name(home: Home, three: dict[str, str]) -> None:
    def names(**filters: object) -> list[str]:
        with home.archive() as archive:
            page = list_packages(archive, PackageFilter(**filters), now=NOW)  # type: ignore[arg-type]
        assert page.total == len(page.rows)
        return [r.package.name for r in page.rows]

    assert names(access=AccessStatus.CLOSED) == ["letters"]
    assert names(access=AccessStatus.OPEN) == ["minutes", "plans"]
    assert names(access=AccessStatus.RESTRICTED) == []
    assert names(audit="never") == ["plans"]
    assert names(audit="30 to 90 days") == ["letters"]
    assert names(audit="90 to 365 days") == ["minutes"]
    assert names(audit="under 30 days") == [] and names(audit="over 1 year") == []
    assert names(name="LETT") == ["letters"]  # the name, case ignored
    assert names(name="town") == ["plans"]  # or the title
    assert names(name="100%_") == ["letters"] and names(name="%") == ["letters"]  # LIKE wildcards are text
    assert names(name="_") == ["letters"]
    assert names(name="<script>") == ["letters"]
    assert names(access=AccessStatus.OPEN, audit="never", name="plan") == ["plans"]
    assert names(access=AccessStatus.CLOSED, audit="never") == []
    with pytest.raises(StrongroomError, match="Unknown audit age"):
        PackageFilter(audit="yesterday")
    with home.archive() as archive, pytest.raises(StrongroomError, match="1 to 500"):
        list_packages(archive, limit=0)


def test_a_page_of_100000_packages_is_read_with_limit_and_offset(home: Home) -> None:
    created = datetime(2020, 1, 1, tzinfo=UTC)
    packages = [{"uuid": str(uuid.UUID(int=n + 1)), "name": f"pkg-{n:06d}", "created": created + timedelta(seconds=n),
                 "files": 1, "bytes": n, "payload_sha256": f"{n:064x}", "storage_key": f"k{n}", "title": None,
                 "indexed": True, "version": 1} for n in range(100_000)]  # fmt: skip
    copies = [{"package": p["uuid"], "location": "primary", "version": 1, "stored": created,
               "checked": None if n % 3 == 0 else NOW - timedelta(days=n % 400), "outcome": "failure" if n % 1000 == 7
               else "success", "problems": 0} for n, p in enumerate(packages)]  # fmt: skip
    rules = [{"package": p["uuid"], "path": "", "status": "closed", "reason": "test", "opening_date": None}
             for p in packages[::10]]  # fmt: skip
    with home.archive() as archive:
        catalog = _connection(archive)
        with catalog._write("test packages") as conn:
            conn.execute(sa.insert(t.packages), packages)
            conn.execute(sa.insert(t.copies), copies)
            conn.execute(sa.insert(t.access_rules), rules)
        start = time.monotonic()
        last = list_packages(archive, offset=99_950, limit=50, now=NOW)
        closed_and_old = list_packages(archive, PackageFilter(access=AccessStatus.CLOSED, audit="over 1 year"),
                                       offset=100, limit=20, now=NOW)  # fmt: skip
        named = list_packages(archive, PackageFilter(name="pkg-0999"), limit=5, now=NOW)
        elapsed = time.monotonic() - start
    assert last.total == 100_000 and [r.package.name for r in last.rows][-1] == "pkg-099999"
    assert len(last.rows) == 50 and last.rows[0].package.name == "pkg-099950"
    # Closed: every 10th; over a year: n % 400 in 365..399 and n % 3 != 0.
    expected = [n for n in range(0, 100_000, 10) if n % 3 and n % 400 >= 365]
    assert closed_and_old.total == len(expected)
    assert [r.package.name for r in closed_and_old.rows] == [f"pkg-{n:06d}" for n in expected[100:120]]
    assert all(r.audit_age == AGE_BUCKETS[-1] and r.access is AccessStatus.CLOSED for r in closed_and_old.rows)
    assert named.total == 100 and [r.package.name for r in named.rows] == [f"pkg-0999{n:02d}" for n in range(5)]
    failing = [r for r in last.rows if r.fixity == "failing"]
    assert [r.package.name for r in failing] == [f"pkg-{n:06d}" for n in range(99_950, 100_000) if n % 1000 == 7]
    assert elapsed < 10, f"three pages of 100,000 packages took {elapsed:.1f} s"
