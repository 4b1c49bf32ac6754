"""What the catalog keeps for records management: schedules, assignments, holds, disposal, stubs.

A queryable copy of the journal's records entries (records/journal_data.py), which
`rebuild` restores (records/replay.py). None of these tables has a foreign key to
`packages`: a package's row is deleted and re-added on recovery, and a destroyed
package keeps its assignment, holds and stub with no package row at all. Every write
is one transaction. Runs in the same conformance suite on every backend
(`tests/contracts/catalog_records_contract.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from strongroom.records.model import (
    Approval,
    BatchStatus,
    DestructionStub,
    DisposalBatch,
    Hold,
    ItemOutcome,
    RetentionAssignment,
    Review,
    ScheduleVersion,
    TriggerEvent,
)


class RecordsCatalog(Protocol):
    # --- schedules ------------------------------------------------------------------------

    def add_schedule_version(self, schedule: ScheduleVersion) -> None:
        """Store a new version; CatalogError if (code, version) is already there."""
        ...

    def schedules(self, *, all_versions: bool = False) -> list[ScheduleVersion]:
        """The current (highest) version of each schedule, by code; every version with all_versions."""
        ...

    def schedule(self, code: str, version: int | None = None) -> ScheduleVersion | None:
        """One version (the current one when `version` is None), or None. Codes match exactly."""
        ...

    # --- assignments, trigger events, reviews -----------------------------------------------

    def assign_retention(self, assignment: RetentionAssignment) -> None:
        """Set the package's one assignment, replacing any earlier one (the journal keeps the history)."""
        ...

    def retention(self, package: str) -> RetentionAssignment | None: ...

    def retention_assignments(self) -> list[RetentionAssignment]:
        """Every assignment, by package."""
        ...

    def record_trigger(self, trigger: TriggerEvent) -> None:
        """Record a named event's date for a package; a later record of the same name replaces it."""
        ...

    def triggers(self, package: str | None = None) -> list[TriggerEvent]:
        """By package, then name."""
        ...

    def record_review(self, review: Review) -> None:
        """Keyed by review.event_uuid (required); recording the same one twice changes nothing."""
        ...

    def reviews(self, package: str) -> list[Review]:
        """Oldest first."""
        ...

    # --- holds -----------------------------------------------------------------------------

    def place_hold(self, hold: Hold) -> None:
        """The hold and its packages, in one transaction; placing the same id again replaces it."""
        ...

    def release_hold(self, hold: str, released: datetime, by: str, reason: str, event_uuid: str | None) -> None:
        """Mark it released; NotFound if unknown, StrongroomError if already released."""
        ...

    def holds(self, *, package: str | None = None, active_only: bool = False) -> list[Hold]:
        """Oldest first."""
        ...

    def find_hold(self, ref: str) -> Hold | None:
        """By id, or by a unique prefix of at least 8 characters."""
        ...

    def held_packages(self) -> set[str]:
        """Packages under at least one active hold."""
        ...

    # --- disposal --------------------------------------------------------------------------

    def add_disposal_batch(self, batch: DisposalBatch) -> None:
        """Store a proposed batch with its items (and any approvals it carries)."""
        ...

    def add_approval(self, batch: str, approval: Approval) -> None:
        """ApprovalError when the same person (approval.key) already approved this batch; the
        database's own key refuses it, so two racing processes cannot both succeed."""
        ...

    def set_batch_status(
        self,
        batch: str,
        status: BatchStatus,
        *,
        executed: datetime | None = None,
        certificate_sha256: Mapping[str, str] | None = None,
    ) -> None: ...

    def set_item_outcome(
        self, batch: str, package: str, outcome: ItemOutcome, why: str | None, pending: Sequence[str] = ()
    ) -> None: ...

    def disposal_batch(self, ref: str) -> DisposalBatch | None:
        """By id or a unique prefix of at least 8 characters, with items and approvals."""
        ...

    def disposal_batches(self) -> list[DisposalBatch]:
        """Oldest first."""
        ...

    def dispose_package(self, stub: DestructionStub) -> None:
        """In one transaction: delete every row of the package (its versions, files, events,
        descriptions, access rules, copies) and store its stub. Idempotent."""
        ...

    def add_stub(self, stub: DestructionStub) -> None:
        """Store or replace a stub alone (rebuild restores stubs from the journal)."""
        ...

    def stubs(self, *, unpurged_only: bool = False) -> list[DestructionStub]:
        """By destruction time; unpurged_only: those whose search-index purge is not yet confirmed."""
        ...

    def stub(self, package: str) -> DestructionStub | None: ...

    def mark_stub_purged(self, package: str) -> None:
        """The package's search documents are gone."""
        ...
