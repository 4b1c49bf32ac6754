"""Writing and reading the METS document: round trip, layout, hostile names, refusals."""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from strongroom.errors import MetadataError
from strongroom.metadata import read_mets, write_mets
from strongroom.metadata.xmlsupport import (
    DC,
    DCTERMS,
    PREMIS,
    STRONGROOM,
    XLINK,
    escape_href,
    escape_text,
    unescape,
    unescape_href,
)
from strongroom.model import Event, FileRecord, FileRole, Outcome
from tests.metadata import sample as s
from tests.metadata.sample import Sample

NS = {"mets": "http://www.loc.gov/METS/", "premis": PREMIS, "dc": DC, "dcterms": DCTERMS, "sr": STRONGROOM}
ESCAPED = f"{{{STRONGROOM}}}escaped"


def _tree(path: Path) -> etree._ElementTree:
    return etree.parse(str(path))


def _file_amdsec(tree: etree._ElementTree, record: FileRecord) -> etree._Element:
    found = tree.find(f"mets:amdSec[@ID='amdSec-{record.uuid}']", NS)
    assert found is not None
    return found


def _record(path: str) -> FileRecord:
    return next(r for r in s.FILES if r.path == path)


# --- round trip -------------------------------------------------------------------------------


def test_round_trip_gives_back_equal_records(mets_path: Path, package: Sample) -> None:
    document = read_mets(mets_path)

    for field in dataclasses.fields(document):
        assert getattr(document, field.name) == getattr(package.expected, field.name), field.name
    assert document == package.expected
    assert all(e.datetime.utcoffset() == timedelta(0) for e in document.events)  # UTC, aware
    assert document.created.utcoffset() == timedelta(0)


def test_round_trip_keeps_hostile_names_and_text_exactly(mets_path: Path) -> None:
    by_path = {r.path: r for r in read_mets(mets_path).files}

    for path in (s.HOSTILE, s.URI_HOSTILE, s.CONTROL, s.UNDECODABLE, s.NONCHARACTER):
        assert by_path[path] == _record(path)
        assert by_path[path].original_name == path.rsplit("/", 1)[1]
    assert read_mets(mets_path).files[0].identification is not None


def test_files_are_read_in_the_order_written(mets_path: Path) -> None:
    assert [r.path for r in read_mets(mets_path).files] == sorted(r.path for r in s.FILES)


def test_each_section_walks_the_files_afresh(tmp_path: Path, package: Sample) -> None:
    write_mets(tmp_path / "METS.xml", package.document)
    roles = {r.role for r in s.FILES}
    # amdSecs, one fileGrp per role, structMap: never a list of all files in memory
    assert len(package.calls) == 1 + len(roles) + 1


def test_a_package_without_files_or_extras_round_trips(tmp_path: Path, package: Sample) -> None:
    bare = dataclasses.replace(
        package.document,
        agents=(),
        package_events=(),
        rights=(),
        descriptions=(),
        source_metadata={},
        files=lambda: iter(()),
    )
    write_mets(tmp_path / "METS.xml", bare)
    document = read_mets(tmp_path / "METS.xml")

    assert document.files == () and document.events == () and document.source_metadata == {}
    assert document.agents == (s.ORGANISATION,)  # the METS header's organisation is always an agent


# --- escaping ---------------------------------------------------------------------------------


def test_paths_needing_no_escape_are_written_as_they_are(mets_path: Path) -> None:
    tree = _tree(mets_path)
    hrefs = {f.find("mets:FLocat", NS).get(f"{{{XLINK}}}href"): f for f in tree.iterfind(".//mets:file", NS)}  # type: ignore[union-attr]

    assert s.HOSTILE in hrefs  # & < > " ' ? + ≠ 世界 are fine in XML and in xs:anyURI
    assert hrefs[s.HOSTILE].get(ESCAPED) is None


