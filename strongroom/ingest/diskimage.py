"""ISO 9660 disk images: list their file system, and extract their files for identification.

A disk image is always stored as received; this module only reads it. Names come
from the richest tree the image carries: Rock Ridge (POSIX names, symbolic links),
else Joliet (long Unicode names), else plain ISO 9660 (8.3 names without the `;1`
version). Images are untrusted like archives: the entry count, the folder depth,
the declared total size and its ratio to the image's own size are limited; a name
that could leave the destination (`..`, `/`, NUL) refuses the image; symbolic
links are listed, never followed or extracted; nothing is written outside `dest`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pycdlib
from pycdlib import pycdlibexception

from strongroom.errors import TransferError
from strongroom.ingest.unpack import (
    DEFAULT_LIMITS,
    UnpackLimits,
    check_space,
    check_totals,
    copy_limited,
    safe_member_path,
    target_for,
)

# The namespaces pycdlib can look a path up in, in order of preference.
ROCK_RIDGE, JOLIET, ISO9660 = "rock ridge", "joliet", "iso9660"
_PATH_KEYWORD = {ROCK_RIDGE: "rr_path", JOLIET: "joliet_path", ISO9660: "iso_path"}
# Damaged images surface as pycdlib's own errors, or from its parsing as these.
_PYCDLIB_ERRORS: tuple[type[BaseException], ...] = (
    pycdlibexception.PyCdlibException,
    struct.error,
    UnicodeDecodeError,
    ValueError,
    IndexError,
    KeyError,
)


@dataclass(frozen=True)
class DiskImageEntry:
    """One file, folder or symbolic link of a disk image's file system."""

    path: str  # inside the image, '/'-separated, no leading '/': the name a user sees (Rock Ridge or Joliet if any)
    kind: str  # "file", "folder" or "symlink"
    size: int  # bytes of a file's data (0 for folders and links)
    modified: datetime | None  # the directory record's recording date, None when it is not a valid date
    naming: str  # which tree the name comes from: "rock ridge", "joliet" or "iso9660"
    iso_path: str | None  # its plain ISO 9660 path (DOCS/README.TXT); None when walked in the Joliet tree
    link_target: str | None = None  # a symbolic link's target, as recorded (never followed)


def list_disk_image(path: Path, limits: UnpackLimits = DEFAULT_LIMITS) -> list[DiskImageEntry]:
    """Every entry of the image's file system, folders before their contents.

    Raises TransferError when the image cannot be read or breaks a limit.
    """
    with _opened(path) as iso:
        return [entry for entry, _lookup in _walk(iso, path, limits)]


def extract_disk_image(path: Path, dest: Path, limits: UnpackLimits = DEFAULT_LIMITS) -> list[Path]:
    """Copy the image's files under `dest` (created if needed); returns the files written.

    The whole listing is checked against the limits and the free space first, so a
    hostile image is refused before anything is written. Symbolic links are skipped.
    """
    with _opened(path) as iso:
        walked = list(_walk(iso, path, limits))
        files = [(entry, lookup) for entry, lookup in walked if entry.kind == "file"]
        dest.mkdir(parents=True, exist_ok=True)
        check_space(dest, sum(entry.size for entry, _ in files), 64 * 1024 * 1024)
        written: list[Path] = []
        for entry, lookup in walked:
            relative = safe_member_path(entry.path)
            if relative is None:  # unreachable: _walk refuses such names
                raise TransferError(f"{path.name}: the entry {entry.path!r} would land outside {dest}.")
            target = target_for(dest, relative)
            if entry.kind == "folder":
                target.mkdir(parents=True, exist_ok=True)
            elif entry.kind == "file":
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with iso.open_file_from_iso(**{_PATH_KEYWORD[entry.naming]: lookup}) as source:
                        copy_limited(source, target, entry.size, entry.path)
                except _PYCDLIB_ERRORS as exc:
                    raise _unreadable(path, exc) from exc
                written.append(target)
        return written


@contextmanager
def _opened(path: Path) -> Iterator[Any]:
    """An open pycdlib image, closed on exit; pycdlib's errors become TransferErrors."""
    iso = pycdlib.PyCdlib()
    try:
        iso.open(str(path))
    except _PYCDLIB_ERRORS as exc:
        raise _unreadable(path, exc) from exc
    try:
        yield iso
    finally:
        iso.close()


def _unreadable(path: Path, exc: BaseException) -> TransferError:
    return TransferError(
        f"{path.name} is not a readable ISO 9660 disk image ({str(exc) or type(exc).__name__}).",
        details=["It may be damaged or truncated; ask the depositor for a fresh copy."],
    )


