"""The Catalog conformance suite, continued: each file's characterisation and validity verdict."""

from __future__ import annotations

import dataclasses

from strongroom.catalog.base import Catalog
from strongroom.model import FileRole, ToolOutcome, Validity, ValidityCount
from tests.contracts.catalog_contract import add, make_file, make_summary


class ValidityContract:
    """Subclasses provide the `catalog` fixture: open and empty."""

    def test_a_files_verdict_and_each_tools_findings_read_back(self, catalog: Catalog) -> None:
        summary = make_summary()
        jhove = ToolOutcome("JHOVE", "1.32.1", False, False, "PDF", ("Lexical error ≠ offset 17", "No xref"))
        exif = ToolOutcome("ExifTool", "12.57", None, None, None, ())
        broken = dataclasses.replace(make_file("objects/a.pdf"), validity=Validity.INVALID,
                                     characterisation=(jhove, exif))  # fmt: skip
        unchecked = dataclasses.replace(make_file("objects/b.dat"), validity=Validity.NOT_CHECKED)
        old = make_file("objects/c.txt")  # stored before characterisation existed
        add(catalog, summary, [broken, unchecked, old])
        files = {f.path: f for f in catalog.files(summary.uuid)}
        assert files["objects/a.pdf"].validity is Validity.INVALID
        assert files["objects/a.pdf"].characterisation == (jhove, exif)
        assert files["objects/b.dat"].validity is Validity.NOT_CHECKED and files["objects/b.dat"].characterisation == ()
        assert files["objects/c.txt"].validity is None

    def test_validity_counts_originals_per_verdict_and_format(self, catalog: Catalog) -> None:
        first, second = make_summary(), make_summary(name="letters")
        valid = [dataclasses.replace(make_file(f"objects/{n}.pdf", size=100), validity=Validity.VALID) for n in "ab"]
        bad = dataclasses.replace(make_file("objects/x.pdf", size=7), validity=Validity.INVALID)
        meta = dataclasses.replace(make_file("METS.xml", role=FileRole.METADATA), validity=Validity.VALID)
        add(catalog, first, [*valid, meta])
        add(catalog, second, [bad, make_file("objects/old.txt", size=3)])
        counts = sorted(catalog.validity_counts(), key=lambda c: (str(c.validity), c.files))
        assert counts == [
            ValidityCount(None, None, 1, 3),
            ValidityCount(Validity.INVALID, None, 1, 7),
            ValidityCount(Validity.VALID, None, 2, 200),  # the METS is not an original: not counted
        ]
        only_second = sorted(catalog.validity_counts(second.uuid), key=lambda c: c.bytes)
        assert only_second == [ValidityCount(None, None, 1, 3), ValidityCount(Validity.INVALID, None, 1, 7)]
