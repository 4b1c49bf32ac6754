"""write_mets writes each file's sections as text: the bytes must be those lxml gave for the same trees."""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree

from strongroom.errors import MetadataError
from strongroom.metadata import MetsInput, MetsValidator, premis, write_mets
from strongroom.metadata.xmlsupport import xml_attr, xml_text
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
from tests.metadata import sample as s
from tests.metadata.lxml_reference import write_mets_reference

NASTY = "cdata ]]> end \"dq\" 'sq' <&> tab\there cr\rlf\nx %41 ctl\x01\x1f nonchar\ufffe byte\udce9 lone\ud800 ≠ 世界"
HOSTILE_AGENT = Agent("local\tuser", 'id "<&>"\r\n', f"Agent {NASTY}", AgentType.PERSON, note=NASTY)
ODD = Identification(
    Basis.SIGNATURE,
    (
        FormatMatch("fmt/1", f"Name {NASTY}", "", f"text/x-{NASTY}", "]]>"),
        FormatMatch("fmt/2", "Plain", None, None, 'sig "q"'),
    ),
    f"tool {NASTY}",
    "1.0\t",
    "v<1>",
    (f"warning {NASTY}", "second\r\nwarning"),
)
EMPTY_IDENTIFICATION = Identification(Basis.NONE, (), "fido", "1.6.1", "v120")
TOOLS = (
    ToolOutcome(f"JHOVE {NASTY}", "1.0", True, None, None, ()),
    ToolOutcome("Exif\ttool", '"12"', None, False, f"fmt {NASTY}", (NASTY, "plain", "%")),
)


def _record(n: int, path: str, role: FileRole = FileRole.ORIGINAL, **extra: object) -> FileRecord:
    fields: dict[str, object] = {
        "uuid": f"00000000-0000-4000-9000-{n:012d}", "path": path, "original_name": path.rsplit("/", 1)[-1],
        "size": n * 7, "sha256": f"{n:064x}", "role": role, "identification": s.TEXT, "modified": s.CREATED,
    }  # fmt: skip
    fields.update(extra)
    return FileRecord(**fields)  # type: ignore[arg-type]


DEEP = "objects/" + "/".join(f"level-{i}" for i in range(70)) + "/deep.txt"
HOSTILE_FILES = (
    _record(1, "objects/cdata ]]> end/\"dq\" 'sq' <&>.txt", original_name=NASTY, identification=ODD),
    _record(2, "objects/ws\r\n\tname %41.txt", identification=EMPTY_IDENTIFICATION, validity=Validity.NOT_CHECKED),
    _record(3, "objects/ctl\x01\x1f/byte\udce9\udcff.bin", identification=None, modified=None, sha256="ab\x00cd"),
    _record(4, "objects/tools.pdf", validity=Validity.INVALID, characterisation=TOOLS, identification=s.PDF),
    _record(5, "objects/tools.pdf.txt", FileRole.TEXT, identification=s.TEXT),
    _record(6, "objects/tools.pdf.access.txt", FileRole.ACCESS, identification=None),
    _record(7, DEEP),
    _record(8, "objects/nonchar\ufffe/x#y [1]:z.txt", size=0),
    _record(9, "metadata/a:b/c.csv", FileRole.METADATA),
    _record(10, "logs/ingest.log", FileRole.LOG, identification=None),
)


def _events(record: FileRecord) -> list[Event]:
    events = s.file_events(record)
    events.append(
        Event(
            f"e-{record.uuid}-odd", f"type {NASTY}", s.CREATED, f"detail {NASTY}", Outcome.FAILURE, NASTY,
            (HOSTILE_AGENT.key, s.SYSTEM.key), record.uuid, version=3,
        )
    )  # fmt: skip
    return events


def _derivation(record: FileRecord) -> premis.Derivation | None:
    if record.role is FileRole.TEXT:
        return premis.Derivation(HOSTILE_FILES[3].uuid, "event-uuid")
    if record.role is FileRole.ACCESS:
        return premis.Derivation(HOSTILE_FILES[3].uuid)
    return None


