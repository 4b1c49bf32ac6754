"""Scheduled audits: each run re-reads what waited longest, within a byte budget and a read rate."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from strongroom.errors import StrongroomError
from strongroom.model import PackageSummary
from strongroom.preservation.audit import Throttle, parse_duration, parse_size, plan_audit
from tests.conftest import EXAMPLE_TRANSFER, Home, object_root, write

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def summary(name: str, size: int, created_days_ago: int) -> PackageSummary:
    return PackageSummary(
        uuid=f"00000000-0000-4000-8000-{name:0>12}", name=name, created=NOW - timedelta(days=created_days_ago),
        files=1, bytes=size, payload_sha256="0" * 64, storage_key="",
    )  # fmt: skip


def test_durations_and_sizes_read_as_people_write_them() -> None:
    assert parse_duration("90d") == timedelta(days=90)
    assert parse_duration(" 12h ") == timedelta(hours=12)
    assert parse_duration("2w") == timedelta(weeks=2)
    assert parse_size("500M") == 500_000_000
    assert parse_size("1.5T") == 1_500_000_000_000
    assert parse_size("10GB") == 10_000_000_000
    assert parse_size("123") == 123
    for bad in ("ninety days", "90", "-5d"):
        with pytest.raises(StrongroomError, match="duration"):
            parse_duration(bad)
    with pytest.raises(StrongroomError, match="size"):
        parse_size("lots")


def test_the_plan_takes_what_waited_longest_within_the_budget() -> None:
    a, b, c, d = summary("a", 100, 40), summary("b", 100, 30), summary("c", 100, 20), summary("d", 500, 10)
    checked = {
        (a.uuid, "disk"): NOW - timedelta(days=100), (b.uuid, "disk"): NOW - timedelta(days=5),
        (c.uuid, "disk"): NOW - timedelta(days=200),
    }  # fmt: skip
    every = [(p, "disk") for p in (a, b, c, d)]
    plan = plan_audit(every, checked, older_than=timedelta(days=90), max_bytes=None, now=NOW)
    assert [p.name for p in plan.packages] == ["d", "c", "a"]  # never checked first, then the oldest check
    assert plan.checked_recently == 1 and plan.planned_bytes == 700
    budget = plan_audit(every[:3], checked, older_than=None, max_bytes=250, now=NOW)
    assert [p.name for p in budget.packages] == ["c", "a"] and budget.over_budget == 1  # b would make 300
    big_first = plan_audit(every, checked, older_than=None, max_bytes=250, now=NOW)
    # a run always checks at least one copy, and never jumps the queue with smaller ones after it
    assert [p.name for p in big_first.packages] == ["d"] and big_first.over_budget == 3
    failing = plan_audit(every, checked, older_than=timedelta(days=90), max_bytes=None, now=NOW,
                         failing=frozenset({(b.uuid, "disk")}))  # fmt: skip
    assert [p.name for p in failing.packages] == ["d", "c", "a", "b"]  # a failed copy is never "checked recently"


def test_the_plan_orders_copies_in_every_location_by_their_own_last_check() -> None:
    a, b = summary("a", 100, 40), summary("b", 100, 30)
    checked = {(a.uuid, "disk"): NOW - timedelta(days=1), (a.uuid, "s3"): NOW - timedelta(days=300),
               (b.uuid, "disk"): NOW - timedelta(days=50)}  # fmt: skip
    plan = plan_audit([(a, "disk"), (a, "s3"), (b, "disk"), (b, "s3")], checked, older_than=timedelta(days=30),
                      max_bytes=None, now=NOW)  # fmt: skip
    assert [(c.summary.name, c.location) for c in plan.copies] == [("b", "s3"), ("a", "s3"), ("b", "disk")]
    assert plan.checked_recently == 1


def test_the_throttle_keeps_the_average_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    throttle = Throttle(10.0, clock=lambda: now[0], sleep=sleep)  # 10 MB/s
    throttle(5_000_000)  # 5 MB read instantly: half a second ahead
    assert slept == [pytest.approx(0.5)]
    now[0] += 2.0  # slow storage: already behind
    throttle(1_000_000)
    assert len(slept) == 1
    with pytest.raises(StrongroomError):
        Throttle(0)


def test_audit_runs_a_slice_and_finds_damage(home: Home, tmp_path: Path) -> None:
    packages = []
    for number in range(3):
        transfer = tmp_path / f"t{number}"
        shutil.copytree(EXAMPLE_TRANSFER, transfer)
        write(transfer / "objects" / "unique.txt", f"transfer {number}")
        packages.append(str(home.ingest(transfer)["package"]))
    home.ok("verify", packages[0])
    first = home.ok("audit", "--older-than", "1d", "--json").json()
    assert isinstance(first, dict)
    assert sorted(p["package"] for p in first["copies"]) == sorted(packages[1:])
    assert {p["location"] for p in first["copies"]} == {"primary"}
    assert first["checked_recently"] == 1 and first["problems"] == []
    assert first["bytes_read"] > 0 and first["files_checked"] == 2 * 13
    again = home.ok("audit", "--older-than", "1d", "--json").json()
    assert again["copies"] == [] and again["checked_recently"] == 3  # type: ignore[index]
    damaged = object_root(home, packages[2]) / "v1" / "content" / "data" / "objects" / "unique.txt"
    damaged.chmod(0o644)
    damaged.write_text("transfer X")
    result = home.run("audit", "--rate", "500")
    assert result.exit_code == 1
    assert "unique.txt" in result.stdout and packages[2] in result.stdout and "version 1" in result.stdout
    shown = home.ok("show", packages[2], "--json").json()
    failures = [e for e in shown["events"] if e["type"] == "fixity check" and e["outcome"] == "failure"]  # type: ignore[index]
    assert failures and any("unique.txt" in e["detail"] for e in failures)
    assert home.run("audit", "--older-than", "soon").exit_code != 0
