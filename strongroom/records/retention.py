"""Retention: which schedule applies to each package, its trigger events, reviews, and what is due when.

Exactly one schedule (version) applies to a package. It is given at ingest (`--retention`,
a `retention` column in the whole-transfer row of metadata.csv, or the first matching rule of
`<home>/retention-rules.toml`) or later with a reason; a new assignment replaces the old one
and the journal keeps both. Each fact is journalled first, then catalogued.

Due dates: the trigger date plus the schedule's period, unless a review set another date.
- creation: the earliest day in the package's Dublin Core date (a bare year counts as its
  end), else the day its first version was stored;
- last-record: the latest Dublin Core date or modification date among its originals;
- closure: the date recorded for the trigger event named "closure" (the file was closed);
- event:NAME: the date recorded for NAME (the latest record wins).
A package whose trigger has no date yet is listed as waiting, saying why. A schedule that
retains permanently is never due; nor is a package whose latest review decided to retain it.
"""

from __future__ import annotations

import tomllib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from strongroom.errors import NotFound, StrongroomError
from strongroom.model import Agent, DublinCore, Event, Outcome, PackageSummary
from strongroom.records.closure import dates_in, last_record_date, title_while_closed
from strongroom.records.journal_data import (
    ASSIGNMENT_EVENT,
    REVIEW_EVENT,
    TRIGGER_EVENT,
    retention_data,
    review_data,
    trigger_data,
)
from strongroom.records.model import (
    BatchStatus,
    DisposalAction,
    DueItem,
    DueList,
    ItemOutcome,
    RetentionAssignment,
    Review,
    ReviewDecision,
    ScheduleVersion,
    Trigger,
    TriggerEvent,
)
from strongroom.records.schedules import event_name
from strongroom.storage.journal import JournalRecord

if TYPE_CHECKING:
    from strongroom.archive import Archive
    from strongroom.catalog.base import Catalog

RULES_FILE = "retention-rules.toml"
PACKAGE_TARGET = "objects"
OPEN_BATCH = (BatchStatus.PROPOSED, BatchStatus.APPROVED, BatchStatus.EXECUTING)


@dataclass(frozen=True)
class AssignmentChange:
    assignment: RetentionAssignment
    previous: RetentionAssignment | None
    event: Event | None  # None: the package already had this schedule version; nothing was recorded
    schedule: ScheduleVersion


@dataclass(frozen=True)
class TriggerChange:
    trigger: TriggerEvent
    event: Event
    previous: TriggerEvent | None


@dataclass(frozen=True)
class ReviewResult:
    review: Review
    event: Event
    assignment: RetentionAssignment  # as it stands after the review
    due: date | None  # the due date after the review (None: never, or waiting for its trigger)


@dataclass(frozen=True)
class PlannedAssignment:
    """The schedule an ingest will assign once the package is stored, and where that came from."""

    schedule: ScheduleVersion
    how: str  # "ingest-option", "metadata", "rule:<n>"
    reason: str


def require_schedule(catalog: Catalog, code: str) -> ScheduleVersion:
    """The current version of a schedule; NotFound, listing the known codes, when there is none."""
    cleaned = code.strip()
    found = catalog.schedule(cleaned) if cleaned else None
    if found is None:
        known = [s.code for s in catalog.schedules()]
        listed = ", ".join(known[:30]) + (" ..." if len(known) > 30 else "")
        raise NotFound(
            f"There is no retention schedule {code!r}.",
            details=[f"Loaded schedules: {listed}" if known else "No schedules are loaded yet.",
                     "Load them with: strongroom retention load FILE; see them with: strongroom retention list"],
        )  # fmt: skip
    return found


def _event(kind: str, detail: str, outcome_detail: str, agents: Sequence[Agent], version: int | None) -> Event:
    return Event(str(uuid.uuid4()), kind, datetime.now(UTC), detail, Outcome.SUCCESS, outcome_detail,
                 tuple(a.key for a in agents), None, version)  # fmt: skip


def _schedule_text(code: str, version: int) -> str:
    return f"{code} (version {version})"


