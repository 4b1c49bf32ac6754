"""The ingest pipeline: a transfer in, version 1 of a new package (a VersionBuild) out.

source -> safe unpack -> layout -> copy+hash+identify (parallel, one read per file)
-> supplied checksums and bag manifests verified -> virus scan and characterisation
-> the originals' text kept as derivatives -> depositor metadata -> METS -> bag tag files.
The archive then commits the build (storage -> catalog -> index); this module never
touches storage, the catalog or the index.

A failure at any step leaves only a staging folder, removed at once or by the next run.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from strongroom.commit import VersionBuild
from strongroom.errors import TransferError
from strongroom.formats import IdentifierDescription, IdentifierSpec
from strongroom.fulltext.extract import TextSettings
from strongroom.ingest.bag import BAG_TAG_FILES, SuppliedBag
from strongroom.ingest.bagwriter import BagInfo, write_tag_files
from strongroom.ingest.checks import CheckSettings, ChecksOutcome, run_checks
from strongroom.ingest.inner import unpack_inner
from strongroom.ingest.layout import TransferEntry, TransferLayout, plan_layout, require_records
from strongroom.ingest.provenance import FileFacts, IngestAgents, file_events, make_agents, package_event
from strongroom.ingest.sources import PreparedTransfer, default_name, prepare_source
from strongroom.ingest.staged_files import StagedFiles
from strongroom.ingest.transfer_metadata import (
    TransferMetadata,
    parse_metadata_csv,
    parse_rights_csv,
    read_transfer_checksums,
)
from strongroom.ingest.worker import FileTask, make_executor, process_files
from strongroom.manifests import sha256_file
from strongroom.metadata.mets import MetsInput, write_mets
from strongroom.model import (
    Agent,
    DublinCore,
    Event,
    FileRecord,
    FileRole,
    FixityProblem,
    Mismatch,
    Outcome,
    PackageSummary,
    Unexpected,
)
from strongroom.preservation.fixity import ExpectedDigest, SuppliedDigests
from strongroom.storage.sources import ScratchSources
from strongroom.workers import batched, bounded_map

Progress = Callable[[str, int, int | None], None]
MAX_LISTED = 200
PACKAGE_TARGET = "objects"  # the target of a description of the whole package


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


def _problems_error(what: str, problems: Sequence[FixityProblem]) -> TransferError:
    lines = [p.describe() for p in problems[:MAX_LISTED]]
    if len(problems) > MAX_LISTED:
        lines.append(f"... and {len(problems) - MAX_LISTED} more")
    return TransferError(
        f"{what}: {len(problems)} problem(s); nothing was stored.",
        details=[*lines, "Fix or re-supply the files named above (or their checksums) and ingest again."],
    )


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


def _descriptions(metadata: TransferMetadata, options: IngestOptions, name: str) -> tuple[list[DublinCore], list[str]]:
    """The package's descriptions, with the archivist's values added to the depositor's; and warnings.

    The package-level description stays one (the catalog keeps one per target): every value
    of metadata.csv is kept, and an element the archivist gives (--title, --creator) lists
    the archivist's values first, then the depositor's. So the catalog and search title is
    the archivist's, and the depositor's title is still in the METS beside it.
    """
    descriptions = [d for d in metadata.descriptions if d.target != PACKAGE_TARGET]
    package_level = next((d for d in metadata.descriptions if d.target == PACKAGE_TARGET), None)
    supplied = dict(package_level.elements) if package_level else {}
    elements = dict(supplied)
    warnings: list[str] = []
    for element, values in options.description.items():
        if not values:
            continue
        theirs = supplied.get(element, ())
        elements[element] = (*values, *(v for v in theirs if v not in values))
        if any(v not in values for v in theirs):
            warnings.append(
                f"metadata.csv gives the whole transfer a {element} too: {', '.join(map(repr, theirs))} is kept "
                f"after the {element} given with --{element} ({', '.join(map(repr, values))})"
            )
    elements.setdefault("title", (name,))
    descriptions.insert(0, DublinCore(PACKAGE_TARGET, elements))
    return descriptions, warnings


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
    name = options.name or default_name(source)
    if not name.strip() or "/" in name or name in (".", ".."):
        raise TransferError(f"{name!r} cannot be a package name.", details=["Give another with --name."])
    started = datetime.now(UTC)
    prepared = prepare_source(source, staging, options.as_folder)
    warnings: list[str] = list(prepared.warnings)
    layout = _bag_layout(prepared) if prepared.bag else plan_layout(prepared.root)
    warnings += layout.warnings
    warnings += [f"empty folder {p} is not kept: a BagIt package holds files only" for p in layout.empty_folders]
    expected = _expected_digests(prepared, layout)
    # A system file that a bag manifest or checksum file lists is kept: its digest is
    # part of what the depositor vouched for, and dropping it would break that fixity.
    left_out = [] if context.keep_system_files else layout.leave_out_system_files({d.path for d in expected})
    inner = unpack_inner(layout, staging / "inner", archives=context.unpack_archives,
                         disk_images=context.unpack_disk_images)  # fmt: skip
    warnings += inner.warnings
    verifier = SuppliedDigests(expected)
    problems: list[FixityProblem] = []
    if prepared.bag is not None:
        problems += _check_bag_extras(prepared.bag, prepared, layout)

    bag_dir = staging / "bag"
    data_dir = bag_dir / "data"
    staged = StagedFiles(staging / "files.sqlite")
    renamed = dict((stored, original) for original, stored in layout.renamed)
    tasks = (
        FileTask(i, e.source, data_dir / e.dest, e.original_name, verifier.algorithms, True)
        for i, e in enumerate(layout.entries)
    )
    total = len(layout.entries)
    # Starting worker processes costs about a second; a small transfer is done sooner in-process.
    workers = context.worker_count if total >= context.parallel_from_files else 1
    executor = make_executor(workers, context.identifier_spec)
    try:
        window = max(4, context.worker_count * 4)
        results = (r for batch in bounded_map(executor, process_files, batched(tasks, 16), window) for r in batch)
        for done, result in enumerate(results, start=1):
            entry = layout.entries[result.index]
            supplied = verifier.check(entry.dest, result.digests)
            record = FileRecord(
                uuid=str(uuid.uuid4()),
                path=entry.dest,
                original_name=entry.original_name,
                size=result.size,
                sha256=result.digests["sha256"],
                role=entry.role,
                identification=result.identification,
                modified=datetime.fromtimestamp(result.mtime, UTC),
            )
            staged.add(record, FileFacts(supplied, renamed.get(entry.dest), datetime.now(UTC)))
            if progress:
                progress("Hashing and identifying", done, total)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    staged.finish()
    problems += verifier.problems + verifier.missing()
    if prepared.bag is not None and prepared.bag.oxum is not None:
        payload_root = prepared.root / "data"
        payload_bytes = sum(e.source.stat().st_size for e in layout.entries if e.source.is_relative_to(payload_root))
        octets, count = prepared.bag.oxum
        if not problems and octets != payload_bytes:
            problems.append(Mismatch("bag-info.txt", "Payload-Oxum", f"{octets}.{count}", f"{payload_bytes}"))
    if problems:
        raise _problems_error(f"The transfer {source.name} failed its checksum checks", problems)
    require_records(layout, source.name)
    checked = run_checks(context.checks, staged, data_dir, package, progress, context.worker_count)
    warnings += checked.warnings
    text_agents: list[Agent] = []
    if context.text.enabled:
        from strongroom.fulltext.derivatives import extract_staged  # imported on use: ingests without text skip it

        texts = extract_staged(context.text, staged, data_dir, progress, context.worker_count)
        warnings += texts.warnings
        text_agents = texts.agents

    payload_digest = staged.payload_digest()
    known_paths = {e.dest for e in layout.entries}
    known_folders = {"objects"} | {p for d in known_paths for p in _parents(d)}
    metadata = TransferMetadata()
    for csv_name, parser in (("metadata.csv", parse_metadata_csv), ("rights.csv", parse_rights_csv)):
        csv_path = data_dir / "metadata" / csv_name
        if csv_path.is_file():
            parsed = parser(csv_path, known_paths, known_folders)
            metadata.descriptions += parsed.descriptions
            metadata.rights += parsed.rights
            metadata.warnings += parsed.warnings
            metadata.retention = metadata.retention or parsed.retention
    warnings += metadata.warnings
    descriptions, description_warnings = _descriptions(metadata, options, name)
    warnings += description_warnings

    agents = make_agents(context.organisation_name, context.organisation_id, options.operator, context.identifier)
    agents = dataclasses.replace(agents, checkers=(*checked.agents, *text_agents))
    if left_out:
        warnings.append(
            f"{len(left_out)} system file(s) (.DS_Store, Thumbs.db, __MACOSX/ ...) left out; "
            "set [ingest] keep_system_files = true to keep them"
        )
    package_events = _package_events(prepared, agents, started, staged, layout, warnings, left_out)
    package_events += _check_events(checked, agents)
    if inner.unpacked:
        listed = [f"{path} ({kind}) -> {path}.contents/ ({count} files)" for path, kind, count in inner.unpacked]
        package_events.append(
            package_event(
                "unpacking", datetime.now(UTC), "Archives and disk images among the records unpacked beside "
                "themselves (each is also kept as received)", Outcome.SUCCESS,
                "\n".join(listed),
                (agents.system.key,),
            )
        )  # fmt: skip
    created = datetime.now(UTC)
    mets_name = f"METS.{package}.xml"
    mets_path = data_dir / mets_name
    if progress:
        progress("Writing METS", 0, staged.count)

    def mets_progress(done: int, total: int | None) -> None:
        if progress:
            progress("Writing METS", done, total)

    write_mets(
        mets_path,
        MetsInput(
            uuid=package,
            name=name,
            created=created,
            payload_sha256=payload_digest,
            organisation=agents.organisation,
            agents=agents.all(),
            package_events=package_events,
            rights=metadata.rights,
            descriptions=descriptions,
            source_metadata=prepared.bag.info if prepared.bag else {},
            files=lambda: ((r, file_events(r, f, agents, started)) for r, f in staged),
            file_count=staged.count,
            derivation=staged.derivation,
        ),
        mets_progress,
    )
    mets_record = _mets_record(mets_path, package)
    # The version's state and sizes, one key string shared by both: a large package holds them all.
    state: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for path, sha256, size in staged.digests():
        key = f"data/{path}"
        state[key] = sha256
        sizes[key] = size
    state[f"data/{mets_name}"] = mets_record.sha256
    payload_bytes = staged.bytes + mets_record.size
    info = BagInfo(
        package, name, context.organisation_name, payload_bytes, staged.count + 1, 1, prepared.bag is not None
    )
    tag_digests = write_tag_files(bag_dir, state.items(), info)
    state.update(tag_digests)
    sizes[f"data/{mets_name}"] = mets_record.size
    sizes.update({name_: (bag_dir / name_).stat().st_size for name_ in tag_digests})
    title = descriptions[0].first("title")
    summary = PackageSummary(
        uuid=package, name=name, created=created, files=staged.count + 1, bytes=payload_bytes,
        payload_sha256=payload_digest, storage_key="", title=title, indexed=False, version=1, updated=created,
    )  # fmt: skip
    build = VersionBuild(
        package=package,
        base_version=0,
        state=state,
        # Staging is scratch, discarded after the commit: storage may move its files in instead of copying.
        sources=ScratchSources(bag_dir, state),
        sizes=sizes,
        summary=summary,
        files=lambda: itertools.chain((r for r, _ in staged), [mets_record]),
        events=lambda: itertools.chain(
            package_events, (e for r, f in staged for e in file_events(r, f, agents, started))
        ),
        agents=agents.all(),
        descriptions=tuple(descriptions),
        message=f"Ingest of {source.name} ({prepared.kind})",
        operator=options.operator,
        claim_payload=not options.allow_duplicate,
    )
    return IngestBuild(build, prepared.kind, staged.originals, warnings, staged, metadata.retention)


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _mets_record(mets_path: Path, package: str) -> FileRecord:
    digest = sha256_file(mets_path)  # streamed: the METS of a large package runs to hundreds of MB
    return FileRecord(
        uuid=str(uuid.uuid5(uuid.UUID(package), "METS")), path=mets_path.name, original_name=mets_path.name,
        size=mets_path.stat().st_size, sha256=digest, role=FileRole.METADATA, identification=None,
    )  # fmt: skip


def _check_events(checked: ChecksOutcome, agents: IngestAgents) -> list[Event]:
    """Package-level events of the checks: a scan that did not run, and files quarantined."""
    now = datetime.now(UTC)
    events = []
    if checked.scan_skipped is not None:
        events.append(
            package_event("virus check", now, "No virus scanner ran", Outcome.WARNING, checked.scan_skipped,
                          (agents.system.key,))
        )  # fmt: skip
    if checked.quarantined:
        scanner = agents.checker("ClamAV")
        events.append(
            package_event(
                "quarantine", now, f'program="{checked.scanner}"; infected files moved out of the package',
                Outcome.SUCCESS, "\n".join(f"{path}: {signature}" for path, signature in checked.quarantined),
                tuple(k for k in (scanner, agents.system.key) if k),
            )
        )  # fmt: skip
    return events


def _package_events(
    prepared: PreparedTransfer,
    agents: IngestAgents,
    started: datetime,
    staged: StagedFiles,
    layout: TransferLayout,
    warnings: list[str],
    left_out: Sequence[TransferEntry] = (),
) -> list[Event]:
    everyone = (agents.system.key, agents.organisation.key, agents.operator.key)
    now = datetime.now(UTC)
    events = [
        package_event(
            "ingestion", started, f"Transfer received as a {prepared.kind}", Outcome.SUCCESS,
            f"{staged.originals} records, {staged.original_bytes} bytes; {staged.count} files in all", everyone,
        )
    ]  # fmt: skip
    if prepared.bag is not None:
        events.append(
            package_event(
                "validation", now, "Supplied BagIt bag validated against all its manifests "
                f"({', '.join(prepared.bag.algorithms)}) and tag manifests", Outcome.SUCCESS,
                "bag valid; BagIt version of the supplied bag recorded in its bagit.txt under logs/supplied-bag/",
                (agents.system.key,),
            )
        )  # fmt: skip
    if left_out:
        # Every path, however many: the event is the only trace those files were ever there.
        events.append(
            package_event(
                "filtering", now, "System files left out", Outcome.SUCCESS,
                "\n".join(e.dest for e in left_out), everyone,
            )
        )  # fmt: skip
    if warnings:
        events.append(
            package_event(
                "ingestion", now, "Warnings raised while ingesting", Outcome.WARNING,
                "\n".join(warnings[:MAX_LISTED]), everyone,
            )
        )  # fmt: skip
    events.append(
        package_event(
            "information package creation", now, "BagIt 1.0 AIP with METS/PREMIS created", Outcome.SUCCESS,
            f"{len(layout.entries)} files packaged", everyone,
        )
    )  # fmt: skip
    return events
