"""Keeping every package in every replica location: copy at commit, backfill, repair, add and remove locations.

Each copy made is a PREMIS "replication" event in the journal (its `data` names the source and
target locations) and a row in the catalog's copies table, written only after the target holds
the version whole; so nothing is ever recorded as stored that is not, and a copy interrupted by a
crash or an unreachable server is simply made again by the next `strongroom replicate`.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from strongroom.commit import object_id
from strongroom.errors import ConfigError, NotFound, StorageError, StrongroomError
from strongroom.locations import (
    Location,
    LocationRole,
    LocationSpec,
    add_to_config,
    check_name,
    for_quick_check,
    open_location,
    remove_from_config,
)
from strongroom.model import Agent, Event, LocationUsage, Outcome, PackageSummary
from strongroom.replication import CopyResult, copy_versions, heal_object, sync_journal
from strongroom.storage import open_storage
from strongroom.storage.base import PartialCleanup, supports
from strongroom.storage.journal import JournalRecord

if TYPE_CHECKING:
    from strongroom.archive import Archive
    from strongroom.preservation.verify import CopyCheck

StepProgress = Callable[[str, int, int | None], None]
COPY_WORKERS = 8  # copying waits on the network or on fsync, not on the CPU
STALE_PARTIALS = timedelta(days=1)  # no live upload takes this long


@dataclass(frozen=True)
class CopyFailure:
    package: str
    location: str
    message: str


@dataclass
class ReplicateReport:
    copies: list[CopyResult] = field(default_factory=list)
    failures: list[CopyFailure] = field(default_factory=list)
    up_to_date: int = 0  # package x location pairs that needed nothing
    journal_batches: int = 0
    stale_partials: int = 0  # unfinished uploads older than a day, left by killed writers, removed
    unreachable: dict[str, str] = field(default_factory=dict)  # location -> why it could not be opened


# --- at commit, and backfill -----------------------------------------------------------------------


def copy_package(archive: Archive, summary: PackageSummary, source: Location, target: Location,
                 operator: str) -> CopyResult:  # fmt: skip
    """Copy a package's missing versions from source to target; journal and catalog it once it is whole.

    The caller holds the package lock.
    """
    oid = object_id(summary.uuid)
    scratch = archive.settings.staging_dir / f"copy-{uuid.uuid4().hex[:12]}"
    try:
        result = copy_versions(source, target, oid, scratch, workers=COPY_WORKERS)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    if result.to_version > result.from_version:
        agents = archive.system_agents(operator)
        event = Event(
            str(uuid.uuid4()), "replication", datetime.now(UTC),
            f'program="Strongroom"; from={source.name}; to={target.name}',
            Outcome.SUCCESS,
            f"versions {result.from_version + 1} to {result.to_version} copied from location {source.name} to "
            f"{target.name}: {result.files} objects, {result.bytes} bytes, each checked against its SHA-256 by the "
            "target" + (f"; {result.reused} already there from an interrupted copy" if result.reused else ""),
            tuple(a.key for a in agents), None, result.to_version,
        )  # fmt: skip
        _journal(archive, summary.uuid, [event], agents, {"location": target.name, "source": source.name})
    archive.catalog.record_copy(summary.uuid, target.name, result.to_version, datetime.now(UTC))
    return result


def copy_to_replicas(archive: Archive, summary: PackageSummary, operator: str) -> list[str]:
    """After a commit: copy the new version into every other replica location. Returns warnings, one per failure."""
    warnings: list[str] = []
    primary = archive.primary
    for spec in archive.replica_specs():
        try:
            _reachable_quickly(archive, spec)
            copy_package(archive, summary, primary, archive.location(spec.name), operator)
        except StrongroomError as err:
            warnings.append(
                f"package {summary.name} is stored in location {primary.name} but its copy in location {spec.name} "
                f"was not made: {err.message} Run `strongroom replicate` once {spec.name} is reachable."
            )
    return warnings


def _reachable_quickly(archive: Archive, spec: LocationSpec) -> None:
    """Before an ingest waits on a replica not opened yet: one quick look, with the short timeouts `location add`
    uses, so that a server that is down costs seconds, not the minute of full retries (replicate copies later)."""
    if spec.kind != "s3" or archive.is_open(spec.name):
        return
    quick = for_quick_check(spec)
    open_storage(quick.kind, quick.options)


def replicate(archive: Archive, operator: str, only: str | None = None,
              progress: StepProgress | None = None) -> ReplicateReport:  # fmt: skip
    """Backfill every replica location with what it lacks: packages (missing versions) and journal batches."""
    report = ReplicateReport()
    targets = replica_targets(archive, only)
    packages = archive.catalog.packages()
    total = len(packages) * len(targets)
    done = 0
    for spec in targets:
        try:
            target = archive.location(spec.name)
            target.ocfl.ensure_root()
        except StrongroomError as err:
            report.unreachable[spec.name] = err.message
            done += len(packages)
            continue
        held = {c.package: c.version for c in archive.catalog.copies(location=spec.name)}
        for summary in packages:
            done += 1
            if held.get(summary.uuid, 0) >= summary.version:
                report.up_to_date += 1
            else:
                try:
                    copied = copy_if_behind(archive, summary, target, operator)
                    if copied is None:
                        report.up_to_date += 1
                    else:
                        report.copies.append(copied)
                except StrongroomError as err:
                    report.failures.append(CopyFailure(summary.uuid, spec.name, err.message))
                    if stopped_answering(err):
                        report.unreachable[spec.name] = err.message
                        break
            if progress:
                progress("Copying", done, total)
        if spec.name not in report.unreachable:
            finish_location(archive, spec.name, report)
    mark_held_copies(archive, report)
    return report


def mark_held_copies(archive: Archive, report: ReplicateReport) -> None:
    """After copies were made: the hold markers (and S3 legal holds) of held packages in every location."""
    if report.copies and archive.catalog.held_packages():
        # A location added after a hold was placed has no marker (nor S3 legal hold) for the copies just made.
        from strongroom.records.holds import sync_markers

        for name, why in sync_markers(archive).unreachable.items():
            report.failures.append(CopyFailure("holds", name, f"could not mark the held packages: {why}"))


def copy_if_behind(archive: Archive, summary: PackageSummary, target: Location, operator: str) -> CopyResult | None:
    """Under the package lock: copy the package's latest version into `target` unless the catalog records it
    there already (copied since the caller looked, by a commit or by an earlier run), then None."""
    with archive.catalog.lock(f"package:{summary.uuid}"):
        current = archive.catalog.find_package(summary.uuid) or summary
        held = max((c.version for c in archive.catalog.copies(package=current.uuid, location=target.name)), default=0)
        if held >= current.version:
            return None
        return copy_package(archive, current, archive.primary, target, operator)


def replica_targets(archive: Archive, only: str | None) -> list[LocationSpec]:
    """The replica locations to backfill: all of them, or `only` (refused if it is the primary or read-only)."""
    targets = [s for s in archive.replica_specs() if only is None or s.name == only]
    if only is not None and not targets:
        known = archive.spec(only)  # raises naming the known locations
        raise ConfigError(
            f"Location {known.name} is the primary or read-only; nothing is copied into it.",
            details=["Copies go into the other replica locations: strongroom location list"],
        )
    return targets


def finish_location(archive: Archive, name: str, report: ReplicateReport) -> None:
    """After a location's packages: copy the journal batches it lacks and remove its stale unfinished uploads."""
    try:
        target = archive.location(name)
        report.journal_batches += sync_journal(archive.primary, target, archive.settings.staging_dir)
        if supports(target.storage, PartialCleanup):
            # A writer killed mid-upload leaves an unfinished upload nothing else would ever remove.
            # Only under the OCFL root: a bucket may be shared with other tools and their uploads.
            report.stale_partials += target.storage.cleanup_partials(  # type: ignore[attr-defined]
                STALE_PARTIALS, prefix=f"{target.ocfl.prefix}/"
            )
    except StrongroomError as err:
        report.failures.append(CopyFailure("journal", name, err.message))


