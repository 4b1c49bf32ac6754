"""Catalog from storage: restore one package, rebuild everything, upgrade the 0.1 layout.

Storage (OCFL objects) plus the journal are the source of truth. A package's record
is its head version's METS (descriptions, files, events up to that version) plus
the journal's entries about it (fixity checks, access changes and the rest since),
plus its OCFL inventory (the versions). Nothing else is needed, so nothing is lost.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from strongroom.commit import object_id, package_of
from strongroom.errors import DuplicateTransferError, StorageError, StrongroomError
from strongroom.indexing import PACKAGE_TARGET
from strongroom.manifests import sha256_file
from strongroom.metadata.mets import read_mets
from strongroom.model import (
    AccessRule,
    Agent,
    Event,
    FileRecord,
    FileRole,
    JournalAnchor,
    Outcome,
    PackageSummary,
    VersionRecord,
)
from strongroom.records.journal_data import access_rule_of
from strongroom.storage.journal import JournalEntry, JournalRecord
from strongroom.storage.ocfl import ObjectInventory, OcflUser

if TYPE_CHECKING:
    from strongroom.archive import Archive
    from strongroom.search.base import SearchRebuild

StepProgress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class RebuildReport:
    packages: int
    files: int
    indexed: int
    journal_entries: int
    unreachable: dict[str, str] = field(default_factory=dict)  # locations whose copies could not be listed


@dataclass(frozen=True)
class UpgradeReport:
    packages: int
    files: int
    journal_entries: int  # catalog-only events carried into the journal
    already_done: bool = False


def _payload_oxum(archive: Archive, inventory: ObjectInventory, number: int) -> tuple[int, int]:
    """(bytes, files) of a version's payload, from its bag-info.txt."""
    with archive.ocfl.open(inventory.object_id, "bag-info.txt", number) as handle:
        text = handle.read().decode("utf-8", "replace")
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Payload-Oxum":
            octets, _, count = value.strip().partition(".")
            if octets.isdigit() and count.isdigit():
                return int(octets), int(count)
    raise StorageError(
        f"bag-info.txt of version {number} of {inventory.object_id} has no readable Payload-Oxum.",
        details=["Run: strongroom verify --all"],
    )


@dataclass(frozen=True)
class Restored:
    files: int  # the package's files (its originals and derivatives, not METS)
    claimed: bool  # it holds the claim on its payload digest (False: an earlier package holds it)
    payload_sha256: str


def restore_package(archive: Archive, oid: str, journal: Sequence[JournalEntry] | None = None) -> int:
    """Catalog one package from its OCFL object and its journal entries; returns its file count."""
    return restore_one(archive, oid, journal).files


