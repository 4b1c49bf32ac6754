"""Storage locations: the named places (folders, S3 buckets) that each hold a copy of the archive.

An archive home names its locations in `strongroom.toml`, one `[locations.NAME]` table each;
the first is the primary, where every write goes first and whose journal is the one appended
to. Every location with the `replica` role receives every version of every package (at commit,
or later by `strongroom replicate`); a `read-only` location receives nothing new but is still
audited and used as a source for repair (a retiring disk, a copy restored from tape).

A home with the older single `[storage]` table has one location, named "primary". Adding a
location rewrites that table as `[locations.primary]`; the rest of the file, comments included,
is kept. Credentials never appear here: S3 takes them from the standard AWS chain only.
"""

from __future__ import annotations

import enum
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from strongroom.errors import ConfigError
from strongroom.storage import open_storage
from strongroom.storage.base import StorageBackend
from strongroom.storage.ocfl import OcflStore

PRIMARY = "primary"  # the name of the one location of a home configured with [storage]
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_LOCATION_KEYS = frozenset({"kind", "role", "object_lock"})


class LocationRole(enum.StrEnum):
    REPLICA = "replica"  # holds every version of every package
    READ_ONLY = "read-only"  # kept, audited and used for repair; receives nothing new


@dataclass(frozen=True)
class LocationSpec:
    """One location as configured: its backend type and options, and its role."""

    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    role: LocationRole = LocationRole.REPLICA
    object_lock: bool = False

    def where(self) -> str:
        """Where its bytes are, for people: a folder, or s3://bucket/prefix at an endpoint."""
        if self.kind == "filesystem":
            return str(self.options.get("path", ""))
        if self.kind == "s3":
            prefix = str(self.options.get("prefix") or "").strip("/")
            endpoint = self.options.get("endpoint_url") or "AWS S3"
            return f"s3://{self.options.get('bucket')}/{prefix + '/' if prefix else ''} at {endpoint}"
        return self.kind


def for_quick_check(spec: LocationSpec) -> LocationSpec:
    """The same location with the short timeouts `location add` checks with (an S3 one; others as they are), so
    that a server that is down is reported in seconds rather than after minutes of retries."""
    if spec.kind != "s3":
        return spec
    from strongroom.storage.s3 import CHECK_OPTIONS

    return replace(spec, options={**spec.options, **CHECK_OPTIONS})


class Location:
    """An opened location: its storage backend and the OCFL storage root on it."""

    def __init__(self, spec: LocationSpec, storage: StorageBackend, ocfl: OcflStore, *, primary: bool) -> None:
        self.spec = spec
        self.storage = storage
        self.ocfl = ocfl
        self.primary = primary

    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        return f"Location({self.name!r}, {self.spec.where()!r})"


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"{name!r} cannot name a location.",
            details=["Use 1 to 40 lowercase letters, digits, - and _, starting with a letter or digit: offsite-s3."],
        )
    return name


def open_location(spec: LocationSpec, *, primary: bool, workers: int) -> Location:
    storage = open_storage(spec.kind, spec.options)
    return Location(spec, storage, OcflStore(storage, workers=workers), primary=primary)


def parse_locations(tables: Any, home: Path, source: Path) -> tuple[LocationSpec, ...]:
    """The `[locations.NAME]` tables of strongroom.toml, in file order (the first is the primary)."""
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"[locations] in {source} must hold at least one [locations.NAME] table.")
    specs: list[LocationSpec] = []
    for name, table in tables.items():
        check_name(name)
        if not isinstance(table, dict):
            raise ConfigError(f"[locations.{name}] in {source} must be a table of settings.")
        kind = table.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ConfigError(f'[locations.{name}] in {source} needs kind = "filesystem" or "s3".')
        try:
            role = LocationRole(table.get("role", LocationRole.REPLICA.value))
        except ValueError:
            raise ConfigError(
                f'[locations.{name}] role must be "replica" or "read-only", not {table.get("role")!r}.'
            ) from None
        lock = table.get("object_lock", False)
        if not isinstance(lock, bool):
            raise ConfigError(f"[locations.{name}] object_lock must be true or false.")
        options = {k: v for k, v in table.items() if k not in _LOCATION_KEYS}
        specs.append(LocationSpec(name, kind, resolve_path(options, home), role, lock))
    if specs[0].role is not LocationRole.REPLICA:
        raise ConfigError(
            f"The first location ([locations.{specs[0].name}]) is the primary, where new versions are written; "
            "it cannot be read-only.",
            details=["Move a replica location's table first in strongroom.toml."],
        )
    return tuple(specs)


def resolve_path(options: Mapping[str, Any], home: Path) -> dict[str, Any]:
    """Relative filesystem paths are taken from the archive home."""
    resolved = dict(options)
    if "path" in resolved:
        resolved["path"] = str((home / str(resolved["path"])).resolve())
    return resolved


# --- editing strongroom.toml ---------------------------------------------------------------------


def add_to_config(config_file: Path, spec: LocationSpec, stored_options: Mapping[str, Any]) -> None:
    """Append `[locations.NAME]` to strongroom.toml, converting a `[storage]` table first; atomic."""
    import tomlkit

    document = tomlkit.parse(config_file.read_text(encoding="utf-8"))
    locations = _locations_table(document)
    if spec.name in locations:
        raise ConfigError(f"There is already a location named {spec.name!r}.", details=["Choose another name."])
    table = tomlkit.table()
    table.add("kind", spec.kind)
    if spec.role is not LocationRole.REPLICA:
        table.add("role", spec.role.value)
    if spec.object_lock:
        table.add("object_lock", True)
    for key, value in stored_options.items():
        if value is not None:
            table.add(key, value)
    locations.add(spec.name, table)
    _replace(config_file, tomlkit.dumps(document))


def remove_from_config(config_file: Path, name: str) -> None:
    import tomlkit

    document = tomlkit.parse(config_file.read_text(encoding="utf-8"))
    locations = _locations_table(document)
    if name not in locations:
        raise ConfigError(f"There is no location named {name!r}.", details=["See them with: strongroom location list"])
    del locations[name]
    _replace(config_file, tomlkit.dumps(document))


def _locations_table(document: Any) -> Any:
    import tomlkit

    if "locations" in document:
        return document["locations"]
    storage = document.get("storage")
    locations = tomlkit.table(is_super_table=True)
    primary = tomlkit.table()
    options = dict(storage) if storage is not None else {"kind": "filesystem", "path": "storage"}
    primary.add("kind", str(options.pop("kind", "filesystem")))
    for key, value in options.items():
        primary.add(key, value)
    locations.add(PRIMARY, primary)
    if storage is not None:
        del document["storage"]
    document.add(tomlkit.nl())
    document.add(
        tomlkit.comment(
            "Storage locations, one table each; the first is the primary. Every location with role "
            '"replica" (the default) holds every package; role "read-only" keeps a copy for audit and repair only.'
        )
    )
    document.add(tomlkit.comment("S3 credentials never go here: they come from the standard AWS chain."))
    document.add("locations", locations)
    return locations


def _replace(path: Path, text: str) -> None:
    """Write a file whole or not at all: a temporary beside it, flushed, then renamed over it."""
    mode = path.stat().st_mode & 0o777
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
