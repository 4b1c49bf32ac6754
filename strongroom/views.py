"""The JSON shapes of results, made once in the library: the CLI's --json prints them, an HTTP API returns them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from strongroom.model import AccessRule, Event, FileRecord, PackageSummary, VersionRecord
from strongroom.search.base import SearchResults
from strongroom.storage.journal import JournalReport

if TYPE_CHECKING:
    from strongroom.archive import PackageDetails, UpdateResult
    from strongroom.copies import LocationStatus, RepairReport, ReplicateReport
    from strongroom.ingest.pipeline import IngestReport
    from strongroom.jobs.model import JobRecord
    from strongroom.maintenance import RebuildReport, UpgradeReport
    from strongroom.preservation.audit import AuditReport
    from strongroom.preservation.verify import CopyCheck, PackageProblem, VerifyReport
    from strongroom.records.access import AccessChange
    from strongroom.records.viewing import MaskedFile, ResearcherDetails, RestrictedView


def ingest_json(report: IngestReport) -> dict[str, Any]:
    return {
        "package": report.package,
        "name": report.name,
        "version": report.version,
        "files": report.files,
        "bytes": report.bytes,
        "originals": report.originals,
        "kind": report.kind,
        "indexed": report.indexed,
        "warnings": list(report.warnings),
        "normalization": list(report.normalization),
    }


def package_json(p: PackageSummary) -> dict[str, Any]:
    return {
        "package": p.uuid,
        "name": p.name,
        "title": p.title,
        "created": p.created.isoformat(),
        "version": p.version,
        "updated": p.updated.isoformat() if p.updated else None,
        "files": p.files,
        "bytes": p.bytes,
    }


def file_json(f: FileRecord) -> dict[str, Any]:
    ident = f.identification
    return {
        "path": f.path,
        "uuid": f.uuid,
        "size": f.size,
        "sha256": f.sha256,
        "role": f.role.value,
        "puid": ident.puid if ident else None,
        "format": ident.format_name if ident else None,
        "version": ident.format_version if ident else None,
        "mime": ident.mime if ident else None,
        "basis": ident.basis.value if ident else None,
        "warnings": list(ident.warnings) if ident else [],
    }


def event_json(e: Event) -> dict[str, Any]:
    return {
        "uuid": e.uuid,
        "type": e.type,
        "datetime": e.datetime.isoformat(),
        "outcome": e.outcome.value,
        "detail": e.outcome_detail,
        "file": e.file_uuid,
        "version": e.version,
        "agents": list(e.agents),
    }


def version_json(v: VersionRecord) -> dict[str, Any]:
    return {
        "version": v.number,
        "created": v.created.isoformat(),
        "message": v.message,
        "operator": v.operator,
        "files": v.files,
        "bytes": v.bytes,
        "new_files": v.new_files,
        "new_bytes": v.new_bytes,
    }


def access_json(rule: AccessRule) -> dict[str, Any]:
    return {
        "path": rule.path,
        "status": rule.status.value,
        "reason": rule.reason,
        "opening_date": rule.opening_date.isoformat() if rule.opening_date else None,
        "closure_start": rule.closure_start.isoformat() if rule.closure_start else None,
        "closure_period": rule.closure_period,
        "exemption": rule.exemption,
        "redacted_title": rule.redacted_title,
        "changed": rule.changed.isoformat() if rule.changed else None,
        "event": rule.event_uuid,
    }


def details_json(details: PackageDetails) -> dict[str, Any]:
    s = details.summary
    return {
        **package_json(s),
        "payload_sha256": s.payload_sha256,
        "storage_key": s.storage_key,
        "files": [file_json(f) for f in details.files],
        "file_count": s.files,
        "description": {d.target: {k: list(v) for k, v in d.elements.items()} for d in details.descriptions},
        "versions": [version_json(v) for v in details.versions],
        "access": [access_json(r) for r in details.access],
        "events": [event_json(e) for e in details.events],
    }


def restricted_view_json(view: RestrictedView) -> dict[str, Any]:
    """A package a researcher may know of but not see (`show --as researcher`)."""
    return {
        "uuid": view.package,
        "status": view.status.value,
        "masked": True,
        "title": view.title,
        "identifier": list(view.identifier),
        "dates": list(view.dates),
        "exemption": view.exemption,
        "opening_date": view.opening_date.isoformat() if view.opening_date else None,
    }


def masked_file_json(masked: MaskedFile) -> dict[str, Any]:
    return {
        "uuid": masked.uuid,
        "title": masked.title,
        "identifier": list(masked.identifier),
        "dates": list(masked.dates),
        "exemption": masked.exemption,
        "opening_date": masked.opening_date.isoformat() if masked.opening_date else None,
    }


def researcher_extras_json(viewed: ResearcherDetails) -> dict[str, Any]:
    """What `show --as researcher` adds to details_json: closed records counted, restricted ones as stand-ins."""
    return {"withheld": viewed.withheld, "restricted": [masked_file_json(m) for m in viewed.masked]}


def verify_json(report: VerifyReport) -> dict[str, Any]:
    return {
        "mode": report.mode.value,
        "checked": report.checked,
        "packages": report.packages,
        "versions": report.versions,
        "copies": [copy_check_json(c) for c in report.copies],
        "unreachable_locations": dict(report.unreachable),
        "problems": [p.as_dict() for p in report.problems],
    }


def copy_check_json(check: CopyCheck) -> dict[str, Any]:
    return {
        "package": check.package,
        "name": check.name,
        "location": check.location,
        "version": check.found_version,
        "catalog_version": check.catalog_version,
        "good": check.good,
        "files_checked": check.files,
        "bytes_read": check.bytes_read,
        "problems": len(check.problems),
    }


NOTHING_CHANGED = "Nothing has been changed: verify only reads (it recorded the failed check in the journal)."


def _versions_text(versions: tuple[int, ...]) -> str:
    if not versions:
        return "no version (not part of the package)"
    return f"version {versions[0]}" if len(versions) == 1 else f"versions {', '.join(map(str, versions))}"


def describe_problem(p: PackageProblem, packages: Mapping[str, PackageSummary]) -> str:
    """One problem for people: which package (by name), which version(s), what is wrong."""
    summary = packages.get(p.package)
    who = f"{summary.name} ({p.package})" if summary else p.package
    where = f" in location {p.location}" if p.location else ""
    return f"{who}{where}, {_versions_text(p.versions)}: {p.problem.describe()}"


def problem_next_step(
    p: PackageProblem, packages: Mapping[str, PackageSummary], several_locations: bool = False
) -> str:
    """What to do about one problem: repair from another location, restore from a backup, or look into a stray."""
    summary = packages.get(p.package)
    folder = f" in the package's storage folder {summary.storage_key}" if summary and summary.storage_key else ""
    if p.problem.kind == "unexpected" and not p.versions and not several_locations:
        return (
            f"Find out what put {p.problem.path} into storage; if it belongs to no package, move it out, "
            f"then run: strongroom verify {p.package}"
        )
    if "strongroom replicate" in p.problem.describe():
        return f"Copy it there with: strongroom replicate --location {p.location}"
    if several_locations:
        return (
            f"Repair it from a good copy in another location: strongroom repair {p.package} "
            f"(without one, restore {p.problem.path}{folder}, {_versions_text(p.versions)}, from a backup)"
        )
    return (
        f"Restore {p.problem.path}{folder} ({_versions_text(p.versions)}) from a backup or another copy of "
        f"the storage, then run: strongroom verify {p.package}"
    )


def verify_next_steps(report: VerifyReport) -> list[str]:
    """The next steps after a verify that found problems, in order (none when all is well)."""
    if not report.problems:
        return []
    packages = " ".join(dict.fromkeys(p.package for p in report.problems))
    if report.location_count > 1:
        return [
            f"Repair from a good copy in another location: strongroom repair PACKAGE (for each of: {packages}); "
            "it checks every location, writes only to damaged copies and checks them again.",
            "Without a good copy anywhere, restore each damaged or missing file from a backup: same path, "
            "same bytes (the expected checksum is given above).",
            f"Then check again: strongroom verify {packages}",
            NOTHING_CHANGED,
        ]
    return [
        "Restore each damaged or missing file from a backup or another copy of the storage: same path, "
        "same bytes (the expected checksum is given above).",
        "With a second storage location (strongroom location add, then strongroom replicate), "
        "`strongroom repair` heals damage from its copy.",
        f"Then check again: strongroom verify {packages}",
        NOTHING_CHANGED,
    ]


def verify_next_steps_json(report: VerifyReport, packages: Mapping[str, PackageSummary]) -> dict[str, Any]:
    """Added to verify_json when there are problems: the steps overall, and each problem (in the order of
    "problems", which keeps its shape) with its package's name, a sentence and its own next step."""
    if not report.problems:
        return {}
    explained = []
    for p in report.problems:
        summary = packages.get(p.package)
        explained.append(
            {
                "package": p.package,
                "name": summary.name if summary else None,
                "storage_key": summary.storage_key if summary else None,
                "location": p.location,
                "path": p.problem.path,
                "versions": list(p.versions),
                "message": describe_problem(p, packages),
                "next_step": problem_next_step(p, packages, report.location_count > 1),
            }
        )
    return {"next_steps": verify_next_steps(report), "problems_explained": explained}


