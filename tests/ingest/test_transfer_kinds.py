"""7-Zip transfers and ISO 9660 disk images: made on the spot with py7zr and pycdlib."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import py7zr
import pycdlib
import pytest

from strongroom.errors import TransferError
from strongroom.ingest.diskimage import extract_disk_image, list_disk_image
from strongroom.ingest.unpack import UnpackLimits, archive_kind
from tests.conftest import Home, write


def originals(home: Home, package: str) -> dict[str, str]:
    shown = home.ok("show", package, "--json").json()
    return {f["path"]: f["sha256"] for f in shown["files"] if f["role"] == "original"}  # type: ignore[index]


def make_folder(root: Path) -> Path:
    write(root / "minutes" / "1999-01-07.txt", "Council minutes")
    write(root / "minutes" / "Hello, 世界 & ≠.txt", "hostile name")
    write(root / "maps" / "parish.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>")
    write(root / "empty.bin", b"")
    return root


def seven_zip(folder: Path, archive: Path, **kwargs: object) -> Path:
    with py7zr.SevenZipFile(archive, "w", **kwargs) as sz:  # type: ignore[arg-type]
        sz.writeall(folder, folder.name)
    return archive


def test_7z_ingests_the_same_files_as_the_folder(home: Home, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "parish")
    archive = seven_zip(folder, tmp_path / "parish.7z")
    assert archive_kind(archive) == "7z"
    from_folder = home.ingest(folder)
    from_7z = home.ingest(archive, "--allow-duplicate")
    assert from_7z["kind"] == "7z" and from_7z["name"] == "parish"
    assert from_7z["originals"] == from_folder["originals"] == 4
    expected = originals(home, str(from_folder["package"]))
    assert originals(home, str(from_7z["package"])) == expected
    assert expected["objects/minutes/Hello, 世界 & ≠.txt"] == hashlib.sha256(b"hostile name").hexdigest()


def test_7z_symbolic_link_is_skipped_like_zip(home: Home, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "t")
    os.symlink("/etc/passwd", folder / "passwd")
    data = home.ingest(seven_zip(folder, tmp_path / "t.7z"))
    assert any("passwd: symbolic link in archive, not followed" in w for w in data["warnings"])  # type: ignore[union-attr]
    assert "objects/passwd" not in originals(home, str(data["package"]))


def test_bag_inside_a_7z_is_checked_as_a_bag(home: Home, tmp_path: Path) -> None:
    import bagit

    bag = make_folder(tmp_path / "bag")
    bagit.make_bag(str(bag), checksums=["sha256"])
    data = home.ingest(seven_zip(bag, tmp_path / "bag.7z"))
    assert data["kind"] == "7-Zip bag"
    assert "objects/minutes/1999-01-07.txt" in originals(home, str(data["package"]))


def make_iso(path: Path, *, joliet: bool = True, rock_ridge: bool = True) -> Path:
    iso = pycdlib.PyCdlib()
    iso.new(
        interchange_level=3, vol_ident="PARISH", joliet=3 if joliet else None, rock_ridge="1.09" if rock_ridge else None
    )

    def j(name: str) -> str | None:
        return name if joliet else None

    def r(name: str) -> str | None:
        return name if rock_ridge else None

    iso.add_directory("/DOCS", rr_name=r("docs"), joliet_path=j("/docs"))
    for iso_path, name, data in (
        ("/DOCS/MINUTES.TXT;1", "Council minutes 1999.txt", b"Council minutes"),
        ("/BIG.BIN;1", "big.bin", b"x" * 5000),
    ):
        joliet_path = ("/docs/" if iso_path.startswith("/DOCS/") else "/") + name
        iso.add_fp(io.BytesIO(data), len(data), iso_path, rr_name=r(name), joliet_path=j(joliet_path))
    if rock_ridge:
        iso.add_symlink(symlink_path="/LINK.;1", rr_symlink_name="link", rr_path="/etc/passwd", joliet_path=j("/link"))
    iso.write(str(path))
    iso.close()
    return path


def test_iso_given_as_the_transfer_is_stored_as_received(home: Home, tmp_path: Path) -> None:
    image = make_iso(tmp_path / "parish-cd.iso")
    assert archive_kind(image) == "iso"  # judged by content: an ISO's zeroed system area is not an empty tar
    data = home.ingest(image)
    assert data["kind"] == "disk image" and data["name"] == "parish-cd" and data["originals"] == 1
    stored = originals(home, str(data["package"]))
    assert stored == {"objects/parish-cd.iso": hashlib.sha256(image.read_bytes()).hexdigest()}


def test_iso_inside_a_transfer_is_stored_as_received(home: Home, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "t")
    image = make_iso(folder / "disk.iso")
    data = home.ingest(folder)
    stored = originals(home, str(data["package"]))
    assert stored["objects/disk.iso"] == hashlib.sha256(image.read_bytes()).hexdigest()
    assert not any(path.startswith("objects/disk/") for path in stored)  # not unpacked unless the policy says so


@pytest.mark.parametrize(
    ("joliet", "rock_ridge", "naming", "names"),
    [
        (True, True, "rock ridge", {"docs", "docs/Council minutes 1999.txt", "big.bin", "link"}),
        (True, False, "joliet", {"docs", "docs/Council minutes 1999.txt", "big.bin"}),
        (False, False, "iso9660", {"DOCS", "DOCS/MINUTES.TXT", "BIG.BIN"}),
    ],
)
def test_list_disk_image_uses_the_richest_names(
    tmp_path: Path, joliet: bool, rock_ridge: bool, naming: str, names: set[str]
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    entries = {e.path: e for e in list_disk_image(make_iso(tmp_path / "x.iso", joliet=joliet, rock_ridge=rock_ridge))}
    assert set(entries) == names
    assert {e.naming for e in entries.values()} == {naming}
    minutes = next(e for p, e in entries.items() if p.lower().startswith("docs/"))
    assert minutes.kind == "file" and minutes.size == len(b"Council minutes")
    assert minutes.modified is not None and abs((minutes.modified - before).total_seconds()) < 120
    folder = entries["docs" if naming != "iso9660" else "DOCS"]
    assert folder.kind == "folder"
    if naming == "rock ridge":
        assert entries["link"].kind == "symlink" and entries["link"].link_target == "/etc/passwd"
        assert minutes.iso_path == "DOCS/MINUTES.TXT"


def test_extract_disk_image_writes_files_only_under_dest(tmp_path: Path) -> None:
    image = make_iso(tmp_path / "x.iso")
    dest = tmp_path / "staging" / "x.iso-files"
    written = extract_disk_image(image, dest, UnpackLimits())
    assert sorted(p.relative_to(dest).as_posix() for p in written) == ["big.bin", "docs/Council minutes 1999.txt"]
    assert (dest / "docs" / "Council minutes 1999.txt").read_bytes() == b"Council minutes"
    assert not (dest / "link").exists() and not (dest / "link").is_symlink()  # links are listed, never made
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(dest) and p != image]
    assert outside == []


@pytest.mark.parametrize(
    ("limits", "words"),
    [
        (UnpackLimits(max_entries=2), ["entries", "limit of 2"]),
        (UnpackLimits(max_depth=1), ["deeper than 1"]),
        (UnpackLimits(max_total_bytes=1000), ["limit of 1,000"]),
    ],
)
def test_disk_image_limits(tmp_path: Path, limits: UnpackLimits, words: list[str]) -> None:
    image = make_iso(tmp_path / "x.iso")
    for call in (lambda: list_disk_image(image, limits), lambda: extract_disk_image(image, tmp_path / "out", limits)):
        with pytest.raises(TransferError) as caught:
            call()
        for word in words:
            assert word in str(caught.value)
    assert not (tmp_path / "out").exists()  # refused on the listing, before anything was written


def test_disk_image_with_a_hostile_name_is_refused(tmp_path: Path) -> None:
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, rock_ridge="1.09")
    iso.add_fp(io.BytesIO(b"owned"), 5, "/EVIL.TXT;1", rr_name="zz")
    image = tmp_path / "evil.iso"
    iso.write(str(image))
    iso.close()
    raw = bytearray(image.read_bytes())
    # The Rock Ridge NM entry: 'NM', length, version 1, flags 0, then the name; '..' has the same length.
    at = raw.index(b"NM\x07\x01\x00zz")
    raw[at + 5 : at + 7] = b".."
    image.write_bytes(bytes(raw))
    with pytest.raises(TransferError, match=r"named '\.\.'"):
        list_disk_image(image)
    with pytest.raises(TransferError, match="hostile"):
        extract_disk_image(image, tmp_path / "out")
    assert not (tmp_path / "owned").exists() and not (tmp_path / "out").exists()


def test_damaged_disk_image_gives_a_clear_error(tmp_path: Path) -> None:
    image = make_iso(tmp_path / "x.iso")
    image.write_bytes(image.read_bytes()[: 17 * 2048])
    with pytest.raises(TransferError, match="not a readable ISO 9660 disk image"):
        list_disk_image(image)


def test_archives_and_disk_images_among_the_records_can_be_unpacked_beside_themselves(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transfer = tmp_path / "deposit"
    (transfer / "objects").mkdir(parents=True)
    make_iso(transfer / "objects" / "parish-cd.iso")
    seven_zip(make_folder(tmp_path / "box"), transfer / "objects" / "box.7z")
    broken = transfer / "objects" / "broken.zip"
    with zipfile.ZipFile(broken, "w") as archive:  # a zip whose directory reads but whose data is damaged
        archive.writestr("letter.txt", "A letter about the parish boundary. " * 20)
    raw = bytearray(broken.read_bytes())
    raw[60:70] = b"XXXXXXXXXX"
    broken.write_bytes(bytes(raw))
    kept = home.ingest(transfer)  # the default: every archive kept as received, nothing unpacked
    assert set(originals(home, str(kept["package"]))) == {
        "objects/parish-cd.iso", "objects/box.7z", "objects/broken.zip"
    }  # fmt: skip
    monkeypatch.setenv("STRONGROOM_UNPACK_ARCHIVES", "1")
    monkeypatch.setenv("STRONGROOM_UNPACK_DISK_IMAGES", "1")
    data = home.ingest(transfer, "--allow-duplicate")
    files = originals(home, str(data["package"]))
    assert {"objects/parish-cd.iso", "objects/box.7z", "objects/broken.zip"} <= set(files)  # still as received
    assert "objects/parish-cd.iso.contents/docs/Council minutes 1999.txt" in files
    assert "objects/box.7z.contents/box/minutes/Hello, 世界 & ≠.txt" in files
    assert not any("link" in path for path in files)  # the image's symbolic link is never made
    assert any("broken.zip" in w and "kept as received" in w for w in data["warnings"])  # type: ignore[union-attr]
    events = home.ok("show", str(data["package"]), "--json").json()["events"]  # type: ignore[index]
    [unpacking] = [e for e in events if e["type"] == "unpacking"]
    assert "objects/parish-cd.iso (iso)" in unpacking["detail"] and "objects/box.7z (7z)" in unpacking["detail"]
    home.ok("verify", str(data["package"]))
