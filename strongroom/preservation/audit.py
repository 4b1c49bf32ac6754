"""Scheduled fixity audits: each run re-reads a slice of the archive, least recently checked first.

A cron job or systemd timer runs `strongroom audit` every night; each run checks the
packages whose last whole-package fixity check is oldest (never-checked ones first),
skips those checked more recently than `older_than`, stops adding packages once
`max_bytes` are planned, and reads no faster than `rate` so that the disks stay usable.
Over a cycle the whole archive is re-read. The checks themselves are `verify`'s: every
version, every byte against the OCFL inventory, each recorded as PREMIS events in the
journal.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from strongroom.errors import StrongroomError
from strongroom.locations import LocationRole
from strongroom.model import Outcome, PackageSummary
from strongroom.preservation.fixity import FixityMode
from strongroom.preservation.verify import PackageProblem, VerifyReport, open_locations, verify_copies

if TYPE_CHECKING:
    from strongroom.archive import Archive
    from strongroom.copies import RepairReport

StepProgress = Callable[[str, int, int | None], None]
_DURATION = re.compile(r"\s*(\d+)\s*([smhdw])\s*", re.IGNORECASE)
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_BYTES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def parse_duration(text: str) -> timedelta:
    """`90d`, `12h`, `30m`, `2w`, `45s`."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise StrongroomError(
            f"{text!r} is not a duration.", details=["Write it as a number and a unit: 90d, 12h, 30m."]
        )
    return timedelta(seconds=int(match.group(1)) * _SECONDS[match.group(2).lower()])


