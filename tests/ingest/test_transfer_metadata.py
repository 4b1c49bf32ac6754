"""metadata.csv and rights.csv as depositors really write them: any header case, ',' ';' or tab."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.errors import TransferError
from strongroom.ingest.transfer_metadata import parse_metadata_csv, parse_rights_csv

KNOWN = {"objects/a.txt", "objects/b.txt"}
FOLDERS = {"objects"}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_header_case_and_separator_do_not_matter(tmp_path: Path, separator: str) -> None:
    lines = [["Filename", "DC.Title", "dc.creator"], ["objects/a.txt", "Letter; with a semicolon", "Clerk"]]
    if separator == ";":
        lines[1][1] = '"Letter; with a semicolon"'
    path = write(tmp_path, "metadata.csv", "\n".join(separator.join(line) for line in lines) + "\n")

    parsed = parse_metadata_csv(path, KNOWN, FOLDERS)

    (description,) = parsed.descriptions
    assert description.target == "objects/a.txt"
    assert description.elements == {"title": ("Letter; with a semicolon",), "creator": ("Clerk",)}
    assert parsed.warnings == []


def test_a_header_without_a_filename_column_is_named_as_the_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "metadata.csv", "file name,dc.title\nobjects/a.txt,Letter\n")

    with pytest.raises(TransferError) as raised:
        parse_metadata_csv(path, KNOWN, FOLDERS)

    message = str(raised.value)
    assert "line 1 (the header) has no 'filename'" in message
    assert "found: 'file name', 'dc.title'" in message


def test_qualified_dublin_core_columns_are_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "metadata.csv",
        "filename,dc.title,dcterms.spatial,dcterms.Extent,dcterms.rightsholder,dcterms.wingspan\n"
        "objects,Parish,Little Snoring,3 boxes,The Parish,2 m\n",
    )

    parsed = parse_metadata_csv(path, KNOWN, FOLDERS)

    (description,) = parsed.descriptions
    assert description.elements == {
        "title": ("Parish",),
        "spatial": ("Little Snoring",),
        "extent": ("3 boxes",),
        "rightsHolder": ("The Parish",),
        "dcterms.wingspan": ("2 m",),
    }
    assert parsed.warnings == [
        "metadata.csv: column 'dcterms.wingspan' is not a Dublin Core term; kept in the METS under that name"
    ]


def test_rights_csv_headers_are_tolerated_too(tmp_path: Path) -> None:
    path = write(tmp_path, "rights.csv", "File;Basis;Status;Note\nobjects/b.txt;Copyright;copyrighted;mine\n")

    (rights,) = parse_rights_csv(path, KNOWN, FOLDERS).rights

    assert (rights.file_path, rights.basis, rights.status, rights.note) == (
        "objects/b.txt",
        "copyright",
        "copyrighted",
        "mine",
    )


def test_rights_csv_without_a_basis_column_points_at_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, "rights.csv", "file,status\nobjects/b.txt,copyrighted\n")

    with pytest.raises(TransferError, match=r"line 1 \(the header\) has no 'basis' column; found: 'file', 'status'"):
        parse_rights_csv(path, KNOWN, FOLDERS)
