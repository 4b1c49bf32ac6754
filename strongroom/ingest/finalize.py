"""The last phase of an ingest: the chunks' results gathered into version 1 of a package, then stored.

`gather` reads the chunk results in order; refuses the transfer for supplied-digest problems (mismatches,
missing files, a wrong Payload-Oxum) or, by [ingest] infected, for infected files (else it quarantines them);
then depositor metadata, METS and the bag's tag files. `store_build` commits it (Archive.commit), assigns its
retention schedule and, with [preservation] migrate_on_ingest, migrates it: the IngestReport `strongroom
ingest` prints. See phases.py for plan and chunks.
"""

from __future__ import annotations

import dataclasses
import itertools
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from strongroom.commit import TAG_FILES, VersionBuild
from strongroom.errors import StrongroomError, TransferError
from strongroom.fulltext.derivatives import TextOutcome
from strongroom.ingest.bagwriter import BagInfo, write_tag_files
from strongroom.ingest.checks import ChecksOutcome, settle_infected
from strongroom.ingest.layout import TransferLayout, require_records
from strongroom.ingest.phases import TransferPlan, chunk_path
from strongroom.ingest.pipeline import MAX_LISTED, IngestBuild, IngestContext, IngestOptions, IngestReport, Progress
from strongroom.ingest.provenance import IngestAgents, file_events, make_agents, package_event
from strongroom.ingest.staged_files import StagedFiles
from strongroom.ingest.transfer_metadata import TransferMetadata, parse_metadata_csv, parse_rights_csv
from strongroom.manifests import sha256_file
from strongroom.metadata.mets import MetsInput, write_mets
from strongroom.model import Agent, DublinCore, Event, FileRecord, FileRole, Outcome, PackageSummary
from strongroom.storage.sources import LinkableSources, ScratchSources

if TYPE_CHECKING:
    from strongroom.archive import Archive

PACKAGE_TARGET = "objects"  # the target of a description of the whole package


class KeptSources(LinkableSources):
    """Sources that storage leaves in place (copied, or hard-linked where it can): a job's finalize may run
    again after its worker died halfway through storing, and must find every file still there."""


def problems_error(what: str, lines: Sequence[str]) -> TransferError:
    shown = list(lines[:MAX_LISTED])
    if len(lines) > MAX_LISTED:
        shown.append(f"... and {len(lines) - MAX_LISTED} more")
    return TransferError(
        f"{what}: {len(lines)} problem(s); nothing was stored.",
        details=[*shown, "Fix or re-supply the files named above (or their checksums) and ingest again."],
    )


def gather(context: IngestContext, work: Path, plan: TransferPlan, options: IngestOptions, *,
           move_sources: bool, progress: Progress | None = None) -> IngestBuild:  # fmt: skip
    """Version 1 of the package, built in `work` from its chunks' results; nothing is stored yet.

    `move_sources`: storage may move the bag's files in (a one-off staging folder); otherwise it copies them,
    and a finalize run again finds them still there.
    """
    parts = [chunk_path(work, n) for n in range(len(plan.chunks))]
    absent = [p.name for p in parts if not p.is_file()]
    if absent:
        raise StrongroomError(
            f"The results of {len(absent)} chunk(s) of the ingest are missing: {', '.join(absent[:5])}.",
            details=["The job's scratch folder was changed while it ran: ingest again."],
        )
    mismatches: list[str] = []
    checks: list[ChecksOutcome] = []
    texts: list[TextOutcome] = []
    for part in parts:
        try:
            chunk = StagedFiles(part, existing=True)
            try:
                mismatches += chunk.meta("problems")
                checks.append(ChecksOutcome.from_json(chunk.meta("checks")))
                text = chunk.meta("text")
                if text is not None:
                    texts.append(TextOutcome.from_json(text))
            finally:
                chunk.close()
        except (sqlite3.DatabaseError, KeyError, TypeError, ValueError) as err:
            raise StrongroomError(
                f"The result of {part.stem} of the ingest cannot be read ({err}); nothing was stored.",
                details=["The job's scratch folder was damaged while it ran: ingest again."],
            ) from err
    problems = [*plan.problems, *mismatches, *plan.missing]
    if not problems and plan.oxum is not None:
        problems.append(plan.oxum)
    if problems:
        raise problems_error(f"The transfer {plan.source_name} failed its checksum checks", problems)
    if not plan.records:
        require_records(TransferLayout(), plan.source_name)  # raises: the transfer holds no records
    try:
        staged = StagedFiles.merged(work / "files.sqlite", parts)
    except sqlite3.DatabaseError as err:
        raise StrongroomError(
            f"The results of the ingest's chunks cannot be gathered ({err}); nothing was stored.",
            details=["The job's scratch folder was damaged while it ran: ingest again."],
        ) from err
    try:
        return _build(context, work, plan, options, staged, ChecksOutcome.merged(checks), texts, move_sources, progress)
    except BaseException:
        staged.close()
        raise


