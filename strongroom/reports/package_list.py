"""The staff list of packages: each with its access status on the day, its last audit (the least recently
checked copy, as the dashboard's audit coverage counts it) and whether any copy failed its last fixity check;
filtered and paged in SQL, so that a page of an archive of 100,000 packages reads one page's rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from strongroom import views
from strongroom.catalog import tables as t
from strongroom.catalog.sql import _summary
from strongroom.errors import StrongroomError
from strongroom.model import AccessStatus, Outcome, PackageSummary
from strongroom.reports.dashboard import AGE_BUCKETS, _connection

if TYPE_CHECKING:
    from strongroom.archive import Archive

MAX_LIMIT = 500
MAX_NAME_FILTER = 200
# Each bucket after "never" as the youngest and oldest age of its least recently checked copy.
_AGES = {
    AGE_BUCKETS[1]: (None, timedelta(days=30)),
    AGE_BUCKETS[2]: (timedelta(days=30), timedelta(days=90)),
    AGE_BUCKETS[3]: (timedelta(days=90), timedelta(days=365)),
    AGE_BUCKETS[4]: (timedelta(days=365), None),
}


@dataclass(frozen=True)
class PackageFilter:
    """What to list: every filter given must hold. `audit` is one of dashboard.AGE_BUCKETS."""

    access: AccessStatus | None = None  # the status on the day: a closed package whose opening date came is open
    audit: str | None = None
    name: str | None = None  # contained in the name or the title, case ignored (ASCII letters on SQLite)

    def __post_init__(self) -> None:
        if self.audit is not None and self.audit not in AGE_BUCKETS:
            raise StrongroomError(f"Unknown audit age {self.audit!r}.",
                                  details=[f"Choose one of: {', '.join(AGE_BUCKETS)}."])  # fmt: skip
        if self.name is not None and len(self.name) > MAX_NAME_FILTER:
            raise StrongroomError(f"The name to look for is longer than {MAX_NAME_FILTER} characters.",
                                  details=["Give a shorter part of the package's name or title."])  # fmt: skip


@dataclass(frozen=True)
class PackageRow:
    package: PackageSummary
    access: AccessStatus  # on the day asked about
    opening_date: date | None  # when a closed or restricted package opens (None: no date set, or open)
    copies: int
    last_audit: datetime | None  # the least recently checked copy's check; None if any copy was never checked
    audit_age: str  # one of AGE_BUCKETS
    failing: int  # copies whose last fixity check failed

    @property
    def fixity(self) -> str:
        """ "failing" (some copy failed its last check), "not checked" (some copy never checked) or "passing"."""
        if self.failing:
            return "failing"
        return "not checked" if self.last_audit is None else "passing"


@dataclass(frozen=True)
class PackagePage:
    rows: tuple[PackageRow, ...]
    total: int  # every package the filters match, not only this page
    offset: int
    limit: int


def _copy_stats(packages: list[str] | None = None) -> Any:
    """Per package with copies (of `packages`, when given): how many, the oldest check, how many never checked,
    how many failing."""
    c = t.copies.c
    return (
        sa.select(
            c.package.label("package"),
            sa.func.count().label("copies"),
            sa.func.min(c.checked).label("oldest"),
            sa.func.sum(sa.case((c.checked.is_(None), 1), else_=0)).label("unchecked"),
            sa.func.sum(sa.case((c.outcome == Outcome.FAILURE.value, 1), else_=0)).label("failing"),
        )
        .where(sa.true() if packages is None else c.package.in_(packages))
        .group_by(c.package)
        .subquery("copy_stats")
    )


def _access_on(day: date, rule: Any) -> Any:
    """The package's access status on `day` as an SQL expression (no package rule: open)."""
    opened = sa.or_(rule.c.status.is_(None), rule.c.status == AccessStatus.OPEN.value, rule.c.opening_date <= day)
    return sa.case((opened, AccessStatus.OPEN.value), else_=rule.c.status)