def search_json(results: SearchResults) -> dict[str, Any]:
    return {
        "total": results.total,
        "hits": [
            {
                "package": h.package,
                "name": h.package_name,
                "version": h.version,
                "path": h.path,
                "title": h.title,
                "puid": h.puid,
                "format": h.format_name,
                "file": h.file_uuid,
                "role": h.role,
                "validity": h.validity,
                "risk": h.risk,
                "date": h.date.isoformat() if h.date else None,
                "access": h.access.value,
                "opening_date": h.opening_date.isoformat() if h.opening_date else None,
                "masked": h.masked,  # a stand-in for a restricted record: its redacted title, no content
                "exemption": h.exemption,
                "score": h.score,
                "snippet": h.snippet,
            }
            for h in results.hits
        ],
        "facets": {k: {f.value: f.count for f in v} for k, v in results.facets.items()},
        "next_after": results.next_after,  # pass as --page-after for the next page; null on the last
    }


def update_json(result: UpdateResult) -> dict[str, Any]:
    return {
        **package_json(result.commit.summary),
        "new_version": version_json(result.commit.version),
        "described": list(result.targets),
        "indexed": result.commit.indexed,
        "warnings": list(result.warnings),
    }


def access_change_json(change: AccessChange) -> dict[str, Any]:
    return {
        "package": change.rule.package,
        **access_json(change.rule),
        "previous": access_json(change.previous) if change.previous else None,
    }


