"""The audit as a staged job: plan the copies, check them in chunks on any worker, merge the report.

plan: `select_copies` (least recently checked first, older_than, max_bytes, location), written to the
job's scratch folder as plan.json and cut into chunks of whole packages (every copy of a package in one
chunk, so that its repair sees all of them). chunk n: `check_copy` on each copy, journalled and
catalogued as `verify` does, then repair if asked. finalize: the report `strongroom audit --json` prints.

A chunk may run twice (a redelivery, or a worker that died): its fixity events get UUIDs derived from
the job, package, location and file, and a copy whose check event is already in the catalog is not
recorded again; a chunk whose result file is there does nothing. Rate limits apply per worker (each chunk
has its own throttle), and the report's seconds are the time spent reading, summed over chunks.

Its package summaries as JSON (summary_json, summary_from) serve the replicate job too.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from strongroom import views
from strongroom.errors import StorageError, StrongroomError
from strongroom.jobs.scratch import chunk_file, cut_chunks, read_json, write_json
from strongroom.jobs.settings import load_job_settings
from strongroom.model import FixityProblem, Mismatch, Missing, PackageSummary, Unexpected
from strongroom.preservation.audit import (
    AuditPlan,
    AuditReport,
    PlannedCopy,
    Throttle,
    parse_duration,
    parse_size,
    problems_by_package,
    repair_damaged,
    select_copies,
)
from strongroom.preservation.fixity import FixityMode
from strongroom.preservation.verify import CopyCheck, PackageProblem, VerifyReport, check_copy, record_checks

if TYPE_CHECKING:
    from strongroom.archive import Archive
    from strongroom.jobs.model import StepContext

PLAN = "plan.json"

# --- shared by the audit and replicate jobs ------------------------------------------------------------


def summary_json(summary: PackageSummary) -> dict[str, Any]:
    return {
        "uuid": summary.uuid, "name": summary.name, "created": summary.created.isoformat(), "files": summary.files,
        "bytes": summary.bytes, "payload_sha256": summary.payload_sha256, "storage_key": summary.storage_key,
        "title": summary.title, "indexed": summary.indexed, "version": summary.version,
        "updated": summary.updated.isoformat() if summary.updated else None,
    }  # fmt: skip


def summary_from(data: Mapping[str, Any]) -> PackageSummary:
    return PackageSummary(
        uuid=data["uuid"], name=data["name"], created=datetime.fromisoformat(data["created"]), files=data["files"],
        bytes=data["bytes"], payload_sha256=data["payload_sha256"], storage_key=data["storage_key"],
        title=data["title"], indexed=data["indexed"], version=data["version"],
        updated=datetime.fromisoformat(data["updated"]) if data["updated"] else None,
    )  # fmt: skip


def operator_of(params: Mapping[str, Any]) -> str:
    operator = params.get("operator")
    if not isinstance(operator, str) or not operator:
        raise StrongroomError("The job names no operator.", details=["Submit it again through the CLI or the web."])
    return operator


# --- the audit job --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditOptions:
    location: str | None
    older_than: timedelta | None
    max_bytes: int | None
    rate: float | None  # MB/s, per worker
    repair: bool

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> AuditOptions:
        """From checked params (web/jobs_preservation.audit_params)."""
        older, budget = params.get("older_than"), params.get("max_bytes")
        rate = params.get("rate")
        return cls(params.get("location") or None, parse_duration(older) if older else None,
                   parse_size(budget) if budget else None, float(rate) if rate is not None else None,
                   bool(params.get("repair")))  # fmt: skip


def plan_audit_job(ctx: StepContext, archive: Archive, options: AuditOptions) -> int:
    """Choose the copies, write plan.json, and return how many chunks there are."""
    settings = load_job_settings(ctx.home)
    report = VerifyReport(FixityMode.FULL, location_count=len(archive.settings.all_locations))
    plan = select_copies(archive, report, location=options.location, older_than=options.older_than,
                         max_bytes=options.max_bytes)  # fmt: skip
    groups: dict[str, list[int]] = {}
    for index, planned in enumerate(plan.copies):
        groups.setdefault(planned.summary.uuid, []).append(index)
    packages = list(groups.values())
    recorded = {(c.package, c.location) for c in archive.catalog.copies()} if plan.copies else set()
    weights = [(plan.copies[g[0]].summary.files * len(g), plan.copies[g[0]].summary.bytes * len(g)) for g in packages]
    cut = cut_chunks(weights, settings.chunk_files, settings.chunk_bytes)
    chunks = [[index for group in chunk for index in packages[group]] for chunk in cut]
    offsets = [sum(len(c) for c in cut[:n]) for n in range(len(cut))]  # packages in the chunks before each
    write_json(ctx.scratch / PLAN, {
        "location_count": report.location_count,
        "unreachable": report.unreachable,
        "checked_recently": plan.checked_recently,
        "over_budget": plan.over_budget,
        "planned_bytes": plan.planned_bytes,
        "packages": len(packages),
        "copies": [
            {"summary": summary_json(c.summary), "location": c.location,
             "last_checked": c.last_checked.isoformat() if c.last_checked else None,
             "recorded": (c.summary.uuid, c.location) in recorded}
            for c in plan.copies
        ],
        "chunks": chunks,
        "offsets": offsets,
    })  # fmt: skip
    return len(chunks)


def event_uuid(job_id: str, package: str, location: str, key: str) -> str:
    """The UUID of the audit job's fixity event about one copy (key "copy") or one file of it: the same on a rerun."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"strongroom:job:{job_id}:audit:{package}:{location}:{key}"))


