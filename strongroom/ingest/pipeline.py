"""The ingest pipeline: a transfer in, version 1 of a new package (an IngestBuild) out.

Three phases, the same for `strongroom ingest` and the "ingest" job (ingest/job.py), one code path:
plan (ingest/phases.py: safe unpack, layout, supplied digests, chunks), chunks (phases.py: per file copy +
every digest + identification, one read; the supplied digests checked; virus scan, characterisation and
text extraction), finalize (ingest/finalize.py: checksum verdict, depositor metadata, METS, bag tag files).
Here `build_package` runs them all in this process, the chunks spread over a local process pool.
The archive then commits the build (storage -> catalog -> index); this module never touches storage,
the catalog or the index.

A failure at any step leaves only a staging folder, removed at once or by the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from strongroom.commit import VersionBuild
from strongroom.formats import IdentifierDescription, IdentifierSpec
from strongroom.fulltext.extract import TextSettings
from strongroom.ingest.checks import CheckSettings
from strongroom.ingest.staged_files import StagedFiles

if TYPE_CHECKING:
    from strongroom.ingest.phases import ChunkLimits

Progress = Callable[[str, int, int | None], None]
MAX_LISTED = 200


@dataclass(frozen=True)
class IngestOptions:
    name: str | None = None
    description: dict[str, tuple[str, ...]] = field(default_factory=dict)  # dc element -> values
    allow_duplicate: bool = False
    operator: str = "unknown"
    as_folder: bool = False  # take a folder that looks like a BagIt bag as plain files, without bag checks
    retention: str | None = None  # the retention schedule code to assign once stored (--retention)


@dataclass(frozen=True)
class IngestReport:
    package: str
    name: str
    files: int
    bytes: int
    originals: int
    kind: str
    warnings: tuple[str, ...]
    indexed: bool
    storage_key: str
    version: int = 1
    normalization: tuple[str, ...] = ()  # what migrating at ingest did ([preservation] migrate_on_ingest), line by line


@dataclass(frozen=True)
class IngestContext:
    """What an ingest needs from the archive it feeds, passed in rather than reached for."""

    organisation_name: str
    organisation_id: str
    worker_count: int
    parallel_from_files: int
    identifier_spec: IdentifierSpec
    identifier: IdentifierDescription
    keep_system_files: bool = False  # [ingest] keep_system_files: store .DS_Store, Thumbs.db, __MACOSX/ ...
    checks: CheckSettings = field(default_factory=CheckSettings)  # virus scanning and characterisation
    unpack_archives: bool = False  # [ingest] unpack_archives: zip/tar/7z records also unpacked beside themselves
    unpack_disk_images: bool = False  # [ingest] unpack_disk_images: the same for ISO 9660 images
    text: TextSettings = field(default_factory=TextSettings)  # [ingest] extract_text and its limits


@dataclass
class IngestBuild:
    """A package built in a staging folder, ready for the archive to commit."""

    build: VersionBuild
    kind: str
    originals: int
    warnings: list[str]
    staged: StagedFiles
    retention: str | None = None  # the schedule code metadata.csv gives the whole transfer (its `retention` column)


def build_package(
    context: IngestContext,
    source: Path,
    options: IngestOptions,
    package: str,
    staging: Path,
    progress: Progress | None = None,
) -> IngestBuild:
    """Check a transfer and build version 1 of a new package in `staging`; nothing is stored yet."""
    from strongroom.ingest.finalize import gather
    from strongroom.ingest.phases import plan_transfer

    # No fsync of plan and chunk results here: a crash discards the staging folder with them.
    plan = plan_transfer(context, source, options, package, staging, local_limits(context), progress, durable=False)
    run_chunks_here(context, staging, plan.chunks, plan.entries, progress)
    return gather(context, staging, plan, options, move_sources=True, progress=progress)


def local_limits(context: IngestContext) -> ChunkLimits:
    """Chunks for a pool on this machine: small enough that every worker has several (a balanced load, and
    progress that moves), never above the job defaults; a small transfer runs in this process anyway."""
    from strongroom.ingest.phases import DEFAULT_LIMITS, ChunkLimits

    return ChunkLimits(DEFAULT_LIMITS.files, DEFAULT_LIMITS.bytes, spread=max(1, context.worker_count) * 4)


def run_chunks_here(context: IngestContext, work: Path, chunks: list[tuple[int, int]], total: int,
                    progress: Progress | None = None) -> None:  # fmt: skip
    """Run every chunk of the plan in `work`: in this process for a small transfer (files counted one by one),
    else over a pool of worker processes, each of which runs whole chunks (files counted a chunk at a time)."""
    from strongroom.ingest.phases import PROCESS_STEP, ChunkTools, run_chunk

    if progress:
        progress(PROCESS_STEP, 0, total)
    # Starting worker processes costs about a second; a small transfer is done sooner in-process.
    workers = min(context.worker_count, len(chunks)) if total >= context.parallel_from_files else 1
    if workers <= 1:
        tools = ChunkTools(context.checks, context.text)
        try:
            offset = 0
            for number, (files, _bytes) in enumerate(chunks):

                def step(words: str, done: int, of: int | None, base: int = offset) -> None:
                    # The chunk's own steps (scanning, characterising, extracting text) keep their words; each
                    # counts the chunk's files, shown as its share of the transfer like the copying.
                    if progress:
                        progress(words, base + done if of is not None else done, total if of is not None else None)

                run_chunk(context, work, number, threads=context.worker_count, tools=tools, progress=step,
                          durable=False)  # fmt: skip
                offset += files
        finally:
            tools.close()
        return
    from strongroom.ingest.worker import init_worker
    from strongroom.workers import bounded_map, make_pool

    executor = make_pool(workers, init_worker, (context.identifier_spec,))
    try:
        done = 0
        calls = ((context, work, number) for number in range(len(chunks)))
        for number, _ in enumerate(bounded_map(executor, _pool_chunk, calls, workers * 2)):
            done += chunks[number][0]
            if progress:
                progress(PROCESS_STEP, done, total)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _pool_chunk(call: tuple[IngestContext, Path, int]) -> int:
    from strongroom.ingest.phases import run_chunk

    context, work, number = call
    return run_chunk(context, work, number, durable=False)
