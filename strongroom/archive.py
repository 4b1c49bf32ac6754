"""Archive: the front door. One home folder, with its catalog, storage, journal and search index wired together.

Every CLI command (and later every API route) is a few lines over a method here.
Storage (OCFL objects) plus the journal are the source of truth; the catalog and
the index are derived from them and can always be rebuilt.

Writes go one way: a stage builds a VersionBuild; `commit` stores it as an OCFL
version, records it in the catalog and indexes it. Recovery of interrupted work
(`recover`) and index catch-up are explicit steps that write commands run first;
reading never writes.
"""

from __future__ import annotations

import getpass
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, overload

from strongroom import __version__
from strongroom.catalog import open_catalog
from strongroom.catalog.base import Catalog
from strongroom.commit import CommitResult, VersionBuild, object_id
from strongroom.config import CONFIG_NAME, Settings, load_settings, write_default_config
from strongroom.copies import AddedLocation, LocationStatus, RepairReport, ReplicateReport
from strongroom.errors import CatalogError, DuplicateTransferError, NotFound, SearchError, StorageError, StrongroomError
from strongroom.formats import IdentifierDescription
from strongroom.formats.risk import RiskRegistry, load_registry
from strongroom.indexing import StoredText, search_documents
from strongroom.ingest.staging import staging_area, stale_ingests
from strongroom.locations import Location, LocationRole, LocationSpec, open_location
from strongroom.maintenance import RebuildReport, UpgradeReport
from strongroom.manifests import validate_bag
from strongroom.model import (
    AccessRule,
    AccessStatus,
    Agent,
    AgentType,
    DublinCore,
    Event,
    FileRecord,
    JournalAnchor,
    PackageSummary,
    VersionRecord,
)
from strongroom.preservation.audit import AuditReport
from strongroom.preservation.fixity import FixityMode
from strongroom.preservation.verify import VerifyReport, verify_packages
from strongroom.records.access import AccessChange
from strongroom.reports.profile import GroupBy, Profile, build_profile
from strongroom.search import open_search
from strongroom.search.base import SearchDocument, SearchIndex, SearchQuery, SearchResults
from strongroom.storage import open_storage
from strongroom.storage.base import StorageBackend
from strongroom.storage.journal import Journal, JournalEntry, JournalRecord, JournalReport
from strongroom.storage.legacy import uses_legacy_layout
from strongroom.storage.ocfl import OcflStore, OcflUser

if TYPE_CHECKING:
    from strongroom.formats.risk import RiskLevel
    from strongroom.ingest.pipeline import IngestContext, IngestOptions, IngestReport
    from strongroom.preservation.actions import Purpose
    from strongroom.preservation.migrate_report import MigrationFailure, MigrationReport
    from strongroom.records.closure import ClosureTerms
    from strongroom.records.viewing import Viewed
    from strongroom.search.base import Role

StepProgress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class PackageDetails:
    summary: PackageSummary
    files: list[FileRecord]
    events: list[Event]
    descriptions: list[DublinCore]
    versions: list[VersionRecord]
    access: list[AccessRule]


class AnchoredJournal(Journal):
    """The archive's journal: appends under the catalog's lock, and the catalog keeps a copy of its head."""

    def __init__(self, storage: StorageBackend, catalog: Catalog) -> None:
        super().__init__(storage, lock=lambda: catalog.lock("journal"), head_hint=catalog.journal_anchor)
        self._catalog = catalog

    def append(self, records: Sequence[JournalRecord]) -> list[JournalEntry]:
        entries = super().append(records)
        if entries:
            self._catalog.advance_journal_anchor(JournalAnchor(entries[-1].sequence, entries[-1].digest))
        return entries


def current_operator() -> str:
    try:
        return os.environ.get("STRONGROOM_OPERATOR") or getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


