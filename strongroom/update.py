"""Metadata updates: a new package version with new descriptive metadata, nothing else copied.

The new version's METS carries everything the package's record holds by then: the
earlier descriptions that were not replaced, every event (the journal's included),
the access status of each record as `dcterms:accessRights`, and a PREMIS event
saying what changed and why. The supplied metadata.csv is kept in the bag as
evidence. The originals are referenced from the earlier version, never copied.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from strongroom.catalog.base import Catalog
from strongroom.commit import CommitResult, VersionBuild, object_id
from strongroom.errors import TransferError
from strongroom.formats import IdentifierSpec, make_identifier
from strongroom.indexing import PACKAGE_TARGET
from strongroom.ingest.bagwriter import BagInfo, write_tag_files
from strongroom.ingest.transfer_metadata import parse_metadata_csv
from strongroom.manifests import sha256_file
from strongroom.metadata.mets import MetsInput, read_mets, write_mets
from strongroom.model import (
    AccessRule,
    AccessStatus,
    Agent,
    AgentType,
    DublinCore,
    Event,
    FileRecord,
    FileRole,
    Outcome,
    PackageDocument,
    PackageSummary,
)
from strongroom.preservation.derivations import derivations_of
from strongroom.storage.ocfl import OcflStore

ACCESS_ELEMENT = "accessRights"


@dataclass(frozen=True)
class UpdateRequest:
    summary: PackageSummary
    metadata_csv: Path
    reason: str
    operator: str
    agents: tuple[Agent, ...]  # the system and the operator
    organisation_name: str
    identifier_spec: IdentifierSpec


@dataclass(frozen=True)
class UpdatePlan:
    build: VersionBuild
    targets: tuple[str, ...]  # what the new descriptions describe
    warnings: tuple[str, ...]


def access_text(rule: AccessRule) -> str:
    """How a record's access status reads in its Dublin Core (dcterms:accessRights)."""
    text = f"{rule.status.value}: {rule.reason}"
    if rule.status is AccessStatus.CLOSED and rule.opening_date is not None:
        text += f" (opens {rule.opening_date.isoformat()})"
    return text


