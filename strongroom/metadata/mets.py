"""The METS document of a package, laid out as Archivematica lays out an AIP's METS.

    mets:mets OBJID=<uuid> LABEL=<name>
      metsHdr                  creation date, the organisation as CREATOR
      dmdSec per description   Dublin Core (strongroom:target says which path it describes)
      amdSec amdSec_package    the package as a PREMIS intellectual entity, every rights
                               statement, bag-info.txt as sourceMD, package events, all agents
      amdSec per file          PREMIS file object; rights, events and agents that concern it
      fileSec                  one fileGrp per role; FLocat xlink:href = path under data/
      structMap physical       folders as nested Directory divs, files as Item divs

`write_mets` streams: it walks `MetsInput.files()` once per section and keeps
nothing per file, so memory does not grow with the package. `read_mets` streams
too, with a parser that never resolves entities or touches the network.

Paths and text that XML 1.0 cannot hold are percent-escaped (see xmlsupport); the
names of what was escaped go in a `strongroom:escaped` attribute of the enclosing
METS element, so a reader can restore them exactly.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from lxml import etree

from strongroom.errors import MetadataError
from strongroom.metadata import dublincore, premis
from strongroom.metadata.reader import read_mets
from strongroom.metadata.xmlsupport import (
    ESCAPED_ATTR,
    NSMAP,
    PACKAGE_AMDSEC,
    PACKAGE_TARGET,
    SCHEMA_LOCATION,
    TARGET_ATTR,
    XLINK,
    XSI,
    Escaper,
    PrettyWriter,
    build_escaped,
    format_datetime,
    legal,
    m,
    xmlfile,
)
from strongroom.model import Agent, DublinCore, Event, FileRecord, FileRole, RightsStatement

__all__ = ["MetsInput", "MetsProgress", "read_mets", "write_mets"]

_FILE_AMDSEC_PREFIXES = ("mets", "premis", "xsi", "strongroom")
_ID_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class MetsInput:
    """Everything the METS document of a new package says."""

    uuid: str
    name: str
    created: datetime
    payload_sha256: str
    organisation: Agent  # also the METS header agent
    agents: Sequence[Agent]
    package_events: Sequence[Event]  # events with file_uuid None
    rights: Sequence[RightsStatement]  # file_path: a file, a folder, or "objects" for all of objects/
    descriptions: Sequence[DublinCore]  # target "objects" = whole package; else a file or folder path
    source_metadata: Mapping[str, Sequence[str]]  # bag-info.txt of a supplied bag, may be empty
    # Sorted by path; called once per section, so it must give the same files each time.
    files: Callable[[], Iterable[tuple[FileRecord, Sequence[Event]]]]
    modified: datetime | None = None  # when a later version of the package was made (metsHdr LASTMODDATE)
    file_count: int | None = None  # how many files files() gives, for progress; None: unknown
    # The source of a derivative (a text file's original), written as a PREMIS relationship; None for
    # files that are no one's derivative. Every text-role file must have one.
    derivation: Callable[[FileRecord], premis.Derivation | None] | None = None
    # The same files as files() without their events, for the fileSec and structMap passes, which need none:
    # building every file's events again for each of those passes took most of a large package's METS time.
    records: Callable[[], Iterable[FileRecord]] | None = None


# Called with (files done, files in all) as write_mets streams the file sections.
MetsProgress = Callable[[int, int | None], None]


class _Ids:
    """Counters for the document's xs:ID values (METS_1, METS_2 ... per kind)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def __call__(self, kind: str) -> str:
        count = self._counts.get(kind, 0) + 1
        self._counts[kind] = count
        return f"{kind}_{count}"


@dataclass(frozen=True)
class _Plan:
    """What the writer looks up while it streams: small, built once from the input."""

    agents: tuple[Agent, ...]  # every agent, the organisation included
    agents_by_key: Mapping[str, Agent]
    dmd_ids: tuple[str, ...]  # per description, in order
    dmd_by_target: Mapping[str, tuple[str, ...]]
    rights_ids: tuple[str, ...]  # rightsMD of each statement in the package amdSec
    rights_by_target: Mapping[str, tuple[int, ...]]  # indexes into doc.rights
    package_techmd: str
    # Each agent's digiprovMD, built once: every file's amdSec repeats it under its own ID.
    agent_sections: dict[str, etree._Element] = field(default_factory=dict)


