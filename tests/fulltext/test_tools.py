"""pdftotext (a site policy's choice for PDF) and the Apache Tika server on real corpus files: text, failures,
time and size limits, missing tools."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from strongroom.errors import ConfigError
from strongroom.fulltext.extract import Extractor, TextExtractor, TextSettings, TextStatus, load_text_policy
from tests.conftest import requires_corpus
from tests.fulltext.conftest import ARTICLE, LONG_REPORT, write_odt

pytestmark = requires_corpus()

# A phrase from each office document, as its own text has it (checked by eye against the documents).
OFFICE_WORDS = {
    "Club-Report.doc": "Hey Club Heads",  # Word 97-2003
    "Syllabus FINAL.doc": "Administering Freedom of Information",  # RTF named .doc
    "sampledocx.docx": "consectetuer adipiscing",
    "samplexlsx.xlsx": "consectetuer",
    "samplepptx.pptx": "risus vel erat",
    "PPT_test.ppt": "My PowerPoint Presentation",  # PowerPoint 97-2003
    "Members_Master2009.xls": "West Coast Soaring Club",  # Excel 97-2003
    "[datavibe-l]_FW__job_vacancy.rtf": "Canadian National Data Service",
}


def test_pdftotext_reads_the_article(extractor: TextExtractor) -> None:
    result = extractor.extract(ARTICLE, Extractor.PDFTOTEXT)
    assert result.status is TextStatus.EXTRACTED, result.reason
    assert result.tool == "pdftotext" and result.version.split(".")[0].isdigit()
    words = " ".join(result.text.split())
    assert "Data Without Meaning" in words and "Significant Properties of Digital Research" in words
    assert 6000 < len(words.split()) < 7500  # the recipe's tools agree on about 6,500-6,600 words
    assert result.found == len(result.text)


@pytest.mark.parametrize("name", sorted(OFFICE_WORDS))
def test_tika_reads_office_documents(extractor: TextExtractor, office_files: Path, name: str) -> None:
    result = extractor.extract(office_files / name, Extractor.TIKA)
    assert result.status is TextStatus.EXTRACTED, result.reason
    assert result.tool == "Apache Tika" and result.version.startswith("3.")
    assert OFFICE_WORDS[name] in " ".join(result.text.split())


def test_tika_reads_an_opendocument_text(extractor: TextExtractor, tmp_path: Path) -> None:
    odt = write_odt(tmp_path / "minutes.odt", ["Minutes of the drainage board", "Motion carried: culvert repairs"])
    result = extractor.extract(odt, Extractor.TIKA)
    assert result.status is TextStatus.EXTRACTED, result.reason
    assert "drainage board" in result.text and "culvert repairs" in result.text


def test_tika_answers_several_requests_at_once(extractor: TextExtractor, office_files: Path) -> None:
    items = [(office_files / name, Extractor.TIKA) for name in sorted(OFFICE_WORDS)] * 2
    results = list(extractor.extract_many(items, lambda item: item, workers=4))
    assert [item for item, _ in results] == items  # in order
    for (path, _), result in results:
        assert result.status is TextStatus.EXTRACTED and OFFICE_WORDS[path.name] in " ".join(result.text.split())


def test_a_corrupt_file_is_a_failure_for_that_file_only(extractor: TextExtractor, tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\n" + bytes(range(256)) * 8)
    by_tika = extractor.extract(broken, Extractor.TIKA)
    assert by_tika.status is TextStatus.FAILED and "422" in by_tika.reason and not by_tika.text
    by_poppler = extractor.extract(broken, Extractor.PDFTOTEXT)
    assert by_poppler.status is TextStatus.FAILED and "pdftotext failed" in by_poppler.reason
    # The server goes on serving the next file.
    assert extractor.extract(ARTICLE, Extractor.TIKA).status is TextStatus.EXTRACTED


def test_the_time_limit_fails_the_file_and_the_next_one_is_read(extractor: TextExtractor, office_files: Path) -> None:
    started = time.monotonic()
    slow = extractor.extract(LONG_REPORT, Extractor.PDFTOTEXT, time_limit=0.02)
    assert slow.status is TextStatus.FAILED and "time limit of 0.02 s" in slow.reason
    assert time.monotonic() - started < 1.0  # killed at the limit, not waited for
    by_tika = extractor.extract(LONG_REPORT, Extractor.TIKA, time_limit=0.05)
    assert by_tika.status is TextStatus.FAILED and "Apache Tika took longer" in by_tika.reason
    after = extractor.extract(office_files / "sampledocx.docx", Extractor.TIKA)
    assert after.status is TextStatus.EXTRACTED, after.reason
    assert extractor.extract(LONG_REPORT, Extractor.PDFTOTEXT).status is TextStatus.EXTRACTED


def test_longer_text_is_cut_at_the_size_limit_and_the_cut_said(text_tools: None) -> None:
    with TextExtractor(TextSettings(enabled=True, size_limit=500)) as small:
        result = small.extract(ARTICLE, Extractor.PDFTOTEXT)
        huge = small.extract(LONG_REPORT, Extractor.PDFTOTEXT)
    assert result.status is TextStatus.CUT and len(result.text) == 500
    assert result.found is None  # pdftotext was stopped once it had given more than would be kept
    assert result.text.startswith("Data Without Meaning")
    assert huge.status is TextStatus.CUT and len(huge.text) == 500


def test_missing_tools_leave_files_not_extracted_with_the_reason(tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    environ = {"PATH": str(empty), "HOME": str(tmp_path), "STRONGROOM_TOOLS_DIR": str(empty)}
    with TextExtractor(TextSettings(enabled=True, tools_environ=environ)) as bare:
        pdf = bare.extract(ARTICLE, Extractor.PDFTOTEXT)
        doc = bare.extract(ARTICLE, Extractor.TIKA)
        again = bare.extract(ARTICLE, Extractor.TIKA)
        plain = bare.extract(ARTICLE.parent / "[datavibe-l]_FW__job_vacancy.rtf", Extractor.TEXT)
    assert pdf.status is TextStatus.NOT_EXTRACTED and "pdftotext is not installed" in pdf.reason
    assert "bash scripts/tools.sh" in pdf.reason
    assert doc.status is TextStatus.NOT_EXTRACTED and "Tika server is not installed" in doc.reason
    assert str(empty / "tika") in doc.reason and again.reason == doc.reason
    assert plain.status is TextStatus.EXTRACTED  # Python's readers need no tool
    assert bare.tools_used == {"python codecs": plain.version}


def test_java_missing_leaves_office_documents_not_extracted(tmp_path: Path) -> None:
    import os

    empty = tmp_path / "no-java"
    empty.mkdir()
    environ = {"PATH": str(empty), "HOME": os.environ.get("HOME", str(tmp_path))}
    if "STRONGROOM_TOOLS_DIR" in os.environ:
        environ["STRONGROOM_TOOLS_DIR"] = os.environ["STRONGROOM_TOOLS_DIR"]
    with TextExtractor(TextSettings(enabled=True, tools_environ=environ)) as bare:
        doc = bare.extract(ARTICLE, Extractor.TIKA)
    assert doc.status is TextStatus.NOT_EXTRACTED and "needs java" in doc.reason


def test_the_policy_names_an_extractor_by_puid_then_extension_then_mime() -> None:
    policy = load_text_policy()
    assert policy.choose("fmt/18", None, "article.pdf") is Extractor.PDFIUM
    assert policy.choose("fmt/40", "application/msword", "a.doc") is Extractor.TIKA
    assert policy.choose("fmt/45", "application/rtf", "Syllabus FINAL.doc") is Extractor.TIKA
    assert policy.choose("fido-fmt/189.word", None, "x.docx") is Extractor.TIKA
    assert policy.choose(None, None, "minutes.ODT") is Extractor.TIKA  # unidentified: by extension
    assert policy.choose(None, "message/rfc822", "no-extension") is Extractor.EMAIL
    assert policy.choose("fmt/101", None, "a.xml") is Extractor.XML
    assert policy.choose("fmt/471", None, "index.html") is Extractor.HTML
    assert policy.choose("x-fmt/111", None, "notes.txt") is Extractor.TEXT
    assert policy.choose(None, None, "letters.mbox") is Extractor.EMAIL
    assert policy.choose("x-fmt/263", "application/zip", "bundle.zip") is None  # archives: their contents are
    assert policy.choose("fmt/11", "image/png", "map.png") is None


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[extractors.ocr]\npuids = ["fmt/11"]\n', "no extractor 'ocr'"),
        ('[extractors.text]\npuids = ["x-fmt/111"]\n[extractors.html]\npuids = ["x-fmt/111"]\n', "keep one"),
        ('[extractors.text]\npuid = ["x-fmt/111"]\n', "unknown keys"),
        ("[extractors.text\n", "not valid TOML"),
    ],
)
def test_a_bad_policy_file_is_refused_with_a_clear_message(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "fulltext.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_text_policy(path)


def test_a_tika_server_that_will_not_start_leaves_files_not_extracted(tmp_path: Path) -> None:
    import os

    tools = tmp_path / "tools"
    (tools / "tika").mkdir(parents=True)
    (tools / "tika" / "tika-server-standard-9.9.9.jar").write_bytes(b"not a jar at all")
    environ = dict(os.environ, STRONGROOM_TOOLS_DIR=str(tools))
    with TextExtractor(TextSettings(enabled=True, tools_environ=environ)) as broken:
        result = broken.extract(ARTICLE, Extractor.TIKA)
    assert result.status is TextStatus.NOT_EXTRACTED
    assert "did not start" in result.reason and "jarfile" in result.reason.lower()
