"""Dublin Core descriptions and BagIt source metadata as METS xmlData content.

A description is written as a `strongroom:dublincore` container holding one
`dc:` element per value (one `dcterms:` element for DCMI refinements such as
`alternative`), so each element validates against the DCMI schemas. The
container plays the part of Archivematica's `dcterms:dublincore`, which no
DCMI schema declares. A key that is neither becomes `strongroom:term name=`
so nothing the depositor gave is dropped.

bag-info.txt of a supplied bag becomes Archivematica's `<transfer_metadata>`:
one element per value, named after the key made XML-safe, with the key itself
in a `key` attribute whenever the name had to change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from lxml import etree

from strongroom.errors import MetadataError
from strongroom.metadata.xmlsupport import DC, DCTERMS, Escaper, Unescaper, local_name, sr
from strongroom.model import DublinCore

DC_ELEMENTS = frozenset(
    (
        "title", "creator", "subject", "description", "publisher", "contributor", "date", "type",
        "format", "identifier", "source", "language", "relation", "coverage", "rights",
    )
)  # fmt: skip
# Terms dcterms.xsd declares beyond the fifteen elements (refinements and new properties).
DCTERMS_TERMS = frozenset(
    (
        "alternative", "tableOfContents", "abstract", "created", "valid", "available", "issued",
        "modified", "dateAccepted", "dateCopyrighted", "dateSubmitted", "extent", "medium",
        "isVersionOf", "hasVersion", "isReplacedBy", "replaces", "isRequiredBy", "requires",
        "isPartOf", "hasPart", "isReferencedBy", "references", "isFormatOf", "hasFormat",
        "conformsTo", "spatial", "temporal", "audience", "accrualMethod", "accrualPeriodicity",
        "accrualPolicy", "instructionalMethod", "provenance", "rightsHolder", "mediator",
        "educationLevel", "accessRights", "license", "bibliographicCitation",
    )
)  # fmt: skip

TRANSFER_METADATA = "transfer_metadata"


def description_element(description: DublinCore, escape: Escaper) -> etree._Element:
    container = etree.Element(sr("dublincore"))
    for key, values in description.elements.items():
        if not values:
            _other_term(container, key, escape).set("novalues", "true")
        for value in values:
            if key in DC_ELEMENTS:
                element = etree.SubElement(container, f"{{{DC}}}{key}")
            elif key in DCTERMS_TERMS:
                element = etree.SubElement(container, f"{{{DCTERMS}}}{key}")
            else:
                element = _other_term(container, key, escape)
            element.text = escape(local_name(str(element.tag)), value)
    return container


def _other_term(container: etree._Element, key: str, escape: Escaper) -> etree._Element:
    element = etree.SubElement(container, sr("term"))
    element.set("name", escape("term@name", key))
    return element


def read_description(container: etree._Element, target: str, unescape: Unescaper) -> DublinCore:
    elements: dict[str, list[str]] = {}
    for child in container:
        if not isinstance(child.tag, str):
            continue  # comments and processing instructions
        namespace, _, name = child.tag[1:].partition("}")
        if namespace in (DC, DCTERMS):
            key = name
        elif child.tag == sr("term"):
            raw = child.get("name")
            if raw is None:
                raise MetadataError(f"Line {child.sourceline}: strongroom:term has no name.")
            key = unescape("term@name", raw)
            if child.get("novalues") == "true":
                elements.setdefault(key, [])
                continue
        else:
            raise MetadataError(f"Line {child.sourceline}: unexpected {child.tag} in a Dublin Core description.")
        elements.setdefault(key, []).append(unescape(name, child.text or ""))
    return DublinCore(target=target, elements={k: tuple(v) for k, v in elements.items()})


_NOT_NAME_CHAR = re.compile(r"[^A-Za-z0-9._-]")


def element_name(key: str) -> str:
    """An XML element name for a bag-info key: ASCII letters, digits, '.', '-', '_' only."""
    name = _NOT_NAME_CHAR.sub("_", key)
    if not name or not (name[0].isalpha() or name[0] == "_") or name.lower().startswith("xml"):
        name = "_" + name
    return name


def source_metadata_element(metadata: Mapping[str, Sequence[str]], escape: Escaper) -> etree._Element:
    container = etree.Element(TRANSFER_METADATA)
    for key, values in metadata.items():
        name = element_name(key)
        for value in values or (None,):
            element = etree.SubElement(container, name)
            if name != key:
                element.set("key", escape(f"{name}@key", key))
            if value is None:
                element.set("novalues", "true")
            else:
                element.text = escape(name, value)
    return container


def read_source_metadata(container: etree._Element, unescape: Unescaper) -> dict[str, tuple[str, ...]]:
    metadata: dict[str, list[str]] = {}
    for child in container:
        if not isinstance(child.tag, str):
            continue
        name = local_name(child.tag)
        raw_key = child.get("key")
        key = name if raw_key is None else unescape(f"{name}@key", raw_key)
        values = metadata.setdefault(key, [])
        if child.get("novalues") != "true":
            values.append(unescape(name, child.text or ""))
    return {k: tuple(v) for k, v in metadata.items()}
