"""Disposal: propose a batch from the due list, two different people approve it, then execute it.

Execution removes each package from every storage location (every OCFL version, every S3
object version) and from the search index, keeps a stub (no personal data) and issues a
destruction certificate. Every step is journalled (records/journal_data.py), and the stubs
are journalled *before* anything is deleted (the `executing` entry), so a crash at any point
leaves either a whole package or a stub that `rebuild` restores; running `execute` again
resumes, each step being safe to repeat. A location that cannot be reached (or that refuses)
leaves the batch EXECUTING with that location pending, and no certificate is issued.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strongroom.commit import object_id
from strongroom.errors import ApprovalError, HeldError, NotFound, StorageError, StrongroomError
from strongroom.manifests import validate_bag
from strongroom.model import Agent, AgentType, Event, Outcome
from strongroom.records.certificate import certificate_csv, certificate_html
from strongroom.records.holds import HOLDS_LOCK
from strongroom.records.journal_data import (
    DISPOSAL_EVENT_TYPES,
    approved_data,
    deleted_data,
    disposal_step,
    executed_data,
    executing_data,
    proposed_data,
    skipped_data,
    stub_of,
    transferred_data,
    withdrawn_data,
)
from strongroom.records.model import (
    Approval,
    BatchStatus,
    DestructionStub,
    DisposalAction,
    DisposalBatch,
    DisposalItem,
    ItemOutcome,
    name_key,
)
from strongroom.records.stubs import build_stub
from strongroom.storage.journal import JournalEntry, JournalRecord

if TYPE_CHECKING:
    from strongroom.archive import Archive, StepProgress

CERTIFICATE_PREFIX = "records/certificates/"  # in the primary storage, beside (not inside) the OCFL root
DISPOSAL_LOCK = "disposal"


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeftOut:
    """A due package not put in the batch, and why."""

    package: str
    name: str
    why: str


@dataclass(frozen=True)
class Proposal:
    batch: DisposalBatch | None  # None when nothing could be proposed
    as_of: date
    proposed_by: str
    titles: Mapping[str, str]  # package -> the title the due list shows (redacted where closed)
    left_out: tuple[LeftOut, ...]


@dataclass(frozen=True)
class Certificate:
    csv: Path  # the copy in <home>/certificates/
    html: Path
    key_csv: str  # where it is kept in the primary storage
    key_html: str
    sha256: Mapping[str, str]  # {"csv": hex, "html": hex}


@dataclass(frozen=True)
class ExecutionReport:
    batch: DisposalBatch  # as it stands after this run
    destroyed: tuple[str, ...]
    transferred: tuple[tuple[str, str], ...]  # (package, the bag's folder)
    skipped: tuple[tuple[str, str], ...]  # (package, why)
    pending: Mapping[str, tuple[str, ...]]  # location -> packages whose content it still holds
    problems: tuple[str, ...]  # why each location is pending, in words
    certificate: Certificate | None
    index_lagging: tuple[str, ...] = ()  # packages whose search documents are not yet purged (catch-up retries)

    @property
    def complete(self) -> bool:
        return self.batch.status is BatchStatus.EXECUTED


@dataclass
class _Trail:
    """What the journal holds of one batch (the source of truth when catalog and storage disagree)."""

    executing: JournalEntry | None = None
    stubs: dict[str, DestructionStub] = field(default_factory=dict)  # the write-ahead stubs
    transferred: dict[str, tuple[str, str]] = field(default_factory=dict)  # package -> (bag sha256, destination)
    deleted: dict[str, DestructionStub] = field(default_factory=dict)  # the latest `deleted` stub per package
    deleted_at: dict[str, dict[str, str]] = field(default_factory=dict)  # ... and its locations' states
    skipped: dict[str, str] = field(default_factory=dict)  # package -> why, of each `skipped` entry
    executed: JournalEntry | None = None  # the certificate's entry, once issued


# --- propose -------------------------------------------------------------------------------------


def propose(archive: Archive, as_of: date, operator: str, only: Collection[str] | None = None) -> Proposal:
    """A batch of the packages due for destruction or transfer on `as_of` (journalled, then catalogued).

    `only`: the UUIDs of the due packages to propose; the other due packages are left out as "not selected".
    A UUID that is not on the due list is refused before anything is written."""
    from strongroom.records.retention import due

    chosen = None if only is None else {ref.strip().lower() for ref in only}
    archive.prepare_to_write()
    with archive.catalog.lock(DISPOSAL_LOCK):
        listed = due(archive, as_of)  # computed under the lock: its holds and open batches are current
        if chosen is not None:
            unknown = sorted(chosen - {row.package for row in listed.due})
            if unknown:
                raise StrongroomError(
                    f"Not due on {as_of.isoformat()}: {', '.join(unknown[:5])}"
                    f"{f' and {len(unknown) - 5} more' if len(unknown) > 5 else ''}.",
                    details=["Nothing was proposed. Choose packages from the due list: "
                             f"strongroom retention due --as-of {as_of.isoformat()}"],
                )  # fmt: skip
        items: list[DisposalItem] = []
        titles: dict[str, str] = {}
        left_out: list[LeftOut] = []
        for row in listed.due:
            action = row.action
            summary = archive.catalog.find_package(row.package)
            if chosen is not None and row.package not in chosen:
                left_out.append(LeftOut(row.package, row.name, "not selected"))
                continue
            if action is DisposalAction.REVIEW:
                why = "due for review, not disposal: decide it with `strongroom retention review`"
            elif action is DisposalAction.RETAIN:
                why = "retained permanently by its schedule"
            elif row.holds:
                why = f"held ({', '.join(row.holds)})"
            elif row.batch:
                why = f"already in open disposal batch {row.batch}"
            elif summary is None or row.due is None:
                why = "no longer in the archive" if summary is None else row.waiting or "no due date yet"
            else:
                why = ""
            if why or summary is None or row.due is None:
                left_out.append(LeftOut(row.package, row.name, why))
                continue
            items.append(DisposalItem(row.package, action, row.schedule.code, row.schedule.version, row.due,
                                      summary.version))  # fmt: skip
            titles[row.package] = row.title
        if not items:
            return Proposal(None, as_of, operator, titles, tuple(left_out))
        now = datetime.now(UTC)
        batch = DisposalBatch(str(uuid.uuid4()), as_of, now, operator, tuple(items))
        agents = archive.system_agents(operator)
        counts = _action_counts(items)
        event = _event(
            "proposed", now, agents,
            f"Disposal batch {batch.id} proposed from the records due on {as_of.isoformat()}: {counts}.",
            f"{len(items)} package(s) proposed, {len(left_out)} left out; two different people must approve it.",
        )  # fmt: skip
        archive.journal.append([JournalRecord("", event, agents, proposed_data(batch))])
        archive.catalog.add_disposal_batch(batch)
    return Proposal(batch, as_of, operator, titles, tuple(left_out))


def _action_counts(items: Iterable[DisposalItem]) -> str:
    actions = [i.action.value for i in items]
    return ", ".join(f"{actions.count(a)} to {a}" for a in sorted(set(actions)))


# --- approve -------------------------------------------------------------------------------------


def approve(archive: Archive, batch_ref: str, name: str, operator: str) -> DisposalBatch:
    """Record one person's approval; the second different person's makes the batch APPROVED."""
    person = " ".join(name.split())
    if not person or len(person) > 200 or any(unicodedata.category(c).startswith("C") for c in person):
        raise ApprovalError("Give the name of the person approving with --as NAME (up to 200 characters, no "
                            "control characters).",
                            details=["Two different people must each approve a disposal batch."])  # fmt: skip
    with archive.catalog.lock(DISPOSAL_LOCK):
        batch = find_batch(archive, batch_ref)
        if batch.status not in (BatchStatus.PROPOSED, BatchStatus.APPROVED):
            raise ApprovalError(
                f"Disposal batch {batch.id} is {batch.status.value}: approvals are closed.",
                details=[f"See it with: strongroom disposal show {batch.id}"],
            )
        same = next((a for a in batch.approvals if a.key == name_key(person)), None)
        if same is not None:
            raise ApprovalError(
                f"{same.name} already approved disposal batch {batch.id} (on {same.approved:%Y-%m-%d %H:%M} UTC); "
                "a second, different person must approve.",
                details=["Nothing was recorded. Ask another person to run: "
                         f"strongroom disposal approve {batch.id} --as THEIR-NAME"],
            )  # fmt: skip
        now = datetime.now(UTC)
        event_id = str(uuid.uuid4())
        approval = Approval(person, operator, now, event_id)
        agents = (Agent("approver", person, person, AgentType.PERSON, "as given with --as"),
                  *archive.system_agents(operator))  # fmt: skip
        distinct = {a.key for a in batch.approvals} | {approval.key}
        outcome = (
            "approved by two different people: it may be executed" if len(distinct) >= 2
            else "one approval; a second, different person must approve"
        )  # fmt: skip
        event = replace(
            _event("approved", now, agents, f"Disposal batch {batch.id} approved by {person} (run by {operator}).",
                   f"Batch {outcome}."),
            uuid=event_id,
        )  # fmt: skip
        archive.journal.append([JournalRecord("", event, agents, approved_data(batch.id, approval))])
        archive.catalog.add_approval(batch.id, approval)
        if len(distinct) >= 2 and batch.status is BatchStatus.PROPOSED:
            archive.catalog.set_batch_status(batch.id, BatchStatus.APPROVED)
        return find_batch(archive, batch.id)


def withdraw(archive: Archive, batch_ref: str, reason: str, operator: str) -> DisposalBatch:
    """Withdraw a batch not yet being executed (proposed by mistake, or for a day too far ahead): its
    packages may be proposed again. A batch whose execution began can only be resumed to its end."""
    why = " ".join(reason.split())
    if not why:
        raise StrongroomError("Give a reason for withdrawing the batch with --reason; it is kept for good.")
    with archive.catalog.lock(DISPOSAL_LOCK):
        batch = find_batch(archive, batch_ref)
        if batch.status not in (BatchStatus.PROPOSED, BatchStatus.APPROVED):
            hint = (f"Finish it with: strongroom disposal execute {batch.id}" if batch.status is BatchStatus.EXECUTING
                    else f"See it with: strongroom disposal show {batch.id}")  # fmt: skip
            raise StrongroomError(
                f"Disposal batch {batch.id} is {batch.status.value}: only a proposed or approved batch can be "
                "withdrawn.",
                details=[hint],
            )
        now = datetime.now(UTC)
        agents = archive.system_agents(operator)
        untouched = f"Batch withdrawn before execution; its {len(batch.items)} package(s) were not touched."
        event = _event("withdrawn", now, agents, f"Disposal batch {batch.id} withdrawn by {operator}: {why}", untouched)
        archive.journal.append([JournalRecord("", event, agents, withdrawn_data(batch.id, why))])
        archive.catalog.set_batch_status(batch.id, BatchStatus.WITHDRAWN)
        return find_batch(archive, batch.id)


def find_batch(archive: Archive, ref: str) -> DisposalBatch:
    found = archive.catalog.disposal_batch(ref.strip()) if ref.strip() else None
    if found is None:
        hint = "A batch id prefix needs at least 8 characters. " if len(ref.strip()) < 8 else ""
        raise NotFound(f"No disposal batch {ref[:80]!r} in this archive.",
                       details=[f"{hint}See the batches with: strongroom disposal list"])  # fmt: skip
    return found


# --- execute -------------------------------------------------------------------------------------


def execute(
    archive: Archive,
    batch_ref: str,
    operator: str,
    *,
    transfer_to: Path | None = None,
    progress: StepProgress | None = None,
) -> ExecutionReport:
    """Destroy or transfer every approved item; resumable (run it again after a crash or an unreachable location)."""
    archive.prepare_to_write()
    with archive.catalog.lock(DISPOSAL_LOCK):
        batch = find_batch(archive, batch_ref)
        if batch.status is BatchStatus.EXECUTED:
            return _report(archive, batch, {}, _certificate_files(archive, batch))
        batch = start_execution(archive, batch, operator, transfer_to)
        why_pending = dispose_pending(archive, batch.id, None, operator, transfer_to, progress)
        return conclude_execution(archive, batch.id, operator, why_pending)


# The three parts of an execution, each called under DISPOSAL_LOCK (the staged job takes it per step).


def start_execution(archive: Archive, batch: DisposalBatch, operator: str, transfer_to: Path | None) -> DisposalBatch:
    """Check that the batch may be executed (two approvers, due, not withdrawn) and journal its stubs, once."""
    trail = batch_trail(archive, batch.id)
    _check_may_execute(batch, transfer_to, trail)
    if trail.executing is None:
        return _begin(archive, batch, archive.system_agents(operator), trail)
    if batch.status is BatchStatus.APPROVED:  # begun (journalled) before an interruption: not again
        archive.catalog.set_batch_status(batch.id, BatchStatus.EXECUTING)
        return find_batch(archive, batch.id)
    return batch


def dispose_pending(archive: Archive, batch_id: str, only: Collection[str] | None, operator: str,
                    transfer_to: Path | None, progress: StepProgress | None) -> dict[str, str]:  # fmt: skip
    """Destroy or transfer the batch's pending items (of `only`, when given); an item done already is left alone.
    Returns why each location that still holds a package could not be cleared."""
    batch = find_batch(archive, batch_id)
    if batch.status is not BatchStatus.EXECUTING:
        return {}
    trail = batch_trail(archive, batch.id)  # read under the disposal lock: no other run writes this batch's trail
    agents = archive.system_agents(operator)
    why_pending: dict[str, str] = {}
    todo = [i for i in batch.items if i.outcome is ItemOutcome.PENDING and (only is None or i.package in only)]
    for done, item in enumerate(todo, start=1):
        with archive.catalog.lock(f"package:{item.package}"):
            _dispose_item(archive, batch, item, trail, agents, transfer_to, why_pending)
        if progress:
            progress("Disposing", done, len(todo))
    return why_pending


def conclude_execution(archive: Archive, batch_id: str, operator: str,
                       why_pending: Mapping[str, str]) -> ExecutionReport:  # fmt: skip
    """Issue the certificate once no item is pending; once only (an executed batch keeps its certificate)."""
    batch = find_batch(archive, batch_id)
    if batch.status is BatchStatus.EXECUTED:
        return _report(archive, batch, {}, _certificate_files(archive, batch))
    certificate: Certificate | None = None
    if all(i.outcome is not ItemOutcome.PENDING for i in batch.items):
        trail = batch_trail(archive, batch.id)
        if trail.executed is not None:  # issued and journalled just before an interruption: record it, not again
            step = disposal_step(trail.executed) or {}
            archive.catalog.set_batch_status(batch.id, BatchStatus.EXECUTED,
                                             executed=datetime.fromisoformat(str(step["executed"])),
                                             certificate_sha256=dict(step["certificate_sha256"]))  # fmt: skip
            batch = find_batch(archive, batch.id)
            return _report(archive, batch, why_pending, _certificate_files(archive, batch))
        certificate = _issue_certificate(archive, batch, trail, archive.system_agents(operator))
        batch = find_batch(archive, batch.id)
    return _report(archive, batch, why_pending, certificate)


def _check_may_execute(batch: DisposalBatch, transfer_to: Path | None, trail: _Trail) -> None:
    if batch.status is BatchStatus.WITHDRAWN:
        raise StrongroomError(
            f"Disposal batch {batch.id} was withdrawn; it cannot be executed.",
            details=["Nothing was done. Propose a new batch with: strongroom disposal propose"],
        )
    distinct = {a.key for a in batch.approvals}
    if batch.status is BatchStatus.PROPOSED or len(distinct) < 2:
        names = ", ".join(a.name for a in batch.approvals) or "nobody yet"
        raise ApprovalError(
            f"Disposal batch {batch.id} needs the approval of two different people before it is executed; "
            f"approved so far by: {names}.",
            details=[f"Nothing was done. Approve it with: strongroom disposal approve {batch.id} --as NAME"],
        )
    today = datetime.now(UTC).date()
    if batch.as_of > today and batch.status is BatchStatus.APPROVED:
        # Planned ahead with `propose --as-of`: its records are not all due yet, and none goes before it is.
        raise StrongroomError(
            f"Disposal batch {batch.id} was proposed for what is due on {batch.as_of.isoformat()}: it may be executed "
            f"from that day, not before (today is {today.isoformat()}).",
            details=["Nothing was done. A record is destroyed only once its retention period has run out."],
        )
    transfers = [i.package for i in batch.items if i.outcome is ItemOutcome.PENDING and
                 i.action is DisposalAction.TRANSFER and i.package not in trail.transferred]  # fmt: skip
    if transfers and transfer_to is None:
        raise StrongroomError(
            f"Disposal batch {batch.id} transfers {len(transfers)} package(s) to another archive: say where to "
            "write their bags with --transfer-to FOLDER.",
            details=["Nothing was done. Each is exported as a BagIt bag with its METS, checked, then removed here."],
        )


def _begin(archive: Archive, batch: DisposalBatch, agents: tuple[Agent, ...], trail: _Trail) -> DisposalBatch:
    """Re-check each item, skip those that changed, and journal the stubs of the rest before anything goes."""
    now = datetime.now(UTC)
    stubs: list[DestructionStub] = []
    for item in batch.items:
        if item.outcome is not ItemOutcome.PENDING:
            continue
        why = _why_skip(archive, batch, item)
        if why is not None:
            _skip(archive, batch, item, why, agents, trail)
            continue
        stubs.append(trail.stubs.get(item.package) or build_stub(archive, batch, item, now))
    event = _event(
        "executing", now, agents,
        f"Disposal batch {batch.id} execution begun: {len(stubs)} package(s) to remove from every location.",
        "The stubs (what is kept of each package) are recorded here before anything is deleted.",
    )  # fmt: skip
    archive.journal.append([JournalRecord("", event, agents, executing_data(batch.id, stubs))])
    archive.catalog.set_batch_status(batch.id, BatchStatus.EXECUTING)
    return find_batch(archive, batch.id)


def _why_skip(archive: Archive, batch: DisposalBatch, item: DisposalItem) -> str | None:
    """Why an item may no longer be disposed of (held, changed, re-sentenced), or None."""
    from strongroom.records.holds import ensure_not_held

    try:
        ensure_not_held(archive, item.package, "dispose of")
    except HeldError:
        # Named by type and id only: the error's text names the package, which may itself be personal data.
        holds = archive.catalog.holds(package=item.package, active_only=True)
        return "held: " + ("; ".join(f"{h.type.value} hold {h.id}" for h in holds) or "under a hold")
    summary = archive.catalog.find_package(item.package)
    if summary is None:
        return None if archive.catalog.stub(item.package) else "no longer in the archive"
    if summary.version != item.head_version:
        return (f"changed since the proposal: now at version {summary.version}, proposed at version "
                f"{item.head_version}; propose it again")  # fmt: skip
    current = archive.catalog.retention(item.package)
    if current is None:
        return "its retention schedule was removed since the proposal"
    if (current.code, current.version) != (item.code, item.version):
        return f"re-sentenced since the proposal: now under {current.code} version {current.version}"
    if current.due_override is not None and current.due_override > batch.as_of:
        return f"retention extended by a review to {current.due_override.isoformat()}"
    # Anything else that moved the due date or the action since the proposal: a review to retain, a trigger
    # event recorded again with a later date (a contract extended), a destroy review on a transfer item.
    from strongroom.records.retention import due_item

    now_due = due_item(archive.catalog, summary, current, batch.as_of)
    if now_due is None:
        return "no longer due: a review decided to retain it since the proposal"
    if now_due.due is None or now_due.due > batch.as_of:
        when = now_due.due.isoformat() if now_due.due else (now_due.waiting or "no due date")
        return f"no longer due on {batch.as_of.isoformat()} since the proposal: now due {when}"
    if now_due.action is not item.action:
        return f"its disposal action changed since the proposal: now {now_due.action.value}"
    return _held_in_storage(archive, item.package)


def _held_in_storage(archive: Archive, package: str) -> str | None:
    """Why a location's storage refuses to erase the package (a hold marker the catalog does not know yet:
    `hold place` writes its markers first), or None. A location that cannot be reached is left to the purge."""
    from strongroom.storage.holds import markers_over, markers_under

    for spec in archive.settings.all_locations:
        try:
            location = archive.location(spec.name)
            root = location.ocfl.object_root(object_id(package))
            markers = markers_over(location.storage, root) + markers_under(location.storage, root)
        except StorageError:
            continue
        if markers:
            named = ", ".join(sorted({m.hold_id for m in markers}))
            return f"held: the storage of location {spec.name} holds it under hold {named}"
    return None


def _skip(
    archive: Archive, batch: DisposalBatch, item: DisposalItem, why: str, agents: tuple[Agent, ...], trail: _Trail
) -> None:
    if item.package in trail.skipped:  # journalled before an interruption: the catalog is all that is left to do
        archive.catalog.set_item_outcome(batch.id, item.package, ItemOutcome.SKIPPED, trail.skipped[item.package], ())
        return
    trail.skipped[item.package] = why
    event = _event("skipped", datetime.now(UTC), agents,
                   f"Package {item.package} left out of disposal batch {batch.id}: {why}.",
                   "Nothing of the package was removed.", outcome=Outcome.WARNING)  # fmt: skip
    archive.journal.append([JournalRecord("", event, agents, skipped_data(batch.id, item.package, why))])
    archive.catalog.set_item_outcome(batch.id, item.package, ItemOutcome.SKIPPED, why, ())


def _dispose_item(
    archive: Archive,
    batch: DisposalBatch,
    item: DisposalItem,
    trail: _Trail,
    agents: tuple[Agent, ...],
    transfer_to: Path | None,
    why_pending: dict[str, str],
) -> None:
    stub = trail.stubs.get(item.package)
    if stub is None:  # a write-ahead stub always exists for a pending item of an executing batch
        raise StrongroomError(f"The journal holds no stub for package {item.package} of batch {batch.id}.",
                              details=["Check the journal with: strongroom journal verify"])  # fmt: skip
    # Under the holds lock: a hold being placed either finishes before the re-check (and the item is skipped)
    # or starts after the package is gone (and `place_hold` refuses it), never half-way through a purge.
    with archive.catalog.lock(HOLDS_LOCK):
        summary = archive.catalog.find_package(item.package)
        # Once its purge has begun (the root inventory goes first) the package cannot change any more, and a hold
        # placed since makes the storage refuse the rest: it is then left pending, saying so, rather than skipped.
        if summary is not None and archive.ocfl.exists(object_id(item.package)):
            why = _why_skip(archive, batch, item)
            if why is not None:
                _skip(archive, batch, item, why, agents, trail)
                return
        _remove_item(archive, batch, item, stub, trail, agents, transfer_to, why_pending)


def _remove_item(
    archive: Archive,
    batch: DisposalBatch,
    item: DisposalItem,
    stub: DestructionStub,
    trail: _Trail,
    agents: tuple[Agent, ...],
    transfer_to: Path | None,
    why_pending: dict[str, str],
) -> None:
    if item.action is DisposalAction.TRANSFER:
        if item.package not in trail.transferred:
            assert transfer_to is not None  # checked before anything started
            trail.transferred[item.package] = _transfer(archive, batch, item, transfer_to, agents)
        stub = replace(stub, transferred_to=trail.transferred[item.package][1])
    locations: dict[str, str] = {}
    for spec in archive.settings.all_locations:
        locations[spec.name] = _purge_in(archive, spec.name, item.package)
    pending = tuple(name for name, state in locations.items() if state != "purged")
    for name in pending:
        why_pending[name] = locations[name].removeprefix("pending: ")
    journalled = trail.deleted.get(item.package)
    if journalled is not None and trail.deleted_at.get(item.package) == locations:
        # Journalled just so before an interruption (between the journal and the catalog): finish, not again.
        _forget(archive, batch, item, replace(journalled, index_purged=False), pending)
        return
    event_id = str(uuid.uuid4())
    stub = replace(stub, index_purged=False, event_uuid=event_id)
    where = ", ".join(f"{name} ({state})" for name, state in locations.items())
    event = replace(
        _event("deleted", datetime.now(UTC), agents,
               f"Package {item.package} {'transferred and ' if stub.transferred_to else ''}removed under schedule "
               f"{item.code} version {item.version} (disposal batch {batch.id}); locations: {where}.",
               "Removed from every location and from the search index; the stub remains." if not pending else
               f"Still held in {', '.join(pending)}: run `strongroom disposal execute {batch.id}` again.",
               outcome=Outcome.SUCCESS if not pending else Outcome.WARNING, version=item.head_version),
        uuid=event_id,
    )  # fmt: skip
    archive.journal.append([JournalRecord(item.package, event, agents, deleted_data(batch.id, stub, locations))])
    trail.deleted[item.package], trail.deleted_at[item.package] = stub, dict(locations)
    _forget(archive, batch, item, stub, pending)


def _forget(archive: Archive, batch: DisposalBatch, item: DisposalItem, stub: DestructionStub,
            pending: tuple[str, ...]) -> None:  # fmt: skip
    """The catalog and index steps of a removal whose `deleted` entry is journalled."""
    archive.catalog.dispose_package(stub)
    _purge_index(archive, item.package)
    if pending:
        archive.catalog.set_item_outcome(batch.id, item.package, ItemOutcome.PENDING, None, pending)
    else:
        done = ItemOutcome.TRANSFERRED if item.action is DisposalAction.TRANSFER else ItemOutcome.DESTROYED
        archive.catalog.set_item_outcome(batch.id, item.package, done, None, ())


def _purge_in(archive: Archive, location: str, package: str) -> str:
    """Erase the package's OCFL object (every version) in one location: "purged" or "pending: why"."""
    from strongroom.storage.ocfl_purge import purge_object

    try:
        where = archive.location(location)
        purge_object(where.storage, where.ocfl.object_root(object_id(package)))
    except StorageError as err:  # unreachable, refused under a hold, a version kept by S3 retention
        return f"pending: {err.message}"
    return "purged"