class Archive:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        first = settings.all_locations[0]
        self.storage: StorageBackend = open_storage(first.kind, first.options)
        self.catalog: Catalog = open_catalog(settings.catalog_url)
        # Storing is bound by fsync latency, not CPU: more threads than cores keep the disk busy.
        self.ocfl = OcflStore(self.storage, workers=self._store_workers())
        self.primary = Location(first, self.storage, self.ocfl, primary=True)
        self.journal = AnchoredJournal(self.storage, self.catalog)
        self._search: SearchIndex | None = None
        self._risks: RiskRegistry | None = None
        self._locations: dict[str, Location] = {first.name: self.primary}

    def _store_workers(self) -> int:
        return max(8, self.settings.worker_count * 8)

    # --- storage locations -----------------------------------------------------------------

    def spec(self, name: str) -> LocationSpec:
        for spec in self.settings.all_locations:
            if spec.name == name:
                return spec
        known = ", ".join(s.name for s in self.settings.all_locations)
        raise NotFound(f"There is no location named {name!r}. This archive's locations: {known}.",
                       details=["See them with: strongroom location list"])  # fmt: skip

    def location(self, name: str) -> Location:
        """An opened location (opened on first use, so an unreachable replica never stops reading)."""
        if name not in self._locations:
            spec = self.spec(name)
            try:
                self._locations[name] = open_location(spec, primary=False, workers=self._store_workers())
            except StrongroomError as err:
                raise StorageError(f"Location {name} ({spec.where()}) cannot be opened: {err.message}",
                                   details=err.details) from err  # fmt: skip
        return self._locations[name]

    def is_open(self, name: str) -> bool:
        """Whether the location was opened already by this Archive."""
        return name in self._locations

    def replica_specs(self) -> list[LocationSpec]:
        """The locations besides the primary that receive every new version."""
        return [s for s in self.settings.all_locations[1:] if s.role is LocationRole.REPLICA]

    # --- lifecycle -------------------------------------------------------------------------

    @classmethod
    def create(cls, home: Path, organisation: str, organisation_id: str) -> Path:
        home.mkdir(parents=True, exist_ok=True)
        if (home / CONFIG_NAME).exists():
            raise StrongroomError(f"{home} already holds a Strongroom archive ({CONFIG_NAME} exists).")
        config = write_default_config(home, organisation, organisation_id)
        with cls.open(home) as archive:
            archive.ocfl.ensure_root()
        return config

    @classmethod
    def open(cls, home: Path) -> Archive:
        return cls(load_settings(home))

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.catalog.close()
        if self._search is not None:
            self._search.close()

    @property
    def search_index(self) -> SearchIndex:
        if self._search is None:
            self._search = open_search(self.settings.search_kind, self.settings.search_options)
        return self._search

    def require_current_layout(self) -> None:
        """Refuse to work on storage still in the 0.1 layout, saying how to convert it."""
        if uses_legacy_layout(self.storage):
            raise StorageError(
                "This archive's storage is still in the Strongroom 0.1 layout (one bag per package, no versions).",
                details=["Convert it once with: strongroom upgrade", "Nothing is changed until you do."],
            )

    def identifier_description(self) -> IdentifierDescription:
        from strongroom.formats import describe_identifier

        return describe_identifier(self.settings.identifier_spec)

    def system_agents(self, operator: str) -> tuple[Agent, ...]:
        return (
            Agent("preservation system", f"Strongroom-{__version__}", f"Strongroom {__version__}", AgentType.SOFTWARE),
            Agent("local user", operator, operator, AgentType.PERSON),
        )

    def ingest_context(self) -> IngestContext:
        from strongroom.fulltext.extract import TextSettings
        from strongroom.ingest.checks import CheckSettings
        from strongroom.ingest.pipeline import IngestContext

        s = self.settings
        return IngestContext(
            organisation_name=s.organisation_name, organisation_id=s.organisation_id, worker_count=s.worker_count,
            parallel_from_files=s.parallel_from_files, identifier_spec=s.identifier_spec,
            identifier=self.identifier_description(),
            keep_system_files=s.keep_system_files,
            checks=CheckSettings(
                virus_scan=s.virus_scan, clamd_socket=s.clamd_socket, infected=s.infected,
                quarantine_dir=s.home / "quarantine", characterise=s.characterise,
            ),
            unpack_archives=s.unpack_archives, unpack_disk_images=s.unpack_disk_images,
            text=TextSettings(enabled=s.extract_text, time_limit=s.text_time_limit, size_limit=s.text_size_limit),
        )  # fmt: skip

    # --- writing: ingest and the one commit path --------------------------------------------

    def ingest(self, source: Path, options: IngestOptions, progress: StepProgress | None = None) -> IngestReport:
        """Check a transfer, build version 1 of a new package and commit it.

        With [preservation] migrate_on_ingest, its at-risk originals are then migrated at once: version 1
        holds the originals as received, version 2 their derivatives ("normalization" events); the report
        says so in its warnings, and `version` is the package's version by then.
        """
        from strongroom.ingest.finalize import store_build
        from strongroom.ingest.pipeline import build_package
        from strongroom.records import retention

        self.prepare_to_write()
        if options.retention is not None:
            retention.require_schedule(self.catalog, options.retention)  # an unknown code stops it before any work
        package = str(uuid.uuid4())
        # The same phases as the "ingest" job (ingest/phases.py), run here: plan, chunks on a local pool, finalize.
        with staging_area(self.settings.staging_dir, package) as staging:
            built = build_package(self.ingest_context(), source, options, package, staging.folder, progress)
            return store_build(self, built, options, progress)

    def commit(self, build: VersionBuild, progress: StepProgress | None = None) -> CommitResult:
        """Store a built version (OCFL), record it in the catalog, then index it.

        The package lock keeps two writers of one package apart; the version appears in
        storage only whole (its root inventory is written last), and in the catalog only
        once stored. A crash between the two is repaired by `recover()` from storage.
        """
        oid = object_id(build.package)
        with self.catalog.lock(f"package:{build.package}"):
            from strongroom.records.holds import ensure_not_held

            # A held package is not overwritten by any path: update, migrate and re-ingest all come here.
            ensure_not_held(self, build.package, "store a new version of")
            new = build.base_version == 0
            if new and build.claim_payload:
                duplicates = self.catalog.with_payload(build.summary.payload_sha256)
                if duplicates:
                    raise _duplicate(duplicates[0])
            head = self.ocfl.inventory(oid).head if self.ocfl.exists(oid) else 0
            if head != build.base_version:
                raise StrongroomError(
                    f"Package {build.package} changed while this version was being prepared (it is now at "
                    f"version {head}, not {build.base_version}). Nothing was stored.",
                    details=["Run the command again."],
                )
            markers = self._commit_markers()
            markers.mkdir(exist_ok=True)
            marker = markers / build.package
            marker.touch()
            total = len(build.sources)

            def stored(n: int, counter: list[int] = [0]) -> None:  # noqa: B006 - a per-call counter
                counter[0] += n
                if progress:
                    progress("Storing", counter[0], total)

            try:
                written = self.ocfl.write_version(
                    oid, build.state, build.sources, sizes=build.sizes, message=build.message,
                    user=OcflUser(build.operator), created=build.summary.updated or datetime.now(UTC),
                    progress=stored,
                )  # fmt: skip
            except BaseException:
                # Whatever reached storage is not part of any version: remove it now rather than later. If storage
                # cannot be reached for that either, the marker stays and the next write command's recovery does it;
                # the error the user sees is the one that stopped the storing.
                try:
                    self.ocfl.sweep(oid)
                    if (self.ocfl.inventory(oid).head if self.ocfl.exists(oid) else 0) == build.base_version:
                        marker.unlink(missing_ok=True)  # nothing new is stored: nothing to reconcile
                except StrongroomError:
                    pass
                raise
            version = VersionRecord(
                package=build.package, number=written.number, created=build.summary.updated or datetime.now(UTC),
                message=build.message, files=build.summary.files, bytes=build.summary.bytes,
                new_files=written.new_files, new_bytes=written.new_bytes, operator=build.operator,
            )  # fmt: skip
            summary = replace(build.summary, storage_key=written.root, version=written.number, indexed=False)
            try:
                self._catalog_version(build, summary, version, new)
            except CatalogError as exc:
                raise CatalogError(
                    f"{exc.message} Version {version.number} of package {build.package} is stored whole; it will "
                    "be catalogued by the next command that writes (or by: strongroom rebuild).",
                    details=exc.details,
                ) from exc
            marker.unlink(missing_ok=True)
            copy_warnings = self._copy_to_replicas(summary, build.operator, progress)
        indexed, error = self.index_package(build.package)
        return CommitResult(replace(summary, indexed=indexed), version, indexed, error, tuple(copy_warnings))

    def _copy_to_replicas(self, summary: PackageSummary, operator: str, progress: StepProgress | None) -> list[str]:
        from strongroom.copies import copy_to_replicas

        if not self.replica_specs():
            return []
        if progress:
            progress("Copying to other locations", 0, None)
        return copy_to_replicas(self, summary, operator)

    def _catalog_version(self, build: VersionBuild, summary: PackageSummary, version: VersionRecord, new: bool) -> None:
        oid = object_id(build.package)
        if new:
            try:
                self.catalog.add_package(
                    summary, version, build.files(), build.events(), build.agents, build.descriptions,
                    claim_payload=build.claim_payload, stored_in=(self.primary.name,),
                )  # fmt: skip
            except DuplicateTransferError:
                # Another process claimed the same payload first: this copy is withdrawn whole.
                self.ocfl.delete_object(oid)
                (self._commit_markers() / build.package).unlink(missing_ok=True)
                raise
        else:
            self.catalog.add_version(
                summary, version, build.files(), build.events(), build.agents, build.descriptions,
                stored_in=(self.primary.name,),
            )  # fmt: skip

    # --- recovery and index catch-up (explicit; run by write commands) ----------------------

    def prepare_to_write(self) -> list[str]:
        """What every write command runs first: refuse the old layout, recover, catch the index up."""
        self.require_current_layout()
        self.ocfl.ensure_root()
        notes = self.recover()
        self.catch_up_index()
        return notes

    def recover(self) -> list[str]:
        """Finish or undo what interrupted commands left: unfinished commits and staging folders."""
        notes: list[str] = []
        markers = self._commit_markers()
        pending = sorted(p.name for p in markers.iterdir()) if markers.is_dir() else []
        for package in pending:
            note = self._reconcile(package, markers / package)
            if note:
                notes.append(note)
        for name in stale_ingests(self.settings.staging_dir):
            note = self._reconcile(name.split(".", 1)[0], None)
            if note:
                notes.append(note)
        return notes

    def _commit_markers(self) -> Path:
        # One empty file per commit in flight, named after its package: written before storing,
        # removed once catalogued. One left behind means the commit stopped in between.
        return self.settings.home / "commits"

    def _reconcile(self, package: str, marker: Path | None) -> str | None:
        """Make catalog and storage agree about one package whose last write was interrupted."""
        from strongroom.maintenance import restore_package

        oid = object_id(package)
        with self.catalog.lock(f"package:{package}", wait=False) as held:
            if not held:
                return None  # a live writer of this package owns it
            removed = self.ocfl.sweep(oid)
            note = f"{package}: interrupted work cleaned up ({removed} partial objects removed)" if removed else None
            if self.ocfl.exists(oid):
                head = self.ocfl.inventory(oid).head
                known = self.catalog.find_package(package)
                if known is None or known.version < head:
                    restore_package(self, oid)
                    note = f"{package}: version {head} was stored whole before an interruption; now catalogued"
            if marker is not None:
                marker.unlink(missing_ok=True)
            return note

    def catch_up_index(self) -> int:
        """Index packages whose indexing failed or was interrupted, or that a new, empty index lacks."""
        packages = self.catalog.package_uuids()
        if packages and self.search_index.is_empty():
            # The index file was replaced (deleted, or recreated by a schema upgrade): refill it.
            for package in packages:
                self.catalog.set_indexed(package, False)
        done = 0
        for package in self.catalog.unindexed():
            if self.index_package(package)[0]:
                done += 1
        from strongroom.records.disposal import purge_unpurged_stubs

        # A disposal interrupted between the catalog and the index: its search documents go now.
        return done + purge_unpurged_stubs(self)

    def index_package(self, package: str) -> tuple[bool, str | None]:
        """Index a catalogued package. Failure leaves it catalogued and marked for catch-up."""
        summary = self.catalog.find_package(package)
        if summary is None:
            return False, None
        try:
            self.search_index.delete_package(package)
            self.search_index.index(self.search_documents_of(summary))
        except (StrongroomError, OSError) as exc:
            # The package is stored and catalogued; only the index lags, and catches up later.
            self.catalog.set_indexed(package, False)
            return False, f"search index not updated for {package}: {exc}"
        self.catalog.set_indexed(package, True)
        return True, None

    def search_documents_of(self, summary: PackageSummary) -> Iterator[SearchDocument]:
        """What the search index holds for a catalogued package (its current version), streamed.

        Each original's content is its text derivative as stored in the primary location (read, never
        extracted again), cut at [ingest] text_size_limit characters; a package without one gives "".
        """
        text_of = StoredText(self.ocfl, summary.uuid, self.settings.text_size_limit)
        return search_documents(
            summary, self.catalog.files(summary.uuid), self.catalog.descriptions(summary.uuid),
            self.catalog.access_rules(summary.uuid), self._risk_of(), text_of,
        )  # fmt: skip

    def _risk_of(self) -> Callable[[str | None], str | None]:
        """A format's risk level by PUID, from this home's registry (read once per Archive)."""
        if self._risks is None:
            self._risks = self.format_risks()
        registry = self._risks
        return lambda puid: registry.rate(puid).risk.value

    # --- reading ---------------------------------------------------------------------------

    def package(self, ref: str) -> PackageSummary:
        found = self.catalog.find_package(ref)
        if found is None:
            stubs = [
                s for s in self.catalog.stubs() if s.package == ref or (len(ref) >= 8 and s.package.startswith(ref))
            ]
            if len(stubs) == 1:  # destroyed or transferred: say so, rather than "no such package"
                gone = stubs[0]
                how = f"transferred to {gone.transferred_to}" if gone.transferred_to else "destroyed"
                raise NotFound(
                    f"Package {gone.package} ({gone.title}) was {how} on {gone.destroyed:%Y-%m-%d} under retention "
                    f"schedule {gone.code} version {gone.version}; only its stub is kept.",
                    details=[f"See the stub and the certificate with: strongroom disposal show {gone.batch}"],
                )
            hint = "A UUID prefix needs at least 8 characters. " if len(ref) < 8 else ""
            raise NotFound(
                f"No package {ref!r} in this archive.",
                details=[f"{hint}See the packages with: strongroom list"],
            )
        return found

    @overload
    def details(self, ref: str) -> PackageDetails: ...
    @overload
    def details(self, ref: str, viewer: Role, today: date | None = None) -> PackageDetails | Viewed: ...
    def details(self, ref: str, viewer: Role | None = None, today: date | None = None) -> PackageDetails | Viewed:
        """A package as staff see it; with `viewer`, as that role may see it on `today` (records/viewing.py)."""
        from strongroom.records.viewing import details_for, package_for

        day = today or datetime.now(UTC).date()
        summary = self.package(ref) if viewer is None else package_for(self, ref, viewer, day)
        details = PackageDetails(
            summary,
            list(self.catalog.files(summary.uuid)),
            self.catalog.events(summary.uuid),
            self.catalog.descriptions(summary.uuid),
            self.catalog.versions(summary.uuid),
            self.catalog.access_rules(summary.uuid),
        )
        return details if viewer is None else details_for(details, viewer, day, ref)

    def search(self, query: SearchQuery) -> SearchResults:
        """Search as `query.viewer`; reading only (the index catches up on the next write command)."""
        return self.search_index.search(query)

    def journal_verify(self) -> JournalReport:
        """Check the journal's chain, and its end against the newest entry the catalog saw appended."""
        return self.journal.verify(self.catalog.journal_anchor())

    # --- versions, access, fixity, rebuild --------------------------------------------------

    def update_metadata(
        self, ref: str, metadata_csv: Path, reason: str, operator: str, progress: StepProgress | None = None,
        *, base_version: int | None = None,
    ) -> UpdateResult:  # fmt: skip
        """Make a new version of a package with the descriptions in `metadata_csv` (metadata.csv columns).

        `base_version` (the "update" job): the version the update was asked for on. If the package has moved
        on since, and the next version is this very update (its stored metadata.csv is this file), that
        version's result is returned and nothing is stored twice; if someone else's, it is refused.
        """
        from strongroom.update import UpdateRequest, build_metadata_update, earlier_update

        self.prepare_to_write()
        summary = self.package(ref)
        if not metadata_csv.is_file():
            raise StrongroomError(f"{metadata_csv} is not a file.", details=["Give the path of a metadata.csv."])
        if base_version is not None and summary.version != base_version:
            done = earlier_update(self.catalog, summary, base_version, metadata_csv)
            if done is None:
                raise StrongroomError(
                    f"Package {summary.uuid} changed after this update was asked for (it is now at version "
                    f"{summary.version}, not {base_version}). Nothing was stored.",
                    details=["Look at its new version, then ask for the update again if it is still wanted."],
                )
            commit, targets, warnings = done
            return UpdateResult(commit, targets, warnings)
        request = UpdateRequest(
            summary, metadata_csv, reason.strip() or "Descriptive metadata updated", operator,
            self.system_agents(operator), self.settings.organisation_name, self.settings.identifier_spec,
        )  # fmt: skip
        with staging_area(self.settings.staging_dir, f"{summary.uuid}.{uuid.uuid4().hex[:12]}") as staging:
            plan = build_metadata_update(self.ocfl, self.catalog, request, staging.folder)
            result = self.commit(plan.build, progress)
        return UpdateResult(result, plan.targets, plan.warnings)

    def migrate(
        self,
        refs: Sequence[str],
        operator: str,
        *,
        risk: RiskLevel | None = None,
        puids: Sequence[str] = (),
        purposes: Sequence[Purpose] | None = None,
        dry_run: bool = False,
        retry_failed: bool = False,
        progress: StepProgress | None = None,
    ) -> MigrationReport:
        """Migrate the at-risk originals of the named packages (all when `refs` is empty) by the migration policy.

        Each package with a derivative kept gets one new version (the originals and earlier versions stay as they
        are); conversions that fail verification are recorded and leave the original as the master. `risk` keeps
        originals rated that level or worse, `puids` those formats; a dry run plans only and stores nothing.
        See strongroom/preservation/migrate.py.
        """
        from strongroom.preservation.migrate import migrate_packages
        from strongroom.preservation.migrate_plan import MigrationRequest

        if dry_run:
            self.require_current_layout()
        else:
            self.prepare_to_write()
        request = MigrationRequest(
            operator, risk=risk, puids=tuple(puids), purposes=tuple(purposes) if purposes else None,
            retry_failed=retry_failed,
        )  # fmt: skip
        return migrate_packages(self, refs, request, dry_run=dry_run, progress=progress)

    def migration_failures(self) -> list[MigrationFailure]:
        """Every original whose latest migration attempt failed (so it has no derivative for that purpose)."""
        from strongroom.preservation.migrate_report import migration_failures

        return migration_failures(self)

    def set_access(
        self,
        ref: str,
        path: str | None,
        status: AccessStatus,
        reason: str,
        opening_date: date | None,
        operator: str,
        closure: ClosureTerms | None = None,
    ) -> AccessChange:
        """Open, close or restrict a package or one of its files or folders (with closure terms); journalled,
        catalogued, re-indexed."""
        from strongroom.records.access import change_access

        self.prepare_to_write()
        summary = self.package(ref)
        with self.catalog.lock(f"package:{summary.uuid}"):
            change = change_access(
                self.catalog, self.journal, summary, path, status, reason, opening_date, self.system_agents(operator),
                closure, open_on_new_year=self.settings.open_on_new_year,
            )  # fmt: skip
        indexed, problem = self.index_package(summary.uuid)
        if not indexed and status is not AccessStatus.OPEN:
            # The closure stands (journalled, catalogued), but the index may still show the record as open.
            what = f"{change.rule.path} of package {summary.name}" if change.rule.path else f"package {summary.name}"
            raise SearchError(
                f"{what} is now {status.value} (event {change.event.uuid}), but the search index still shows its "
                f"old status: {problem or 'it could not be updated'}.",
                details=[
                    "Until the index is updated, a search as researcher may still find it. Every write command "
                    "tries again (or run: strongroom rebuild) once the search index is reachable."
                ],
            )
        return change

    def verify(
        self,
        refs: Sequence[str],
        operator: str,
        mode: FixityMode = FixityMode.FULL,
        progress: StepProgress | None = None,
        locations: Sequence[str] | None = None,
    ) -> VerifyReport:
        """Check every version of the named packages (all when `refs` is empty) in each location (all when
        `locations` is None); results are journalled."""
        self.prepare_to_write()
        summaries = [self.package(r) for r in refs] if refs else self.catalog.packages()
        return verify_packages(self, summaries, operator, mode, progress, locations=locations)

    def audit(
        self,
        operator: str,
        *,
        location: str | None = None,
        older_than: timedelta | None = None,
        max_bytes: int | None = None,
        rate: float | None = None,
        repair: bool = False,
        progress: StepProgress | None = None,
    ) -> AuditReport:
        """Re-read a slice of the archive, least recently checked copies first (see preservation/audit.py)."""
        from strongroom.preservation.audit import run_audit

        self.prepare_to_write()
        return run_audit(
            self, operator, location=location, older_than=older_than, max_bytes=max_bytes, rate=rate,
            repair=repair, progress=progress,
        )  # fmt: skip

    def replicate(self, operator: str, location: str | None = None,
                  progress: StepProgress | None = None) -> ReplicateReport:  # fmt: skip
        """Copy into every replica location (or the one named) what it lacks; resumable."""
        from strongroom.copies import replicate

        self.prepare_to_write()
        return replicate(self, operator, location, progress)

    def repair(self, ref: str, operator: str) -> RepairReport:
        """Heal every damaged copy of a package from a location whose copy verifies."""
        from strongroom.copies import repair_package

        self.prepare_to_write()
        return repair_package(self, self.package(ref), operator)

    def add_location(self, spec: LocationSpec, stored_options: dict[str, object]) -> AddedLocation:
        from strongroom.copies import add_location

        return add_location(self, spec, stored_options)

    def remove_location(self, name: str) -> list[str]:
        from strongroom.copies import remove_location

        self.prepare_to_write()
        return remove_location(self, name)

    def location_statuses(self) -> list[LocationStatus]:
        from strongroom.copies import location_statuses

        return location_statuses(self)

    def rebuild(self, progress: StepProgress | None = None) -> RebuildReport:
        """Recreate the catalog and the index from storage and the journal alone."""
        from strongroom.maintenance import rebuild

        return rebuild(self, progress)

    def upgrade(self, operator: str, progress: StepProgress | None = None) -> UpgradeReport:
        """Convert 0.1 storage (one bag per package) into OCFL objects, keeping every event."""
        from strongroom.maintenance import upgrade

        return upgrade(self, operator, progress)

    # --- export ------------------------------------------------------------------------------

    def export(
        self, ref: str, dest: Path, version: int | None = None, progress: StepProgress | None = None,
        *, viewer: Role | None = None, today: date | None = None,
    ) -> Path:  # fmt: skip
        """Write one version (default: the latest) as a BagIt bag under `dest`, and validate it.

        As a researcher (`viewer`), only a version whose every record is open on `today` is given out."""
        if viewer is None:
            summary = self.package(ref)
        else:  # checked before the version is looked up: its errors would give a hidden package away
            from strongroom.records.viewing import check_export, package_for

            day = today or datetime.now(UTC).date()
            summary = package_for(self, ref, viewer, day)
            check_export(self.details(summary.uuid), viewer, day, version or summary.version, ref)
        oid = object_id(summary.uuid)
        inventory = self.ocfl.inventory(oid)
        chosen = inventory.version(version)
        bag_name = f"{summary.name}-{summary.uuid}" + (f"-v{chosen.number}" if version is not None else "")
        final = dest / bag_name
        if final.exists():
            raise StrongroomError(f"{final} already exists.", details=["Choose another destination or remove it."])
        dest.mkdir(parents=True, exist_ok=True)
        partial = dest / f".{bag_name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        total = len(chosen.state)

        def fetched(n: int, counter: list[int] = [0]) -> None:  # noqa: B006 - a per-call counter
            counter[0] += n
            if progress:
                progress("Exporting", counter[0], total)

        try:
            self.ocfl.fetch_version(oid, partial, chosen.number, progress=fetched)
            problems = validate_bag(partial)
            if problems:
                raise StorageError(
                    f"The exported copy of {summary.name} version {chosen.number} is not a valid bag: "
                    + "; ".join(problems[:20]),
                    details=["Run: strongroom verify " + summary.uuid, "and repair storage before exporting."],
                )
            partial.rename(final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return final

    # --- format risk -----------------------------------------------------------------------

    def format_risks(self) -> RiskRegistry:
        """The packaged format risk ratings with this home's format-risk.toml applied."""
        return load_registry(self.settings.home)

    def collection_profile(self, by: GroupBy = GroupBy.PUID, package: str | None = None) -> Profile:
        """Formats of the originals, rated for risk; `package` (UUID, prefix or name) restricts it to one."""
        package_uuid = self.package(package).uuid if package else None
        return build_profile(self.catalog, self.format_risks(), by, package_uuid)


@dataclass(frozen=True)
class UpdateResult:
    commit: CommitResult
    targets: tuple[str, ...]
    warnings: tuple[str, ...]


def _duplicate(existing: PackageSummary) -> DuplicateTransferError:
    return DuplicateTransferError(
        f"This transfer's files are already stored as {existing.name} ({existing.uuid}).",
        details=["Nothing was stored. To keep a second copy on purpose, ingest with --allow-duplicate."],
    )