def stopped_answering(err: StrongroomError) -> bool:
    """Whether `err` says a location stopped answering: it would fail every package, so stop trying it."""
    text = err.message.lower()
    signs = ("cannot connect", "cannot reach", "did not answer", "did not accept", "kept breaking", "kept failing")
    return isinstance(err, StorageError) and any(sign in text for sign in signs)


# --- repair ------------------------------------------------------------------------------------


@dataclass
class RepairReport:
    package: str
    name: str
    good: list[str] = field(default_factory=list)  # locations whose copy verified
    healed: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)
    # ^ (location, source, restored keys, removed keys)
    still_bad: list[CopyCheck] = field(default_factory=list)  # checked again after healing, still wrong
    skipped: dict[str, str] = field(default_factory=dict)  # location -> why it was left alone
    unrecoverable: dict[str, tuple[str, ...]] = field(default_factory=dict)  # location -> keys intact nowhere
    checks: list[CopyCheck] = field(default_factory=list)  # the checks before repair

    @property
    def ok(self) -> bool:
        return not self.still_bad and not self.skipped


class NoGoodCopy(StrongroomError):
    """No location holds a copy of the package that verifies: nothing can be repaired."""

    def __init__(self, message: str, details: Sequence[str], checks: Sequence[CopyCheck]) -> None:
        super().__init__(message, details=list(details))
        self.checks = list(checks)


