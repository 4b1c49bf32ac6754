"""Verify stored packages: every version of every package, against its OCFL inventory and its bag manifests.

Each content file is read once however many versions share it. Each version's
logical state is then checked as a bag: its manifests must list exactly its data
files with the digests the inventory holds, and the head version's files must have the
digests the catalog recorded at ingest. Each package x location check is one PREMIS
fixity-check event (naming every bad file), plus one failure event per damaged file of the
head version, appended to the journal (so `rebuild` keeps them) and recorded in the catalog.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from strongroom.commit import TAG_FILES, object_id
from strongroom.errors import IntegrityError, NotFound, StorageError, StrongroomError
from strongroom.locations import Location, LocationRole
from strongroom.manifests import parse_manifest
from strongroom.model import Agent, Event, FixityProblem, Mismatch, Missing, Outcome, PackageSummary, Unexpected
from strongroom.preservation.fixity import FixityMode, StoredFile, check_stored, sha256_of_object
from strongroom.replication import OBJECT_DECLARATION, version_inventory_digest
from strongroom.storage.base import LocalFiles, supports
from strongroom.storage.journal import JournalRecord
from strongroom.storage.ocfl import INVENTORY, OBJECT_NAMASTE, ObjectInventory
from strongroom.workers import default_workers

if TYPE_CHECKING:
    from strongroom.archive import Archive

StepProgress = Callable[[str, int, int | None], None]
RECORD_EVERY_CHECKS = 100
RECORD_EVERY_SECONDS = 30.0

NEXT_STEP = (
    "Restore the damaged file from a backup or another copy of the storage, then run verify again. "
    "Nothing has been changed."
)


@dataclass(frozen=True)
class PackageProblem:
    package: str
    problem: FixityProblem
    versions: tuple[int, ...] = ()  # the versions whose state holds the damaged file
    location: str = ""  # the storage location whose copy is damaged

    def describe(self) -> str:
        where = f" (version {', '.join(map(str, self.versions))})" if self.versions else ""
        place = f" [location {self.location}]" if self.location else ""
        return f"{self.problem.describe()}{where}{place}"

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "package": self.package,
            "location": self.location,
            "path": self.problem.path,
            "kind": self.problem.kind,
            "versions": list(self.versions),
        }
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
class CopyCheck:
    """One package's copy in one location, checked."""

    package: str
    name: str
    location: str
    catalog_version: int
    expected: bool  # the location should hold the package (a replica, or the catalog records a copy there)
    recorded: bool  # the catalog records a copy there
    found_version: int | None = None  # the head of the copy found; None: no copy there
    problems: list[PackageProblem] = field(default_factory=list)
    files: int = 0
    bytes_read: int = 0
    events: list[Event] = field(default_factory=list)
    read: bool = False  # storage was read (False: the copy is known to be absent, nothing to check)
    inventory_digest: str | None = None  # of the root inventory, when it could be read and parsed
    inventory_ok: bool = False  # that inventory is at the catalog's version and agrees with the catalog's files
    unreachable: str | None = None  # the location could not be read: nothing is known of this copy

    @property
    def good(self) -> bool:
        return not self.problems and self.found_version == self.catalog_version


@dataclass
class VerifyReport:
    mode: FixityMode
    checked: int = 0
    bytes_read: int = 0
    packages: int = 0
    versions: int = 0
    problems: list[PackageProblem] = field(default_factory=list)
    copies: list[CopyCheck] = field(default_factory=list)
    unreachable: dict[str, str] = field(default_factory=dict)  # location -> why it could not be opened
    location_count: int = 1  # how many locations the archive has (repair needs two)

    def add(self, check: CopyCheck) -> None:
        self.copies.append(check)
        self.problems.extend(check.problems)
        self.checked += check.files
        self.bytes_read += check.bytes_read
        if check.found_version:
            self.versions += check.found_version


def open_locations(archive: Archive, names: Sequence[str] | None, report: VerifyReport) -> list[Location]:
    """The named locations (all when None); ones that cannot be opened are noted in the report."""
    chosen = [archive.spec(n) for n in names] if names else list(archive.settings.all_locations)
    opened: list[Location] = []
    for spec in chosen:
        try:
            opened.append(archive.location(spec.name))
        except StrongroomError as err:
            report.unreachable[spec.name] = err.message
    return opened


