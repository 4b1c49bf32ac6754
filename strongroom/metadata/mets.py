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

import re
import uuid as uuidlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from lxml import etree

from strongroom.errors import MetadataError
from strongroom.metadata import dublincore, premis, premis_text
from strongroom.metadata.reader import read_mets
from strongroom.metadata.xmlsupport import (
    ESCAPED_ATTR,
    NEWLINES,
    NSMAP,
    PACKAGE_AMDSEC,
    PACKAGE_TARGET,
    SCHEMA_LOCATION,
    TARGET_ATTR,
    XSI,
    Escaper,
    PrettyWriter,
    build_escaped,
    format_datetime,
    legal,
    m,
    newline,
    serialised_child,
    xml_attr,
    xmlfile,
)
from strongroom.model import Agent, DublinCore, Event, FileRecord, FileRole, RightsStatement

__all__ = ["MetsInput", "MetsProgress", "read_mets", "write_mets"]

_FILE_AMDSEC_PREFIXES = ("mets", "premis", "xsi", "strongroom")
_FILE_AMDSEC_DEPTH = 1  # a child of mets:mets
_FILE_SECTION_DEPTH = _FILE_AMDSEC_DEPTH + 1  # techMD, rightsMD, digiprovMD
_FILE_RECORD_DEPTH = _FILE_SECTION_DEPTH + 3  # the PREMIS record in mdWrap/xmlData
# A per-file amdSec's start tag up to its ID, as lxml wrote it when the section declared its prefixes itself.
_FILE_AMDSEC_START = "<mets:amdSec" + "".join(f' xmlns:{prefix}="{NSMAP[prefix]}"' for prefix in _FILE_AMDSEC_PREFIXES)
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
    # Sections every file's amdSec repeats, serialised once with placeholders for what changes.
    repeated: _Repeated = field(default_factory=lambda: _Repeated())


class _Repeated:
    """Agent and rights sections of the per-file amdSecs, serialised once by lxml and reused as text.

    Each is built with random placeholders for its ID and for the file it links to, then
    filled in per file. Neither a section ID nor a file UUID can need escaping (both are
    checked to be ID-safe), so the placeholders stand for them exactly; a section whose own
    text happens to hold a placeholder is simply built per file.
    """

    def __init__(self) -> None:
        token = uuidlib.uuid4().hex
        self.id_token = f"ID{token}"
        self.link_token = f"LINK{token}"
        self.agents: dict[str, str | None] = {}
        self.rights: dict[int, str | None] = {}

    def fill(self, text: str | None, built: Callable[[str, str], etree._Element], sec_id: str, link: str) -> str:
        if text is None:
            return serialised_child(built(sec_id, link), _FILE_AMDSEC_PREFIXES, _FILE_SECTION_DEPTH)
        return text.replace(self.id_token, sec_id).replace(self.link_token, link)

    def template(self, built: Callable[[str, str], etree._Element], *, links: int) -> str | None:
        text = serialised_child(built(self.id_token, self.link_token), _FILE_AMDSEC_PREFIXES, _FILE_SECTION_DEPTH)
        ok = text.count(self.id_token) == 1 and text.count(self.link_token) == links
        return text if ok else None


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
        out = PrettyWriter(xf, NSMAP, raw=output)
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


def _write_file_amdsecs(
    out: PrettyWriter, doc: MetsInput, plan: _Plan, ids: _Ids, progress: MetsProgress | None
) -> list[FileRole]:
    """One amdSec per file; returns the roles seen, in FileRole order, for the fileSec."""
    if out.depth != _FILE_AMDSEC_DEPTH:
        raise AssertionError(f"file amdSecs belong at depth {_FILE_AMDSEC_DEPTH}, not {out.depth}")
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
        out.fragment(_file_amdsec(record, events, plan, ids, doc.rights, derivation))
        if progress is not None:
            progress(done, doc.file_count)
    return [role for role in FileRole if role in roles]


