"""Collection profile: which formats the archive holds, how much of each, and how much is at risk.

Only originals (files with role "original") count as the collection: METS, depositor metadata,
logs and submission documentation are the archive's own paperwork. Figures come from the catalog
and ratings from the format risk registry; the profile renders as a table, JSON or Parquet.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strongroom import __version__
from strongroom.catalog.base import Catalog
from strongroom.errors import StorageError
from strongroom.formats.risk import RiskLevel, RiskRegistry
from strongroom.model import FormatCount, Validity, ValidityCount


class GroupBy(enum.StrEnum):
    PUID = "puid"
    RISK = "risk"
    PACKAGE = "package"
    VALIDITY = "validity"


# Columns of each grouping, in output order; JSON rows and the Parquet schema both follow these.
COLUMNS: Mapping[GroupBy, tuple[str, ...]] = {
    GroupBy.PUID: (
        "puid", "format_name", "format_version", "files", "bytes", "risk", "reason", "preferred_puid",
        "preferred_name",
    ),
    GroupBy.RISK: ("risk", "files", "bytes", "puids"),
    GroupBy.VALIDITY: ("validity", "files", "bytes", "puids"),
    GroupBy.PACKAGE: (
        "package", "package_name", "puid", "format_name", "format_version", "files", "bytes", "risk", "reason",
        "preferred_puid", "preferred_name",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class ProfileRow:
    """One line of a profile. Which fields are filled depends on the grouping (see COLUMNS)."""

    files: int
    bytes: int
    risk: RiskLevel
    puid: str | None = None  # None: files no signature identified
    format_name: str | None = None
    format_version: str | None = None
    reason: str | None = None
    preferred_puid: str | None = None
    preferred_name: str | None = None
    package: str | None = None
    package_name: str | None = None
    puids: tuple[str | None, ...] = ()  # by risk or validity: the formats at that level
    validity: str | None = None  # by validity: the verdict ("never characterised" for older files)

    def record(self, by: GroupBy) -> dict[str, Any]:
        values: dict[str, Any] = {
            "files": self.files, "bytes": self.bytes, "risk": self.risk.value, "puid": self.puid,
            "format_name": self.format_name, "format_version": self.format_version, "reason": self.reason,
            "preferred_puid": self.preferred_puid, "preferred_name": self.preferred_name, "package": self.package,
            "package_name": self.package_name, "puids": list(self.puids), "validity": self.validity,
        }  # fmt: skip
        return {column: values[column] for column in COLUMNS[by]}


@dataclass(frozen=True)
class ProfileTotals:
    files: int
    bytes: int
    formats: int  # distinct PUIDs, counting "unidentified" as one
    unidentified_files: int
    risk_files: Mapping[RiskLevel, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "bytes": self.bytes,
            "formats": self.formats,
            "unidentified_files": self.unidentified_files,
            "risk_files": {level.value: self.risk_files.get(level, 0) for level in _LEVELS},
        }


@dataclass(frozen=True)
class Profile:
    by: GroupBy
    package: str | None  # the one package profiled, or None for the whole archive
    rows: tuple[ProfileRow, ...]
    totals: ProfileTotals
    registry_version: str

    def records(self) -> list[dict[str, Any]]:
        return [row.record(self.by) for row in self.rows]


_LEVELS = sorted(RiskLevel, key=lambda level: level.severity)


def build_profile(
    catalog: Catalog, registry: RiskRegistry, by: GroupBy = GroupBy.PUID, package: str | None = None
) -> Profile:
    """Profile the originals of the whole archive, or of one package (its UUID)."""
    # An identifier may give "" for a missing name or version: the same as none.
    counts = [
        dataclasses.replace(
            c, puid=c.puid or None, format_name=c.format_name or None, format_version=c.format_version or None
        )
        for c in catalog.format_counts(package)
    ]
    if by is GroupBy.VALIDITY:
        rows = _by_validity(catalog.validity_counts(package))
    elif by is GroupBy.RISK:
        rows = _by_risk(counts, registry)
    elif by is GroupBy.PACKAGE:
        rows = _by_package(counts, registry)
    else:
        rows = _by_puid(counts, registry)
    risk_files: dict[RiskLevel, int] = {}
    for c in counts:
        level = registry.rate(c.puid).risk
        risk_files[level] = risk_files.get(level, 0) + c.files
    totals = ProfileTotals(
        files=sum(c.files for c in counts),
        bytes=sum(c.bytes for c in counts),
        formats=len({c.puid for c in counts}),
        unidentified_files=sum(c.files for c in counts if c.puid is None),
        risk_files=risk_files,
    )
    return Profile(by, package, tuple(rows), totals, registry.version)


def _format_row(registry: RiskRegistry, key: FormatCount, files: int, size: int, *, with_package: bool) -> ProfileRow:
    rating = registry.rate(key.puid)
    return ProfileRow(
        files=files, bytes=size, risk=rating.risk, puid=key.puid, format_name=key.format_name,
        format_version=key.format_version, reason=rating.reason, preferred_puid=rating.preferred_puid,
        preferred_name=rating.preferred_name, package=key.package if with_package else None,
        package_name=key.package_name if with_package else None,
    )  # fmt: skip


def _largest_first(row: ProfileRow) -> tuple[int, int, tuple[Any, ...]]:
    return (-row.files, -row.bytes, puid_sort_key(row.puid))


def _by_puid(counts: Iterable[FormatCount], registry: RiskRegistry) -> list[ProfileRow]:
    merged: dict[tuple[str | None, str | None, str | None], list[int]] = {}
    first: dict[tuple[str | None, str | None, str | None], FormatCount] = {}
    for c in counts:
        key = (c.puid, c.format_name, c.format_version)
        first.setdefault(key, c)
        totals = merged.setdefault(key, [0, 0])
        totals[0] += c.files
        totals[1] += c.bytes
    rows = [_format_row(registry, first[k], files, size, with_package=False) for k, (files, size) in merged.items()]
    return sorted(rows, key=_largest_first)


def _by_package(counts: Iterable[FormatCount], registry: RiskRegistry) -> list[ProfileRow]:
    rows = [_format_row(registry, c, c.files, c.bytes, with_package=True) for c in counts]
    return sorted(rows, key=lambda r: (r.package_name or "", r.package or "", *_largest_first(r)))


def _by_risk(counts: Iterable[FormatCount], registry: RiskRegistry) -> list[ProfileRow]:
    # Every level appears, even with no files, so reports have the same shape from run to run.
    files = dict.fromkeys(_LEVELS, 0)
    size = dict.fromkeys(_LEVELS, 0)
    puids: dict[RiskLevel, set[str | None]] = {level: set() for level in _LEVELS}
    for c in counts:
        level = registry.rate(c.puid).risk
        files[level] += c.files
        size[level] += c.bytes
        puids[level].add(c.puid)
    return [
        ProfileRow(
            files=files[level], bytes=size[level], risk=level, puids=tuple(sorted(puids[level], key=puid_sort_key))
        )
        for level in _LEVELS
    ]


NEVER_CHARACTERISED = "never characterised"


def _by_validity(counts: Iterable[ValidityCount]) -> list[ProfileRow]:
    # Every verdict appears, even with no files, so reports have the same shape from run to run.
    order = [*(v.value for v in Validity), NEVER_CHARACTERISED]
    files = dict.fromkeys(order, 0)
    size = dict.fromkeys(order, 0)
    puids: dict[str, set[str | None]] = {v: set() for v in order}
    for c in counts:
        verdict = c.validity.value if c.validity else NEVER_CHARACTERISED
        files[verdict] += c.files
        size[verdict] += c.bytes
        puids[verdict].add(c.puid)
    return [
        ProfileRow(files=files[v], bytes=size[v], risk=RiskLevel.UNKNOWN, validity=v,
                   puids=tuple(sorted(puids[v], key=puid_sort_key)))
        for v in order
    ]  # fmt: skip


def puid_sort_key(puid: str | None) -> tuple[Any, ...]:
    """fmt/4 before fmt/11 (numbers compared as numbers); unidentified last."""
    if puid is None:
        return (1,)
    return (0, *((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", puid)))


# --- Parquet ------------------------------------------------------------------------------------


def parquet_schema(by: GroupBy) -> Any:
    """The explicit Arrow schema of a profile grouped `by`; columns as in COLUMNS."""
    import pyarrow as pa  # imported here: pyarrow is heavy and only Parquet output needs it

    types = {
        "puid": pa.string(), "format_name": pa.string(), "format_version": pa.string(),
        "files": pa.int64(), "bytes": pa.int64(), "risk": pa.string(), "reason": pa.string(),
        "preferred_puid": pa.string(), "preferred_name": pa.string(), "package": pa.string(),
        "package_name": pa.string(), "puids": pa.list_(pa.string()), "validity": pa.string(),
    }  # fmt: skip
    required = {"files", "bytes", "risk", "puids", "package", "package_name", "validity"}
    return pa.schema([pa.field(name, types[name], nullable=name not in required) for name in COLUMNS[by]])


def write_parquet(profile: Profile, path: Path) -> Path:
    """Write one Parquet row per profile row, atomically: readers never see a half-written file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema(profile.by).with_metadata(
        {
            "strongroom.version": __version__,
            "strongroom.profile.by": profile.by.value,
            "strongroom.profile.package": profile.package or "",
            "strongroom.risk_registry.version": profile.registry_version,
            "strongroom.profile.scope": "files with role 'original'",
        }
    )
    table = pa.Table.from_pylist(profile.records(), schema=schema)
    path = path.expanduser().absolute()
    if not path.parent.is_dir():
        raise StorageError(f"Cannot write {path}: the folder {path.parent} does not exist.")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    except OSError as exc:
        raise StorageError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            pq.write_table(table, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise StorageError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path
