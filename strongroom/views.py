"""The JSON shapes of results, made once in the library: the CLI's --json prints them, an HTTP API returns them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from strongroom.model import AccessRule, Event, FileRecord, PackageSummary, VersionRecord
from strongroom.search.base import SearchResults
from strongroom.storage.journal import JournalReport

if TYPE_CHECKING:
    from strongroom.archive import PackageDetails, UpdateResult
    from strongroom.ingest.pipeline import IngestReport
    from strongroom.maintenance import RebuildReport, UpgradeReport
    from strongroom.preservation.audit import AuditReport
    from strongroom.preservation.verify import PackageProblem, VerifyReport
    from strongroom.records.access import AccessChange


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


def verify_json(report: VerifyReport) -> dict[str, Any]:
    return {
        "mode": report.mode.value,
        "checked": report.checked,
        "packages": report.packages,
        "versions": report.versions,
        "problems": [p.as_dict() for p in report.problems],
    }


REPAIR_LATER = "Once replication is set up, `strongroom repair` will restore damaged files from a replica."
NOTHING_CHANGED = "Nothing has been changed: verify only reads (it recorded the failed check in the journal)."


def _versions_text(versions: tuple[int, ...]) -> str:
    if not versions:
        return "no version (not part of the package)"
    return f"version {versions[0]}" if len(versions) == 1 else f"versions {', '.join(map(str, versions))}"


def describe_problem(p: PackageProblem, packages: Mapping[str, PackageSummary]) -> str:
    """One problem for people: which package (by name), which version(s), what is wrong."""
    summary = packages.get(p.package)
    who = f"{summary.name} ({p.package})" if summary else p.package
    return f"{who}, {_versions_text(p.versions)}: {p.problem.describe()}"


def problem_next_step(p: PackageProblem, packages: Mapping[str, PackageSummary]) -> str:
    """What to do about one problem: restore a damaged or missing file; look into a stray one."""
    summary = packages.get(p.package)
    folder = f" in the package's storage folder {summary.storage_key}" if summary and summary.storage_key else ""
    if p.problem.kind == "unexpected" and not p.versions:
        return (
            f"Find out what put {p.problem.path} into storage; if it belongs to no package, move it out, "
            f"then run: strongroom verify {p.package}"
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
    return [
        "Restore each damaged or missing file from a backup or another copy of the storage: same path, "
        "same bytes (the expected checksum is given above).",
        REPAIR_LATER,
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
                "path": p.problem.path,
                "versions": list(p.versions),
                "message": describe_problem(p, packages),
                "next_step": problem_next_step(p, packages),
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
                "access": h.access.value,
                "opening_date": h.opening_date.isoformat() if h.opening_date else None,
                "score": h.score,
                "snippet": h.snippet,
            }
            for h in results.hits
        ],
        "facets": {k: {f.value: f.count for f in v} for k, v in results.facets.items()},
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
    return {
        "packages": [
            {
                "package": p.uuid,
                "name": p.name,
                "bytes": p.bytes,
                "previously_checked": plan.last_checked[p.uuid].isoformat() if p.uuid in plan.last_checked else None,
                "problems": report.problems_by_package.get(p.uuid, 0),
            }
            for p in plan.packages
        ],
        "checked_recently": plan.checked_recently,
        "left_for_later": plan.over_budget,
        "files_checked": report.verify.checked,
        "bytes_read": report.verify.bytes_read,
        "seconds": round(report.seconds, 3),
        "mb_per_second": round(report.read_mb_per_second, 2),
        "rate_limit_mb_per_second": report.rate_limit,
        "problems": [p.as_dict() for p in report.verify.problems],
    }
