"""Which originals a migration run converts, by which rule, and which it leaves alone (and why).

Read from the catalog only (no storage read, no tool run beyond asking each tool its version),
so a dry run is cheap and stores nothing. An original is converted for a purpose when a policy
rule applies to its PUID (and size), the head version has no derivative of it for that purpose
yet (so a re-run does nothing), and its last attempt did not fail the same way: same source
digest, same rule, same tool version (unless `retry_failed`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from strongroom.formats.risk import RiskLevel, RiskRegistry
from strongroom.model import Basis, Event, FileRecord, FileRole, PackageSummary
from strongroom.preservation.actions import (
    MIGRATION_EVENT,
    MigrationRule,
    Purpose,
    derivative_path,
    derivative_source,
    failed_attempt_uuid,
)
from strongroom.preservation.migrate_report import PlannedConversion, SkippedConversion
from strongroom.preservation.policy import MigrationPolicy
from strongroom.preservation.toolrun import MissingToolError, ToolRunner

NAME_MAX = 255  # bytes of one path component on the filesystems storage uses


@dataclass(frozen=True)
class MigrationRequest:
    """What to migrate and how it is recorded (everything but which packages)."""

    operator: str
    risk: RiskLevel | None = None  # only originals rated this level or worse (high, unknown, medium, low)
    puids: tuple[str, ...] = ()  # only originals of these formats (empty: any)
    purposes: tuple[Purpose, ...] | None = None  # None: preservation and access, and text where rules exist
    retry_failed: bool = False  # run again conversions that failed before in the same way
    event_type: str = MIGRATION_EVENT  # NORMALIZATION_EVENT when run as part of ingest


@dataclass(frozen=True)
class Task:
    """One conversion to run: an original, a purpose, its rule."""

    original: FileRecord
    purpose: Purpose
    rule: MigrationRule
    planned: PlannedConversion


@dataclass(frozen=True)
class PackagePlan:
    summary: PackageSummary
    tasks: tuple[Task, ...]  # tool available: to run
    skipped: tuple[SkippedConversion, ...]
    planned: tuple[PlannedConversion, ...]  # every applicable conversion, run or not (missing tool)


def _named_only(record: FileRecord) -> bool:
    ident = record.identification
    return ident is None or ident.basis in (Basis.EXTENSION, Basis.NONE)


def default_purposes(policy: MigrationPolicy) -> tuple[Purpose, ...]:
    """Preservation and access; text too when the policy has rules for it."""
    text = any(rule.purpose is Purpose.TEXT for rule in policy.rules)
    return (Purpose.PRESERVATION, Purpose.ACCESS, *((Purpose.TEXT,) if text else ()))


def plan_package(
    summary: PackageSummary,
    files: Iterable[FileRecord],
    events: Sequence[Event],
    policy: MigrationPolicy,
    runner: ToolRunner,
    risks: RiskRegistry,
    request: MigrationRequest,
    purposes: Collection[Purpose],
) -> PackagePlan:
    """The conversions one package's head version needs, by the policy, for `purposes`."""
    records = list(files)
    derived = {
        found: f.path for f in records if f.role is not FileRole.ORIGINAL and (found := derivative_source(f.path))
    }
    event_uuids = {e.uuid for e in events}
    wanted_puids = set(request.puids)
    tasks: list[Task] = []
    skipped: list[SkippedConversion] = []
    planned: list[PlannedConversion] = []
    for original in sorted((f for f in records if f.role is FileRole.ORIGINAL), key=lambda f: f.path):
        puid = original.identification.puid if original.identification else None
        if wanted_puids and puid not in wanted_puids:
            continue
        rating = risks.rate(puid)
        if request.risk is not None and rating.risk.severity > request.risk.severity:
            continue
        chosen: dict[Purpose, MigrationRule] = {}
        for rule in policy.rules_for(puid, purposes, original.size):
            chosen.setdefault(rule.purpose, rule)  # the first rule for a purpose is the one that applies
        if chosen and _named_only(original):
            # A format known from the file's name alone is a guess: a text file called .avi may be a playlist
            # that pulls other files in. Such files are listed, never handed to a converter.
            for purpose, rule in sorted(chosen.items(), key=lambda item: list(Purpose).index(item[0])):
                reason = (f"its format ({puid}) is known from the file name only, not from its content; check the file "
                          "and correct its identification before migrating it")  # fmt: skip
                skipped.append(SkippedConversion(original.path, purpose, rule.id, reason))
            continue
        for purpose in sorted(chosen, key=lambda p: list(Purpose).index(p)):
            rule = chosen[purpose]
            existing = derived.get((purpose, original.path))
            if existing is not None:
                reason = f"already has a {purpose.value} derivative: {existing}"
                skipped.append(SkippedConversion(original.path, purpose, rule.id, reason))
                continue
            target = derivative_path(purpose, original.path, rule.extension)
            if len(target.rsplit("/", 1)[-1].encode("utf-8")) > NAME_MAX:
                reason = (f"the {purpose.value} derivative's name would be longer than {NAME_MAX} bytes; "
                          "rename the record to migrate it")  # fmt: skip
                skipped.append(SkippedConversion(original.path, purpose, rule.id, reason))
                continue
            available = runner.available(rule.tool)
            hint: str | None = None
            version: str | None = None
            if available:
                version = runner.version(rule.tool)
            else:
                try:
                    runner.require(rule.tool)
                except MissingToolError as err:
                    hint = err.message
            item = PlannedConversion(
                package=summary.uuid, package_name=summary.name, file_uuid=original.uuid, path=original.path,
                puid=puid, risk=rating.risk.value, size=original.size, sha256=original.sha256, purpose=purpose,
                rule=rule.id, tool=rule.tool, tool_available=available, tool_version=version,
                missing_hint=hint or (None if available else f"the tool {rule.tool!r} is not installed"),
            )  # fmt: skip
            if version is not None and not request.retry_failed:
                failed = failed_attempt_uuid(original.uuid, purpose, rule.id, original.sha256, version)
                if failed in event_uuids:
                    reason = (f"failed before with the same source, rule and {rule.tool} {version} (event {failed}); "
                              "--retry-failed runs it again")  # fmt: skip
                    skipped.append(SkippedConversion(original.path, purpose, rule.id, reason))
                    continue
            planned.append(item)
            if available:
                tasks.append(Task(original, purpose, rule, item))
            else:
                skipped.append(SkippedConversion(original.path, purpose, rule.id, item.missing_hint or "tool missing"))
    return PackagePlan(summary, tuple(tasks), tuple(skipped), tuple(planned))