def _audit_condition(bucket: str, stats: Any, now: datetime) -> Any:
    never = sa.or_(stats.c.package.is_(None), stats.c.unchecked > 0)
    if bucket == AGE_BUCKETS[0]:
        return never
    youngest, oldest = _AGES[bucket]
    conditions = [sa.not_(never)]
    if youngest is not None:  # checked at least this long ago
        conditions.append(stats.c.oldest <= now - youngest)
    if oldest is not None:  # checked more recently than this
        conditions.append(stats.c.oldest > now - oldest)
    return sa.and_(*conditions)


def _age_of(oldest: datetime | None, now: datetime) -> str:
    if oldest is None:
        return AGE_BUCKETS[0]
    age = now - oldest
    for bucket, (youngest, most) in _AGES.items():
        if (youngest is None or age >= youngest) and (most is None or age < most):
            return bucket
    return AGE_BUCKETS[-1]  # pragma: no cover - the buckets cover every age


def list_packages(
    archive: Archive,
    filters: PackageFilter = PackageFilter(),
    *,
    offset: int = 0,
    limit: int = 50,
    now: datetime | None = None,
) -> PackagePage:
    """One page of packages (oldest first, as `strongroom list`), with the number matching the filters."""
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise StrongroomError(f"Ask for 1 to {MAX_LIMIT} packages from an offset of 0 or more.",
                              details=["Use the next page's offset to read further."])  # fmt: skip
    now = now or datetime.now(UTC)
    day = now.date()
    p = t.packages.c
    rule = sa.select(t.access_rules).where(t.access_rules.c.path == "").subquery("rule")
    stats = _copy_stats()
    access = _access_on(day, rule)
    conditions: list[Any] = []
    if filters.access is not None:
        conditions.append(access == filters.access.value)
    if filters.audit is not None:
        conditions.append(_audit_condition(filters.audit, stats, now))
    if filters.name:
        needle = filters.name.strip().lower()
        title = sa.func.coalesce(p.title, "")
        conditions.append(sa.or_(sa.func.lower(p.name).contains(needle, autoescape=True),
                                 sa.func.lower(title).contains(needle, autoescape=True)))  # fmt: skip
    joined = t.packages.outerjoin(rule, rule.c.package == p.uuid)
    if filters.audit is not None:  # only then is every package's copy summary needed to choose the page
        joined = joined.outerjoin(stats, stats.c.package == p.uuid)
    where = sa.and_(sa.true(), *conditions)
    page_query = (
        sa.select(t.packages, access.label("access"), rule.c.opening_date)
        .select_from(joined)
        .where(where)
        .order_by(p.created, p.name, p.uuid)
        .limit(limit)
        .offset(offset)
    )
    count_query = sa.select(sa.func.count()).select_from(joined).where(where)
    catalog = _connection(archive)
    with catalog._read("listing packages") as conn:  # the catalog has no filtered, paged listing
        total = int(conn.execute(count_query).scalar_one())
        rows = conn.execute(page_query).all()
        uuids = [r.uuid for r in rows]
        page_stats = {s.package: s for s in conn.execute(sa.select(_copy_stats(uuids))).all()} if uuids else {}
    listed = []
    for r in rows:
        s = page_stats.get(r.uuid)
        checked = None if s is None or s.unchecked else s.oldest
        listed.append(PackageRow(
            _summary(r), AccessStatus(r.access),
            None if r.access == AccessStatus.OPEN.value else r.opening_date, 0 if s is None else int(s.copies),
            checked, _age_of(checked, now), 0 if s is None else int(s.failing or 0),
        ))  # fmt: skip
    return PackagePage(tuple(listed), total, offset, limit)


def package_row_json(row: PackageRow) -> dict[str, Any]:
    """`strongroom list --json`'s fields for the package, and its access, audit and fixity."""
    return views.package_json(row.package) | {
        "access": row.access.value,
        "opening_date": row.opening_date.isoformat() if row.opening_date else None, "copies": row.copies,
        "last_audit": row.last_audit.isoformat() if row.last_audit else None, "audit_age": row.audit_age,
        "failing_copies": row.failing, "fixity": row.fixity,
    }  # fmt: skip
