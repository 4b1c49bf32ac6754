"""Which package, file or stored bytes a viewer asked for, decided before anything is read from storage.

What a researcher (and the public) may see follows records/viewing.py, judged on the day asked:
- a closed package does not exist for them: the same NotFound, word for word, as a package that does not;
- of a restricted package (or a closed one with a redacted title) only the stand-in exists: any file of it
  is answered as a file the package does not have;
- of an open package, a closed or restricted file is answered as a file the package does not have;
- they download originals and access copies of open records only (never METS, metadata, logs, extracted text,
  preservation masters: those can name closed records), and only from the current version.
Paths are compared exactly with the catalog's (or the OCFL inventory's) paths: nothing a visitor types is ever
made into a storage key or a file name, so `..`, encoded slashes and case variants simply match nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING
from urllib.parse import quote

from strongroom.commit import object_id
from strongroom.errors import IntegrityError, NotFound
from strongroom.indexing import effective_access
from strongroom.model import AccessRule, CopyRecord, FileRecord, FileRole, PackageSummary
from strongroom.preservation.actions import Purpose, derivative_source
from strongroom.records.viewing import not_found, package_for
from strongroom.search.base import Role

if TYPE_CHECKING:
    from strongroom.archive import Archive
    from strongroom.records.model import Hold, RetentionAssignment

# What a researcher may download: the records themselves and the copies made for reading them.
DOWNLOADABLE_BY_RESEARCHERS = frozenset({FileRole.ORIGINAL, FileRole.ACCESS})
FILES_PER_PAGE = 50
EVENTS_SHOWN = 100


def package_href(package: str) -> str:
    return f"/packages/{quote(package, safe='')}"


def file_href(package: str, path: str) -> str:
    return f"{package_href(package)}/files/{quote(path, safe='/')}"


def download_href(package: str, path: str, version: int | None = None) -> str:
    tail = f"?version={version}" if version is not None else ""
    return f"{package_href(package)}/download/{quote(path, safe='/')}{tail}"


def file_not_found(ref: str, path: str) -> NotFound:
    """The one answer for a file that is absent, closed, restricted, of another version or not for download."""
    return NotFound(f"No file {path!r} in package {ref!r}.",
                    details=["See the package's files on its page: " + package_href(ref)])  # fmt: skip


def package_named(archive: Archive, ref: str, viewer: Role, today: date) -> PackageSummary:
    """records.viewing.package_for, with a reference no package can have (a NUL, which PostgreSQL cannot even
    compare) answered as the unknown package it is, the same on every catalog."""
    if "\x00" in ref:
        raise not_found(ref)
    return package_for(archive, ref, viewer, today)


def is_shut(rule: AccessRule | None, today: date) -> bool:
    return rule is not None and not rule.is_open_on(today)


@dataclass(frozen=True)
class StoredFile:
    """One stored file a viewer may have: which package, version and path, and what governs it today."""

    summary: PackageSummary
    path: str  # relative to the bag's data/ folder
    version: int
    sha256: str
    record: FileRecord | None  # None: a file of an earlier version the catalog no longer lists
    rule: AccessRule | None  # the access rule that governs it (None: open)
    closed_today: bool  # not open today: a staff access to it is journalled
    rules: tuple[AccessRule, ...]  # every access rule of the package

    @property
    def name(self) -> str:
        """The file's name for a download: as deposited for an original, else the stored name."""
        if self.record is not None and self.record.role is FileRole.ORIGINAL and self.record.original_name:
            return self.record.original_name.rpartition("/")[2] or self.path.rpartition("/")[2]
        return self.path.rpartition("/")[2]

    @property
    def mime(self) -> str | None:
        ident = self.record.identification if self.record is not None else None
        return ident.mime if ident is not None else None


