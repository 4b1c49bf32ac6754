"""What a migration run did, or would do: typed results for the library, the CLI and scripts (`to_json`).

Also what the catalog says about every original whose latest migration attempt failed
(`migration_failures`, behind `strongroom migrate --report`): read from the recorded events, so
it covers failures kept in a package version and those kept only in the journal alike.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from strongroom.model import Event, FileRecord, FileRole, Outcome
from strongroom.preservation.actions import (
    ACCESS_COPY_EVENT,
    MIGRATION_EVENT,
    NORMALIZATION_EVENT,
    CheckResult,
    Purpose,
    derivative_source,
)

if TYPE_CHECKING:
    from strongroom.archive import Archive

# The eventType of an event that made (or failed to make) a derivative by a policy rule.
DERIVATION_EVENT_TYPES = (MIGRATION_EVENT, NORMALIZATION_EVENT, ACCESS_COPY_EVENT)
_FIELD = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def event_fields(detail: str) -> dict[str, str]:
    """The key="value" pairs of a derivation event's eventDetail (values written with `quoted`)."""
    return {key: value.replace('\\"', '"').replace("\\\\", "\\") for key, value in _FIELD.findall(detail)}


def quoted(value: str) -> str:
    """A value for a key="value" pair of an eventDetail, read back by `event_fields`."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class PlannedConversion:
    """One original, one purpose, the rule that applies: what a run would convert."""

    package: str
    package_name: str
    file_uuid: str
    path: str  # the original's path under the bag's data/
    puid: str | None
    risk: str  # the format risk registry's rating of the original's PUID
    size: int
    sha256: str
    purpose: Purpose
    rule: str
    tool: str
    tool_available: bool
    tool_version: str | None  # None when the tool is missing
    missing_hint: str | None = None  # what to install when the tool is missing

    def to_json(self) -> dict[str, Any]:
        return {
            "package": self.package, "package_name": self.package_name, "file_uuid": self.file_uuid,
            "path": self.path, "puid": self.puid, "risk": self.risk, "size": self.size, "purpose": self.purpose.value,
            "rule": self.rule, "tool": self.tool, "tool_available": self.tool_available,
            "tool_version": self.tool_version, "missing_hint": self.missing_hint,
        }  # fmt: skip


@dataclass(frozen=True)
class SkippedConversion:
    """An original (and purpose) left alone, and why."""

    path: str
    purpose: Purpose
    rule: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "purpose": self.purpose.value, "rule": self.rule, "reason": self.reason}


@dataclass(frozen=True)
class KeptDerivative:
    """A derivative that passed verification and is stored in the package's new version."""

    source: str  # the original's path
    purpose: Purpose
    path: str  # the derivative's path under data/
    uuid: str
    puid: str | None
    size: int
    rule: str
    tool: str
    tool_version: str
    seconds: float  # the tool's own time
    checks: tuple[CheckResult, ...]
    event: str  # the UUID of the event that made it

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source, "purpose": self.purpose.value, "path": self.path, "uuid": self.uuid,
            "puid": self.puid, "size": self.size, "rule": self.rule, "tool": self.tool,
            "tool_version": self.tool_version, "seconds": round(self.seconds, 3), "event": self.event,
            "checks": [_check_json(c) for c in self.checks],
        }  # fmt: skip


@dataclass(frozen=True)
class FailedConversion:
    """A conversion that was run and not kept: the original stays the preservation master."""

    source: str
    purpose: Purpose
    rule: str
    tool: str
    tool_version: str
    reason: str  # the tool's error or the failed checks, in words
    seconds: float
    event: str  # the UUID of the failure event recorded
    checks: tuple[CheckResult, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source, "purpose": self.purpose.value, "rule": self.rule, "tool": self.tool,
            "tool_version": self.tool_version, "reason": self.reason, "seconds": round(self.seconds, 3),
            "event": self.event, "checks": [_check_json(c) for c in self.checks],
        }  # fmt: skip


def _check_json(check: CheckResult) -> dict[str, Any]:
    return {"kind": check.kind.value, "status": check.status.value, "detail": check.detail, "tool": check.tool,
            "version": check.version}  # fmt: skip


@dataclass(frozen=True)
class PackageMigration:
    """One package's part of a run."""

    package: str
    name: str
    version: int | None  # the version made; None when nothing was kept (or on a dry run)
    kept: tuple[KeptDerivative, ...]
    failed: tuple[FailedConversion, ...]
    skipped: tuple[SkippedConversion, ...]
    seconds: float
    tool_seconds: float
    error: str | None = None  # why the package's run stopped (nothing of it was stored)
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "package": self.package, "name": self.name, "version": self.version,
            "kept": [k.to_json() for k in self.kept], "failed": [f.to_json() for f in self.failed],
            "skipped": [s.to_json() for s in self.skipped], "seconds": round(self.seconds, 3),
            "tool_seconds": round(self.tool_seconds, 3), "error": self.error, "warnings": list(self.warnings),
        }  # fmt: skip


