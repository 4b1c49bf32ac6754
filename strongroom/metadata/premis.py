"""PREMIS 3 elements for a package: file and package objects, events, agents, rights.

Builders return small lxml trees (one record each) that the METS writer streams
out; readers take the same trees back. Element order follows premis-v3-0.xsd.
Every text value goes through an Escaper so that characters XML cannot hold
survive; see xmlsupport.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from strongroom.errors import MetadataError
from strongroom.metadata.xmlsupport import (
    XSI,
    Escaper,
    Unescaper,
    format_datetime,
    local_name,
    p,
    parse_datetime,
    sr,
)
from strongroom.model import (
    Agent,
    AgentType,
    Basis,
    Event,
    FileRecord,
    FileRole,
    FormatMatch,
    Identification,
    Outcome,
    RightsStatement,
    ToolOutcome,
    Validity,
)

XSI_TYPE = f"{{{XSI}}}type"
PAYLOAD_PROPERTY = "payload SHA-256"  # significantPropertiesType of the package's digest

# rightsBasis as the PREMIS vocabulary spells it; donor and policy are kinds of "Other",
# named in otherRightsBasis (as Archivematica writes them).
_NAMED_BASES = {"copyright": "Copyright", "license": "License", "statute": "Statute"}
_OTHER_BASES = {"donor": "Donor", "policy": "Policy", "other": "Other"}

# RightsStatement fields that a basis's PREMIS information has no element for; they are kept,
# so that nothing is lost, as attributes of a strongroom:rightsExtra element beside the statement.
_UNMAPPED_FIELDS = {
    "copyright": ("terms",),
    "license": ("status", "jurisdiction", "determination_date"),
    "statute": ("status",),
    "other": ("status", "jurisdiction", "determination_date", "terms"),
}


class _Builder:
    """Creates PREMIS elements whose text passes through one record's Escaper."""

    def __init__(self, escape: Escaper) -> None:
        self.escape = escape

    def root(self, local: str) -> etree._Element:
        return etree.Element(p(local))

    def add(self, parent: etree._Element, local: str, text: str | None = None) -> etree._Element:
        element = etree.SubElement(parent, p(local))
        if text is not None:
            element.text = self.escape(local, text)
        return element

    def identifier(self, parent: etree._Element, prefix: str, kind: str, value: str) -> None:
        holder = self.add(parent, f"{prefix}Identifier")
        self.add(holder, f"{prefix}IdentifierType", kind)
        self.add(holder, f"{prefix}IdentifierValue", value)


def _set_attributes(element: etree._Element, escape: Escaper, values: Mapping[str, str | None]) -> None:
    name = local_name(str(element.tag))
    for key, value in values.items():
        if value is not None:
            element.set(key, escape(f"{name}@{key}", value))


# --- objects ----------------------------------------------------------------------------------

# The PREMIS relationship of a derivative (the text of an original) to its source: the
# relationshipType and relationshipSubType vocabularies of the Library of Congress.
DERIVATION = "derivation"
HAS_SOURCE = "has source"


@dataclass(frozen=True)
class Derivation:
    """Where a derivative file came from: its source file's UUID and the event that made it."""

    source: str
    event: str | None = None