def _hostile_document(files: tuple[FileRecord, ...] = HOSTILE_FILES, **changes: object) -> MetsInput:
    ordered = sorted(files, key=lambda record: record.path)
    rights = (
        *s.RIGHTS,
        RightsStatement(f"r-{NASTY}", "objects/tools.pdf", "donor", note=NASTY, terms=NASTY, grant_act=NASTY),
    )
    document = dataclasses.replace(
        s.sample(ordered).document,
        name=f"package {NASTY}",
        agents=(*s.AGENTS, HOSTILE_AGENT),
        rights=rights,
        files=lambda: ((record, _events(record)) for record in ordered),
        records=lambda: iter(ordered),
        derivation=_derivation,
        modified=s.CREATED + timedelta(days=1),
    )
    return dataclasses.replace(document, **changes)  # type: ignore[arg-type]


def _assert_same_bytes(tmp_path: Path, document: MetsInput) -> bytes:
    write_mets(tmp_path / "text.xml", document)
    write_mets_reference(tmp_path / "lxml.xml", document)
    written, expected = (tmp_path / "text.xml").read_bytes(), (tmp_path / "lxml.xml").read_bytes()
    if written != expected:
        lines = zip(written.splitlines(), expected.splitlines(), strict=False)
        line, (got, want) = next((n, pair) for n, pair in enumerate(lines, 1) if pair[0] != pair[1])
        pytest.fail(f"line {line} differs:\n  text: {got!r}\n  lxml: {want!r}")
    return written


def test_sample_package_is_written_as_lxml_wrote_it(tmp_path: Path) -> None:
    _assert_same_bytes(tmp_path, s.sample().document)


def test_hostile_package_is_written_as_lxml_wrote_it(tmp_path: Path, validator: MetsValidator) -> None:
    written = _assert_same_bytes(tmp_path, _hostile_document())
    assert b"strongroom:escaped=" in written  # the hostile values did need escaping
    assert b"]]&gt;" in written and b"&#13;" in written and b"&#10;" in written and b"&#9;" in written
    assert b"level-69" in written
    assert validator.validate(tmp_path / "text.xml") == []


def test_package_without_rights_descriptions_or_files(tmp_path: Path) -> None:
    _assert_same_bytes(tmp_path, _hostile_document(rights=(), descriptions=(), source_metadata={}))
    _assert_same_bytes(tmp_path, _hostile_document(files=()))


def test_a_section_holding_the_placeholder_is_built_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fixed = uuid.UUID(int=0x1234)
    monkeypatch.setattr("strongroom.metadata.mets.uuidlib.uuid4", lambda: fixed)
    tokens = f"ID{fixed.hex} and LINK{fixed.hex}"
    agent = Agent("software", "tool", f"Tool named {tokens}", AgentType.SOFTWARE)
    rights = RightsStatement("r-token", "objects", "policy", note=tokens)
    document = _hostile_document(agents=(*s.AGENTS, HOSTILE_AGENT, agent), rights=(rights,))
    first = HOSTILE_FILES[0]
    events = [Event("e-token", "ingestion", s.CREATED, "", Outcome.SUCCESS, "", (agent.key,), first.uuid)]
    ordered = sorted(HOSTILE_FILES, key=lambda record: record.path)
    document = dataclasses.replace(document, files=lambda: ((r, events if r is first else _events(r)) for r in ordered))
    written = _assert_same_bytes(tmp_path, document)
    assert written.count(f"Tool named {tokens}".encode()) == 2  # the package's agents and the file's
    under_objects = sum(record.path.startswith("objects/") for record in HOSTILE_FILES)
    # The rights note: once in the package amdSec, once in each file's amdSec under objects/.
    assert written.count(tokens.encode()) == 2 + 1 + under_objects


def test_a_path_that_names_no_possible_file_still_fails(tmp_path: Path) -> None:
    bad = (_record(1, "objects/lone\ud800.txt"),)
    for write in (write_mets, write_mets_reference):
        with pytest.raises(MetadataError, match="cannot be recorded as a URI"):
            write(tmp_path / "x.xml", _hostile_document(files=bad))


def test_text_and_attribute_escaping_match_lxml_for_every_character() -> None:
    illegal = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
    value = "".join(chr(c) for c in range(0x110000) if not illegal.match(chr(c)))
    element = etree.Element("e", a=value)
    element.text = value
    assert etree.tostring(element, encoding="unicode") == f'<e a="{xml_attr(value)}">{xml_text(value)}</e>'
