"""A bounded ZIP reader for container identification: central directory and entry data.

DROID 6.5.2 opens a zip container with TrueZIP (`ZipFile(reader, UTF-8, preambled=true,
postambled=false)`) and looks entries up by exact name. This reader does the same
with hard limits, because the file is untrusted: the central directory is read at
most once and only up to `max_entries` records, entry data is decompressed lazily
and never past the caller's byte budget, and an entry that inflates to more than
its declared size (a zip bomb) or is cut short is an error, never a hang.
"""

from __future__ import annotations

import bz2
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_EOCD_SIZE = 22
_MAX_COMMENT = 0xFFFF
_CHUNK = 64 * 1024
_ZIP64_MARK32 = 0xFFFFFFFF

STORED, DEFLATED, BZIP2 = 0, 8, 12


class ZipFormatError(Exception):
    """The zip is malformed, truncated, encrypted, uses an unsupported method or breaks a limit."""


@dataclass(frozen=True)
class ZipEntry:
    name: str
    method: int
    flags: int
    compressed_size: int
    size: int  # the uncompressed size the central directory declares
    header_offset: int  # of the local header, already corrected for any preamble


class ZipDirectory:
    """The central directory of one open zip file (the handle stays owned by the caller)."""

    def __init__(self, handle: BinaryIO, file_size: int, max_entries: int) -> None:
        self._handle = handle
        self._file_size = file_size
        self.entries: dict[str, ZipEntry] = {}
        self._read(max_entries)

    # --- central directory ------------------------------------------------------------------

    def _read(self, max_entries: int) -> None:
        size = self._file_size
        if size < _EOCD_SIZE:
            raise ZipFormatError("too small to be a zip file")
        window = min(size, _EOCD_SIZE + _MAX_COMMENT)
        self._handle.seek(size - window)
        tail = self._handle.read(window)
        at = tail.rfind(_EOCD)
        while at >= 0 and at + _EOCD_SIZE > len(tail):
            at = tail.rfind(_EOCD, 0, at)
        if at < 0:
            raise ZipFormatError("no end of central directory record (truncated or not a zip)")
        eocd_pos = size - window + at
        (_, disk, cd_disk, _, count, cd_size, cd_offset, _) = struct.unpack_from("<4sHHHHIIH", tail, at)
        if disk != 0 or cd_disk != 0:
            raise ZipFormatError("multi-disk (split) zip archives are not supported")
        cd_end = eocd_pos
        if count == 0xFFFF or cd_size == _ZIP64_MARK32 or cd_offset == _ZIP64_MARK32:
            count, cd_size, cd_offset, cd_end = self._zip64(eocd_pos)
        if count > max_entries:
            raise ZipFormatError(f"{count} entries is more than the limit of {max_entries}")
        # A preamble (self-extracting stub, or bytes prepended) shifts every offset: TrueZIP's
        # `preambled` mode corrects by the difference between where the directory is and where it says.
        cd_start = cd_end - cd_size
        if cd_start < 0 or cd_offset > cd_start:
            raise ZipFormatError("the central directory lies outside the file")
        shift = cd_start - cd_offset
        self._handle.seek(cd_start)
        data = self._handle.read(cd_size)
        if len(data) != cd_size:
            raise ZipFormatError("the central directory is truncated")
        pos = 0
        for _ in range(count):
            if pos + 46 > len(data) or data[pos : pos + 4] != _CENTRAL:
                raise ZipFormatError("a central directory record is damaged")
            (flags, method, csize, usize, name_len, extra_len, comment_len, offset) = _central_fields(data, pos)
            name_end = pos + 46 + name_len
            extra_end = name_end + extra_len
            if extra_end + comment_len > len(data):
                raise ZipFormatError("a central directory record runs past the directory")
            # TrueZIP decodes every name as UTF-8 (its default charset, and the EFS flag's too).
            name = data[pos + 46 : name_end].decode("utf-8", errors="replace")
            if _ZIP64_MARK32 in (csize, usize, offset):
                usize, csize, offset = _zip64_extra(data[name_end:extra_end], usize, csize, offset)
            # The last of two same-named entries wins, as in TrueZIP's name map.
            self.entries[name] = ZipEntry(name, method, flags, csize, usize, offset + shift)
            pos = extra_end + comment_len

    def _zip64(self, eocd_pos: int) -> tuple[int, int, int, int]:
        locator_pos = eocd_pos - 20
        if locator_pos < 0:
            raise ZipFormatError("zip64 sizes without a zip64 locator")
        self._handle.seek(locator_pos)
        locator = self._handle.read(20)
        if len(locator) != 20 or locator[:4] != _EOCD64_LOCATOR:
            raise ZipFormatError("zip64 sizes without a zip64 locator")
        (record_pos,) = struct.unpack_from("<Q", locator, 8)
        # The record sits right before the locator; with a preamble its stated offset is short.
        actual = locator_pos - 56
        if actual < 0 or record_pos > actual:
            raise ZipFormatError("the zip64 end of central directory lies outside the file")
        self._handle.seek(actual)
        record = self._handle.read(56)
        if len(record) != 56 or record[:4] != _EOCD64:
            raise ZipFormatError("the zip64 end of central directory record is damaged")
        count, cd_size, cd_offset = struct.unpack_from("<QQQ", record, 32)
        return count, cd_size, cd_offset, actual

    # --- entry data ---------------------------------------------------------------------------

    def iter_data(self, entry: ZipEntry, budget: int) -> Iterator[bytes]:
        """Yield the uncompressed bytes of `entry`, at most `budget` of them (callers stop early).

        Raises ZipFormatError when the entry is encrypted, damaged, truncated, uses a method
        TrueZIP does not read either, or inflates past its declared size.
        """
        if entry.flags & 0x1:
            raise ZipFormatError(f"entry {entry.name!r} is encrypted")
        self._handle.seek(entry.header_offset)
        local = self._handle.read(30)
        if len(local) != 30 or local[:4] != _LOCAL:
            raise ZipFormatError(f"the local header of {entry.name!r} is missing or damaged")
        name_len, extra_len = struct.unpack_from("<HH", local, 26)
        start = entry.header_offset + 30 + name_len + extra_len
        if start + entry.compressed_size > self._file_size:
            raise ZipFormatError(f"entry {entry.name!r} runs past the end of the file (truncated)")
        self._handle.seek(start)
        if entry.method == STORED:
            yield from self._stored(entry, budget)
        elif entry.method in (DEFLATED, BZIP2):
            yield from self._inflated(entry, budget)
        else:
            raise ZipFormatError(f"entry {entry.name!r} uses compression method {entry.method}, not supported")

    def _stored(self, entry: ZipEntry, budget: int) -> Iterator[bytes]:
        remaining = min(entry.compressed_size, budget)
        while remaining > 0:
            chunk = self._handle.read(min(_CHUNK, remaining))
            if not chunk:
                raise ZipFormatError(f"entry {entry.name!r} is truncated")
            remaining -= len(chunk)
            yield chunk

    def _inflated(self, entry: ZipEntry, budget: int) -> Iterator[bytes]:
        decompressor: zlib._Decompress | bz2.BZ2Decompressor
        decompressor = zlib.decompressobj(-15) if entry.method == DEFLATED else bz2.BZ2Decompressor()
        remaining_in = entry.compressed_size
        produced = 0
        data = b""
        idle = 0
        while produced < budget and not decompressor.eof:
            # No more than the budget and the declared size allow, plus one byte to catch a bomb.
            want = min(_CHUNK, budget - produced, entry.size - produced + 1)
            try:
                if isinstance(decompressor, bz2.BZ2Decompressor):
                    data = b""
                    if decompressor.needs_input:
                        data = self._input(entry, remaining_in)
                        remaining_in -= len(data)
                    out = decompressor.decompress(data, max_length=want)
                else:
                    if not data:
                        data = self._input(entry, remaining_in)
                        remaining_in -= len(data)
                    out = decompressor.decompress(data, want)
                    data = decompressor.unconsumed_tail
            except (zlib.error, OSError, EOFError, ValueError) as exc:
                raise ZipFormatError(f"entry {entry.name!r} does not decompress: {exc}") from exc
            produced += len(out)
            if produced > entry.size:
                raise ZipFormatError(
                    f"entry {entry.name!r} inflates past its declared size of {entry.size} bytes (zip bomb?)"
                )
            idle = 0 if out else idle + 1
            if idle > 1024:  # a decompressor that neither yields nor asks for input: give up, never spin
                raise ZipFormatError(f"entry {entry.name!r} does not decompress")
            if out:
                yield out

    def _input(self, entry: ZipEntry, remaining: int) -> bytes:
        chunk = self._handle.read(min(_CHUNK, remaining)) if remaining > 0 else b""
        if not chunk:
            raise ZipFormatError(f"entry {entry.name!r} is truncated")
        return chunk


def _central_fields(data: bytes, pos: int) -> tuple[int, int, int, int, int, int, int, int]:
    flags, method = struct.unpack_from("<HH", data, pos + 8)
    csize, usize, name_len, extra_len, comment_len = struct.unpack_from("<IIHHH", data, pos + 20)
    (offset,) = struct.unpack_from("<I", data, pos + 42)
    return flags, method, csize, usize, name_len, extra_len, comment_len, offset


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 0x0001:
            values = [v for (v,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
            if usize == _ZIP64_MARK32 and values:
                usize = values.pop(0)
            if csize == _ZIP64_MARK32 and values:
                csize = values.pop(0)
            if offset == _ZIP64_MARK32 and values:
                offset = values.pop(0)
            return usize, csize, offset
        pos += 4 + length
    raise ZipFormatError("zip64 sizes without a zip64 extra field")
