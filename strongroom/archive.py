"""Archive: one home folder, with its catalog, storage and search index wired together.

Every CLI command is a few lines over a method here. Storage is the source of
truth: the catalog and index are derived and can be rebuilt from it.
"""

from __future__ import annotations

import getpass
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import bagit

from strongroom import __version__
from strongroom.catalog.sqlite import Catalog
from strongroom.config import CONFIG_NAME, Settings, load_settings, write_default_config
from strongroom.errors import NotFound, StorageError, StrongroomError
from strongroom.formats import describe_identifier
from strongroom.formats.risk import RiskRegistry, load_registry
from strongroom.ingest.staging import stale_ingests
from strongroom.metadata.mets import read_mets
from strongroom.model import (
    Agent,
    AgentType,
    DublinCore,
    Event,
    FileRecord,
    FileRole,
    FixityProblem,
    Mismatch,
    Missing,
    Outcome,
    PackageSummary,
    Unexpected,
)
from strongroom.package_store import PackageMarker, PackageStore, parse_manifest
from strongroom.reports.profile import GroupBy, Profile, build_profile
from strongroom.search import open_search
from strongroom.search.base import SearchDocument, SearchIndex, SearchQuery, SearchResults
from strongroom.storage import open_storage

StepProgress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class PackageProblem:
    package: str
    problem: FixityProblem

    def as_dict(self) -> dict[str, str]:
        data = {"package": self.package, "path": self.problem.path, "kind": self.problem.kind}
        if isinstance(self.problem, Mismatch):
            data |= {
                "algorithm": self.problem.algorithm,
                "expected": self.problem.expected,
                "found": self.problem.found,
            }
        else:
            data["source"] = self.problem.source
        return data


@dataclass
class VerifyReport:
    checked: int = 0
    packages: int = 0
    problems: list[PackageProblem] = field(default_factory=list)


@dataclass(frozen=True)
class PackageDetails:
    summary: PackageSummary
    files: list[FileRecord]
    events: list[Event]
    descriptions: list[DublinCore]


@dataclass(frozen=True)
class RebuildReport:
    packages: int
    files: int
    indexed: int


def current_operator() -> str:
    try:
        return os.environ.get("STRONGROOM_OPERATOR") or getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


