"""Holds: litigation, FOI/EIR, audit and investigation holds that stop a package being changed or destroyed.

A hold is enforced three times over. The catalog answers "is this package held?" for
disposal and `Archive.commit` (`ensure_not_held`, the friendly first line). Marker objects
in every storage location make the storage layer itself refuse a delete (`storage/holds.py`),
whoever asks and even with the catalog lost. Where a location has S3 Object Lock, a legal
hold on every object version stops any S3 client at all.

Placing writes the markers first, then journals (one entry per package, one batch) and
catalogues, then sets legal holds: a crash leaves a hold more protective than recorded, never
less, and `sync_markers` (run by rebuild and after replication) puts back what is missing.
Releasing journals and catalogues first, then removes that hold's markers, and lifts the legal
hold only where no other active hold remains on the package.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from strongroom.commit import object_id
from strongroom.errors import HeldError, NotFound, StrongroomError
from strongroom.model import Agent, Event, Outcome
from strongroom.records.journal_data import (
    HOLD_PLACED_EVENT,
    HOLD_RELEASED_EVENT,
    HoldRelease,
    hold_data,
    hold_release_data,
)
from strongroom.records.model import HOLD_TYPE_ALIASES, Hold, HoldType
from strongroom.search.base import ALL_ROLES, Role, SearchQuery
from strongroom.storage.base import LegalHolds, supports
from strongroom.storage.holds import Marker, markers_under, place_marker, remove_marker
from strongroom.storage.journal import JournalRecord

if TYPE_CHECKING:
    from strongroom.archive import Archive
    from strongroom.locations import Location

_PAGE = 1000  # search hits per page when a query chooses the packages
HOLDS_LOCK = "holds"  # taken by placing and releasing, and by disposal around each package's re-check and purge


@dataclass(frozen=True)
class LocationOutcome:
    """What happened in one storage location: `ok` False when it could not be (fully) done there."""

    location: str
    ok: bool
    said: str  # "marked", "marked, legal hold on 412 object versions", "not marked: <why>"


@dataclass(frozen=True)
class HoldPlacement:
    hold: Hold
    locations: tuple[LocationOutcome, ...]

    @property
    def failed(self) -> tuple[str, ...]:
        """Locations not marked (the hold stands in the journal and catalog all the same)."""
        return tuple(o.location for o in self.locations if not o.ok)


@dataclass(frozen=True)
class HoldReleaseReport:
    hold: Hold  # as released
    still_held: tuple[str, ...]  # its packages that another active hold keeps held
    locations: tuple[LocationOutcome, ...]

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(o.location for o in self.locations if not o.ok)


@dataclass(frozen=True)
class MarkerSync:
    """What `sync_markers` put back, and what it found but left alone."""

    restored: tuple[tuple[str, str, str], ...]  # (location, package, hold id) of each marker written again
    legal_holds: Mapping[str, int]  # location -> object versions with the legal hold made sure ON
    stray: tuple[tuple[str, str], ...]  # (location, marker key) of markers no active hold explains: left in place
    unreachable: Mapping[str, str]  # location -> why it could not be checked


def hold_type(text: str) -> HoldType:
    """The hold type a person typed (`eir` and the other aliases included); StrongroomError listing the types."""
    cleaned = text.strip().casefold()
    if cleaned in HOLD_TYPE_ALIASES:
        return HOLD_TYPE_ALIASES[cleaned]
    try:
        return HoldType(cleaned)
    except ValueError:
        known = [t.value for t in HoldType] + sorted(HOLD_TYPE_ALIASES)
        raise StrongroomError(
            f"{text!r} is not a type of hold.", details=[f"Use one of: {', '.join(known)}."]
        ) from None


def place_hold(
    archive: Archive,
    *,
    packages: Sequence[str] = (),
    query: str | None = None,
    type: HoldType,
    reason: str,
    authority: str | None,
    reference: str | None,
    operator: str,
) -> HoldPlacement:
    """Hold the packages named (by reference) and those an archivist search for `query` finds now.

    The markers go into every location first; a location that cannot be reached or written is
    reported in the result (the hold stands: journalled and catalogued).
    """
    if not reason.strip():
        raise StrongroomError("Give the reason for the hold with --reason; it is kept in the record for good.")
    if not packages and not (query and query.strip()):
        raise StrongroomError("Name the packages to hold, or give --query to hold everything a search finds.")
    archive.prepare_to_write()  # the search index caught up first, so a --query sees every package
    chosen = _resolve(archive, packages, query)
    if not chosen:
        raise StrongroomError(
            f"The search {query!r} finds no package, so nothing was held.",
            details=["Try the search first with: strongroom search --as archivist QUERY"],
        )
    now = datetime.now(UTC)
    hold = Hold(
        id=str(uuid.uuid4()), type=HoldType(type), reason=reason.strip(), authority=_text(authority),
        reference=_text(reference), query=_text(query), packages=tuple(chosen), placed=now, placed_by=operator,
    )  # fmt: skip
    with archive.catalog.lock(HOLDS_LOCK):
        # Resolved before the lock: a disposal may have finished in between (it re-checks holds under this lock).
        gone = [p for p in hold.packages if archive.catalog.find_package(p) is None]
        if gone:
            raise StrongroomError(
                f"Nothing was held: {len(gone)} of the packages chosen are no longer in the archive (destroyed or "
                f"transferred by disposal): {', '.join(gone[:10])}.",
                details=["See what is kept of each with: strongroom disposal list; then place the hold again."],
            )
        outcomes = _each_location(archive, lambda loc: _mark(loc, hold))
        agents = archive.system_agents(operator)
        about = f"{hold.type.value} hold {hold.id}" + (f" (reference {hold.reference})" if hold.reference else "")
        records = [
            _record(archive, package, HOLD_PLACED_EVENT, now, agents, hold_data(hold),
                    f"{about} placed: {hold.reason}", "the package may not be changed or destroyed until released")
            for package in hold.packages
        ]  # fmt: skip
        entries = archive.journal.append(records)
        hold = replace(hold, place_event=entries[0].event.uuid)
        archive.catalog.place_hold(hold)
        for record in records:
            archive.catalog.record_events(record.package, [record.event], agents)
        outcomes = tuple(_legal_hold(archive, o, hold.packages, on=True) for o in outcomes)
    return HoldPlacement(hold, outcomes)


def release_hold(archive: Archive, ref: str, *, reason: str, operator: str) -> HoldReleaseReport:
    """Release a hold: journalled and catalogued, then its markers go; a legal hold is lifted only from
    packages that no other active hold still covers. Run again on a released hold, it removes the markers a
    location that could not be reached kept (journalling nothing more); with none left it is refused."""
    if not reason.strip():
        raise StrongroomError("Give the reason for the release with --reason; it is kept in the record for good.")
    archive.prepare_to_write()
    with archive.catalog.lock(HOLDS_LOCK):
        hold = find_hold(archive, ref)
        if not hold.active:
            finished = _finish_release(archive, hold)
            if finished is not None:
                return finished
            raise StrongroomError(
                f"Hold {hold.id} was already released on {hold.released:%Y-%m-%d} by {hold.released_by}.",
                details=["See the active holds with: strongroom hold list"],
            )
        now = datetime.now(UTC)
        release = HoldRelease(hold.id, now, operator, reason.strip())
        agents = archive.system_agents(operator)
        records = [
            _record(archive, package, HOLD_RELEASED_EVENT, now, agents, hold_release_data(release),
                    f"{hold.type.value} hold {hold.id} released: {release.reason}", "the hold no longer applies")
            for package in hold.packages
        ]  # fmt: skip
        entries = archive.journal.append(records)
        event = entries[0].event.uuid if entries else None
        archive.catalog.release_hold(hold.id, now, operator, release.reason, event)
        for record in records:
            archive.catalog.record_events(record.package, [record.event], agents)
        held = archive.catalog.held_packages()
        still = tuple(p for p in hold.packages if p in held)
        free = tuple(p for p in hold.packages if p not in held)
        outcomes = _each_location(archive, lambda loc: _unmark(loc, hold))
        outcomes = tuple(_legal_hold(archive, o, free, on=False) for o in outcomes)
    released = replace(hold, released=now, released_by=operator, release_reason=release.reason, release_event=event)
    return HoldReleaseReport(released, still, outcomes)


def _finish_release(archive: Archive, hold: Hold) -> HoldReleaseReport | None:
    """The markers a released hold left in a location that could not be reached when it was released, removed
    now (the release itself is journalled already); None when none is left anywhere."""
    left: list[str] = []
    for spec in archive.settings.all_locations:
        try:
            location = archive.location(spec.name)
            roots = {_root(location, p) for p in hold.packages}
            if any(m.hold_id == hold.id and m.prefix in roots for m in markers_under(location.storage)):
                left.append(spec.name)
        except StrongroomError:
            left.append(spec.name)  # cannot tell: try again, and say so if it still fails
    if not left:
        return None
    held = archive.catalog.held_packages()
    free = tuple(p for p in hold.packages if p not in held)
    outcomes = _each_location(archive, lambda loc: _unmark(loc, hold), only=left)
    outcomes = tuple(_legal_hold(archive, o, free, on=False) for o in outcomes)
    return HoldReleaseReport(hold, tuple(p for p in hold.packages if p in held), outcomes)


def find_hold(archive: Archive, ref: str) -> Hold:
    found = archive.catalog.find_hold(ref.strip())
    if found is None:
        hint = "An id prefix needs at least 8 characters. " if len(ref.strip()) < 8 else ""
        raise NotFound(f"No hold {ref!r} in this archive.", details=[f"{hint}See the holds with: strongroom hold list"])
    return found


def ensure_not_held(archive: Archive, package: str, doing: str) -> None:
    """HeldError naming each active hold on `package` (its type, reference and id) when there is one."""
    holds = archive.catalog.holds(package=package, active_only=True)
    if not holds:
        return
    summary = archive.catalog.find_package(package)
    name = f"{summary.name} ({package})" if summary else package
    named = "; ".join(
        f"{h.type.value} hold {h.id}" + (f", reference {h.reference!r}" if h.reference else "") for h in holds
    )
    raise HeldError(
        f"Cannot {doing} package {name}: it is under {len(holds)} active hold(s): {named}.",
        details=[f"Release it once it no longer applies: strongroom hold release {h.id} --reason ..." for h in holds],
    )


def sync_markers(archive: Archive) -> MarkerSync:
    """Put back missing markers (and legal holds) for every active hold in every location; report stray markers.

    Stray markers (of released or unknown holds) are left in place: removing protection is a person's call.
    """
    active = archive.catalog.holds(active_only=True)
    restored: list[tuple[str, str, str]] = []
    stray: list[tuple[str, str]] = []
    legal: dict[str, int] = {}
    unreachable: dict[str, str] = {}
    for spec in archive.settings.all_locations:
        try:
            location = archive.location(spec.name)
            wanted = {Marker(_root(location, p), h.id): (h, p) for h in active for p in h.packages}
            present = set(markers_under(location.storage))
            for marker, (hold, package) in wanted.items():
                if marker not in present:
                    place_marker(location.storage, marker.prefix, hold.id, _note(hold, package))
                    restored.append((spec.name, package, hold.id))
            stray.extend((spec.name, m.key) for m in sorted(present - set(wanted), key=lambda m: m.key))
            if spec.object_lock and supports(location.storage, LegalHolds):
                lock: Any = location.storage
                roots = {m.prefix for m in wanted}
                legal[spec.name] = sum(int(lock.set_legal_hold(root, True)) for root in sorted(roots))
        except StrongroomError as err:
            unreachable[spec.name] = err.message
    return MarkerSync(tuple(restored), legal, tuple(stray), unreachable)


# --- JSON shapes -------------------------------------------------------------------------------


def hold_view(hold: Hold) -> dict[str, Any]:
    return {
        "id": hold.id, "type": hold.type.value, "active": hold.active, "reason": hold.reason,
        "authority": hold.authority, "reference": hold.reference, "query": hold.query,
        "packages": list(hold.packages), "placed": hold.placed.isoformat(), "placed_by": hold.placed_by,
        "released": hold.released.isoformat() if hold.released else None, "released_by": hold.released_by,
        "release_reason": hold.release_reason, "place_event": hold.place_event, "release_event": hold.release_event,
    }  # fmt: skip


def placement_view(placement: HoldPlacement) -> dict[str, Any]:
    hold = placement.hold
    return {
        "hold": hold.id, "type": hold.type.value, "reason": hold.reason, "authority": hold.authority,
        "reference": hold.reference, "query": hold.query, "placed": hold.placed.isoformat(),
        "packages": list(hold.packages), "event": hold.place_event, "locations": _locations_view(placement.locations),
    }  # fmt: skip


def release_view(report: HoldReleaseReport) -> dict[str, Any]:
    hold = report.hold
    return {
        "hold": hold.id, "released": hold.released.isoformat() if hold.released else None,
        "reason": hold.release_reason, "packages": list(hold.packages), "still_held": list(report.still_held),
        "event": hold.release_event, "locations": _locations_view(report.locations),
    }  # fmt: skip


def _locations_view(outcomes: Iterable[LocationOutcome]) -> dict[str, str]:
    return {o.location: o.said for o in outcomes}


# --- helpers -----------------------------------------------------------------------------------


def _text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _resolve(archive: Archive, refs: Sequence[str], query: str | None) -> list[str]:
    chosen: dict[str, None] = {}
    for ref in refs:
        chosen[archive.package(ref).uuid] = None
    if query and query.strip():
        after: str | None = None
        while True:
            page = archive.search(
                SearchQuery(text=query, viewer=Role.ARCHIVIST, roles=ALL_ROLES, limit=_PAGE, after=after)
            )
            for hit in page.hits:
                chosen[hit.package] = None
            if page.next_after is None or not page.hits:
                break
            after = page.next_after
    return list(chosen)


def _root(location: Location, package: str) -> str:
    return location.ocfl.object_root(object_id(package))


def _note(hold: Hold, package: str) -> dict[str, Any]:
    # What a person finding the marker needs; the reason stays in the journal (it may name people).
    return {"type": hold.type.value, "reference": hold.reference, "package": package, "placed": hold.placed.isoformat()}


def _each_location(
    archive: Archive, work: Callable[[Location], str], only: Sequence[str] | None = None
) -> tuple[LocationOutcome, ...]:
    outcomes = []
    for spec in archive.settings.all_locations:
        if only is not None and spec.name not in only:
            continue
        try:
            outcomes.append(LocationOutcome(spec.name, True, work(archive.location(spec.name))))
        except StrongroomError as err:
            outcomes.append(LocationOutcome(spec.name, False, f"not done: {err.message}"))
    return tuple(outcomes)


def _mark(location: Location, hold: Hold) -> str:
    for package in hold.packages:
        place_marker(location.storage, _root(location, package), hold.id, _note(hold, package))
    return "marked"


def _unmark(location: Location, hold: Hold) -> str:
    for package in hold.packages:
        remove_marker(location.storage, _root(location, package), hold.id)
    return "unmarked"


def _legal_hold(archive: Archive, outcome: LocationOutcome, packages: Sequence[str], *, on: bool) -> LocationOutcome:
    """The S3 legal hold set (or lifted) on every version of `packages` in a location with Object Lock."""
    spec = archive.spec(outcome.location)
    if not outcome.ok or not spec.object_lock or not packages:
        return outcome
    try:
        location = archive.location(spec.name)
        if not supports(location.storage, LegalHolds):
            return outcome
        lock: Any = location.storage
        count = sum(int(lock.set_legal_hold(_root(location, p), on)) for p in packages)
    except StrongroomError as err:
        return replace(outcome, ok=False, said=f"{outcome.said}; legal hold not {'set' if on else 'lifted'}: "
                                                f"{err.message}")  # fmt: skip
    done = f"set on {count}" if on else f"lifted from {count}"
    return replace(outcome, said=f"{outcome.said}, legal hold {done} object versions")


def _record(
    archive: Archive, package: str, kind: str, now: datetime, agents: tuple[Agent, ...],
    data: Mapping[str, Any], detail: str, outcome: str,
) -> JournalRecord:  # fmt: skip
    summary = archive.catalog.find_package(package)
    event = Event(
        str(uuid.uuid4()), kind, now, detail, Outcome.SUCCESS, outcome, tuple(a.key for a in agents),
        None, summary.version if summary else None,
    )  # fmt: skip
    return JournalRecord(package, event, agents, data)