def repair_package(archive: Archive, summary: PackageSummary, operator: str) -> RepairReport:
    """Check the package in every location; heal each damaged or incomplete copy from one that verifies."""
    from strongroom.preservation.verify import check_copy, record_check

    report = RepairReport(summary.uuid, summary.name)
    agents = archive.system_agents(operator)
    oid = object_id(summary.uuid)
    with archive.catalog.lock(f"package:{summary.uuid}"):
        summary = archive.catalog.find_package(summary.uuid) or summary
        opened: list[Location] = []
        for spec in archive.settings.all_locations:
            try:
                opened.append(archive.location(spec.name))
            except StrongroomError as err:
                report.skipped[spec.name] = f"could not be opened: {err.message}"
        for location in opened:
            check = check_copy(archive, summary, location)
            if check.unreachable is not None:
                report.skipped[location.name] = f"could not be read: {check.unreachable}"
                continue
            record_check(archive, check, agents)
            report.checks.append(check)
        good = [c for c in report.checks if c.good]
        report.good = [c.location for c in good]
        bad = [c for c in report.checks if not c.good and c.expected]
        if not bad:
            return report
        # The reference: a copy that verifies whole, else one whose inventory is intact and agrees with the
        # catalog (its files may be damaged: they are then taken from the other copies, file by file).
        usable = good or [c for c in report.checks if c.inventory_ok]
        if not usable:
            lines = [p.describe() for c in report.checks for p in c.problems]
            raise NoGoodCopy(
                f"No location holds a good copy of {summary.name} ({summary.uuid}); nothing was changed.",
                [*lines[:50], "Restore the package from a backup outside Strongroom, then run: strongroom verify"],
                report.checks,
            )
        reference = archive.location(usable[0].location)
        digest = usable[0].inventory_digest
        sources = [archive.location(c.location) for c in report.checks
                   if c.inventory_digest == digest and c.location != reference.name]  # fmt: skip
        # A damaged reference is healed first, so that the other copies can be healed from it.
        for check in sorted(bad, key=lambda c: c.location != reference.name):
            target = archive.location(check.location)
            if target.spec.role is LocationRole.READ_ONLY:
                report.skipped[target.name] = "read-only location: not written to; repair it by hand or remove it"
                continue
            scratch = archive.settings.staging_dir / f"repair-{uuid.uuid4().hex[:12]}"
            try:
                healed = heal_object(reference, sources, target, oid, scratch, workers=COPY_WORKERS)
            except StrongroomError as err:
                report.skipped[target.name] = f"repair failed: {err.message}"
                continue
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            froms = ", ".join(dict.fromkeys([reference.name, *(s.name for s in sources if s.name != target.name)]))
            event = Event(
                str(uuid.uuid4()), "replication", datetime.now(UTC),
                f'program="Strongroom"; action=repair; from={froms}; to={target.name}',
                Outcome.FAILURE if healed.unrecoverable else Outcome.SUCCESS,
                f"repaired the copy in location {target.name} from the good copies of each file in {froms}: "
                f"restored {', '.join(healed.restored[:50]) or 'nothing'}"
                + (f"; removed {', '.join(healed.removed[:50])}" if healed.removed else "")
                + (f"; no intact copy anywhere of {', '.join(healed.unrecoverable[:50])}" if healed.unrecoverable
                   else "")
                + (f"; kept stray {', '.join(healed.kept_under_hold[:50])}: the package is under a hold, which "
                   "forbids any delete" if healed.kept_under_hold else ""),
                tuple(a.key for a in agents), None, summary.version,
            )  # fmt: skip
            _journal(archive, summary.uuid, [event], agents, {"location": target.name, "source": froms})
            if healed.unrecoverable:
                report.unrecoverable[target.name] = healed.unrecoverable
            after = check_copy(archive, summary, target)
            record_check(archive, after, agents)
            if after.good:
                archive.catalog.record_copy(summary.uuid, target.name, summary.version, datetime.now(UTC))
                report.healed.append((target.name, froms, healed.restored, healed.removed))
            else:
                report.still_bad.append(after)
    return report


