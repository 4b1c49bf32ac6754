"""The records-management vocabulary: schedules, assignments, trigger events, reviews, holds, disposal.

Pure types with no I/O. The journal is their source of truth (`records/journal_data.py`
writes and reads them), the catalog keeps a queryable copy (`catalog/records_base.py`)
and `rebuild` restores that copy from the journal alone, including for packages whose
content has been destroyed.
"""

from __future__ import annotations

import calendar
import enum
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from strongroom.errors import StrongroomError


class Trigger(enum.StrEnum):
    """What starts a retention period running."""

    CREATION = "creation"  # the package's creation date (its DC date, else its first version's date)
    LAST_RECORD = "last-record"  # the latest date among its records (DC dates, originals' modified dates)
    CLOSURE = "closure"  # the date the file was closed: the trigger event named "closure"
    EVENT = "event"  # a named event (`event:contract-end`), recorded per package with a date


class DisposalAction(enum.StrEnum):
    DESTROY = "destroy"
    REVIEW = "review"
    RETAIN = "retain"  # retain permanently: never due
    TRANSFER = "transfer"  # to another archive: exported as a BagIt bag with its METS, then removed


class HoldType(enum.StrEnum):
    LITIGATION = "litigation"
    FOI = "foi"  # an FOI or EIR request (destroying a requested record is an offence: FOIA s.77)
    AUDIT = "audit"
    INVESTIGATION = "investigation"


HOLD_TYPE_ALIASES: Mapping[str, HoldType] = {"eir": HoldType.FOI, "foi/eir": HoldType.FOI, "legal": HoldType.LITIGATION}


class BatchStatus(enum.StrEnum):
    PROPOSED = "proposed"  # fewer than two distinct approvals
    APPROVED = "approved"  # two different people approved; may be executed
    EXECUTING = "executing"  # execution began (stubs written ahead); running `execute` again resumes it
    EXECUTED = "executed"  # every item done, certificate issued
    WITHDRAWN = "withdrawn"  # withdrawn with a reason before execution began: its packages may be proposed again


class ItemOutcome(enum.StrEnum):
    PENDING = "pending"
    DESTROYED = "destroyed"
    TRANSFERRED = "transferred"
    SKIPPED = "skipped"  # held, changed or re-sentenced since the proposal; `why` says which


class ReviewDecision(enum.StrEnum):
    EXTEND = "extend"  # keep until a new due date
    RESENTENCE = "re-sentence"  # move to another schedule (its current version)
    DESTROY = "destroy"  # the review found it may be destroyed: due now
    RETAIN = "retain"  # keep permanently