def _purge_index(archive: Archive, package: str) -> bool:
    try:
        archive.search_index.purge_package(package)
    except (StrongroomError, OSError):
        return False  # the stub stays unpurged; every write command's index catch-up tries again
    archive.catalog.mark_stub_purged(package)
    return True


def purge_unpurged_stubs(archive: Archive) -> int:
    """Purge the search documents of destroyed packages whose purge did not finish (Archive.catch_up_index)."""
    return sum(_purge_index(archive, stub.package) for stub in archive.catalog.stubs(unpurged_only=True))


def _transfer(
    archive: Archive, batch: DisposalBatch, item: DisposalItem, transfer_to: Path, agents: tuple[Agent, ...]
) -> tuple[str, str]:
    """Export the package as a BagIt bag under `transfer_to`, check it, journal it: (tag manifest sha256, bag)."""
    summary = archive.package(item.package)
    target = transfer_to.expanduser().absolute()
    bag = target / f"{summary.name}-{summary.uuid}"
    if not (bag.is_dir() and not validate_bag(bag)):  # a whole bag from an interrupted run is kept
        bag = archive.export(summary.uuid, target)
    problems = validate_bag(bag)
    if problems:
        raise StorageError(f"The transfer bag {bag} is not valid: " + "; ".join(problems[:10]),
                           details=["Nothing was removed. Remove the folder and run the command again."])  # fmt: skip
    manifest = bag / "tagmanifest-sha256.txt"
    if not manifest.is_file():
        manifest = bag / "manifest-sha256.txt"
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    event = _event("transferred", datetime.now(UTC), agents,
                   f"Package {item.package} exported for transfer as a BagIt bag with its METS to {bag} "
                   f"(disposal batch {batch.id}).",
                   f"The bag validates; sha256 of {manifest.name}: {digest}.", version=item.head_version)  # fmt: skip
    archive.journal.append([JournalRecord(item.package, event, agents, transferred_data(batch.id, digest, str(bag)))])
    return digest, str(bag)


