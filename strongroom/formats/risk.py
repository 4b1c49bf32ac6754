"""The format risk registry: how likely each PRONOM format is to stay readable, and what to migrate it to.

Policy is data: the ratings ship in `strongroom/data/format-risk.toml` and an archive adjusts them
in `<home>/format-risk.toml` (same layout), so a change of policy is an edit, not a release.
"""

from __future__ import annotations

import enum
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from strongroom.errors import ConfigError

OVERRIDE_NAME = "format-risk.toml"
PACKAGED_NAME = "format-risk.toml"

# PRONOM PUIDs (fmt/43, x-fmt/111). FIDO's own additions (fido-fmt/189.word) are still accepted in a home's
# override: archives that identified with FIDO have files recorded under them.
# Messages name entries without TOML's square brackets, which the CLI's rich output would read as markup.
_PUID = re.compile(r"^(?:x-|fido-)?fmt/[A-Za-z0-9._-]+$")
_ENTRY_KEYS = {"name", "version", "risk", "reason", "preferred"}
_PREFERRED_KEYS = {"puid", "name"}


class RiskLevel(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    UNKNOWN = "unknown"  # never written in a registry file: the answer for formats it does not rate

    @property
    def severity(self) -> int:
        """Sort key, most urgent first: an unrated format is treated as worse than a medium one."""
        return {RiskLevel.HIGH: 0, RiskLevel.UNKNOWN: 1, RiskLevel.MEDIUM: 2, RiskLevel.LOW: 3}[self]


RATED_LEVELS = (RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH)


@dataclass(frozen=True)
class FormatRisk:
    """The registry's rating of one format (`puid` None: a file no signature identified)."""

    puid: str | None
    risk: RiskLevel
    reason: str
    preferred_puid: str | None = None
    preferred_name: str | None = None
    name: str | None = None  # PRONOM's name for the format, as the registry file gives it
    version: str | None = None  # PRONOM's version of the format, when it has one

    @property
    def label(self) -> str | None:
        """The name with its version, as people read it ("Acrobat PDF/A - Portable Document Format 2b")."""
        return pronom_label(self.name, self.version) if self.name else None


@dataclass(frozen=True)
class RiskRegistry:
    entries: Mapping[str, FormatRisk]
    version: str = ""
    date: str = ""
    sources: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # where the ratings came from, packaged file first

    def rate(self, puid: str | None) -> FormatRisk:
        if puid is None or not puid.strip():
            return FormatRisk(
                None,
                RiskLevel.UNKNOWN,
                "Not identified: no PRONOM signature matched, so nothing says which software can render it; "
                "identify it by hand and record the format.",
            )
        found = self.entries.get(puid)
        if found is not None:
            return found
        return FormatRisk(
            puid,
            RiskLevel.UNKNOWN,
            f"{puid} is not in the format risk registry; rate it in <home>/{OVERRIDE_NAME}.",
        )

    def __contains__(self, puid: object) -> bool:
        return puid in self.entries

    def __iter__(self) -> Iterator[FormatRisk]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)


def pronom_label(name: str, version: str | None) -> str:
    """PRONOM's name with its version appended, unless the name already carries it ("Acrobat PDF 1.4 - ...")."""
    name, version = name.strip(), (version or "").strip()
    return f"{name} {version}" if version and version not in name else name


def load_registry(home: Path | None = None) -> RiskRegistry:
    """The packaged ratings, with `<home>/format-risk.toml` replacing or adding entries when it exists."""
    packaged = resources.files("strongroom") / "data" / PACKAGED_NAME
    label = f"the packaged {PACKAGED_NAME}"
    header, entries = _parse(_load_toml(packaged.read_bytes(), label), label)
    files = [str(packaged)]
    if home is not None:
        override = home / OVERRIDE_NAME
        if override.is_file():
            try:
                data = override.read_bytes()
            except OSError as exc:
                raise ConfigError(f"{override} cannot be read: {exc.strerror or exc}.") from exc
            _own_header, extra = _parse(_load_toml(data, str(override)), str(override))
            entries.update(extra)
            files.append(str(override))
    sources = header.get("sources", ())
    return RiskRegistry(
        entries=MappingProxyType(entries),
        version=str(header.get("version", "")),
        date=str(header.get("date", "")),
        sources=tuple(str(s) for s in sources) if isinstance(sources, list) else (),
        files=tuple(files),
    )


def _load_toml(data: bytes, label: str) -> dict[str, Any]:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{label} is not valid TOML: {exc}.") from exc


def _parse(document: dict[str, Any], label: str) -> tuple[dict[str, Any], dict[str, FormatRisk]]:
    unknown = set(document) - {"registry", "formats"}
    if unknown:
        raise ConfigError(
            f"{label} has unknown section(s): {', '.join(sorted(unknown))}.",
            details=[
                'Rate each format in a table named formats."PUID" (such as formats."fmt/43"); see the packaged file.'
            ],
        )
    header = document.get("registry", {})
    if not isinstance(header, dict):
        raise ConfigError(f"{label}: registry must be a table (version, date, sources).")
    formats = document.get("formats", {})
    if not isinstance(formats, dict):
        raise ConfigError(f'{label}: formats must be tables named by PUID, such as formats."fmt/43".')
    return header, {puid: _entry(puid, raw, label) for puid, raw in formats.items()}


def _entry(puid: str, raw: object, label: str) -> FormatRisk:
    where = f'{label}, entry "{puid}"'
    if not _PUID.match(puid):
        raise ConfigError(f"{where}: {puid!r} is not a PRONOM PUID (such as fmt/43 or x-fmt/111).")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table with risk and reason.")
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_ENTRY_KEYS))}."
        )
    risk = raw.get("risk")
    allowed = ", ".join(level.value for level in RATED_LEVELS)
    if risk not in {level.value for level in RATED_LEVELS}:
        raise ConfigError(f"{where}: risk is {risk!r}; it must be one of {allowed}.")
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(f"{where}: a reason (one line saying why) is required.")
    name, version = raw.get("name"), raw.get("version")
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"{where}: name must be a string.")
    if version is not None and not isinstance(version, str):
        raise ConfigError(f'{where}: version must be a string (such as "1.4").')
    preferred_puid, preferred_name = _preferred(raw.get("preferred"), where)
    return FormatRisk(puid, RiskLevel(risk), reason.strip(), preferred_puid, preferred_name, name, version)


def _preferred(raw: object, where: str) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, dict) or set(raw) - _PREFERRED_KEYS:
        raise ConfigError(f'{where}: preferred must be {{ puid = "fmt/NNN", name = "..." }}.')
    puid, name = raw.get("puid"), raw.get("name")
    if not isinstance(puid, str) or not _PUID.match(puid):
        raise ConfigError(f"{where}: preferred puid {puid!r} is not a PRONOM PUID.")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: preferred needs the target format's name.")
    return puid, name.strip()
