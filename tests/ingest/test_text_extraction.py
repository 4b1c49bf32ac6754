"""Full text at ingest, end to end: derivatives kept in the package and in METS, events, limits, search, rebuild.

Only one test here starts the Tika server (the end-to-end one): the others ingest formats that
PDFium and the Python readers handle, so the module costs one JVM start.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import bagit
import pytest

from strongroom.metadata.validate import MetsValidator
from tests.conftest import CORPUS, Home, object_root, ocfl_validate, requires_corpus, write
from tests.fulltext.samples import HTML_BOMB, write_mbox, write_message
from tests.services import elasticsearch_url, opensearch_url

pytestmark = requires_corpus()

OFFICE_DOCS = CORPUS / "OfficeDocs"
ARTICLE = OFFICE_DOCS / "objects" / "article.pdf"
LONG_REPORT = CORPUS / "Dataverse" / "NDSAStaffingReport" / "Report_2017DigitalPreservationStaffingSurvey.pdf"
PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201e2215fe60000000049454e44ae426082"
)
BROKEN_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\nendobj\n" + bytes(range(256)) * 4

# The search backends the end-to-end test runs on: SQLite (the default, nothing to set), and the test
# Elasticsearch and OpenSearch nodes (tests/services.py), each home with an index of its own.
SEARCH_BACKENDS = ["sqlite", "elasticsearch", "opensearch"]


@pytest.fixture
def texts(home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    monkeypatch.setenv("STRONGROOM_EXTRACT_TEXT", "1")
    return home


@pytest.fixture(params=SEARCH_BACKENDS)
def search_settings(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    settings: dict[str, str] = {}
    if request.param != "sqlite":
        url = elasticsearch_url() if request.param == "elasticsearch" else opensearch_url()
        settings["STRONGROOM_SEARCH_URL"] = f"{request.param}+{url}"
        settings["STRONGROOM_SEARCH_INDEX"] = f"strongroom-t-{uuid.uuid4().hex[:12]}"
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return settings


def shown(home: Home, package: str) -> dict[str, Any]:
    data = home.ok("show", package, "--json", "--all-files").json()
    assert isinstance(data, dict)
    return data


def hits(home: Home, *args: str) -> list[dict[str, Any]]:
    data = home.ok("search", *args, "--json").json()
    assert isinstance(data, dict)
    return list(data["hits"])


def creation_events(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The creation (text) events by the path of the original they concern."""
    path_of = {f["file"]: f["path"] for f in data["files"] if "file" in f} or {
        f["uuid"]: f["path"] for f in data["files"]
    }
    return {path_of[e["file"]]: e for e in data["events"] if e["type"] == "creation"}


def stored(home: Home, package: str, path: str) -> Path:
    return object_root(home, package) / "v1" / "content" / "data" / path


@pytest.fixture
def mixed_transfer(tmp_path: Path) -> Path:
    """Records for PDFium and the Python readers (no office documents: no JVM start)."""
    source = tmp_path / "mixed"
    objects = source / "objects"
    objects.mkdir(parents=True)
    shutil.copyfile(ARTICLE, objects / "article.pdf")
    write(objects / "broken.pdf", BROKEN_PDF)
    (objects / "mail").mkdir()
    write_message(objects / "mail" / "logbook.eml")
    write_mbox(objects / "mail" / "letters.mbox")
    write(objects / "web" / "ferry.html", HTML_BOMB)
    write(objects / "notes.txt", "Caf\xe9 minutes: the sluice gate was repaired\n".encode("cp1252"))
    write(objects / "pixel.png", PIXEL_PNG)
    return source