def restore_one(archive: Archive, oid: str, journal: Sequence[JournalEntry] | None = None, *,
                claim: bool = True) -> Restored:  # fmt: skip
    """Catalog one package (replacing what the catalog holds of it), claiming its payload if `claim` and no
    other package holds the claim already."""
    package = package_of(oid)
    inventory = archive.ocfl.inventory(oid)
    head = inventory.version()
    mets_logical = f"data/METS.{package}.xml"
    with tempfile.TemporaryDirectory(prefix="strongroom-mets-") as tmp:
        mets_path = Path(tmp) / "METS.xml"
        with archive.ocfl.open(oid, mets_logical, head.number) as source, mets_path.open("wb") as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
        document = read_mets(mets_path)
        mets_record = FileRecord(
            uuid=str(uuid.uuid5(uuid.UUID(package), "METS")), path=mets_logical.removeprefix("data/"),
            original_name=mets_logical.removeprefix("data/"), size=mets_path.stat().st_size,
            sha256=sha256_file(mets_path), role=FileRole.METADATA, identification=None,
        )  # fmt: skip
    entries = list(journal) if journal is not None else list(archive.journal.entries(package=package))
    events: dict[str, Event] = {e.uuid: e for e in document.events}
    agents: dict[str, Agent] = {a.key: a for a in document.agents}
    rules: list[AccessRule] = []
    for entry in entries:
        events[entry.event.uuid] = entry.event  # the journal's copy carries the version it concerns
        for agent in entry.agents:
            agents.setdefault(agent.key, agent)
        rule = access_rule_of(entry)
        if rule is not None:
            rules.append(rule)
    versions = _versions(archive, inventory, {f.sha256: f.size for f in (*document.files, mets_record)})
    first = inventory.versions[0]
    title = next((d.first("title") for d in document.descriptions if d.target == PACKAGE_TARGET), None)
    summary = PackageSummary(
        uuid=package, name=document.name, created=first.created, files=versions[-1].files, bytes=versions[-1].bytes,
        payload_sha256=document.payload_sha256, storage_key=inventory.root, title=title, indexed=False,
        version=head.number, updated=head.created,
    )  # fmt: skip
    files = [*document.files, mets_record]
    ordered_events = sorted(events.values(), key=lambda e: (e.datetime, e.type, e.uuid))
    catalog = archive.catalog
    primary = (archive.primary.name,)  # the package was read from there, so it is stored there whole
    first_summary = summary if len(versions) == 1 else _at_version(summary, versions[0])
    only = len(versions) == 1
    head_files, head_events, head_descriptions = (
        (files, ordered_events, document.descriptions) if only else ([], [], [])
    )
    claimed = claim
    try:
        catalog.add_package(first_summary, versions[0], head_files, head_events, agents.values(), head_descriptions,
                            claim_payload=claim, stored_in=primary)  # fmt: skip
    except DuplicateTransferError:
        # An earlier package holds the claim on these bytes: this one was kept with --allow-duplicate.
        claimed = False
        catalog.add_package(first_summary, versions[0], head_files, head_events, agents.values(), head_descriptions,
                            claim_payload=False, stored_in=primary)  # fmt: skip
    for version in versions[1:-1]:
        catalog.add_version(_at_version(summary, version), version, [], [], [], [], stored_in=primary)
    if not only:
        catalog.add_version(summary, versions[-1], files, ordered_events, agents.values(), document.descriptions,
                            stored_in=primary)  # fmt: skip
    latest: dict[str | None, AccessRule] = {}
    for rule in rules:
        latest[rule.path] = rule
    for rule in latest.values():
        catalog.set_access(rule)
    return Restored(len(document.files), claimed, document.payload_sha256)


def _at_version(summary: PackageSummary, version: VersionRecord) -> PackageSummary:
    return PackageSummary(
        uuid=summary.uuid, name=summary.name, created=summary.created, files=version.files, bytes=version.bytes,
        payload_sha256=summary.payload_sha256, storage_key=summary.storage_key, title=summary.title, indexed=False,
        version=version.number, updated=version.created,
    )  # fmt: skip


def _versions(archive: Archive, inventory: ObjectInventory, known_sizes: dict[str, int]) -> list[VersionRecord]:
    """Version records from the inventory; sizes come from the METS where it has them (`known_sizes`,
    by digest) and from storage only for the rest (tag files, earlier METS), one stat each."""
    records: list[VersionRecord] = []
    for version in inventory.versions:
        octets, count = _payload_oxum(archive, inventory, version.number)
        prefix = f"v{version.number}/"
        new = [(d, p) for d, paths in inventory.manifest.items() for p in paths if p.startswith(prefix)]
        new_bytes = sum(
            known_sizes[d] if d in known_sizes else archive.storage.stat(inventory.root + p).size for d, p in new
        )
        new_paths = [p for _, p in new]
        records.append(
            VersionRecord(
                package=package_of(inventory.object_id), number=version.number, created=version.created,
                message=version.message, files=count, bytes=octets, new_files=len(new_paths), new_bytes=new_bytes,
                operator=version.user.name if version.user else None,
            )
        )  # fmt: skip
    return records


@dataclass(frozen=True)
class RebuildSource:
    """What a rebuild reads before it clears the catalog: the whole journal, and the objects to restore."""

    entries: list[JournalEntry]  # in journal order
    object_ids: list[str]  # oldest first (so that of packages stored twice the first claims the payload again)
    files: dict[str, int]  # object id -> files in its head version (how much restoring it reads, roughly)

    def by_package(self) -> dict[str, list[JournalEntry]]:
        grouped: dict[str, list[JournalEntry]] = {}
        for entry in self.entries:
            grouped.setdefault(entry.package, []).append(entry)
        return grouped


