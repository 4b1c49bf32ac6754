"""The METS writer as it was before the per-file sections were written as text: the tests' reference.

write_mets builds each file's amdSec, mets:file and structMap divs as text for speed. This
module keeps the earlier way, lxml trees written through PrettyWriter, so the tests can hold
the text to the bytes lxml gives, character for character, on hostile input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lxml import etree

from strongroom.errors import MetadataError
from strongroom.metadata import premis
from strongroom.metadata.mets import (
    MetsInput,
    _agent_md,
    _ancestors,
    _check_id_safe,
    _check_path,
    _dmd_sec,
    _event_md,
    _Ids,
    _md_sec,
    _package_amdsec,
    _Plan,
    _plan,
    _records,
    _rights_md,
)
from strongroom.metadata.xmlsupport import (
    ESCAPED_ATTR,
    NSMAP,
    PACKAGE_TARGET,
    SCHEMA_LOCATION,
    XLINK,
    XSI,
    Escaper,
    PrettyWriter,
    format_datetime,
    legal,
    m,
    xmlfile,
)
from strongroom.model import Event, FileRecord, FileRole, RightsStatement

FILE_AMDSEC_PREFIXES = ("mets", "premis", "xsi", "strongroom")


def write_mets_reference(dest: Path, doc: MetsInput) -> None:
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
            roles = _write_file_amdsecs(out, doc, plan, ids)
            if roles:
                _write_filesec(out, doc, roles)
            _write_structmap(out, doc, plan)


def _write_file_amdsecs(out: PrettyWriter, doc: MetsInput, plan: _Plan, ids: _Ids) -> list[FileRole]:
    roles: set[FileRole] = set()
    previous: str | None = None
    for record, events in doc.files():
        _check_id_safe(record.uuid, f"The UUID of {record.path!r},")
        _check_path(record.path, previous)
        previous = record.path
        try:
            roles.add(FileRole(record.role))
        except ValueError:
            raise MetadataError(f"File {record.path!r} has unknown role {record.role!r}.") from None
        derivation = doc.derivation(record) if doc.derivation is not None else None
        out.tree(file_amdsec(record, events, plan, ids, doc.rights, derivation), declare=FILE_AMDSEC_PREFIXES)
    return [role for role in FileRole if role in roles]


def file_amdsec(
    record: FileRecord,
    events: Sequence[Event],
    plan: _Plan,
    ids: _Ids,
    all_rights: Sequence[RightsStatement],
    derivation: premis.Derivation | None = None,
) -> etree._Element:
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
        section.append(_agent_md(plan.agents_by_key[key], ids("digiprovMD")))
    return section


def _write_filesec(out: PrettyWriter, doc: MetsInput, roles: list[FileRole]) -> None:
    with out.element(m("fileSec")):
        for role in roles:
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
        folders: list[str] = []
        for record in _records(doc):
            *parents, name = record.path.split("/")
            shared = 0
            while shared < min(len(folders), len(parents)) and folders[shared] == parents[shared]:
                shared += 1
            while len(folders) > shared:
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