def parse_size(text: str) -> int:
    """`500M`, `10G`, `1.5T`, `123456` (bytes; powers of 1000)."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise StrongroomError(f"{text!r} is not a size.", details=["Write it as a number and a unit: 500M, 10G, 2T."])
    return int(float(match.group(1)) * _BYTES[match.group(2).lower()])


@dataclass(frozen=True)
class PlannedCopy:
    summary: PackageSummary
    location: str
    last_checked: datetime | None


@dataclass(frozen=True)
class AuditPlan:
    """Which copies (package x location) this run checks, and why the others wait."""

    copies: tuple[PlannedCopy, ...]
    checked_recently: int  # copies skipped: checked more recently than older_than
    over_budget: int  # copies left for a later run: max_bytes reached
    planned_bytes: int

    @property
    def packages(self) -> tuple[PackageSummary, ...]:
        seen: dict[str, PackageSummary] = {}
        for planned in self.copies:
            seen.setdefault(planned.summary.uuid, planned.summary)
        return tuple(seen.values())


@dataclass
class AuditReport:
    plan: AuditPlan
    verify: VerifyReport
    seconds: float
    rate_limit: float | None  # MB/s
    problems_by_package: dict[str, int] = field(default_factory=dict)
    repairs: list[RepairReport] = field(default_factory=list)
    repair_failures: dict[str, str] = field(default_factory=dict)  # package -> why it could not be repaired

    @property
    def read_mb_per_second(self) -> float:
        return self.verify.bytes_read / 1e6 / self.seconds if self.seconds > 0 else 0.0


def plan_audit(
    candidates: Sequence[tuple[PackageSummary, str]],
    last_checked: Mapping[tuple[str, str], datetime],
    *,
    older_than: timedelta | None,
    max_bytes: int | None,
    now: datetime,
    failing: frozenset[tuple[str, str]] = frozenset(),
) -> AuditPlan:
    """Least recently checked copy first (never checked before anything else); then oldest packages first.

    `candidates` are (package, location name) pairs; `last_checked` maps (package uuid, location) to the
    copy's last check. Copies in `failing` (last check failed) are never "checked recently": until repaired,
    every run checks and reports them again.
    """
    epoch = datetime.min.replace(tzinfo=UTC)
    order = {name: i for i, name in enumerate(dict.fromkeys(loc for _, loc in candidates))}

    def key(item: tuple[PackageSummary, str]) -> tuple[datetime, datetime, str, int]:
        summary, location = item
        return (last_checked.get((summary.uuid, location), epoch), summary.created, summary.uuid, order[location])

    chosen: list[PlannedCopy] = []
    skipped = over = planned = 0
    full = False
    for summary, location in sorted(candidates, key=key):
        checked = last_checked.get((summary.uuid, location))
        recent = (summary.uuid, location) not in failing and checked is not None
        if older_than is not None and recent and checked is not None and now - checked < older_than:
            skipped += 1
            continue
        # Strictly in turn: a copy that does not fit waits at the head of the queue for the next run.
        full = full or (max_bytes is not None and bool(chosen) and planned + summary.bytes > max_bytes)
        if full:
            over += 1
            continue
        chosen.append(PlannedCopy(summary, location, checked))
        planned += summary.bytes
    return AuditPlan(tuple(chosen), skipped, over, planned)


class Throttle:
    """Sleeps as needed so that reading never runs faster than `mb_per_second` on average."""

    def __init__(self, mb_per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        if mb_per_second <= 0:
            raise StrongroomError("--rate must be more than 0 MB/s.")
        self.bytes_per_second = mb_per_second * 1e6
        self._clock = clock
        self._sleep = sleep
        self._start = clock()
        self._done = 0

    def __call__(self, read: int) -> None:
        self._done += read
        ahead = self._done / self.bytes_per_second - (self._clock() - self._start)
        if ahead > 0:
            self._sleep(ahead)


def select_copies(
    archive: Archive,
    report: VerifyReport,
    *,
    location: str | None = None,
    older_than: timedelta | None = None,
    max_bytes: int | None = None,
) -> AuditPlan:
    """Plan this run over the locations that open (those that do not are noted in `report`; the ones that do
    stay open in `archive`, for archive.location())."""
    opened = open_locations(archive, [location] if location else None, report)
    packages = archive.catalog.packages()
    candidates: list[tuple[PackageSummary, str]] = []
    last: dict[tuple[str, str], datetime] = {}
    failing: set[tuple[str, str]] = set()
    for loc in opened:
        copies = archive.catalog.copies(location=loc.name)
        held = {c.package for c in copies}
        failing |= {(c.package, loc.name) for c in copies if c.outcome is Outcome.FAILURE}
        expected = loc.spec.role is LocationRole.REPLICA
        candidates.extend((p, loc.name) for p in packages if p.uuid in held or expected)
        last.update({(uuid, loc.name): when for uuid, when in archive.catalog.last_checked(loc.name).items()})
    plan = plan_audit(candidates, last, older_than=older_than, max_bytes=max_bytes, now=datetime.now(UTC),
                      failing=frozenset(failing))  # fmt: skip
    return plan


def problems_by_package(problems: Sequence[PackageProblem]) -> dict[str, int]:
    """How many problems each package has, in the order its first problem was found (the order repairs go in)."""
    counts: dict[str, int] = {}
    for problem in problems:
        counts[problem.package] = counts.get(problem.package, 0) + 1
    return counts


@dataclass(frozen=True)
class Repairs:
    reports: list[RepairReport]
    failures: dict[str, str]  # package -> why it could not be repaired


def repair_damaged(archive: Archive, packages: Sequence[str], operator: str) -> Repairs:
    """Heal each package from a location whose copy verifies."""
    from strongroom.copies import NoGoodCopy, repair_package

    repairs: list[RepairReport] = []
    failures: dict[str, str] = {}
    for package in packages:
        try:
            repairs.append(repair_package(archive, archive.package(package), operator))
        except NoGoodCopy as err:
            failures[package] = err.message
        except StrongroomError as err:  # one package's repair failing never stops the others, or the report
            failures[package] = f"repair failed: {err.message}"
    return Repairs(repairs, failures)


def run_audit(
    archive: Archive,
    operator: str,
    *,
    location: str | None = None,
    older_than: timedelta | None = None,
    max_bytes: int | None = None,
    rate: float | None = None,
    repair: bool = False,
    progress: StepProgress | None = None,
) -> AuditReport:
    """Check a slice of the copies in every location (or one); with `repair`, heal what is found damaged.

    The audit job (preservation/audit_job.py) runs the same plan, checks and repairs in chunks over workers.
    """
    report = VerifyReport(FixityMode.FULL, location_count=len(archive.settings.all_locations))
    plan = select_copies(archive, report, location=location, older_than=older_than, max_bytes=max_bytes)
    started = time.monotonic()
    throttle = Throttle(rate) if rate is not None else None
    pairs = [(c.summary, archive.location(c.location)) for c in plan.copies]
    verify_copies(archive, pairs, operator, FixityMode.FULL, progress, throttle, report)
    counts = problems_by_package(report.problems)
    audit = AuditReport(plan, report, time.monotonic() - started, rate, counts)
    if repair:
        repairs = repair_damaged(archive, list(counts), operator)
        audit.repairs, audit.repair_failures = repairs.reports, repairs.failures
    return audit