def _file_amdsec(
    record: FileRecord, events: Sequence[Event], plan: _Plan, ids: _Ids, all_rights: Sequence[RightsStatement],
    derivation: premis.Derivation | None = None,
) -> str:  # fmt: skip
    """The file's amdSec as the text lxml wrote for it (namespaces declared on it, as Archivematica does)."""
    repeated = plan.repeated
    parts = [
        f'{NEWLINES[_FILE_AMDSEC_DEPTH]}{_FILE_AMDSEC_START} ID="amdSec-{record.uuid}">',
        _md_sec_text(
            "techMD",
            ids("techMD"),
            "PREMIS:OBJECT",
            partial(premis_text.file_object_xml, record, derivation=derivation, depth=_FILE_RECORD_DEPTH),
        ),
    ]
    applicable = sorted(i for path in _ancestors(record.path) for i in plan.rights_by_target.get(path, ()))
    for index in applicable:
        build_rights = partial(_linked_rights_md, all_rights[index])
        if index not in repeated.rights:
            repeated.rights[index] = repeated.template(build_rights, links=1)
        parts.append(repeated.fill(repeated.rights[index], build_rights, ids("rightsMD"), record.uuid))
    agent_keys: dict[str, None] = {}
    for event in events:
        parts.append(
            _md_sec_text(
                "digiprovMD",
                ids("digiprovMD"),
                "PREMIS:EVENT",
                partial(premis_text.event_xml, event, plan.agents_by_key, event.file_uuid, depth=_FILE_RECORD_DEPTH),
            )
        )
        agent_keys.update(dict.fromkeys(event.agents))
    for key in agent_keys:
        # Each file's section names its agents again, as Archivematica does, so it stands alone.
        build_agent = partial(_unlinked_agent_md, plan.agents_by_key[key])
        if key not in repeated.agents:
            repeated.agents[key] = repeated.template(build_agent, links=0)
        parts.append(repeated.fill(repeated.agents[key], build_agent, ids("digiprovMD"), ""))
    parts.append(f"{NEWLINES[_FILE_AMDSEC_DEPTH]}</mets:amdSec>")
    return "".join(parts)


def _linked_rights_md(rights: RightsStatement, sec_id: str, linked: str) -> etree._Element:
    return _rights_md(rights, sec_id, linked, target=None)


def _unlinked_agent_md(agent: Agent, sec_id: str, _linked: str) -> etree._Element:
    return _agent_md(agent, sec_id)


def _md_sec_text(tag: str, sec_id: str, mdtype: str, build: Callable[[Escaper], str]) -> str:
    """_md_sec() of a per-file section, as text: `build` gives the record's text, indented below xmlData."""
    content, escaped = build_escaped(build)
    n0, n1, n2 = NEWLINES[_FILE_SECTION_DEPTH : _FILE_SECTION_DEPTH + 3]
    escaped_attr = "" if escaped is None else f' strongroom:escaped="{xml_attr(escaped)}"'
    return (
        f'{n0}<mets:{tag} ID="{sec_id}"{escaped_attr}>{n1}<mets:mdWrap MDTYPE="{mdtype}">{n2}<mets:xmlData>'
        f"{content}{n2}</mets:xmlData>{n1}</mets:mdWrap>{n0}</mets:{tag}>"
    )


# Per-file elements of the fileSec and structMap are written as text, this many to a write.
_BATCH = 512


def _write_filesec(out: PrettyWriter, doc: MetsInput, roles: list[FileRole]) -> None:
    with out.element(m("fileSec")):
        for role in roles:  # one pass over the files per role keeps the groups streaming
            with out.element(m("fileGrp"), {"USE": role.value}):
                nl, inner = newline(out.depth), newline(out.depth + 1)
                batch: list[str] = []
                for record in _records(doc):
                    if record.role == role:
                        batch.append(_file_element(record, nl, inner))
                        if len(batch) >= _BATCH:
                            out.fragment("".join(batch))
                            batch.clear()
                if batch:
                    out.fragment("".join(batch))