def rebuild_json(report: RebuildReport) -> dict[str, Any]:
    return {
        "packages": report.packages,
        "files": report.files,
        "indexed": report.indexed,
        "journal_entries": report.journal_entries,
        "unreachable_locations": dict(report.unreachable),
    }


def upgrade_json(report: UpgradeReport) -> dict[str, Any]:
    return {
        "packages": report.packages,
        "files": report.files,
        "journal_entries": report.journal_entries,
        "already_done": report.already_done,
    }


def journal_json(report: JournalReport) -> dict[str, Any]:
    return {
        "entries": report.entries,
        "head": report.head,
        "problems": [
            {"sequence": p.sequence, "key": p.key, "line": p.line, "kind": p.kind, "detail": p.detail}
            for p in report.problems
        ],
    }


def audit_json(report: AuditReport) -> dict[str, Any]:
    plan = report.plan
    problems: dict[tuple[str, str], int] = {}
    for problem in report.verify.problems:
        problems[(problem.package, problem.location)] = problems.get((problem.package, problem.location), 0) + 1
    return {
        "copies": [
            {
                "package": c.summary.uuid,
                "name": c.summary.name,
                "location": c.location,
                "bytes": c.summary.bytes,
                "previously_checked": c.last_checked.isoformat() if c.last_checked else None,
                "problems": problems.get((c.summary.uuid, c.location), 0),
            }
            for c in plan.copies
        ],
        "unreachable_locations": dict(report.verify.unreachable),
        "repairs": [repair_json(r) for r in report.repairs],
        "repair_failures": dict(report.repair_failures),
        "checked_recently": plan.checked_recently,
        "left_for_later": plan.over_budget,
        "files_checked": report.verify.checked,
        "bytes_read": report.verify.bytes_read,
        "seconds": round(report.seconds, 3),
        "mb_per_second": round(report.read_mb_per_second, 2),
        "rate_limit_mb_per_second": report.rate_limit,
        "problems": [p.as_dict() for p in report.verify.problems],
    }