class Archive:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = Catalog(settings.catalog_path)
        self.storage = open_storage(settings.storage_kind, settings.storage_options)
        # Storing is bound by fsync latency, not CPU: more threads than cores keep the disk busy.
        self.packages = PackageStore(self.storage, workers=max(8, settings.worker_count * 8))
        self._search: SearchIndex | None = None
        self.index_errors: list[str] = []

    # --- lifecycle -------------------------------------------------------------------------

    @classmethod
    def create(cls, home: Path, organisation: str, organisation_id: str) -> Path:
        home.mkdir(parents=True, exist_ok=True)
        if (home / CONFIG_NAME).exists():
            raise StrongroomError(f"{home} already holds a Strongroom archive ({CONFIG_NAME} exists).")
        return write_default_config(home, organisation, organisation_id)

    @classmethod
    def open(cls, home: Path) -> Archive:
        return cls(load_settings(home))

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
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

    def identifier_description(self) -> tuple[str, str, str]:
        return describe_identifier(self.settings.identifier_engine, self.settings.pronom_signature_file)

    def system_agents(self, operator: str) -> tuple[Agent, ...]:
        return (
            Agent("preservation system", f"Strongroom-{__version__}", f"Strongroom {__version__}", AgentType.SOFTWARE),
            Agent("local user", operator, operator, AgentType.PERSON),
        )

    # --- recovery --------------------------------------------------------------------------

    def clean_up_stale_ingests(self) -> list[str]:
        """Remove what crashed ingests left; a package stored whole but not catalogued is recorded."""
        notes: list[str] = []
        for package in stale_ingests(self.settings.staging_dir):
            if self.packages.is_committed(package):
                if package not in self.catalog.package_uuids():
                    self.restore_from_storage(self.packages.marker(package))
                    notes.append(f"{package}: stored whole before an interruption; now catalogued")
            else:
                removed = self.packages.discard_uncommitted(package)
                notes.append(f"{package}: interrupted ingest cleaned up ({removed} partial objects removed)")
        # A package committed to storage but missing from the catalog (the catalog write failed,
        # or the catalog was restored from an old copy) is catalogued from its METS.
        catalogued = self.catalog.package_uuids()
        for package in self.packages.committed_uuids():
            if package not in catalogued:
                self.restore_from_storage(self.packages.marker(package))
                notes.append(f"{package}: in storage but not in the catalog; now catalogued")
        self.catch_up_index()
        return notes

    def restore_from_storage(self, marker: PackageMarker) -> int:
        with tempfile.TemporaryDirectory(prefix="strongroom-mets-") as tmp:
            mets_path = Path(tmp) / "METS.xml"
            self.packages.fetch(marker, marker.mets, mets_path)
            document = read_mets(mets_path)
            mets_digest, mets_size = self.packages.sha256_of(marker, marker.mets)
        mets_record = FileRecord(
            uuid=str(uuid.uuid5(uuid.UUID(marker.uuid), "METS")), path=marker.mets.removeprefix("data/"),
            original_name=marker.mets.removeprefix("data/"), size=mets_size, sha256=mets_digest,
            role=FileRole.METADATA, identification=None,
        )  # fmt: skip
        summary = PackageSummary(
            uuid=marker.uuid, name=marker.name, created=marker.created_at, files=marker.files, bytes=marker.bytes,
            payload_sha256=marker.payload_sha256, storage_key=marker.prefix, title=marker.title, indexed=False,
        )  # fmt: skip
        verify_events = [e for e in self.catalog.events(marker.uuid) if e.type == "fixity check" and e.file_uuid]
        self.catalog.add_package(
            summary, [*document.files, mets_record], [*document.events, *verify_events], document.agents,
            document.descriptions,
        )  # fmt: skip
        return len(document.files)

    def catch_up_index(self) -> int:
        """Index packages that were stored but whose indexing failed or was interrupted."""
        done = 0
        for package in self.catalog.unindexed():
            if self.index_package(package):
                done += 1
        return done

    def index_package(self, package: str) -> bool:
        """Index a catalogued package. Failure leaves it catalogued and marked for catch-up."""
        summary = self.catalog.find_package(package)
        if summary is None:
            return False
        try:
            self.search_index.delete_package(package)
            self.search_index.index(self._documents(summary))
        except (StrongroomError, sqlite3.Error, OSError) as exc:
            # The package is stored and catalogued; only the index lags, and catches up later.
            self.catalog.set_indexed(package, False)
            self.index_errors.append(f"search index not updated for {package}: {exc}")
            return False
        self.catalog.set_indexed(package, True)
        return True

    def _documents(self, summary: PackageSummary) -> Iterator[SearchDocument]:
        descriptions = {d.target: d for d in self.catalog.descriptions(summary.uuid)}
        package_dc = descriptions.get("objects")
        package_text = " ".join(v for d in [package_dc] if d for vs in d.elements.values() for v in vs)
        yield SearchDocument(
            package=summary.uuid, package_name=summary.name, path=None, title=summary.title or summary.name,
            text=f"{summary.name} {package_text}",
        )  # fmt: skip
        for record in self.catalog.files(summary.uuid):
            own = descriptions.get(record.path)
            folder_text = " ".join(
                v for target, d in descriptions.items() if target != "objects" and record.path.startswith(target + "/")
                for vs in d.elements.values() for v in vs
            )  # fmt: skip
            own_text = " ".join(v for vs in own.elements.values() for v in vs) if own else ""
            ident = record.identification
            yield SearchDocument(
                package=summary.uuid, package_name=summary.name, path=record.path,
                title=own.first("title") if own else record.original_name,
                text=" ".join(
                    t for t in (record.original_name, own_text, folder_text, ident.puid if ident else None,
                                ident.format_version if ident else None) if t
                ),
                puid=ident.puid if ident else None, format_name=ident.format_name if ident else None,
                file_uuid=record.uuid,
            )  # fmt: skip

    # --- reading ---------------------------------------------------------------------------

    def package(self, ref: str) -> PackageSummary:
        found = self.catalog.find_package(ref)
        if found is None:
            raise NotFound(f"No package {ref!r} in this archive.", details=["See the packages with: strongroom list"])
        return found

    def details(self, ref: str) -> PackageDetails:
        summary = self.package(ref)
        return PackageDetails(
            summary,
            list(self.catalog.files(summary.uuid)),
            self.catalog.events(summary.uuid),
            self.catalog.descriptions(summary.uuid),
        )

    def search(self, query: SearchQuery) -> SearchResults:
        self.catch_up_index()
        return self.search_index.search(query)

    # --- fixity ----------------------------------------------------------------------------

    def verify(self, refs: Sequence[str], operator: str, progress: StepProgress | None = None) -> VerifyReport:
        summaries = [self.package(r) for r in refs] if refs else self.catalog.packages()
        report = VerifyReport()
        agents = self.system_agents(operator)
        total = sum(s.files for s in summaries) + 2 * len(summaries)
        for summary in summaries:
            report.packages += 1
            events = self._verify_package(summary, report, agents, progress, total)
            self.catalog.record_events(summary.uuid, events, agents)
        return report

    def _verify_package(
        self,
        summary: PackageSummary,
        report: VerifyReport,
        agents: tuple[Agent, ...],
        progress: StepProgress | None,
        total: int,
    ) -> list[Event]:
        keys = [a.key for a in agents]
        now = datetime.now(UTC)
        try:
            marker = self.packages.marker(summary.uuid)
        except NotFound:
            gone = Missing(summary.storage_key, "the catalog (the whole package is missing from storage)")
            report.problems.append(PackageProblem(summary.uuid, gone))
            return [_event("fixity check", now, Outcome.FAILURE, gone.describe(), keys, None)]
        present = set(self.packages.keys(marker))
        expected: dict[str, str | None] = {"tagmanifest-sha256.txt": None}
        for manifest in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
            if manifest in present:
                try:
                    expected.update(parse_manifest(self.packages.read_text(marker, manifest)))
                except (UnicodeDecodeError, ValueError):
                    report.problems.append(
                        PackageProblem(summary.uuid, Mismatch(manifest, "format", "a manifest", "unreadable"))
                    )
            else:
                report.problems.append(PackageProblem(summary.uuid, Missing(manifest, "the BagIt layout")))
        file_ids = {f"data/{f.path}": f.uuid for f in self.catalog.files(summary.uuid)}
        events: list[Event] = []
        failures = 0
        for path in sorted(expected):
            digest = expected[path]
            problem: FixityProblem | None = None
            if path not in present:
                problem = Missing(path, "manifest-sha256.txt" if path.startswith("data/") else "tagmanifest-sha256.txt")
            elif digest is not None:
                found, _size = self.packages.sha256_of(marker, path)
                report.checked += 1
                if found != digest:
                    problem = Mismatch(path, "sha256", digest, found)
            else:
                report.checked += 1
            if problem is not None:
                failures += 1
                report.problems.append(PackageProblem(summary.uuid, problem))
            if path in file_ids:
                events.append(
                    _event(
                        "fixity check", datetime.now(UTC), Outcome.FAILURE if problem else Outcome.SUCCESS,
                        problem.describe() if problem else f"sha256 {digest} matches", keys, file_ids[path],
                    )
                )  # fmt: skip
            if progress:
                progress("Verifying", report.checked, total)
        for extra in sorted(present - set(expected)):
            failures += 1
            report.problems.append(PackageProblem(summary.uuid, Unexpected(extra, "the package manifests")))
        outcome = Outcome.FAILURE if failures else Outcome.SUCCESS
        events.append(
            _event("fixity check", now, outcome, f"{len(expected)} files checked, {failures} problem(s)", keys, None)
        )
        return events

    # --- export and rebuild ------------------------------------------------------------------

    def export(self, ref: str, dest: Path, progress: StepProgress | None = None) -> Path:
        summary = self.package(ref)
        marker = self.packages.marker(summary.uuid)
        final = dest / marker.bag
        if final.exists():
            raise StrongroomError(f"{final} already exists.", details=["Choose another destination or remove it."])
        dest.mkdir(parents=True, exist_ok=True)
        partial = dest / f".{marker.bag}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            keys = list(self.packages.keys(marker))
            for done, relative in enumerate(keys, start=1):
                self.packages.fetch(marker, relative, partial / relative)
                if progress:
                    progress("Exporting", done, len(keys))
            try:
                bagit.Bag(str(partial)).validate(processes=self.settings.worker_count)
            except bagit.BagValidationError as exc:
                raise StorageError(
                    f"The exported copy of {summary.name} is not a valid bag: {exc}",
                    details=["Run: strongroom verify " + summary.uuid, "and repair storage before exporting."],
                ) from exc
            partial.rename(final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return final

    def rebuild(self, progress: StepProgress | None = None) -> RebuildReport:
        markers = list(self.packages.markers())
        self.catalog.clear()
        self.search_index.clear()
        files = 0
        for done, marker in enumerate(markers, start=1):
            files += self.restore_from_storage(marker)
            if progress:
                progress("Rebuilding", done, len(markers))
        indexed = self.catch_up_index()
        return RebuildReport(len(markers), files, indexed)

    def format_profile(self, package: str | None = None) -> Iterable[tuple[str | None, str | None, int, int]]:
        for row in self.catalog.format_counts(package):
            yield row["puid"], row["format_name"], row["files"], row["bytes"] or 0

    # --- format risk -----------------------------------------------------------------------

    def format_risks(self) -> RiskRegistry:
        """The packaged format risk ratings with this home's format-risk.toml applied."""
        return load_registry(self.settings.home)

    def collection_profile(self, by: GroupBy = GroupBy.PUID, package: str | None = None) -> Profile:
        """Formats of the originals, rated for risk; `package` (UUID, prefix or name) restricts it to one."""
        package_uuid = self.package(package).uuid if package else None
        return build_profile(self.catalog, self.format_risks(), by, package_uuid)


def _event(kind: str, when: datetime, outcome: Outcome, detail: str, agents: list[str], file_uuid: str | None) -> Event:
    return Event(str(uuid.uuid4()), kind, when, "program=\"Strongroom\"; algorithm=SHA-256", outcome, detail,
                 tuple(agents), file_uuid)  # fmt: skip