# --- certificates --------------------------------------------------------------------------------


def batch_trail(archive: Archive, batch: str) -> _Trail:
    """The batch's entries in the journal: its write-ahead stubs, transfers and deletions."""
    trail = _Trail()
    for entry in archive.journal.entries():
        step = disposal_step(entry)
        if step is None or step.get("batch") != batch:
            continue
        if step["step"] == "executing" and trail.executing is None:
            trail.executing = entry
            trail.stubs = {s.package: s for s in (stub_of(d) for d in step.get("stubs", []))}
        elif step["step"] == "transferred":
            trail.transferred[entry.package] = (str(step["bag_sha256"]), str(step["destination"]))
        elif step["step"] == "deleted":
            trail.deleted[entry.package] = stub_of(step["stub"])
            trail.deleted_at[entry.package] = {str(k): str(v) for k, v in dict(step.get("locations", {})).items()}
        elif step["step"] == "skipped":
            trail.skipped[str(step["item"])] = str(step.get("why") or "")
        elif step["step"] == "executed":
            trail.executed = entry
    return trail


def certificate_stubs(archive: Archive, batch: DisposalBatch, trail: _Trail | None = None) -> list[DestructionStub]:
    """The stubs a batch's certificate lists: its destroyed and transferred packages."""
    done = {i.package for i in batch.items if i.outcome in (ItemOutcome.DESTROYED, ItemOutcome.TRANSFERRED)}
    stubs: list[DestructionStub] = []
    for package in sorted(done):
        stub = archive.catalog.stub(package)
        if stub is None and trail is not None:
            stub = trail.deleted.get(package) or trail.stubs.get(package)
        if stub is not None:
            stubs.append(stub)
    return stubs


