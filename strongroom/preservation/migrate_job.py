"""`strongroom migrate` as a staged job: plan -> chunks of whole packages -> finalize (the report).

plan: the migration plan of every named package (preservation/migrate_plan.py, catalog only), kept in the
job's scratch folder as plan.json, with the packages that have conversions to run grouped into chunks. A
package's new version is made once, in one place, so a chunk holds whole packages: at most
`[jobs] chunk_files` conversions (and MAX_CONVERSIONS, as a tool run takes seconds, not milliseconds) and
`chunk_bytes` of originals, and a package with more stands alone.
chunk: per package, convert, verify and commit its version (preservation/migrate.py, the same engine as the
command). Idempotent: each package's result is kept as `chunk-NNNNNN/<package>.json`, and just before its
commit as `<package>.intent.json`; the version's message names the job, so a step cut off after the commit
finds the version it made (and its result) instead of making another.
finalize: the report, exactly the JSON `strongroom migrate --json` prints.

Routing: which tools a migration needs follows from the policy and the files, not from the kind, so
"migrate" names no tool and a chunk that meets a missing tool refuses that package (never a silent skip on
a host that lacks it). For a distributed deployment with tool hosts, one kind per tool family
("migrate-libreoffice", ...) runs only that tool's conversions and routes to that tool's queue.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from strongroom.archive import Archive
from strongroom.errors import StrongroomError
from strongroom.formats.risk import RiskLevel
from strongroom.jobs.model import JobKind, StepContext
from strongroom.jobs.scratch import chunk_dir, cut_chunks, read_json, write_json
from strongroom.jobs.settings import load_job_settings
from strongroom.preservation.actions import Purpose
from strongroom.preservation.migrate import MigrationRun, migrate_package, plan_migration
from strongroom.preservation.migrate_plan import MigrationRequest, PackagePlan
from strongroom.preservation.migrate_report import PackageMigration
from strongroom.preservation.migrate_version import job_marker

MIGRATE = "migrate"
# The policy's converting tools; each has a kind of its own for hosts that serve only some of them.
TOOL_FAMILIES = ("libreoffice", "imagemagick", "ghostscript", "ffmpeg")
MAX_CONVERSIONS = 25
PLAN_FILE = "plan.json"
STEP_SECONDS = 6 * 3600.0  # a package's conversions are one chunk: a large one takes hours of tool time
_FLAG = ("true", "on", "yes", "1", True)


def migrate_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The migrate options, checked: packages, risk, puids, purposes, dry_run, retry_failed (and tool)."""

    def strings(key: str) -> list[str]:
        value = params.get(key) or []
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise StrongroomError(f"{key} must be a list of text.", details=[f"Send {key} as a list of strings."])
        return [i.strip() for i in items if i.strip()]

    def text(key: str) -> str | None:
        value = params.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise StrongroomError(f"{key} must be text.", details=[f"Send {key} as a string, or leave it out."])
        return value.strip() or None

    risk = text("risk")
    if risk and risk not in {level.value for level in RiskLevel}:
        raise StrongroomError(f"There is no risk level {risk!r}.",
                              details=["Choose one of: high, unknown, medium, low."])  # fmt: skip
    purposes = strings("purposes")
    for purpose in purposes:
        if purpose not in {p.value for p in Purpose}:
            raise StrongroomError(f"There is no derivative purpose {purpose!r}.",
                                  details=[f"Choose from: {', '.join(p.value for p in Purpose)}."])  # fmt: skip
    tool = text("tool")
    if tool is not None and tool not in TOOL_FAMILIES:
        raise StrongroomError(f"There is no migration job for the tool {tool!r}.",
                              details=[f"Choose one of: {', '.join(TOOL_FAMILIES)}; or leave it out."])  # fmt: skip
    options = {"packages": strings("packages"), "risk": risk, "puids": strings("puids"), "purposes": purposes,
               "dry_run": params.get("dry_run") in _FLAG,
               "retry_failed": params.get("retry_failed") in _FLAG}  # fmt: skip
    if tool is not None:
        options["tool"] = tool
    return options


def _request(params: Mapping[str, Any]) -> tuple[dict[str, Any], MigrationRequest]:
    options = migrate_params(params)
    request = MigrationRequest(
        str(params["operator"]), risk=RiskLevel(options["risk"]) if options["risk"] else None,
        puids=tuple(options["puids"]), purposes=tuple(Purpose(p) for p in options["purposes"]) or None,
        retry_failed=options["retry_failed"],
    )  # fmt: skip
    return options, request


def _only_tool(run: MigrationRun, plan: PackagePlan, tool: str | None) -> PackagePlan:
    """The part of `plan` that `tool` does (all of it when `tool` is None)."""
    if tool is None:
        return plan
    rule_tools = {rule.id: rule.tool for rule in run.policy.rules}
    return PackagePlan(
        plan.summary, tuple(t for t in plan.tasks if t.rule.tool == tool),
        tuple(s for s in plan.skipped if rule_tools.get(s.rule) == tool),
        tuple(p for p in plan.planned if p.tool == tool),
    )  # fmt: skip