def read_rebuild_source(archive: Archive) -> RebuildSource:
    """Read the journal and list the stored objects; a disposed-of package is never restored, even from an
    object a purge left behind."""
    archive.require_current_layout()
    from strongroom.records.replay import deleted_packages

    every = list(archive.journal.entries())
    deleted = deleted_packages(every)
    inventories = {oid: archive.ocfl.inventory(oid) for oid in archive.ocfl.object_ids()
                   if package_of(oid) not in deleted}  # fmt: skip
    object_ids = sorted(inventories, key=lambda oid: inventories[oid].versions[0].created)
    return RebuildSource(every, object_ids, {oid: len(inventories[oid].version().state) for oid in object_ids})


def finish_rebuild(archive: Archive, entries: Sequence[JournalEntry], packages: int, files: int,
                   progress: StepProgress | None = None) -> RebuildReport:  # fmt: skip
    """What a rebuild does once every package is restored: the journal anchor, the other locations' copies and
    checks, the records tables, and the new search index swapped in."""
    from strongroom.records.replay import restore_records

    if entries:
        # The new catalog's copy of the journal's head starts from the journal as it is now.
        last = entries[-1]
        archive.catalog.advance_journal_anchor(JournalAnchor(last.sequence, last.digest))
    by_package: dict[str, list[JournalEntry]] = {}
    for entry in entries:
        by_package.setdefault(entry.package, []).append(entry)
    unreachable = _restore_copies(archive, by_package)
    records = restore_records(archive, entries)
    unreachable = {**records.unreachable, **unreachable}
    indexed = _rebuild_index(archive, progress)
    return RebuildReport(packages, files, indexed, len(entries), unreachable)


def rebuild(archive: Archive, progress: StepProgress | None = None) -> RebuildReport:
    """Recreate catalog and index from storage and the journal alone (the rebuild job does it in chunks)."""
    source = read_rebuild_source(archive)
    by_package = source.by_package()
    archive.catalog.clear()
    files = 0
    for done, oid in enumerate(source.object_ids, start=1):
        files += restore_package(archive, oid, by_package.get(package_of(oid), []))
        if progress:
            progress("Rebuilding", done, len(source.object_ids))
    return finish_rebuild(archive, source.entries, len(source.object_ids), files, progress)


def _rebuild_index(archive: Archive, progress: StepProgress | None) -> int:
    """Fill a new search index beside the live one and swap it in: searches keep answering meanwhile.

    If the new index cannot be finished, the live one stays and every package is marked for catch-up,
    which then brings the live index up to date package by package. A package stored, given a new
    version or opened or closed while the new index was filling is indexed again once it is live: the
    new index holds what the package was when it was read, and a record closed since must not show.
    """
    packages = sorted(archive.catalog.package_uuids())
    for package in packages:
        archive.catalog.set_indexed(package, False)
    target = archive.search_index.start_rebuild()
    read_as: dict[str, _IndexedState] = {}
    try:
        for done, package in enumerate(packages, start=1):
            summary = archive.catalog.find_package(package)
            if summary is not None:
                read_as[package] = _indexed_state(archive, summary)  # before reading it: a later change shows
                target.index(archive.search_documents_of(summary))
            if progress:
                progress("Indexing", done, len(packages))
        target.finish()
    except (StrongroomError, OSError):
        _abandon(target)
        return archive.catch_up_index()
    except BaseException:
        _abandon(target)
        raise
    for package in packages:
        archive.catalog.set_indexed(package, True)
    changed = 0
    for package in archive.catalog.package_uuids():
        summary = archive.catalog.find_package(package)
        if summary is not None and read_as.get(package) != _indexed_state(archive, summary):
            archive.catalog.set_indexed(package, False)
            changed += package in read_as
    return len(read_as) - changed + archive.catch_up_index()


# What a package's search documents are made from and can change without a rebuild: its version
# (descriptions, files) and its access rules.
_IndexedState = tuple[int, frozenset[AccessRule]]


def _indexed_state(archive: Archive, summary: PackageSummary) -> _IndexedState:
    return summary.version, frozenset(archive.catalog.access_rules(summary.uuid))


def _abandon(target: SearchRebuild) -> None:
    """Drop an unfinished new index; failing to (the server gone) must not hide why the rebuild stopped."""
    with contextlib.suppress(StrongroomError, OSError):
        target.abandon()


