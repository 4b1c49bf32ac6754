"""Preservation pages and API: the dashboard, formats and their risk, locations, audits, migrations; job forms.

Every page reads aggregates (reports/dashboard.py), never the files of each package, so it answers quickly
at any size. Starting long work (audit, replicate, migrate, rebuild) queues a job and sends the browser to
its page under /jobs; the API answers {"job": id}.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from strongroom import views
from strongroom.archive import Archive
from strongroom.errors import NotFound, StrongroomError
from strongroom.model import Outcome
from strongroom.reports.dashboard import (
    CopyCheck,
    Dashboard,
    audit_coverage,
    build_dashboard,
    copy_checks,
    format_name,
    format_slices,
    migration_proposals,
    proposal_json,
    risk_slices,
)
from strongroom.reports.profile import GroupBy
from strongroom.web.api_models import (
    API_ERRORS,
    CONFLICT,
    AuditsAnswer,
    DashboardAnswer,
    JobStarted,
    LocationAnswer,
    ProfileAnswer,
    ProposalsAnswer,
)
from strongroom.web.charts import audit_chart, dashboard_charts, format_charts, human_bytes, risk_chart
from strongroom.web.context import context_of
from strongroom.web.jobs_preservation import (
    AUDIT,
    MIGRATE,
    REBUILD,
    REPLICATE,
    audit_params,
    migrate_params,
)
from strongroom.web.pages import render
from strongroom.web.permissions import Permission, Principal, require

# Every API operation's error answers, in the one shared shape (pages are left out of the document).
router = APIRouter(responses={**API_ERRORS, **CONFLICT})
API = "/api/v1"
RECENT_CHECKS = 50
TITLES = {AUDIT: "Audit stored copies", REPLICATE: "Replicate to storage locations", MIGRATE: "Migrate at-risk formats",
          REBUILD: "Rebuild the catalog and index"}  # fmt: skip


def _dashboard(request: Request) -> Dashboard:
    with context_of(request).archive() as archive:
        return build_dashboard(archive)


# --- the dashboard -------------------------------------------------------------------------------------------


@router.get("/preservation", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.VIEW_PRESERVATION)])  # fmt: skip
def dashboard_page(request: Request) -> HTMLResponse:
    dashboard = _dashboard(request)
    charts = dashboard_charts(dashboard)
    return render(request, "preservation/dashboard.html",
                  {"dashboard": dashboard, "charts": charts, "human_bytes": human_bytes})  # fmt: skip


@router.get(f"{API}/reports/dashboard", tags=["preservation"], summary="Every series behind the preservation charts",
            response_model=DashboardAnswer, dependencies=[require(Permission.VIEW_PRESERVATION)])  # fmt: skip
def dashboard_api(request: Request) -> JSONResponse:
    return JSONResponse(_dashboard(request).to_json())


# --- formats -------------------------------------------------------------------------------------------------


def profile_json(archive: Archive) -> dict[str, Any]:
    """Exactly what `strongroom formats --json` prints."""
    profile = archive.collection_profile(GroupBy.PUID)
    return {"by": profile.by.value, "package": profile.package, "registry_version": profile.registry_version,
            "rows": profile.records(), "totals": profile.totals.as_dict()}  # fmt: skip


@router.get(f"{API}/formats/profile", tags=["preservation"], summary="The collection profile (formats --json)",
            response_model=ProfileAnswer, dependencies=[require(Permission.VIEW_PRESERVATION)])  # fmt: skip
def profile_api(request: Request) -> JSONResponse:
    with context_of(request).archive() as archive:
        return JSONResponse(profile_json(archive))


@router.get("/preservation/formats", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.VIEW_PRESERVATION)])  # fmt: skip
def formats_page(request: Request) -> HTMLResponse:
    with context_of(request).archive() as archive:
        profile = archive.collection_profile(GroupBy.PUID)
    formats = format_slices(profile)
    files_chart, bytes_chart = format_charts(formats)
    return render(request, "preservation/formats.html", {
        "profile": profile, "formats": formats, "files_chart": files_chart, "bytes_chart": bytes_chart,
        "risk_chart": risk_chart(risk_slices(formats)), "human_bytes": human_bytes,
    })  # fmt: skip


UNIDENTIFIED = "unidentified"


@router.get("/preservation/formats/{puid:path}", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.VIEW_PRESERVATION)])  # fmt: skip
def format_page(request: Request, puid: str) -> HTMLResponse:
    wanted = None if puid == UNIDENTIFIED else puid
    with context_of(request).archive() as archive:
        profile = archive.collection_profile(GroupBy.PACKAGE)
        rating = archive.format_risks().rate(wanted)
    rows = [r for r in profile.rows if r.puid == wanted]
    if not rows:
        raise NotFound(f"No original file of the archive has format {puid!r}.",
                       details=["See the formats held at /preservation/formats."])  # fmt: skip
    name = format_name(wanted, rows[0].format_name, rows[0].format_version)
    rows.sort(key=lambda r: (-r.files, r.package_name or "", r.package or ""))
    return render(request, "preservation/format.html", {
        "puid": puid, "name": name, "rating": rating, "rows": rows, "files": sum(r.files for r in rows),
        "bytes": sum(r.bytes for r in rows), "human_bytes": human_bytes,
    })  # fmt: skip


# --- locations -----------------------------------------------------------------------------------------------


def locations_json(archive: Archive) -> list[dict[str, Any]]:
    """`location list --json`'s rows, each with whether its storage answers now."""
    rows = []
    for status in archive.location_statuses():
        row = views.location_json(status)
        try:
            location = archive.location(status.spec.name)
            location.storage.stat(f"{location.ocfl.prefix}/0=ocfl_1.1")
            row["reachable"], row["problem"] = True, None
        except StrongroomError as err:
            row["reachable"], row["problem"] = False, err.message
        rows.append(row)
    return rows