def _naming(iso: Any) -> str:
    if iso.has_rock_ridge():
        return ROCK_RIDGE
    if iso.has_joliet():
        return JOLIET
    return ISO9660


def _walk(iso: Any, image: Path, limits: UnpackLimits) -> Iterator[tuple[DiskImageEntry, str]]:
    """Entries with the path pycdlib looks each one up by, checked against the limits as they come."""
    naming = _naming(iso)
    keyword = _PATH_KEYWORD[naming]
    count = 0
    declared = 0
    image_size = image.stat().st_size
    # (shown parts, lookup path, ISO 9660 path) of each folder still to list.
    folders: list[tuple[tuple[str, ...], str, str]] = [((), "/", "")]
    while folders:
        parts, lookup, iso_dir = folders.pop()
        try:
            children = list(iso.list_children(**{keyword: lookup}))
        except _PYCDLIB_ERRORS as exc:
            raise _unreadable(image, exc) from exc
        for record in children:
            if record.is_dot() or record.is_dotdot():
                continue
            name = _name(record, naming, image)
            shown = (*parts, name)
            count += 1
            if count > limits.max_entries:
                check_totals(image, count, declared, limits)
            if len(shown) > limits.max_depth:
                raise TransferError(
                    f"{image.name} nests folders deeper than {limits.max_depth} levels "
                    f"({'/'.join(shown[: limits.max_depth])}/...); refused as a likely hostile image.",
                    details=["Copy the files out of the image yourself and ingest them as a folder."],
                )
            child_lookup = lookup.rstrip("/") + "/" + _lookup_name(record, naming, name)
            # Joliet records carry only the Joliet name; the ISO 9660 tree is a separate set of records.
            iso_path = None if naming == JOLIET else f"{iso_dir}/{_iso9660_name(record)}".lstrip("/")
            rr = getattr(record, "rock_ridge", None) if naming == ROCK_RIDGE else None
            if rr is not None and rr.is_symlink():
                target = rr.symlink_path().decode("utf-8", "surrogateescape")
                entry = DiskImageEntry("/".join(shown), "symlink", 0, _date(record), naming, iso_path, target)
            elif record.is_dir():
                entry = DiskImageEntry("/".join(shown), "folder", 0, _date(record), naming, iso_path)
                folders.append((shown, child_lookup, iso_path or ""))
            else:
                size = record.get_data_length()
                declared += size
                check_totals(image, count, declared, limits)
                if declared > limits.ratio_floor and declared > limits.max_ratio * max(image_size, 1):
                    raise TransferError(
                        f"{image.name} declares {declared:,} bytes of files in a {image_size:,}-byte image: "
                        "refused as a likely hostile image.",
                        details=["Copy the files out of the image yourself and ingest them as a folder."],
                    )
                entry = DiskImageEntry("/".join(shown), "file", size, _date(record), naming, iso_path)
            yield entry, child_lookup


def _name(record: Any, naming: str, image: Path) -> str:
    """The entry's name as a user sees it; refuses a name that could leave the destination."""
    name: str
    if naming == ROCK_RIDGE and record.rock_ridge is not None:
        name = record.rock_ridge.name().decode("utf-8", "surrogateescape")
    elif naming == JOLIET:
        name = record.file_identifier().decode("utf-16_be")
    else:
        name = _iso9660_name(record)
    # A backslash is a separator to safe_member_path: "..\\x" must not pass as one name either.
    if name in ("", ".", "..") or "/" in name or "\x00" in name or safe_member_path(name) is None:
        raise TransferError(
            f"{image.name} has an entry named {name!r}, which could land outside the folder it is extracted to; "
            "refused as a likely hostile image.",
            details=["Copy the files out of the image yourself and ingest them as a folder."],
        )
    return name


def _lookup_name(record: Any, naming: str, shown: str) -> str:
    """The name pycdlib finds the entry by in its tree (ISO 9660 keeps the ';1' version)."""
    if naming == ISO9660:
        return str(record.file_identifier().decode("latin-1"))
    return shown


def _iso9660_name(record: Any) -> str:
    name = str(record.file_identifier().decode("latin-1"))
    if ";" in name:
        name = name.rsplit(";", 1)[0]
    return name.rstrip(".") if "." in name and not record.is_dir() else name


def _date(record: Any) -> datetime | None:
    date = record.date
    try:
        zone = timezone(timedelta(minutes=15 * date.gmtoffset))
        return datetime(
            1900 + date.years_since_1900, date.month, date.day_of_month, date.hour, date.minute, date.second, 0, zone
        ).astimezone(UTC)
    except (ValueError, OverflowError, TypeError):
        return None  # an unset (all-zero) or invalid recording date
