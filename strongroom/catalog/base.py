"""The Catalog protocol: what the archive asks of its database, in the typed records of model.py.

Storage (the OCFL objects) plus the journal are the source of truth; the catalog is
a fast, queryable copy of them that `rebuild` can always recreate. Backends (SQLite,
the embedded default, and PostgreSQL) differ only in their URL; no driver rows or
SQL leak out of them. One conformance suite (`tests/contracts/catalog_contract.py`)
runs against every backend.

Concurrency: every write method is one transaction (all of it or none of it).
`lock(name)` is a cross-process lock for the few things storage itself cannot
serialise (appending to the journal, writing a new version of one package); on
PostgreSQL it is an advisory lock, so it holds across machines sharing the database.

Copies: a package is kept in one or more named storage locations ("primary", "offsite"...).
Per (package, location) the catalog records a `CopyRecord`: the highest version stored whole
there, when, and the last fixity check of that copy. A copy row goes with its package.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, runtime_checkable

from strongroom.catalog.accounts_base import AccountsCatalog
from strongroom.catalog.jobs_base import JobsCatalog, JobStepsCatalog
from strongroom.catalog.records_base import RecordsCatalog
from strongroom.model import (
    AccessRule,
    Agent,
    CopyRecord,
    DublinCore,
    Event,
    FileRecord,
    FormatCount,
    JournalAnchor,
    LocationUsage,
    Outcome,
    PackageSummary,
    ValidityCount,
    VersionRecord,
)


@runtime_checkable
class Catalog(RecordsCatalog, AccountsCatalog, JobsCatalog, JobStepsCatalog, Protocol):
    """What the archive needs from a catalog. Errors: CatalogError (strongroom.errors), DuplicateTransferError."""

    url: str  # where it lives, for messages (a PostgreSQL URL never shows its password)

    # --- writing ----------------------------------------------------------------------------

    def add_package(
        self,
        summary: PackageSummary,
        version: VersionRecord,
        files: Iterable[FileRecord],
        events: Iterable[Event],
        agents: Iterable[Agent],
        descriptions: Iterable[DublinCore],
        *,
        claim_payload: bool,
        stored_in: Sequence[str] = (),
    ) -> None:
        """Record a newly stored package (its version 1), in one transaction.

        With `claim_payload`, the package claims its payload digest: a second package
        claiming the same digest raises DuplicateTransferError naming the first, and
        nothing is written. The claim is a unique constraint in the database, so two
        processes racing with the same payload cannot both win. Without it (ingest
        --allow-duplicate, or a package recovered from storage whose digest is already
        claimed) the package is recorded unclaimed. `files` and `events` may be
        generators: they are consumed once, inside the transaction.
        Recording a package whose UUID is already catalogued replaces it whole, its copies
        included. Each location named in `stored_in` gets a copy at `version.number`, stored at
        `version.created`, never checked.
        """
        ...

    def add_version(
        self,
        summary: PackageSummary,
        version: VersionRecord,
        files: Iterable[FileRecord],
        events: Iterable[Event],
        agents: Iterable[Agent],
        descriptions: Iterable[DublinCore],
        *,
        stored_in: Sequence[str] = (),
    ) -> None:
        """Record a new head version of a catalogued package, in one transaction.

        `summary` replaces the package's summary (its `version` is `version.number`);
        `files` replace the package's files (the catalog keeps the head version's files);
        `descriptions` replace its descriptions; `events` are added to its events (an
        event whose UUID is already recorded is left as it is). Versions are kept, one
        row each. Each location named in `stored_in` records a copy of `version.number` stored
        at `version.created`, as record_copy() does: its last check is kept, and a higher version
        already recorded there stays. NotFound when the package is not catalogued.
        """
        ...

    def record_events(self, package: str, events: Iterable[Event], agents: Iterable[Agent]) -> None:
        """Add events (and the agents they name) to a package; already-recorded event UUIDs are skipped."""
        ...

    def set_access(self, rule: AccessRule) -> None:
        """Set the access status of a package (`rule.path` None) or of a file or folder of it.

        A rule replaces an earlier one for the same (package, path). A package-level
        rule does not remove file-level ones.
        """
        ...

    def set_indexed(self, package: str, indexed: bool) -> None:
        """Mark whether the search index holds the package's head version."""
        ...

    def advance_journal_anchor(self, anchor: JournalAnchor) -> None:
        """Record the journal's newest entry, unless a newer one (higher sequence) is recorded already."""
        ...

    def journal_anchor(self) -> JournalAnchor | None:
        """The newest journal entry recorded by advance_journal_anchor(); None before the first."""
        ...

    def record_copy(self, package: str, location: str, version: int, stored: datetime) -> None:
        """Record that `location` holds `version` of `package` whole, written at `stored`.

        Creates the copy, or updates it when `version` is at least the recorded one (the same
        version again, such as a copy rewritten by repair, takes the new `stored` time); a lower
        version changes nothing, so a recorded version never goes down. The last check (checked,
        outcome, problems) is kept. NotFound when the package is not catalogued.
        """
        ...

    def record_copy_check(
        self, package: str, location: str, checked: datetime, outcome: Outcome, problems: int
    ) -> bool:
        """Set the last fixity check of the copy of `package` in `location` (replacing the one before).

        True if the copy is recorded and was updated; False, changing nothing, when the catalog
        has no such copy (an unknown package, or none recorded in that location).
        """
        ...

    def forget_location(self, location: str) -> int:
        """Remove every copy recorded in `location` (when it is taken out of use); how many there were."""
        ...

    def clear(self) -> None:
        """Remove every package, file, event, agent, version, access rule and copy (for rebuild); the
        journal anchor too."""
        ...

    # --- reading ----------------------------------------------------------------------------

    def packages(self) -> list[PackageSummary]:
        """Every package, oldest first (then by name)."""
        ...

    def package_uuids(self) -> set[str]: ...

    def unindexed(self) -> list[str]:
        """UUIDs of packages whose head version the search index does not hold yet."""
        ...

    def find_package(self, ref: str) -> PackageSummary | None:
        """By UUID, a unique UUID prefix of 8 or more characters, or an exact name.

        StrongroomError listing the UUIDs when a name or prefix matches more than one.
        """
        ...

    def with_payload(self, payload_sha256: str) -> list[PackageSummary]:
        """Packages (claimed or not) whose originals have this payload digest."""
        ...

    def files(self, package: str) -> Iterator[FileRecord]:
        """The head version's files, sorted by path."""
        ...

    def events(self, package: str, *, file_uuid: str | None = None) -> list[Event]:
        """A package's events (or one file's), oldest first; ties in time ordered by type, then UUID."""
        ...

    def last_checked(self, location: str) -> dict[str, datetime]:
        """Package UUID -> when its copy in `location` was last checked (record_copy_check()).

        Packages with no copy there, or whose copy was never checked, are absent.
        """
        ...

    def copies(self, package: str | None = None, location: str | None = None) -> list[CopyRecord]:
        """The recorded copies, of one package and/or in one location when given; by package UUID, then location."""
        ...

    def location_usage(self) -> list[LocationUsage]:
        """One entry per location holding any copy, by name, counted in the database.

        `packages`: its copies; `current`: those at their package's head version; `bytes`: for
        each copy, the sum of `new_bytes` of its package's versions up to the copy's version;
        `oldest_check`: the least recent last check, None if any copy there was never checked;
        `newest_check`: the most recent; `failing`: copies whose last check failed.
        """
        ...

    def descriptions(self, package: str) -> list[DublinCore]:
        """The head version's Dublin Core descriptions, sorted by target."""
        ...

    def agents(self) -> list[Agent]:
        """Every agent, sorted by key."""
        ...

    def versions(self, package: str) -> list[VersionRecord]:
        """Every version of a package, oldest first."""
        ...

    def access_rules(self, package: str) -> list[AccessRule]:
        """The access rules of a package: the package-level one (path None) first, then by path."""
        ...

    def validity_counts(self, package: str | None = None) -> list[ValidityCount]:
        """Original files counted per (validity verdict, PUID), for the whole archive or one package (its UUID).
        A verdict of None counts files never characterised."""
        ...

    def format_counts(self, package: str | None = None) -> list[FormatCount]:
        """Originals of the head versions counted per (package, PUID, format name, version),
        sorted by package name then package UUID."""
        ...

    # --- coordination -----------------------------------------------------------------------

    def lock(self, name: str, *, wait: bool = True) -> AbstractContextManager[bool]:
        """An exclusive lock shared by every process using this catalog, held for the `with` block.

        Yields True once held. With `wait=False` it yields False at once when another
        process holds it (and holds nothing). Locks are released if the process dies.
        """
        ...

    def close(self) -> None: ...