@router.get(f"{API}/locations", tags=["preservation"], summary="Storage locations with their copies and last audit",
            response_model=list[LocationAnswer], dependencies=[require(Permission.VIEW_PRESERVATION)])  # fmt: skip
def locations_api(request: Request) -> JSONResponse:
    with context_of(request).archive() as archive:
        return JSONResponse(locations_json(archive))


@router.get("/preservation/locations", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.VIEW_PRESERVATION)])  # fmt: skip
def locations_page(request: Request) -> HTMLResponse:
    with context_of(request).archive() as archive:
        rows = locations_json(archive)
    return render(request, "preservation/locations.html", {"locations": rows, "human_bytes": human_bytes})


# --- audits --------------------------------------------------------------------------------------------------


def check_json(check: CopyCheck, several_locations: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "package": check.package, "name": check.name, "location": check.location,
        "checked": check.checked.isoformat(timespec="seconds") if check.checked else None,
        "outcome": check.outcome, "problems": check.problems,
    }  # fmt: skip
    if check.outcome == Outcome.FAILURE.value:
        # What `strongroom verify` would advise (views.verify_next_steps), for one copy.
        row["next_step"] = (
            'Repair it from a good copy in another location: start an audit below with "Repair damaged copies from '
            f'a good copy" ticked (or run: strongroom repair {check.package})'
            if several_locations
            else "Restore the damaged files from a backup, then check again with an audit below "
            f"(or run: strongroom verify {check.package})"
        )
    return row