def file_object(record: FileRecord, escape: Escaper, derivation: Derivation | None = None) -> etree._Element:
    b = _Builder(escape)
    obj = b.root("object")
    obj.set(XSI_TYPE, "premis:file")
    obj.set("version", "3.0")
    b.identifier(obj, "object", "UUID", record.uuid)
    characteristics = b.add(obj, "objectCharacteristics")
    b.add(characteristics, "compositionLevel", "0")
    fixity = b.add(characteristics, "fixity")
    b.add(fixity, "messageDigestAlgorithm", "SHA-256")
    b.add(fixity, "messageDigest", record.sha256)
    b.add(characteristics, "size", str(record.size))
    _add_format(b, characteristics, record.identification)
    if record.modified is not None:
        # The file's last modification is the nearest thing PREMIS has to a creation date.
        application = b.add(characteristics, "creatingApplication")
        when = format_datetime(record.modified, f"modified time of {record.path!r}")
        b.add(application, "dateCreatedByApplication", when)
    if record.identification is not None or record.validity is not None:
        extension = b.add(characteristics, "objectCharacteristicsExtension")
        if record.identification is not None:
            extension.append(_identification_element(record.identification, escape))
        if record.validity is not None:
            extension.append(_characterisation_element(record.validity, record.characterisation, escape))
    b.add(obj, "originalName", record.original_name)
    if derivation is not None:
        relationship = b.add(obj, "relationship")
        b.add(relationship, "relationshipType", DERIVATION)
        b.add(relationship, "relationshipSubType", HAS_SOURCE)
        b.identifier(relationship, "relatedObject", "UUID", derivation.source)
        if derivation.event is not None:
            b.identifier(relationship, "relatedEvent", "UUID", derivation.event)
    elif record.role in (FileRole.TEXT, FileRole.PRESERVATION, FileRole.ACCESS):
        raise MetadataError(f"The {record.role} derivative {record.path!r} has no source file to name.")
    return obj


def _characterisation_element(validity: Validity, outcomes: Sequence[ToolOutcome], escape: Escaper) -> etree._Element:
    """What each characterisation tool found: well-formed, valid, the format it saw, its messages."""
    element = etree.Element(sr("characterisation"))
    element.set("validity", validity.value)
    for outcome in outcomes:
        tool = etree.SubElement(element, sr("tool"))
        _set_attributes(tool, escape, {
            "name": outcome.tool, "version": outcome.version, "formatName": outcome.format_name,
            "wellFormed": None if outcome.well_formed is None else str(outcome.well_formed).lower(),
            "valid": None if outcome.valid is None else str(outcome.valid).lower(),
        })  # fmt: skip
        for message in outcome.messages:
            etree.SubElement(tool, sr("message")).text = escape("message", message)
    return element


def _read_characterisation(r: _Reader, element: etree._Element) -> tuple[Validity, tuple[ToolOutcome, ...]]:
    def flag(holder: etree._Element, name: str) -> bool | None:
        value = r.attribute(holder, name)
        return None if value is None else value == "true"

    try:
        validity = Validity(r.attribute(element, "validity") or "")
    except ValueError:
        raise MetadataError(f"Line {element.sourceline}: unknown characterisation verdict.") from None
    outcomes = tuple(
        ToolOutcome(
            tool=r.attribute(tool, "name") or "", version=r.attribute(tool, "version") or "",
            well_formed=flag(tool, "wellFormed"), valid=flag(tool, "valid"),
            format_name=r.attribute(tool, "formatName"),
            messages=tuple(r.unescape("message", m.text or "") for m in tool.iterfind(sr("message"))),
        )
        for tool in element.iterfind(sr("tool"))
    )  # fmt: skip
    return validity, outcomes


def _add_format(b: _Builder, parent: etree._Element, identification: Identification | None) -> None:
    fmt = b.add(parent, "format")
    designation = b.add(fmt, "formatDesignation")
    first = identification.first if identification is not None else None
    if first is None:
        b.add(designation, "formatName", "Unknown")
    else:
        b.add(designation, "formatName", first.name)
        if first.version:
            b.add(designation, "formatVersion", first.version)
        registry = b.add(fmt, "formatRegistry")
        b.add(registry, "formatRegistryName", "PRONOM")
        b.add(registry, "formatRegistryKey", first.puid)
    for note in format_notes(identification):
        b.add(fmt, "formatNote", note)


def format_notes(identification: Identification | None) -> list[str]:
    """Notes for people; the exact identification is in the strongroom:identification extension."""
    if identification is None:
        return ["Format identification was not run"]
    tool = f"{identification.tool} {identification.tool_version} (signatures {identification.signature_version})"
    if not identification.matches:
        notes = [f"Not identified by {tool}"]
    else:
        notes = [f"Identified by {identification.basis.value} with {tool}"]
        notes += [f"Also matched: {match.puid} ({match.name})" for match in identification.matches[1:]]
    return notes + [f"Warning: {warning}" for warning in identification.warnings]


