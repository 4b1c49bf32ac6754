"""Container identification against the 2026 container signature file, on real containers.

The expected PUIDs are what DROID 6.5.2 printed for the same files with
DROID_SignatureFile_V122.xml and container-signature-20260119.xml (checked by
hand with `-Nr DIR -Ns ... -Nc ...`); `_final` applies V122's priorities the way
DROID's ResultPrinter does before it prints.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from strongroom.formats.droid import container_zip
from strongroom.formats.droid.container import ContainerLimits, ContainerSignatures

PRONOM = Path(__file__).resolve().parents[2] / ".." / "shared" / "pronom"
CONTAINER_XML = PRONOM / "container-signature-20260119.xml"
DROID_XML = PRONOM / "DROID_SignatureFile_V122.xml"

pytestmark = pytest.mark.skipif(not CONTAINER_XML.exists(), reason="the shared PRONOM files are absent")

WORD_CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)


@pytest.fixture(scope="module")
def sigs() -> ContainerSignatures:
    return ContainerSignatures.load(CONTAINER_XML)


@cache
def _priorities() -> dict[str, set[str]]:
    ns = "{http://www.nationalarchives.gov.uk/pronom/SignatureFile}"
    root = ET.parse(DROID_XML).getroot()
    by_id: dict[str, str] = {}
    over: dict[str, list[str]] = {}
    for fmt in root.iter(ns + "FileFormat"):
        by_id[fmt.get("ID", "")] = fmt.get("PUID", "")
        over[fmt.get("PUID", "")] = [e.text or "" for e in fmt.findall(ns + "HasPriorityOverFileFormatID")]
    return {puid: {by_id[i] for i in ids} for puid, ids in over.items()}


def _final(puids: list[str]) -> list[str]:
    """DROID's removeLowerPriorityHits over container results."""
    beaten = set().union(*(_priorities().get(p, set()) for p in puids)) if puids else set()
    return [p for p in puids if p not in beaten]


def _zip(path: Path, entries: dict[str, bytes | str], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


# --- the signature file -------------------------------------------------------------------------


def test_load_reads_every_signature_mapping_and_trigger(sigs: ContainerSignatures) -> None:
    assert len(sigs.signatures) == 310
    assert sigs.version == "40"
    assert sigs.triggers("fmt/111") == "OLE2"
    assert sigs.triggers("fmt/189") == "ZIP"
    assert sigs.triggers("x-fmt/263") == "ZIP"
    assert sigs.triggers("fmt/412") is None
    assert sigs.mappings[1030] == ("fmt/412",)
    assert {"fmt/412", "fmt/214", "fmt/215", "fmt/40"} <= sigs.mapped_puids
    # Every binary signature in the 2026 file compiles (DROID would check a File by name otherwise).
    assert not [f for s in sigs.signatures for f in s.files.values() if f.compile_error]


def test_load_refuses_a_file_that_is_not_a_container_signature_file(tmp_path: Path) -> None:
    from strongroom.formats.droid.container import ContainerSignatureError

    bad = tmp_path / "x.xml"
    bad.write_text("<FFSignatureFile/>")
    with pytest.raises(ContainerSignatureError, match="not a DROID container signature file"):
        ContainerSignatures.load(bad)
    bad.write_text("<ContainerSignatureMapping")
    with pytest.raises(ContainerSignatureError, match="cannot read"):
        ContainerSignatures.load(bad)


# --- ZIP containers made with zipfile ----------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "puid"),
    [
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml", "fmt/412"),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml", "fmt/214"),
        ("application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml", "fmt/215"),
    ],
)
def test_ooxml_made_with_zipfile(sigs: ContainerSignatures, tmp_path: Path, content_type: str, puid: str) -> None:
    ct = WORD_CT.replace(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml", content_type
    )
    path = _zip(tmp_path / "a.bin", {"[Content_Types].xml": ct, "_rels/.rels": "<Relationships/>"})
    warnings: list[str] = []
    assert _final(sigs.identify(path, "ZIP", warnings)) == [puid]
    assert warnings == []