def render_certificate(archive: Archive, batch: DisposalBatch, trail: _Trail | None = None) -> dict[str, bytes]:
    """The certificate's CSV and HTML, rendered again from the batch, its stubs and the journal."""
    trail = trail or batch_trail(archive, batch.id)
    if trail.executing is None:
        raise StrongroomError(f"Disposal batch {batch.id} has not been executed: it has no certificate yet.",
                              details=[f"Execute it with: strongroom disposal execute {batch.id}"])  # fmt: skip
    stubs = certificate_stubs(archive, batch, trail)
    return {
        "csv": certificate_csv(batch, stubs),
        "html": certificate_html(batch, stubs, trail.executing.sequence,
                                 organisation=archive.settings.organisation_name),
    }  # fmt: skip


def _issue_certificate(archive: Archive, batch: DisposalBatch, trail: _Trail, agents: tuple[Agent, ...]) -> Certificate:
    executed = datetime.now(UTC)
    rendered = render_certificate(archive, replace(batch, status=BatchStatus.EXECUTED, executed=executed), trail)
    digests = {kind: hashlib.sha256(body).hexdigest() for kind, body in rendered.items()}
    files = _store_certificate(archive, batch.id, rendered)
    event = _event("executed", executed, agents,
                   f"Disposal batch {batch.id} executed: {_outcome_counts(batch)}.",
                   f"Destruction certificate issued: {CERTIFICATE_PREFIX}{batch.id}.csv (sha256 {digests['csv']}) "
                   f"and .html (sha256 {digests['html']}).")  # fmt: skip
    archive.journal.append([JournalRecord("", event, agents, executed_data(batch.id, executed, digests))])
    archive.catalog.set_batch_status(batch.id, BatchStatus.EXECUTED, executed=executed, certificate_sha256=digests)
    return Certificate(files["csv"], files["html"], f"{CERTIFICATE_PREFIX}{batch.id}.csv",
                       f"{CERTIFICATE_PREFIX}{batch.id}.html", digests)  # fmt: skip