def _restore_copies(archive: Archive, by_package: dict[str, list[JournalEntry]]) -> dict[str, str]:
    """Which other locations hold which version of each package (read from them), and each copy's last check
    (from the journal's fixity-check events, which name their location). Returns locations not reachable."""
    known = archive.catalog.package_uuids()
    unreachable: dict[str, str] = {}
    for spec in archive.settings.all_locations[1:]:
        try:
            location = archive.location(spec.name)
            held = [(package_of(oid), location.ocfl.inventory(oid)) for oid in location.ocfl.object_ids()]
        except StrongroomError as err:
            unreachable[spec.name] = err.message
            continue
        for package, inventory in held:
            if package in known:
                archive.catalog.record_copy(package, spec.name, inventory.head, inventory.version().created)
    names = {s.name for s in archive.settings.all_locations}
    for package, entries in by_package.items():
        checks = [e for e in entries if e.event.type == "fixity check" and e.event.file_uuid is None]
        latest: dict[str, JournalEntry] = {}
        for entry in checks:  # in journal order: the last one wins
            place = str(entry.data.get("location") or archive.primary.name)
            if place in names:
                latest[place] = entry
        for place, entry in latest.items():
            failed = entry.event.outcome is Outcome.FAILURE
            archive.catalog.record_copy_check(package, place, entry.event.datetime, entry.event.outcome, int(failed))
    return unreachable


def upgrade(archive: Archive, operator: str, progress: StepProgress | None = None) -> UpgradeReport:
    """Convert storage from the 0.1 layout (a bag and a marker per package) to OCFL objects.

    Each package becomes version 1 of an OCFL object with the same bytes (each checked
    against its bag manifests as it is stored); events the 0.1 catalog held that are
    not in the package's METS (fixity checks) are carried into the journal; then the
    old keys are removed and the catalog rebuilt. Running it again after an
    interruption picks up where it stopped.
    """
    from strongroom.storage.legacy import LegacyPackages, uses_legacy_layout

    if not uses_legacy_layout(archive.storage):
        return UpgradeReport(0, 0, 0, already_done=True)
    archive.ocfl.ensure_root()
    legacy = LegacyPackages(archive.storage)
    markers = list(legacy.markers())
    carried = 0
    files = 0
    for done, marker in enumerate(markers, start=1):
        oid = object_id(marker.uuid)
        if not archive.ocfl.exists(oid):
            archive.ocfl.sweep(oid)
            with tempfile.TemporaryDirectory(prefix="strongroom-upgrade-") as tmp:
                state, sizes, sources = legacy.fetch_bag(marker, Path(tmp))
                archive.ocfl.write_version(
                    oid, state, sources, sizes=sizes, message="Converted from the Strongroom 0.1 layout",
                    user=OcflUser(operator), created=marker.created_at,
                )  # fmt: skip
            carried += _carry_catalog_events(archive, marker.uuid)
        files += marker.files
        legacy.remove(marker)
        if progress:
            progress("Upgrading", done, len(markers))
    rebuild(archive)
    return UpgradeReport(len(markers), files, carried)


def _carry_catalog_events(archive: Archive, package: str) -> int:
    """Journal the events only the old catalog knew (fixity checks), so a rebuild keeps them."""
    try:
        recorded = archive.catalog.events(package)
    except StrongroomError:  # an old catalog that cannot answer has nothing to carry
        return 0
    in_mets = {e.uuid for e in _mets_events(archive, package)}
    extra = [e for e in recorded if e.uuid not in in_mets]
    if not extra:
        return 0
    agents = {a.key: a for a in archive.catalog.agents()}
    records = [
        JournalRecord(package, _with_version(e), tuple(agents[k] for k in e.agents if k in agents)) for e in extra
    ]
    archive.journal.append(records)
    return len(records)


def _with_version(event: Event) -> Event:
    return event if event.version is not None else Event(
        event.uuid, event.type, event.datetime, event.detail, event.outcome, event.outcome_detail, event.agents,
        event.file_uuid, 1,
    )  # fmt: skip


def _mets_events(archive: Archive, package: str) -> list[Event]:
    oid = object_id(package)
    with tempfile.TemporaryDirectory(prefix="strongroom-mets-") as tmp:
        path = Path(tmp) / "METS.xml"
        with archive.ocfl.open(oid, f"data/METS.{package}.xml") as source, path.open("wb") as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
        return list(read_mets(path).events)
