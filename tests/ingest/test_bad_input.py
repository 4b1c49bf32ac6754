"""Bad input: a clear message, a non-zero exit, nothing stored half-done, nothing written outside."""

from __future__ import annotations

import io
import os
import shutil
import struct
import tarfile
import unicodedata
import zipfile
from pathlib import Path

import pytest

from tests.conftest import Home, write

# The empty OCFL storage root that init makes: its declaration, layout and extension config.
ROOT_FILES = {
    "ocfl/0=ocfl_1.1",
    "ocfl/ocfl_layout.json",
    "ocfl/extensions/0003-hash-and-id-n-tuple-storage-layout/config.json",
}


def assert_nothing_stored(home: Home) -> None:
    assert home.ok("list", "--json").json() == []
    storage = home.path / "storage"
    leftovers = [p.relative_to(storage).as_posix() for p in storage.rglob("*") if p.is_file()]
    assert sorted(set(leftovers) - ROOT_FILES) == []
    staging = home.path / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []


def refused(home: Home, source: Path, *words: str) -> str:
    result = home.run("ingest", str(source))
    assert result.exit_code != 0, result.stdout
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, f"{word!r} not in:\n{result.stderr}"
    assert_nothing_stored(home)
    return result.stderr


def test_checksum_mismatch_lists_each_file(home: Home, example_transfer: Path) -> None:
    (example_transfer / "objects" / "minutes" / "1999-01-07.txt").write_text("tampered")
    (example_transfer / "objects" / "maps" / "parish-boundary.svg").write_text("<svg/>")
    message = refused(home, example_transfer, "checksum", "objects/minutes/1999-01-07.txt", "parish-boundary.svg")
    assert "2 problem(s)" in message


def test_file_named_in_checksums_but_missing(home: Home, example_transfer: Path) -> None:
    (example_transfer / "objects" / "village-hall.png").unlink()
    refused(home, example_transfer, "objects/village-hall.png", "not present", "metadata/checksum.sha256")


def test_bag_with_bad_payload_is_refused(home: Home, tmp_path: Path) -> None:
    import bagit

    bag = tmp_path / "bag"
    write(bag / "a.txt", "alpha")
    write(bag / "sub" / "b.txt", "beta")
    bagit.make_bag(str(bag), checksums=["sha512"])
    (bag / "data" / "a.txt").write_text("ALPHA")
    (bag / "data" / "sub" / "b.txt").unlink()
    write(bag / "data" / "stowaway.txt", "hello")
    message = refused(home, bag, "data/a.txt", "data/sub/b.txt", "data/stowaway.txt")
    assert "sha512" in message


def make_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("evil", ["../escape.txt", "/tmp/strongroom-absolute-escape.txt", "a/../../escape.txt"])
def test_zip_entries_escaping_the_target_are_refused(home: Home, tmp_path: Path, evil: str) -> None:
    archive = make_zip(tmp_path / "evil.zip", {"records/ok.txt": b"fine", evil: b"owned"})
    refused(home, archive, "outside the transfer", evil)
    assert not (tmp_path / "escape.txt").exists()
    assert not (home.path / "escape.txt").exists()
    assert not Path("/tmp/strongroom-absolute-escape.txt").exists()