def _plan(doc: MetsInput, ids: _Ids) -> _Plan:
    _check_id_safe(doc.uuid, "The package UUID")
    format_datetime(doc.created, "package creation time")
    agents = list(doc.agents)
    if all(agent.key != doc.organisation.key for agent in agents):
        agents.append(doc.organisation)
    by_key: dict[str, Agent] = {}
    for agent in agents:
        by_key.setdefault(agent.key, agent)
    for event in doc.package_events:
        if event.file_uuid is not None:
            raise MetadataError(f"Package event {event.uuid} ({event.type}) names file {event.file_uuid}.")
    dmd_ids = tuple(ids("dmdSec") for _ in doc.descriptions)
    dmd_by_target: dict[str, list[str]] = {}
    for description, dmd_id in zip(doc.descriptions, dmd_ids, strict=True):
        dmd_by_target.setdefault(description.target, []).append(dmd_id)
    package_techmd = ids("techMD")
    rights_ids = tuple(ids("rightsMD") for _ in doc.rights)
    rights_by_target: dict[str, list[int]] = {}
    for index, rights in enumerate(doc.rights):
        rights_by_target.setdefault(rights.file_path, []).append(index)
    return _Plan(
        agents=tuple(agents),
        agents_by_key=by_key,
        dmd_ids=dmd_ids,
        dmd_by_target={k: tuple(v) for k, v in dmd_by_target.items()},
        rights_ids=rights_ids,
        rights_by_target={k: tuple(v) for k, v in rights_by_target.items()},
        package_techmd=package_techmd,
    )


def _check_id_safe(value: str, what: str) -> None:
    # UUIDs become parts of xs:ID values, so they must be NCName characters.
    if not _ID_SAFE.fullmatch(value):
        raise MetadataError(f"{what} {value!r}, cannot be part of an XML ID; use a UUID.")


def _check_path(path: str, previous: str | None) -> None:
    parts = path.split("/")
    if path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise MetadataError(f"File path {path!r} is not a clean path relative to data/.")
    if previous is not None and not previous < path:
        raise MetadataError(f"Files must come sorted by path, each once: {path!r} came after {previous!r}.")


def _ancestors(path: str) -> list[str]:
    """The path itself, then each folder above it (objects/a/b.pdf, objects/a, objects)."""
    parts = path.split("/")
    return ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]


# --- writing ----------------------------------------------------------------------------------


def write_mets(dest: Path, doc: MetsInput, progress: MetsProgress | None = None) -> None:
    """Write the METS document of `doc` to `dest`, streaming over `doc.files()`.

    `progress` hears (done, doc.file_count) per file of the administrative sections, the
    pass that builds PREMIS for every file and takes nearly all the time.
    """
    ids = _Ids()
    plan = _plan(doc, ids)
    root_escape = Escaper()
    root_attrs = {
        f"{{{XSI}}}schemaLocation": SCHEMA_LOCATION,
        "OBJID": doc.uuid,
        "LABEL": root_escape("mets@LABEL", doc.name),
    }
    organisation_name = root_escape("name", doc.organisation.name)
    if root_escape.used:
        root_attrs[ESCAPED_ATTR] = " ".join(sorted(root_escape.used))
    with dest.open("wb") as output, xmlfile(output) as xf:
        xf.write_declaration()
        out = PrettyWriter(xf, NSMAP)
        with out.element(m("mets"), root_attrs, root=True):
            header = {"CREATEDATE": format_datetime(doc.created, "creation time")}
            if doc.modified is not None:
                header["LASTMODDATE"] = format_datetime(doc.modified, "modification time")
            with out.element(m("metsHdr"), header):
                agent = etree.Element(m("agent"), ROLE="CREATOR", TYPE="ORGANIZATION")
                etree.SubElement(agent, m("name")).text = organisation_name
                out.tree(agent)
            for description, dmd_id in zip(doc.descriptions, plan.dmd_ids, strict=True):
                out.tree(_dmd_sec(description, dmd_id))
            out.tree(_package_amdsec(doc, plan, ids))
            roles = _write_file_amdsecs(out, doc, plan, ids, progress)
            if roles:
                _write_filesec(out, doc, roles)
            _write_structmap(out, doc, plan)


def _records(doc: MetsInput) -> Iterable[FileRecord]:
    """The files of `doc` in path order, without their events."""
    if doc.records is not None:
        return doc.records()
    return (record for record, _events in doc.files())