def test_illegal_characters_are_percent_encoded_and_marked(mets_path: Path) -> None:
    tree = _tree(mets_path)
    files = {f.get("ID"): f for f in tree.iterfind(".//mets:file", NS)}
    cases = {
        s.CONTROL: "objects/odd%01name%1F.txt",
        s.UNDECODABLE: "objects/latin1-caf%E9-%FF.bin",  # the original bytes
        s.NONCHARACTER: "objects/nonchar-%EF%BF%BE.txt",
        s.URI_HOSTILE: "objects/minutes/sub/deep/a%23b%23c %5B1%5D 100%25.txt",
    }
    for path, href in cases.items():
        element = files[f"file-{_record(path).uuid}"]
        assert element.get(ESCAPED) == "FLocat@href"
        assert element.find("mets:FLocat", NS).get(f"{{{XLINK}}}href") == href  # type: ignore[union-attr]
        # any URI library gives the name back
        assert urllib.parse.unquote(href, errors="surrogateescape") == path

    techmd = _file_amdsec(tree, _record(s.CONTROL)).find("mets:techMD", NS)
    assert techmd is not None and techmd.get(ESCAPED) == "originalName"
    assert techmd.findtext(".//premis:originalName", namespaces=NS) == "odd%01name%1F.txt"


def test_text_escape_is_reversible_for_every_bmp_character() -> None:
    everything = "".join(chr(c) for c in range(0x10000)) + "%41 % %% \U0001f600"
    escaped = escape_text(everything)

    assert unescape(escaped) == everything
    etree.fromstring(f"<x>{escaped.replace('&', '&amp;').replace('<', '&lt;')}</x>")  # legal XML


@pytest.mark.parametrize(
    "path",
    ["objects/a:b/c", "a:b/c", ":x/y", "objects/[x]#y#z", "objects/100%", "objects/\udc80\udcff", "objects/\x7f\x85"],
)
def test_href_escape_gives_valid_uris_that_decode_back(path: str) -> None:
    schema = etree.XMLSchema(
        etree.XML(
            b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t">'
            b'<xs:element name="u" type="xs:anyURI"/></xs:schema>'
        )
    )
    element = etree.Element("{urn:t}u")
    element.text = escape_href(path)

    assert schema.validate(element), schema.error_log
    assert unescape_href(element.text) == path


def test_a_path_no_file_system_could_hold_is_refused(tmp_path: Path, package: Sample) -> None:
    record = dataclasses.replace(s.FILES[0], path="objects/lone-\ud800")
    doc = dataclasses.replace(package.document, files=lambda: iter([(record, [])]))

    with pytest.raises(MetadataError, match="cannot be recorded"):
        write_mets(tmp_path / "METS.xml", doc)


# --- layout -----------------------------------------------------------------------------------


def test_header_and_root(mets_path: Path, package: Sample) -> None:
    root = _tree(mets_path).getroot()

    assert root.get("OBJID") == s.PACKAGE
    assert root.get("LABEL") == package.document.name
    assert root.get("PROFILE") is None
    assert "http://www.loc.gov/standards/premis/v3/premis.xsd" in root.get(
        "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation", ""
    )
    agent = root.find("mets:metsHdr/mets:agent", NS)
    assert agent is not None and (agent.get("ROLE"), agent.get("TYPE")) == ("CREATOR", "ORGANIZATION")
    assert agent.findtext("mets:name", namespaces=NS) == s.ORGANISATION.name


def test_filesec_groups_files_by_role(mets_path: Path) -> None:
    tree = _tree(mets_path)
    groups = {g.get("USE"): g for g in tree.iterfind("mets:fileSec/mets:fileGrp", NS)}

    assert list(groups) == ["original", "submissionDocumentation", "metadata", "log"]
    pdf = _record("objects/minutes/1999.pdf")
    element = groups["original"].find(f"mets:file[@ID='file-{pdf.uuid}']", NS)
    assert element is not None
    assert element.get("ADMID") == f"amdSec-{pdf.uuid}"
    assert element.get("GROUPID") == f"Group-{pdf.uuid}"
    assert (element.get("CHECKSUM"), element.get("CHECKSUMTYPE"), element.get("SIZE")) == (
        pdf.sha256,
        "SHA-256",
        "123456",
    )
    locator = element.find("mets:FLocat", NS)
    assert locator is not None and (locator.get("LOCTYPE"), locator.get("OTHERLOCTYPE")) == ("OTHER", "SYSTEM")


