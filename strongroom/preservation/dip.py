"""Dissemination packages (DIPs): the access copies of one package version, with a METS and an HTML index.

    DEST/<package name>-<uuid8>-dip/
      index.html        a plain, accessible page: the package's description and a table of its records
      METS.xml          a DIP METS: the package's (and each shown record's) Dublin Core, fileSec USE="access"
      objects/...       one file per record given out, at its original's path (an access copy keeps the
                        original's path with its own extension added: objects/minutes/1999.doc.pdf)

For each original of the chosen version, the DIP gives its access derivative (data/access/..., made by
`strongroom migrate`) when there is one; else the original itself when the migration policy lists its
format as access-fit; else the preservation master when that one's format is access-fit; else nothing,
and the index says the record has no access copy yet.

Who sees what follows search (strongroom/search/base.py Role, strongroom/indexing.py effective_access):
a researcher gets open records only (a closed record whose opening date has come is open), archivists
and admins everything. A record a researcher may not see leaves no trace in the DIP: no byte, name,
title or path; it is only counted as withheld. A closed package is refused to a researcher outright.

Every file is checked against its recorded SHA-256 as it is read from storage; the DIP is built in a
hidden `.partial` folder beside its final place and renamed when complete (the zip likewise), so a
failure or interruption leaves nothing that looks finished.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from strongroom.commit import object_id
from strongroom.errors import IntegrityError, MetadataError, NotFound, StorageError, StrongroomError
from strongroom.indexing import PACKAGE_TARGET, effective_access
from strongroom.metadata.reader import read_mets
from strongroom.metadata.validate import MetsValidator
from strongroom.model import AccessRule, AccessStatus, DublinCore, FileRecord, FileRole, PackageSummary
from strongroom.preservation.actions import Purpose, derivative_source
from strongroom.preservation.policy import load_policy
from strongroom.records.closure import masked_title
from strongroom.records.viewing import stands_in
from strongroom.search.base import Role
from strongroom.storage.ocfl import CHUNK_SIZE, ObjectInventory

if TYPE_CHECKING:
    from strongroom.archive import Archive

StepProgress = Callable[[str, int, int | None], None]

NO_COPY = "no access copy yet: run strongroom migrate"
ACCESS_ELEMENT = "accessRights"  # dcterms:accessRights, rewritten from the access rules as they stand today
# Formats worth compressing in the zip; the rest (PDF, images, audio, video) are compressed already.
_DEFLATE_MIME = re.compile(r"^(text/|application/(xml|json|.*\+xml))")
_UNSAFE_FOLDER_CHARS = re.compile(r"[\x00-\x1f\x7f/\\]")
_COPY_THREADS = 4  # reads from storage are I/O-bound; a few at once keep a remote backend busy


class CopyKind:
    """What a DIP file is, as the index and the report name it."""

    ACCESS_COPY = "access copy"
    ORIGINAL = "original"
    PRESERVATION_MASTER = "preservation master"


class ClosedPackageError(StrongroomError):
    """The package is closed, and the DIP was asked for as someone who may not see closed records."""


@dataclass(frozen=True)
class DipFile:
    """One file given out: where it sits in the DIP, and what stored file it is a copy of."""

    path: str  # relative to the DIP folder: objects/minutes/1999.doc.pdf
    original: str  # the original record's path, relative to the bag's data/ folder
    source: str  # the stored file copied (the original itself, or its derivative), relative to data/
    kind: str  # a CopyKind value
    size: int
    sha256: str
    puid: str | None
    format_name: str | None
    mime: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path, "original": self.original, "source": self.source, "kind": self.kind,
            "size": self.size, "sha256": self.sha256, "puid": self.puid, "format": self.format_name, "mime": self.mime,
        }  # fmt: skip


@dataclass(frozen=True)
class MissingCopy:
    """A record the viewer may see that has nothing fit to give out yet."""

    original: str
    puid: str | None
    format_name: str | None

    def to_json(self) -> dict[str, Any]:
        return {"original": self.original, "puid": self.puid, "format": self.format_name, "note": NO_COPY}


@dataclass(frozen=True)
class DipReport:
    path: Path  # the DIP folder
    zip_path: Path | None
    package: str
    package_name: str
    version: int
    viewer: Role
    files: tuple[DipFile, ...]
    without_copy: tuple[MissingCopy, ...]
    withheld: int  # records the viewer may not see: counted, never named
    # the stand-in titles of withheld restricted records (the redacted title, or "Restricted record")
    withheld_restricted: tuple[str, ...] = ()

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "zip": str(self.zip_path) if self.zip_path else None, "package": self.package,
            "package_name": self.package_name, "version": self.version, "as": self.viewer.value,
            "files": len(self.files), "bytes": self.bytes, "withheld": self.withheld,
            "withheld_restricted": list(self.withheld_restricted),
            "without_copy": [c.to_json() for c in self.without_copy], "contents": [f.to_json() for f in self.files],
        }  # fmt: skip


# --- what goes in ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DipEntry:
    """One record shown in the DIP: its original, what is given for it (None: nothing yet) and its description."""

    original: FileRecord
    copy: FileRecord | None
    kind: str | None
    path: str | None  # in the DIP
    description: DublinCore | None  # the record's own Dublin Core, as the DIP gives it

    @property
    def title(self) -> str:
        own = self.description.first("title") if self.description else None
        return own or self.original.original_name.rpartition("/")[2] or self.original.path.rpartition("/")[2]


@dataclass(frozen=True)
class DipPlan:
    summary: PackageSummary
    version: int
    viewer: Role
    package_description: DublinCore  # target "objects"
    entries: tuple[DipEntry, ...]
    withheld: int
    withheld_titles: tuple[str, ...] = ()  # stand-in titles of the withheld records that have one


def may_see(rules: Sequence[AccessRule], path: str | None, viewer: Role, today: date) -> bool:
    """Whether `viewer` may see `path` (None: the package), as search decides it."""
    if viewer.sees_closed:
        return True
    rule = effective_access(rules, path)
    return rule is None or rule.is_open_on(today)


def _status_of(rules: Sequence[AccessRule]) -> str:
    rule = effective_access(rules, None)
    return rule.status.value if rule is not None else AccessStatus.CLOSED.value


def refuse_closed_package(summary: PackageSummary, rules: Sequence[AccessRule], viewer: Role, today: date) -> None:
    """ClosedPackageError when `viewer` may not see the package at all."""
    if not may_see(rules, None, viewer, today):
        raise ClosedPackageError(
            f"Package {summary.name} is {_status_of(rules)}: a DIP for the {viewer.value} role would hold nothing "
            "of it.",
            details=[
                "A closed package is given out to nobody outside the archive until it is opened "
                f"(strongroom access {summary.uuid} --status open --reason ...) or its opening date comes.",
                "An archivist can build an internal DIP with: --as archivist",
            ],
        )


def plan_dip(
    summary: PackageSummary,
    version: int,
    records: Sequence[FileRecord],
    descriptions: Sequence[DublinCore],
    rules: Sequence[AccessRule],
    viewer: Role,
    access_fit: frozenset[str],
    today: date,
) -> DipPlan:
    """Choose, for each original `viewer` may see, what to give out; count the ones withheld."""
    refuse_closed_package(summary, rules, viewer, today)
    copies: dict[tuple[Purpose, str], FileRecord] = {}
    for record in records:
        if record.role in (FileRole.ACCESS, FileRole.PRESERVATION):
            found = derivative_source(record.path)
            if found is not None:
                copies.setdefault(found, record)
    by_target = {d.target: d for d in descriptions}
    claimed = _Claims()
    entries: list[DipEntry] = []
    withheld = 0
    titles: list[str] = []
    for record in sorted((r for r in records if r.role is FileRole.ORIGINAL), key=lambda r: r.path):
        access = copies.get((Purpose.ACCESS, record.path))
        master = copies.get((Purpose.PRESERVATION, record.path))
        shown = may_see(rules, record.path, viewer, today)
        # A rule set on a derivative's own path counts too: either closed keeps the copy back.
        if access is not None and not may_see(rules, access.path, viewer, today):
            access = None
        if master is not None and not may_see(rules, master.path, viewer, today):
            master = None
        if not shown:
            withheld += 1
            rule = effective_access(rules, record.path)
            if stands_in(rule, today):
                titles.append(masked_title(rule.redacted_title if rule else None))
            continue
        copy, kind = _choose(record, access, master, access_fit)
        path = claimed.claim(_dip_path(copy), copy.uuid) if copy is not None else None
        own = by_target.get(record.path)  # a record's own description only; none is made up for it
        description = _with_access(own, effective_access(rules, record.path), today) if own else None
        entries.append(DipEntry(record, copy, kind, path, description))
    package_description = _with_access(by_target.get(PACKAGE_TARGET), effective_access(rules, None), today)
    return DipPlan(
        summary,
        version,
        viewer,
        package_description or DublinCore(PACKAGE_TARGET),
        tuple(entries),
        withheld,
        tuple(titles),
    )


def _choose(
    original: FileRecord, access: FileRecord | None, master: FileRecord | None, access_fit: frozenset[str]
) -> tuple[FileRecord | None, str | None]:
    if access is not None:
        return access, CopyKind.ACCESS_COPY
    if _puid(original) in access_fit:
        return original, CopyKind.ORIGINAL
    if master is not None and _puid(master) in access_fit:
        return master, CopyKind.PRESERVATION_MASTER
    return None, None


def _puid(record: FileRecord) -> str | None:
    return record.identification.puid if record.identification else None


def _with_access(description: DublinCore | None, rule: AccessRule | None, today: date) -> DublinCore | None:
    """A description with dcterms:accessRights as the record stands today (the stored one may be out of date)."""
    if description is None and rule is None:
        return None
    target = description.target if description else PACKAGE_TARGET
    elements = {k: v for k, v in (description.elements if description else {}).items() if k != ACCESS_ELEMENT}
    if rule is not None:
        if rule.is_open_on(today):
            opened = rule.status is not AccessStatus.OPEN and rule.opening_date is not None
            elements[ACCESS_ELEMENT] = (f"open since {rule.opening_date}" if opened else "open",)
        else:
            until = f" until {rule.opening_date.isoformat()}" if rule.opening_date else ""
            under = f" under {rule.exemption}" if rule.exemption else ""
            elements[ACCESS_ELEMENT] = (f"{rule.status.value}{until}{under}: {rule.reason}",)
    return DublinCore(target, elements) if elements else None


def _dip_path(copy: FileRecord) -> str:
    """Where a stored file goes in the DIP: a derivative at its original's path (with its own extension)."""
    path = copy.path
    for purpose in (Purpose.ACCESS, Purpose.PRESERVATION):
        prefix = f"{purpose.value}/"
        if copy.role is purpose.role and path.startswith(prefix):
            path = path[len(prefix) :]
    return path if path.startswith("objects/") else f"objects/{path}"