def _plans(run: MigrationRun, tool: str | None) -> list[PackagePlan]:
    return [p for p in (_only_tool(run, plan, tool) for plan in run.plans) if p.planned or p.skipped]


def _chunks(plans: Sequence[PackagePlan], most_files: int, most_bytes: int) -> list[list[str]]:
    """Packages with conversions to run, in plan order, in chunks of at most `most_files` conversions and
    `most_bytes` of originals (a package larger than that alone)."""
    busy = [plan for plan in plans if plan.tasks]
    weights = [(len(p.tasks), sum({t.original.uuid: t.original.size for t in p.tasks}.values())) for p in busy]
    return [[busy[i].summary.uuid for i in chunk] for chunk in cut_chunks(weights, most_files, most_bytes)]


def plan_migrate(ctx: StepContext, params: Mapping[str, Any]) -> int:
    options, request = _request(params)
    settings = load_job_settings(ctx.home)
    ctx.progress("Planning conversions", 0, None)
    with Archive.open(ctx.home) as archive:
        if options["dry_run"]:
            archive.require_current_layout()
        else:
            archive.prepare_to_write()
        run = plan_migration(archive, options["packages"], request)
    plans = _plans(run, options.get("tool"))
    chunks = [] if options["dry_run"] else _chunks(plans, min(settings.chunk_files, MAX_CONVERSIONS),
                                                   settings.chunk_bytes)  # fmt: skip
    where = {package: n for n, packages in enumerate(chunks) for package in packages}
    write_json(ctx.scratch / PLAN_FILE, {
        "started": time.time(), "dry_run": options["dry_run"], "policy_version": run.policy.version,
        "planned": [item.to_json() for plan in plans for item in plan.planned],
        "packages": [{"package": p.summary.uuid, "name": p.summary.name, "chunk": where.get(p.summary.uuid),
                      "skipped": [s.to_json() for s in p.skipped]} for p in plans],
        "chunks": chunks,
    })  # fmt: skip
    return len(chunks)


def _made_by_job(archive: Archive, package: str, number: int, job: str) -> bool:
    """Whether version `number` of `package` is stored and was made by `job`."""
    return any(v.number == number and v.message.endswith(job_marker(job)) for v in archive.catalog.versions(package))


def _gone(package: str) -> PackageMigration:
    why = "it is no longer in the archive (destroyed or transferred since the plan)"
    return PackageMigration(package, package, None, (), (), (), 0.0, 0.0, error=why)


def _lacking(plan: PackagePlan, tools: Sequence[str]) -> PackageMigration:
    """A package refused because this worker lacks a tool the plan's host had: never a silent skip."""
    from strongroom.jobs.execute import worker_id

    names = ", ".join(tools)
    why = (f"the worker {worker_id()} that took this package cannot run {names}, which the plan needs; nothing was "
           f"stored for it. Install {names} on every worker that serves migration jobs (check with: strongroom "
           f"doctor), or submit the tool's own job (strongroom migrate --submit --tool {tools[0]}) so only workers "
           "that have it take it.")  # fmt: skip
    summary = plan.summary
    return PackageMigration(summary.uuid, summary.name, None, (), (), plan.skipped, 0.0, 0.0, error=why)


def chunk_migrate(ctx: StepContext, params: Mapping[str, Any], n: int) -> None:
    options, request = _request(params)
    planned = read_json(ctx.scratch / PLAN_FILE)
    packages: list[str] = planned["chunks"][n]
    # What the plan's host could convert: this host must too (the re-plan below only sees its own tools).
    could = {(p["file_uuid"], p["purpose"]) for p in planned["planned"] if p["tool_available"]}
    folder = chunk_dir(ctx.scratch, n)
    folder.mkdir(exist_ok=True)
    job = ctx.job.id
    with Archive.open(ctx.home) as archive:
        archive.prepare_to_write()
        todo: list[str] = []
        for package in packages:
            result, intent = folder / f"{package}.json", folder / f"{package}.intent.json"
            if result.exists():
                continue  # done by an earlier delivery of this step
            if intent.exists():
                said = read_json(intent)
                if said["version"] is not None and _made_by_job(archive, package, said["version"], job):
                    # Stored just before the step was cut off: that version is this job's, not to be made again.
                    write_json(result, said)
                    continue
                intent.unlink()
            todo.append(package)
        present = [p for p in todo if archive.catalog.find_package(p) is not None]
        run = plan_migration(archive, present, request)
        plans = {p.summary.uuid: p for p in _plans(run, options.get("tool"))}
        for done, package in enumerate(todo):
            ctx.check_cancelled()
            ctx.progress("Converting", done, len(todo))
            plan = plans.get(package)
            if package not in present:
                outcome = _gone(package)
            elif plan is None:  # nothing left to do by the policy (made meanwhile by another run)
                summary = archive.package(package)
                outcome = PackageMigration(summary.uuid, summary.name, None, (), (), (), 0.0, 0.0)
            elif lacking := sorted({p.tool for p in plan.planned
                                    if not p.tool_available and (p.file_uuid, p.purpose.value) in could}):  # fmt: skip
                outcome = _lacking(plan, lacking)
            else:
                intent = folder / f"{package}.intent.json"

                def about_to_store(pending: PackageMigration, at: Path = intent) -> None:
                    write_json(at, pending.to_json())

                outcome = migrate_package(archive, run, plan, request, job=job, before_commit=about_to_store)
            write_json(folder / f"{package}.json", outcome.to_json())
        ctx.progress("Converting", len(todo), len(todo))