def test_structmap_nests_folders_and_links_descriptions(mets_path: Path) -> None:
    tree = _tree(mets_path)
    dmd = {d.get(f"{{{STRONGROOM}}}target"): d.get("ID") for d in tree.iterfind("mets:dmdSec", NS)}
    root = tree.find("mets:structMap[@TYPE='physical']/mets:div", NS)
    assert root is not None
    assert root.get("LABEL") == f"{s.sample().document.name}-{s.PACKAGE}"
    assert root.get("DMDID") == dmd["objects"]

    def div(*labels: str) -> etree._Element:
        current = root
        for label in labels:
            found = [d for d in current.iterfind("mets:div", NS) if d.get("LABEL") == label]
            assert len(found) == 1, (labels, label)  # each folder once: the stack closed them in order
            current = found[0]
        return current

    assert [d.get("LABEL") for d in root.iterfind("mets:div", NS)] == ["logs", "metadata", "objects"]
    assert div("objects", "minutes").get("DMDID") == dmd["objects/minutes"]
    assert div("objects", "minutes").get("TYPE") == "Directory"
    item = div("objects", "minutes", "1999.pdf")
    assert item.get("TYPE") == "Item" and item.get("DMDID") == dmd["objects/minutes/1999.pdf"]
    fptr = item.find("mets:fptr", NS)
    assert fptr is not None and fptr.get("FILEID") == f"file-{_record('objects/minutes/1999.pdf').uuid}"
    assert div("objects", "minutes", "sub", "deep", "deeper", "report.pdf").get("TYPE") == "Item"
    assert div("objects", "hello? sausage", "êé", "Hello, 世界", " \" ' @ < > & ? + ≠", "z.txt").get("DMDID")
    assert len(root.findall(".//mets:fptr", NS)) == len(s.FILES)


def test_dublin_core_uses_dc_and_dcterms_elements(mets_path: Path) -> None:
    tree = _tree(mets_path)
    package = tree.find("mets:dmdSec[@strongroom:target='objects']//sr:dublincore", {**NS, "strongroom": STRONGROOM})
    assert package is not None
    wrap = package.getparent().getparent()  # type: ignore[union-attr]
    assert wrap is not None and wrap.get("MDTYPE") == "DC"
    assert [e.text for e in package.iterfind("dc:subject", NS)] == ["minutes", "societies", "Québec — 世界"]
    assert package.find("sr:term[@name='Local Identifier']", NS) is not None
    folder = tree.find(
        "mets:dmdSec[@strongroom:target='objects/minutes']//sr:dublincore", {**NS, "strongroom": STRONGROOM}
    )
    assert folder is not None and folder.findtext("dcterms:alternative", namespaces=NS) == "Procès-verbaux"


def test_file_amdsec_holds_object_rights_events_and_agents(mets_path: Path) -> None:
    tree = _tree(mets_path)
    pdf = _record("objects/minutes/1999.pdf")
    section = _file_amdsec(tree, pdf)
    obj = section.find("mets:techMD/mets:mdWrap[@MDTYPE='PREMIS:OBJECT']/mets:xmlData/premis:object", NS)
    assert obj is not None
    assert obj.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "premis:file"
    assert obj.findtext("premis:objectIdentifier/premis:objectIdentifierValue", namespaces=NS) == pdf.uuid
    characteristics = obj.find("premis:objectCharacteristics", NS)
    assert characteristics is not None
    assert characteristics.findtext("premis:compositionLevel", namespaces=NS) == "0"
    assert characteristics.findtext("premis:fixity/premis:messageDigestAlgorithm", namespaces=NS) == "SHA-256"
    assert (
        characteristics.findtext("premis:format/premis:formatRegistry/premis:formatRegistryKey", namespaces=NS)
        == "fmt/276"
    )
    assert (
        characteristics.findtext("premis:format/premis:formatDesignation/premis:formatVersion", namespaces=NS) == "1.7"
    )

    # rights on objects/, on objects/minutes and on the file itself, each linked to this file
    rights = section.findall("mets:rightsMD//premis:rightsStatement", NS)
    ids = [
        r.findtext("premis:rightsStatementIdentifier/premis:rightsStatementIdentifierValue", namespaces=NS)
        for r in rights
    ]
    assert ids == ["r-copyright", "r-license", "r-statute"]
    assert {
        r.findtext("premis:linkingObjectIdentifier/premis:linkingObjectIdentifierValue", namespaces=NS) for r in rights
    } == {pdf.uuid}

    events = section.findall("mets:digiprovMD/mets:mdWrap[@MDTYPE='PREMIS:EVENT']/mets:xmlData/premis:event", NS)
    assert len(events) == 3
    ingest = events[0]
    assert [
        a.findtext("premis:linkingAgentIdentifierValue", namespaces=NS)
        for a in ingest.iterfind("premis:linkingAgentIdentifier", NS)
    ] == ["Strongroom-0.1.0", "CA-XYZ", "jdoe"]
    assert ingest.findtext("premis:eventDateTime", namespaces=NS) == "2024-05-01T12:25:15.123456+00:00"
    agents = section.findall("mets:digiprovMD/mets:mdWrap[@MDTYPE='PREMIS:AGENT']/mets:xmlData/premis:agent", NS)
    assert sorted(a.findtext("premis:agentName", namespaces=NS) or "" for a in agents) == sorted(
        a.name for a in s.AGENTS
    )


