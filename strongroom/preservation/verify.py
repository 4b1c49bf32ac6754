"""Verify stored packages: every version of every package, against its OCFL inventory and its bag manifests.

Each content file is read once however many versions share it. Each version's
logical state is then checked as a bag: its manifests must list exactly its data
files with the digests the inventory holds. Results are PREMIS fixity-check events,
appended to the journal (so `rebuild` keeps them) and recorded in the catalog.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from strongroom.commit import TAG_FILES, object_id
from strongroom.errors import IntegrityError, NotFound, StorageError
from strongroom.manifests import parse_manifest
from strongroom.model import Agent, Event, FixityProblem, Mismatch, Missing, Outcome, PackageSummary, Unexpected
from strongroom.preservation.fixity import FixityMode, StoredFile, check_stored
from strongroom.storage.journal import JournalRecord
from strongroom.storage.ocfl import ObjectInventory

if TYPE_CHECKING:
    from strongroom.archive import Archive

StepProgress = Callable[[str, int, int | None], None]

NEXT_STEP = (
    "Restore the damaged file from a backup or another copy of the storage, then run verify again. "
    "Nothing has been changed."
)


@dataclass(frozen=True)
class PackageProblem:
    package: str
    problem: FixityProblem
    versions: tuple[int, ...] = ()  # the versions whose state holds the damaged file

    def describe(self) -> str:
        where = f" (version {', '.join(map(str, self.versions))})" if self.versions else ""
        return f"{self.problem.describe()}{where}"

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "package": self.package,
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
class VerifyReport:
    mode: FixityMode
    checked: int = 0
    bytes_read: int = 0
    packages: int = 0
    versions: int = 0
    problems: list[PackageProblem] = field(default_factory=list)


def verify_packages(
    archive: Archive,
    summaries: Sequence[PackageSummary],
    operator: str,
    mode: FixityMode = FixityMode.FULL,
    progress: StepProgress | None = None,
    throttle: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify packages one by one; `throttle(bytes)` is called after each stored file is read."""
    report = VerifyReport(mode)
    agents = archive.system_agents(operator)
    # The catalog counts each package's current files; storage holds every version's files plus the bag's tag
    # files. So the total is an estimate for packages not yet opened, made exact as each inventory is read.
    later = sum(s.files for s in summaries)
    for summary in summaries:
        report.packages += 1
        later -= summary.files
        events = _verify_package(archive, summary, report, agents, mode, progress, later, throttle)
        records = [JournalRecord(summary.uuid, event, agents) for event in events]
        archive.journal.append(records)
        archive.catalog.record_events(summary.uuid, events, agents)
    return report