def _identification_element(identification: Identification, escape: Escaper) -> etree._Element:
    element = etree.Element(sr("identification"))
    _set_attributes(
        element,
        escape,
        {
            "basis": identification.basis.value,
            "tool": identification.tool,
            "toolVersion": identification.tool_version,
            "signatureVersion": identification.signature_version,
        },
    )
    for match in identification.matches:
        _set_attributes(
            etree.SubElement(element, sr("match")),
            escape,
            {
                "puid": match.puid,
                "name": match.name,
                "version": match.version,
                "mime": match.mime,
                "signature": match.signature,
            },
        )
    for warning in identification.warnings:
        etree.SubElement(element, sr("warning")).text = escape("warning", warning)
    return element


def package_object(uuid: str, name: str, payload_sha256: str, escape: Escaper) -> etree._Element:
    b = _Builder(escape)
    obj = b.root("object")
    obj.set(XSI_TYPE, "premis:intellectualEntity")
    obj.set("version", "3.0")
    b.identifier(obj, "object", "UUID", uuid)
    properties = b.add(obj, "significantProperties")
    b.add(properties, "significantPropertiesType", PAYLOAD_PROPERTY)
    b.add(properties, "significantPropertiesValue", payload_sha256)
    b.add(obj, "originalName", name)
    return obj


# --- events and agents ------------------------------------------------------------------------


def event_element(
    event: Event, agents: Mapping[str, Agent], linked_object: str | None, escape: Escaper
) -> etree._Element:
    b = _Builder(escape)
    element = b.root("event")
    element.set("version", "3.0")
    b.identifier(element, "event", "UUID", event.uuid)
    b.add(element, "eventType", event.type)
    b.add(element, "eventDateTime", format_datetime(event.datetime, f"event {event.uuid}"))
    detail_information = b.add(element, "eventDetailInformation")
    b.add(detail_information, "eventDetail", event.detail)
    if event.version is not None:
        # Which version of the package the event concerns: PREMIS has no field for it.
        extension = b.add(detail_information, "eventDetailExtension")
        etree.SubElement(extension, sr("packageVersion")).text = str(event.version)
    outcome = b.add(element, "eventOutcomeInformation")
    b.add(outcome, "eventOutcome", Outcome(event.outcome).value)
    b.add(b.add(outcome, "eventOutcomeDetail"), "eventOutcomeDetailNote", event.outcome_detail)
    for key in event.agents:
        agent = agents.get(key)
        if agent is None:
            raise MetadataError(
                f"Event {event.uuid} ({event.type}) names agent {key!r}, which is not among the agents."
            )
        b.identifier(element, "linkingAgent", agent.identifier_type, agent.identifier_value)
    if linked_object is not None:
        b.identifier(element, "linkingObject", "UUID", linked_object)
    return element


def agent_element(agent: Agent, escape: Escaper) -> etree._Element:
    b = _Builder(escape)
    element = b.root("agent")
    element.set("version", "3.0")
    b.identifier(element, "agent", agent.identifier_type, agent.identifier_value)
    b.add(element, "agentName", agent.name)
    b.add(element, "agentType", AgentType(agent.type).value)
    if agent.note is not None:
        b.add(element, "agentNote", agent.note)
    return element


# --- rights -----------------------------------------------------------------------------------


def _basis_kind(basis: str) -> str:
    lowered = basis.lower()
    return lowered if lowered in _NAMED_BASES else "other"