def _md_sec(
    tag: str,
    sec_id: str,
    mdtype: str,
    build: Callable[[Escaper], list[etree._Element]],
    *,
    target: str | None = None,
    other_mdtype: str | None = None,
) -> etree._Element:
    """An mdSec (dmdSec, techMD, rightsMD, sourceMD, digiprovMD) wrapping built XML."""

    def build_with_target(escape: Escaper) -> tuple[list[etree._Element], str | None]:
        return build(escape), None if target is None else escape("@target", target)

    (contents, escaped_target), escaped = build_escaped(build_with_target)
    section = etree.Element(m(tag), ID=sec_id)
    if escaped_target is not None:
        section.set(TARGET_ATTR, escaped_target)
    if escaped is not None:
        section.set(ESCAPED_ATTR, escaped)
    wrap = etree.SubElement(section, m("mdWrap"), MDTYPE=mdtype)
    if other_mdtype is not None:
        wrap.set("OTHERMDTYPE", other_mdtype)
    data = etree.SubElement(wrap, m("xmlData"))
    for element in contents:
        data.append(element)
    return section


def _dmd_sec(description: DublinCore, dmd_id: str) -> etree._Element:
    return _md_sec(
        "dmdSec",
        dmd_id,
        "DC",
        lambda escape: [dublincore.description_element(description, escape)],
        target=description.target,
    )


def _package_amdsec(doc: MetsInput, plan: _Plan, ids: _Ids) -> etree._Element:
    section = etree.Element(m("amdSec"), ID=PACKAGE_AMDSEC)
    section.append(
        _md_sec(
            "techMD",
            plan.package_techmd,
            "PREMIS:OBJECT",
            lambda escape: [premis.package_object(doc.uuid, doc.name, doc.payload_sha256, escape)],
        )
    )
    for rights, rights_id in zip(doc.rights, plan.rights_ids, strict=True):
        section.append(_rights_md(rights, rights_id, None, target=rights.file_path))
    if doc.source_metadata:
        metadata = doc.source_metadata
        section.append(
            _md_sec(
                "sourceMD",
                "sourceMD_1",
                "OTHER",
                lambda escape: [dublincore.source_metadata_element(metadata, escape)],
                other_mdtype="BagIt",
            )
        )
    for event in doc.package_events:
        section.append(_event_md(event, plan, doc.uuid, ids("digiprovMD")))
    for agent in plan.agents:
        section.append(_agent_md(agent, ids("digiprovMD")))
    return section


def _rights_md(rights: RightsStatement, sec_id: str, linked: str | None, *, target: str | None) -> etree._Element:
    return _md_sec(
        "rightsMD",
        sec_id,
        "PREMIS:RIGHTS",
        lambda escape: premis.rights_elements(rights, linked, escape),
        target=target,
    )


def _event_md(event: Event, plan: _Plan, linked: str | None, sec_id: str) -> etree._Element:
    return _md_sec(
        "digiprovMD",
        sec_id,
        "PREMIS:EVENT",
        lambda escape: [premis.event_element(event, plan.agents_by_key, linked, escape)],
    )


def _agent_md(agent: Agent, sec_id: str) -> etree._Element:
    return _md_sec("digiprovMD", sec_id, "PREMIS:AGENT", lambda escape: [premis.agent_element(agent, escape)])


def _repeated_agent_md(plan: _Plan, key: str, sec_id: str) -> etree._Element:
    """The agent's digiprovMD as _agent_md() builds it, copied from the one built first (the ID is its only change)."""
    built = plan.agent_sections.get(key)
    if built is None:
        built = plan.agent_sections[key] = _agent_md(plan.agents_by_key[key], sec_id)
    section = copy.deepcopy(built)
    section.set("ID", sec_id)  # the first attribute already, as _md_sec() made it: the output is unchanged
    return section


def _write_file_amdsecs(
    out: PrettyWriter, doc: MetsInput, plan: _Plan, ids: _Ids, progress: MetsProgress | None
) -> list[FileRole]:
    """One amdSec per file; returns the roles seen, in FileRole order, for the fileSec."""
    roles: set[FileRole] = set()
    previous: str | None = None
    for done, (record, events) in enumerate(doc.files(), start=1):
        _check_id_safe(record.uuid, f"The UUID of {record.path!r},")
        _check_path(record.path, previous)
        previous = record.path
        try:
            roles.add(FileRole(record.role))
        except ValueError:
            raise MetadataError(f"File {record.path!r} has unknown role {record.role!r}.") from None
        derivation = doc.derivation(record) if doc.derivation is not None else None
        out.tree(_file_amdsec(record, events, plan, ids, doc.rights, derivation), declare=_FILE_AMDSEC_PREFIXES)
        if progress is not None:
            progress(done, doc.file_count)
    return [role for role in FileRole if role in roles]