def finalize_migrate(ctx: StepContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    report_file = ctx.scratch / "report.json"
    if report_file.exists():  # a finalize run again after its end (its worker died before saying so)
        return dict(read_json(report_file))
    plan = read_json(ctx.scratch / PLAN_FILE)
    packages: list[dict[str, Any]] = []
    for entry in plan["packages"]:
        if entry["chunk"] is None:
            packages.append({
                "package": entry["package"], "name": entry["name"], "version": None, "kept": [], "failed": [],
                "skipped": entry["skipped"], "seconds": 0.0, "tool_seconds": 0.0, "error": None, "warnings": [],
            })  # fmt: skip
        else:
            packages.append(read_json(chunk_dir(ctx.scratch, entry["chunk"]) / f"{entry['package']}.json"))
    report = report_json(packages, plan["planned"], plan["dry_run"], plan["policy_version"],
                         time.time() - plan["started"])  # fmt: skip
    write_json(report_file, report)
    return report


def report_json(packages: Sequence[Mapping[str, Any]], planned: Sequence[Mapping[str, Any]], dry_run: bool,
                policy_version: str, seconds: float) -> dict[str, Any]:  # fmt: skip
    """MigrationReport.to_json from its parts as JSON (the packages come from the chunks' files)."""
    failed = sum(len(p["failed"]) for p in packages)
    errors = sum(1 for p in packages if p["error"])
    missing = list(dict.fromkeys(p["missing_hint"] or p["tool"] for p in planned if not p["tool_available"]))
    return {
        "dry_run": dry_run,
        "policy_version": policy_version,
        "ok": not failed and not errors and not missing,
        "totals": {
            "packages": len(packages),
            "versions_made": sum(1 for p in packages if p["version"] is not None),
            "kept": sum(len(p["kept"]) for p in packages),
            "failed": failed,
            "skipped": sum(len(p["skipped"]) for p in packages),
            "errors": errors,
            "planned": len(planned),
            "seconds": round(seconds, 3),
            "tool_seconds": round(sum(p["tool_seconds"] for p in packages), 3),
        },
        "missing_tools": missing,
        "planned": list(planned),
        "packages": list(packages),
    }


def _plan_with_tool(tool: str, ctx: StepContext, params: Mapping[str, Any]) -> int:
    return plan_migrate(ctx, {**params, "tool": tool})


def _chunk_with_tool(tool: str, ctx: StepContext, params: Mapping[str, Any], n: int) -> None:
    chunk_migrate(ctx, {**params, "tool": tool}, n)


def _family_kind(tool: str, permission: str) -> JobKind:
    """The kind that runs only `tool`'s conversions (its params get tool=<tool> whatever was sent).

    Module-level functions bound with partial, not closures: the embedded runner sends kinds to its worker
    processes by pickling them, and a closure cannot be pickled."""
    return JobKind(f"{MIGRATE}-{tool}", f"Migrate at-risk formats with {tool}", None, permission, tools=(tool,),
                   plan=functools.partial(_plan_with_tool, tool), chunk=functools.partial(_chunk_with_tool, tool),
                   finalize=finalize_migrate, step_seconds=STEP_SECONDS, resumable=True)  # fmt: skip


def migrate_kinds(permission: str) -> tuple[JobKind, ...]:
    """The kind "migrate" (whatever tools the policy needs; the host that runs a chunk must have them), and one
    kind per tool family ("migrate-libreoffice", ...) for deployments whose workers differ in their tools."""
    return (
        JobKind(MIGRATE, "Migrate at-risk formats", None, permission, plan=plan_migrate, chunk=chunk_migrate,
                finalize=finalize_migrate, step_seconds=STEP_SECONDS, resumable=True),
        *(_family_kind(tool, permission) for tool in TOOL_FAMILIES),
    )  # fmt: skip


__all__ = ["MIGRATE", "TOOL_FAMILIES", "migrate_kinds", "migrate_params", "report_json"]