_ISO_PERIOD = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?")
_WORDS_PERIOD = re.compile(r"(\d+)\s*(year|yr|month|week|day)s?", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Period:
    """A retention period in calendar units: ISO 8601 date durations only (P6Y, P18M, P2W, P30D, P1Y6M)."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: str) -> Period:
        """`P6Y`, `P1Y6M`, or the words of the UK guidance (`6 years`, `18 months`, `6 years 3 months`)."""
        cleaned = text.strip()
        match = _ISO_PERIOD.fullmatch(cleaned.upper())
        if match and any(match.groups()):
            y, m, w, d = (int(g or 0) for g in match.groups())
            return cls(y, m, w, d)
        words = list(_WORDS_PERIOD.finditer(cleaned))
        rest = _WORDS_PERIOD.sub("", cleaned).replace(",", "").replace("and", "").strip()
        if words and not rest:
            counts = {"year": 0, "yr": 0, "month": 0, "week": 0, "day": 0}
            for word in words:
                counts[word.group(2).lower()] += int(word.group(1))
            return cls(counts["year"] + counts["yr"], counts["month"], counts["week"], counts["day"])
        raise StrongroomError(
            f"{text!r} is not a retention period. Write an ISO 8601 duration in years, months, weeks or days "
            "(P6Y, P18M, P1Y6M, P30D) or words such as '6 years'; times of day (PT...) are not periods."
        )

    def iso(self) -> str:
        parts = [(self.years, "Y"), (self.months, "M"), (self.weeks, "W"), (self.days, "D")]
        text = "".join(f"{n}{unit}" for n, unit in parts if n)
        return "P" + (text or "0D")

    def add_to(self, day: date) -> date:
        """`day` plus this period; a month end that does not exist falls back (29 Feb + P1Y = 28 Feb).

        A day past 9999-12-31 (a "9999" open-end date plus a period) is `date.max`: never due in practice."""
        months = day.month - 1 + self.months + 12 * self.years
        year, month = day.year + months // 12, months % 12 + 1
        if year > date.max.year:
            return date.max
        last = calendar.monthrange(year, month)[1]
        moved = date(year, month, min(day.day, last))
        return date.fromordinal(min(moved.toordinal() + 7 * self.weeks + self.days, date.max.toordinal()))

    def __str__(self) -> str:
        return self.iso()


@dataclass(frozen=True)
class ScheduleVersion:
    """One version of a retention schedule (a class of records and what happens to them)."""

    code: str
    version: int  # 1, 2, ...: a change to any field makes a new version
    title: str
    description: str
    authority: str  # the mandate: statute, regulation, guidance
    period: Period | None  # None only for RETAIN
    trigger: Trigger
    trigger_event: str | None  # NAME of `event:NAME`
    action: DisposalAction
    transfer_to: str | None  # the receiving archive, for TRANSFER
    created: datetime
    reason: str  # why this version was made ("loaded from schedules.csv")
    event_uuid: str | None = None

    def trigger_text(self) -> str:
        return f"event:{self.trigger_event}" if self.trigger is Trigger.EVENT else self.trigger.value

    def same_terms(self, other: ScheduleVersion) -> bool:
        """True when nothing a user wrote differs (so loading it again makes no new version)."""
        fields = ("title", "description", "authority", "period", "trigger", "trigger_event", "action", "transfer_to")
        return all(getattr(self, f) == getattr(other, f) for f in fields)


@dataclass(frozen=True)
class RetentionAssignment:
    """The one schedule (version) applied to a package, and how it came to be applied."""

    package: str
    code: str
    version: int
    assigned: datetime
    reason: str
    how: str  # "ingest-option", "metadata", "rule:<n>", "manual", "re-sentence"
    due_override: date | None = None  # set by a review that extends the retention
    event_uuid: str | None = None


@dataclass(frozen=True)
class TriggerEvent:
    """A named event of a package with its date (`closure` is the date the file was closed)."""

    package: str
    name: str
    date: date
    recorded: datetime
    reason: str
    event_uuid: str | None = None


@dataclass(frozen=True)
class Review:
    """A review decision about a package due for review (or any package), with its reason."""

    package: str
    decision: ReviewDecision
    reason: str
    decided: datetime
    by: str
    new_due: date | None = None  # EXTEND
    new_code: str | None = None  # RESENTENCE
    new_version: int | None = None
    event_uuid: str | None = None


@dataclass(frozen=True)
class Hold:
    """A legal, FOI/EIR, audit or investigation hold on one or more packages."""

    id: str  # a UUID
    type: HoldType
    reason: str
    authority: str | None
    reference: str | None  # the case number, FOI request reference...
    query: str | None  # the search that chose the packages (a snapshot taken when placed)
    packages: tuple[str, ...]
    placed: datetime
    placed_by: str
    released: datetime | None = None
    released_by: str | None = None
    release_reason: str | None = None
    place_event: str | None = None
    release_event: str | None = None

    @property
    def active(self) -> bool:
        return self.released is None


@dataclass(frozen=True)
class DisposalItem:
    """One package of a disposal batch."""

    package: str
    action: DisposalAction  # DESTROY or TRANSFER
    code: str
    version: int
    due: date
    head_version: int  # the package's head version when proposed: a newer one means it changed
    outcome: ItemOutcome = ItemOutcome.PENDING
    why: str | None = None  # for SKIPPED
    pending_locations: tuple[str, ...] = ()  # locations still holding content (unreachable during execute)


@dataclass(frozen=True)
class Approval:
    name: str  # the person, as typed with --as
    operator: str  # the account that ran the command (current_operator())
    approved: datetime
    event_uuid: str | None = None

    @property
    def key(self) -> str:
        """The same person however the name is cased, spaced or Unicode-encoded."""
        return name_key(self.name)


def name_key(name: str) -> str:
    """A name compared as a person would read it: NFKC and case folded (Unicode's NFKC_Casefold), so a decomposed
    accent, fullwidth letters, a no-break space or other case are the same name; spacing collapsed."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.split())


@dataclass(frozen=True)
class DisposalBatch:
    id: str  # a UUID
    as_of: date
    proposed: datetime
    proposed_by: str
    items: tuple[DisposalItem, ...]
    approvals: tuple[Approval, ...] = ()
    status: BatchStatus = BatchStatus.PROPOSED
    executed: datetime | None = None
    certificate_sha256: Mapping[str, str] = field(default_factory=dict)  # {"csv": hex, "html": hex}


@dataclass(frozen=True)
class DestructionStub:
    """What is kept of a destroyed or transferred package: no personal data, no file names, no content."""

    package: str
    identifier: str | None  # the DC identifier (a reference code)
    title: str  # the redacted title if closed/restricted with one, else the DC title, else the package name
    code: str
    version: int
    authority: str
    action: DisposalAction
    date_from: date | None
    date_to: date | None
    batch: str
    approved_by: tuple[str, ...]
    destroyed: datetime
    files: int
    bytes: int
    payload_sha256: str
    transferred_to: str | None = None
    index_purged: bool = False
    event_uuid: str | None = None


@dataclass(frozen=True)
class DueItem:
    """A row of the due list."""

    package: str
    name: str
    title: str
    schedule: ScheduleVersion
    trigger_date: date | None
    due: date | None
    holds: tuple[str, ...] = ()  # active hold ids
    batch: str | None = None  # an open disposal batch already holding it
    waiting: str | None = None  # why there is no due date yet ("no date recorded for event:contract-end")
    decided: DisposalAction | None = None  # a review's decision that overrides the schedule's action

    @property
    def action(self) -> DisposalAction:
        return self.decided or self.schedule.action


@dataclass(frozen=True)
class DueList:
    as_of: date
    due: tuple[DueItem, ...]  # due on or before as_of (and not RETAIN), oldest first
    waiting: tuple[DueItem, ...]  # assigned, but the trigger has no date yet
