"""A bounded OLE2 (Compound File Binary) reader: header, FAT/DIFAT, directory tree, streams.

Written here rather than taken from olefile so that every read is bounded and every
malformed structure is one typed error: sector chains are followed with loop
detection and a length cap, the directory tree with a visited set and an entry
cap, and a stream is read only as far as the caller's byte budget. Paths follow
DROID 6.5.2 (Apache POI underneath): names are trimmed the way Java's
`String.trim()` does, which drops the leading \\x01/\\x05 of "\\x05SummaryInformation",
and nested entries are joined with "/".
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_FREE, _END, _FAT_SECTOR, _DIFAT_SECTOR = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFC
_NOSTREAM = 0xFFFFFFFF
_MAX_REGULAR = 0xFFFFFFFA
_STORAGE, _STREAM, _ROOT = 1, 2, 5
_DIR_ENTRY = 128


class Ole2FormatError(Exception):
    """The OLE2 file is malformed or truncated, or breaks a limit."""


@dataclass(frozen=True)
class Ole2Entry:
    path: str  # trimmed names joined with "/", as DROID matches them
    is_stream: bool
    start: int
    size: int


def java_trim(text: str) -> str:
    """Java's String.trim(): strip every character up to U+0020 from both ends."""
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


class Ole2File:
    """One open compound file (the handle stays owned by the caller)."""

    def __init__(self, handle: BinaryIO, file_size: int, max_entries: int) -> None:
        self._handle = handle
        self._file_size = file_size
        self._max_entries = max_entries
        header = self._read_at(0, 512)
        if len(header) < 512 or header[:8] != MAGIC:
            raise Ole2FormatError("no OLE2 header")
        if header[28:30] != b"\xfe\xff":
            raise Ole2FormatError("the OLE2 byte-order mark is wrong")
        sector_shift, mini_shift = struct.unpack_from("<HH", header, 30)
        if sector_shift not in (9, 12) or mini_shift != 6:
            raise Ole2FormatError(f"unsupported OLE2 sector sizes (shift {sector_shift}/{mini_shift})")
        self.sector_size = 1 << sector_shift
        self.mini_size = 1 << mini_shift
        (fat_count, self._dir_start, _, self._mini_cutoff, self._minifat_start, minifat_count,
         difat_start, difat_count) = struct.unpack_from("<IIIIIIII", header, 44)  # fmt: skip
        # Sectors after the header: anything a chain names beyond this is damage, not data.
        self._sectors = max(0, (file_size - self.sector_size + self.sector_size - 1) // self.sector_size)
        if fat_count > self._sectors or difat_count > self._sectors or minifat_count > self._sectors:
            raise Ole2FormatError("the OLE2 header claims more sectors than the file holds")
        self._fat = self._read_fat(header, fat_count, difat_start, difat_count)
        self.entries = self._read_directory()
        self._minifat: list[int] | None = None
        self._root_sectors: list[int] | None = None

    # --- low level ----------------------------------------------------------------------------

    def _read_at(self, offset: int, length: int) -> bytes:
        self._handle.seek(offset)
        return self._handle.read(length)

    def _sector(self, index: int) -> bytes:
        if index >= self._sectors:
            raise Ole2FormatError(f"sector {index} lies beyond the end of the file (truncated?)")
        data = self._read_at((index + 1) * self.sector_size, self.sector_size)
        # POI pads a short last sector; only a sector that starts past the end is missing.
        return data.ljust(self.sector_size, b"\0")

    def _read_fat(self, header: bytes, fat_count: int, difat_start: int, difat_count: int) -> list[int]:
        per_sector = self.sector_size // 4
        fat_sectors = [s for s in struct.unpack_from("<109I", header, 76) if s <= _MAX_REGULAR]
        seen: set[int] = set()
        sector = difat_start
        for _ in range(difat_count):
            if sector > _MAX_REGULAR or sector in seen:
                break
            seen.add(sector)
            values = struct.unpack(f"<{per_sector}I", self._sector(sector))
            fat_sectors.extend(v for v in values[:-1] if v <= _MAX_REGULAR)
            sector = values[-1]
        fat_sectors = fat_sectors[:fat_count] if fat_count else fat_sectors
        if not fat_sectors:
            raise Ole2FormatError("the OLE2 file has no FAT")
        fat: list[int] = []
        for sector in fat_sectors:
            fat.extend(struct.unpack(f"<{per_sector}I", self._sector(sector)))
        return fat

    def _chain(self, start: int, table: list[int], limit: int) -> Iterator[int]:
        """Sector numbers of a chain; stops at END, fails on loops, bad links or over `limit` links."""
        sector = start
        seen: set[int] = set()
        while sector != _END:
            if sector > _MAX_REGULAR or sector >= len(table):
                raise Ole2FormatError(f"a sector chain points at {sector:#x}, outside the table")
            if sector in seen or len(seen) >= limit:
                raise Ole2FormatError("a sector chain loops or is longer than the file")
            seen.add(sector)
            yield sector
            sector = table[sector]

    # --- directory ----------------------------------------------------------------------------

    def _read_directory(self) -> list[Ole2Entry]:
        raw = bytearray()
        max_bytes = (self._max_entries + 1) * _DIR_ENTRY
        for sector in self._chain(self._dir_start, self._fat, self._sectors):
            raw += self._sector(sector)
            if len(raw) > max_bytes + self.sector_size:
                raise Ole2FormatError(f"more than {self._max_entries} OLE2 directory entries")
        records = [raw[i : i + _DIR_ENTRY] for i in range(0, len(raw) - _DIR_ENTRY + 1, _DIR_ENTRY)]
        if not records or records[0][66] != _ROOT:
            raise Ole2FormatError("the OLE2 directory has no root entry")
        self._root_start = _field(records[0], 116)  # the mini stream lives in the root entry's chain
        entries: list[Ole2Entry] = []
        seen = {0}
        # (child id, path prefix) pairs still to walk; each storage's children form a sibling tree.
        pending: list[tuple[int, str]] = [(_field(records[0], 76), "")]
        while pending:
            sid, prefix = pending.pop()
            stack = [sid]
            while stack:
                sid = stack.pop()
                if sid == _NOSTREAM:
                    continue
                if sid >= len(records) or sid in seen:
                    raise Ole2FormatError("the OLE2 directory tree is damaged (bad or repeated entry id)")
                seen.add(sid)
                if len(seen) > self._max_entries:
                    raise Ole2FormatError(f"more than {self._max_entries} OLE2 directory entries")
                record = records[sid]
                stack.extend((_field(record, 68), _field(record, 72)))  # left and right siblings
                kind = record[66]
                if kind not in (_STORAGE, _STREAM):
                    continue
                path = prefix + java_trim(_name(record))
                start, size = struct.unpack_from("<II", record, 116)
                entries.append(Ole2Entry(path, kind == _STREAM, start, size))
                if kind == _STORAGE:
                    pending.append((_field(record, 76), path + "/"))
        return entries

    # --- streams ------------------------------------------------------------------------------

    def iter_stream(self, entry: Ole2Entry, budget: int) -> Iterator[bytes]:
        """Yield the bytes of a stream entry, at most `budget` of them."""
        remaining = min(entry.size, budget)
        if remaining <= 0:
            return
        if entry.size < self._mini_cutoff:
            yield from self._mini_stream(entry, remaining)
            return
        for sector in self._chain(entry.start, self._fat, self._sectors):
            data = self._sector(sector)[:remaining]
            remaining -= len(data)
            yield data
            if remaining <= 0:
                return
        raise Ole2FormatError(f"stream {entry.path!r} is shorter than its declared size")

    def _mini_stream(self, entry: Ole2Entry, remaining: int) -> Iterator[bytes]:
        if self._minifat is None:
            self._minifat = self._load_minifat()
        per_sector = self.sector_size // self.mini_size
        if self._root_sectors is None:
            self._root_sectors = list(self._chain(self._root_start, self._fat, self._sectors))
        root_sectors = self._root_sectors
        for mini in self._chain(entry.start, self._minifat, len(self._minifat)):
            index, within = divmod(mini, per_sector)
            if index >= len(root_sectors):
                raise Ole2FormatError(f"stream {entry.path!r} points past the mini stream")
            data = self._sector(root_sectors[index])
            piece = data[within * self.mini_size : (within + 1) * self.mini_size][:remaining]
            remaining -= len(piece)
            yield piece
            if remaining <= 0:
                return
        raise Ole2FormatError(f"stream {entry.path!r} is shorter than its declared size")

    def _load_minifat(self) -> list[int]:
        table: list[int] = []
        per_sector = self.sector_size // 4
        for sector in self._chain(self._minifat_start, self._fat, self._sectors):
            table.extend(struct.unpack(f"<{per_sector}I", self._sector(sector)))
        return table


def _field(record: bytes | bytearray, offset: int) -> int:
    value: int = struct.unpack_from("<I", record, offset)[0]
    return value


def _name(record: bytes | bytearray) -> str:
    (length,) = struct.unpack_from("<H", record, 64)
    chars = max(0, min(length // 2 - 1, 31))  # the byte count includes the terminating NUL
    return bytes(record[: chars * 2]).decode("utf-16-le", errors="replace")