class _Claims:
    """DIP paths handed out so far; a second file at the same place (or inside a file) gets a distinct name."""

    def __init__(self) -> None:
        self._files: set[str] = set()
        self._folders: set[str] = set()

    def _free(self, path: str) -> bool:
        parts = path.split("/")
        parents = ["/".join(parts[:i]) for i in range(1, len(parts))]
        return path not in self._files and path not in self._folders and not any(p in self._files for p in parents)

    def claim(self, wanted: str, unique: str) -> str:
        path = _safe_relative(wanted)
        if not self._free(path):
            stem, dot, extension = path.rpartition(".")
            path = f"{stem}.{unique[:8]}{dot}{extension}" if dot and "/" not in extension else f"{path}.{unique[:8]}"
            if not self._free(path):
                raise StrongroomError(f"Two records of the package would both be given out as {path!r}.")
        self._files.add(path)
        parts = path.split("/")
        self._folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        return path


_SURROGATE = re.compile("[\udc80-\udcff]")
_REWRITTEN = re.compile("[\udc80-\udcff\\\\]")


def _safe_relative(path: str) -> str:
    """A catalog path as a DIP path: no empty, '.' or '..' part; undecodable name bytes and backslashes (a folder
    separator to Windows unzip tools) written as %XX."""
    parts = path.split("/")
    if any(part in ("", ".", "..") or "\x00" in part for part in parts):
        raise StrongroomError(
            f"The record path {path!r} cannot be written as a file safely.",
            details=["Run: strongroom verify on the package; its catalog or METS may be damaged."],
        )
    return _REWRITTEN.sub(_percent_byte, path)