def test_tar_with_escape_link_and_device(home: Home, tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tf:
        data = b"a record"
        info = tarfile.TarInfo("transfer/records/ok.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("transfer/records/passwd")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
        device = tarfile.TarInfo("transfer/records/null")
        device.type = tarfile.CHRTYPE
        device.devmajor, device.devminor = 1, 3
        tf.addfile(device)
    data = home.ingest(archive)
    warnings = "\n".join(data["warnings"])  # type: ignore[arg-type]
    assert "passwd: link in archive" in warnings
    assert "null: device or special file" in warnings
    shown = home.ok("show", str(data["package"]), "--json").json()
    assert [f["path"] for f in shown["files"] if f["role"] == "original"] == ["objects/records/ok.txt"]  # type: ignore[index]

    escaping = tmp_path / "escaping.tar"
    with tarfile.open(escaping, "w") as tf:
        info = tarfile.TarInfo("../../outside.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"bad"))
    result = home.run("ingest", str(escaping))
    assert result.exit_code != 0 and "outside the transfer" in result.stderr
    assert not (tmp_path.parent / "outside.txt").exists()


def test_encrypted_zip_is_refused(home: Home, tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "secret.zip", {"records/secret.txt": b"classified"})
    raw = bytearray(archive.read_bytes())
    # Set the 'encrypted' flag in the local header and the central directory entry, as zip -e does.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(signature)
        flags = struct.unpack_from("<H", raw, at + offset)[0]
        struct.pack_into("<H", raw, at + offset, flags | 0x1)
    archive.write_bytes(bytes(raw))
    refused(home, archive, "encrypted", "records/secret.txt", "Decrypt")


def test_symlink_out_of_the_transfer_is_refused(home: Home, tmp_path: Path) -> None:
    transfer = tmp_path / "t"
    write(transfer / "a.txt", "alpha")
    secret = write(tmp_path / "secret.txt", "not for the archive")
    os.symlink(secret, transfer / "link.txt")
    refused(home, transfer, "link.txt", "outside the transfer")


def test_symlink_inside_fifo_and_empty_folder_are_skipped_with_messages(home: Home, tmp_path: Path) -> None:
    transfer = tmp_path / "t"
    write(transfer / "a.txt", "alpha")
    os.symlink(transfer / "a.txt", transfer / "alias.txt")
    os.mkfifo(transfer / "pipe")
    (transfer / "empty").mkdir()
    data = home.ingest(transfer)
    warnings = "\n".join(data["warnings"])  # type: ignore[arg-type]
    assert "alias.txt: symbolic link inside the transfer, skipped" in warnings
    assert "pipe: device, pipe or socket, skipped" in warnings
    assert "empty folder objects/empty" in warnings
    assert data["originals"] == 1


def test_odd_names_survive(home: Home, tmp_path: Path) -> None:
    transfer = tmp_path / "t"
    transfer.mkdir()
    non_utf8 = os.fsencode(transfer) + b"/caf\xe9.txt"
    with open(non_utf8, "wb") as handle:
        handle.write(b"latin-1 name")
    write(transfer / "bell\x07name.txt", "control character")
    nfc = unicodedata.normalize("NFC", "Montréal.txt")
    nfd = unicodedata.normalize("NFD", "Montréal.txt")
    write(transfer / nfc, "composed")
    write(transfer / nfd, "decomposed")
    hostile = transfer / "hello? sausage" / "êé" / "Hello, 世界" / " \" ' @ < > & ? + ≠" / "z.txt"
    write(hostile, "hostile")
    deep = transfer.joinpath(*["d" * 200] * 8) / ("f" * 240 + ".txt")
    write(deep, "deep")
    write(transfer / "zero.bin", b"")
    data = home.ingest(transfer)
    assert data["originals"] == 7
    package = str(data["package"])
    warnings = "\n".join(data["warnings"])  # type: ignore[arg-type]
    assert "Unicode normalisation" in warnings
    shown = home.ok("show", package, "--json").json()
    files = {f["path"]: f for f in shown["files"]}  # type: ignore[index]
    assert "objects/caf%E9.txt" in files
    assert "objects/bell%07name.txt" in files
    assert f"objects/{nfc}" in files and f"objects/{nfd}" in files
    assert "objects/hello? sausage/êé/Hello, 世界/ \" ' @ < > & ? + ≠/z.txt" in files
    assert "zero-byte file" in files["objects/zero.bin"]["warnings"]
    renames = [e for e in shown["events"] if e["type"] == "filename change"]  # type: ignore[index]
    assert any("caf\\xe9.txt" in e["detail"] for e in renames)
    assert home.ok("verify", package, "--json").json()["problems"] == []  # type: ignore[index]
    found = home.ok("search", "sausage", "--json").json()
    assert any("z.txt" in (h["path"] or "") for h in found["hits"])  # type: ignore[index]


def test_unreadable_file_is_refused(home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, for whom chmod 000 does not stop a read; so the read error is injected.
    # This is the one fake here: the permission error a real non-root user would get.
    transfer = tmp_path / "t"
    write(transfer / "ok.txt", "fine")
    locked = write(transfer / "locked.txt", "secret")
    monkeypatch.setenv("STRONGROOM_WORKERS", "1")  # in-process, so the patch applies
    real_open = Path.open

    def guarded_open(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded_open)
    refused(home, transfer, "locked.txt", "cannot be read", "read access")


def test_malformed_metadata_csv_names_the_line(home: Home, example_transfer: Path) -> None:
    csv_path = example_transfer / "metadata" / "metadata.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    lines[2] = 'objects/minutes,"Council "minutes" 1999",x,,,,,'
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    refused(home, example_transfer, "metadata.csv line 3", "CSV")


def test_metadata_csv_in_wrong_encoding(home: Home, example_transfer: Path) -> None:
    csv_path = example_transfer / "metadata" / "metadata.csv"
    csv_path.write_bytes(b"filename,dc.title\nobjects/village-hall.png,Caf\xe9\n")
    refused(home, example_transfer, "metadata.csv", "not UTF-8", "line 2")


def test_rights_csv_with_unknown_basis(home: Home, example_transfer: Path) -> None:
    rights = example_transfer / "metadata" / "rights.csv"
    header = rights.read_text(encoding="utf-8").splitlines()[0]
    rights.write_text(header + "\nobjects/village-hall.png,magic,,,,,,,,,,,,,,,,\n", encoding="utf-8")
    refused(home, example_transfer, "rights.csv line 2", "magic")


def test_metadata_row_for_absent_file_is_a_warning(home: Home, example_transfer: Path) -> None:
    csv_path = example_transfer / "metadata" / "metadata.csv"
    with csv_path.open("a", encoding="utf-8") as handle:
        handle.write("objects/not-here.pdf,Ghost,,,,,,\n")
    data = home.ingest(example_transfer)
    assert any("metadata.csv line 6" in w and "not-here.pdf" in w for w in data["warnings"])  # type: ignore[union-attr]
    shown = home.ok("show", str(data["package"]), "--json").json()
    report = [e for e in shown["events"] if e["type"] == "ingestion" and e["outcome"] == "warning"]  # type: ignore[index]
    assert report and "not-here.pdf" in report[0]["detail"]


def test_transfer_with_only_metadata_is_refused(home: Home, tmp_path: Path) -> None:
    transfer = tmp_path / "t"
    write(transfer / "metadata" / "metadata.csv", "filename,dc.title\n")
    refused(home, transfer, "no records")


def test_missing_source_and_single_file(home: Home, tmp_path: Path) -> None:
    assert "does not exist" in home.run("ingest", str(tmp_path / "nope")).stderr
    single = write(tmp_path / "one.pdf", "%PDF-1.4")
    assert "single file" in home.run("ingest", str(single)).stderr


def test_no_archive_home_says_what_to_do(tmp_path: Path) -> None:
    result = Home(tmp_path / "absent").run("list")
    assert result.exit_code != 0
    assert "strongroom --home" in result.stderr and "init" in result.stderr


def test_zip_bomb_like_entry_is_refused(home: Home, tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with (
        zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        zf.open("records/zeros.bin", "w", force_zip64=True) as entry,
    ):
        block = b"\0" * (1024 * 1024)
        for _ in range(200):
            entry.write(block)
    assert archive.stat().st_size < 1024 * 1024
    refused(home, archive, "zip bomb")


def test_full_disk_is_reported_and_nothing_half_stored(home: Home, example_transfer: Path, tmp_path: Path) -> None:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.system(f"mount -t tmpfs -o size=64k tmpfs {mount} 2>/dev/null") != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root); the ENOSPC path is covered in storage tests")
    try:
        config = home.path / "strongroom.toml"
        config.write_text(config.read_text().replace('path = "storage"', f'path = "{mount}"'))
        write(example_transfer / "objects" / "big.bin", os.urandom(200 * 1024))
        (example_transfer / "metadata" / "checksum.sha256").unlink()
        result = home.run("ingest", str(example_transfer))
        assert result.exit_code != 0
        assert "full" in result.stderr
        assert "Traceback" not in result.stderr
        assert home.ok("list", "--json").json() == []
        stored = {p.relative_to(mount).as_posix() for p in mount.rglob("*") if p.is_file()}
        assert stored - ROOT_FILES == set()
    finally:
        os.system(f"umount {mount}")
    shutil.rmtree(mount, ignore_errors=True)


# --- 7-Zip: the same rules as zip and tar ---------------------------------------------------


def crafted_7z(path: Path, entries: dict[str, bytes], evil: str) -> Path:
    """A 7z holding `entries` and one entry named `evil`, which py7zr's writer refuses to write.

    The entry is written under a placeholder of the same length in a plain (unencoded) header,
    then the name is patched in the header and the two header CRCs are recomputed.
    """
    import zlib

    import py7zr

    placeholder = "x" * len(evil)
    with py7zr.SevenZipFile(path, "w") as sz:
        sz.set_encoded_header_mode(False)
        for name, data in entries.items():
            sz.writestr(data, name)
        sz.writestr(b"owned", placeholder)
    raw = bytearray(path.read_bytes())
    old, new = placeholder.encode("utf-16-le"), evil.encode("utf-16-le")
    assert raw.count(old) == 1
    at = raw.index(old)
    raw[at : at + len(old)] = new
    offset, size = struct.unpack_from("<QQ", raw, 12)
    struct.pack_into("<I", raw, 28, zlib.crc32(raw[32 + offset : 32 + offset + size]))
    struct.pack_into("<I", raw, 8, zlib.crc32(raw[12:32]))
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("evil", ["../escape.txt", "/tmp/strongroom-7z-absolute-escape.txt", "a/../../escape.txt"])
def test_7z_entries_escaping_the_target_are_refused(home: Home, tmp_path: Path, evil: str) -> None:
    import py7zr

    archive = crafted_7z(tmp_path / "evil.7z", {"records/ok.txt": b"fine"}, evil)
    with py7zr.SevenZipFile(archive) as sz:
        assert evil in sz.getnames()  # the crafted name really is in the archive
    refused(home, archive, "outside the transfer", evil)
    assert not (tmp_path / "escape.txt").exists()
    assert not (home.path / "escape.txt").exists()
    assert not Path("/tmp/strongroom-7z-absolute-escape.txt").exists()


@pytest.mark.parametrize("header_encryption", [False, True])
def test_encrypted_7z_is_refused(home: Home, tmp_path: Path, header_encryption: bool) -> None:
    import py7zr

    archive = tmp_path / "secret.7z"
    with py7zr.SevenZipFile(archive, "w", password="swordfish", header_encryption=header_encryption) as sz:
        sz.writestr(b"classified", "records/secret.txt")
    message = refused(home, archive, "encrypted 7-Zip archive", "Decrypt")
    if not header_encryption:
        assert "records/secret.txt" in message  # the names are readable, so they are listed


def test_truncated_7z_gives_a_clear_error(home: Home, tmp_path: Path) -> None:
    import py7zr

    archive = tmp_path / "cut.7z"
    with py7zr.SevenZipFile(archive, "w") as sz:
        sz.writestr(os.urandom(4096), "records/a.bin")
    archive.write_bytes(archive.read_bytes()[:-40])
    refused(home, archive, "cut.7z is not a readable 7-Zip archive", "truncated or damaged")


def test_7z_with_a_damaged_entry_gives_a_clear_error(home: Home, tmp_path: Path) -> None:
    import py7zr

    archive = tmp_path / "damaged.7z"
    with py7zr.SevenZipFile(archive, "w") as sz:
        sz.writestr(b"a record " * 500, "records/a.txt")
    raw = bytearray(archive.read_bytes())
    raw[40] ^= 0xFF  # inside the compressed stream, past the 32-byte signature header
    archive.write_bytes(bytes(raw))
    refused(home, archive, "damaged.7z")


def _archives(tmp_path: Path, entries: dict[str, bytes]) -> list[Path]:
    import py7zr

    with zipfile.ZipFile(tmp_path / "a.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    made = [tmp_path / "a.zip"]
    with tarfile.open(tmp_path / "a.tar", "w") as tf:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    made.append(tmp_path / "a.tar")
    with py7zr.SevenZipFile(tmp_path / "a.7z", "w") as sz:
        for name, data in entries.items():
            sz.writestr(data, name)
    made.append(tmp_path / "a.7z")
    return made


@pytest.mark.parametrize(
    ("limits", "words"),
    [
        ({"max_entries": 3}, ["4 entries", "limit of 3", "bomb"]),
        ({"max_total_bytes": 10_000}, ["would unpack to 40,000 bytes", "limit of 10,000", "bomb"]),
        ({"ratio_floor": 1000, "max_ratio": 2}, ["bomb"]),
    ],
)
def test_archive_bomb_limits_hold_for_zip_tar_and_7z(tmp_path: Path, limits: dict[str, int], words: list[str]) -> None:
    from strongroom.errors import TransferError
    from strongroom.ingest.unpack import UnpackLimits, unpack

    entries = {f"records/{i}.bin": b"\0" * 10_000 for i in range(4)}
    compressed = [a for a in _archives(tmp_path, entries) if a.suffix != ".tar"]  # a tar does not compress
    for archive in _archives(tmp_path, entries) if "ratio_floor" not in limits else compressed:
        target = tmp_path / f"out-{archive.suffix}"
        with pytest.raises(TransferError) as caught:
            unpack(archive, target, limits=UnpackLimits(**limits))
        for word in words:
            assert word in str(caught.value), (archive.name, str(caught.value))
        assert list(target.rglob("*")) == []  # refused before anything was written
    for archive in _archives(tmp_path, entries):  # within the default limits, all three unpack
        report = unpack(archive, tmp_path / f"ok-{archive.suffix}")
        assert report.files == 4 and report.bytes == 40_000
