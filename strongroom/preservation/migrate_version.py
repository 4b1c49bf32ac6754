"""A migration's new package version: the derivatives kept, their PREMIS events and agents, a new METS.

Modelled on metadata updates (strongroom/update.py): the originals and earlier files are referenced
from the versions that hold them, never copied; only the derivatives, the METS and the bag's tag
files are new. Every event UUID is fixed by what it records (the original, the purpose, the
derivative's digest; or for a failure the source digest, the rule and the tool version), so a run
repeated after a crash writes the same events.

Events, per kept derivative: on the original, the event that made it (migration; normalization
when part of ingest; creation for an access copy or text) naming the tool, its version, the full
argument list, the policy rule and the policy's version, with the tool's stderr; on the derivative,
its digest and a validation event with every check's verdict. Per failed conversion: a failure event
on the original, naming the tool's error or the checks that failed; the original stays the master.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from strongroom.commit import VersionBuild, object_id
from strongroom.ingest.provenance import tool_agent
from strongroom.manifests import sha256_file
from strongroom.metadata.mets import read_mets
from strongroom.model import (
    AccessRule,
    Agent,
    Event,
    FileRecord,
    Identification,
    Outcome,
    PackageSummary,
)
from strongroom.preservation.actions import (
    ACCESS_COPY_EVENT,
    VALIDATION_EVENT,
    CheckStatus,
    Conversion,
    Purpose,
    derivation_event_uuid,
    derivative_path,
    derivative_uuid,
    failed_attempt_uuid,
)
from strongroom.preservation.migrate_plan import Task
from strongroom.preservation.migrate_report import FailedConversion, KeptDerivative, quoted
from strongroom.storage.ocfl import OcflStore
from strongroom.update import VersionContent, assemble_version, with_access

IdentifyOutput = Callable[[Path], Identification]

_DIGEST_EVENT = "message digest calculation"
# The private folder a tool run gets inside the work folder (toolrun.py: mkdtemp(prefix=".<tool>-")).
_PRIVATE = re.compile(r"<work>/\.[a-z0-9_-]+-[a-z0-9_]{8}")
_WHAT = {
    Purpose.PRESERVATION: "preservation master",
    Purpose.ACCESS: "access copy",
    Purpose.TEXT: "text for full-text search",
}


@dataclass(frozen=True)
class Attempt:
    """One conversion run and verified in the staging area, with where it ran."""

    task: Task
    conversion: Conversion
    source: Path  # the original's local copy the tool read
    workdir: Path  # the conversion's own folder (its private folder is inside)
    finished: datetime


@dataclass(frozen=True)
class RecordContext:
    """What every event of a run names besides the conversion itself."""

    package: PackageSummary
    operator: str
    agents: tuple[Agent, ...]  # the system and the operator
    organisation_name: str
    policy_version: str
    event_type: str  # migration, or normalization as part of ingest
    job: str | None = None  # the job that makes the version, named in its message (see `job_marker`)


def job_marker(job: str) -> str:
    """What a version made by job `job` says at the end of its message: how a step run again finds it."""
    return f" [job {job}]"


@dataclass(frozen=True)
class MigrationBuild:
    build: VersionBuild
    kept: tuple[KeptDerivative, ...]
    failed: tuple[FailedConversion, ...]


def shown_argv(attempt: Attempt) -> str:
    """The argument list as run, with the staging paths replaced by what they stand for."""
    original = f"data/{attempt.task.original.path}"
    target = f"data/{derivative_path(attempt.task.purpose, attempt.task.original.path, attempt.task.rule.extension)}"
    swaps = [(str(attempt.source), original), (attempt.source.as_uri(), original)]
    if attempt.conversion.output is not None:
        swaps += [(str(attempt.conversion.output), target), (attempt.conversion.output.as_uri(), target)]
    swaps += [(attempt.workdir.as_uri(), "file://<work>"), (str(attempt.workdir), "<work>")]
    shown = []
    for arg in attempt.conversion.run.argv:
        for old, new in swaps:
            arg = arg.replace(old, new)
        shown.append(_PRIVATE.sub("<private>", arg))
    return shlex.join(shown)


def _event_kind(task: Task, event_type: str) -> str:
    return event_type if task.purpose is Purpose.PRESERVATION else ACCESS_COPY_EVENT


def _detail(attempt: Attempt, ctx: RecordContext) -> str:
    run = attempt.conversion.run
    rule = attempt.task.rule
    return "; ".join(
        f"{key}={quoted(value)}"
        for key, value in (
            ("derivative", _WHAT[attempt.task.purpose]), ("program", run.tool), ("version", run.version),
            ("rule", rule.id), ("purpose", attempt.task.purpose.value), ("policy", ctx.policy_version),
            ("argv", shown_argv(attempt)),
        )
    )  # fmt: skip


def _stderr(text: str) -> str:
    tail = text.strip()
    return f" Tool's stderr (last part): {tail}" if tail else " The tool wrote nothing on stderr."


def _tool_keys(attempt: Attempt) -> list[Agent]:
    run = attempt.conversion.run
    agents = [tool_agent(run.tool, run.version)]
    for check in attempt.conversion.checks:
        if check.tool:
            agents.append(tool_agent(check.tool, check.version or "unknown"))
    return agents


def failure_reason(conversion: Conversion) -> str:
    """Why a conversion was not kept, in words."""
    if conversion.run.error:
        return conversion.run.error
    if conversion.output is None:
        return "the tool made no output"
    return "; ".join(f"{c.kind.value} check failed: {c.detail}" for c in conversion.failures) or "not verified"


def failure_event(
    attempt: Attempt, ctx: RecordContext, version: int
) -> tuple[Event, tuple[Agent, ...], FailedConversion]:
    """The event of a conversion that was not kept, on its original."""
    task, conversion = attempt.task, attempt.conversion
    run = conversion.run
    event_uuid = failed_attempt_uuid(task.original.uuid, task.purpose, task.rule.id, task.original.sha256, run.version)
    reason = failure_reason(conversion)
    keeps = ("the original stays the preservation master" if task.purpose is Purpose.PRESERVATION
             else f"no {_WHAT[task.purpose]} was made")  # fmt: skip
    agents = (*_tool_keys(attempt), *ctx.agents)
    event = Event(
        event_uuid, _event_kind(task, ctx.event_type), attempt.finished, _detail(attempt, ctx), Outcome.FAILURE,
        f"Not kept ({keeps}): {reason}. Exit status {run.exit_status}, {run.seconds:.1f} s." + _stderr(run.stderr),
        tuple(dict.fromkeys(a.key for a in agents)), task.original.uuid, version,
    )  # fmt: skip
    failed = FailedConversion(
        source=task.original.path, purpose=task.purpose, rule=task.rule.id, tool=run.tool, tool_version=run.version,
        reason=reason, seconds=run.seconds, event=event_uuid, checks=conversion.checks,
    )  # fmt: skip
    return event, agents, failed


def _kept_events(
    attempt: Attempt, record: FileRecord, ctx: RecordContext, version: int
) -> tuple[list[Event], tuple[Agent, ...], KeptDerivative]:
    task, conversion = attempt.task, attempt.conversion
    run = conversion.run
    source = task.original.uuid
    tools = _tool_keys(attempt)
    system_keys = tuple(a.key for a in ctx.agents)
    made = derivation_event_uuid(source, task.purpose, record.sha256)
    ident = record.identification
    found = f"{ident.puid} ({ident.format_name})" if ident and ident.puid else "format not identified"
    making = Event(
        made, _event_kind(task, ctx.event_type), attempt.finished, _detail(attempt, ctx), Outcome.SUCCESS,
        f"Made {record.path} ({found}, {record.size} bytes) from {task.original.path} in {run.seconds:.1f} s by rule "
        f"{task.rule.id}" + (f" ({task.rule.description})" if task.rule.description else "") + "; every check "
        "passed." + _stderr(run.stderr),
        (tools[0].key, *system_keys), source, version,
    )  # fmt: skip
    unchecked = [c for c in conversion.checks if c.status is CheckStatus.NOT_CHECKED]
    verdicts = [f"exit status {run.exit_status}"] + [f"{c.kind.value} {c.status.value}: {c.detail}"
                                                     for c in conversion.checks]  # fmt: skip
    check_keys = tuple(dict.fromkeys(a.key for a in tools[1:]))
    validation = Event(
        derivation_event_uuid(source, task.purpose, record.sha256, VALIDATION_EVENT), VALIDATION_EVENT,
        attempt.finished,
        f'program="Strongroom"; rule={quoted(task.rule.id)}; checks='
        + quoted(", ".join(["exit status", *(c.kind.value for c in conversion.checks)])),
        Outcome.WARNING if unchecked else Outcome.SUCCESS, "; ".join(verdicts),
        (*check_keys, *system_keys[:1]), record.uuid, version,
    )  # fmt: skip
    digest = Event(
        derivation_event_uuid(source, task.purpose, record.sha256, _DIGEST_EVENT), _DIGEST_EVENT, attempt.finished,
        'program="python hashlib"; algorithm=SHA-256', Outcome.SUCCESS, record.sha256, system_keys[:1], record.uuid,
        version,
    )  # fmt: skip
    kept = KeptDerivative(
        source=task.original.path, purpose=task.purpose, path=record.path, uuid=record.uuid,
        puid=ident.puid if ident else None, size=record.size, rule=task.rule.id, tool=run.tool,
        tool_version=run.version, seconds=run.seconds, checks=conversion.checks, event=made,
    )  # fmt: skip
    return [making, validation, digest], (*tools, *ctx.agents), kept


def build_migration_version(
    ocfl: OcflStore,
    events_so_far: Sequence[Event],
    known_agents: Sequence[Agent],
    access_rules: Sequence[AccessRule],
    attempts: Sequence[Attempt],
    ctx: RecordContext,
    staging: Path,
    identify: IdentifyOutput,
) -> MigrationBuild:
    """The next version of `ctx.package` holding every verified derivative of `attempts` (at least one).

    `events_so_far` and `known_agents` are the package's record as the catalog holds it (the journal's events
    included), so the new METS carries every event; `access_rules` are written as dcterms:accessRights.
    """
    summary = ctx.package
    package = summary.uuid
    oid = object_id(package)
    # The version the plan was made from, not whatever is newest: if another writer moved the head meanwhile, the
    # commit refuses this build (its base is no longer the head) instead of storing the same derivatives twice.
    head = ocfl.inventory(oid).version(summary.version)
    number = head.number + 1
    mets_name = f"METS.{package}.xml"
    old_mets = staging / "previous-METS.xml"
    with ocfl.open(oid, f"data/{mets_name}", head.number) as source, old_mets.open("wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)
    document = read_mets(old_mets)
    now = datetime.now(UTC)
    bag_dir = staging / "bag"
    (bag_dir / "data").mkdir(parents=True)

    new_files: list[FileRecord] = []
    new_events: list[Event] = []
    new_agents: list[Agent] = list(ctx.agents)
    kept: list[KeptDerivative] = []
    failed: list[FailedConversion] = []
    sources: dict[str, Path] = {}
    for attempt in attempts:
        if not attempt.conversion.ok or attempt.conversion.output is None:
            event, failure_agents, failure = failure_event(attempt, ctx, number)
            new_events.append(event)
            new_agents.extend(failure_agents)
            failed.append(failure)
            continue
        task = attempt.task
        path = derivative_path(task.purpose, task.original.path, task.rule.extension)
        placed = bag_dir / "data" / path
        placed.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(attempt.conversion.output, placed)
        sources[f"data/{path}"] = placed
        record = FileRecord(
            uuid=derivative_uuid(task.original.uuid, task.purpose), path=path, original_name=Path(path).name,
            size=placed.stat().st_size, sha256=sha256_file(placed), role=task.purpose.role,
            identification=attempt.conversion.identification or identify(placed), modified=attempt.finished,
        )  # fmt: skip
        made_events, made_agents, derivative = _kept_events(attempt, record, ctx, number)
        new_files.append(record)
        new_events.extend(made_events)
        new_agents.extend(made_agents)
        kept.append(derivative)
    if not kept:
        raise ValueError("build_migration_version needs at least one verified derivative")

    replaced = {f.path for f in new_files}
    files = [f for f in document.files if f.path not in replaced and f.path != mets_name]
    all_files = sorted([*files, *new_files], key=lambda f: f.path)
    seen = {e.uuid for e in events_so_far}
    events = [*events_so_far, *(e for e in new_events if e.uuid not in seen)]
    descriptions = with_access(document.descriptions, access_rules)
    what = ", ".join(sorted({k.purpose.value for k in kept}))
    verb = "Normalization" if ctx.event_type != "migration" else "Migration"
    message = (f"{verb}: {len(kept)} derivative(s) ({what}) by migration policy {ctx.policy_version}"
               + (f"; {len(failed)} conversion(s) failed, originals kept as masters" if failed else "")
               + (job_marker(ctx.job) if ctx.job else ""))  # fmt: skip
    build = assemble_version(
        VersionContent(
            summary=summary, number=number, previous=document, files=all_files, events=events,
            agent_groups=[document.agents, known_agents, new_agents], descriptions=descriptions,
            organisation_name=ctx.organisation_name, new_sources=sources,
            added_events=[e for e in new_events if e.uuid not in seen], message=message, operator=ctx.operator,
            when=now,
        ),
        bag_dir,
    )  # fmt: skip
    return MigrationBuild(build, tuple(kept), tuple(failed))