def _percent_byte(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"%{code - 0xDC00 if code >= 0xDC80 else code:02X}"  # a surrogate escape stands for one raw byte


# --- building -------------------------------------------------------------------------------------------------


def build_dip(
    archive: Archive,
    ref: str,
    dest: Path,
    *,
    viewer_role: Role | str,
    zip_it: bool = False,
    version: int | None = None,
    progress: StepProgress | None = None,
    today: date | None = None,
) -> DipReport:
    """Build the DIP of one package version (default: the head) under `dest`, as `viewer_role` may see it.

    ClosedPackageError when the viewer may not see the package; StrongroomError when the DIP (or its zip)
    already exists at `dest`; IntegrityError when a stored file reads back different from its record.
    """
    viewer = viewer_role if isinstance(viewer_role, Role) else role_of(viewer_role)
    day = today or datetime.now(UTC).date()
    summary = archive.package(ref)
    oid = object_id(summary.uuid)
    inventory = archive.ocfl.inventory(oid)
    chosen = inventory.version(version)
    rules = archive.catalog.access_rules(summary.uuid)
    refuse_closed_package(summary, rules, viewer, day)  # before anything is read or written
    fit = frozenset(load_policy(archive.settings.home).settings.access_fit)
    name = dip_folder_name(summary)
    final = dest / name
    final_zip = dest / f"{name}.zip" if zip_it else None
    for target in (final, final_zip):
        if target is not None and (target.exists() or target.is_symlink()):
            raise StrongroomError(f"{target} already exists.", details=["Choose another destination or remove it."])
    if chosen.number == summary.version:  # the catalog holds the files of the version it last recorded
        records: Sequence[FileRecord] = list(archive.catalog.files(summary.uuid))
        descriptions: Sequence[DublinCore] = archive.catalog.descriptions(summary.uuid)
    else:
        records, descriptions = _version_records(archive, inventory, summary.uuid, chosen.number)
    plan = plan_dip(summary, chosen.number, records, descriptions, rules, viewer, fit, day)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"Cannot create the destination folder {dest}: {exc.strerror}.") from exc
    from strongroom.preservation.dip_render import write_index, write_mets  # it builds on this module's types

    partial = dest / f".{name}.{uuid.uuid4().hex[:8]}.partial"
    zip_partial: Path | None = None
    renamed = False
    try:
        partial.mkdir()
        files = _copy_files(archive, inventory, chosen.number, plan, partial, progress)
        organisation = archive.settings.organisation_name
        write_mets(partial / "METS.xml", plan, files, organisation)
        problems = MetsValidator().validate(partial / "METS.xml")
        if problems:  # a bug, never the user's doing: say so plainly rather than hand out a bad METS
            raise MetadataError(
                "The DIP's METS does not validate: " + "; ".join(p.describe() for p in problems[:10]),
                details=["This is a bug in Strongroom; please report it with the package's name."],
            )
        write_index(partial / "index.html", plan, files, organisation)
        if final_zip is not None:
            zip_partial = dest / f".{name}.zip.{uuid.uuid4().hex[:8]}.partial"
            _write_zip(partial, name, zip_partial, files, progress)
        if final.exists():
            raise StrongroomError(f"{final} appeared while the DIP was built.", details=["Remove it and run again."])
        partial.rename(final)
        renamed = True
        if final_zip is not None and zip_partial is not None:
            _publish(zip_partial, final_zip)
    except BaseException:
        shutil.rmtree(final if renamed else partial, ignore_errors=True)
        if zip_partial is not None:
            zip_partial.unlink(missing_ok=True)
        raise
    without = tuple(
        MissingCopy(e.original.path, _puid(e.original),
                    e.original.identification.format_name if e.original.identification else None)
        for e in plan.entries if e.copy is None
    )  # fmt: skip
    return DipReport(
        final,
        final_zip,
        summary.uuid,
        summary.name,
        chosen.number,
        viewer,
        files,
        without,
        plan.withheld,
        plan.withheld_titles,
    )