def assign(archive: Archive, package_ref: str, code: str, *, reason: str, how: str = "manual",
           operator: str) -> AssignmentChange:  # fmt: skip
    """Apply a schedule's current version to a package, replacing its earlier one; reason required."""
    if not reason.strip():
        raise StrongroomError("Give a reason for the assignment with --reason; it is kept in the record for good.")
    archive.prepare_to_write()
    summary = archive.package(package_ref)
    schedule = require_schedule(archive.catalog, code)
    return _assign(archive, summary, schedule, reason.strip(), how, operator)


def _assign(archive: Archive, summary: PackageSummary, schedule: ScheduleVersion, reason: str, how: str,
            operator: str) -> AssignmentChange:  # fmt: skip
    catalog = archive.catalog
    with catalog.lock(f"package:{summary.uuid}"):
        previous = catalog.retention(summary.uuid)
        if previous is not None and (previous.code, previous.version, previous.due_override) == (
            schedule.code,
            schedule.version,
            None,
        ):
            return AssignmentChange(previous, previous, None, schedule)
        agents = archive.system_agents(operator)
        was = f" (was {_schedule_text(previous.code, previous.version)})" if previous else ""
        event = _event(
            ASSIGNMENT_EVENT, f'program="Strongroom"; how={how}',
            f"retention schedule {_schedule_text(schedule.code, schedule.version)} applied{was}: {reason}",
            agents, summary.version,
        )  # fmt: skip
        assignment = RetentionAssignment(summary.uuid, schedule.code, schedule.version, event.datetime, reason, how,
                                         event_uuid=event.uuid)  # fmt: skip
        archive.journal.append([JournalRecord(summary.uuid, event, agents, retention_data(assignment, previous))])
        catalog.assign_retention(assignment)
        catalog.record_events(summary.uuid, [event], agents)
    return AssignmentChange(assignment, previous, event, schedule)


def record_trigger(archive: Archive, package_ref: str, name: str, day: date, *, reason: str | None,
                   operator: str) -> TriggerChange:  # fmt: skip
    """Record the date of a named event of a package ("closure": the file was closed); a later one replaces it."""
    cleaned = event_name(name.removeprefix("event:"))
    if not cleaned:
        raise StrongroomError("Name the event, e.g. closure or contract-end.")
    archive.prepare_to_write()
    summary = archive.package(package_ref)
    why = (reason or "").strip() or "date recorded"
    catalog = archive.catalog
    with catalog.lock(f"package:{summary.uuid}"):
        previous = next((t for t in catalog.triggers(summary.uuid) if t.name == cleaned), None)
        agents = archive.system_agents(operator)
        was = f" (was {previous.date.isoformat()})" if previous else ""
        event = _event(TRIGGER_EVENT, f'program="Strongroom"; event={cleaned}',
                       f"retention trigger event {cleaned} on {day.isoformat()}{was}: {why}", agents,
                       summary.version)  # fmt: skip
        trigger = TriggerEvent(summary.uuid, cleaned, day, event.datetime, why, event.uuid)
        archive.journal.append([JournalRecord(summary.uuid, event, agents, trigger_data(trigger))])
        catalog.record_trigger(trigger)
        catalog.record_events(summary.uuid, [event], agents)
    return TriggerChange(trigger, event, previous)


