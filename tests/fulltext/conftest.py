"""Real extraction tools, found once per session, and one Tika server per test module (a JVM start costs seconds)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.fulltext.extract import TextExtractor, TextSettings
from strongroom.tools import TEXT_PROBES, find_tools
from tests.conftest import CORPUS

OFFICE_DOCS = CORPUS / "OfficeDocs" / "objects"
ARTICLE = OFFICE_DOCS / "article.pdf"
# 57 pages: pdftotext needs about a second and a half, far past a time limit of a few hundredths.
LONG_REPORT = CORPUS / "Dataverse" / "NDSAStaffingReport" / "Report_2017DigitalPreservationStaffingSurvey.pdf"


@pytest.fixture(scope="session")
def text_tools() -> None:
    found = find_tools(probes=TEXT_PROBES)
    missing = [t.name for t in found if not t.found]
    if missing:
        pytest.fail(f"text extraction tools missing: {', '.join(missing)}. Install them with: bash scripts/tools.sh")


@pytest.fixture(scope="module")
def extractor(text_tools: None) -> Iterator[TextExtractor]:
    """One extractor (so one Tika server, started on first need) for the whole module."""
    with TextExtractor(TextSettings(enabled=True, time_limit=120.0, size_limit=10_000_000)) as running:
        yield running


@pytest.fixture(scope="module")
def office_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus's office documents, with the two zips of them unpacked beside (docx, xlsx, pptx, xls, ppt, doc)."""
    folder = tmp_path_factory.mktemp("office")
    for item in OFFICE_DOCS.iterdir():
        if item.suffix == ".zip":
            with zipfile.ZipFile(item) as archive:
                archive.extractall(folder)
        elif item.is_file():
            (folder / item.name).write_bytes(item.read_bytes())
    return folder


def write_odt(path: Path, paragraphs: list[str]) -> Path:
    """A real OpenDocument text file (the package layout ODF 1.2 prescribes: mimetype first and stored)."""
    body = "".join(f"<text:p>{p}</text:p>" for p in paragraphs)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:text>{body}</office:text></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text",
                         compress_type=zipfile.ZIP_STORED)  # fmt: skip
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return path