def test_unidentified_and_unexamined_formats(mets_path: Path) -> None:
    tree = _tree(mets_path)
    for path, note in (("objects/empty.txt", "Not identified by fido"), ("objects/minutes/notes.txt", "was not run")):
        fmt = _file_amdsec(tree, _record(path)).find(".//premis:format", NS)
        assert fmt is not None
        assert fmt.findtext("premis:formatDesignation/premis:formatName", namespaces=NS) == "Unknown"
        assert fmt.find("premis:formatRegistry", NS) is None
        assert any(note in (n.text or "") for n in fmt.iterfind("premis:formatNote", NS))
    empty = _file_amdsec(tree, _record("objects/empty.txt"))
    assert empty.findtext(".//premis:size", namespaces=NS) == "0"


def test_rights_bases_use_the_premis_vocabulary(mets_path: Path) -> None:
    package = _tree(mets_path).find("mets:amdSec[@ID='amdSec_package']", NS)
    assert package is not None
    statements = package.findall("mets:rightsMD//premis:rightsStatement", NS)
    bases = [
        (st.findtext("premis:rightsBasis", namespaces=NS), st.findtext(".//premis:otherRightsBasis", namespaces=NS))
        for st in statements
    ]
    assert bases == [
        ("Copyright", None), ("License", None), ("Statute", None), ("Other", "Donor"), ("Other", "Policy"),
        ("Other", "Other"), ("License", None),
    ]  # fmt: skip
    statute = statements[2].find("premis:statuteInformation", NS)
    assert statute is not None and statute.findtext("premis:statuteCitation", namespaces=NS) == "Privacy Act s. 8"


def test_bag_info_is_source_metadata_with_safe_names(mets_path: Path) -> None:
    source = _tree(mets_path).find("mets:amdSec[@ID='amdSec_package']/mets:sourceMD/mets:mdWrap", NS)
    assert source is not None and (source.get("MDTYPE"), source.get("OTHERMDTYPE")) == ("OTHER", "BagIt")
    container = source.find("mets:xmlData/transfer_metadata", NS)
    assert container is not None
    names = [(e.tag, e.get("key")) for e in container]
    assert ("Source-Organization", None) in names
    assert ("Bag_Group_Identifier", "Bag Group Identifier") in names
    assert ("_xml-looking", "xml-looking") in names
    assert ("_9_starts_with_a_digit", "9 starts with a digit") in names


# --- refusals ---------------------------------------------------------------------------------


def _files(*records: FileRecord) -> Iterator[tuple[FileRecord, list[Event]]]:
    return iter([(r, []) for r in records])


def test_unsorted_files_are_refused(tmp_path: Path, package: Sample) -> None:
    a, b = s.FILES[0], s.FILES[1]
    doc = dataclasses.replace(package.document, files=lambda: _files(b, a))

    with pytest.raises(MetadataError, match="sorted by path"):
        write_mets(tmp_path / "METS.xml", doc)