def recent_checks(archive: Archive, limit: int = RECENT_CHECKS) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The most recent copy checks, and every copy whose last check failed (with what to do next)."""
    several = len(archive.settings.all_locations) > 1
    recent, failing = copy_checks(archive, limit)
    return [check_json(c, several) for c in recent], [check_json(c, several) for c in failing]


@router.get(f"{API}/audits", tags=["preservation"], summary="Audit coverage, recent checks and failing copies",
            response_model=AuditsAnswer, dependencies=[require(Permission.VIEW_PRESERVATION)])  # fmt: skip
def audits_api(request: Request) -> JSONResponse:
    with context_of(request).archive() as archive:
        coverage = audit_coverage(archive, datetime.now(UTC))
        recent, failing = recent_checks(archive)
    return JSONResponse({"packages": coverage.packages, "checked": coverage.checked, "failing": coverage.failing,
                         "oldest_check": coverage.oldest.isoformat(timespec="seconds") if coverage.oldest else None,
                         "ages": [{"age": a, "packages": n} for a, n in coverage.ages],
                         "recent": recent, "problems": failing})  # fmt: skip


@router.get("/preservation/audits", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.VIEW_PRESERVATION)])  # fmt: skip
def audits_page(request: Request) -> HTMLResponse:
    with context_of(request).archive() as archive:
        coverage = audit_coverage(archive, datetime.now(UTC))
        recent, failing = recent_checks(archive)
        locations = [s.name for s in archive.settings.all_locations]
    return render(request, "preservation/audits.html", {"coverage": coverage, "chart": audit_chart(coverage),
                  "recent": recent, "failing": failing, "locations": locations})  # fmt: skip


# --- migrations ----------------------------------------------------------------------------------------------


@router.get(f"{API}/migrations/proposals", tags=["preservation"], summary="At-risk formats and the policy's plan",
            response_model=ProposalsAnswer, dependencies=[require(Permission.VIEW_PRESERVATION)])  # fmt: skip
def proposals_api(request: Request) -> JSONResponse:
    with context_of(request).archive() as archive:
        version, proposals = migration_proposals(archive, format_slices(archive.collection_profile(GroupBy.PUID)))
        failures = archive.migration_failures()
    return JSONResponse({"policy_version": version, "proposals": [proposal_json(p) for p in proposals],
                         "failures": [f.to_json() for f in failures]})  # fmt: skip


@router.get("/preservation/migrations", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.VIEW_PRESERVATION)])  # fmt: skip
def migrations_page(request: Request) -> HTMLResponse:
    with context_of(request).archive() as archive:
        version, proposals = migration_proposals(archive, format_slices(archive.collection_profile(GroupBy.PUID)))
        failures = archive.migration_failures()
    return render(request, "preservation/migrations.html", {"policy_version": version, "proposals": proposals,
                  "failures": failures, "human_bytes": human_bytes})  # fmt: skip


# --- starting jobs -------------------------------------------------------------------------------------------


def _submit(request: Request, principal: Principal, kind: str, params: dict[str, Any]) -> str:
    location = params.get("location")
    if location:
        with context_of(request).archive() as archive:
            try:  # checked now, so a mistyped name is answered at once rather than as a failed job
                archive.spec(location)
            except NotFound as err:
                raise StrongroomError(err.message, details=err.details) from err
    record = context_of(request).jobs.submit(kind, {**params, "operator": principal.operator},
                                             owner=principal.name or "", title=TITLES[kind])  # fmt: skip
    return record.id


def _body(body: dict[str, Any] | None) -> dict[str, Any]:
    if body is not None and not isinstance(body, dict):
        raise StrongroomError("The request body must be a JSON object.", details=["Send {} for the defaults."])
    return dict(body or {})


Runner = Annotated[Principal, require(Permission.RUN_PRESERVATION)]
Admin = Annotated[Principal, require(Permission.ADMIN)]
JsonBody = Annotated[dict[str, Any] | None, Body()]
Text = Annotated[str, Form(max_length=200)]


@router.post(f"{API}/preservation/audit", response_model=JobStarted,
             tags=["preservation"], summary="Start an audit job", status_code=202)  # fmt: skip
def audit_api(request: Request, principal: Runner, body: JsonBody = None) -> JSONResponse:  # fmt: skip
    return JSONResponse({"job": _submit(request, principal, AUDIT, audit_params(_body(body)))}, status_code=202)


@router.post(f"{API}/preservation/replicate", response_model=JobStarted,
             tags=["preservation"], summary="Start a replicate job", status_code=202)  # fmt: skip
def replicate_api(request: Request, principal: Runner, body: JsonBody = None) -> JSONResponse:  # fmt: skip
    location = _body(body).get("location")
    if location is not None and not isinstance(location, str):
        raise StrongroomError("location must be text.", details=["Give a location's name, or leave it out."])
    return JSONResponse({"job": _submit(request, principal, REPLICATE, {"location": location or None})},
                        status_code=202)  # fmt: skip


@router.post(f"{API}/preservation/migrate", response_model=JobStarted,
             tags=["preservation"], summary="Start a migrate job", status_code=202)  # fmt: skip
def migrate_api(request: Request, principal: Runner, body: JsonBody = None) -> JSONResponse:  # fmt: skip
    return JSONResponse({"job": _submit(request, principal, MIGRATE, migrate_params(_body(body)))}, status_code=202)


@router.post(f"{API}/preservation/rebuild", response_model=JobStarted,
             tags=["preservation"], summary="Start a rebuild job", status_code=202)  # fmt: skip
def rebuild_api(request: Request, principal: Admin) -> JSONResponse:
    return JSONResponse({"job": _submit(request, principal, REBUILD, {})}, status_code=202)


def _to_job(job: str) -> RedirectResponse:
    return RedirectResponse(f"/jobs/{job}", status_code=303)


@router.post("/preservation/audit", include_in_schema=False)
def audit_form(request: Request, principal: Runner, older_than: Text = "", max_bytes: Text = "", rate: Text = "",
               location: Text = "", repair: Text = "") -> RedirectResponse:  # fmt: skip
    params = audit_params({"older_than": older_than, "max_bytes": max_bytes, "rate": rate, "location": location,
                           "repair": repair})  # fmt: skip
    return _to_job(_submit(request, principal, AUDIT, params))


@router.post("/preservation/replicate", include_in_schema=False)
def replicate_form(request: Request, principal: Runner, location: Text = "") -> RedirectResponse:  # fmt: skip
    return _to_job(_submit(request, principal, REPLICATE, {"location": location.strip() or None}))


@router.post("/preservation/migrate", include_in_schema=False)
def migrate_form(request: Request, principal: Runner, risk: Text = "", puid: Text = "", dry_run: Text = "",
                 retry_failed: Text = "") -> RedirectResponse:  # fmt: skip
    params = migrate_params({"risk": risk, "puids": [p for p in puid.replace(",", " ").split() if p],
                             "dry_run": dry_run, "retry_failed": retry_failed})  # fmt: skip
    return _to_job(_submit(request, principal, MIGRATE, params))


@router.post("/preservation/rebuild", include_in_schema=False)
def rebuild_form(request: Request, principal: Admin) -> RedirectResponse:
    return _to_job(_submit(request, principal, REBUILD, {}))