def _file_element(record: FileRecord, nl: str, inner: str) -> str:
    """The file's mets:file as lxml wrote it (attributes in this order, FLocat as a start and end tag)."""
    escape = Escaper()
    uuid = xml_attr(record.uuid)
    mime = record.identification.mime if record.identification is not None else None
    mime_attr = f' MIMETYPE="{xml_attr(legal(mime))}"' if mime else ""
    checksum = xml_attr(legal(record.sha256))
    href = xml_attr(escape.href("FLocat@href", record.path))
    escaped = f' strongroom:escaped="{xml_attr(" ".join(sorted(escape.used)))}"' if escape.used else ""
    return (
        f'{nl}<mets:file ID="file-{uuid}" GROUPID="Group-{uuid}" ADMID="amdSec-{uuid}"{mime_attr}'
        f' SIZE="{xml_attr(str(record.size))}" CHECKSUM="{checksum}" CHECKSUMTYPE="SHA-256"{escaped}>'
        f'{inner}<mets:FLocat LOCTYPE="OTHER" OTHERLOCTYPE="SYSTEM" xlink:href="{href}"></mets:FLocat>{nl}</mets:file>'
    )


def _write_structmap(out: PrettyWriter, doc: MetsInput, plan: _Plan) -> None:
    def links(path: str) -> str:
        """DMDID and ADMID attributes of a folder's or file's div, as text."""
        attrs = ""
        if path in plan.dmd_by_target and path != PACKAGE_TARGET:
            attrs = f' DMDID="{xml_attr(" ".join(plan.dmd_by_target[path]))}"'
        rights = plan.rights_by_target.get(path, ())
        if rights:
            attrs += f' ADMID="{xml_attr(" ".join(plan.rights_ids[i] for i in rights))}"'
        return attrs

    with out.element(m("structMap"), {"TYPE": "physical", "ID": "structMap_1", "LABEL": "Strongroom"}):
        root = {"TYPE": "Directory", "LABEL": legal(f"{doc.name}-{doc.uuid}"), "ADMID": plan.package_techmd}
        if PACKAGE_TARGET in plan.dmd_by_target:
            root["DMDID"] = " ".join(plan.dmd_by_target[PACKAGE_TARGET])
        out.open(m("div"), root)
        base = out.depth  # of the root div's children
        folders: list[str] = []  # names of the Directory divs open below the root
        batch: list[str] = []  # the divs below the root, as lxml wrote them
        for record in _records(doc):
            *parents, name = record.path.split("/")
            shared = 0
            while shared < min(len(folders), len(parents)) and folders[shared] == parents[shared]:
                shared += 1
            while len(folders) > shared:  # sorted input: a folder once left never comes back
                folders.pop()
                batch.append(f"{newline(base + len(folders))}</mets:div>")
            for folder in parents[shared:]:
                nl = newline(base + len(folders))
                folders.append(folder)
                batch.append(
                    f'{nl}<mets:div TYPE="Directory" LABEL="{xml_attr(legal(folder))}"{links("/".join(folders))}>'
                )
            nl, inner = newline(base + len(folders)), newline(base + len(folders) + 1)
            batch.append(
                f'{nl}<mets:div TYPE="Item" LABEL="{xml_attr(legal(name))}"{links(record.path)}>'
                f'{inner}<mets:fptr FILEID="file-{xml_attr(record.uuid)}"></mets:fptr>{nl}</mets:div>'
            )
            if len(batch) >= _BATCH:
                out.fragment("".join(batch))
                batch.clear()
        while folders:
            folders.pop()
            batch.append(f"{newline(base + len(folders))}</mets:div>")
        if batch:
            out.fragment("".join(batch))
        out.close()