def locate(archive: Archive, ref: str, path: str, viewer: Role, today: date, version: int | None = None,
           *, download: bool = False) -> StoredFile:  # fmt: skip
    """The file `path` of package `ref` (version None: the current one) as `viewer` may have it on `today`.

    NotFound, worded as for an unknown package or an absent file, for everything the viewer may not have.
    """
    summary = package_named(archive, ref, viewer, today)
    rules = archive.catalog.access_rules(summary.uuid)
    package_rule = effective_access(rules, None)
    if not viewer.sees_closed:
        if is_shut(package_rule, today):
            from strongroom.records.viewing import stands_in

            # Closed: unknown. Restricted (or a redacted title): the stand-in has no files.
            raise file_not_found(ref, path) if stands_in(package_rule, today) else not_found(ref)
        if version is not None and version != summary.version:
            raise file_not_found(ref, path)
    if version is None or version == summary.version:
        record = next((f for f in archive.catalog.files(summary.uuid) if f.path == path), None)
        if record is None:
            raise file_not_found(ref, path)
        rule = effective_access(rules, path)
        shut = is_shut(rule, today) or is_shut(package_rule, today)
        if not viewer.sees_closed and (shut or (download and record.role not in DOWNLOADABLE_BY_RESEARCHERS)):
            raise file_not_found(ref, path)
        return StoredFile(summary, path, summary.version, record.sha256.lower(), record, rule, shut, tuple(rules))
    # An earlier (or no such) version: staff only, from the OCFL inventory.
    inventory = archive.ocfl.inventory(object_id(summary.uuid))
    if not 1 <= version <= inventory.head:
        raise NotFound(f"Package {ref!r} has no version {version}: it has versions 1 to {inventory.head}.",
                       details=["Leave out ?version= for the current version."])  # fmt: skip
    digest = inventory.version(version).state.get(f"data/{path}")
    if digest is None:
        raise file_not_found(ref, path)
    current = {f.path: f for f in archive.catalog.files(summary.uuid)}.get(path)
    record = current if current is not None and current.sha256.lower() == digest.lower() else None
    rule = effective_access(rules, path)
    shut = is_shut(rule, today) or is_shut(package_rule, today)
    return StoredFile(summary, path, version, digest.lower(), record, rule, shut, tuple(rules))


@dataclass(frozen=True)
class Content:
    """Where a stored file's bytes are, read from the OCFL inventory."""

    key: str
    size: int


def content_of(archive: Archive, stored: StoredFile) -> Content:
    """The storage key and size of a file's bytes; IntegrityError when storage and catalog disagree."""
    inventory = archive.ocfl.inventory(object_id(stored.summary.uuid))
    digest = inventory.version(stored.version).state.get(f"data/{stored.path}")
    if digest is None or digest.lower() != stored.sha256:
        raise IntegrityError(
            f"Version {stored.version} of package {stored.summary.name} stores {stored.path!r} "
            + ("not at all" if digest is None else f"with SHA-256 {digest}, not {stored.sha256} as catalogued")
            + ".",
            details=[f"Ask an archivist to run: strongroom verify {stored.summary.uuid}"],
        )
    key = inventory.content_key(digest)
    return Content(key, archive.ocfl.backend.stat(key).size)


def access_copy_of(files: list[FileRecord], original: FileRecord) -> FileRecord | None:
    """The access copy made of `original` among `files` (already only those the viewer may see)."""
    if original.role is not FileRole.ORIGINAL:
        return None
    for record in files:
        if record.role is FileRole.ACCESS and derivative_source(record.path) == (Purpose.ACCESS, original.path):
            return record
    return None


def may_download(viewer: Role, record: FileRecord) -> bool:
    return viewer.sees_closed or record.role in DOWNLOADABLE_BY_RESEARCHERS


def has_closed_records(rules: list[AccessRule], today: date) -> bool:
    return any(not rule.is_open_on(today) for rule in rules)


@dataclass(frozen=True)
class StaffExtras:
    """What staff see of a package beside its details: retention, holds and the copies' fixity."""

    retention: RetentionAssignment | None
    holds: list[Hold]
    copies: list[CopyRecord]


def staff_extras(archive: Archive, package: str) -> StaffExtras:
    return StaffExtras(archive.catalog.retention(package), archive.catalog.holds(package=package, active_only=True),
                       archive.catalog.copies(package))  # fmt: skip


def journal_staff_access(archive: Archive, operator: str, package: str, what: str) -> None:
    """Record a staff member's look at a closed or restricted record (the issue: every such access)."""
    from strongroom.accounts.audit import journal_closed_access

    journal_closed_access(archive, operator, package, what)
