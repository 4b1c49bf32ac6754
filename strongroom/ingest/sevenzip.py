"""Safe unpacking of 7-Zip transfers, under the rules zip and tar follow (strongroom/ingest/unpack.py).

py7zr does the decoding; everything written goes through this module: py7zr is
given a writer factory and never a folder, so it creates no file or link itself.
The whole header is read and judged first (escaping names, encryption, entry
count, declared size, compression ratio), then each file streams into the
target through a writer that stops at the size the header declared.
"""

from __future__ import annotations

import lzma
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import py7zr
import py7zr.exceptions
import py7zr.helpers
import py7zr.io

from strongroom.errors import TransferError
from strongroom.ingest.unpack import (
    UnpackLimits,
    UnpackReport,
    check_space,
    check_totals,
    refuse_conflicts,
    refuse_escaping,
    safe_member_path,
    target_for,
)

# The coder id of 7-Zip's AES-256 + SHA-256 encryption (7zFormat.txt: 06F10701).
AES_METHOD = b"\x06\xf1\x07\x01"
# What damaged input makes py7zr and the decoders under it raise (headers are parsed by hand: struct,
# index and key errors are damage too, never a reason for a traceback).
CORRUPT: tuple[type[BaseException], ...] = (
    py7zr.exceptions.ArchiveError,
    py7zr.exceptions.DecompressionError,
    lzma.LZMAError,
    zlib.error,
    struct.error,
    EOFError,
    ValueError,
    IndexError,
    KeyError,
    UnicodeDecodeError,
)
DECRYPT_FIRST = "Decrypt the archive (extract it with its password, e.g. 7z x) and ingest the folder."


@dataclass
class _Planned:
    """What to do with one archive entry when py7zr hands over its bytes."""

    name: str
    dest: Path | None  # None: skip it (the reason is already in the report)
    size: int


class _LimitedFile(py7zr.io.Py7zIO):
    """Writes one entry to its file, refusing bytes beyond the size the header declared."""

    def __init__(self, handle: BinaryIO | None, limit: int, entry: str, report: UnpackReport) -> None:
        self._handle = handle
        self._limit = limit
        self._entry = entry
        self._report = report
        self._written = 0

    def write(self, s: bytes | bytearray) -> int:
        self._written += len(s)
        if self._written > self._limit:
            raise TransferError(
                f"The archive entry {self._entry!r} expands beyond its declared size; "
                "the archive is damaged or hostile and was not ingested."
            )
        if self._handle is not None:
            self._handle.write(s)
            self._report.bytes += len(s)
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def seekable(self) -> bool:
        return False  # py7zr rewinds seekable writers on close; these only go forward

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.flush()

    def size(self) -> int:
        return self._written

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class _Writers(py7zr.io.WriterFactory):
    """Opens the planned file for each entry py7zr extracts; a skipped entry's bytes are only counted."""

    def __init__(self, plan: dict[str, _Planned], report: UnpackReport) -> None:
        self._plan = plan
        self._report = report
        self._opened: list[_LimitedFile] = []

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        planned = self._plan.pop(filename, None)
        if planned is None:
            # py7zr renames a second entry of the same name; the first copy is kept, as for zip.
            writer = _LimitedFile(None, 1 << 62, filename, self._report)
        elif planned.dest is None:
            writer = _LimitedFile(None, planned.size, planned.name, self._report)
        else:
            planned.dest.parent.mkdir(parents=True, exist_ok=True)
            writer = _LimitedFile(planned.dest.open("xb"), planned.size, planned.name, self._report)
            self._report.files += 1
        self._opened.append(writer)
        return writer

    def close_all(self) -> None:
        for writer in self._opened:
            writer.close()