def verify_packages(
    archive: Archive,
    summaries: Sequence[PackageSummary],
    operator: str,
    mode: FixityMode = FixityMode.FULL,
    progress: StepProgress | None = None,
    throttle: Callable[[int], None] | None = None,
    locations: Sequence[str] | None = None,
) -> VerifyReport:
    """Verify each package's copy in each location (all when `locations` is None); results are journalled."""
    report = VerifyReport(mode, location_count=len(archive.settings.all_locations))
    opened = open_locations(archive, locations, report)
    pairs = [(s, loc) for s in summaries for loc in opened]
    return verify_copies(archive, pairs, operator, mode, progress, throttle, report)


def verify_copies(
    archive: Archive,
    pairs: Sequence[tuple[PackageSummary, Location]],
    operator: str,
    mode: FixityMode = FixityMode.FULL,
    progress: StepProgress | None = None,
    throttle: Callable[[int], None] | None = None,
    report: VerifyReport | None = None,
) -> VerifyReport:
    """Check (package, location) pairs one by one; `throttle(bytes)` is called after each stored file is read."""
    report = report if report is not None else VerifyReport(mode)
    agents = archive.system_agents(operator)
    recorded = {(c.package, c.location) for c in archive.catalog.copies()} if pairs else set()
    # The catalog counts each package's current files; storage holds every version's files plus the bag's tag
    # files. So the total is an estimate for copies not yet opened, made exact as each inventory is read.
    later = sum(s.files for s, _ in pairs)
    seen: set[str] = set()
    pending: list[CopyCheck] = []  # journalled in batches: one journal object per copy would be many tiny files
    flushed = time.monotonic()
    try:
        for summary, location in pairs:
            if summary.uuid not in seen:
                seen.add(summary.uuid)
                report.packages += 1
            later -= summary.files
            known = (summary.uuid, location.name) in recorded
            check = check_copy(archive, summary, location, mode, progress, later, throttle,
                               recorded=known, done_before=report.checked)  # fmt: skip
            if check.unreachable is not None:
                report.unreachable.setdefault(location.name, check.unreachable)
            elif check.expected or check.found_version is not None:
                pending.append(check)
                report.add(check)
            if len(pending) >= RECORD_EVERY_CHECKS or time.monotonic() - flushed > RECORD_EVERY_SECONDS:
                record_checks(archive, pending, agents)
                pending, flushed = [], time.monotonic()
    finally:
        # Checks done before an interruption are still recorded.
        record_checks(archive, pending, agents)
    return report