def role_of(name: str) -> Role:
    """The role called `name`, or StrongroomError listing the roles (never a silent fallback)."""
    try:
        return Role(name.strip().lower())
    except ValueError:
        raise StrongroomError(
            f"{name!r} is not a role.", details=[f"Give one of: {', '.join(r.value for r in Role)}."]
        ) from None


def dip_folder_name(summary: PackageSummary) -> str:
    """<package name>-<uuid8>-dip, the name made safe as one folder name."""
    cleaned = _SURROGATE.sub("_", _UNSAFE_FOLDER_CHARS.sub("_", summary.name)).strip(" .") or "package"
    return f"{cleaned[:100]}-{summary.uuid[:8]}-dip"


def _version_records(
    archive: Archive, inventory: ObjectInventory, package: str, number: int
) -> tuple[list[FileRecord], list[DublinCore]]:
    """Files and descriptions of an earlier version, from that version's own METS (the catalog holds the head's)."""
    logical = f"data/METS.{package}.xml"
    with tempfile.TemporaryDirectory(prefix="strongroom-dip-") as folder:
        copy = Path(folder) / "METS.xml"
        digest = inventory.version(number).state.get(logical)
        if digest is None:
            raise NotFound(f"Version {number} of package {package} has no METS document {logical!r}.")
        with copy.open("wb") as out:
            _copy_checked(archive, inventory, digest, logical, out)
        document = read_mets(copy)
    return sorted(document.files, key=lambda f: f.path), list(document.descriptions)