def _journal(archive: Archive, package: str, events: list[Event], agents: tuple[Agent, ...],
             data: dict[str, str]) -> None:  # fmt: skip
    archive.journal.append([JournalRecord(package, e, agents, data) for e in events])
    archive.catalog.record_events(package, events, agents)


# --- adding, listing and removing locations -----------------------------------------------------


@dataclass(frozen=True)
class LocationStatus:
    spec: LocationSpec
    primary: bool
    usage: LocationUsage | None  # None: the catalog records no copies there


def location_statuses(archive: Archive) -> list[LocationStatus]:
    usage = {u.location: u for u in archive.catalog.location_usage()}
    return [
        LocationStatus(spec, index == 0, usage.get(spec.name))
        for index, spec in enumerate(archive.settings.all_locations)
    ]


def add_location(archive: Archive, spec: LocationSpec, stored_options: dict[str, object]) -> AddedLocation:
    """Check that the new location works (reach, credentials, bucket, writing), prepare its OCFL root, record it."""
    check_name(spec.name)
    if any(s.name == spec.name for s in archive.settings.all_locations):
        raise ConfigError(f"There is already a location named {spec.name!r}.", details=["Choose another name."])
    for existing in archive.settings.all_locations:
        if existing.kind == spec.kind and _same_place(existing, spec):
            raise ConfigError(
                f"Location {existing.name} already keeps its copy at {spec.where()}.",
                details=["A second location must be a different folder, bucket or prefix."],
            )
    location = open_location(spec, primary=False, workers=COPY_WORKERS)
    _probe(location, spec)
    if spec.role is LocationRole.READ_ONLY:
        try:
            location.storage.stat(f"{location.ocfl.prefix}/0=ocfl_1.1")
        except NotFound:
            raise ConfigError(
                f"{spec.where()} holds no Strongroom storage (no OCFL storage root), and a read-only location "
                "receives nothing new, so it would stay empty.",
                details=["Name a folder or bucket that holds a copy of this archive, or add it without --read-only."],
            ) from None
    location.ocfl.ensure_root()  # on a root that exists already, this only checks it
    add_to_config(archive.settings.home / "strongroom.toml", spec, stored_options)
    return AddedLocation(location, _record_copies_found(archive, location))


@dataclass(frozen=True)
class AddedLocation:
    location: Location
    copies_found: int  # packages of this archive the location already held


def _record_copies_found(archive: Archive, location: Location) -> int:
    """A location that already holds packages (a disk re-attached, a copy restored from tape): the catalog
    learns which versions are there, so audits check them from the start. Returns how many were found."""
    from strongroom.commit import package_of

    known = archive.catalog.package_uuids()
    found = 0
    for oid in location.ocfl.object_ids():
        package = package_of(oid)
        if package in known:
            try:
                inventory = location.ocfl.inventory(oid)
            except StrongroomError:
                continue  # a damaged copy: the first audit of the location reports it
            archive.catalog.record_copy(package, location.name, inventory.head, inventory.version().created)
            found += 1
    return found


