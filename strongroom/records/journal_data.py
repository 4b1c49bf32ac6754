"""How records-management facts are written in the journal's `data`, and read back by `rebuild`.

The journal is the source of truth: a package's content may be destroyed, but its
schedule, holds, reviews, stub and certificate digests stay in the hash-chained log,
and `records/replay.py` restores the catalog's records tables from these entries alone.

| fact                         | event type                | package | data                                            |
|------------------------------|---------------------------|---------|-------------------------------------------------|
| schedule version loaded      | retention schedule change | ""      | {"schedule": ScheduleVersion, "source_sha256"}  |
| assignment / re-sentence     | policy assignment         | P       | {"retention": RetentionAssignment, "previous"}  |
| trigger event                | retention trigger         | P       | {"trigger": TriggerEvent}                       |
| review decision              | appraisal                 | P       | {"review": Review}                              |
| hold placed                  | hold placed               | each P  | {"hold": Hold} (one entry per package)          |
| hold released                | hold released             | each P  | {"hold_release": {id, released, by, reason}}    |
| access / closure             | access status change      | P       | {"access": {...}} (see access_data)             |
| disposal step                | see DISPOSAL_EVENT_TYPES  | ""or P  | {"disposal": {"step": ..., "batch": id, ...}}   |

Disposal steps (`disposal.step`): "proposed" (+ "proposal": DisposalBatch, package ""),
"approved" (+ "approval": Approval, package ""), "executing" (+ "stubs": [DestructionStub],
package "", written before anything is deleted), "skipped" (+ "item": package, "why",
package ""), "transferred" (+ "bag_sha256", "destination", package P), "deleted" (+ "stub":
DestructionStub, "locations": {name: "purged" | "pending: why"}, package P), "executed"
(+ "executed": datetime, "certificate_sha256": {"csv", "html"}, package ""), "withdrawn"
(+ "reason", package "": the batch was withdrawn before execution began).

Values are encoded by `encode` (dataclasses as mappings, dates ISO, enums by value,
Period as ISO text) and decoded by `decode`, so every type in records/model.py
round-trips exactly. Entries written before a key existed decode as None.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, TypeVar

from strongroom.model import AccessRule, AccessStatus
from strongroom.records.model import (
    Approval,
    DestructionStub,
    DisposalBatch,
    Hold,
    Period,
    RetentionAssignment,
    Review,
    ScheduleVersion,
    TriggerEvent,
)
from strongroom.storage.journal import JournalEntry

T = TypeVar("T")

# PREMIS event types (PREMIS controlled vocabulary where one fits).
SCHEDULE_EVENT = "retention schedule change"
ASSIGNMENT_EVENT = "policy assignment"
TRIGGER_EVENT = "retention trigger"
REVIEW_EVENT = "appraisal"
HOLD_PLACED_EVENT = "hold placed"
HOLD_RELEASED_EVENT = "hold released"
ACCESS_EVENT = "access status change"
DISPOSAL_EVENT_TYPES: Mapping[str, str] = {
    "proposed": "appraisal",
    "approved": "appraisal",
    "executing": "deaccession",
    "skipped": "deaccession",
    "transferred": "transfer",
    "deleted": "deletion",
    "executed": "deaccession",
    "withdrawn": "appraisal",
}

# Keys of JournalEntry.data
SCHEDULE = "schedule"
RETENTION = "retention"
TRIGGER = "trigger"
REVIEW = "review"
HOLD = "hold"
HOLD_RELEASE = "hold_release"
ACCESS = "access"
DISPOSAL = "disposal"


def encode(value: Any) -> Any:
    """A JSON-ready form of a records value (dataclass, date, enum, Period, tuple, mapping)."""
    if isinstance(value, Period):
        return value.iso()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def decode(cls: type[T], data: Mapping[str, Any]) -> T:
    """The `cls` instance `encode` wrote as `data`; missing optional fields take their defaults."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _decode_value(hints[f.name], data[f.name])
    return cls(**kwargs)


