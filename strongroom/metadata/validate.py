"""Validate a METS document against the official METS, PREMIS and Dublin Core schemas.

The schemas ship inside the package (strongroom/metadata/schemas/), unchanged
copies of the published ones; their imports of remote URLs are answered from
those copies by a resolver, so validation never touches the network.

Each embedded PREMIS element and each Dublin Core element is validated on its
own against its schema; then the METS schema validates the document's METS
structure. Problems carry stable codes ("<scope>.<kind>"), ordered by line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from lxml import etree

from strongroom.errors import MetadataError
from strongroom.metadata.xmlsupport import DC, DCTERMS, METS, PREMIS, STRONGROOM, has_doctype, line_of, m, safe_parser

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
METS_SCHEMA = "mets-1-12-1.xsd"
PREMIS_SCHEMA = "premis-v3-0.xsd"
DC_SCHEMA = "dcterms.xsd"  # imports dc.xsd, so it declares both dc: and dcterms: elements

# The remote schemaLocations these schemas import, answered by the local copies
# (the same mapping as the OASIS catalog.xml beside the shared copies).
SCHEMA_LOCATIONS = MappingProxyType(
    {
        "http://www.loc.gov/standards/xlink/xlink.xsd": "xlink.xsd",
        "http://www.w3.org/1999/xlink.xsd": "xlink.xsd",
        "http://www.w3.org/2001/03/xml.xsd": "xml.xsd",
        "http://www.w3.org/2001/xml.xsd": "xml.xsd",
        "http://www.loc.gov/standards/mets/mets.xsd": METS_SCHEMA,
        "http://www.loc.gov/standards/mets/version1121/mets.xsd": METS_SCHEMA,
        "http://www.loc.gov/standards/premis/v3/premis.xsd": PREMIS_SCHEMA,
        "http://www.loc.gov/standards/premis/premis.xsd": PREMIS_SCHEMA,
        "http://dublincore.org/schemas/xmls/qdc/2008/02/11/dc.xsd": "dc.xsd",
        "http://dublincore.org/schemas/xmls/qdc/dc.xsd": "dc.xsd",
        "http://dublincore.org/schemas/xmls/qdc/2008/02/11/dcterms.xsd": "dcterms.xsd",
        "http://dublincore.org/schemas/xmls/qdc/dcterms.xsd": "dcterms.xsd",
    }
)

# libxml2 error types, grouped into the kinds a problem code names.
_KINDS = MappingProxyType(
    {
        "SCHEMAV_ELEMENT_CONTENT": "element-content",
        "SCHEMAV_CVC_COMPLEX_TYPE_2_1": "element-content",
        "SCHEMAV_CVC_COMPLEX_TYPE_2_3": "element-content",
        "SCHEMAV_CVC_COMPLEX_TYPE_2_4": "element-content",
        "SCHEMAV_CVC_ELT_1": "unknown-element",
        "SCHEMAV_CVC_COMPLEX_TYPE_4": "missing-attribute",
        "SCHEMAV_CVC_COMPLEX_TYPE_3_2_1": "unexpected-attribute",
        "SCHEMAV_CVC_COMPLEX_TYPE_3_2_2": "unexpected-attribute",
        "SCHEMAV_CVC_DATATYPE_VALID_1_2_1": "invalid-value",
        "SCHEMAV_CVC_ENUMERATION_VALID": "invalid-value",
        "SCHEMAV_CVC_PATTERN_VALID": "invalid-value",
        "SCHEMAV_CVC_ATTRIBUTE_3": "invalid-value",
        "SCHEMAV_CVC_ELT_4_3": "invalid-type",
        "SCHEMAV_CVC_ELT_4_2": "invalid-type",
    }
)
_REFERENCE_ATTRS = ("DMDID", "ADMID", "FILEID")


@dataclass(frozen=True)
class SchemaProblem:
    """One way a document departs from a schema. `line` is 0 when unknown."""

    code: str
    line: int
    message: str

    def describe(self) -> str:
        return f"line {self.line}: {self.message} [{self.code}]"


class _LocalSchemas(etree.Resolver):
    """Answers the schemas' remote imports from the local copies; refuses any other URL."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self._directory = directory

    def resolve(self, system_url: str, public_id: str, context: Any = None) -> Any:
        name = SCHEMA_LOCATIONS.get(system_url)
        if name is not None:
            return self.resolve_filename(str(self._directory / name), context)  # type: ignore[attr-defined]
        if "://" in system_url and not system_url.startswith("file:"):
            # lxml reports this as a failed import; the network is never tried.
            raise MetadataError(f"no local copy of the schema {system_url}")
        return None  # a file beside the schema (dcterms.xsd imports dc.xsd): read as usual