def keyed_events(check: CopyCheck, job_id: str) -> CopyCheck:
    """The check with event UUIDs derived from the job (one event per copy, and at most one per file)."""
    seen: dict[str, int] = {}
    events = []
    for event in check.events:
        key = event.file_uuid or "copy"
        seen[key] = seen.get(key, 0) + 1
        suffix = f"#{seen[key]}" if seen[key] > 1 else ""
        events.append(replace(event, uuid=event_uuid(job_id, check.package, check.location, key + suffix)))
    check.events = events
    return check


def record_once(archive: Archive, checks: Sequence[CopyCheck], operator: str) -> None:
    """Journal and catalog the checks an earlier run of this chunk did not record (found by event UUID)."""
    fresh = []
    for check in checks:
        if not check.events:
            continue
        recorded = {e.uuid for e in archive.catalog.events(check.package)}
        if check.events[-1].uuid not in recorded:
            fresh.append(check)
    record_checks(archive, fresh, archive.system_agents(operator))


def _check_json(check: CopyCheck) -> dict[str, Any]:
    return {"package": check.package, "location": check.location, "files": check.files,
            "bytes_read": check.bytes_read, "problems": [p.as_dict() for p in check.problems]}  # fmt: skip


def problem_from(data: Mapping[str, Any]) -> PackageProblem:
    """A PackageProblem from its as_dict() form."""
    problem: FixityProblem
    if data["kind"] == "mismatch":
        problem = Mismatch(data["path"], data["algorithm"], data["expected"], data["found"])
    elif data["kind"] == "missing":
        problem = Missing(data["path"], data["source"])
    else:
        problem = Unexpected(data["path"], data["source"])
    return PackageProblem(data["package"], problem, tuple(data["versions"]), data["location"])


def check_chunk(ctx: StepContext, archive: Archive, options: AuditOptions, operator: str, n: int) -> dict[str, Any]:
    """Check chunk n's copies and record them (once); returns what its result file holds so far."""
    plan = read_json(ctx.scratch / PLAN)
    copies = [plan["copies"][i] for i in plan["chunks"][n]]
    before = plan["offsets"][n]
    throttle = Throttle(options.rate) if options.rate is not None else None
    total_files = sum(c["summary"]["files"] for c in copies)
    unreachable: dict[str, str] = {}
    checks: list[CopyCheck] = []
    started = time.monotonic()
    seen: list[str] = []
    files_before = 0
    try:
        for planned in copies:
            ctx.check_cancelled()
            summary = summary_from(planned["summary"])
            if summary.uuid not in seen:
                seen.append(summary.uuid)
            words = f"Auditing {before + len(seen)} of {plan['packages']} packages"
            name = planned["location"]
            if name in unreachable:
                continue
            try:
                location = archive.location(name)
            except StorageError as err:
                unreachable[name] = err.message
                continue

            def step(_: str, done: int, total: int | None, words: str = words, base: int = files_before) -> None:
                ctx.progress(words, min(base + done, total_files), total_files)

            ctx.progress(words, files_before, total_files)
            check = check_copy(archive, summary, location, FixityMode.FULL, step, 0, throttle,
                               recorded=planned["recorded"])  # fmt: skip
            files_before += summary.files
            if check.unreachable is not None:
                unreachable.setdefault(name, check.unreachable)
            elif check.expected or check.found_version is not None:
                checks.append(keyed_events(check, ctx.job.id))
    finally:
        # Checks made before a cancellation or a failure are still recorded; a rerun does not record them twice.
        record_once(archive, checks, operator)
    return {"checks": [_check_json(c) for c in checks], "unreachable": unreachable,
            "seconds": time.monotonic() - started}  # fmt: skip


