"""Job kinds of preservation: audit, replicate, migrate and rebuild, each what its CLI command does.

Parameters are JSON-safe and checked before the job is queued (parse_params), so a bad form is
answered at once rather than as a failed job. Each job's result is the JSON its command prints
with --json; progress goes through ctx.progress, and cancellation is honoured between steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from strongroom import views
from strongroom.archive import Archive
from strongroom.errors import StrongroomError
from strongroom.formats.risk import RiskLevel
from strongroom.jobs.model import JobContext, JobKind
from strongroom.preservation.actions import Purpose
from strongroom.preservation.audit import parse_duration, parse_size
from strongroom.web.permissions import Permission

AUDIT, REPLICATE, MIGRATE, REBUILD = "audit", "replicate", "migrate", "rebuild"


def _progress(ctx: JobContext) -> Any:
    def progress(step: str, done: int, total: int | None) -> None:
        ctx.progress(step, done, total)
        ctx.check_cancelled()

    return progress


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


def migrate_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The migrate options, checked: packages, risk, puids, purposes, dry_run, retry_failed."""

    def strings(key: str) -> list[str]:
        value = params.get(key) or []
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise StrongroomError(f"{key} must be a list of text.", details=[f"Send {key} as a list of strings."])
        return [i.strip() for i in items if i.strip()]

    risk = _text(params, "risk")
    if risk and risk not in {level.value for level in RiskLevel}:
        raise StrongroomError(f"There is no risk level {risk!r}.",
                              details=["Choose one of: high, unknown, medium, low."])  # fmt: skip
    purposes = strings("purposes")
    for purpose in purposes:
        if purpose not in {p.value for p in Purpose}:
            raise StrongroomError(f"There is no derivative purpose {purpose!r}.",
                                  details=[f"Choose from: {', '.join(p.value for p in Purpose)}."])  # fmt: skip
    flag = ("true", "on", "yes", "1", True)
    return {"packages": strings("packages"), "risk": risk, "puids": strings("puids"), "purposes": purposes,
            "dry_run": params.get("dry_run") in flag, "retry_failed": params.get("retry_failed") in flag}  # fmt: skip


def run_audit(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    options = audit_params(params)
    age: timedelta | None = parse_duration(options["older_than"]) if options["older_than"] else None
    budget = parse_size(options["max_bytes"]) if options["max_bytes"] else None
    with Archive.open(ctx.home) as archive:
        ctx.progress("Planning the audit", 0, None)
        report = archive.audit(
            str(params["operator"]), location=options["location"], older_than=age, max_bytes=budget,
            rate=options["rate"], repair=options["repair"], progress=_progress(ctx),
        )  # fmt: skip
        result = views.audit_json(report)
        if report.verify.problems:
            result["next_steps"] = views.verify_next_steps(report.verify)
    return result


def run_replicate(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    with Archive.open(ctx.home) as archive:
        ctx.progress("Finding what the replicas lack", 0, None)
        report = archive.replicate(str(params["operator"]), _text(params, "location"), _progress(ctx))
    return views.replicate_json(report)


def run_migrate(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    options = migrate_params(params)
    with Archive.open(ctx.home) as archive:
        ctx.progress("Planning conversions", 0, None)
        report = archive.migrate(
            options["packages"], str(params["operator"]),
            risk=RiskLevel(options["risk"]) if options["risk"] else None, puids=options["puids"],
            purposes=[Purpose(p) for p in options["purposes"]] or None, dry_run=options["dry_run"],
            retry_failed=options["retry_failed"], progress=_progress(ctx),
        )  # fmt: skip
    return report.to_json()


def run_rebuild(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    with Archive.open(ctx.home) as archive:
        ctx.progress("Rebuilding", 0, None)
        report = archive.rebuild(_progress(ctx))
    return views.rebuild_json(report)


JOB_KINDS: tuple[JobKind, ...] = (
    JobKind(AUDIT, "Audit stored copies", run_audit, Permission.RUN_PRESERVATION.value),
    JobKind(REPLICATE, "Replicate to storage locations", run_replicate, Permission.RUN_PRESERVATION.value),
    JobKind(MIGRATE, "Migrate at-risk formats", run_migrate, Permission.RUN_PRESERVATION.value),
    JobKind(REBUILD, "Rebuild the catalog and index", run_rebuild, Permission.ADMIN.value),
)
