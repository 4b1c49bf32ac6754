"""The Python readers: plain text encodings, HTML and XML without entity expansion, e-mail and mbox."""

from __future__ import annotations

import os
import tracemalloc
import unicodedata
from email.message import EmailMessage
from pathlib import Path

import pytest

from strongroom.fulltext import plain
from strongroom.fulltext.extract import Extractor, TextExtractor, TextSettings, TextStatus
from tests.fulltext.samples import HTML_BOMB, XML_BOMB, write_html_only_message, write_mbox, write_message


@pytest.fixture(scope="module")
def reader() -> TextExtractor:
    """No external tool is needed here: the extractor never starts one for these formats."""
    return TextExtractor(TextSettings(enabled=True, size_limit=100_000))


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_utf8_text_is_read_and_normalised_to_nfc(reader: TextExtractor, tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Montréal, Zürich\x00 and Kraków\n")
    result = reader.extract(write(tmp_path / "a.txt", decomposed.encode("utf-8")), Extractor.TEXT)
    assert result.status is TextStatus.EXTRACTED and result.notes == ()
    assert result.text == "Montréal, Zürich  and Kraków\n"  # composed, and the NUL gone
    assert result.tool == "python codecs"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_a_byte_order_mark_names_the_encoding(reader: TextExtractor, tmp_path: Path, encoding: str) -> None:
    data = "Ledger of the Guild — 1743 — Ørsted".encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    result = reader.extract(write(tmp_path / "b.txt", data), Extractor.TEXT)
    assert result.text == "Ledger of the Guild — 1743 — Ørsted"
    assert result.notes and result.notes[0].startswith("byte order mark")


def test_text_that_is_not_utf8_is_read_as_windows_1252_with_a_note(reader: TextExtractor, tmp_path: Path) -> None:
    result = reader.extract(write(tmp_path / "c.txt", "Caf\xe9 \u201cquoted\u201d \u20ac5".encode("cp1252")),
                            Extractor.TEXT)  # fmt: skip
    assert result.status is TextStatus.EXTRACTED
    assert result.text == "Café “quoted” €5"
    assert any("Windows-1252" in note for note in result.notes)


def test_plain_text_past_the_size_limit_is_cut_and_its_length_kept(tmp_path: Path) -> None:
    path = write(tmp_path / "long.txt", b"word " * 60)  # 300 characters: read whole, then cut
    result = TextExtractor(TextSettings(enabled=True, size_limit=100)).extract(path, Extractor.TEXT)
    assert result.status is TextStatus.CUT and len(result.text) == 100 and result.found == 300


def test_an_empty_file_gives_no_text(reader: TextExtractor, tmp_path: Path) -> None:
    result = reader.extract(write(tmp_path / "blank.txt", b"  \n\t\n"), Extractor.TEXT)
    assert result.status is TextStatus.EMPTY and result.text == "" and not result.kept


def test_html_gives_its_text_without_scripts_and_expands_no_entity(reader: TextExtractor, tmp_path: Path) -> None:
    result = reader.extract(write(tmp_path / "page.html", HTML_BOMB.encode("utf-8")), Extractor.HTML)
    assert result.status is TextStatus.EXTRACTED
    text = result.text
    assert "Ferry timetable" in text and "Crossings & fares" in text and "Café on deck été" in text
    assert "scriptword" not in text and "color: red" not in text
    assert "lollol" not in text and len(text) < 500  # &lol9; stays as written: nothing expanded


def test_html_in_windows_1252_and_declared_charsets(reader: TextExtractor, tmp_path: Path) -> None:
    undeclared = write(tmp_path / "old.htm", "<p>Stra\xdfe caf\xe9</p>".encode("cp1252"))
    result = reader.extract(undeclared, Extractor.HTML)
    assert "Straße café" in result.text and any("Windows-1252" in n for n in result.notes)
    declared = write(tmp_path / "greek.html",
                     '<meta charset="iso-8859-7"><p>Αθήνα</p>'.encode("iso-8859-7"))  # fmt: skip
    assert "Αθήνα" in reader.extract(declared, Extractor.HTML).text


def test_xml_gives_its_text(reader: TextExtractor, tmp_path: Path) -> None:
    xml = '<?xml version="1.0"?><record><title>Tithe map</title><note>Parish of <b>Elmstead</b></note></record>'
    result = reader.extract(write(tmp_path / "r.xml", xml.encode("utf-8")), Extractor.XML)
    assert result.status is TextStatus.EXTRACTED and result.notes == ()
    assert "Tithe map" in result.text and "Parish of Elmstead" in result.text


def test_an_xml_entity_bomb_is_read_without_expanding_it(reader: TextExtractor, tmp_path: Path) -> None:
    result = reader.extract(write(tmp_path / "bomb.xml", XML_BOMB.encode("utf-8")), Extractor.XML)
    assert result.status is TextStatus.EXTRACTED
    assert "Harbour survey" in result.text and "tide tables" in result.text
    assert "lollol" not in result.text and len(result.text) < 2000
    assert any("declares entities" in note for note in result.notes)


def test_an_external_entity_is_never_read(reader: TextExtractor, tmp_path: Path) -> None:
    secret = write(tmp_path / "secret.txt", b"TOPSECRETVALUE")
    xml = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]><r>before &x; after</r>'
    result = reader.extract(write(tmp_path / "xxe.xml", xml.encode("utf-8")), Extractor.XML)
    assert "before" in result.text and "after" in result.text and "TOPSECRETVALUE" not in result.text