def rights_elements(rights: RightsStatement, linked_object: str | None, escape: Escaper) -> list[etree._Element]:
    """The premis:rightsStatement of one rights row, and strongroom:rightsExtra when needed."""
    b = _Builder(escape)
    statement = b.root("rightsStatement")
    b.identifier(statement, "rightsStatement", "UUID", rights.uuid)
    kind = _basis_kind(rights.basis)
    b.add(statement, "rightsBasis", _NAMED_BASES.get(kind, "Other"))
    if kind == "copyright":
        info = b.add(statement, "copyrightInformation")
        b.add(info, "copyrightStatus", rights.status or "")  # required by the schema
        b.add(info, "copyrightJurisdiction", rights.jurisdiction or "")
        _add_optional(b, info, "copyrightStatusDeterminationDate", rights.determination_date)
        _add_optional(b, info, "copyrightNote", rights.note)
        _add_documentation(b, info, "copyright", rights)
        _add_dates(b, info, "copyrightApplicableDates", rights.start_date, rights.end_date)
    elif kind == "license":
        license_fields = (rights.doc_id_type, rights.doc_id_value, rights.doc_id_role, rights.terms, rights.note)
        if any(v is not None for v in (*license_fields, rights.start_date, rights.end_date)):
            info = b.add(statement, "licenseInformation")
            _add_documentation(b, info, "license", rights)
            _add_optional(b, info, "licenseTerms", rights.terms)
            _add_optional(b, info, "licenseNote", rights.note)
            _add_dates(b, info, "licenseApplicableDates", rights.start_date, rights.end_date)
    elif kind == "statute":
        info = b.add(statement, "statuteInformation")
        b.add(info, "statuteJurisdiction", rights.jurisdiction or "")
        b.add(info, "statuteCitation", rights.terms or "")
        _add_optional(b, info, "statuteInformationDeterminationDate", rights.determination_date)
        _add_optional(b, info, "statuteNote", rights.note)
        _add_documentation(b, info, "statute", rights)
        _add_dates(b, info, "statuteApplicableDates", rights.start_date, rights.end_date)
    else:
        info = b.add(statement, "otherRightsInformation")
        _add_documentation(b, info, "otherRights", rights)
        b.add(info, "otherRightsBasis", _OTHER_BASES.get(rights.basis.lower(), rights.basis))
        _add_dates(b, info, "otherRightsApplicableDates", rights.start_date, rights.end_date)
        _add_optional(b, info, "otherRightsNote", rights.note)
    grant = (rights.grant_act, rights.grant_restriction, rights.grant_start_date, rights.grant_end_date)
    if any(v is not None for v in (*grant, rights.grant_note)):
        granted = b.add(statement, "rightsGranted")
        b.add(granted, "act", rights.grant_act or "")
        _add_optional(b, granted, "restriction", rights.grant_restriction)
        _add_dates(b, granted, "termOfGrant", rights.grant_start_date, rights.grant_end_date)
        _add_optional(b, granted, "rightsGrantedNote", rights.grant_note)
    if linked_object is not None:
        b.identifier(statement, "linkingObject", "UUID", linked_object)
    elements = [statement]
    unmapped = {name: getattr(rights, name) for name in _UNMAPPED_FIELDS[kind]}
    if any(value is not None for value in unmapped.values()):
        extra = etree.Element(sr("rightsExtra"))
        _set_attributes(extra, escape, unmapped)
        elements.append(extra)
    return elements


def _add_optional(b: _Builder, parent: etree._Element, local: str, value: str | None) -> None:
    if value is not None:
        b.add(parent, local, value)


def _add_documentation(b: _Builder, parent: etree._Element, prefix: str, rights: RightsStatement) -> None:
    if rights.doc_id_type is None and rights.doc_id_value is None and rights.doc_id_role is None:
        return
    holder = b.add(parent, f"{prefix}DocumentationIdentifier")
    b.add(holder, f"{prefix}DocumentationIdentifierType", rights.doc_id_type or "")
    b.add(holder, f"{prefix}DocumentationIdentifierValue", rights.doc_id_value or "")
    _add_optional(b, holder, f"{prefix}DocumentationRole", rights.doc_id_role)


def _add_dates(b: _Builder, parent: etree._Element, local: str, start: str | None, end: str | None) -> None:
    if start is None and end is None:
        return
    holder = b.add(parent, local)
    b.add(holder, "startDate", start or "")  # required once the dates element is there
    _add_optional(b, holder, "endDate", end)


