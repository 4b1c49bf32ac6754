"""PREMIS per-file sections written straight as text, for the METS writer's per-file loop.

The per-file sections are most of a large package's METS. Building them as lxml trees cost about
30 element calls per record; these functions write, as one string, exactly the text lxml gives for
the tree premis.file_object() or premis.event_element() makes, indented with etree.indent() at
`depth` (each element after its newline and indentation). tests/metadata/test_text.py holds them
to that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from strongroom.errors import MetadataError
from strongroom.metadata.premis import DERIVATION, HAS_SOURCE, Derivation, format_notes
from strongroom.metadata.xmlsupport import NEWLINES, Escaper, format_datetime, xml_attr, xml_text
from strongroom.model import Agent, Event, FileRecord, FileRole, Identification, Outcome, ToolOutcome, Validity


def _identifier_xml(nl: tuple[str, str], escape: Escaper, prefix: str, kind: str, value: str) -> str:
    holder, inner = nl
    kind_text = escape.text(f"{prefix}IdentifierType", kind)
    value_text = escape.text(f"{prefix}IdentifierValue", value)
    return (
        f"{holder}<premis:{prefix}Identifier>"
        f"{inner}<premis:{prefix}IdentifierType>{kind_text}</premis:{prefix}IdentifierType>"
        f"{inner}<premis:{prefix}IdentifierValue>{value_text}</premis:{prefix}IdentifierValue>"
        f"{holder}</premis:{prefix}Identifier>"
    )


def _uuid_identifier_xml(nl: tuple[str, str], escape: Escaper, prefix: str, value: str) -> str:
    """_identifier_xml() of kind "UUID", which no escaping changes."""
    holder, inner = nl
    value_text = escape.text(f"{prefix}IdentifierValue", value)
    return (
        f"{holder}<premis:{prefix}Identifier>"
        f"{inner}<premis:{prefix}IdentifierType>UUID</premis:{prefix}IdentifierType>"
        f"{inner}<premis:{prefix}IdentifierValue>{value_text}</premis:{prefix}IdentifierValue>"
        f"{holder}</premis:{prefix}Identifier>"
    )


def _attributes(escape: Escaper, name: str, values: Mapping[str, str | None]) -> str:
    """` key="value"` for each value set, as _set_attributes() sets them on element `name`."""
    return "".join(
        f' {key}="{escape.attr(f"{name}@{key}", value)}"' for key, value in values.items() if value is not None
    )


def file_object_xml(record: FileRecord, escape: Escaper, derivation: Derivation | None, depth: int) -> str:
    """file_object() as serialised text (see above)."""
    n0, n1, n2, n3, n4, n5 = NEWLINES[depth : depth + 6]
    text = escape.text
    parts = [
        f'{n0}<premis:object xsi:type="premis:file" version="3.0">',
        _uuid_identifier_xml((n1, n2), escape, "object", record.uuid),
        # compositionLevel and messageDigestAlgorithm are constants that no escaping changes.
        f"{n1}<premis:objectCharacteristics>{n2}<premis:compositionLevel>0</premis:compositionLevel>"
        f"{n2}<premis:fixity>{n3}<premis:messageDigestAlgorithm>SHA-256</premis:messageDigestAlgorithm>"
        f"{n3}<premis:messageDigest>{text('messageDigest', record.sha256)}</premis:messageDigest>{n2}</premis:fixity>"
        f"{n2}<premis:size>{text('size', str(record.size))}</premis:size>",
        _format_xml((n2, n3, n4), escape, record.identification),
    ]
    if record.modified is not None:
        when = text("dateCreatedByApplication", format_datetime(record.modified, f"modified time of {record.path!r}"))
        parts.append(
            f"{n2}<premis:creatingApplication>"
            f"{n3}<premis:dateCreatedByApplication>{when}</premis:dateCreatedByApplication>"
            f"{n2}</premis:creatingApplication>"
        )
    if record.identification is not None or record.validity is not None:
        parts.append(f"{n2}<premis:objectCharacteristicsExtension>")
        if record.identification is not None:
            parts.append(_identification_xml((n3, n4), escape, record.identification))
        if record.validity is not None:
            parts.append(_characterisation_xml((n3, n4, n5), escape, record.validity, record.characterisation))
        parts.append(f"{n2}</premis:objectCharacteristicsExtension>")
    name = text("originalName", record.original_name)
    parts.append(f"{n1}</premis:objectCharacteristics>{n1}<premis:originalName>{name}</premis:originalName>")
    if derivation is not None:
        parts += (
            f"{n1}<premis:relationship>"
            f"{n2}<premis:relationshipType>{text('relationshipType', DERIVATION)}</premis:relationshipType>"
            f"{n2}<premis:relationshipSubType>{text('relationshipSubType', HAS_SOURCE)}</premis:relationshipSubType>",
            _uuid_identifier_xml((n2, n3), escape, "relatedObject", derivation.source),
        )
        if derivation.event is not None:
            parts.append(_uuid_identifier_xml((n2, n3), escape, "relatedEvent", derivation.event))
        parts.append(f"{n1}</premis:relationship>")
    elif record.role in (FileRole.TEXT, FileRole.PRESERVATION, FileRole.ACCESS):
        raise MetadataError(f"The {record.role} derivative {record.path!r} has no source file to name.")
    parts.append(f"{n0}</premis:object>")
    return "".join(parts)


def _format_xml(nl: tuple[str, str, str], escape: Escaper, identification: Identification | None) -> str:
    n0, n1, n2 = nl
    text = escape.text
    first = identification.first if identification is not None else None
    if first is None:
        parts = [
            f"{n0}<premis:format>{n1}<premis:formatDesignation>"
            f"{n2}<premis:formatName>{text('formatName', 'Unknown')}</premis:formatName>{n1}</premis:formatDesignation>"
        ]
    else:
        parts = [
            f"{n0}<premis:format>{n1}<premis:formatDesignation>"
            f"{n2}<premis:formatName>{text('formatName', first.name)}</premis:formatName>"
        ]
        if first.version:
            parts.append(f"{n2}<premis:formatVersion>{text('formatVersion', first.version)}</premis:formatVersion>")
        parts.append(
            f"{n1}</premis:formatDesignation>{n1}<premis:formatRegistry>"
            f"{n2}<premis:formatRegistryName>{text('formatRegistryName', 'PRONOM')}</premis:formatRegistryName>"
            f"{n2}<premis:formatRegistryKey>{text('formatRegistryKey', first.puid)}</premis:formatRegistryKey>"
            f"{n1}</premis:formatRegistry>"
        )
    parts += (
        f"{n1}<premis:formatNote>{text('formatNote', note)}</premis:formatNote>"
        for note in format_notes(identification)
    )
    parts.append(f"{n0}</premis:format>")
    return "".join(parts)


def _identification_xml(nl: tuple[str, str], escape: Escaper, identification: Identification) -> str:
    n0, n1 = nl
    attributes = _attributes(escape, "identification", {
        "basis": identification.basis.value, "tool": identification.tool,
        "toolVersion": identification.tool_version, "signatureVersion": identification.signature_version,
    })  # fmt: skip
    children = []
    for match in identification.matches:
        match_attributes = _attributes(escape, "match", {
            "puid": match.puid, "name": match.name, "version": match.version, "mime": match.mime,
            "signature": match.signature,
        })  # fmt: skip
        children.append(f"{n1}<strongroom:match{match_attributes}/>")
    children += (
        f"{n1}<strongroom:warning>{escape.text('warning', w)}</strongroom:warning>" for w in identification.warnings
    )
    return _container(n0, "strongroom:identification", attributes, children)


def _characterisation_xml(
    nl: tuple[str, str, str], escape: Escaper, validity: Validity, outcomes: Sequence[ToolOutcome]
) -> str:
    n0, n1, n2 = nl
    children = []
    for outcome in outcomes:
        attributes = _attributes(escape, "tool", {
            "name": outcome.tool, "version": outcome.version, "formatName": outcome.format_name,
            "wellFormed": None if outcome.well_formed is None else str(outcome.well_formed).lower(),
            "valid": None if outcome.valid is None else str(outcome.valid).lower(),
        })  # fmt: skip
        messages = [
            f"{n2}<strongroom:message>{escape.text('message', m)}</strongroom:message>" for m in outcome.messages
        ]
        children.append(_container(n1, "strongroom:tool", attributes, messages))
    return _container(n0, "strongroom:characterisation", f' validity="{xml_attr(validity.value)}"', children)


def _container(nl: str, tag: str, attributes: str, children: Sequence[str]) -> str:
    """An element holding `children` (already text), or an empty one, as lxml writes each."""
    if not children:
        return f"{nl}<{tag}{attributes}/>"
    return f"{nl}<{tag}{attributes}>{''.join(children)}{nl}</{tag}>"


def event_xml(event: Event, agents: Mapping[str, Agent], linked_object: str | None, escape: Escaper, depth: int) -> str:
    """event_element() as serialised text (see above)."""
    n0, n1, n2, n3 = NEWLINES[depth : depth + 4]
    text = escape.text
    when = format_datetime(event.datetime, f"event {event.uuid}")
    outcome = Outcome(event.outcome).value
    parts = [
        f'{n0}<premis:event version="3.0">',
        _uuid_identifier_xml((n1, n2), escape, "event", event.uuid),
        f"{n1}<premis:eventType>{text('eventType', event.type)}</premis:eventType>"
        f"{n1}<premis:eventDateTime>{text('eventDateTime', when)}</premis:eventDateTime>"
        f"{n1}<premis:eventDetailInformation>"
        f"{n2}<premis:eventDetail>{text('eventDetail', event.detail)}</premis:eventDetail>",
    ]
    if event.version is not None:
        parts.append(
            f"{n2}<premis:eventDetailExtension>"
            f"{n3}<strongroom:packageVersion>{xml_text(str(event.version))}</strongroom:packageVersion>"
            f"{n2}</premis:eventDetailExtension>"
        )
    note = text("eventOutcomeDetailNote", event.outcome_detail)
    parts.append(
        f"{n1}</premis:eventDetailInformation>{n1}<premis:eventOutcomeInformation>"
        f"{n2}<premis:eventOutcome>{text('eventOutcome', outcome)}</premis:eventOutcome>"
        f"{n2}<premis:eventOutcomeDetail>{n3}<premis:eventOutcomeDetailNote>{note}</premis:eventOutcomeDetailNote>"
        f"{n2}</premis:eventOutcomeDetail>{n1}</premis:eventOutcomeInformation>"
    )
    for key in event.agents:
        agent = agents.get(key)
        if agent is None:
            raise MetadataError(
                f"Event {event.uuid} ({event.type}) names agent {key!r}, which is not among the agents."
            )
        parts.append(_identifier_xml((n1, n2), escape, "linkingAgent", agent.identifier_type, agent.identifier_value))
    if linked_object is not None:
        parts.append(_uuid_identifier_xml((n1, n2), escape, "linkingObject", linked_object))
    parts.append(f"{n0}</premis:event>")
    return "".join(parts)
