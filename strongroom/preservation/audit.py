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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from strongroom.errors import StrongroomError
from strongroom.model import PackageSummary
from strongroom.preservation.fixity import FixityMode
from strongroom.preservation.verify import VerifyReport, verify_packages

if TYPE_CHECKING:
    from strongroom.archive import Archive

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
class AuditPlan:
    """Which packages this run checks, and why the others wait."""

    packages: tuple[PackageSummary, ...]
    last_checked: dict[str, datetime]
    checked_recently: int  # packages skipped: checked more recently than older_than
    over_budget: int  # packages left for a later run: max_bytes reached
    planned_bytes: int


@dataclass
class AuditReport:
    plan: AuditPlan
    verify: VerifyReport
    seconds: float
    rate_limit: float | None  # MB/s
    problems_by_package: dict[str, int] = field(default_factory=dict)

    @property
    def read_mb_per_second(self) -> float:
        return self.verify.bytes_read / 1e6 / self.seconds if self.seconds > 0 else 0.0


def plan_audit(
    packages: Sequence[PackageSummary],
    last_checked: dict[str, datetime],
    *,
    older_than: timedelta | None,
    max_bytes: int | None,
    now: datetime,
) -> AuditPlan:
    """Least recently checked first (never checked before anything else); then oldest packages first."""
    epoch = datetime.min.replace(tzinfo=UTC)
    ordered = sorted(packages, key=lambda p: (last_checked.get(p.uuid, epoch), p.created, p.uuid))
    chosen: list[PackageSummary] = []
    recent = over = planned = 0
    full = False
    for package in ordered:
        checked = last_checked.get(package.uuid)
        if older_than is not None and checked is not None and now - checked < older_than:
            recent += 1
            continue
        # Strictly in turn: a package that does not fit waits at the head of the queue for the next run.
        full = full or (max_bytes is not None and bool(chosen) and planned + package.bytes > max_bytes)
        if full:
            over += 1
            continue
        chosen.append(package)
        planned += package.bytes
    return AuditPlan(tuple(chosen), last_checked, recent, over, planned)


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


def run_audit(
    archive: Archive,
    operator: str,
    *,
    older_than: timedelta | None = None,
    max_bytes: int | None = None,
    rate: float | None = None,
    progress: StepProgress | None = None,
) -> AuditReport:
    plan = plan_audit(
        archive.catalog.packages(), archive.catalog.last_checked(), older_than=older_than, max_bytes=max_bytes,
        now=datetime.now(UTC),
    )  # fmt: skip
    started = time.monotonic()
    throttle = Throttle(rate) if rate is not None else None
    report = verify_packages(archive, plan.packages, operator, FixityMode.FULL, progress, throttle)
    counts: dict[str, int] = {}
    for problem in report.problems:
        counts[problem.package] = counts.get(problem.package, 0) + 1
    return AuditReport(plan, report, time.monotonic() - started, rate, counts)
