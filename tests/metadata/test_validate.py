"""Validation against the official METS 1.12.1, PREMIS 3.0 and Dublin Core schemas."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from strongroom.errors import MetadataError
from strongroom.metadata import MetsValidator, SchemaProblem, validate_mets
from strongroom.metadata.validate import SCHEMA_DIR, _LocalSchemas
from tests.metadata.test_mets import NS

SHARED_SCHEMAS = Path(__file__).resolve().parents[2].parent / "shared" / "schemas"
needs_shared = pytest.mark.skipif(
    not SHARED_SCHEMAS.is_dir(), reason=f"the project's reference schemas are not at {SHARED_SCHEMAS}"
)
SHIPPED = ("mets-1-12-1.xsd", "premis-v3-0.xsd", "xlink.xsd", "xml.xsd", "dc.xsd", "dcterms.xsd", "dcmitype.xsd")


def test_written_document_is_valid_with_the_shipped_schemas(mets_path: Path, validator: MetsValidator) -> None:
    assert validator.validate(mets_path) == []
    assert validate_mets(mets_path) == []


@needs_shared
def test_written_document_is_valid_with_the_reference_schemas(mets_path: Path) -> None:
    assert MetsValidator(SHARED_SCHEMAS).validate(mets_path) == []


@needs_shared
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_schemas_are_unchanged_copies(name: str) -> None:
    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    assert digest(SCHEMA_DIR / name) == digest(SHARED_SCHEMAS / name)


def test_validator_checks_several_documents_with_schemas_loaded_once(
    mets_path: Path, tmp_path: Path, validator: MetsValidator
) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_bytes(mets_path.read_bytes().replace(b'MDTYPE="DC"', b'MDTYPE="NOT-A-TYPE"'))

    assert validator.validate(mets_path) == []
    assert {p.code for p in validator.validate(broken)} == {"mets.invalid-value"}
    assert validator.validate(mets_path) == []


def _damage(path: Path, change: Callable[[etree._Element], None]) -> None:
    tree = etree.parse(str(path))
    change(tree.getroot())
    tree.write(str(path))


def _remove(root: etree._Element, xpath: str) -> None:
    found = root.find(xpath, NS)
    assert found is not None, xpath
    found.getparent().remove(found)  # type: ignore[union-attr]


def _set(xpath: str, attribute: str, value: str | None) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        found = root.find(xpath, NS)
        assert found is not None, xpath
        if value is None:
            del found.attrib[attribute]
        else:
            found.set(attribute, value)

    return change


def _add_child(xpath: str, tag: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        found = root.find(xpath, NS)
        assert found is not None, xpath
        etree.SubElement(found, tag)

    return change


@pytest.mark.parametrize(
    "change, code",
    [
        # METS: a required element, a required attribute, a closed vocabulary, a reference
        (lambda root: _remove(root, "mets:structMap"), "mets.element-content"),
        (_set("mets:dmdSec", "ID", None), "mets.missing-attribute mets.dangling-reference"),
        (_set(".//mets:file", "CHECKSUMTYPE", "SHA-3"), "mets.invalid-value"),
        (_set(".//mets:fptr", "FILEID", "file-nowhere"), "mets.dangling-reference"),
        # PREMIS: each embedded element against premis-v3-0.xsd
        (lambda root: _remove(root, ".//premis:object/premis:objectCharacteristics"), "premis.element-content"),
        (lambda root: _remove(root, ".//premis:event/premis:eventDateTime"), "premis.element-content"),
        (
            lambda root: _remove(root, ".//premis:copyrightInformation/premis:copyrightJurisdiction"),
            "premis.element-content",
        ),
        (_add_child(".//premis:agent", "{http://www.loc.gov/premis/v3}agentColour"), "premis.element-content"),
        (_set(".//premis:object", "version", "2.2"), "premis.invalid-value"),
        # Dublin Core: each element against the DCMI schemas
        (_add_child(".//dc:title", "{urn:x}markup"), "dc.element-content"),
        (_add_child(".//sr:dublincore", "{http://purl.org/dc/elements/1.1/}colour"), "dc.unknown-element"),
    ],
)
def test_broken_documents_yield_problems_with_stable_codes(
    mets_path: Path, validator: MetsValidator, change: Callable[[etree._Element], None], code: str
) -> None:
    _damage(mets_path, change)

    problems = validator.validate(mets_path)

    assert problems, "the damage went unnoticed"
    assert {p.code for p in problems} == set(code.split()), problems
    assert all(isinstance(p, SchemaProblem) and p.line > 0 and p.message for p in problems)
    assert problems == sorted(problems, key=lambda p: p.line)


def test_problems_describe_themselves(mets_path: Path, validator: MetsValidator) -> None:
    _damage(mets_path, _set(".//mets:fptr", "FILEID", "file-nowhere"))

    (problem,) = validator.validate(mets_path)

    assert "file-nowhere" in problem.describe() and "mets.dangling-reference" in problem.describe()


@pytest.mark.parametrize(
    "content, code",
    [
        (b"<mets:mets xmlns:mets='http://www.loc.gov/METS/'>", "xml.not-well-formed"),
        (b"<dc xmlns='http://purl.org/dc/elements/1.1/'/>", "mets.not-mets"),
        (b"<!DOCTYPE mets><mets:mets xmlns:mets='http://www.loc.gov/METS/'/>", "xml.doctype"),
    ],
)
def test_documents_that_cannot_be_validated(
    tmp_path: Path, validator: MetsValidator, content: bytes, code: str
) -> None:
    path = tmp_path / "METS.xml"
    path.write_bytes(content)

    assert [p.code for p in validator.validate(path)] == [code]


def test_missing_document_is_a_problem_not_a_crash(tmp_path: Path, validator: MetsValidator) -> None:
    assert [p.code for p in validator.validate(tmp_path / "absent.xml")] == ["xml.unreadable"]


def test_remote_schema_imports_are_refused_not_fetched(tmp_path: Path) -> None:
    resolver = _LocalSchemas(tmp_path)
    with pytest.raises(MetadataError, match="no local copy"):
        resolver.resolve("http://example.com/other.xsd", "", None)

    (tmp_path / "mets-1-12-1.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t">'
        '<xs:import namespace="urn:u" schemaLocation="http://example.com/other.xsd"/></xs:schema>'
    )
    with pytest.raises(MetadataError, match="Cannot load the schema"):
        MetsValidator(tmp_path)