# --- reading ----------------------------------------------------------------------------------


class _Reader:
    """Reads PREMIS elements of one record, turning gaps into MetadataError with a line number."""

    def __init__(self, unescape: Unescaper) -> None:
        self.unescape = unescape

    def find(self, parent: etree._Element, *path: str) -> etree._Element | None:
        return parent.find("/".join(p(local) for local in path))

    def need(self, parent: etree._Element, *path: str) -> etree._Element:
        found = self.find(parent, *path)
        if found is None:
            where = local_name(str(parent.tag))
            raise MetadataError(f"Line {parent.sourceline}: premis:{where} has no {'/'.join(path)}.")
        return found

    def text(self, parent: etree._Element, *path: str) -> str:
        element = self.need(parent, *path)
        return self.unescape(path[-1], element.text or "")

    def optional(self, parent: etree._Element | None, *path: str) -> str | None:
        """Text of an optional element; an empty one reads as absent."""
        if parent is None:
            return None
        element = self.find(parent, *path)
        if element is None:
            return None
        return self.unescape(path[-1], element.text or "") or None

    def attribute(self, element: etree._Element, name: str) -> str | None:
        value = element.get(name)
        if value is None:
            return None
        return self.unescape(f"{local_name(str(element.tag))}@{name}", value)


def read_object_uuid(obj: etree._Element, unescape: Unescaper) -> str:
    return _Reader(unescape).text(obj, "objectIdentifier", "objectIdentifierValue")


@dataclass(frozen=True)
class FileFacts:
    """What a PREMIS file object says of a FileRecord: all but path and role, which METS holds."""

    uuid: str
    original_name: str
    size: int
    sha256: str
    identification: Identification | None
    modified: datetime | None
    validity: Validity | None = None
    characterisation: tuple[ToolOutcome, ...] = ()
    derived_from: Derivation | None = None  # a derivative's source (PREMIS relationship derivation/has source)


def _read_derivation(r: _Reader, obj: etree._Element) -> Derivation | None:
    for relationship in obj.iterfind(p("relationship")):
        if r.optional(relationship, "relationshipType") != DERIVATION:
            continue
        if r.optional(relationship, "relationshipSubType") != HAS_SOURCE:
            continue
        source = r.text(relationship, "relatedObjectIdentifier", "relatedObjectIdentifierValue")
        event = r.optional(relationship, "relatedEventIdentifier", "relatedEventIdentifierValue")
        return Derivation(source, event)
    return None


def read_file_object(obj: etree._Element, unescape: Unescaper) -> FileFacts:
    r = _Reader(unescape)
    characteristics = r.need(obj, "objectCharacteristics")
    size_text = r.text(characteristics, "size")
    try:
        size = int(size_text)
    except ValueError:
        raise MetadataError(f"Line {characteristics.sourceline}: premis:size {size_text!r} is not a number.") from None
    modified_text = r.optional(characteristics, "creatingApplication", "dateCreatedByApplication")
    extension = characteristics.find(f"{p('objectCharacteristicsExtension')}/{sr('identification')}")
    found = characteristics.find(f"{p('objectCharacteristicsExtension')}/{sr('characterisation')}")
    validity, outcomes = (None, ()) if found is None else _read_characterisation(r, found)
    return FileFacts(
        uuid=read_object_uuid(obj, unescape),
        original_name=r.text(obj, "originalName"),
        size=size,
        sha256=_sha256(r, characteristics),
        identification=None if extension is None else _read_identification(r, extension),
        modified=None if modified_text is None else parse_datetime(modified_text, "dateCreatedByApplication"),
        validity=validity,
        characterisation=outcomes,
        derived_from=_read_derivation(r, obj),
    )