def review(archive: Archive, package_ref: str, decision: ReviewDecision, *, reason: str, new_due: date | None = None,
           new_code: str | None = None, operator: str) -> ReviewResult:  # fmt: skip
    """Record a review decision with its reason: extend (to `new_due`), re-sentence (to `new_code`'s current
    version), destroy (due at once) or retain (never due)."""
    decision = ReviewDecision(decision)
    if not reason.strip():
        raise StrongroomError("Give a reason for the review decision with --reason; it is kept in the record for good.")
    if (decision is ReviewDecision.EXTEND) != (new_due is not None):
        raise StrongroomError("An extension needs the new date (--extend-to DATE), and only an extension takes one.")
    if (decision is ReviewDecision.RESENTENCE) != (new_code is not None):
        raise StrongroomError(
            "A re-sentence needs the new schedule (--schedule CODE), and only a re-sentence takes one."
        )
    archive.prepare_to_write()
    summary = archive.package(package_ref)
    catalog = archive.catalog
    schedule = require_schedule(catalog, new_code) if new_code is not None else None
    now = datetime.now(UTC)
    if new_due is not None and new_due < now.date():
        raise StrongroomError(f"{new_due.isoformat()} is already past; an extension runs to a later date.",
                              details=["To let it be disposed of now, review it with --destroy."])  # fmt: skip
    agents = archive.system_agents(operator)
    with catalog.lock(f"package:{summary.uuid}"):
        current = catalog.retention(summary.uuid)
        if current is None and decision is not ReviewDecision.RESENTENCE:
            raise StrongroomError(
                f"Package {summary.name} has no retention schedule, so there is nothing to {decision.value}.",
                details=[f"Give it one with: strongroom retention assign {summary.uuid} CODE --reason R"],
            )
        what = {
            ReviewDecision.EXTEND: f"retention extended to {new_due.isoformat() if new_due else ''}",
            ReviewDecision.RESENTENCE: f"re-sentenced to {_schedule_text(schedule.code, schedule.version)}"
            if schedule
            else "",
            ReviewDecision.DESTROY: "may be disposed of now",
            ReviewDecision.RETAIN: "to be retained permanently",
        }[decision]
        event = Event(str(uuid.uuid4()), REVIEW_EVENT, now, f'program="Strongroom"; decision={decision.value}',
                      Outcome.SUCCESS, f"retention review: {what}: {reason.strip()}", tuple(a.key for a in agents),
                      None, summary.version)  # fmt: skip
        decided = Review(summary.uuid, decision, reason.strip(), now, operator, new_due,
                         schedule.code if schedule else None, schedule.version if schedule else None,
                         event.uuid)  # fmt: skip
        records = [JournalRecord(summary.uuid, event, agents, review_data(decided))]
        assignment = apply_review(current, decided) if current is not None else None
        moved: Event | None = None
        if schedule is not None:
            moved = Event(str(uuid.uuid4()), ASSIGNMENT_EVENT, now, 'program="Strongroom"; how=re-sentence',
                          Outcome.SUCCESS, f"retention schedule {_schedule_text(schedule.code, schedule.version)} "
                          f"applied by review: {reason.strip()}", tuple(a.key for a in agents), None,
                          summary.version)  # fmt: skip
            assignment = RetentionAssignment(summary.uuid, schedule.code, schedule.version, now, reason.strip(),
                                             "re-sentence", event_uuid=moved.uuid)  # fmt: skip
            records.append(JournalRecord(summary.uuid, moved, agents, retention_data(assignment, current)))
        assert assignment is not None
        archive.journal.append(records)
        catalog.record_review(decided)
        if assignment != current:
            catalog.assign_retention(assignment)
        catalog.record_events(summary.uuid, [event, *([moved] if moved else [])], agents)
    item = due_item(catalog, summary, assignment, now.date())
    return ReviewResult(decided, event, assignment, item.due if item else None)


def apply_review(assignment: RetentionAssignment, decided: Review) -> RetentionAssignment:
    """The assignment as a review leaves it (a re-sentence journals a new assignment of its own)."""
    if decided.decision is ReviewDecision.EXTEND:
        return replace(assignment, due_override=decided.new_due)
    if decided.decision is ReviewDecision.DESTROY:
        return replace(assignment, due_override=decided.decided.astimezone(UTC).date())
    return assignment


# --- the due list ------------------------------------------------------------------------------


def due(archive: Archive, as_of: date) -> DueList:
    """Packages due for disposal or review on `as_of` (oldest first), and those waiting for a trigger date."""
    catalog = archive.catalog
    in_batch: dict[str, str] = {}
    for batch in catalog.disposal_batches():
        if batch.status in OPEN_BATCH:
            for entry in batch.items:
                if entry.outcome is ItemOutcome.PENDING:
                    in_batch.setdefault(entry.package, batch.id)
    due_items: list[DueItem] = []
    waiting: list[DueItem] = []
    for assignment in catalog.retention_assignments():
        summary = catalog.find_package(assignment.package)
        if summary is None or summary.uuid != assignment.package:
            continue  # destroyed or transferred: only its stub remains
        item = due_item(catalog, summary, assignment, as_of, in_batch.get(summary.uuid))
        if item is None:
            continue
        if item.waiting is not None:
            waiting.append(item)
        elif item.due is not None and item.due <= as_of:
            due_items.append(item)
    due_items.sort(key=lambda i: (i.due or date.max, i.name, i.package))
    waiting.sort(key=lambda i: (i.name, i.package))
    return DueList(as_of, tuple(due_items), tuple(waiting))


