"""Safe unpacking of zip and tar transfers into a working folder.

Archive entries are untrusted: an entry may try to land outside the target
(`../`, absolute paths, drive letters), be a link or a device, be encrypted, or
claim a small size and expand without end. Nothing is ever written outside the
target; entries that cannot be taken are refused or skipped with a message.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from strongroom.errors import StorageError, TransferError

CHUNK = 1024 * 1024
# An entry that expands more than this many times its compressed size is treated as a bomb
# once it is also large in absolute terms; genuine records rarely exceed ~100x.
MAX_RATIO = 1000
RATIO_FLOOR = 64 * 1024 * 1024


@dataclass
class UnpackReport:
    root: Path
    files: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)


def archive_kind(path: Path) -> str | None:
    """'zip', 'tar' or None, judged by content rather than by name."""
    if not path.is_file():
        return None
    if zipfile.is_zipfile(path):
        return "zip"
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


def unpack(archive: Path, target: Path, free_bytes_margin: int = 64 * 1024 * 1024) -> UnpackReport:
    kind = archive_kind(archive)
    target.mkdir(parents=True, exist_ok=True)
    if kind == "zip":
        return _unpack_zip(archive, target, free_bytes_margin)
    if kind == "tar":
        return _unpack_tar(archive, target, free_bytes_margin)
    raise TransferError(
        f"{archive.name} is neither a zip nor a tar archive.",
        details=["Give a folder, a .zip, a .tar, .tar.gz or .tgz file, or a BagIt bag."],
    )


def _check_space(target: Path, needed: int, margin: int) -> None:
    free = shutil.disk_usage(target).free
    if needed + margin > free:
        raise StorageError(
            f"Not enough free disk space to unpack the transfer: it needs {needed:,} bytes, "
            f"{free:,} are free under {target}.",
            details=["Free some space or point the archive home at a larger disk, then retry."],
        )


def _copy_limited(source: object, dest: Path, limit: int, entry: str) -> int:
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


def _target_for(target: Path, relative: PurePosixPath) -> Path:
    dest = target.joinpath(*relative.parts)
    # Belt and braces: the resolved parent must stay inside the target.
    if not dest.parent.resolve().is_relative_to(target.resolve()):
        raise TransferError(f"The archive entry {relative} would be written outside the working folder.")
    return dest


def _refuse_escaping(archive: Path, names: list[str]) -> None:
    """Refuse the whole archive, before anything is written, if any entry would leave the target."""
    escaping = [name for name in names if safe_member_path(name) is None]
    if escaping:
        raise TransferError(
            f"{archive.name} has entries that would land outside the transfer; nothing was ingested.",
            details=escaping[:50],
        )


def _unpack_zip(archive: Path, target: Path, margin: int) -> UnpackReport:
    report = UnpackReport(root=target)
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            _refuse_escaping(archive, [i.filename for i in infos])
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
            _check_space(target, declared, margin)
            for info in infos:
                relative = safe_member_path(info.filename)
                if relative is None:
                    continue  # unreachable: _refuse_escaping has checked every name
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    report.skipped.append(f"{info.filename}: symbolic link in archive, not followed")
                    continue
                if info.is_dir():
                    _target_for(target, relative).mkdir(parents=True, exist_ok=True)
                    continue
                if mode and not (stat.S_ISREG(mode) or stat.S_IFMT(mode) == 0):
                    report.skipped.append(f"{info.filename}: special file in archive, skipped")
                    continue
                if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                    raise TransferError(
                        f"The archive entry {info.filename!r} would expand {info.file_size:,} bytes from "
                        f"{info.compress_size:,}: refused as a likely zip bomb."
                    )
                dest = _target_for(target, relative)
                dest.parent.mkdir(parents=True, exist_ok=True)
                if dest.exists():
                    report.skipped.append(f"{info.filename}: appears twice in the archive, first copy kept")
                    continue
                with zf.open(info) as source:
                    report.bytes += _copy_limited(source, dest, info.file_size, info.filename)
                report.files += 1
    except zipfile.BadZipFile as exc:
        raise TransferError(f"{archive.name} is not a readable zip file: {exc}.") from exc
    except NotImplementedError as exc:
        raise TransferError(f"{archive.name} uses a zip feature Python cannot read: {exc}.") from exc
    return report


def _unpack_tar(archive: Path, target: Path, margin: int) -> UnpackReport:
    report = UnpackReport(root=target)
    try:
        with tarfile.open(archive, mode="r:*") as tf:
            members = tf.getmembers()
            _refuse_escaping(archive, [m.name for m in members])
            _check_space(target, sum(m.size for m in members if m.isfile()), margin)
            for member in members:
                relative = safe_member_path(member.name)
                if relative is None:
                    continue  # unreachable: _refuse_escaping has checked every name
                if member.isdir():
                    _target_for(target, relative).mkdir(parents=True, exist_ok=True)
                    continue
                if member.issym() or member.islnk():
                    report.skipped.append(f"{member.name}: link in archive (to {member.linkname}), not followed")
                    continue
                if not member.isfile():
                    report.skipped.append(f"{member.name}: device or special file in archive, skipped")
                    continue
                dest = _target_for(target, relative)
                dest.parent.mkdir(parents=True, exist_ok=True)
                if dest.exists():
                    report.skipped.append(f"{member.name}: appears twice in the archive, first copy kept")
                    continue
                source = tf.extractfile(member)
                if source is None:
                    report.skipped.append(f"{member.name}: unreadable entry, skipped")
                    continue
                with source:
                    report.bytes += _copy_limited(source, dest, member.size, member.name)
                report.files += 1
    except (tarfile.TarError, EOFError) as exc:
        raise TransferError(f"{archive.name} is not a readable tar file: {exc}.") from exc
    return report
