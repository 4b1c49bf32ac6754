"""Supplied bags are checked to BagIt 1.0 (RFC 8493): each defect refused with a message, nothing stored."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import bagit
import pytest

from tests.conftest import Home, object_root, write
from tests.ingest.test_bad_input import refused


def make_bag(tmp_path: Path, checksums: tuple[str, ...] = ("sha512", "md5")) -> Path:
    bag = tmp_path / "bag"
    write(bag / "a.txt", "alpha")
    write(bag / "sub" / "b.txt", "beta")
    bagit.make_bag(str(bag), {"Source-Organization": "Parish Council"}, checksums=list(checksums))
    return bag


def refresh_tag_manifests(bag: Path) -> None:
    """Rewrite tag manifests after a test edits a tag file, so only the intended defect remains."""
    for manifest in bag.glob("tagmanifest-*.txt"):
        algorithm = manifest.name.removeprefix("tagmanifest-").removesuffix(".txt")
        lines = []
        for line in manifest.read_text(encoding="utf-8").splitlines():
            _digest, name = line.split(maxsplit=1)
            lines.append(f"{hashlib.new(algorithm, (bag / name).read_bytes()).hexdigest()}  {name}")
        manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")


def originals(home: Home, package: str) -> set[str]:
    shown = home.ok("show", package, "--json").json()
    return {f["path"] for f in shown["files"] if f["role"] == "original"}  # type: ignore[index]


def test_valid_bag_with_sha512_and_md5_ingests(home: Home, tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    data = home.ingest(bag)
    assert data["kind"] == "bag"
    assert originals(home, str(data["package"])) == {"objects/a.txt", "objects/sub/b.txt"}
    shown = home.ok("show", str(data["package"]), "--json").json()
    validation = [e for e in shown["events"] if e["type"] == "validation"]  # type: ignore[index]
    assert [e["outcome"] for e in validation] == ["success"]
    kept = {f["path"] for f in shown["files"]}  # type: ignore[index]
    assert {"logs/supplied-bag/manifest-sha512.txt", "logs/supplied-bag/manifest-md5.txt"} <= kept


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_bagit_txt_line_endings_allowed_by_the_rfc(home: Home, tmp_path: Path, newline: bytes) -> None:
    bag = make_bag(tmp_path)
    (bag / "bagit.txt").write_bytes(b"BagIt-Version: 1.0" + newline + b"Tag-File-Character-Encoding: UTF-8" + newline)
    refresh_tag_manifests(bag)
    assert home.ingest(bag)["kind"] == "bag"


def test_bagit_txt_with_a_byte_order_mark_is_refused(home: Home, tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    (bag / "bagit.txt").write_bytes(b"\xef\xbb\xbf" + (bag / "bagit.txt").read_bytes())
    refresh_tag_manifests(bag)
    refused(home, bag, "bagit.txt", "byte-order mark", "--as-folder")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("BagIt-Version: 1.0\n", ["bagit.txt has 1 line(s)"]),
        ("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\nContact: me\n", ["has 3 line(s)"]),
        ("BagIt-Version:1.0\nTag-File-Character-Encoding: UTF-8\n", ["line 1", "BagIt-Version:1.0"]),
        ("BagIt-Version: one\nTag-File-Character-Encoding: UTF-8\n", ["line 1"]),
        ("Tag-File-Character-Encoding: UTF-8\nBagIt-Version: 1.0\n", ["line 1", "Tag-File-Character-Encoding"]),
        ("BagIt-Version: 1.0\nTag-File-Character-Encoding: KLINGON-8\n", ["KLINGON-8", "not known"]),
        ("BagIt-Version: 3.0\nTag-File-Character-Encoding: UTF-8\n", ["version 3.0"]),
    ],
)
def test_malformed_bagit_txt_is_refused(home: Home, tmp_path: Path, content: str, words: list[str]) -> None:
    bag = make_bag(tmp_path)
    (bag / "bagit.txt").write_text(content, encoding="utf-8")
    refresh_tag_manifests(bag)
    refused(home, bag, "bagit.txt", *words)


def test_tag_files_in_another_registered_encoding_are_read(home: Home, tmp_path: Path) -> None:
    # RFC 8493 2.1.1: the encoding SHOULD be UTF-8 but MAY be any registered one (here ISO-8859-1).
    bag = make_bag(tmp_path)
    (bag / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: ISO-8859-1\n", encoding="utf-8")
    info = (bag / "bag-info.txt").read_text(encoding="utf-8").replace("Parish Council", "Conseil de la Forêt")
    (bag / "bag-info.txt").write_bytes(info.encode("iso-8859-1"))
    refresh_tag_manifests(bag)
    package = str(home.ingest(bag)["package"])
    mets = object_root(home, package) / "v1" / "content" / "data" / f"METS.{package}.xml"
    assert "Conseil de la Forêt" in mets.read_text(encoding="utf-8")  # decoded as Latin-1, kept as text


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("https://example.org/c.txt 5 data/c.txt", ["https://example.org/c.txt", "data/c.txt", "never downloads"]),
        ("https://example.org/x 5 ../../etc/passwd", ["../../etc/passwd", "leads outside"]),
        ("https://example.org/x - /etc/passwd", ["/etc/passwd", "leads outside"]),
        ("just-one-field", ["just-one-field", "URL LENGTH FILEPATH"]),
    ],
)
def test_fetch_txt_entries_are_refused(home: Home, tmp_path: Path, line: str, words: list[str]) -> None:
    bag = make_bag(tmp_path)
    (bag / "fetch.txt").write_text(line + "\n", encoding="utf-8")
    refused(home, bag, "fetch.txt line 1", *words)


def test_wrong_payload_oxum_stream_count_is_refused(home: Home, tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    info = (bag / "bag-info.txt").read_text(encoding="utf-8")
    assert "Payload-Oxum: 9.2" in info
    (bag / "bag-info.txt").write_text(info.replace("Payload-Oxum: 9.2", "Payload-Oxum: 9.3"), encoding="utf-8")
    refresh_tag_manifests(bag)
    refused(home, bag, "Payload-Oxum", "9.3", "9.2")


def test_malformed_payload_oxum_is_refused(home: Home, tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    info = (bag / "bag-info.txt").read_text(encoding="utf-8")
    (bag / "bag-info.txt").write_text(info.replace("Payload-Oxum: 9.2", "Payload-Oxum: nine"), encoding="utf-8")
    refresh_tag_manifests(bag)
    refused(home, bag, "bag-info.txt", "malformed Payload-Oxum", "'nine'")


def test_every_manifest_algorithm_is_checked(home: Home, tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    manifest = bag / "manifest-md5.txt"
    wrong = "0" * 32
    lines = [f"{wrong}  {name}" if name == "data/a.txt" else f"{d}  {name}" for d, name in _entries(manifest)]
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    refresh_tag_manifests(bag)
    message = refused(home, bag, "data/a.txt", "md5", wrong)
    assert "sha512" not in message.split("data/a.txt")[1].splitlines()[0]  # the sha512 of a.txt was right


def _entries(manifest: Path) -> list[tuple[str, str]]:
    return [tuple(line.split(maxsplit=1)) for line in manifest.read_text(encoding="utf-8").splitlines()]  # type: ignore[misc]


def test_file_missing_from_one_manifest_is_refused(home: Home, tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    manifest = bag / "manifest-md5.txt"
    kept = [f"{d}  {name}" for d, name in _entries(manifest) if name != "data/sub/b.txt"]
    manifest.write_text("\n".join(kept) + "\n", encoding="utf-8")
    refresh_tag_manifests(bag)
    refused(home, bag, "data/sub/b.txt", "not listed in manifest-md5.txt")


def test_missing_and_unlisted_payload_files_are_refused(home: Home, tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    (bag / "data" / "a.txt").unlink()
    write(bag / "data" / "stowaway.txt", "hello")
    message = refused(home, bag, "data/a.txt", "not present", "data/stowaway.txt", "not listed")
    assert "manifest-md5.txt" in message and "manifest-sha512.txt" in message


def test_tag_manifest_mismatch_is_refused(home: Home, tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    with (bag / "bag-info.txt").open("a", encoding="utf-8") as handle:
        handle.write("Contact-Name: Somebody Else\n")
    refused(home, bag, "bag-info.txt", "md5 expected")


def test_tag_manifest_must_list_every_payload_manifest(home: Home, tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    for manifest in bag.glob("tagmanifest-*.txt"):
        kept = [f"{d}  {name}" for d, name in _entries(manifest) if name != "manifest-md5.txt"]
        manifest.write_text("\n".join(kept) + "\n", encoding="utf-8")
    refused(home, bag, "manifest-md5.txt", "not listed in tagmanifest-sha512.txt")


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("{digest}  ../outside.txt", ["leads outside the bag", "../outside.txt"]),
        ("{digest}  /etc/passwd", ["leads outside the bag"]),
        ("{digest}  bag-info.txt", ["not a file under the payload folder data/"]),
        ("not-a-checksum  data/a.txt", ["line 3", "not 'checksum path'"]),
        ("abc  data/a.txt", ["'abc' is not a md5 checksum"]),
    ],
)
def test_malformed_manifest_lines_are_refused(home: Home, tmp_path: Path, line: str, words: list[str]) -> None:
    bag = make_bag(tmp_path)
    manifest = bag / "manifest-md5.txt"
    with manifest.open("a", encoding="utf-8") as handle:
        handle.write(line.format(digest="0" * 32) + "\n")
    refresh_tag_manifests(bag)
    refused(home, bag, "manifest-md5.txt", *words)


def test_manifest_with_an_unknown_algorithm_is_refused(home: Home, tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    shutil.copy(bag / "manifest-md5.txt", bag / "manifest-blake3.txt")
    refused(home, bag, "manifest-blake3.txt", "'blake3'", "md5, sha1")


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("no bagit.txt", ["bagit.txt", "missing", "manifest-md5.txt"]),
        ("no data", ["data/", "missing"]),
        ("no manifests", ["no payload manifest"]),
        ("only data", ["looks like a bag", "data/"]),
    ],
)
def test_folder_that_looks_like_a_bag_is_refused_unless_as_folder(
    home: Home, tmp_path: Path, damage: str, words: list[str]
) -> None:
    bag = make_bag(tmp_path)
    if damage == "no bagit.txt":
        (bag / "bagit.txt").unlink()
    elif damage == "no data":
        shutil.move(bag / "data", tmp_path / "payload")
        write(bag / "a.txt", "alpha")
    elif damage == "no manifests":
        for manifest in bag.glob("manifest-*.txt"):
            manifest.unlink()
    else:
        for child in bag.iterdir():
            if child.name != "data":
                child.unlink()
    message = refused(home, bag, *words)
    assert "--as-folder" in message
    data = home.ingest(bag, "--as-folder")
    assert data["kind"] == "folder"
    stored = originals(home, str(data["package"]))
    expected_payload = {"objects/data/a.txt", "objects/data/sub/b.txt"} if damage != "no data" else {"objects/a.txt"}
    assert expected_payload <= stored  # its files kept as they are, tag files included
    if damage == "no bagit.txt":
        assert "objects/manifest-md5.txt" in stored and "objects/bag-info.txt" in stored


def test_zipped_bag_is_checked_strictly_too(home: Home, tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    (bag / "bagit.txt").write_bytes(b"\xef\xbb\xbf" + (bag / "bagit.txt").read_bytes())
    archive = tmp_path / "bag.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(bag.rglob("*")):
            zf.write(path, f"bag/{path.relative_to(bag).as_posix()}")
    refused(home, archive, "bagit.txt", "byte-order mark")