def test_malformed_xml_is_read_leniently(reader: TextExtractor, tmp_path: Path) -> None:
    result = reader.extract(write(tmp_path / "bad.xml", b"<a><b>unclosed words<c>more</a>"), Extractor.XML)
    assert "unclosed words" in result.text and any("not well-formed" in n for n in result.notes)


def test_an_email_gives_headers_body_and_attachment_names(reader: TextExtractor, tmp_path: Path) -> None:
    result = reader.extract(write_message(tmp_path / "m.eml"), Extractor.EMAIL)
    assert result.status is TextStatus.EXTRACTED and result.tool == "python email"
    text = result.text
    assert "From: Agnès Durand <agnes@example.org>" in text and "To: Records Office" in text
    assert "Cc: clerk@example.org" in text and "Date: Tue, 04 Mar 2025" in text
    assert "Subject: Lighthouse keeper's logbook — transfer" in text  # RFC 2047-encoded on the wire
    assert "The logbook of the lighthouse keeper is ready" in text
    assert "HTML copy" not in text  # of two alternatives, the plain one
    assert "Attachments: inventory.pdf" in text and "not really" not in text


def test_an_html_only_email_body_becomes_text(reader: TextExtractor, tmp_path: Path) -> None:
    text = reader.extract(write_html_only_message(tmp_path / "h.eml"), Extractor.EMAIL).text
    assert "Dredging begins at Quay\xa07 on Monday" in text and "ignored()" not in text and "<p>" not in text


def test_an_mbox_gives_every_message(reader: TextExtractor, tmp_path: Path) -> None:
    result = reader.extract(write_mbox(tmp_path / "letters.mbox"), Extractor.EMAIL)
    assert result.status is TextStatus.EXTRACTED
    assert "Subject: Quarry licence" in result.text and "The orchard lease ends in May." in result.text
    assert result.notes == ("mbox of 2 message(s)",)


def test_python_readers_keep_the_time_limit(reader: TextExtractor, tmp_path: Path) -> None:
    page = write(tmp_path / "big.html", b"<p>word</p>" * 200_000)
    result = reader.extract(page, Extractor.HTML, time_limit=0.0)
    assert result.status is TextStatus.FAILED and "time limit" in result.reason and result.text == ""


def test_an_unreadable_file_is_a_failure_not_an_error(reader: TextExtractor, tmp_path: Path) -> None:
    result = reader.extract(tmp_path / "gone.txt", Extractor.TEXT)
    assert result.status is TextStatus.FAILED and "could not be read" in result.reason


@pytest.mark.parametrize("as_mbox", [False, True])
def test_a_huge_attachment_is_never_read_whole(
    reader: TextExtractor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_mbox: bool
) -> None:
    monkeypatch.setattr(plain, "MAX_MESSAGE_BYTES", 1024 * 1024)
    message = EmailMessage()
    message["From"] = "surveyor@example.org"
    message["Subject"] = "Tithe map scans"
    message.set_content("The tithe map scans are attached.\n")
    message.add_attachment(os.urandom(24 * 1024 * 1024), maintype="image", subtype="tiff", filename="tithe-map.tif")
    path = tmp_path / ("scans.mbox" if as_mbox else "scans.eml")
    path.write_bytes((b"From surveyor@example.org Mon Mar  3 09:00:00 2025\n" if as_mbox else b"") + bytes(message))
    tracemalloc.start()
    try:
        result = reader.extract(path, Extractor.EMAIL)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.status is TextStatus.EXTRACTED, result.reason
    assert "Subject: Tithe map scans" in result.text and "The tithe map scans are attached." in result.text
    assert any("only its first 1 MiB read" in note for note in result.notes), result.notes
    assert peak < 16 * 1024 * 1024, f"{peak / 2**20:.1f} MiB held for a 32 MiB message"