@pytest.mark.parametrize("path", ["", "/abs/x", "objects//x", "objects/./x", "objects/../x"])
def test_unclean_paths_are_refused(tmp_path: Path, package: Sample, path: str) -> None:
    doc = dataclasses.replace(package.document, files=lambda: _files(dataclasses.replace(s.FILES[0], path=path)))

    with pytest.raises(MetadataError, match="clean path"):
        write_mets(tmp_path / "METS.xml", doc)


def test_uuids_that_cannot_be_xml_ids_are_refused(tmp_path: Path, package: Sample) -> None:
    doc = dataclasses.replace(package.document, files=lambda: _files(dataclasses.replace(s.FILES[0], uuid="a b")))

    with pytest.raises(MetadataError, match="XML ID"):
        write_mets(tmp_path / "METS.xml", doc)


def test_naive_datetimes_are_refused(tmp_path: Path, package: Sample) -> None:
    doc = dataclasses.replace(package.document, created=datetime(2024, 1, 1))

    with pytest.raises(MetadataError, match="time zone"):
        write_mets(tmp_path / "METS.xml", doc)


def test_events_must_name_known_agents(tmp_path: Path, package: Sample) -> None:
    event = Event("x", "ingestion", s.CREATED, "", Outcome.SUCCESS, "", ("nobody:0",))
    doc = dataclasses.replace(package.document, package_events=(event,))

    with pytest.raises(MetadataError, match="nobody:0"):
        write_mets(tmp_path / "METS.xml", doc)


def test_package_events_must_not_name_a_file(tmp_path: Path, package: Sample) -> None:
    event = dataclasses.replace(s.PACKAGE_EVENTS[0], file_uuid=s.FILES[0].uuid)
    doc = dataclasses.replace(package.document, package_events=(event,))

    with pytest.raises(MetadataError, match="Package event"):
        write_mets(tmp_path / "METS.xml", doc)


def test_unknown_role_is_refused(tmp_path: Path, package: Sample) -> None:
    record = dataclasses.replace(s.FILES[0], role="mystery")  # type: ignore[arg-type]
    doc = dataclasses.replace(package.document, files=lambda: _files(record))

    with pytest.raises(MetadataError, match="role"):
        write_mets(tmp_path / "METS.xml", doc)


# --- reading what is not ours -----------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not well-formed"),
        (b"<mets:mets xmlns:mets='http://www.loc.gov/METS/'>", "not well-formed"),
        (b"<html/>", "not a METS document"),
        (b"<mets:mets xmlns:mets='http://www.loc.gov/METS/'/>", "no OBJID"),
    ],
)
def test_unreadable_documents_raise_metadata_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "METS.xml"
    path.write_bytes(content)

    with pytest.raises(MetadataError, match=message):
        read_mets(path)


def test_missing_file_raises_metadata_error(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="Cannot read"):
        read_mets(tmp_path / "absent.xml")


def test_a_damaged_document_names_what_is_missing(mets_path: Path) -> None:
    tree = _tree(mets_path)
    size = tree.find(".//premis:size", NS)
    assert size is not None
    size.getparent().remove(size)  # type: ignore[union-attr]
    tree.write(str(mets_path))

    with pytest.raises(MetadataError, match="size"):
        read_mets(mets_path)


def test_an_amdsec_without_a_file_is_reported(mets_path: Path) -> None:
    tree = _tree(mets_path)
    group = tree.find("mets:fileSec/mets:fileGrp[@USE='log']", NS)
    assert group is not None
    group.getparent().remove(group)  # type: ignore[union-attr]
    tree.write(str(mets_path))

    with pytest.raises(MetadataError, match="belongs to no file"):
        read_mets(mets_path)


def test_role_comes_from_the_file_group(mets_path: Path) -> None:
    roles = {r.path: r.role for r in read_mets(mets_path).files}

    assert roles["logs/ingest.log"] is FileRole.LOG
    assert roles["metadata/submissionDocumentation/transfer form.pdf"] is FileRole.SUBMISSION_DOCUMENTATION