def check_copy(
    archive: Archive,
    summary: PackageSummary,
    location: Location,
    mode: FixityMode = FixityMode.FULL,
    progress: StepProgress | None = None,
    later: int = 0,
    throttle: Callable[[int], None] | None = None,
    *,
    recorded: bool | None = None,
    done_before: int = 0,
) -> CopyCheck:
    """Check one package's copy in one location: every version, every byte, against the OCFL inventory,
    each version's bag manifests, and the catalog's record of the head version's files."""
    if recorded is None:
        recorded = any(c.location == location.name for c in archive.catalog.copies(package=summary.uuid))
    expected = recorded or location.spec.role is LocationRole.REPLICA
    check = CopyCheck(summary.uuid, summary.name, location.name, summary.version, expected, recorded)
    detail = f'program="Strongroom"; algorithm=SHA-256; mode={mode.value}; location={location.name}'
    started = datetime.now(UTC)

    def fail(problem: FixityProblem, versions: tuple[int, ...] = ()) -> None:
        check.problems.append(PackageProblem(summary.uuid, problem, versions, location.name))

    try:
        inventory = location.ocfl.inventory(object_id(summary.uuid))
    except NotFound:
        check.read = recorded
        root = location.ocfl.object_root(object_id(summary.uuid))
        remaining = sum(1 for _ in location.storage.list(root)) if recorded else 0
        if remaining:
            fail(Missing(root + "inventory.json", f"location {location.name} (its root inventory; {remaining} other "
                         "files of the package are still there)"))  # fmt: skip
        elif recorded:
            fail(Missing(summary.storage_key or summary.uuid, f"location {location.name} (the whole package is gone)"))
        elif expected:
            fail(Missing(summary.storage_key or summary.uuid,
                         f"location {location.name} (not copied there yet: run strongroom replicate)"))  # fmt: skip
        if recorded:
            check.events.append(_event(started, Outcome.FAILURE, detail, _summary_line(check, 0, 0), None,
                                       summary.version))  # fmt: skip
        return check
    except IntegrityError as err:
        check.read = True
        check.found_version = 0
        fail(Mismatch(f"{location.ocfl.object_root(object_id(summary.uuid))}inventory.json", "inventory",
                      "a valid OCFL inventory", err.message))  # fmt: skip
        check.events.append(_event(started, Outcome.FAILURE, detail, _summary_line(check, 0, 0), None,
                                   summary.version))  # fmt: skip
        return check
    except StorageError as err:
        # The location could not be read (down, refused, permissions): reported as unreachable, never
        # journalled as a failed fixity check, since nothing is known about the copy itself.
        check.unreachable = err.message
        return check
    check.read = True
    check.found_version = inventory.head
    check.inventory_digest = inventory.digest
    agrees = inventory.head == summary.version

    uses = _uses(inventory)
    head_files = list(archive.catalog.files(summary.uuid))  # read once: for sizes here, events below
    sizes = {f.sha256: f.size for f in head_files}
    stored = [
        StoredFile(inventory.root + path, path, digest, sizes.get(digest))
        for digest, paths in sorted(inventory.manifest.items())
        for path in paths
    ]
    damaged: dict[str, FixityProblem] = {}
    counter = [0]
    total = done_before + len(stored) + later  # done never passes it: this copy's files are all counted

    def step(n: int) -> None:
        counter[0] += n
        if progress:
            progress("Verifying", min(done_before + counter[0], total), total)

    for result in check_stored(location.storage, stored, mode, workers=_readers(location), progress=step):
        check.bytes_read += result.found_size or 0
        if throttle is not None:
            throttle(result.found_size or 0)
        if result.problem is not None:
            damaged[result.file.sha256] = result.problem
            fail(result.problem, tuple(sorted({v for v, _ in uses.get(result.file.sha256, ())})))
    check.files = len(stored)

    for version in inventory.versions:
        for bag_problem in _bag_problems(location, inventory, version.number, damaged):
            fail(bag_problem, (version.number,))
    for key in _unexpected_keys(location, inventory):
        fail(Unexpected(key, "the OCFL inventory"))
    for structure_problem in structure_problems(location, inventory):
        fail(structure_problem)

    head_state = inventory.version().state
    if inventory.head < summary.version:
        fail(Missing(f"v{summary.version}", f"location {location.name}, which holds version {inventory.head} "
                     "(run strongroom replicate)"))  # fmt: skip
    elif inventory.head > summary.version:
        fail(Unexpected(f"v{inventory.head}", f"the catalog, which knows version {summary.version}"))
    for record in head_files:
        logical = f"data/{record.path}"
        digest = head_state.get(logical)
        problem: FixityProblem | None = None
        if inventory.head != summary.version:
            problem = None  # compared above as a whole version
        elif digest is None:
            problem = Missing(logical, f"version {inventory.head} in location {location.name}")
            fail(problem, (inventory.head,))
            agrees = False
        elif digest != record.sha256:
            problem = Mismatch(logical, "sha256", record.sha256, f"{digest} in the inventory")
            fail(problem, (inventory.head,))
            agrees = False
        else:
            problem = damaged.get(digest)
        if problem is not None:
            check.events.append(
                _event(datetime.now(UTC), Outcome.FAILURE, detail, problem.describe(), record.uuid, inventory.head)
            )
    check.inventory_ok = agrees
    outcome = Outcome.FAILURE if check.problems else Outcome.SUCCESS
    check.events.append(
        _event(started, outcome, detail, _summary_line(check, len(stored), inventory.head), None, inventory.head)
    )
    return check


def record_check(archive: Archive, check: CopyCheck, agents: tuple[Agent, ...]) -> None:
    record_checks(archive, [check], agents)


def record_checks(archive: Archive, checks: Sequence[CopyCheck], agents: tuple[Agent, ...]) -> None:
    """Journal (as one batch) and catalog copy checks: their events, and each copy's last check."""
    keys = tuple(a.key for a in agents)
    stamped = [(c, [replace(e, agents=keys) for e in c.events]) for c in checks if c.events]
    records = [JournalRecord(c.package, e, agents, {"location": c.location}) for c, events in stamped for e in events]
    archive.journal.append(records)
    for check, events in stamped:
        archive.catalog.record_events(check.package, events, agents)
        when = events[-1].datetime
        outcome = Outcome.FAILURE if check.problems else Outcome.SUCCESS
        known = archive.catalog.record_copy_check(check.package, check.location, when, outcome, len(check.problems))
        if not known and check.found_version and check.good:
            # A sound copy the catalog did not know of (a location added with packages already in it).
            archive.catalog.record_copy(check.package, check.location, check.found_version, when)
            archive.catalog.record_copy_check(check.package, check.location, when, outcome, 0)


def _summary_line(check: CopyCheck, stored: int, versions: int) -> str:
    if not check.problems:
        return f"{stored} stored files checked across {versions} version(s) in location {check.location}, no problems"
    named = "; ".join(p.describe() for p in check.problems[:20])
    more = f"; and {len(check.problems) - 20} more" if len(check.problems) > 20 else ""
    return (
        f"{stored} stored files checked across {versions} version(s) in location {check.location}, "
        f"{len(check.problems)} problem(s): {named}{more}"
    )