def _copy_checked(archive: Archive, inventory: ObjectInventory, digest: str, what: str, out: IO[bytes]) -> None:
    """Copy one stored file into `out`, its SHA-256 checked as it is read; IntegrityError when it differs."""
    key = inventory.content_key(digest)
    hasher = hashlib.sha256()
    with archive.ocfl.backend.open(key) as source:
        while chunk := source.read(CHUNK_SIZE):
            hasher.update(chunk)
            out.write(chunk)
    found = hasher.hexdigest()
    if found != digest.lower():
        raise IntegrityError(
            f"The stored copy of {what!r} is damaged: SHA-256 {found}, recorded {digest}. No DIP was written.",
            details=[
                f"Check the package with: strongroom verify {inventory.object_id.removeprefix('urn:uuid:')}",
                "Heal it from a replica with: strongroom repair PACKAGE, then build the DIP again.",
            ],
        )


def _copy_files(
    archive: Archive, inventory: ObjectInventory, number: int, plan: DipPlan, folder: Path,
    progress: StepProgress | None,
) -> tuple[DipFile, ...]:  # fmt: skip
    state = inventory.version(number).state
    wanted = [e for e in plan.entries if e.copy is not None and e.path is not None]
    total = len(wanted)

    def copy_one(entry: DipEntry) -> DipFile:
        record, path, kind = entry.copy, entry.path, entry.kind
        assert record is not None and path is not None and kind is not None
        digest = state.get(f"data/{record.path}")
        if digest is None or digest.lower() != record.sha256.lower():
            raise IntegrityError(
                f"Version {number} of package {plan.summary.name} stores {record.path!r} "
                + ("not at all" if digest is None else f"with SHA-256 {digest}, not {record.sha256} as catalogued")
                + ". No DIP was written.",
                details=[f"Run: strongroom verify {plan.summary.uuid}", "or rebuild the catalog: strongroom rebuild"],
            )
        target = folder.joinpath(*path.split("/"))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(os.fsencode(target), "xb") as out:
                _copy_checked(archive, inventory, digest, record.path, out)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise StorageError(f"Cannot write {target} for the DIP: {exc.strerror or exc}.") from exc
        ident = record.identification
        return DipFile(
            path, entry.original.path, record.path, kind, record.size, record.sha256.lower(),
            ident.puid if ident else None, ident.format_name if ident else None, ident.mime if ident else None,
        )  # fmt: skip

    done: dict[str, DipFile] = {}
    with ThreadPoolExecutor(max_workers=_COPY_THREADS) as pool:
        futures = [pool.submit(copy_one, entry) for entry in wanted]
        try:
            for future in as_completed(futures):
                result = future.result()
                done[result.path] = result
                if progress is not None:
                    progress("Copying access files", len(done), total)
        finally:
            for future in futures:
                future.cancel()
    return tuple(done[e.path] for e in wanted if e.path is not None)


# --- zip -----------------------------------------------------------------------------------------------------


def _write_zip(
    folder: Path, name: str, dest: Path, files: Sequence[DipFile], progress: StepProgress | None = None
) -> None:
    """The DIP folder as one zip, every entry under `name/`, written to `dest` (a new file)."""
    members = [("index.html", True), ("METS.xml", True)]
    members += [(f.path, bool(f.mime and _DEFLATE_MIME.match(f.mime))) for f in files]
    try:
        with open(dest, "xb") as raw, zipfile.ZipFile(raw, "w", strict_timestamps=False) as archive_zip:
            for done, (relative, deflate) in enumerate(members, 1):
                source = folder.joinpath(*relative.split("/"))
                info = zipfile.ZipInfo.from_file(source, f"{name}/{relative}", strict_timestamps=False)
                info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
                with open(source, "rb") as src, archive_zip.open(info, "w", force_zip64=True) as out:
                    shutil.copyfileobj(src, out, CHUNK_SIZE)
                if progress is not None:
                    progress("Zipping", done, len(members))
            raw.flush()
            os.fsync(raw.fileno())
    except OSError as exc:
        raise StorageError(f"Cannot write the zip {dest}: {exc.strerror or exc}.") from exc


def _publish(partial: Path, final: Path) -> None:
    """Give the finished zip its name, never replacing a file that appeared there meanwhile."""
    try:
        os.link(partial, final)
    except FileExistsError:
        raise StrongroomError(
            f"{final} appeared while the DIP was built.", details=["Remove it and run again."]
        ) from None
    except OSError:  # a file system without hard links: check, then rename
        if final.exists():
            raise StrongroomError(
                f"{final} appeared while the DIP was built.", details=["Remove it and run again."]
            ) from None
        partial.rename(final)
        return
    partial.unlink()


__all__ = [
    "NO_COPY", "ClosedPackageError", "CopyKind", "DipEntry", "DipFile", "DipPlan", "DipReport", "MissingCopy",
    "build_dip", "dip_folder_name", "may_see", "plan_dip", "refuse_closed_package",
]  # fmt: skip