def _sha256(r: _Reader, characteristics: etree._Element) -> str:
    for fixity in characteristics.iterfind(p("fixity")):
        if r.text(fixity, "messageDigestAlgorithm").upper() in ("SHA-256", "SHA256"):
            return r.text(fixity, "messageDigest")
    raise MetadataError(f"Line {characteristics.sourceline}: the file object has no SHA-256 fixity.")


def _read_identification(r: _Reader, element: etree._Element) -> Identification:
    def need(holder: etree._Element, name: str) -> str:
        value = r.attribute(holder, name)
        if value is None:
            raise MetadataError(f"Line {holder.sourceline}: strongroom identification lacks {name}.")
        return value

    try:
        basis = Basis(need(element, "basis"))
    except ValueError:
        raise MetadataError(f"Line {element.sourceline}: unknown identification basis.") from None
    matches = tuple(
        FormatMatch(
            puid=need(match, "puid"),
            name=need(match, "name"),
            version=r.attribute(match, "version"),
            mime=r.attribute(match, "mime"),
            signature=need(match, "signature"),
        )
        for match in element.iterfind(sr("match"))
    )
    warnings = tuple(r.unescape("warning", w.text or "") for w in element.iterfind(sr("warning")))
    return Identification(
        basis=basis,
        matches=matches,
        tool=need(element, "tool"),
        tool_version=need(element, "toolVersion"),
        signature_version=need(element, "signatureVersion"),
        warnings=warnings,
    )


def read_package_object(obj: etree._Element, unescape: Unescaper) -> tuple[str, str]:
    """(uuid, payload SHA-256) of the package's intellectual entity."""
    r = _Reader(unescape)
    for properties in obj.iterfind(p("significantProperties")):
        if r.optional(properties, "significantPropertiesType") == PAYLOAD_PROPERTY:
            return read_object_uuid(obj, unescape), r.text(properties, "significantPropertiesValue")
    raise MetadataError(f"Line {obj.sourceline}: the package object has no {PAYLOAD_PROPERTY} property.")


def read_event(element: etree._Element, unescape: Unescaper, *, file_level: bool) -> Event:
    r = _Reader(unescape)
    uuid = r.text(element, "eventIdentifier", "eventIdentifierValue")
    outcome_text = r.text(element, "eventOutcomeInformation", "eventOutcome")
    try:
        outcome = Outcome(outcome_text)
    except ValueError:
        raise MetadataError(f"Line {element.sourceline}: event {uuid} has unknown outcome {outcome_text!r}.") from None
    agents = tuple(
        f"{r.text(link, 'linkingAgentIdentifierType')}:{r.text(link, 'linkingAgentIdentifierValue')}"
        for link in element.iterfind(p("linkingAgentIdentifier"))
    )
    file_uuid = None
    if file_level:
        link = r.find(element, "linkingObjectIdentifier")
        file_uuid = None if link is None else r.text(link, "linkingObjectIdentifierValue")
    detail = r.find(element, "eventDetailInformation", "eventDetail")
    version_element = element.find(f"{p('eventDetailInformation')}/{p('eventDetailExtension')}/{sr('packageVersion')}")
    version: int | None = None
    if version_element is not None:
        try:
            version = int((version_element.text or "").strip())
        except ValueError:
            raise MetadataError(
                f"Line {version_element.sourceline}: event {uuid} has a package version that is not a number."
            ) from None
    note = r.find(element, "eventOutcomeInformation", "eventOutcomeDetail", "eventOutcomeDetailNote")
    return Event(
        uuid=uuid,
        type=r.text(element, "eventType"),
        datetime=parse_datetime(r.text(element, "eventDateTime"), f"eventDateTime of event {uuid}"),
        detail="" if detail is None else unescape("eventDetail", detail.text or ""),
        outcome=outcome,
        outcome_detail="" if note is None else unescape("eventOutcomeDetailNote", note.text or ""),
        agents=agents,
        file_uuid=file_uuid,
        version=version,
    )