def _store_certificate(archive: Archive, batch: str, rendered: Mapping[str, bytes]) -> dict[str, Path]:
    """Write the certificate to <home>/certificates/ and put it into the primary storage."""
    folder = archive.settings.home / "certificates"
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for kind, body in rendered.items():
        path = folder / f"{batch}.{kind}"
        partial = folder / f".{batch}.{kind}.partial"
        partial.write_bytes(body)
        os.replace(partial, path)
        archive.storage.put(f"{CERTIFICATE_PREFIX}{batch}.{kind}", path, hashlib.sha256(body).hexdigest())
        written[kind] = path
    return written


def _certificate_files(archive: Archive, batch: DisposalBatch) -> Certificate | None:
    if not batch.certificate_sha256:
        return None
    folder = archive.settings.home / "certificates"
    return Certificate(folder / f"{batch.id}.csv", folder / f"{batch.id}.html", f"{CERTIFICATE_PREFIX}{batch.id}.csv",
                       f"{CERTIFICATE_PREFIX}{batch.id}.html", dict(batch.certificate_sha256))  # fmt: skip


def write_certificate(archive: Archive, batch_ref: str, dest: Path) -> dict[str, Path]:
    """Render a batch's certificate again into `dest` (<batch>.csv and .html), from the catalog and journal
    alone; `certificate_matches` then compares it with the digests journalled when it was issued."""
    batch = find_batch(archive, batch_ref)
    rendered = render_certificate(archive, batch)
    dest.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for kind, body in rendered.items():
        paths[kind] = dest / f"{batch.id}.{kind}"
        paths[kind].write_bytes(body)
    return paths