class MetsValidator:
    """Loads the schemas once; `validate` may then be called for any number of documents."""

    def __init__(self, schema_dir: Path | None = None) -> None:
        self.schema_dir = schema_dir if schema_dir is not None else SCHEMA_DIR
        self._mets = self._load(METS_SCHEMA)
        self._premis = self._load(PREMIS_SCHEMA)
        self._dc = self._load(DC_SCHEMA)

    def _load(self, name: str) -> etree.XMLSchema:
        path = self.schema_dir / name
        parser = etree.XMLParser(no_network=True, load_dtd=False, resolve_entities=False)
        parser.resolvers.add(_LocalSchemas(self.schema_dir))
        try:
            return etree.XMLSchema(etree.parse(str(path), parser))
        except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
            raise MetadataError(f"Cannot load the schema {path}: {exc}") from None

    def validate(self, path: Path) -> list[SchemaProblem]:
        try:
            tree = etree.parse(str(path), safe_parser())
        except etree.XMLSyntaxError as exc:
            return [SchemaProblem("xml.not-well-formed", exc.lineno or 0, str(exc))]
        except OSError as exc:
            return [SchemaProblem("xml.unreadable", 0, f"cannot read {path}: {exc}")]
        root = tree.getroot()
        if has_doctype(root):
            message = "the document has a DOCTYPE; METS needs none and it is refused (entities are an attack vector)"
            return [SchemaProblem("xml.doctype", 1, message)]
        if root.tag != m("mets"):
            return [SchemaProblem("mets.not-mets", line_of(root), f"the root element is {root.tag}, not mets:mets")]
        problems: list[SchemaProblem] = []
        for element in list(_embedded(root, (PREMIS,))):
            if not self._premis.validate(element):
                problems += _problems("premis", self._premis.error_log)
        for element in list(_embedded(root, (DC, DCTERMS))):
            if not self._dc.validate(element):
                problems += _problems("dc", self._dc.error_log)
        _set_embedded_aside(root)
        if not self._mets.validate(tree):
            problems += _problems("mets", self._mets.error_log)
        problems += _dangling_references(root)
        return sorted(problems, key=lambda problem: problem.line)


def validate_mets(path: Path) -> list[SchemaProblem]:
    """Validate one METS document with the shipped schemas (an empty list means valid)."""
    return MetsValidator().validate(path)


def _namespace(tag: object) -> str | None:
    if isinstance(tag, str) and tag.startswith("{"):
        return tag[1:].partition("}")[0]
    return None


def _embedded(root: etree._Element, namespaces: tuple[str, ...]) -> Iterable[etree._Element]:
    """Outermost elements of the given namespaces: the roots of embedded metadata."""
    for namespace in namespaces:
        for element in root.iter(f"{{{namespace}}}*"):
            parent = element.getparent()
            if parent is None or _namespace(parent.tag) not in namespaces:
                yield element


def _set_embedded_aside(root: etree._Element) -> None:
    """Swap what xmlData holds for a placeholder, once it has been validated on its own.

    METS declares xmlData content lax, and a lax validator must still resolve an
    xsi:type such as premis:file, which only the PREMIS schema defines; so without
    this the METS pass would report every PREMIS object as an error of its own.
    """
    for data in root.iter(f"{{{METS}}}xmlData"):
        children = [child for child in data if isinstance(child.tag, str)]
        for child in children:
            data.remove(child)
        if children:
            data.append(etree.Element(f"{{{STRONGROOM}}}validated-separately"))


def _problems(scope: str, log: Any) -> list[SchemaProblem]:
    return [
        SchemaProblem(f"{scope}.{_KINDS.get(entry.type_name, 'invalid')}", entry.line or 0, entry.message)
        for entry in log
    ]


def _dangling_references(root: etree._Element) -> list[SchemaProblem]:
    """IDREF(S) that name no ID: libxml2's schema validation does not check them."""
    ids: set[str] = set()
    for element in root.iter(f"{{{METS}}}*"):
        value = element.get("ID")
        if value is not None:
            ids.add(value)
    problems = []
    for element in root.iter(f"{{{METS}}}*"):
        for attribute in _REFERENCE_ATTRS:
            for reference in (element.get(attribute) or "").split():
                if reference not in ids:
                    problems.append(
                        SchemaProblem(
                            "mets.dangling-reference",
                            line_of(element),
                            f"{attribute}={reference!r} of mets:{etree.QName(element).localname} names no element",
                        )
                    )
    return problems