def _file_amdsec(
    record: FileRecord, events: Sequence[Event], plan: _Plan, ids: _Ids, all_rights: Sequence[RightsStatement],
    derivation: premis.Derivation | None = None,
) -> etree._Element:  # fmt: skip
    section = etree.Element(m("amdSec"), ID=f"amdSec-{record.uuid}")
    section.append(
        _md_sec(
            "techMD", ids("techMD"), "PREMIS:OBJECT", lambda escape: [premis.file_object(record, escape, derivation)]
        )
    )
    applicable = sorted(i for path in _ancestors(record.path) for i in plan.rights_by_target.get(path, ()))
    for index in applicable:
        section.append(_rights_md(all_rights[index], ids("rightsMD"), record.uuid, target=None))
    agent_keys: dict[str, None] = {}
    for event in events:
        section.append(_event_md(event, plan, event.file_uuid, ids("digiprovMD")))
        agent_keys.update(dict.fromkeys(event.agents))
    for key in agent_keys:
        # Each file's section names its agents again, as Archivematica does, so it stands alone.
        section.append(_repeated_agent_md(plan, key, ids("digiprovMD")))
    return section


def _write_filesec(out: PrettyWriter, doc: MetsInput, roles: list[FileRole]) -> None:
    with out.element(m("fileSec")):
        for role in roles:  # one pass over the files per role keeps the groups streaming
            with out.element(m("fileGrp"), {"USE": role.value}):
                for record in _records(doc):
                    if record.role == role:
                        out.tree(_file_element(record))


def _file_element(record: FileRecord) -> etree._Element:
    escape = Escaper()
    element = etree.Element(m("file"), ID=f"file-{record.uuid}")
    element.set("GROUPID", f"Group-{record.uuid}")
    element.set("ADMID", f"amdSec-{record.uuid}")
    mime = record.identification.mime if record.identification is not None else None
    if mime:
        element.set("MIMETYPE", legal(mime))
    element.set("SIZE", str(record.size))
    element.set("CHECKSUM", legal(record.sha256))
    element.set("CHECKSUMTYPE", "SHA-256")
    locator = etree.SubElement(element, m("FLocat"), LOCTYPE="OTHER", OTHERLOCTYPE="SYSTEM")
    locator.set(f"{{{XLINK}}}href", escape.href("FLocat@href", record.path))
    if escape.used:
        element.set(ESCAPED_ATTR, " ".join(sorted(escape.used)))
    return element


def _write_structmap(out: PrettyWriter, doc: MetsInput, plan: _Plan) -> None:
    def links(path: str) -> dict[str, str]:
        attrs = {}
        if path in plan.dmd_by_target and path != PACKAGE_TARGET:
            attrs["DMDID"] = " ".join(plan.dmd_by_target[path])
        rights = plan.rights_by_target.get(path, ())
        if rights:
            attrs["ADMID"] = " ".join(plan.rights_ids[i] for i in rights)
        return attrs

    with out.element(m("structMap"), {"TYPE": "physical", "ID": "structMap_1", "LABEL": "Strongroom"}):
        root = {"TYPE": "Directory", "LABEL": legal(f"{doc.name}-{doc.uuid}"), "ADMID": plan.package_techmd}
        if PACKAGE_TARGET in plan.dmd_by_target:
            root["DMDID"] = " ".join(plan.dmd_by_target[PACKAGE_TARGET])
        out.open(m("div"), root)
        folders: list[str] = []  # names of the Directory divs open below the root
        for record in _records(doc):
            *parents, name = record.path.split("/")
            shared = 0
            while shared < min(len(folders), len(parents)) and folders[shared] == parents[shared]:
                shared += 1
            while len(folders) > shared:  # sorted input: a folder once left never comes back
                out.close()
                folders.pop()
            for folder in parents[shared:]:
                folders.append(folder)
                out.open(m("div"), {"TYPE": "Directory", "LABEL": legal(folder), **links("/".join(folders))})
            with out.element(m("div"), {"TYPE": "Item", "LABEL": legal(name), **links(record.path)}):
                out.tree(etree.Element(m("fptr"), FILEID=f"file-{record.uuid}"))
        for _folder in folders:
            out.close()
        out.close()