def _uses(inventory: ObjectInventory) -> dict[str, list[tuple[int, str]]]:
    """digest -> (version, logical path) of every use."""
    uses: dict[str, list[tuple[int, str]]] = {}
    for version in inventory.versions:
        for path, digest in version.state.items():
            uses.setdefault(digest, []).append((version.number, path))
    return uses


def _bag_problems(
    location: Location, inventory: ObjectInventory, number: int, damaged: dict[str, FixityProblem]
) -> list[FixityProblem]:
    """Is version `number`'s logical state a complete bag whose manifests agree with the inventory?"""
    state = inventory.version(number).state
    problems: list[FixityProblem] = []
    for tag in TAG_FILES:
        if tag not in state:
            problems.append(Missing(tag, f"the BagIt layout of version {number}"))
    listed: dict[str, str] = {}
    for manifest in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
        if manifest not in state or state[manifest] in damaged:
            continue  # reported already
        try:
            with location.ocfl.open(inventory.object_id, manifest, number) as handle:
                listed.update(parse_manifest(handle.read().decode("utf-8")))
        except (UnicodeDecodeError, ValueError):
            problems.append(Mismatch(manifest, "format", "a BagIt manifest", "unreadable"))
        except StrongroomError as err:  # a read that failed: reported, and the rest of the check goes on
            problems.append(Mismatch(manifest, "read", "readable", err.message))
    for path, digest in sorted(listed.items()):
        if path not in state:
            problems.append(Missing(path, f"the manifests of version {number}"))
        elif state[path] != digest:
            problems.append(Mismatch(path, "sha256", digest, state[path]))
    for path in sorted(state):
        if path.startswith("data/") and path not in listed:
            problems.append(Unexpected(path, f"the manifests of version {number}"))
    return problems


def structure_problems(location: Location, inventory: ObjectInventory) -> list[FixityProblem]:
    """The object's own files: the declaration, and each version's inventory matching its sidecar (the head
    version's being the root inventory itself). Content is checked elsewhere; these are what repair and
    replication copy as they are, so a damaged one must never pass as sound."""
    problems: list[FixityProblem] = []
    root = inventory.root
    try:
        with location.storage.open(root + OBJECT_NAMASTE) as handle:
            declaration = handle.read(64)
        if declaration != OBJECT_DECLARATION:
            problems.append(Mismatch(root + OBJECT_NAMASTE, "content", repr(OBJECT_DECLARATION), repr(declaration)))
    except NotFound:
        problems.append(Missing(root + OBJECT_NAMASTE, "the OCFL object"))
    except StrongroomError as err:
        problems.append(Mismatch(root + OBJECT_NAMASTE, "read", "readable", err.message))
    for version in inventory.versions:
        key = f"{root}v{version.number}/{INVENTORY}"
        try:
            recorded = version_inventory_digest(location.storage, key)
            found = sha256_of_object(location.storage, key)[0]
        except NotFound as err:
            problems.append(Missing(key, f"the OCFL object ({err.message})"))
            continue
        except StrongroomError as err:
            problems.append(Mismatch(key, "read", "readable", err.message))
            continue
        if found != recorded:
            problems.append(Mismatch(key, "sha256", f"{recorded} (its sidecar)", found))
        elif version.number == inventory.head and found != inventory.digest:
            problems.append(Mismatch(key, "sha256", f"{inventory.digest} (the root inventory)", found))
    return problems


def _unexpected_keys(location: Location, inventory: ObjectInventory) -> list[str]:
    known = {"0=ocfl_object_1.1", "inventory.json", "inventory.json.sha256"}
    for version in inventory.versions:
        known |= {f"v{version.number}/inventory.json", f"v{version.number}/inventory.json.sha256"}
    for paths in inventory.manifest.values():
        known.update(paths)
    found = (key.removeprefix(inventory.root) for key in location.storage.list(inventory.root))
    return [inventory.root + key for key in found if key not in known]


def _event(
    when: datetime,
    outcome: Outcome,
    detail: str,
    outcome_detail: str,
    file_uuid: str | None,
    version: int | None,
    agents: tuple[str, ...] = (),
) -> Event:
    return Event(str(uuid.uuid4()), "fixity check", when, detail, outcome, outcome_detail, agents, file_uuid, version)


def _readers(location: Location) -> int:
    """Reader threads: one per core where reading is local (hashing is the work), more where each read
    waits on the network."""
    if supports(location.storage, LocalFiles):
        return max(1, default_workers())
    return 8
