"""Text derivatives in METS: their own fileGrp, a PREMIS relationship to the original, valid against the schemas."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from strongroom.errors import MetadataError
from strongroom.fulltext.derivatives import text_identification
from strongroom.fulltext.paths import source_path, text_path, text_uuid
from strongroom.ingest.provenance import TEXT_EVENT, text_event_uuid
from strongroom.metadata import MetsValidator, read_mets, write_mets
from strongroom.metadata.premis import Derivation, read_file_object
from strongroom.metadata.xmlsupport import Unescaper
from strongroom.model import Event, FileRecord, FileRole, Outcome
from tests.metadata.sample import CREATED, FILES, HOSTILE, SYSTEM, file_events, sample

M = "{http://www.loc.gov/METS/}"
P = "{http://www.loc.gov/premis/v3}"
SOURCES = [f for f in FILES if f.path in (HOSTILE, "objects/minutes/1999.pdf")]


def derivative(original: FileRecord) -> FileRecord:
    return FileRecord(
        text_uuid(original.uuid), text_path(original.path), text_path(original.path).rpartition("/")[2], 40,
        "cd" * 32, FileRole.TEXT, text_identification(), CREATED,
    )  # fmt: skip


def creation(original: FileRecord) -> Event:
    return Event(
        text_event_uuid(original.uuid), TEXT_EVENT, CREATED, 'program="pdftotext"; version="22.12.0"',
        Outcome.SUCCESS, f"text kept as {text_path(original.path)}: 40 characters", (SYSTEM.key,), original.uuid,
    )  # fmt: skip


def write_with_texts(dest: Path, *, link: bool = True) -> list[FileRecord]:
    texts = [derivative(f) for f in SOURCES]
    files = sorted([*FILES, *texts], key=lambda f: f.path)
    by_path = {f.path: f for f in FILES}

    def events(record: FileRecord) -> list[Event]:
        return [*file_events(record), *([creation(record)] if record in SOURCES else [])]

    def files_and_events() -> Iterator[tuple[FileRecord, list[Event]]]:
        return ((record, events(record)) for record in files)

    def derivation(record: FileRecord) -> Derivation | None:
        source = by_path.get(source_path(record.path) or "")
        return Derivation(source.uuid, text_event_uuid(source.uuid)) if source and link else None

    document = dataclasses.replace(sample(files).document, files=files_and_events, derivation=derivation)
    write_mets(dest, document)
    return texts


def test_text_derivatives_make_a_valid_mets(tmp_path: Path, validator: MetsValidator) -> None:
    mets = tmp_path / "METS.xml"
    texts = write_with_texts(mets)
    assert validator.validate(mets) == []
    tree = etree.parse(str(mets))
    group = tree.find(f".//{M}fileGrp[@USE='text']")
    assert group is not None and len(group) == len(texts)
    document = read_mets(mets)
    read_back = {f.path: f for f in document.files if f.role is FileRole.TEXT}
    assert set(read_back) == {t.path for t in texts} and read_back[text_path(HOSTILE)] == derivative(SOURCES[0])


def test_each_derivative_names_its_source_and_the_creation_event(tmp_path: Path) -> None:
    mets = tmp_path / "METS.xml"
    write_with_texts(mets)
    found = {}
    for obj in etree.parse(str(mets)).iter(f"{P}object"):
        if obj.find(f"{P}relationship") is not None:
            facts = read_file_object(obj, Unescaper(None))
            found[facts.uuid] = facts.derived_from
    assert found == {text_uuid(s.uuid): Derivation(s.uuid, text_event_uuid(s.uuid)) for s in SOURCES}
    events = {e.uuid: e for e in read_mets(mets).events}
    for source in SOURCES:
        event = events[text_event_uuid(source.uuid)]
        assert event.type == "creation" and event.file_uuid == source.uuid and "pdftotext" in event.detail


def test_a_derivative_without_its_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="has no source"):
        write_with_texts(tmp_path / "METS.xml", link=False)


@pytest.fixture(scope="module")
def validator() -> MetsValidator:
    return MetsValidator()