def repair_json(report: RepairReport) -> dict[str, Any]:
    return {
        "package": report.package,
        "name": report.name,
        "ok": report.ok,
        "good_copies": list(report.good),
        "healed": [
            {"location": loc, "from": source, "restored": list(restored), "removed": list(removed)}
            for loc, source, restored, removed in report.healed
        ],
        "still_damaged": [copy_check_json(c) for c in report.still_bad],
        "not_repaired": dict(report.skipped),
        "intact_nowhere": {loc: list(keys) for loc, keys in report.unrecoverable.items()},
        "checks": [copy_check_json(c) for c in report.checks],
    }


def replicate_json(report: ReplicateReport) -> dict[str, Any]:
    return {
        "copied": [
            {
                "package": c.object_id.rsplit(":", 1)[-1], "from": c.source, "to": c.target,
                "from_version": c.from_version, "to_version": c.to_version, "objects": c.files, "bytes": c.bytes,
                "reused": c.reused,
            }
            for c in report.copies
        ],
        "up_to_date": report.up_to_date,
        "journal_batches": report.journal_batches,
        "stale_partials_removed": report.stale_partials,
        "failures": [{"package": f.package, "location": f.location, "message": f.message} for f in report.failures],
        "unreachable_locations": dict(report.unreachable),
    }  # fmt: skip


def location_json(status: LocationStatus) -> dict[str, Any]:
    spec, usage = status.spec, status.usage
    return {
        "name": spec.name,
        "kind": spec.kind,
        "role": spec.role.value,
        "primary": status.primary,
        "where": spec.where(),
        "object_lock": spec.object_lock,
        "packages": usage.packages if usage else 0,
        "current": usage.current if usage else 0,
        "bytes": usage.bytes if usage else 0,
        "last_audit": {
            "oldest": usage.oldest_check.isoformat() if usage and usage.oldest_check else None,
            "newest": usage.newest_check.isoformat() if usage and usage.newest_check else None,
        },
        "failing": usage.failing if usage else 0,
    }


def job_json(job: JobRecord) -> dict[str, Any]:
    """A job as the web API answers it (GET /api/v1/jobs/ID) and `strongroom jobs --json` prints it."""
    return {
        "id": job.id, "kind": job.kind, "title": job.title, "owner": job.owner, "state": job.state.value,
        "finished_state": job.state.finished, "created": job.created.isoformat(),
        "started": job.started.isoformat() if job.started else None,
        "finished": job.finished.isoformat() if job.finished else None, "step": job.step, "done": job.done,
        "total": job.total, "chunks_total": job.chunks_total, "chunks_done": job.chunks_done,
        "result": dict(job.result) if job.result is not None else None, "error": job.error,
        "hint": list(job.details), "cancel_requested": job.cancel_requested, "params": dict(job.params),
    }  # fmt: skip