def unpack_7z(archive: Path, target: Path, margin: int, limits: UnpackLimits) -> UnpackReport:
    report = UnpackReport(root=target)
    writers: _Writers | None = None
    try:
        # A file object, not a name: py7zr then decodes in this thread, one entry after another,
        # so a TransferError raised by a writer stops it at once.
        with archive.open("rb") as handle, py7zr.SevenZipFile(handle, mode="r") as sz:
            files = list(sz.files)
            refuse_escaping(archive, [f.filename for f in files])
            written = [f for f in files if not (f.is_symlink or f.is_junction or f.is_socket)]
            refuse_conflicts(archive, [f.filename for f in written if not f.is_directory],
                             [f.filename for f in written if f.is_directory])  # fmt: skip
            _refuse_encrypted(archive, sz)
            declared = sum(f.uncompressed or 0 for f in files if not f.is_directory)
            check_totals(archive, len(files), declared, limits)
            size = archive.stat().st_size
            if declared > limits.ratio_floor and declared > limits.max_ratio * max(size, 1):
                raise TransferError(
                    f"{archive.name} would expand {declared:,} bytes from {size:,}: refused as a likely "
                    "archive bomb. Nothing was ingested."
                )
            check_space(target, declared, margin)
            writers = _Writers(_plan(files, target, report), report)
            sz.extractall(factory=writers)
    except py7zr.exceptions.PasswordRequired as exc:
        raise TransferError(
            f"{archive.name} is an encrypted 7-Zip archive; Strongroom cannot read encrypted entries.",
            details=[DECRYPT_FIRST],
        ) from exc
    except py7zr.exceptions.UnsupportedCompressionMethodError as exc:
        raise TransferError(
            f"{archive.name} uses a 7-Zip compression method Strongroom cannot read ({exc}).",
            details=["Re-pack it with LZMA2 (the 7-Zip default) or unpack it yourself and ingest the folder."],
        ) from exc
    except py7zr.exceptions.CrcError as exc:
        raise TransferError(
            f"{archive.name} is damaged: an entry's CRC does not match what the archive recorded.",
            details=["Ask the depositor for a fresh copy of the archive."],
        ) from exc
    except CORRUPT as exc:
        # Truncated or otherwise corrupt archives end in any of these, depending on where the damage is.
        raise _corrupt(archive, exc) from exc
    except OSError as exc:
        if exc.errno is not None:
            raise  # a real I/O error (full disk, permissions), not damage in the archive
        raise _corrupt(archive, exc) from exc  # bz2 reports bad data as an OSError without errno
    finally:
        if writers is not None:
            writers.close_all()
    return report


def _corrupt(archive: Path, exc: BaseException) -> TransferError:
    return TransferError(
        f"{archive.name} is not a readable 7-Zip archive ({str(exc) or type(exc).__name__}); it may be "
        "truncated or damaged. Nothing was ingested.",
        details=["Ask the depositor for a fresh copy of the archive."],
    )


def _refuse_encrypted(archive: Path, sz: py7zr.SevenZipFile) -> None:
    """Refuse an archive whose content is encrypted (an encrypted header fails earlier, on opening)."""
    streams = sz.header.main_streams
    folders = streams.unpackinfo.folders if streams is not None else []
    locked = [folder for folder in folders if any(coder["method"] == AES_METHOD for coder in folder.coders)]
    if locked:
        names = [f.filename for folder in locked for f in getattr(folder, "files", None) or []]
        raise TransferError(
            f"{archive.name} is an encrypted 7-Zip archive; Strongroom cannot read encrypted entries.",
            details=[*names[:20], DECRYPT_FIRST],
        )


def _plan(files: list[py7zr.py7zr.ArchiveFile], target: Path, report: UnpackReport) -> dict[str, _Planned]:
    """Where each entry goes, keyed by the name py7zr will hand to the writer factory."""
    plan: dict[str, _Planned] = {}
    seen: dict[str, int] = {}
    taken: set[Path] = set()
    for f in files:
        name = f.filename
        relative = safe_member_path(name)
        if relative is None:
            continue  # unreachable: refuse_escaping has checked every name
        # py7zr's own naming of the output (a repeated name gets a _N suffix): the factory's key.
        if name in seen:
            outname = f"{name}_{seen[name]}"
            seen[name] += 1
        else:
            outname = name
            seen[name] = 0
        if f.is_directory:
            target_for(target, relative).mkdir(parents=True, exist_ok=True)
            continue
        key = py7zr.helpers.get_sanitized_output_path(outname, None).as_posix()
        size = f.uncompressed or 0
        if f.is_symlink or f.is_junction:
            report.skipped.append(f"{name}: symbolic link in archive, not followed")
            plan[key] = _Planned(name, None, size)
            continue
        fmt = f.st_fmt
        if f.is_socket or (fmt is not None and fmt not in (stat.S_IFREG, 0)):
            report.skipped.append(f"{name}: special file in archive, skipped")
            plan[key] = _Planned(name, None, size)
            continue
        dest = target_for(target, relative)
        if dest in taken or outname != name:
            report.skipped.append(f"{name}: appears twice in the archive, first copy kept")
            plan[key] = _Planned(name, None, size)
            continue
        taken.add(dest)
        plan[key] = _Planned(name, dest, size)
    return plan