def _same_place(a: LocationSpec, b: LocationSpec) -> bool:
    if a.kind == "filesystem":
        # Resolved, and nested either way: a symbolic link or `..` must not make one folder two locations.
        first, second = (Path(str(x.options.get("path"))).expanduser().resolve() for x in (a, b))
        return first == second or first.is_relative_to(second) or second.is_relative_to(first)
    keys = ("bucket", "prefix", "endpoint_url")
    return all(str(a.options.get(k) or "").strip("/") == str(b.options.get(k) or "").strip("/") for k in keys)


def _probe(location: Location, spec: LocationSpec) -> None:
    check = getattr(location.storage, "check_location", None)
    if callable(check):
        check(write_probe=spec.role is LocationRole.REPLICA)
    if spec.object_lock:
        enabled = getattr(location.storage, "object_lock_enabled", None)
        if not callable(enabled) or not enabled():
            raise ConfigError(
                f"--object-lock was given, but S3 Object Lock is not enabled on the bucket of location {spec.name}.",
                details=["Object Lock can only be turned on when a bucket is created; create one with it enabled, "
                         "or add the location without --object-lock."],
            )  # fmt: skip


def remove_location(archive: Archive, name: str) -> list[str]:
    """Forget a location (its bytes stay where they are), unless it holds the only good copy of anything."""
    specs = archive.settings.all_locations
    spec = archive.spec(name)
    if len(specs) == 1:
        raise StrongroomError(
            f"Location {name} is the archive's only location and cannot be removed.",
            details=["Add another location and `strongroom replicate` first."],
        )
    others = {s.name for s in specs if s.name != name}
    good_elsewhere: dict[str, int] = {}
    for copy in archive.catalog.copies():
        if copy.location in others and copy.outcome is not Outcome.FAILURE:
            good_elsewhere[copy.package] = max(good_elsewhere.get(copy.package, 0), copy.version)
    only_here = [p for p in archive.catalog.packages() if good_elsewhere.get(p.uuid, 0) < p.version]
    if only_here:
        names = ", ".join(f"{p.name} ({p.uuid})" for p in only_here[:10])
        raise StrongroomError(
            f"Location {name} cannot be removed: it holds the only good copy of {len(only_here)} package(s) "
            f"at their latest version: {names}" + (" ..." if len(only_here) > 10 else "") + ". Nothing was changed.",
            details=["Copy them elsewhere first: strongroom replicate", "then check the copies: strongroom audit"],
        )
    notes = []
    if spec.name == specs[0].name:
        # The next location becomes the primary: it must hold every package at its latest version itself.
        held_next = {c.package: c for c in archive.catalog.copies(location=specs[1].name)}
        lacking = [
            p for p in archive.catalog.packages()
            if p.uuid not in held_next or held_next[p.uuid].version < p.version
            or held_next[p.uuid].outcome is Outcome.FAILURE
        ]  # fmt: skip
        if lacking:
            raise StrongroomError(
                f"Location {name} is the primary; {specs[1].name}, which would take its place, lacks a good copy of "
                f"{len(lacking)} package(s) at their latest version (first: {lacking[0].name}). Nothing was changed.",
                details=[f"strongroom replicate --location {specs[1].name}", "then: strongroom audit"],
            )
    if spec.name == specs[0].name and specs[1].role is not LocationRole.REPLICA:
        raise StrongroomError(
            f"Location {name} is the primary, and the next location, {specs[1].name}, is read-only: it cannot become "
            "the primary. Nothing was changed.",
            details=[f"Make {specs[1].name} a replica (role = \"replica\" in strongroom.toml) or move a replica "
                     "location's table up to second place first."],
        )  # fmt: skip
    if spec.name == specs[0].name:
        # The next location becomes the primary: it needs the whole journal, which is appended to there from now on.
        successor = archive.location(specs[1].name)
        copied = sync_journal(archive.primary, successor, archive.settings.staging_dir)
        notes.append(f"location {successor.name} is now the primary ({copied} journal batches copied to it)")
    remove_from_config(archive.settings.home / "strongroom.toml", name)
    forgotten = archive.catalog.forget_location(name)
    notes.append(f"{forgotten} copies in {name} are no longer tracked; nothing was deleted from {spec.where()}")
    return notes