def due_item(catalog: Catalog, summary: PackageSummary, assignment: RetentionAssignment, as_of: date,
             batch: str | None = None) -> DueItem | None:  # fmt: skip
    """The package's due-list row (due may be later than as_of), or None when it is never due."""
    schedule = catalog.schedule(assignment.code, assignment.version)
    if schedule is None:
        raise StrongroomError(
            f"Package {summary.name} is assigned retention schedule {assignment.code} version {assignment.version}, "
            "which the catalog does not hold.",
            details=["Rebuild the catalog from the journal with: strongroom rebuild"],
        )
    reviews = [r for r in catalog.reviews(summary.uuid) if r.decided >= assignment.assigned]
    if reviews and reviews[-1].decision is ReviewDecision.RETAIN:
        return None
    holds = tuple(h.id for h in catalog.holds(package=summary.uuid, active_only=True))
    title = _title(catalog, summary, as_of)
    if assignment.due_override is not None:
        decided = None
        if (
            schedule.action in (DisposalAction.REVIEW, DisposalAction.RETAIN)
            and reviews
            and (reviews[-1].decision is ReviewDecision.DESTROY)
        ):
            # The review decided destruction: the item is due as a destruction, whatever the schedule said.
            decided = DisposalAction.DESTROY
        return DueItem(
            summary.uuid, summary.name, title, schedule, None, assignment.due_override, holds, batch, decided=decided
        )
    if schedule.action is DisposalAction.RETAIN or schedule.period is None:
        return None
    started, why = trigger_date(catalog, summary, schedule)
    if started is None:
        return DueItem(summary.uuid, summary.name, title, schedule, None, None, holds, batch, waiting=why)
    return DueItem(summary.uuid, summary.name, title, schedule, started, schedule.period.add_to(started), holds, batch)


def trigger_date(catalog: Catalog, summary: PackageSummary, schedule: ScheduleVersion) -> tuple[date | None, str]:
    """The day the schedule's period starts for this package, or None and why there is none yet."""
    if schedule.trigger is Trigger.CREATION:
        package_level = [d for d in catalog.descriptions(summary.uuid) if d.target == PACKAGE_TARGET]
        days = dates_in(v for d in package_level for v in d.elements.get("date", ()))
        if days:
            return min(days), ""
        versions = catalog.versions(summary.uuid)
        return (versions[0].created if versions else summary.created).astimezone(UTC).date(), ""
    if schedule.trigger is Trigger.LAST_RECORD:
        last = last_record_date(catalog.files(summary.uuid), catalog.descriptions(summary.uuid), None)
        return last, "no Dublin Core date or modification date among its records"
    name = "closure" if schedule.trigger is Trigger.CLOSURE else (schedule.trigger_event or "")
    found = next((t for t in catalog.triggers(summary.uuid) if t.name == name), None)
    return (found.date if found else None), (
        f"no date recorded for {schedule.trigger_text()} (record it with: strongroom retention event "
        f"{summary.uuid} {name} --date YYYY-MM-DD)"
    )


def _title(catalog: Catalog, summary: PackageSummary, as_of: date) -> str:
    """The redacted title while the package is not open (where one is set), else its title, else its name."""
    return title_while_closed(catalog.access_rules(summary.uuid), summary.title or summary.name, as_of)


# --- assignment at ingest ----------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionRule:
    number: int  # 1-based, as in "rule:<n>"
    schedule: str
    when: Mapping[str, str]  # "dc.type" -> "Minutes"