@dataclass(frozen=True)
class MigrationReport:
    """A whole run: per package, and totals. On a dry run `planned` lists what would be converted."""

    packages: tuple[PackageMigration, ...]
    planned: tuple[PlannedConversion, ...]
    dry_run: bool
    policy_version: str
    seconds: float

    @property
    def kept(self) -> int:
        return sum(len(p.kept) for p in self.packages)

    @property
    def failed(self) -> int:
        return sum(len(p.failed) for p in self.packages)

    @property
    def skipped(self) -> int:
        return sum(len(p.skipped) for p in self.packages)

    @property
    def errors(self) -> int:
        return sum(1 for p in self.packages if p.error)

    @property
    def versions_made(self) -> int:
        return sum(1 for p in self.packages if p.version is not None)

    @property
    def tool_seconds(self) -> float:
        return sum(p.tool_seconds for p in self.packages)

    @property
    def missing_tools(self) -> tuple[str, ...]:
        """Tools the plan needs that are not installed, each with what to install."""
        return tuple(dict.fromkeys(p.missing_hint or p.tool for p in self.planned if not p.tool_available))

    @property
    def ok(self) -> bool:
        """No conversion failed, no package stopped and no tool was missing."""
        return not self.failed and not self.errors and not self.missing_tools

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "policy_version": self.policy_version,
            "ok": self.ok,
            "totals": {
                "packages": len(self.packages),
                "versions_made": self.versions_made,
                "kept": self.kept,
                "failed": self.failed,
                "skipped": self.skipped,
                "errors": self.errors,
                "planned": len(self.planned),
                "seconds": round(self.seconds, 3),
                "tool_seconds": round(self.tool_seconds, 3),
            },
            "missing_tools": list(self.missing_tools),
            "planned": [p.to_json() for p in self.planned],
            "packages": [p.to_json() for p in self.packages],
        }


@dataclass(frozen=True)
class MigrationFailure:
    """An original whose latest attempt (for one purpose) failed, so it has no derivative for it."""

    package: str
    package_name: str
    file_uuid: str
    path: str
    puid: str | None
    purpose: Purpose
    rule: str
    tool: str
    tool_version: str
    when: datetime
    why: str
    event: str
    next_step: str

    def to_json(self) -> dict[str, Any]:
        return {
            "package": self.package, "package_name": self.package_name, "file_uuid": self.file_uuid,
            "path": self.path, "puid": self.puid, "purpose": self.purpose.value, "rule": self.rule,
            "tool": self.tool, "tool_version": self.tool_version, "when": self.when.isoformat(), "why": self.why,
            "event": self.event, "next_step": self.next_step,
        }  # fmt: skip


def failures_of(
    package: str, package_name: str, files: Iterable[FileRecord], events: Sequence[Event]
) -> list[MigrationFailure]:
    """One package's originals whose latest derivation attempt for a purpose failed and left no derivative."""
    records = list(files)
    originals = {f.uuid: f for f in records if f.role is FileRole.ORIGINAL}
    derived = {made for f in records if f.role is not FileRole.ORIGINAL and (made := derivative_source(f.path))}
    latest: dict[tuple[str, str], tuple[Event, dict[str, str]]] = {}
    for event in sorted(events, key=lambda e: (e.datetime, e.uuid)):
        if event.type not in DERIVATION_EVENT_TYPES or event.file_uuid not in originals:
            continue
        fields = event_fields(event.detail)
        if "rule" not in fields or fields.get("purpose") not in tuple(Purpose):
            continue  # not made by a policy rule (text extracted at ingest)
        latest[(event.file_uuid, fields["purpose"])] = (event, fields)
    found: list[MigrationFailure] = []
    for (file_uuid, purpose_name), (event, fields) in latest.items():
        if event.outcome is not Outcome.FAILURE:
            continue
        original = originals[file_uuid]
        purpose = Purpose(purpose_name)
        if (purpose, original.path) in derived:
            continue  # a derivative made since by other means (or before): nothing is missing
        found.append(
            MigrationFailure(
                package=package, package_name=package_name, file_uuid=file_uuid, path=original.path,
                puid=original.identification.puid if original.identification else None, purpose=purpose,
                rule=fields["rule"], tool=fields.get("program", "?"), tool_version=fields.get("version", "unknown"),
                when=event.datetime, why=event.outcome_detail, event=event.uuid,
                next_step=_next_step(package_name, purpose),
            )
        )  # fmt: skip
    return sorted(found, key=lambda f: (f.path, f.purpose.value))


def _next_step(package_name: str, purpose: Purpose) -> str:
    return (
        "Read why; fix the tool or change the rule in <home>/migration-policy.toml, then run: "
        f"strongroom migrate {shlex.quote(package_name)} --retry-failed --purpose {purpose.value}"
    )


def migration_failures(archive: Archive) -> list[MigrationFailure]:
    """Every original in the archive whose latest migration attempt failed, from the catalog's events."""
    found: list[MigrationFailure] = []
    for summary in archive.catalog.packages():
        events = archive.catalog.events(summary.uuid)
        if not any(e.type in DERIVATION_EVENT_TYPES and e.outcome is Outcome.FAILURE for e in events):
            continue
        found.extend(failures_of(summary.uuid, summary.name, archive.catalog.files(summary.uuid), events))
    return found
