"""The figures behind the preservation pictures, as typed series: used by the web pages and `report --html`.

Everything is read with aggregates: the format profile from the catalog's per-format counts, growth from
the versions table (one row per version, not per file), audit age from the copies table grouped by
package, retention from the due list. So a dashboard costs the same at 100,000 files as at 100.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from strongroom.catalog import tables as t
from strongroom.catalog.sql import SqlCatalog
from strongroom.formats.risk import RiskLevel
from strongroom.model import Outcome
from strongroom.reports.profile import GroupBy, Profile

if TYPE_CHECKING:
    from strongroom.archive import Archive

RISK_ORDER = (RiskLevel.HIGH, RiskLevel.UNKNOWN, RiskLevel.MEDIUM, RiskLevel.LOW)
AGE_BUCKETS = ("never", "under 30 days", "30 to 90 days", "90 to 365 days", "over 1 year")
RETENTION_MONTHS = 24
OVERDUE = "due now"


@dataclass(frozen=True)
class FormatSlice:
    puid: str | None
    name: str  # PRONOM's name (and version), "unidentified" when no signature matched
    files: int
    bytes: int
    risk: RiskLevel
    reason: str


@dataclass(frozen=True)
class RiskSlice:
    risk: RiskLevel
    files: int
    bytes: int
    formats: int


@dataclass(frozen=True)
class MonthGrowth:
    month: str  # "2026-11"
    packages: int  # packages first stored that month
    files: int  # files stored that month (every new version's new files)
    bytes: int
    total_packages: int  # cumulative, to the end of the month
    total_files: int
    total_bytes: int


@dataclass(frozen=True)
class AuditCoverage:
    packages: int
    checked: int  # packages whose every copy has had at least one fixity check
    failing: int  # packages with a copy whose last check failed
    oldest: datetime | None  # the least recent last check of any package
    ages: tuple[tuple[str, int], ...]  # AGE_BUCKETS with the number of packages in each


@dataclass(frozen=True)
class RetentionMonth:
    month: str  # OVERDUE, or "2027-03"
    packages: int


@dataclass(frozen=True)
class Dashboard:
    as_of: datetime
    profile: Profile
    formats: tuple[FormatSlice, ...]
    risks: tuple[RiskSlice, ...]
    growth: tuple[MonthGrowth, ...]
    audit: AuditCoverage
    retention: tuple[RetentionMonth, ...]
    waiting_for_trigger: int  # assigned a schedule whose trigger date is not known yet

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(timespec="seconds"),
            "registry_version": self.profile.registry_version,
            "totals": self.profile.totals.as_dict(),
            "formats": [
                {"puid": f.puid, "name": f.name, "files": f.files, "bytes": f.bytes, "risk": f.risk.value,
                 "reason": f.reason}
                for f in self.formats
            ],
            "risks": [{"risk": r.risk.value, "files": r.files, "bytes": r.bytes, "formats": r.formats}
                      for r in self.risks],
            "growth": [
                {"month": g.month, "packages": g.packages, "files": g.files, "bytes": g.bytes,
                 "total_packages": g.total_packages, "total_files": g.total_files, "total_bytes": g.total_bytes}
                for g in self.growth
            ],
            "audit": {
                "packages": self.audit.packages, "checked": self.audit.checked, "failing": self.audit.failing,
                "oldest_check": self.audit.oldest.isoformat(timespec="seconds") if self.audit.oldest else None,
                "ages": [{"age": label, "packages": count} for label, count in self.audit.ages],
            },
            "retention": [{"month": r.month, "packages": r.packages} for r in self.retention],
            "waiting_for_trigger": self.waiting_for_trigger,
        }  # fmt: skip


def format_name(puid: str | None, name: str | None, version: str | None) -> str:
    if puid is None:
        return "unidentified"
    words = " ".join(part for part in (name, version) if part)
    return words or puid


def format_slices(profile: Profile) -> tuple[FormatSlice, ...]:
    return tuple(
        FormatSlice(row.puid, format_name(row.puid, row.format_name, row.format_version), row.files, row.bytes,
                    row.risk, row.reason or "")
        for row in profile.rows
    )  # fmt: skip


def risk_slices(formats: Sequence[FormatSlice]) -> tuple[RiskSlice, ...]:
    files = dict.fromkeys(RISK_ORDER, 0)
    size = dict.fromkeys(RISK_ORDER, 0)
    puids: dict[RiskLevel, set[str | None]] = {level: set() for level in RISK_ORDER}
    for f in formats:
        files[f.risk] += f.files
        size[f.risk] += f.bytes
        puids[f.risk].add(f.puid)
    return tuple(RiskSlice(level, files[level], size[level], len(puids[level])) for level in RISK_ORDER)


def _month(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m") if moment.tzinfo else moment.strftime("%Y-%m")


def _next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year + number // 12}-{number % 12 + 1:02d}"


def _connection(archive: Archive) -> SqlCatalog:
    catalog = archive.catalog
    if not isinstance(catalog, SqlCatalog):  # pragma: no cover - every backend is SQL
        raise TypeError("the dashboard reads an SQL catalog")
    return catalog


def growth_by_month(archive: Archive, until: datetime) -> tuple[MonthGrowth, ...]:
    """Packages, files and bytes stored per month (from the first month to `until`'s), with running totals."""
    v = t.versions.c
    catalog = _connection(archive)
    with catalog._read("reading the archive's growth") as conn:  # the catalog has no aggregate for this
        rows = conn.execute(sa.select(v.created, v.number, v.new_files, v.new_bytes)).all()
    months: dict[str, list[int]] = {}
    for created, number, new_files, new_bytes in rows:
        counts = months.setdefault(_month(created), [0, 0, 0])
        counts[0] += 1 if number == 1 else 0
        counts[1] += int(new_files)
        counts[2] += int(new_bytes)
    if not months:
        return ()
    series: list[MonthGrowth] = []
    month, last = min(months), max(max(months), _month(until))
    totals = [0, 0, 0]
    while True:
        packages, files, size = months.get(month, [0, 0, 0])
        totals = [totals[0] + packages, totals[1] + files, totals[2] + size]
        series.append(MonthGrowth(month, packages, files, size, *totals))
        if month == last:
            break
        month = _next_month(month)
    return tuple(series)


def _age_bucket(checked: datetime | None, now: datetime) -> str:
    if checked is None:
        return AGE_BUCKETS[0]
    age = now - (checked if checked.tzinfo else checked.replace(tzinfo=UTC))
    if age < timedelta(days=30):
        return AGE_BUCKETS[1]
    if age < timedelta(days=90):
        return AGE_BUCKETS[2]
    if age < timedelta(days=365):
        return AGE_BUCKETS[3]
    return AGE_BUCKETS[4]


def audit_coverage(archive: Archive, now: datetime) -> AuditCoverage:
    """Per package, its least recently checked copy decides its age (a copy never checked: "never")."""
    c, p = t.copies.c, t.packages.c
    unchecked = sa.func.coalesce(sa.func.sum(sa.case((c.checked.is_(None), 1), else_=0)), 0)
    failing = sa.func.coalesce(sa.func.sum(sa.case((c.outcome == Outcome.FAILURE.value, 1), else_=0)), 0)
    query = (
        sa.select(p.uuid, sa.func.min(c.checked), unchecked, failing)
        .select_from(t.packages.outerjoin(t.copies, c.package == p.uuid))
        .group_by(p.uuid)
    )
    catalog = _connection(archive)
    with catalog._read("reading audit coverage") as conn:  # the catalog has no aggregate for this
        rows = conn.execute(query).all()
    counts = dict.fromkeys(AGE_BUCKETS, 0)
    checked = failed = 0
    oldest: datetime | None = None
    for _uuid, last, never, bad in rows:
        last_check = None if (never or last is None) else last
        counts[_age_bucket(last_check, now)] += 1
        if last_check is not None:
            checked += 1
            oldest = last_check if oldest is None or last_check < oldest else oldest
        failed += 1 if bad else 0
    return AuditCoverage(len(rows), checked, failed, oldest, tuple(counts.items()))


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    return date(day.year + index // 12, index % 12 + 1, 1)


def retention_by_month(archive: Archive, today: date) -> tuple[tuple[RetentionMonth, ...], int]:
    """Packages due for disposal or review: already due, then each of the next 24 months; and those waiting."""
    from strongroom.records.retention import due

    # This month and the 23 after it: to the end of the 24th month.
    horizon = _add_months(today, RETENTION_MONTHS) - timedelta(days=1)
    listed = due(archive, horizon)
    months = [OVERDUE, *(_add_months(today, n).strftime("%Y-%m") for n in range(RETENTION_MONTHS))]
    counts = dict.fromkeys(months, 0)
    for item in listed.due:
        if item.due is None:
            continue
        key = OVERDUE if item.due <= today else item.due.strftime("%Y-%m")
        if key in counts:
            counts[key] += 1
    return tuple(RetentionMonth(m, n) for m, n in counts.items()), len(listed.waiting)


def build_dashboard(archive: Archive, now: datetime | None = None) -> Dashboard:
    moment = now or datetime.now(UTC)
    profile = archive.collection_profile(GroupBy.PUID)
    formats = format_slices(profile)
    retention, waiting = retention_by_month(archive, moment.date())
    return Dashboard(
        as_of=moment,
        profile=profile,
        formats=formats,
        risks=risk_slices(formats),
        growth=growth_by_month(archive, moment),
        audit=audit_coverage(archive, moment),
        retention=retention,
        waiting_for_trigger=waiting,
    )


# --- migration proposals ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """An at-risk format held, and what the migration policy would make of it (no rule: nothing yet)."""

    puid: str | None
    name: str
    risk: RiskLevel
    files: int
    bytes: int
    purpose: str | None  # None: the policy has no rule for this format
    rule: str | None
    tool: str | None
    target: str | None  # the output's extension and expected PUIDs, e.g. "odt (fmt/290, fmt/291)"
    description: str


def migration_proposals(archive: Archive, formats: Sequence[FormatSlice]) -> tuple[str, tuple[Proposal, ...]]:
    """The policy's version, and for each format rated medium or worse, the rules that would migrate it."""
    from strongroom.preservation.migrate_plan import default_purposes
    from strongroom.preservation.policy import load_policy

    policy = load_policy(archive.settings.home)
    purposes = default_purposes(policy)
    proposals: list[Proposal] = []
    at_risk = [f for f in formats if f.risk is not RiskLevel.LOW]
    for f in sorted(at_risk, key=lambda f: (f.risk.severity, -f.files, f.name)):
        rules = policy.rules_for(f.puid, purposes)
        if not rules:
            proposals.append(Proposal(f.puid, f.name, f.risk, f.files, f.bytes, None, None, None, None,
                                      "The migration policy has no rule for this format."))  # fmt: skip
        for rule in rules:
            spec = policy.tools.get(rule.tool)
            target = f"{rule.extension} ({', '.join(rule.output_puids)})"
            proposals.append(Proposal(f.puid, f.name, f.risk, f.files, f.bytes, rule.purpose.value, rule.id,
                                      spec.display_name if spec else rule.tool, target, rule.description))  # fmt: skip
    return policy.version, tuple(proposals)


def proposal_json(p: Proposal) -> dict[str, Any]:
    return {"puid": p.puid, "name": p.name, "risk": p.risk.value, "files": p.files, "bytes": p.bytes,
            "purpose": p.purpose, "rule": p.rule, "tool": p.tool, "target": p.target,
            "description": p.description}  # fmt: skip


# --- copy checks ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CopyCheck:
    """The last fixity check of one package's copy in one location."""

    package: str
    name: str
    location: str
    checked: datetime | None
    outcome: str | None  # "success" or "failure"; None before the first check
    problems: int


def copy_checks(archive: Archive, limit: int) -> tuple[tuple[CopyCheck, ...], tuple[CopyCheck, ...]]:
    """The `limit` most recent copy checks, and every copy whose last check failed (by package name)."""
    c, p = t.copies.c, t.packages.c
    columns = (c.package, p.name, c.location, c.checked, c.outcome, c.problems)
    base = sa.select(*columns).join_from(t.copies, t.packages, p.uuid == c.package)
    recent_query = base.where(c.checked.is_not(None)).order_by(c.checked.desc(), c.package, c.location).limit(limit)
    failing_query = base.where(c.outcome == Outcome.FAILURE.value).order_by(p.name, c.package, c.location)
    catalog = _connection(archive)
    with catalog._read("reading copy checks") as conn:  # the catalog has no query for this
        recent = tuple(CopyCheck(*row) for row in conn.execute(recent_query).all())
        failing = tuple(CopyCheck(*row) for row in conn.execute(failing_query).all())
    return recent, failing
