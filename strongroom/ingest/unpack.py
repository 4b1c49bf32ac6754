"""Safe unpacking of zip, tar and 7-Zip transfers into a working folder.

Archive entries are untrusted: an entry may try to land outside the target
(`../`, absolute paths, drive letters), be a link or a device, be encrypted, or
claim a small size and expand without end. Nothing is ever written outside the
target; entries that cannot be taken are refused or skipped with a message.
The same rules hold for every kind (7-Zip: strongroom/ingest/sevenzip.py):
an escaping entry refuses the whole archive before anything is written, links
and special files are skipped with a warning, encrypted archives are refused,
and the entry count, the total size and the compression ratio are limited.
ISO 9660 disk images are not unpacked here: see strongroom/ingest/diskimage.py.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from strongroom.errors import StorageError, TransferError

CHUNK = 1024 * 1024
# An entry that expands more than this many times its compressed size is treated as a bomb
# once it is also large in absolute terms; genuine records rarely exceed ~100x.
MAX_RATIO = 1000
RATIO_FLOOR = 64 * 1024 * 1024
# ISO 9660: the standard identifier "CD001" of the first volume descriptor, at sector 16.
ISO9660_MAGIC_OFFSET = 16 * 2048 + 1
ISO9660_MAGIC = b"CD001"
SEVENZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"


@dataclass(frozen=True)
class UnpackLimits:
    """What an archive may expand to before it is refused as a bomb (or a hostile image)."""

    max_entries: int = 1_000_000
    max_total_bytes: int | None = None  # None: as much as the free disk space allows
    max_ratio: int = MAX_RATIO
    ratio_floor: int = RATIO_FLOOR
    max_depth: int = 64  # folder levels (disk images; archive paths are limited by the file system)


DEFAULT_LIMITS = UnpackLimits()


@dataclass
class UnpackReport:
    root: Path
    files: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)


def archive_kind(path: Path) -> str | None:
    """'zip', '7z', 'iso', 'tar' or None, judged by content rather than by name."""
    if not path.is_file():
        return None
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SEVENZIP_MAGIC))
            handle.seek(ISO9660_MAGIC_OFFSET)
            iso_magic = handle.read(len(ISO9660_MAGIC))
    except OSError:
        return None
    if head == SEVENZIP_MAGIC:
        return "7z"
    # Before tar: an ISO's system area is zeros, which tarfile takes for an empty tar archive.
    if iso_magic == ISO9660_MAGIC:
        return "iso"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except OSError:
        return None
    return None


def safe_member_path(name: str) -> PurePosixPath | None:
    """The relative path an entry may take, or None when it would escape the target."""
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        return None
    parts = [p for p in cleaned.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts) or any("\x00" in p for p in parts):
        return None
    return PurePosixPath(*parts)


def unpack(
    archive: Path,
    target: Path,
    free_bytes_margin: int = 64 * 1024 * 1024,
    limits: UnpackLimits = DEFAULT_LIMITS,
) -> UnpackReport:
    kind = archive_kind(archive)
    target.mkdir(parents=True, exist_ok=True)
    if kind == "zip":
        return _unpack_zip(archive, target, free_bytes_margin, limits)
    if kind == "tar":
        return _unpack_tar(archive, target, free_bytes_margin, limits)
    if kind == "7z":
        from strongroom.ingest.sevenzip import unpack_7z  # imported on use: py7zr is heavy

        return unpack_7z(archive, target, free_bytes_margin, limits)
    raise TransferError(
        f"{archive.name} is not a zip, tar or 7-Zip archive.",
        details=["Give a folder, a .zip, .7z, .tar, .tar.gz or .tgz file, or a BagIt bag."],
    )


def check_totals(archive: Path, entries: int, declared: int, limits: UnpackLimits) -> None:
    """Refuse an archive with more entries or more declared bytes than the limits allow."""
    if entries > limits.max_entries:
        raise TransferError(
            f"{archive.name} has {entries:,} entries, more than the limit of {limits.max_entries:,}; "
            "refused as a likely archive bomb. Nothing was ingested.",
            details=["Split the transfer into smaller archives, or unpack it yourself and ingest the folder."],
        )
    if limits.max_total_bytes is not None and declared > limits.max_total_bytes:
        raise TransferError(
            f"{archive.name} would unpack to {declared:,} bytes, more than the limit of "
            f"{limits.max_total_bytes:,}; refused as a likely archive bomb. Nothing was ingested.",
            details=["Split the transfer into smaller archives, or unpack it yourself and ingest the folder."],
        )


def check_space(target: Path, needed: int, margin: int) -> None:
    free = shutil.disk_usage(target).free
    if needed + margin > free:
        raise StorageError(
            f"Not enough free disk space to unpack the transfer: it needs {needed:,} bytes, "
            f"{free:,} are free under {target}.",
            details=["Free some space or point the archive home at a larger disk, then retry."],
        )


def copy_limited(source: object, dest: Path, limit: int, entry: str) -> int:
    """Copy at most `limit` bytes; more means the entry lied about its size."""
    read = getattr(source, "read")  # noqa: B009 - zip and tar streams share only read()
    written = 0
    with dest.open("xb") as out:
        while True:
            chunk = read(CHUNK)
            if not chunk:
                break
            written += len(chunk)
            if written > limit:
                raise TransferError(
                    f"The archive entry {entry!r} expands beyond its declared size; "
                    "the archive is damaged or hostile and was not ingested."
                )
            out.write(chunk)
    return written


def target_for(target: Path, relative: PurePosixPath) -> Path:
    dest = target.joinpath(*relative.parts)
    # Belt and braces: the resolved parent must stay inside the target.
    if not dest.parent.resolve().is_relative_to(target.resolve()):
        raise TransferError(f"The archive entry {relative} would be written outside the working folder.")
    return dest


def refuse_escaping(archive: Path, names: list[str]) -> None:
    """Refuse the whole archive, before anything is written, if any entry would leave the target."""
    escaping = [name for name in names if safe_member_path(name) is None]
    if escaping:
        raise TransferError(
            f"{archive.name} has entries that would land outside the transfer; nothing was ingested.",
            details=escaping[:50],
        )


def refuse_conflicts(archive: Path, files: Iterable[str], folders: Iterable[str]) -> None:
    """Refuse the whole archive, before anything is written, if a name is both a file and a folder in it
    (`a` a file and `a/b` another, or a folder entry `a/`): no folder on disk, and no package, can hold both."""
    file_paths = {p for p in map(safe_member_path, files) if p is not None}
    folder_paths = {p for p in map(safe_member_path, folders) if p is not None}
    folder_paths |= {parent for p in file_paths | folder_paths for parent in p.parents if parent.parts}
    both = sorted(str(p) for p in file_paths & folder_paths)
    if both:
        raise TransferError(
            f"{archive.name} has {len(both)} name(s) that are both a file and a folder in it; nothing was ingested.",
            details=[*both[:50], "Rename the files or folders so that no file shares its name with a folder, "
                     "then pack the transfer again."],
        )  # fmt: skip


def _unpack_zip(archive: Path, target: Path, margin: int, limits: UnpackLimits) -> UnpackReport:
    report = UnpackReport(root=target)
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            refuse_escaping(archive, [i.filename for i in infos])
            written = [i for i in infos if not stat.S_ISLNK(i.external_attr >> 16)]
            refuse_conflicts(archive, [i.filename for i in written if not i.is_dir()],
                             [i.filename for i in written if i.is_dir()])  # fmt: skip
            encrypted = [i.filename for i in infos if i.flag_bits & 0x1]
            if encrypted:
                raise TransferError(
                    f"{archive.name} is an encrypted zip; Strongroom cannot read encrypted entries.",
                    details=[
                        *encrypted[:20],
                        "Decrypt the archive (or unzip it with its password) and ingest the folder.",
                    ],
                )
            declared = sum(i.file_size for i in infos)
            check_totals(archive, len(infos), declared, limits)
            check_space(target, declared, margin)
            for info in infos:
                relative = safe_member_path(info.filename)
                if relative is None:
                    continue  # unreachable: refuse_escaping has checked every name
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    report.skipped.append(f"{info.filename}: symbolic link in archive, not followed")
                    continue
                if info.is_dir():
                    target_for(target, relative).mkdir(parents=True, exist_ok=True)
                    continue
                if mode and not (stat.S_ISREG(mode) or stat.S_IFMT(mode) == 0):
                    report.skipped.append(f"{info.filename}: special file in archive, skipped")
                    continue
                if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(
                    info.compress_size, 1
                ):
                    raise TransferError(
                        f"The archive entry {info.filename!r} would expand {info.file_size:,} bytes from "
                        f"{info.compress_size:,}: refused as a likely zip bomb."
                    )
                dest = target_for(target, relative)
                dest.parent.mkdir(parents=True, exist_ok=True)
                if dest.exists():
                    report.skipped.append(f"{info.filename}: appears twice in the archive, first copy kept")
                    continue
                with zf.open(info) as source:
                    report.bytes += copy_limited(source, dest, info.file_size, info.filename)
                report.files += 1
    except zipfile.BadZipFile as exc:
        raise TransferError(f"{archive.name} is not a readable zip file: {exc}.") from exc
    except NotImplementedError as exc:
        raise TransferError(f"{archive.name} uses a zip feature Python cannot read: {exc}.") from exc
    return report


def _unpack_tar(archive: Path, target: Path, margin: int, limits: UnpackLimits) -> UnpackReport:
    report = UnpackReport(root=target)
    try:
        with tarfile.open(archive, mode="r:*") as tf:
            members = tf.getmembers()
            refuse_escaping(archive, [m.name for m in members])
            refuse_conflicts(archive, [m.name for m in members if m.isfile()], [m.name for m in members if m.isdir()])
            declared = sum(m.size for m in members if m.isfile())
            check_totals(archive, len(members), declared, limits)
            check_space(target, declared, margin)
            for member in members:
                relative = safe_member_path(member.name)
                if relative is None:
                    continue  # unreachable: refuse_escaping has checked every name
                if member.isdir():
                    target_for(target, relative).mkdir(parents=True, exist_ok=True)
                    continue
                if member.issym() or member.islnk():
                    report.skipped.append(f"{member.name}: link in archive (to {member.linkname}), not followed")
                    continue
                if not member.isfile():
                    report.skipped.append(f"{member.name}: device or special file in archive, skipped")
                    continue
                dest = target_for(target, relative)
                dest.parent.mkdir(parents=True, exist_ok=True)
                if dest.exists():
                    report.skipped.append(f"{member.name}: appears twice in the archive, first copy kept")
                    continue
                source = tf.extractfile(member)
                if source is None:
                    report.skipped.append(f"{member.name}: unreadable entry, skipped")
                    continue
                with source:
                    report.bytes += copy_limited(source, dest, member.size, member.name)
                report.files += 1
    except (tarfile.TarError, EOFError) as exc:
        raise TransferError(f"{archive.name} is not a readable tar file: {exc}.") from exc
    return report