def load_rules(home: Path) -> list[RetentionRule]:
    """The rules of `<home>/retention-rules.toml` ([] when there is none); an error names the rule at fault."""
    path = home / RULES_FILE
    if not path.is_file():
        return []
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise StrongroomError(f"{path} cannot be read: {exc}.", details=["Correct it; nothing was stored."]) from exc
    rules = document.get("rule", [])
    hint = '[[rule]] schedule = "CODE" and when = {"dc.type" = "Minutes"} (Dublin Core elements of the whole transfer)'
    if set(document) - {"rule"} or not isinstance(rules, list):
        raise StrongroomError(f"{path} must hold [[rule]] tables only.", details=[hint])
    out: list[RetentionRule] = []
    for number, rule in enumerate(rules, start=1):
        where = f"{path.name} rule {number}"
        if not isinstance(rule, dict) or set(rule) - {"schedule", "when"} or not isinstance(rule.get("schedule"), str):
            raise StrongroomError(f"{where} needs a schedule (text) and may have `when`, nothing else.", details=[hint])
        when = rule.get("when", {})
        if not isinstance(when, dict) or not when:
            raise StrongroomError(f"{where}: `when` must be a table of conditions, e.g. {{\"dc.type\" = \"Minutes\"}}.",
                                  details=[hint])  # fmt: skip
        for key, value in when.items():
            if not key.startswith("dc.") or not isinstance(value, str) or not key.removeprefix("dc.").strip():
                raise StrongroomError(f"{where}: condition {key!r} must be a dc.ELEMENT with a text value.",
                                      details=[hint])  # fmt: skip
        out.append(RetentionRule(number, rule["schedule"], {k: v for k, v in when.items()}))
    return out


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def matching_rule(rules: Sequence[RetentionRule], descriptions: Sequence[DublinCore]) -> RetentionRule | None:
    """The first rule whose every condition matches a value of the whole transfer's description."""
    package_level = next((d for d in descriptions if d.target == PACKAGE_TARGET), DublinCore(PACKAGE_TARGET))
    for rule in rules:
        if all(
            any(_norm(v) == _norm(wanted) for v in package_level.elements.get(key.removeprefix("dc.").strip(), ()))
            for key, wanted in rule.when.items()
        ):
            return rule
    return None


def plan_ingest_retention(archive: Archive, option: str | None, column: str | None,
                          descriptions: Sequence[DublinCore]) -> PlannedAssignment | None:  # fmt: skip
    """The schedule an ingest assigns, checked before anything is stored: an unknown code, or two sources
    (--retention, metadata.csv's `retention` column, the first matching rule) naming different schedules, is refused."""
    rule = matching_rule(load_rules(archive.settings.home), descriptions)
    sources: list[tuple[str, str, str]] = []  # (how, code, said where)
    if option is not None and option.strip():
        sources.append(("ingest-option", option.strip(), "--retention"))
    if column is not None and column.strip():
        sources.append(("metadata", column.strip(), "the retention column of metadata.csv"))
    if rule is not None:
        sources.append((f"rule:{rule.number}", rule.schedule.strip(), f"rule {rule.number} of {RULES_FILE}"))
    if not sources:
        return None
    codes = {code for _, code, _ in sources}
    if len(codes) > 1:
        raise StrongroomError(
            "The transfer's retention schedule is given twice, differently: "
            + "; ".join(f"{where} says {code!r}" for _, code, where in sources) + ". Nothing was stored.",
            details=["Give one schedule: change or leave out --retention, the metadata.csv column, or the rule."],
        )  # fmt: skip
    how, code, where = sources[0]
    try:
        schedule = require_schedule(archive.catalog, code)
    except NotFound as err:
        raise NotFound(f"{err.message} ({where}). Nothing was stored.", details=err.details) from err
    return PlannedAssignment(schedule, how, f"assigned at ingest by {where}")


def assign_planned(archive: Archive, package: str, plan: PlannedAssignment, operator: str) -> AssignmentChange:
    """Journal and catalog the assignment an ingest planned, once the package is stored."""
    return _assign(archive, archive.package(package), plan.schedule, plan.reason, plan.how, operator)
