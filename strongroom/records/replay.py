"""Restore the catalog's records tables from the journal alone (run by `rebuild` after the packages).

Entries are folded in journal order: schedule versions; each package's latest assignment with
the reviews since applied on top; the latest date per (package, trigger event); reviews; holds
(one placement and one release entry per package, grouped by hold id); and disposal batches step
by step. A package with a `deletion` entry is never restored from a leftover object (rebuild skips
it); its stub comes from that entry. A package of an interrupted execution whose object is gone
from the primary gets the stub its write-ahead `executing` entry holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from strongroom.commit import object_id
from strongroom.records.journal_data import (
    approval_of,
    disposal_step,
    hold_of,
    hold_release_of,
    proposal_of,
    retention_of,
    review_of,
    schedule_of,
    stub_of,
    trigger_of,
)
from strongroom.records.model import (
    BatchStatus,
    DestructionStub,
    DisposalAction,
    Hold,
    ItemOutcome,
    RetentionAssignment,
)
from strongroom.records.retention import apply_review
from strongroom.storage.journal import JournalEntry

if TYPE_CHECKING:
    from strongroom.archive import Archive


@dataclass(frozen=True)
class ReplayReport:
    schedules: int = 0
    assignments: int = 0
    triggers: int = 0
    reviews: int = 0
    holds: int = 0
    batches: int = 0
    stubs: int = 0
    markers_restored: int = 0
    unreachable: dict[str, str] = field(default_factory=dict)  # locations whose hold markers could not be synced


def deleted_packages(entries: Sequence[JournalEntry]) -> set[str]:
    """Packages with a `deletion` entry: destroyed or transferred, never to be restored from a leftover object."""
    deleted: set[str] = set()
    for entry in entries:
        step = disposal_step(entry)
        if step is not None and step.get("step") == "deleted" and entry.package:
            deleted.add(entry.package)
    return deleted


def restore_records(archive: Archive, entries: Sequence[JournalEntry]) -> ReplayReport:
    """Write the records tables from the journal's entries (an empty catalog's: rebuild clears it first)."""
    catalog = archive.catalog
    counts = dict.fromkeys(("schedules", "triggers", "reviews"), 0)
    assignments: dict[str, RetentionAssignment] = {}
    holds: dict[str, Hold] = {}
    releases: dict[str, tuple[Any, str]] = {}  # hold id -> (HoldRelease, event uuid of its first entry)
    disposal = _Disposal(archive)
    for entry in entries:
        schedule = schedule_of(entry)
        if schedule is not None:
            catalog.add_schedule_version(schedule)
            counts["schedules"] += 1
        review = review_of(entry)
        if review is not None:
            catalog.record_review(review)
            counts["reviews"] += 1
            current = assignments.get(entry.package)
            if current is not None:
                assignments[entry.package] = apply_review(current, review)
        assignment = retention_of(entry)
        if assignment is not None:
            assignments[entry.package] = assignment
        trigger = trigger_of(entry)
        if trigger is not None:
            catalog.record_trigger(trigger)
            counts["triggers"] += 1
        hold = hold_of(entry)
        if hold is not None:
            _add_hold(holds, hold)
        release = hold_release_of(entry)
        if release is not None and release.id not in releases:
            releases[release.id] = (release, entry.event.uuid)
        step = disposal_step(entry)
        if step is not None:
            disposal.apply(entry, step)
    for assignment in assignments.values():
        catalog.assign_retention(assignment)
    for hold in holds.values():
        catalog.place_hold(hold)
        if hold.id in releases:
            release, event = releases[hold.id]
            catalog.release_hold(hold.id, release.released, release.by, release.reason, event)
    synced = _sync_markers(archive)
    return ReplayReport(
        counts["schedules"], len(assignments), counts["triggers"], counts["reviews"], len(holds),
        len(disposal.batches), len(disposal.stubs), synced[0], synced[1],
    )  # fmt: skip


def _add_hold(holds: dict[str, Hold], hold: Hold) -> None:
    """The first entry of a placement names the hold (and its event); later ones may add packages."""
    known = holds.get(hold.id)
    if known is None:
        holds[hold.id] = hold
        return
    extra = tuple(p for p in hold.packages if p not in known.packages)
    if extra:
        holds[hold.id] = replace(known, packages=known.packages + extra)


def _sync_markers(archive: Archive) -> tuple[int, dict[str, str]]:
    """Put back hold markers (and legal holds) the storage lost: the catalog's holds are whole again now."""
    from strongroom.records.holds import sync_markers

    synced = sync_markers(archive)
    return len(synced.restored), dict(synced.unreachable)


class _Disposal:
    """Disposal batches rebuilt step by step, as records/disposal.py wrote them."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.batches: set[str] = set()
        self.approvers: dict[str, set[str]] = {}
        self.stubs: set[str] = set()

    def apply(self, entry: JournalEntry, step: Mapping[str, Any]) -> None:
        catalog = self.archive.catalog
        kind, batch = step.get("step"), str(step.get("batch"))
        if kind == "proposed":
            proposal = proposal_of(step)
            catalog.add_disposal_batch(proposal)
            self.batches.add(proposal.id)
            self.approvers[proposal.id] = {a.key for a in proposal.approvals}
        elif kind == "approved":
            approval = approval_of(step)
            if approval.event_uuid is None:
                approval = replace(approval, event_uuid=entry.event.uuid)
            keys = self.approvers.setdefault(batch, set())
            if approval.key in keys:
                return  # the same person by today's comparison (journalled before it folded Unicode forms)
            catalog.add_approval(batch, approval)
            keys.add(approval.key)
            if len(keys) >= 2:
                catalog.set_batch_status(batch, BatchStatus.APPROVED)
        elif kind == "executing":
            catalog.set_batch_status(batch, BatchStatus.EXECUTING)
            for data in step.get("stubs", ()):
                stub = stub_of(data)
                if not self._stored(stub.package):
                    # Purged (or partly: its inventory goes first) before the interruption: only the stub is left.
                    catalog.add_stub(stub)
                    self.stubs.add(stub.package)
        elif kind == "skipped":
            catalog.set_item_outcome(batch, str(step["item"]), ItemOutcome.SKIPPED, step.get("why"), ())
        elif kind == "deleted":
            self._deleted(batch, stub_of(step["stub"]), step.get("locations", {}))
        elif kind == "withdrawn":
            catalog.set_batch_status(batch, BatchStatus.WITHDRAWN)
        elif kind == "executed":
            executed = datetime.fromisoformat(str(step["executed"]))
            catalog.set_batch_status(batch, BatchStatus.EXECUTED, executed=executed,
                                     certificate_sha256=dict(step.get("certificate_sha256", {})))  # fmt: skip

    def _deleted(self, batch: str, stub: DestructionStub, locations: Mapping[str, str]) -> None:
        catalog = self.archive.catalog
        # The search index is rebuilt from the restored packages, so the package has no documents there.
        catalog.add_stub(replace(stub, index_purged=True))
        self.stubs.add(stub.package)
        pending = tuple(name for name, state in locations.items() if state != "purged")
        if pending:
            catalog.set_item_outcome(batch, stub.package, ItemOutcome.PENDING, None, pending)
        else:
            transferred = stub.action is DisposalAction.TRANSFER or stub.transferred_to is not None
            done = ItemOutcome.TRANSFERRED if transferred else ItemOutcome.DESTROYED
            catalog.set_item_outcome(batch, stub.package, done, None, ())

    def _stored(self, package: str) -> bool:
        return self.archive.ocfl.exists(object_id(package))