def _verify_package(
    archive: Archive,
    summary: PackageSummary,
    report: VerifyReport,
    agents: tuple[Agent, ...],
    mode: FixityMode,
    progress: StepProgress | None,
    later: int,
    throttle: Callable[[int], None] | None = None,
) -> list[Event]:
    keys = tuple(a.key for a in agents)
    detail = f'program="Strongroom"; algorithm=SHA-256; mode={mode.value}'
    started = datetime.now(UTC)

    def fail(problem: FixityProblem, versions: tuple[int, ...] = ()) -> None:
        report.problems.append(PackageProblem(summary.uuid, problem, versions))

    try:
        inventory = archive.ocfl.inventory(object_id(summary.uuid))
    except NotFound:
        gone = Missing(summary.storage_key or summary.uuid, "the catalog (the whole package is missing from storage)")
        fail(gone)
        return [_event(started, Outcome.FAILURE, detail, gone.describe(), keys, None, summary.version)]
    except (IntegrityError, StorageError) as err:
        broken = Mismatch(f"{summary.storage_key}inventory.json", "inventory", "a valid OCFL inventory", err.message)
        fail(broken)
        return [_event(started, Outcome.FAILURE, detail, broken.describe(), keys, None, summary.version)]
    report.versions += inventory.head

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

    total = report.checked + len(stored) + later  # done never passes it: this package's files are all counted

    def step(n: int) -> None:
        counter[0] += n
        if progress:
            progress("Verifying", min(report.checked + counter[0], total), total)

    for check in check_stored(archive.storage, stored, mode, workers=4, progress=step):
        report.bytes_read += check.found_size or 0
        if throttle is not None:
            throttle(check.found_size or 0)
        if check.problem is not None:
            damaged[check.file.sha256] = check.problem
            fail(check.problem, tuple(sorted({v for v, _ in uses.get(check.file.sha256, ())})))
    report.checked += len(stored)

    bag_problems = 0
    for version in inventory.versions:
        for bag_problem in _bag_problems(archive, inventory, version.number, damaged):
            bag_problems += 1
            fail(bag_problem, (version.number,))
    extra = _unexpected_keys(archive, inventory)
    for key in extra:
        fail(Unexpected(key, "the OCFL inventory"))

    events: list[Event] = []
    head_state = inventory.version().state
    for record in head_files:
        logical = f"data/{record.path}"
        digest = head_state.get(logical)
        problem: FixityProblem | None = damaged.get(digest) if digest else Missing(logical, f"version {inventory.head}")
        events.append(
            _event(
                datetime.now(UTC), Outcome.FAILURE if problem else Outcome.SUCCESS, detail,
                problem.describe() if problem else f"sha256 {record.sha256} matches" if mode is FixityMode.FULL
                else f"present, {record.size} bytes", keys, record.uuid, inventory.head,
            )
        )  # fmt: skip
    failures = len(damaged) + bag_problems + len(extra)
    outcome = Outcome.FAILURE if failures else Outcome.SUCCESS
    events.append(
        _event(
            started, outcome, detail,
            f"{len(stored)} stored files checked across {inventory.head} version(s), {failures} problem(s)",
            keys, None, inventory.head,
        )
    )  # fmt: skip
    return events


def _uses(inventory: ObjectInventory) -> dict[str, list[tuple[int, str]]]:
    """digest -> (version, logical path) of every use."""
    uses: dict[str, list[tuple[int, str]]] = {}
    for version in inventory.versions:
        for path, digest in version.state.items():
            uses.setdefault(digest, []).append((version.number, path))
    return uses


def _bag_problems(
    archive: Archive, inventory: ObjectInventory, number: int, damaged: dict[str, FixityProblem]
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
            with archive.ocfl.open(inventory.object_id, manifest, number) as handle:
                listed.update(parse_manifest(handle.read().decode("utf-8")))
        except (UnicodeDecodeError, ValueError):
            problems.append(Mismatch(manifest, "format", "a BagIt manifest", "unreadable"))
    for path, digest in sorted(listed.items()):
        if path not in state:
            problems.append(Missing(path, f"the manifests of version {number}"))
        elif state[path] != digest:
            problems.append(Mismatch(path, "sha256", digest, state[path]))
    for path in sorted(state):
        if path.startswith("data/") and path not in listed:
            problems.append(Unexpected(path, f"the manifests of version {number}"))
    return problems


def _unexpected_keys(archive: Archive, inventory: ObjectInventory) -> list[str]:
    known = {"0=ocfl_object_1.1", "inventory.json", "inventory.json.sha256"}
    for version in inventory.versions:
        known |= {f"v{version.number}/inventory.json", f"v{version.number}/inventory.json.sha256"}
    for paths in inventory.manifest.values():
        known.update(paths)
    found = (key.removeprefix(inventory.root) for key in archive.storage.list(inventory.root))
    return [inventory.root + key for key in found if key not in known]


def _event(
    when: datetime,
    outcome: Outcome,
    detail: str,
    outcome_detail: str,
    agents: tuple[str, ...],
    file_uuid: str | None,
    version: int | None,
) -> Event:
    return Event(str(uuid.uuid4()), "fixity check", when, detail, outcome, outcome_detail, agents, file_uuid, version)
