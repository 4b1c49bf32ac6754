"""The stored text feeds the index: read from storage (never extracted again), cut at the limit, "" when missing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from strongroom.fulltext.paths import source_path, text_path, text_uuid
from strongroom.indexing import effective_access, search_documents
from strongroom.metadata.validate import MetsValidator
from strongroom.model import AccessRule, AccessStatus, FileRecord, FileRole, PackageSummary
from tests.conftest import Home, object_root, write


@pytest.fixture
def texts(home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    monkeypatch.setenv("STRONGROOM_EXTRACT_TEXT", "1")
    return home


def transfer(tmp_path: Path) -> Path:
    source = tmp_path / "minutes"
    write(source / "objects" / "1999" / "march.txt", "The vestry agreed to mend the belfry.\n")
    write(source / "objects" / "1999" / "april.html", "<p>Collection for the almshouse roof</p>")
    return source


def test_derivative_paths_map_back_to_their_originals() -> None:
    assert text_path("objects/a b/c.pdf") == "text/objects/a b/c.pdf.txt"
    assert source_path("text/objects/a b/c.pdf.txt") == "objects/a b/c.pdf"
    assert source_path("objects/c.pdf.txt") is None and source_path("text/.txt") is None
    assert text_uuid("00000000-0000-4000-8000-000000000001") == text_uuid("00000000-0000-4000-8000-000000000001")


def test_a_text_derivative_is_no_document_and_follows_its_originals_access() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    summary = PackageSummary("p-1", "minutes", now, 3, 30, "ab" * 32, "key")
    original = FileRecord("u-1", "objects/private/a.pdf", "a.pdf", 10, "cd" * 32, FileRole.ORIGINAL, None, now)
    derivative = FileRecord(text_uuid("u-1"), text_path(original.path), "a.pdf.txt", 5, "ef" * 32, FileRole.TEXT,
                            None, now)  # fmt: skip
    closed = AccessRule("p-1", "objects/private", AccessStatus.CLOSED, "personal data")
    documents = list(search_documents(summary, [original, derivative], [], [closed], None,
                                      lambda record: f"text of {record.path}"))  # fmt: skip
    assert [d.path for d in documents] == [None, "objects/private/a.pdf"]
    assert documents[1].content == "text of objects/private/a.pdf" and documents[1].access is AccessStatus.CLOSED
    assert effective_access([closed], derivative.path) == closed  # any route that shows the file sees it closed


def test_a_missing_or_unreadable_derivative_gives_empty_content(texts: Home, tmp_path: Path) -> None:
    package = str(texts.ingest(transfer(tmp_path))["package"])
    assert [h["path"] for h in texts.ok("search", "belfry", "--json").json()["hits"]] == ["objects/1999/march.txt"]  # type: ignore[index]
    archive = texts.archive()
    summary = archive.package(package)
    contents = {d.path: d.content for d in archive.search_documents_of(summary)}
    assert contents["objects/1999/april.html"] == "Collection for the almshouse roof\n"
    # Storage loses the derivative's content file: indexing goes on, with no text for that record. (The
    # march.txt derivative is byte for byte its original, so OCFL stores that content once, as the original.)
    root = object_root(texts, package) / "v1" / "content" / "data"
    (root / "text" / "objects" / "1999" / "april.html.txt").unlink()
    contents = {d.path: d.content for d in archive.search_documents_of(summary)}
    assert contents["objects/1999/april.html"] == "" and contents["objects/1999/march.txt"].startswith("The vestry")
    texts.ok("rebuild")
    assert texts.ok("search", "almshouse", "--json").json()["hits"] == []  # type: ignore[index]
    assert len(texts.ok("search", "belfry", "--json").json()["hits"]) == 1  # type: ignore[index]


def test_indexed_text_is_cut_at_the_size_limit(texts: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = str(texts.ingest(transfer(tmp_path))["package"])
    monkeypatch.setenv("STRONGROOM_TEXT_SIZE_LIMIT", "10")  # lowered after ingest: what is indexed is cut too
    archive = texts.archive()
    contents = {d.path: d.content for d in archive.search_documents_of(archive.package(package))}
    assert contents["objects/1999/march.txt"] == "The vestry"


def test_a_metadata_update_keeps_the_derivatives_linked_in_valid_mets(texts: Home, tmp_path: Path) -> None:
    package = str(texts.ingest(transfer(tmp_path))["package"])
    csv = write(tmp_path / "update.csv", "filename,dc.title\nobjects/1999/march.txt,March vestry minutes\n")
    texts.ok("update", package, "--metadata", str(csv), "--reason", "titles")
    mets = object_root(texts, package) / "v2" / "content" / "data" / f"METS.{package}.xml"
    assert MetsValidator().validate(mets) == []
    assert mets.read_text("utf-8").count("<premis:relationshipSubType>has source</premis:relationshipSubType>") == 2
    hits = texts.ok("search", "belfry", "--json").json()["hits"]  # type: ignore[index]
    assert [h["path"] for h in hits] == ["objects/1999/march.txt"]
