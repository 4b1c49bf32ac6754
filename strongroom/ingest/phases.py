"""Ingest in three phases, shared by `strongroom ingest` (all in this process) and the "ingest" job (spread
over workers): plan, then chunks, then finalize (ingest/finalize.py).

plan: the transfer is prepared (safe unpacking) into a work folder, laid out, its supplied digests and bag
read, inner archives unpacked, system files left out; its files are cut into chunks of at most
`limits.files` files or `limits.bytes` bytes (a larger file is a chunk alone). The plan is written last and
atomically (`plan.json`): a plan run again after it finished returns the same chunks; one cut off halfway
left no plan.json, and starts again clean.

chunk n: for each of its files, everything a file needs: the copy into the bag, every digest the transfer's
checksum files need, identification, the check against the supplied digests, virus scan, characterisation
and text extraction. Its results go to `chunks/chunk-<n>.sqlite` (a StagedFiles, written under a temporary
name and renamed), so a chunk run twice, or cut off and run again, leaves one result; its copies are
overwritten, never doubled. Nothing outside the work folder changes (infected files are dealt with at
finalize).

The work folder is the ingest's staging folder, or a job's scratch folder that every worker host sees.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from strongroom.errors import StrongroomError, TransferError
from strongroom.fulltext.extract import TextExtractor, TextSettings
from strongroom.ingest.bag import BAG_TAG_FILES, SuppliedBag
from strongroom.ingest.checks import CheckSettings, CheckTools, check_files
from strongroom.ingest.inner import unpack_inner
from strongroom.ingest.layout import TransferEntry, TransferLayout, plan_layout
from strongroom.ingest.provenance import FileFacts
from strongroom.ingest.sources import PreparedTransfer, default_name, prepare_source
from strongroom.ingest.staged_files import StagedFiles
from strongroom.ingest.transfer_metadata import read_transfer_checksums
from strongroom.ingest.worker import FileTask, ensure_identifier, process_file
from strongroom.model import FileRecord, FileRole, FixityProblem, Mismatch, Unexpected
from strongroom.preservation.fixity import ExpectedDigest, SuppliedDigests

if TYPE_CHECKING:  # pipeline imports this module when it runs
    from strongroom.ingest.pipeline import IngestContext, IngestOptions

Progress = Callable[[str, int, int | None], None]
PLAN_FILE = "plan.json"
PROCESS_STEP = "Copying, identifying and checking files"  # the words progress shows while chunks run


@dataclass(frozen=True)
class ChunkLimits:
    files: int  # at most this many files in a chunk ...
    bytes: int  # ... or this many bytes, whichever comes first
    spread: int = 1  # cut into at least this many chunks where the files allow (a local pool's balance)

    def files_for(self, count: int) -> int:
        return min(self.files, max(MIN_CHUNK_FILES, -(-count // self.spread)))


DEFAULT_LIMITS = ChunkLimits(200, 256 * 1024**2)  # as [jobs] chunk_files and chunk_bytes default
MIN_CHUNK_FILES = 16  # below this, the chunk's own costs (its result file, opening the scanner) show


@dataclass(frozen=True)
class TransferPlan:
    """What plan found, as finalize needs it; JSON both ways. Per-chunk file lists are in plan/chunk-<n>.json."""

    package: str
    name: str
    source_name: str
    kind: str
    started: str  # ISO time the ingest began
    warnings: list[str]
    bag_info: dict[str, list[str]] | None  # the supplied bag's bag-info.txt; None: not a bag
    bag_algorithms: list[str]
    algorithms: list[str]  # every digest each file gets (sha256 and whatever the transfer supplied)
    problems: list[str]  # the supplied bag's own problems, described
    missing: list[str]  # files a checksum file or manifest named that are not in the transfer, described
    oxum: str | None  # a Payload-Oxum that disagrees, described (reported only when nothing else is wrong)
    left_out: list[str]  # system files left out
    unpacked: list[tuple[str, str, int]]  # inner archives unpacked: (path, kind, files)
    entries: int
    records: int  # originals: none refuses the transfer
    chunks: list[tuple[int, int]]  # (files, bytes) of each chunk

    @property
    def started_at(self) -> datetime:
        return datetime.fromisoformat(self.started)

    @property
    def is_bag(self) -> bool:
        return self.bag_info is not None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TransferPlan:
        fields = dict(data)
        fields["unpacked"] = [tuple(u) for u in data["unpacked"]]
        fields["chunks"] = [tuple(c) for c in data["chunks"]]
        return cls(**fields)


def package_for_job(job_id: str) -> str:
    """The package id of a job's ingest: fixed by the job, so finalize run twice finds its own package."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"strongroom:ingest-job:{job_id}"))