def _build(context: IngestContext, work: Path, plan: TransferPlan, options: IngestOptions, staged: StagedFiles,
           checked: ChecksOutcome, texts: list[TextOutcome], move_sources: bool,
           progress: Progress | None) -> IngestBuild:  # fmt: skip
    package = plan.package
    bag_dir = work / "bag"
    data_dir = bag_dir / "data"
    known_paths = {path for path, role, _puid in staged.paths() if role != FileRole.TEXT}
    settle_infected(context.checks, staged, data_dir, package, checked)
    warnings = [*plan.warnings, *checked.warnings]
    text_agents: list[Agent] = []
    if context.text.enabled:
        text = TextOutcome.merged(texts)
        warnings += text.warnings
        text_agents = text.agents
    payload_digest = staged.payload_digest()
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
    descriptions, description_warnings = _descriptions(metadata, options, plan.name)
    warnings += description_warnings

    agents = make_agents(context.organisation_name, context.organisation_id, options.operator, context.identifier)
    agents = dataclasses.replace(agents, checkers=(*checked.agents, *text_agents))
    if plan.left_out:
        warnings.append(
            f"{len(plan.left_out)} system file(s) (.DS_Store, Thumbs.db, __MACOSX/ ...) left out; "
            "set [ingest] keep_system_files = true to keep them"
        )
    started = plan.started_at
    package_events = _package_events(plan, agents, staged, warnings)
    package_events += _check_events(checked, agents)
    if plan.unpacked:
        listed = [f"{path} ({kind}) -> {path}.contents/ ({count} files)" for path, kind, count in plan.unpacked]
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
    # A new file, never a rewrite: storage may have hard-linked the one an earlier run of this step wrote.
    mets_path.unlink(missing_ok=True)

    def mets_progress(done: int, total: int | None) -> None:
        if progress:
            progress("Writing METS", done, total)

    write_mets(
        mets_path,
        MetsInput(
            uuid=package,
            name=plan.name,
            created=created,
            payload_sha256=payload_digest,
            organisation=agents.organisation,
            agents=agents.all(),
            package_events=package_events,
            rights=metadata.rights,
            descriptions=descriptions,
            source_metadata={k: tuple(v) for k, v in plan.bag_info.items()} if plan.bag_info else {},
            files=lambda: ((r, file_events(r, f, agents, started)) for r, f in staged),
            file_count=staged.count,
            derivation=staged.derivation,
            records=staged.records,
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
    info = BagInfo(package, plan.name, context.organisation_name, payload_bytes, staged.count + 1, 1, plan.is_bag)
    for tag_file in TAG_FILES:
        (bag_dir / tag_file).unlink(missing_ok=True)  # new files, as the METS above
    tag_digests = write_tag_files(bag_dir, state.items(), info)
    state.update(tag_digests)
    sizes[f"data/{mets_name}"] = mets_record.size
    sizes.update({name_: (bag_dir / name_).stat().st_size for name_ in tag_digests})
    title = descriptions[0].first("title")
    summary = PackageSummary(
        uuid=package, name=plan.name, created=created, files=staged.count + 1, bytes=payload_bytes,
        payload_sha256=payload_digest, storage_key="", title=title, indexed=False, version=1, updated=created,
    )  # fmt: skip
    build = VersionBuild(
        package=package,
        base_version=0,
        state=state,
        # Staging is scratch, discarded after the commit: storage may move its files in instead of copying.
        sources=ScratchSources(bag_dir, state) if move_sources else KeptSources(bag_dir, state),
        sizes=sizes,
        summary=summary,
        files=lambda: itertools.chain(staged.records(), [mets_record]),
        events=lambda: itertools.chain(
            package_events, (e for r, f in staged for e in file_events(r, f, agents, started))
        ),
        agents=agents.all(),
        descriptions=tuple(descriptions),
        message=f"Ingest of {plan.source_name} ({plan.kind})",
        operator=options.operator,
        claim_payload=not options.allow_duplicate,
    )
    return IngestBuild(build, plan.kind, staged.originals, warnings, staged, metadata.retention)


def store_build(archive: Archive, built: IngestBuild, options: IngestOptions,
                progress: Progress | None = None) -> IngestReport:  # fmt: skip
    """Commit a gathered build, assign its retention schedule, migrate at ingest if asked: the ingest's report."""
    from strongroom.records import retention

    try:
        # Refused here, before anything is stored, when its sources disagree or name an unknown schedule.
        planned = retention.plan_ingest_retention(archive, options.retention, built.retention,
                                                  built.build.descriptions)  # fmt: skip
        result = archive.commit(built.build, progress)
    finally:
        built.staged.close()
    warnings = list(built.warnings)
    if planned is not None:
        try:
            retention.assign_planned(archive, result.summary.uuid, planned, options.operator)
        except StrongroomError as err:  # the package is stored whole: say how to finish, do not hide it
            code = planned.schedule.code
            warnings.append(f"retention schedule {code} not assigned: {err.message}; assign it with: "
                            f"strongroom retention assign {result.summary.uuid} {code} --reason R")  # fmt: skip
    if result.index_error:
        warnings.append(result.index_error)
    warnings.extend(result.copy_warnings)
    s = result.summary
    report = IngestReport(
        package=s.uuid, name=s.name, files=s.files, bytes=s.bytes, originals=built.originals, kind=built.kind,
        warnings=tuple(warnings), indexed=result.indexed, storage_key=s.storage_key, version=s.version,
    )  # fmt: skip
    if not archive.settings.migrate_on_ingest:
        return report
    from strongroom.preservation.migrate import normalize_ingested

    # Version 1 keeps the originals exactly as received; their derivatives come as version 2.
    return normalize_ingested(archive, report, options.operator, progress)


# --- the parts of the package's METS ---------------------------------------------------------------


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


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


def _package_events(plan: TransferPlan, agents: IngestAgents, staged: StagedFiles, warnings: list[str]) -> list[Event]:
    everyone = (agents.system.key, agents.organisation.key, agents.operator.key)
    now = datetime.now(UTC)
    events = [
        package_event(
            "ingestion", plan.started_at, f"Transfer received as a {plan.kind}", Outcome.SUCCESS,
            f"{staged.originals} records, {staged.original_bytes} bytes; {staged.count} files in all", everyone,
        )
    ]  # fmt: skip
    if plan.is_bag:
        events.append(
            package_event(
                "validation", now, "Supplied BagIt bag validated against all its manifests "
                f"({', '.join(plan.bag_algorithms)}) and tag manifests", Outcome.SUCCESS,
                "bag valid; BagIt version of the supplied bag recorded in its bagit.txt under logs/supplied-bag/",
                (agents.system.key,),
            )
        )  # fmt: skip
    if plan.left_out:
        # Every path, however many: the event is the only trace those files were ever there.
        events.append(
            package_event(
                "filtering", now, "System files left out", Outcome.SUCCESS, "\n".join(plan.left_out), everyone,
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
            f"{plan.entries} files packaged", everyone,
        )
    )  # fmt: skip
    return events