def _decode_value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _decode_value(options[0], value)
    if origin is tuple:
        return tuple(_decode_value(typing.get_args(hint)[0], v) for v in value)
    if origin in (Mapping, dict) or hint is Mapping:
        return dict(value)
    if hint is Period:
        return Period.parse(value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is date:
        return date.fromisoformat(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return decode(hint, value)
    return value


def _read(entry: JournalEntry, key: str, cls: type[T]) -> T | None:
    data = entry.data.get(key)
    return decode(cls, data) if isinstance(data, Mapping) else None


# --- schedules, assignments, triggers, reviews ---------------------------------------------------


def schedule_data(schedule: ScheduleVersion, source_sha256: str | None) -> dict[str, Any]:
    return {SCHEDULE: encode(schedule), "source_sha256": source_sha256}


def schedule_of(entry: JournalEntry) -> ScheduleVersion | None:
    found = _read(entry, SCHEDULE, ScheduleVersion)
    return dataclasses.replace(found, event_uuid=entry.event.uuid) if found else None


def retention_data(assignment: RetentionAssignment, previous: RetentionAssignment | None) -> dict[str, Any]:
    before = {"code": previous.code, "version": previous.version} if previous else None
    return {RETENTION: encode(assignment), "previous": before}


def retention_of(entry: JournalEntry) -> RetentionAssignment | None:
    found = _read(entry, RETENTION, RetentionAssignment)
    return dataclasses.replace(found, event_uuid=entry.event.uuid) if found else None


def trigger_data(trigger: TriggerEvent) -> dict[str, Any]:
    return {TRIGGER: encode(trigger)}


def trigger_of(entry: JournalEntry) -> TriggerEvent | None:
    found = _read(entry, TRIGGER, TriggerEvent)
    return dataclasses.replace(found, event_uuid=entry.event.uuid) if found else None


def review_data(review: Review) -> dict[str, Any]:
    return {REVIEW: encode(review)}


def review_of(entry: JournalEntry) -> Review | None:
    found = _read(entry, REVIEW, Review)
    return dataclasses.replace(found, event_uuid=entry.event.uuid) if found else None


# --- holds ---------------------------------------------------------------------------------------


def hold_data(hold: Hold) -> dict[str, Any]:
    return {HOLD: encode(hold)}


def hold_of(entry: JournalEntry) -> Hold | None:
    found = _read(entry, HOLD, Hold)
    return dataclasses.replace(found, place_event=entry.event.uuid) if found else None


@dataclasses.dataclass(frozen=True)
class HoldRelease:
    id: str
    released: datetime
    by: str
    reason: str


def hold_release_data(release: HoldRelease) -> dict[str, Any]:
    return {HOLD_RELEASE: encode(release)}


def hold_release_of(entry: JournalEntry) -> HoldRelease | None:
    return _read(entry, HOLD_RELEASE, HoldRelease)


# --- access and closure --------------------------------------------------------------------------


def access_data(rule: AccessRule) -> dict[str, Any]:
    """How an access change is written in the journal, so that rebuild can apply it again."""
    return {
        ACCESS: {
            "path": rule.path,
            "status": rule.status.value,
            "reason": rule.reason,
            "opening_date": rule.opening_date.isoformat() if rule.opening_date else None,
            "closure_start": rule.closure_start.isoformat() if rule.closure_start else None,
            "closure_period": rule.closure_period,
            "exemption": rule.exemption,
            "redacted_title": rule.redacted_title,
        }
    }


def access_rule_of(entry: JournalEntry) -> AccessRule | None:
    data = entry.data.get(ACCESS)
    if not isinstance(data, dict):
        return None
    opening = data.get("opening_date")
    start = data.get("closure_start")
    return AccessRule(
        package=entry.package, path=data.get("path"), status=AccessStatus(data["status"]), reason=str(data["reason"]),
        opening_date=date.fromisoformat(opening) if opening else None, changed=entry.event.datetime,
        event_uuid=entry.event.uuid, closure_start=date.fromisoformat(start) if start else None,
        closure_period=data.get("closure_period"), exemption=data.get("exemption"),
        redacted_title=data.get("redacted_title"),
    )  # fmt: skip


# --- disposal ------------------------------------------------------------------------------------


def disposal_step(entry: JournalEntry) -> Mapping[str, Any] | None:
    """The `disposal` mapping of an entry ({"step", "batch", ...}), or None."""
    data = entry.data.get(DISPOSAL)
    return data if isinstance(data, Mapping) and "step" in data else None


def proposed_data(batch: DisposalBatch) -> dict[str, Any]:
    return {DISPOSAL: {"step": "proposed", "batch": batch.id, "proposal": encode(batch)}}


def approved_data(batch: str, approval: Approval) -> dict[str, Any]:
    return {DISPOSAL: {"step": "approved", "batch": batch, "approval": encode(approval)}}


def executing_data(batch: str, stubs: list[DestructionStub]) -> dict[str, Any]:
    return {DISPOSAL: {"step": "executing", "batch": batch, "stubs": [encode(s) for s in stubs]}}


def skipped_data(batch: str, package: str, why: str) -> dict[str, Any]:
    return {DISPOSAL: {"step": "skipped", "batch": batch, "item": package, "why": why}}


def transferred_data(batch: str, bag_sha256: str, destination: str) -> dict[str, Any]:
    return {DISPOSAL: {"step": "transferred", "batch": batch, "bag_sha256": bag_sha256, "destination": destination}}


def deleted_data(batch: str, stub: DestructionStub, locations: Mapping[str, str]) -> dict[str, Any]:
    return {DISPOSAL: {"step": "deleted", "batch": batch, "stub": encode(stub), "locations": dict(locations)}}


def executed_data(batch: str, executed: datetime, certificate_sha256: Mapping[str, str]) -> dict[str, Any]:
    return {
        DISPOSAL: {
            "step": "executed", "batch": batch, "executed": executed.isoformat(),
            "certificate_sha256": dict(certificate_sha256),
        }
    }  # fmt: skip


def withdrawn_data(batch: str, reason: str) -> dict[str, Any]:
    return {DISPOSAL: {"step": "withdrawn", "batch": batch, "reason": reason}}


def proposal_of(step: Mapping[str, Any]) -> DisposalBatch:
    return decode(DisposalBatch, step["proposal"])


def approval_of(step: Mapping[str, Any]) -> Approval:
    return decode(Approval, step["approval"])


def stub_of(data: Mapping[str, Any]) -> DestructionStub:
    return decode(DestructionStub, data)