def certificate_matches(batch: DisposalBatch, paths: Mapping[str, Path]) -> dict[str, bool]:
    """Whether each re-rendered file has the sha256 journalled when the certificate was issued."""
    return {kind: batch.certificate_sha256.get(kind) == hashlib.sha256(path.read_bytes()).hexdigest()
            for kind, path in paths.items()}  # fmt: skip


# --- helpers -------------------------------------------------------------------------------------


def _event(
    step: str,
    when: datetime,
    agents: Sequence[Agent],
    detail: str,
    outcome_detail: str,
    *,
    outcome: Outcome = Outcome.SUCCESS,
    version: int | None = None,
) -> Event:
    return Event(str(uuid.uuid4()), DISPOSAL_EVENT_TYPES[step], when, detail, outcome, outcome_detail,
                 tuple(a.key for a in agents), None, version)  # fmt: skip


def _outcome_counts(batch: DisposalBatch) -> str:
    counts = {o: sum(1 for i in batch.items if i.outcome is o) for o in ItemOutcome}
    return ", ".join(f"{n} {o.value}" for o, n in counts.items() if n) or "no packages"


def _report(
    archive: Archive, batch: DisposalBatch, why_pending: Mapping[str, str], certificate: Certificate | None
) -> ExecutionReport:
    pending: dict[str, list[str]] = {}
    for item in batch.items:
        for location in item.pending_locations:
            pending.setdefault(location, []).append(item.package)
    lagging = {s.package for s in archive.catalog.stubs(unpurged_only=True)}
    return ExecutionReport(
        batch=batch,
        destroyed=tuple(i.package for i in batch.items if i.outcome is ItemOutcome.DESTROYED),
        transferred=tuple((s.package, s.transferred_to or "") for s in certificate_stubs(archive, batch)
                          if s.action is DisposalAction.TRANSFER),
        skipped=tuple((i.package, i.why or "") for i in batch.items if i.outcome is ItemOutcome.SKIPPED),
        pending={k: tuple(v) for k, v in pending.items()},
        problems=tuple(f"location {name}: {why}" for name, why in why_pending.items()),
        certificate=certificate,
        index_lagging=tuple(i.package for i in batch.items if i.package in lagging),
    )  # fmt: skip


def batch_summary(batch: DisposalBatch) -> dict[str, Any]:
    """Counts of a batch's items by outcome (for listings)."""
    return {o.value: sum(1 for i in batch.items if i.outcome is o) for o in ItemOutcome} | {"items": len(batch.items)}