def with_access(descriptions: Iterable[DublinCore], rules: Sequence[AccessRule]) -> list[DublinCore]:
    """Descriptions with each access rule written as dcterms:accessRights of its target."""
    by_target = {d.target: dict(d.elements) for d in descriptions}
    for elements in by_target.values():
        elements.pop(ACCESS_ELEMENT, None)
    for rule in rules:
        target = rule.path or PACKAGE_TARGET
        by_target.setdefault(target, {})[ACCESS_ELEMENT] = (access_text(rule),)
    ordered = sorted(by_target, key=lambda t: (t != PACKAGE_TARGET, t))
    return [DublinCore(t, {k: v for k, v in by_target[t].items()}) for t in ordered]


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def build_metadata_update(ocfl: OcflStore, catalog: Catalog, request: UpdateRequest, staging: Path) -> UpdatePlan:
    """Build the next version of a package with the descriptions of `request.metadata_csv`."""
    summary = request.summary
    package = summary.uuid
    oid = object_id(package)
    inventory = ocfl.inventory(oid)
    head = inventory.version()
    number = head.number + 1
    mets_logical = f"data/METS.{package}.xml"
    old_mets = staging / "previous-METS.xml"
    with ocfl.open(oid, mets_logical, head.number) as source, old_mets.open("wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)
    document = read_mets(old_mets)

    files = sorted((f for f in catalog.files(package) if f.path != mets_logical.removeprefix("data/")),
                   key=lambda f: f.path)  # fmt: skip
    known_paths = {f.path for f in files}
    known_folders = {PACKAGE_TARGET} | {p for path in known_paths for p in _parents(path)}
    parsed = parse_metadata_csv(request.metadata_csv, known_paths, known_folders)
    if not parsed.descriptions:
        raise TransferError(
            f"{request.metadata_csv} holds no descriptions of this package's records.",
            details=["Give rows of filename,dc.title,... naming objects, a folder or a file (as in metadata.csv)."],
        )
    targets = tuple(d.target for d in parsed.descriptions)
    current = {d.target: d for d in catalog.descriptions(package)}
    for description in parsed.descriptions:
        current[description.target] = description
    descriptions = with_access(current.values(), catalog.access_rules(package))

    now = datetime.now(UTC)
    bag_dir = staging / "bag"
    (bag_dir / "data").mkdir(parents=True)
    csv_logical = f"metadata/updates/v{number}-metadata.csv"
    csv_copy = bag_dir / "data" / csv_logical
    csv_copy.parent.mkdir(parents=True)
    shutil.copyfile(request.metadata_csv, csv_copy)
    identifier = make_identifier(request.identifier_spec)
    csv_record = FileRecord(
        uuid=str(uuid.uuid4()), path=csv_logical, original_name=request.metadata_csv.name,
        size=csv_copy.stat().st_size, sha256=sha256_file(csv_copy), role=FileRole.METADATA,
        identification=identifier.identify(csv_copy), modified=now,
    )  # fmt: skip
    keys = tuple(a.key for a in request.agents)
    event = Event(
        str(uuid.uuid4()), "metadata modification", now,
        f'program="Strongroom"; descriptive metadata from {request.metadata_csv.name}', Outcome.SUCCESS,
        f"{request.reason}. Described anew: {', '.join(targets)}. Version {number} made; the supplied file is kept "
        f"as {csv_logical}.", keys, None, number,
    )  # fmt: skip
    csv_path = f"data/{csv_logical}"
    build = assemble_version(
        VersionContent(
            summary=summary, number=number, previous=document, files=[*files, csv_record],
            events=[*catalog.events(package), event], agent_groups=[document.agents, catalog.agents(), request.agents],
            descriptions=descriptions, organisation_name=request.organisation_name, new_sources={csv_path: csv_copy},
            added_events=[event], message=f"Metadata update: {request.reason}", operator=request.operator, when=now,
        ),
        bag_dir,
    )  # fmt: skip
    return UpdatePlan(build, targets, tuple(parsed.warnings))


@dataclass(frozen=True)
class VersionContent:
    """Everything a later version of a package holds, for `assemble_version` to write as METS and bag tag files.

    `files` are every payload file but the METS (earlier ones referenced, new ones in `new_sources`, by logical
    path under the bag); `events` are all of the package's events, `added_events` those this version brings.
    """

    summary: PackageSummary
    number: int
    previous: PackageDocument  # the head version's METS, read back
    files: Sequence[FileRecord]
    events: Sequence[Event]
    agent_groups: Sequence[Iterable[Agent]]  # where agents come from, the earliest first
    descriptions: Sequence[DublinCore]
    organisation_name: str
    new_sources: Mapping[str, Path]
    added_events: Sequence[Event]
    message: str
    operator: str
    when: datetime


def assemble_version(content: VersionContent, bag_dir: Path) -> VersionBuild:
    """The next version of a package: its METS (every file, event and derivation link) and BagIt tag files are
    written under `bag_dir`, whose data/ already holds the new files; the rest is referenced from earlier versions.
    Metadata updates and migrations both build their versions here."""
    summary, package, number = content.summary, content.summary.uuid, content.number
    document, events = content.previous, content.events
    agents = _agents(content.agent_groups, events)
    organisation = next((a for a in agents if a.type is AgentType.ORGANIZATION), None) or Agent(
        "repository code", content.organisation_name, content.organisation_name, AgentType.ORGANIZATION
    )
    all_files = sorted(content.files, key=lambda f: f.path)
    by_file: dict[str, list[Event]] = {}
    for e in events:
        if e.file_uuid is not None:
            by_file.setdefault(e.file_uuid, []).append(e)
    mets_name = f"METS.{package}.xml"
    mets_path = bag_dir / "data" / mets_name
    write_mets(
        mets_path,
        MetsInput(
            uuid=package, name=summary.name, created=document.created, payload_sha256=document.payload_sha256,
            organisation=organisation, agents=agents, package_events=[e for e in events if e.file_uuid is None],
            rights=document.rights, descriptions=content.descriptions, source_metadata=document.source_metadata,
            files=lambda: ((f, by_file.get(f.uuid, ())) for f in all_files), modified=content.when,
            file_count=len(all_files), derivation=derivations_of(all_files, events),
        ),
    )  # fmt: skip
    mets_record = FileRecord(
        uuid=str(uuid.uuid5(uuid.UUID(package), "METS")), path=mets_name, original_name=mets_name,
        size=mets_path.stat().st_size, sha256=sha256_file(mets_path), role=FileRole.METADATA, identification=None,
    )  # fmt: skip
    records = sorted([*all_files, mets_record], key=lambda f: f.path)
    payload = [(f"data/{r.path}", r.sha256) for r in records]
    payload_bytes = sum(r.size for r in records)
    info = BagInfo(package, summary.name, content.organisation_name, payload_bytes, len(records), number)
    tag_digests = write_tag_files(bag_dir, payload, info)
    state = dict(payload) | tag_digests
    sizes = {f"data/{r.path}": r.size for r in records} | {n: (bag_dir / n).stat().st_size for n in tag_digests}
    sources = {**content.new_sources, f"data/{mets_name}": mets_path} | {n: bag_dir / n for n in tag_digests}
    title = next((d.first("title") for d in content.descriptions if d.target == PACKAGE_TARGET), None)
    new_summary = replace(summary, files=len(records), bytes=payload_bytes, title=title or summary.title,
                          version=number, updated=content.when, indexed=False)  # fmt: skip
    added = list(content.added_events)
    return VersionBuild(
        package=package, base_version=number - 1, state=state, sources=sources, sizes=sizes, summary=new_summary,
        files=lambda: records, events=lambda: added, agents=tuple(agents), descriptions=tuple(content.descriptions),
        message=content.message, operator=content.operator, claim_payload=False,
    )  # fmt: skip


def _agents(groups: Sequence[Iterable[Agent]], events: Sequence[Event]) -> list[Agent]:
    """Every agent the events name (and the organisation), each once, the document's own records first."""
    named = {key for e in events for key in e.agents}
    chosen: dict[str, Agent] = {}
    for group in groups:
        for agent in group:
            chosen.setdefault(agent.key, agent)
    return [a for k, a in chosen.items() if k in named or a.type is AgentType.ORGANIZATION]


def earlier_update(
    catalog: Catalog, summary: PackageSummary, base_version: int, metadata_csv: Path
) -> tuple[CommitResult, tuple[str, ...], tuple[str, ...]] | None:
    """The update of `metadata_csv` made on `base_version` already, if the next version is exactly that: its
    commit result, targets and warnings (an "update" job run again after it stored). None if it is not."""
    number = base_version + 1
    stored = f"metadata/updates/v{number}-metadata.csv"
    digest = sha256_file(metadata_csv)
    files = [f for f in catalog.files(summary.uuid) if f.path != f"METS.{summary.uuid}.xml"]
    if not any(f.path == stored and f.sha256 == digest for f in files):
        return None
    version = next((v for v in catalog.versions(summary.uuid) if v.number == number), None)
    if version is None:
        return None
    known_paths = {f.path for f in files}
    known_folders = {PACKAGE_TARGET} | {p for path in known_paths for p in _parents(path)}
    parsed = parse_metadata_csv(metadata_csv, known_paths, known_folders)
    targets = tuple(d.target for d in parsed.descriptions)
    return CommitResult(summary, version, summary.indexed), targets, tuple(parsed.warnings)
