"""Job kinds of preservation: audit, replicate, migrate and rebuild, each what its CLI command does.

Parameters are JSON-safe and checked before the job is queued (parse_params), so a bad form is
answered at once rather than as a failed job. Each job's result is the JSON its command prints
with --json; progress goes through ctx.progress, and cancellation is honoured between steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom import views
from strongroom.archive import Archive
from strongroom.errors import StrongroomError
from strongroom.fulltext.job import text_kind
from strongroom.jobs.model import JobKind, StepContext
from strongroom.preservation.audit import parse_duration, parse_size
from strongroom.preservation.audit_job import AuditOptions, finish_audit, operator_of, plan_audit_job, run_audit_chunk
from strongroom.preservation.migrate_job import migrate_kinds
from strongroom.preservation.migrate_job import migrate_params as migrate_params  # the web form checks its params
from strongroom.rebuild_job import finish_rebuild_job, plan_rebuild_job, run_rebuild_chunk
from strongroom.replication_job import finish_replicate, plan_replicate_job, run_replicate_chunk
from strongroom.web.permissions import Permission

AUDIT, REPLICATE, MIGRATE, REBUILD = "audit", "replicate", "migrate", "rebuild"


def _text(params: Mapping[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise StrongroomError(f"{key} must be text.", details=[f"Send {key} as a string, or leave it out."])
    return value.strip() or None


def audit_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The audit options, checked: older_than ("90d"), max_bytes ("500G"), rate (MB/s), location, repair."""
    older_than, max_bytes, location = _text(params, "older_than"), _text(params, "max_bytes"), _text(params, "location")
    if older_than:
        parse_duration(older_than)
    if max_bytes:
        parse_size(max_bytes)
    rate_value = params.get("rate")
    rate: float | None = None
    if rate_value not in (None, ""):
        try:
            rate = float(rate_value)
        except (TypeError, ValueError):
            rate = -1.0
        if not rate > 0 or rate != rate or rate == float("inf"):
            raise StrongroomError("The read rate must be a number of MB/s above 0.",
                                  details=["Leave it empty to read at full speed, or give e.g. 50."])  # fmt: skip
    repair = params.get("repair") in (True, "true", "on", "yes", "1")
    return {"older_than": older_than, "max_bytes": max_bytes, "rate": rate, "location": location, "repair": repair}


# Audit, replicate and rebuild are staged (plan -> chunks -> finalize; see preservation/audit_job.py,
# replication_job.py and rebuild_job.py): each step opens the archive on whichever worker runs it.


def plan_audit(ctx: StepContext, params: Mapping[str, Any]) -> int:
    options = AuditOptions.of(audit_params(params))
    with Archive.open(ctx.home) as archive:
        ctx.progress("Planning the audit", 0, None)
        archive.prepare_to_write()
        return plan_audit_job(ctx, archive, options)


def audit_chunk(ctx: StepContext, params: Mapping[str, Any], n: int) -> None:
    with Archive.open(ctx.home) as archive:
        archive.require_current_layout()
        run_audit_chunk(ctx, archive, AuditOptions.of(audit_params(params)), operator_of(params), n)


def finalize_audit(ctx: StepContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    merged = finish_audit(ctx, AuditOptions.of(audit_params(params)))
    result = merged.to_json()
    if merged.report.verify.problems:
        result["next_steps"] = views.verify_next_steps(merged.report.verify)
    return result


def plan_replicate(ctx: StepContext, params: Mapping[str, Any]) -> int:
    with Archive.open(ctx.home) as archive:
        ctx.progress("Finding what the replicas lack", 0, None)
        archive.prepare_to_write()
        return plan_replicate_job(ctx, archive, _text(params, "location"))


def replicate_chunk(ctx: StepContext, params: Mapping[str, Any], n: int) -> None:
    with Archive.open(ctx.home) as archive:
        archive.require_current_layout()
        run_replicate_chunk(ctx, archive, operator_of(params), n)


def finalize_replicate(ctx: StepContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    with Archive.open(ctx.home) as archive:
        return views.replicate_json(finish_replicate(ctx, archive))


def plan_rebuild(ctx: StepContext, params: Mapping[str, Any]) -> int:
    with Archive.open(ctx.home) as archive:
        return plan_rebuild_job(ctx, archive)


def rebuild_chunk(ctx: StepContext, params: Mapping[str, Any], n: int) -> None:
    with Archive.open(ctx.home) as archive:
        run_rebuild_chunk(ctx, archive, n)


def finalize_rebuild(ctx: StepContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    with Archive.open(ctx.home) as archive:
        return views.rebuild_json(finish_rebuild_job(ctx, archive))


JOB_KINDS: tuple[JobKind, ...] = (
    JobKind(AUDIT, "Audit stored copies", None, Permission.RUN_PRESERVATION.value, plan=plan_audit,
            chunk=audit_chunk, finalize=finalize_audit, resumable=True),
    JobKind(REPLICATE, "Replicate to storage locations", None, Permission.RUN_PRESERVATION.value,
            plan=plan_replicate, chunk=replicate_chunk, finalize=finalize_replicate, resumable=True),
    *migrate_kinds(Permission.RUN_PRESERVATION.value),  # staged: preservation/migrate_job.py
    text_kind(Permission.RUN_PRESERVATION.value),  # `strongroom text`, staged: fulltext/job.py
    JobKind(REBUILD, "Rebuild the catalog and index", None, Permission.ADMIN.value, plan=plan_rebuild,
            chunk=rebuild_chunk, finalize=finalize_rebuild, resumable=True),
)  # fmt: skip