def run_audit_chunk(ctx: StepContext, archive: Archive, options: AuditOptions, operator: str, n: int) -> None:
    """Chunk n: its checks (recorded once), then its repairs; the result file is written last."""
    done = chunk_file(ctx.scratch, n)
    if done.exists():
        return
    checked = chunk_file(ctx.scratch, n, ".checked")
    if checked.exists():  # checked and recorded by an earlier run, which stopped before its repairs
        result = read_json(checked)
    else:
        result = check_chunk(ctx, archive, options, operator, n)
        write_json(checked, result)
    result["repairs"], result["repair_failures"] = {}, {}
    if options.repair:
        problems = [problem_from(p) for c in result["checks"] for p in c["problems"]]
        damaged = list(problems_by_package(problems))
        for index, package in enumerate(damaged, start=1):
            ctx.progress(f"Repairing {index} of {len(damaged)} damaged packages", index - 1, len(damaged))
            repairs = repair_damaged(archive, [package], operator)
            result["repairs"].update({r.package: views.repair_json(r) for r in repairs.reports})
            result["repair_failures"].update(repairs.failures)
    write_json(done, result)


@dataclass(frozen=True)
class MergedAudit:
    """The whole audit: its report (problems and counts; no per-copy checks) and its repairs as their JSON (the
    typed repair reports stayed on the workers that made them)."""

    report: AuditReport
    repairs: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """What `strongroom audit --json` prints."""
        result = views.audit_json(self.report)
        result["repairs"] = self.repairs
        return result


def finish_audit(ctx: StepContext, options: AuditOptions) -> MergedAudit:
    """Merge plan.json and every chunk's result, in the order `strongroom audit` would have found them."""
    plan = read_json(ctx.scratch / PLAN)
    chunks = len(plan["chunks"])
    report = VerifyReport(FixityMode.FULL, location_count=plan["location_count"])
    report.unreachable.update(plan["unreachable"])
    planned = [
        PlannedCopy(summary_from(c["summary"]), c["location"],
                    datetime.fromisoformat(c["last_checked"]) if c["last_checked"] else None)
        for c in plan["copies"]
    ]  # fmt: skip
    results = [read_json(chunk_file(ctx.scratch, n)) for n in range(chunks)]
    by_copy: dict[tuple[str, str], Mapping[str, Any]] = {}
    seconds = 0.0
    for result in results:
        for name, why in result["unreachable"].items():
            report.unreachable.setdefault(name, why)
        by_copy.update({(c["package"], c["location"]): c for c in result["checks"]})
        seconds += result["seconds"]
    packages: set[str] = set()
    for copy in planned:  # in plan order, as `strongroom audit` checks them
        check = by_copy.get((copy.summary.uuid, copy.location))
        if check is None:
            continue
        packages.add(check["package"])
        report.checked += check["files"]
        report.bytes_read += check["bytes_read"]
        report.problems.extend(problem_from(p) for p in check["problems"])
    report.packages = len(packages)
    plan_record = AuditPlan(tuple(planned), plan["checked_recently"], plan["over_budget"], plan["planned_bytes"])
    counts = problems_by_package(report.problems)
    audit = AuditReport(plan_record, report, seconds, options.rate, counts)
    repairs: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    for result in results:
        repairs.update(result["repairs"])
        failures.update(result["repair_failures"])
    audit.repair_failures = {p: failures[p] for p in counts if p in failures}  # in the order repairs go in
    return MergedAudit(audit, [repairs[p] for p in counts if p in repairs])