def test_stored_entries_and_a_preamble_are_read(sigs: ContainerSignatures, tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.docx", {"[Content_Types].xml": WORD_CT}, zipfile.ZIP_STORED)
    assert sigs.identify(path, "ZIP") == ["fmt/412"]
    shifted = tmp_path / "sfx.docx"
    shifted.write_bytes(b"MZ" + b"\0" * 4000 + path.read_bytes())  # a self-extractor stub before the zip
    assert sigs.identify(shifted, "ZIP") == ["fmt/412"]


def test_paths_are_case_sensitive_and_exact(sigs: ContainerSignatures, tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.docx", {"[content_types].xml": WORD_CT, "word/[Content_Types].xml": WORD_CT})
    assert sigs.identify(path, "ZIP") == []


def test_zip_with_no_matching_entries_gives_nothing(sigs: ContainerSignatures, tmp_path: Path) -> None:
    path = _zip(tmp_path / "plain.zip", {"readme.txt": "hello", "data/values.csv": "a,b\n1,2\n"})
    warnings: list[str] = []
    assert sigs.identify(path, "ZIP", warnings) == []
    assert warnings == []


def test_results_for_runs_once_per_triggering_hit(sigs: ContainerSignatures, tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.docx", {"[Content_Types].xml": WORD_CT})
    assert sigs.results_for(path, ["x-fmt/263"]) == ["fmt/412"]
    # DROID runs the ZIP check for each triggering hit and prints what each run found.
    assert sigs.results_for(path, ["fmt/189", "x-fmt/263"]) == ["fmt/412", "fmt/412"]
    assert sigs.results_for(path, ["fmt/40", "x-fmt/111"]) == []


# --- hostile ZIPs -------------------------------------------------------------------------------


def test_truncated_zip_is_a_warning_not_an_exception(sigs: ContainerSignatures, tmp_path: Path) -> None:
    whole = _zip(tmp_path / "a.docx", {"[Content_Types].xml": WORD_CT, "big.bin": os.urandom(50_000)})
    for cut in (10, len(whole.read_bytes()) // 2, len(whole.read_bytes()) - 30):
        part = tmp_path / f"cut{cut}.docx"
        part.write_bytes(whole.read_bytes()[:cut])
        warnings: list[str] = []
        assert sigs.identify(part, "ZIP", warnings) == []
        assert warnings and "zip container not read" in warnings[0]


def test_entry_inflating_past_its_declared_size_is_refused(sigs: ContainerSignatures, tmp_path: Path) -> None:
    path = _zip(tmp_path / "bomb.docx", {"[Content_Types].xml": WORD_CT + " " * 1_000_000})
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)  # declare 100 bytes uncompressed
    path.write_bytes(bytes(data))
    warnings: list[str] = []
    assert sigs.identify(path, "ZIP", warnings) == []
    assert "zip bomb" in warnings[0]


def test_huge_entry_is_read_no_further_than_the_stream_limit(
    sigs: ContainerSignatures, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1 GiB of spaces after the content type, deflated to about 1 MB: the match needs 33 kB of it, and the
    # entry is inflated no further than the per-stream limit (64 MiB), never to its full size.
    path = tmp_path / "huge.docx"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("[Content_Types].xml", "w", force_zip64=True) as out,
    ):
        out.write(WORD_CT.encode())
        block = b" " * (16 * 1024 * 1024)
        for _ in range(64):
            out.write(block)
    inflated: list[int] = []
    original = container_zip.ZipDirectory._inflated

    def counting(self: container_zip.ZipDirectory, entry: container_zip.ZipEntry, budget: int) -> Iterator[bytes]:
        for chunk in original(self, entry, budget):
            inflated.append(len(chunk))
            yield chunk

    monkeypatch.setattr(container_zip.ZipDirectory, "_inflated", counting)
    assert sigs.identify(path, "ZIP") == ["fmt/412"]
    assert 0 < sum(inflated) <= ContainerLimits().max_stream_bytes + 1


def test_entry_count_limit(tmp_path: Path) -> None:
    limited = ContainerSignatures.load(CONTAINER_XML, ContainerLimits(max_entries=5))
    path = _zip(tmp_path / "many.docx", {"[Content_Types].xml": WORD_CT, **{f"f{i}": "x" for i in range(10)}})
    warnings: list[str] = []
    assert limited.identify(path, "ZIP", warnings) == []
    assert "limit of 5" in warnings[0]


def test_encrypted_and_unknown_method_entries_are_warnings(sigs: ContainerSignatures, tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.docx", {"[Content_Types].xml": WORD_CT})
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 10, 99)  # AES (method 99): TrueZIP cannot read it either
    path.write_bytes(bytes(data))
    warnings: list[str] = []
    assert sigs.identify(path, "ZIP", warnings) == []
    assert "method 99" in warnings[0]


def test_mutated_zips_never_raise_or_hang(sigs: ContainerSignatures, tmp_path: Path) -> None:
    original = _zip(
        tmp_path / "a.docx", {"[Content_Types].xml": WORD_CT, "word/document.xml": "<w/>" * 500}
    ).read_bytes()
    rng = random.Random(12)
    started = time.monotonic()
    for index in range(300):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path = tmp_path / f"m{index}.docx"
        path.write_bytes(bytes(data))
        result = sigs.identify(path, "ZIP")
        assert result in ([], ["fmt/412"])
    assert time.monotonic() - started < 20


# --- OLE2 ---------------------------------------------------------------------------------------


def _cfb(streams: dict[str, bytes], storages: dict[str, dict[str, bytes]] | None = None) -> bytes:
    """A minimal version-3 compound file; every stream is padded past the mini-stream cutoff."""
    storages = storages or {}
    sector = 512
    # Directory entries: root, then top-level children, then each storage's children.
    entries: list[dict[str, object]] = [{"name": "Root Entry", "type": 5, "data": b"", "children": []}]
    top: list[int] = []
    for name, data in streams.items():
        entries.append({"name": name, "type": 2, "data": data.ljust(4096, b"\0"), "children": []})
        top.append(len(entries) - 1)
    for name, inner in storages.items():
        entries.append({"name": name, "type": 1, "data": b"", "children": []})
        sid = len(entries) - 1
        top.append(sid)
        kids = []
        for child, data in inner.items():
            entries.append({"name": child, "type": 2, "data": data.ljust(4096, b"\0"), "children": []})
            kids.append(len(entries) - 1)
        entries[sid]["children"] = kids
    entries[0]["children"] = top
    dir_sectors = (len(entries) + 3) // 4
    fat: list[int] = [0xFFFFFFFD]  # sector 0 holds the FAT itself
    fat += [*range(2, dir_sectors + 1), 0xFFFFFFFE]  # directory chain in sectors 1..dir_sectors
    body = b""
    starts: dict[int, int] = {}
    for sid, entry in enumerate(entries):
        data = entry["data"]
        assert isinstance(data, bytes)
        if not data:
            continue
        count = (len(data) + sector - 1) // sector
        first = len(fat)
        starts[sid] = first
        fat += [*range(first + 1, first + count), 0xFFFFFFFE]
        body += data.ljust(count * sector, b"\0")
    assert len(fat) <= 128
    fat += [0xFFFFFFFF] * (128 - len(fat))
    directory = b""
    for sid, entry in enumerate(entries):
        name = str(entry["name"]).encode("utf-16-le") + b"\0\0"
        kids = entry["children"]
        assert isinstance(kids, list)
        right = 0xFFFFFFFF
        siblings = next((e["children"] for e in entries if sid in e["children"]), [])  # type: ignore[operator]
        if sid in siblings:
            position = siblings.index(sid)
            right = siblings[position + 1] if position + 1 < len(siblings) else 0xFFFFFFFF
        child = kids[0] if kids else 0xFFFFFFFF
        data = entry["data"]
        assert isinstance(data, bytes)
        record = name.ljust(64, b"\0") + struct.pack(
            "<HBB3I", len(name), int(entry["type"]), 1, 0xFFFFFFFF, right, child
        )  # type: ignore[call-overload]
        record += b"\0" * 16 + b"\0" * 4 + b"\0" * 16
        record += struct.pack("<II", starts.get(sid, 0xFFFFFFFE), len(data)) + b"\0" * 4
        directory += record
    directory = directory.ljust(dir_sectors * sector, b"\0")
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
    header += b"\0" * 6 + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    header += struct.pack("<I", 0) + b"\xff" * 4 * 108
    assert len(header) == 512
    return header + struct.pack("<128I", *fat) + directory + body


def test_msg_like_ole2_with_arbitrary_streams_and_a_storage(sigs: ContainerSignatures, tmp_path: Path) -> None:
    path = tmp_path / "mail.msg"
    path.write_bytes(
        _cfb(
            {"__properties_version1.0": b"\x00" * 32, "__substg1.0_0037001F": "Subject".encode("utf-16-le")},
            {"__nameid_version1.0": {"__substg1.0_00020102": b"\x01" * 16}},
        )
    )
    warnings: list[str] = []
    assert sigs.identify(path, "OLE2", warnings) == ["x-fmt/430"]
    assert warnings == []
    # Without the storage the signature's second File is missing.
    path.write_bytes(_cfb({"__properties_version1.0": b"\x00" * 32}))
    assert sigs.identify(path, "OLE2") == []


def test_ole2_names_are_trimmed_like_java(sigs: ContainerSignatures, tmp_path: Path) -> None:
    compobj = b"\x01\x00\xfe\xff" + b"\0" * 36 + struct.pack("<I", 16) + b"Word.Document.8\0"
    path = tmp_path / "w.doc"
    path.write_bytes(
        _cfb({"WordDocument": b"\xec\xa5" + b"\0" * 30, "\x01CompObj": compobj, "\x05SummaryInformation": b""})
    )
    assert _final(sigs.identify(path, "OLE2")) == ["fmt/40"]


def test_malformed_ole2_header_and_truncations(sigs: ContainerSignatures, tmp_path: Path) -> None:
    path = tmp_path / "bad.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(600))
    warnings: list[str] = []
    assert sigs.identify(path, "OLE2", warnings) == []
    assert warnings and "OLE2" in warnings[0]
    compobj = b"\x01\x00\xfe\xff" + b"\0" * 36 + struct.pack("<I", 16) + b"Word.Document.8\0"
    good = _cfb({"WordDocument": b"x", "\x01CompObj": compobj})
    for cut in (8, 100, 512, 1024):
        path.write_bytes(good[:cut])
        warnings = []
        assert sigs.identify(path, "OLE2", warnings) == []
        assert warnings
    # Directory intact, stream data cut off: names still count (as with POI, which reads streams
    # lazily), but the Word 97 signature needs CompObj's bytes, which are gone.
    path.write_bytes(good[: len(good) - 4096 - 600])
    warnings = []
    assert sigs.identify(path, "OLE2", warnings) == ["fmt/609"]
    assert "shorter than its declared size" in warnings[0] or "beyond the end" in warnings[0]


def test_ole2_sector_chain_loop_is_caught(sigs: ContainerSignatures, tmp_path: Path) -> None:
    data = bytearray(_cfb({"WordDocument": b"x" * 5000}))
    # Point the directory sector's FAT link back at itself.
    struct.pack_into("<I", data, 512 + 4 * 1, 1)
    path = tmp_path / "loop.doc"
    path.write_bytes(bytes(data))
    warnings: list[str] = []
    assert sigs.identify(path, "OLE2", warnings) == []
    assert "loops" in warnings[0]


def test_mutated_ole2_never_raises_or_hangs(sigs: ContainerSignatures, tmp_path: Path) -> None:
    compobj = b"\x01\x00\xfe\xff" + b"\0" * 36 + struct.pack("<I", 16) + b"Word.Document.8\0"
    original = _cfb({"WordDocument": b"\xec\xa5" * 100, "\x01CompObj": compobj})
    rng = random.Random(7)
    started = time.monotonic()
    for index in range(300):
        data = bytearray(original)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(0, 2048)] = rng.randrange(256)  # header, FAT and directory
        path = tmp_path / f"m{index}.doc"
        path.write_bytes(bytes(data))
        assert isinstance(sigs.identify(path, "OLE2"), list)
    assert time.monotonic() - started < 20


# --- real documents from LibreOffice ----------------------------------------------------------

_SLIDES = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.3"
 office:mimetype="application/vnd.oasis.opendocument.presentation"><office:body><office:presentation>
<draw:page draw:name="p1"><draw:frame svg:x="1cm" svg:y="1cm" svg:width="10cm" svg:height="3cm">
<draw:text-box><text:p>Hello slide</text:p></draw:text-box></draw:frame></draw:page>
</office:presentation></office:body></office:document>
"""


@pytest.fixture(scope="module")
def office_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    base = tmp_path_factory.mktemp("office")
    src, out = base / "src", base / "out"
    src.mkdir()
    (src / "note.txt").write_text("Hello Strongroom\nSecond line\n")
    (src / "sheet.csv").write_text("a,b,c\n1,2,3\n")
    (src / "slides.fodp").write_text(_SLIDES)
    jobs = [
        ("note.txt", ("docx", "odt", "doc")),
        ("sheet.csv", ("xlsx", "ods", "xls")),
        ("slides.fodp", ("pptx", "odp", "ppt")),
    ]
    env = {**os.environ, "HOME": str(base / "home")}
    for index, (name, targets) in enumerate(jobs):
        for target in targets:
            profile = f"-env:UserInstallation=file://{base}/profile{index}"
            argv = ["soffice", "--headless", "--norestore", profile, "--convert-to", target]
            argv += ["--outdir", str(out), str(src / name)]
            subprocess.run(argv, check=True, capture_output=True, timeout=180, env=env)
    return out


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("note.docx", "ZIP", "fmt/412"),
        ("sheet.xlsx", "ZIP", "fmt/214"),
        ("slides.pptx", "ZIP", "fmt/215"),
        ("note.odt", "ZIP", "fmt/1756"),  # OpenDocument Text 1.3
        ("sheet.ods", "ZIP", "fmt/1755"),  # OpenDocument Spreadsheet 1.3
        ("slides.odp", "ZIP", "fmt/1754"),  # OpenDocument Presentation 1.3
        ("note.doc", "OLE2", "fmt/40"),
        ("sheet.xls", "OLE2", "fmt/61"),
        ("slides.ppt", "OLE2", "fmt/126"),
    ],
)
def test_libreoffice_documents_get_droids_answers(
    sigs: ContainerSignatures, office_files: Path, name: str, kind: str, expected: str
) -> None:
    warnings: list[str] = []
    assert _final(sigs.identify(office_files / name, kind, warnings)) == [expected]
    assert warnings == []


def test_a_zip_check_on_an_ole2_file_and_back_finds_nothing(sigs: ContainerSignatures, office_files: Path) -> None:
    warnings: list[str] = []
    assert sigs.identify(office_files / "note.doc", "ZIP", warnings) == []
    assert warnings
    assert sigs.identify(office_files / "note.docx", "OLE2") == []


def test_identify_is_quick(sigs: ContainerSignatures, office_files: Path) -> None:
    started = time.perf_counter()
    for name in ("note.docx", "sheet.xlsx", "slides.pptx", "note.odt", "note.doc", "slides.ppt"):
        sigs.identify(office_files / name, "OLE2" if name.endswith((".doc", ".ppt")) else "ZIP")
    assert time.perf_counter() - started < 0.5