def file_uuid(package: str, path: str) -> str:
    """A file's uuid, from its package and path: a chunk run twice gives its files the same ids."""
    return str(uuid.uuid5(uuid.UUID(package), f"file:{path}"))


def chunk_path(work: Path, number: int) -> Path:
    return work / "chunks" / f"chunk-{number:06d}.sqlite"


def write_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Write under a temporary name, fsync, rename: readers see the whole file or none. `durable` False: no
    fsync (a staging folder that a crash discards anyway; the rename still keeps a half-written file out)."""
    temp = path.with_name(path.name + ".tmp")
    with temp.open("wb") as out:
        out.write(data)
        if durable:
            out.flush()
            os.fsync(out.fileno())
    os.replace(temp, path)
    if durable:
        _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_plan(work: Path) -> TransferPlan | None:
    """The finished plan in `work`, or None if plan has not finished there."""
    try:
        data = json.loads((work / PLAN_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return TransferPlan.from_json(data)


def require_plan(work: Path) -> TransferPlan:
    plan = read_plan(work)
    if plan is None:
        raise StrongroomError(f"The ingest's plan is missing from {work}.",
                              details=["The job's scratch folder was removed while it ran: ingest again."])  # fmt: skip
    return plan


# --- plan ---------------------------------------------------------------------------------------


def _expected_digests(prepared: PreparedTransfer, layout: TransferLayout) -> list[ExpectedDigest]:
    expected: list[ExpectedDigest] = []
    metadata_dirs = [prepared.root / "metadata", prepared.root / "data" / "metadata"]
    for folder in metadata_dirs:
        if folder.is_dir():
            expected.extend(read_transfer_checksums(folder))
    if prepared.bag is not None:
        by_source = {e.source: e.dest for e in layout.entries}
        for bag_path, digests in prepared.bag.payload.items():
            source = prepared.root / bag_path
            dest = by_source.get(source, f"(absent) {bag_path}")
            for algorithm, digest in digests.items():
                expected.append(
                    ExpectedDigest(dest, algorithm, digest.lower(), f"manifest-{algorithm}.txt", shown=bag_path)
                )
    return expected


def _bag_layout(prepared: PreparedTransfer) -> TransferLayout:
    bag = prepared.bag
    assert bag is not None
    layout = plan_layout(prepared.root, payload_root=prepared.root / "data", tag_metadata=prepared.root / "metadata")
    # The supplied bag's own tag files are evidence of the transfer: kept under logs/.
    for child in sorted(prepared.root.iterdir()):
        if child.is_file() and (child.name in BAG_TAG_FILES or child.name.startswith(("manifest-", "tagmanifest-"))):
            dest = f"logs/supplied-bag/{child.name}"
            layout.entries.append(TransferEntry(child, dest, FileRole.LOG, child.name))
    return layout


def _check_bag_extras(bag: SuppliedBag, prepared: PreparedTransfer, layout: TransferLayout) -> list[FixityProblem]:
    problems: list[FixityProblem] = list(bag.tag_problems)
    payload_root = prepared.root / "data"
    listed = {prepared.root / p for p in bag.payload}
    payload_files = [e for e in layout.entries if e.source.is_relative_to(payload_root)]
    for entry in payload_files:
        if entry.source not in listed:
            problems.append(Unexpected(entry.source.relative_to(prepared.root).as_posix(), "the bag's manifests"))
    return problems


def _clear(work: Path) -> None:
    """Empty the work folder: what a plan cut off halfway left behind goes before it starts again."""
    work.mkdir(parents=True, exist_ok=True)
    for child in work.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def cut_chunks(sizes: Sequence[int], limits: ChunkLimits) -> list[tuple[int, int]]:
    """(start, end) index ranges: at most `limits.files` files or `limits.bytes` bytes each; a larger file alone."""
    spans: list[tuple[int, int]] = []
    start = held = 0
    most = limits.files_for(len(sizes))
    for index, size in enumerate(sizes):
        if index > start and (index - start >= most or held + size > limits.bytes):
            spans.append((start, index))
            start, held = index, 0
        held += size
    if start < len(sizes):
        spans.append((start, len(sizes)))
    return spans


def plan_transfer(
    context: IngestContext, source: Path, options: IngestOptions, package: str, work: Path, limits: ChunkLimits,
    progress: Progress | None = None, durable: bool = True,
) -> TransferPlan:  # fmt: skip
    """Prepare the transfer in `work` and cut it into chunks; the same plan again if it is there already.
    `durable` False: the plan is not fsynced (a local staging folder, which a crash discards anyway)."""
    done = read_plan(work)
    if done is not None:
        return done
    name = options.name or default_name(source)
    if not name.strip() or "/" in name or name in (".", ".."):
        raise TransferError(f"{name!r} cannot be a package name.", details=["Give another with --name."])
    _clear(work)
    if progress:
        progress("Unpacking and listing the transfer", 0, None)
    started = datetime.now(UTC)
    prepared = prepare_source(source, work / "transfer", options.as_folder)
    warnings: list[str] = list(prepared.warnings)
    layout = _bag_layout(prepared) if prepared.bag else plan_layout(prepared.root)
    warnings += layout.warnings
    warnings += [f"empty folder {p} is not kept: a BagIt package holds files only" for p in layout.empty_folders]
    expected = _expected_digests(prepared, layout)
    # A system file that a bag manifest or checksum file lists is kept: its digest is
    # part of what the depositor vouched for, and dropping it would break that fixity.
    left_out = [] if context.keep_system_files else layout.leave_out_system_files({d.path for d in expected})
    inner = unpack_inner(layout, work / "inner", archives=context.unpack_archives,
                         disk_images=context.unpack_disk_images)  # fmt: skip
    warnings += inner.warnings
    problems: list[FixityProblem] = []
    if prepared.bag is not None:
        problems += _check_bag_extras(prepared.bag, prepared, layout)
    verifier = SuppliedDigests(expected)
    dests = {e.dest for e in layout.entries}
    verifier.seen = {path for path in verifier.by_path if path in dests}  # every file in the layout gets checked
    oxum: str | None = None
    if prepared.bag is not None and prepared.bag.oxum is not None:
        payload_root = prepared.root / "data"
        payload_bytes = sum(e.source.stat().st_size for e in layout.entries if e.source.is_relative_to(payload_root))
        octets, count = prepared.bag.oxum
        if octets != payload_bytes:
            oxum = Mismatch("bag-info.txt", "Payload-Oxum", f"{octets}.{count}", f"{payload_bytes}").describe()
    sizes = [e.source.stat().st_size for e in layout.entries]
    spans = cut_chunks(sizes, limits)
    renamed = {stored: original for original, stored in layout.renamed}
    (work / "plan").mkdir()
    for number, (start, end) in enumerate(spans):
        entries = layout.entries[start:end]
        chunk = {
            "entries": [[start + i, str(e.source), e.dest, e.role.value, e.original_name]
                        for i, e in enumerate(entries)],
            "expected": [[x.path, x.algorithm, x.digest, x.source, x.shown] for e in entries
                         for x in verifier.by_path.get(e.dest, ())],
            "renamed": {e.dest: renamed[e.dest] for e in entries if e.dest in renamed},
        }  # fmt: skip
        write_atomic(work / "plan" / f"chunk-{number:06d}.json", json.dumps(chunk).encode(), durable)
    plan = TransferPlan(
        package=package, name=name, source_name=source.name, kind=prepared.kind, started=started.isoformat(),
        warnings=warnings, bag_info={k: list(v) for k, v in prepared.bag.info.items()} if prepared.bag else None,
        bag_algorithms=list(prepared.bag.algorithms) if prepared.bag else [], algorithms=list(verifier.algorithms),
        problems=[p.describe() for p in problems], missing=[p.describe() for p in verifier.missing()], oxum=oxum,
        left_out=[e.dest for e in left_out], unpacked=list(inner.unpacked), entries=len(layout.entries),
        records=sum(1 for e in layout.entries if e.role is FileRole.ORIGINAL),
        chunks=[(end - start, sum(sizes[start:end])) for start, end in spans],
    )  # fmt: skip
    write_atomic(work / PLAN_FILE, json.dumps(plan.to_json()).encode(), durable)
    return plan


# --- chunks -------------------------------------------------------------------------------------


class ChunkTools:
    """What checking a chunk needs that is slow to set up: the characterisation tools found, and a text
    extractor (whose Tika server starts once), kept open for the chunks one process runs."""

    def __init__(self, checks: CheckSettings, text: TextSettings) -> None:
        self.checks = CheckTools(checks)
        self._text_settings = text
        self._text: TextExtractor | None = None

    def text(self) -> TextExtractor:
        if self._text is None:
            self._text = TextExtractor(self._text_settings)
        return self._text

    def close(self) -> None:
        if self._text is not None:
            self._text.close()
            self._text = None


class _ProcessTools:
    """The ChunkTools of this process, by settings: a worker process runs chunk after chunk of many jobs, and
    finding tools or starting Tika for each would cost seconds per chunk. Closed when the process exits."""

    held: ClassVar[dict[str, ChunkTools]] = {}

    @classmethod
    def get(cls, checks: CheckSettings, text: TextSettings) -> ChunkTools:
        key = repr((checks, text))
        tools = cls.held.get(key)
        if tools is None:
            import atexit
            from multiprocessing import util

            tools = cls.held[key] = ChunkTools(checks, text)
            atexit.register(tools.close)
            util.Finalize(tools, tools.close, exitpriority=10)  # pool processes skip atexit; this runs there
        return tools


def process_tools(context: IngestContext) -> ChunkTools:
    return _ProcessTools.get(context.checks, context.text)


@contextlib.contextmanager
def _chunk_result(work: Path, number: int, run: str, durable: bool) -> Iterator[StagedFiles]:
    """A new StagedFiles for chunk `number`, renamed into place only when the block ends without an error.

    Its temporary name is this run's own (`run`): another run of the same chunk at the same time (a lease that
    ran out under a slow worker) writes its own file, and whichever finishes renames a whole result into place.
    """
    final = chunk_path(work, number)
    final.parent.mkdir(exist_ok=True)
    temp = final.with_name(f"{final.name}.{run}.tmp")
    staged = StagedFiles(temp)
    try:
        yield staged
    except BaseException:
        staged.close()
        temp.unlink(missing_ok=True)
        raise
    staged.close()
    try:
        if durable:
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(temp, final)
    except FileNotFoundError:
        if not final.is_file():
            raise
        return  # another run finished first and took this run's file away with the leftovers: its result stands
    if durable:
        _fsync_dir(final.parent)
    for left in final.parent.glob(f"{final.name}.*.tmp"):  # left by runs of this chunk that were cut off
        left.unlink(missing_ok=True)


def run_chunk(
    context: IngestContext, work: Path, number: int, *, threads: int = 1, tools: ChunkTools | None = None,
    progress: Progress | None = None, durable: bool = True,
) -> int:  # fmt: skip
    """Process chunk `number` of the plan in `work`; returns its file count. Done already: nothing happens.

    `threads`: files scanned, characterised and text-extracted at once (tools run as subprocesses).
    `durable` False: its result is not fsynced (a local staging folder, which a crash discards anyway).
    """
    if chunk_path(work, number).is_file():
        return 0
    plan = require_plan(work)
    spec = json.loads((work / "plan" / f"chunk-{number:06d}.json").read_text(encoding="utf-8"))
    ensure_identifier(context.identifier_spec)
    tools = tools or process_tools(context)
    run = uuid.uuid4().hex
    if not durable:  # a local staging folder: no other run of this chunk can be writing there
        _run_chunk(context, plan, spec, work, number, (run, None), threads, tools, progress, durable)
        return len(spec["entries"])
    # A job's scratch folder: each copy is written here, then renamed into the bag whole.
    copying = work / "copying" / run
    copying.mkdir(parents=True)
    try:
        _run_chunk(context, plan, spec, work, number, (run, copying), threads, tools, progress, durable)
    finally:
        shutil.rmtree(copying, ignore_errors=True)
    return len(spec["entries"])


def _run_chunk(
    context: IngestContext, plan: TransferPlan, spec: dict[str, Any], work: Path, number: int,
    attempt: tuple[str, Path | None], threads: int, tools: ChunkTools, progress: Progress | None, durable: bool,
) -> None:  # fmt: skip
    run, copying = attempt
    verifier = SuppliedDigests(ExpectedDigest(*item) for item in spec["expected"])
    renamed: dict[str, str] = spec["renamed"]
    algorithms = tuple(plan.algorithms)
    data_dir = work / "bag" / "data"
    entries = spec["entries"]
    total = len(entries)
    with _chunk_result(work, number, run, durable) as staged:
        for done, (index, source, dest, role, name) in enumerate(entries, start=1):
            task = FileTask(index, Path(source), data_dir / dest, name, algorithms, True, replace=True,
                            staging=copying / str(index) if copying else None)  # fmt: skip
            result = process_file(task)
            supplied = verifier.check(dest, result.digests)
            record = FileRecord(
                uuid=file_uuid(plan.package, dest), path=dest, original_name=name, size=result.size,
                sha256=result.digests["sha256"], role=FileRole(role), identification=result.identification,
                modified=datetime.fromtimestamp(result.mtime, UTC),
            )  # fmt: skip
            staged.add(record, FileFacts(supplied, renamed.get(dest), datetime.now(UTC)))
            if progress:
                progress(PROCESS_STEP, done, total)
        staged.finish()
        checked = check_files(context.checks, staged, data_dir, progress, threads, tools.checks)
        text: dict[str, Any] | None = None
        if context.text.enabled:
            from strongroom.fulltext.derivatives import extract_staged

            infected = {path for path, _ in checked.infected}
            text = extract_staged(context.text, staged, data_dir, progress, threads, skip=infected,
                                  extractor=tools.text()).to_json()  # fmt: skip
        staged.set_meta("problems", [p.describe() for p in verifier.problems])
        staged.set_meta("checks", checked.to_json())
        staged.set_meta("text", text)