def read_agent(element: etree._Element, unescape: Unescaper) -> Agent:
    r = _Reader(unescape)
    type_text = r.text(element, "agentType")
    try:
        agent_type = AgentType(type_text)
    except ValueError:
        raise MetadataError(f"Line {element.sourceline}: unknown agentType {type_text!r}.") from None
    note = r.find(element, "agentNote")
    return Agent(
        identifier_type=r.text(element, "agentIdentifier", "agentIdentifierType"),
        identifier_value=r.text(element, "agentIdentifier", "agentIdentifierValue"),
        name=r.text(element, "agentName"),
        type=agent_type,
        note=None if note is None else unescape("agentNote", note.text or ""),
    )


def read_rights(
    statement: etree._Element, extra: etree._Element | None, unescape: Unescaper, target: str
) -> RightsStatement:
    r = _Reader(unescape)
    basis_text = r.text(statement, "rightsBasis")
    values: dict[str, str | None] = {}
    if basis_text in _NAMED_BASES.values():
        basis = basis_text.lower()
        info = r.find(statement, f"{basis}Information")
        if basis == "copyright":
            values["status"] = r.optional(info, "copyrightStatus")
            values["jurisdiction"] = r.optional(info, "copyrightJurisdiction")
            values["determination_date"] = r.optional(info, "copyrightStatusDeterminationDate")
            values["note"] = r.optional(info, "copyrightNote")
        elif basis == "license":
            values["terms"] = r.optional(info, "licenseTerms")
            values["note"] = r.optional(info, "licenseNote")
        else:
            values["jurisdiction"] = r.optional(info, "statuteJurisdiction")
            values["terms"] = r.optional(info, "statuteCitation")
            values["determination_date"] = r.optional(info, "statuteInformationDeterminationDate")
            values["note"] = r.optional(info, "statuteNote")
        prefix = basis
    else:
        info = r.find(statement, "otherRightsInformation")
        other = r.optional(info, "otherRightsBasis") or basis_text
        basis = other.lower() if other in _OTHER_BASES.values() else other
        values["note"] = r.optional(info, "otherRightsNote")
        prefix = "otherRights"
    if info is not None:
        documentation = r.find(info, f"{prefix}DocumentationIdentifier")
        values["doc_id_type"] = r.optional(documentation, f"{prefix}DocumentationIdentifierType")
        values["doc_id_value"] = r.optional(documentation, f"{prefix}DocumentationIdentifierValue")
        values["doc_id_role"] = r.optional(documentation, f"{prefix}DocumentationRole")
        dates = r.find(info, f"{prefix}ApplicableDates")
        values["start_date"] = r.optional(dates, "startDate")
        values["end_date"] = r.optional(dates, "endDate")
    granted = r.find(statement, "rightsGranted")
    if granted is not None:
        values["grant_act"] = r.optional(granted, "act")
        values["grant_restriction"] = r.optional(granted, "restriction")
        values["grant_start_date"] = r.optional(granted, "termOfGrant", "startDate")
        values["grant_end_date"] = r.optional(granted, "termOfGrant", "endDate")
        values["grant_note"] = r.optional(granted, "rightsGrantedNote")
    if extra is not None:
        for name in ("status", "jurisdiction", "determination_date", "terms"):
            value = r.attribute(extra, name)
            if value is not None:
                values[name] = value
    return RightsStatement(
        uuid=r.text(statement, "rightsStatementIdentifier", "rightsStatementIdentifierValue"),
        file_path=target,
        basis=basis,
        status=values.get("status"),
        jurisdiction=values.get("jurisdiction"),
        determination_date=values.get("determination_date"),
        note=values.get("note"),
        terms=values.get("terms"),
        start_date=values.get("start_date"),
        end_date=values.get("end_date"),
        grant_act=values.get("grant_act"),
        grant_restriction=values.get("grant_restriction"),
        grant_start_date=values.get("grant_start_date"),
        grant_end_date=values.get("grant_end_date"),
        grant_note=values.get("grant_note"),
        doc_id_type=values.get("doc_id_type"),
        doc_id_value=values.get("doc_id_value"),
        doc_id_role=values.get("doc_id_role"),
    )