def test_text_is_kept_as_derivatives_with_events_and_valid_mets(
    texts: Home, mixed_transfer: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRONGROOM_TEXT_SIZE_LIMIT", "20000")  # article.pdf has about 45,000 characters
    result = texts.ingest(mixed_transfer)
    package = str(result["package"])
    warnings = "\n".join(result["warnings"])  # type: ignore[arg-type]
    assert "1 file(s): text cut at the size limit" in warnings and "objects/article.pdf" in warnings
    assert "1 file(s): text extraction failed" in warnings and "objects/broken.pdf" in warnings
    assert result["originals"] == 7  # the derivatives are no records

    data = shown(texts, package)
    roles = {f["path"]: f["role"] for f in data["files"]}
    derivatives = sorted(p for p, role in roles.items() if role == "text")
    assert derivatives == [
        "text/objects/article.pdf.txt",
        "text/objects/mail/letters.mbox.txt",
        "text/objects/mail/logbook.eml.txt",
        "text/objects/notes.txt.txt",
        "text/objects/web/ferry.html.txt",
    ]  # fmt: skip  (none for the broken PDF nor the image)

    events = creation_events(data)
    assert set(events) == {p.removeprefix("text/").removesuffix(".txt") for p in derivatives} | {"objects/broken.pdf"}
    article = events["objects/article.pdf"]
    assert article["outcome"] == "warning" and "cut at the size limit of 20000 characters" in article["detail"]
    assert any(a.startswith("software:PDFium-") for a in article["agents"])
    broken = events["objects/broken.pdf"]
    assert (
        broken["outcome"] == "failure"
        and "PDFium could not read the file" in broken["detail"]
        and "nothing kept" in broken["detail"]
    )
    assert (
        events["objects/notes.txt"]["outcome"] == "success" and "Windows-1252" in events["objects/notes.txt"]["detail"]
    )
    assert events["objects/mail/logbook.eml"]["outcome"] == "success"

    # What is stored: UTF-8 text, the article's cut at the limit; the bag, the METS and OCFL all valid.
    article_text = stored(texts, package, "text/objects/article.pdf.txt").read_text("utf-8")
    assert len(article_text) == 20000 and article_text.startswith("Data Without Meaning")
    assert "Café minutes" in stored(texts, package, "text/objects/notes.txt.txt").read_text("utf-8")
    bag = bagit.Bag(str(object_root(texts, package) / "v1" / "content"))
    bag.validate()
    assert "data/text/objects/article.pdf.txt" in bag.payload_entries()
    mets = stored(texts, package, f"METS.{package}.xml")
    assert MetsValidator().validate(mets) == []
    assert mets.read_text("utf-8").count("<premis:relationshipSubType>has source</premis:relationshipSubType>") == 5
    ocfl_validate(texts)
    assert texts.ok("verify", package, "--json").json()["problems"] == []  # type: ignore[index]

    # Found by words inside the records; never the derivative itself; no entity ever expanded.
    assert {h["path"] for h in hits(texts, "lighthouse keeper")} == {"objects/mail/logbook.eml"}
    assert {h["path"] for h in hits(texts, "orchard lease")} == {"objects/mail/letters.mbox"}
    assert {h["path"] for h in hits(texts, "sluice gate")} == {"objects/notes.txt"}
    assert {h["path"] for h in hits(texts, "Crossings fares")} == {"objects/web/ferry.html"}
    assert hits(texts, "lollol") == []
    everything = hits(texts, "Data Without Meaning", "--include-housekeeping")
    assert [h["path"] for h in everything] == ["objects/article.pdf"]


def test_the_text_of_a_closed_record_is_as_closed_as_the_record(texts: Home, mixed_transfer: Path) -> None:
    package = str(texts.ingest(mixed_transfer)["package"])
    texts.ok("access", package, "--status", "closed", "--reason", "personal data", "--file", "objects/mail")
    assert hits(texts, "lighthouse keeper", "--as", "researcher") == []
    assert hits(texts, "orchard lease", "--as", "researcher") == []
    assert {h["path"] for h in hits(texts, "lighthouse keeper", "--as", "archivist")} == {"objects/mail/logbook.eml"}
    assert {h["path"] for h in hits(texts, "sluice gate", "--as", "researcher")} == {"objects/notes.txt"}


def test_a_time_limit_fails_that_file_and_the_ingest_goes_on(
    texts: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRONGROOM_TEXT_TIME_LIMIT", "0.005")  # PDFium needs about 0.05-0.1 s for the 57 pages
    source = tmp_path / "slow"
    write(source / "objects" / "report.pdf", LONG_REPORT.read_bytes())
    write(source / "objects" / "readme.txt", b"read me")
    result = texts.ingest(source)
    assert "text extraction failed" in "\n".join(result["warnings"])  # type: ignore[arg-type]
    data = shown(texts, str(result["package"]))
    event = creation_events(data)["objects/report.pdf"]
    assert event["outcome"] == "failure" and "time limit of 0.005 s" in event["detail"]
    assert "text/objects/report.pdf.txt" not in {f["path"] for f in data["files"]}


def test_missing_tools_leave_the_text_not_extracted_and_say_why(
    texts: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("STRONGROOM_TOOLS_DIR", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    source = tmp_path / "plain"
    write(source / "objects" / "article.pdf", ARTICLE.read_bytes())
    write(source / "objects" / "club.doc", (OFFICE_DOCS / "objects" / "Club-Report.doc").read_bytes())
    write(source / "objects" / "note.txt", b"quarterly drainage note")
    result = texts.ingest(source)
    warnings = "\n".join(result["warnings"])  # type: ignore[arg-type]
    assert "1 file(s): text not extracted" in warnings and "bash scripts/tools.sh" in warnings
    data = shown(texts, str(result["package"]))
    events = creation_events(data)
    club = events["objects/club.doc"]
    assert club["outcome"] == "warning" and "Tika server is not installed" in club["detail"]
    assert club["agents"] == ["preservation system:Strongroom-0.1.0"]
    # PDFium is a Python requirement, run by this interpreter: no PATH or tools folder is needed for PDFs.
    assert events["objects/article.pdf"]["outcome"] == "success"
    assert any(a.startswith("software:PDFium-") for a in events["objects/article.pdf"]["agents"])
    assert events["objects/note.txt"]["outcome"] == "success"
    texts_kept = {f["path"] for f in data["files"] if f["role"] == "text"}
    assert texts_kept == {"text/objects/note.txt.txt", "text/objects/article.pdf.txt"}


def test_extraction_off_keeps_no_text(home: Home, mixed_transfer: Path) -> None:
    package = str(home.ingest(mixed_transfer)["package"])
    data = shown(home, package)
    assert all(f["role"] != "text" for f in data["files"]) and creation_events(data) == {}
    assert not stored(home, package, "text").exists()


def test_sample_transfer_is_found_by_words_inside_its_records_and_rebuild_never_extracts(
    texts: Home, search_settings: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Words that occur only inside article.pdf and inside Club-Report.doc: not in any name, path or metadata.
    pdf_words, doc_words = "Significant Properties of Digital Research", "Club Heads"
    result = texts.ingest(OFFICE_DOCS)
    package = str(result["package"])
    assert result["warnings"] == []

    def found() -> dict[str, set[str]]:
        return {words: {h["path"] for h in hits(texts, f'"{words}"')} for words in (pdf_words, doc_words)}

    assert found() == {pdf_words: {"objects/article.pdf"}, doc_words: {"objects/Club-Report.doc"}}
    events = creation_events(shown(texts, package))
    assert any(a.startswith("software:Apache Tika-3.") for a in events["objects/Club-Report.doc"]["agents"])

    # A rebuild reads the stored text: with no tool to be found, and any extraction an error, it finds the same.
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("STRONGROOM_TOOLS_DIR", str(empty))

    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a rebuild ran a text extractor")

    monkeypatch.setattr("strongroom.fulltext.extract.TextExtractor.__init__", never)
    monkeypatch.setattr("strongroom.fulltext.pdf.pdftotext", never)
    monkeypatch.setattr("strongroom.fulltext.tika.TikaServer.start", never)
    rebuilt = texts.ok("rebuild", "--json").json()
    assert rebuilt["indexed"] == 1  # type: ignore[index]
    assert found() == {pdf_words: {"objects/article.pdf"}, doc_words: {"objects/Club-Report.doc"}}
    assert os.environ["PATH"] == str(empty)
