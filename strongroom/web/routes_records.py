"""Records managers' pages and API: the overview, retention schedules, the due list and holds.

Disposal batches, a package's records view and the journal have modules of their own
(routes_records_disposal.py, routes_records_packages.py, routes_records_journal.py), included here.
Every route is a thin layer over the records library (records/*), which journals each change
with the operator `web:NAME`; the API answers the JSON the CLI prints with --json.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from strongroom.cli_retention import due_csv, due_json
from strongroom.errors import StrongroomError
from strongroom.records.disposal import propose
from strongroom.records.holds import (
    find_hold,
    hold_type,
    hold_view,
    place_hold,
    placement_view,
    release_hold,
    release_view,
)
from strongroom.records.model import BatchStatus, DisposalAction, Hold, HoldType
from strongroom.records.retention import due
from strongroom.records.schedules import MAX_SCHEDULE_BYTES, LoadReport, load_schedules, schedule_json
from strongroom.web import routes_records_disposal, routes_records_journal, routes_records_packages
from strongroom.web.api_models import (
    API_ERRORS,
    CONFLICT,
    DueAnswer,
    HoldAnswer,
    HoldList,
    HoldPlaced,
    HoldReleased,
    SchedulesAnswer,
    SchedulesLoaded,
)
from strongroom.web.context import context_of
from strongroom.web.pages import render
from strongroom.web.permissions import Permission, require
from strongroom.web.routes_records_forms import (
    FormError,
    RecordsManager,
    done,
    notice,
    optional,
    parse_day,
    references,
    refused_page,
    safe_upload_name,
    today,
)

API = "/api/v1/records"
MAX_TEXT = 4000  # a reason or reference typed into a form: words, not documents

# Every API operation's error answers, in the one shared shape (pages are left out of the document).
router = APIRouter(responses={**API_ERRORS, **CONFLICT})
router.include_router(routes_records_disposal.router)
router.include_router(routes_records_packages.router)
router.include_router(routes_records_journal.router)

HOLD_TYPES = tuple((t.value, t.value.upper() if t is HoldType.FOI else t.value.capitalize()) for t in HoldType)


# --- overview ------------------------------------------------------------------------------------


@router.get("/records", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.MANAGE_RECORDS)])  # fmt: skip
def records_overview(request: Request) -> Response:
    with context_of(request).archive() as archive:
        listed = due(archive, today())
        holds = archive.catalog.holds(active_only=True)
        batches = archive.catalog.disposal_batches()
        schedules = archive.catalog.schedules()
    by_status = {s: sum(1 for b in batches if b.status is s) for s in BatchStatus}
    counts = {
        "due": len(listed.due), "waiting": len(listed.waiting), "holds": len(holds),
        "awaiting_approval": by_status[BatchStatus.PROPOSED], "awaiting_execution": by_status[BatchStatus.APPROVED],
        "executing": by_status[BatchStatus.EXECUTING], "schedules": len(schedules),
    }  # fmt: skip
    return render(request, "records/overview.html", {"counts": counts, "as_of": listed.as_of})


# --- schedules -----------------------------------------------------------------------------------


def _schedules_context(request: Request) -> dict[str, Any]:
    with context_of(request).archive() as archive:
        current = archive.catalog.schedules()
        every = archive.catalog.schedules(all_versions=True)
    versions: dict[str, list[Any]] = {}
    for s in every:
        versions.setdefault(s.code, []).append(s)
    return {"schedules": current, "versions": versions, "max_mib": MAX_SCHEDULE_BYTES // (1024 * 1024),
            "notice": notice(request), "form": {}}  # fmt: skip


@router.get("/records/schedules", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.MANAGE_RECORDS)])  # fmt: skip
def schedules_page(request: Request) -> Response:
    return render(request, "records/schedules.html", _schedules_context(request))


def _load_upload(request: Request, upload: UploadFile | None, reason: str | None, operator: str) -> LoadReport:
    """Save the uploaded schedule file under a safe name in a folder of its own, and load it (all or nothing)."""
    if upload is None or not (upload.filename or "").strip():
        raise FormError("Choose a schedule file to load.", "schedule-file",
                        details=("A .toml file of [[schedule]] tables or a .csv file with a header row.",))  # fmt: skip
    name = safe_upload_name(upload.filename, "schedules")
    suffix = Path(name).suffix.lower()
    if suffix not in (".toml", ".csv"):
        raise FormError("The schedule file must be a .toml or a .csv file.", "schedule-file",
                        details=("Save the spreadsheet as CSV UTF-8, or write the schedules as TOML.",))  # fmt: skip
    body = upload.file.read(MAX_SCHEDULE_BYTES + 1)
    if len(body) > MAX_SCHEDULE_BYTES:
        raise FormError(
            f"The schedule file is larger than {MAX_SCHEDULE_BYTES // (1024 * 1024)} MiB.",
            "schedule-file",
            details=("A retention schedule is a few hundred rows; check the file.",),
        )
    with tempfile.TemporaryDirectory(prefix="strongroom-schedule-") as folder:
        path = Path(folder) / name
        path.write_bytes(body)
        with context_of(request).archive() as archive:
            return load_schedules(archive, path, reason=optional(reason), operator=operator)


@router.post("/records/schedules", response_class=HTMLResponse, include_in_schema=False)
def schedules_load(
    request: Request,
    principal: RecordsManager,
    schedule_file: Annotated[UploadFile | None, File()] = None,
    reason: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    try:
        report = _load_upload(request, schedule_file, reason, principal.operator)
    except StrongroomError as err:
        context = _schedules_context(request) | {"form": {"reason": reason}}
        return refused_page(request, "records/schedules.html", context, err, "schedule-file")
    return done("/records/schedules", "loaded" if report.loaded else "unchanged")


def _load_json(report: LoadReport) -> dict[str, Any]:
    return {
        "loaded": [{"code": s.code, "version": s.version, "changed": s.changed} for s in report.loaded],
        "unchanged": report.unchanged, "source_sha256": report.source_sha256, "notes": list(report.notes),
    }  # fmt: skip


@router.get(f"{API}/schedules", response_model=SchedulesAnswer,
            tags=["records"], dependencies=[require(Permission.MANAGE_RECORDS)])  # fmt: skip
def api_schedules(request: Request, all_versions: bool = False) -> JSONResponse:
    """The retention schedules (current versions; every version with all_versions=true): `retention list --json`."""
    with context_of(request).archive() as archive:
        schedules = archive.catalog.schedules(all_versions=all_versions)
    return JSONResponse({"schedules": [schedule_json(s) for s in schedules]})


@router.post(f"{API}/schedules", response_model=SchedulesLoaded, tags=["records"], status_code=201)
def api_schedules_load(
    request: Request,
    file: Annotated[UploadFile, File(description="A .toml ([[schedule]] tables) or .csv schedule file.")],
    principal: RecordsManager,
    reason: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> JSONResponse:
    """Load a schedule file (all or nothing): `retention load --json`."""
    report = _load_upload(request, file, reason, principal.operator)
    return JSONResponse(_load_json(report), status_code=201)


# --- the due list --------------------------------------------------------------------------------


def _as_of(text: str | None) -> date:
    return parse_day(text, "the day to list what is due on", "as-of") or today()


def _csv_download(body: str, filename: str) -> Response:
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


@router.get("/records/due", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.MANAGE_RECORDS)])  # fmt: skip
def due_page(request: Request, as_of: str | None = None) -> Response:
    try:
        day = _as_of(as_of)
    except FormError as err:  # the list for today, with the date that could not be read kept in its box
        context = _due_context(request, today()) | {"form": {"as_of": as_of or ""}}
        return refused_page(request, "records/due.html", context, err, "as-of")
    return render(request, "records/due.html", _due_context(request, day) | {"notice": notice(request)})


@router.get("/records/due.csv", include_in_schema=False, dependencies=[require(Permission.MANAGE_RECORDS)])
def due_csv_download(request: Request, as_of: str | None = None) -> Response:
    day = _as_of(as_of)
    with context_of(request).archive() as archive:
        listed = due(archive, day)
    return _csv_download(due_csv(listed), f"due-{day.isoformat()}.csv")


@router.get(f"{API}/due", response_model=DueAnswer, tags=["records"], dependencies=[require(Permission.MANAGE_RECORDS)],
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})  # fmt: skip
def api_due(
    request: Request,
    as_of: Annotated[date | None, Query(description="List what is due on this day (default: today).")] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$", description="json (default) or csv.")] = "json",
) -> Response:
    """Packages due for disposal or review, and those waiting for a trigger date: `retention due --json|--csv`."""
    day = as_of or today()
    with context_of(request).archive() as archive:
        listed = due(archive, day)
    if format == "csv":
        return _csv_download(due_csv(listed), f"due-{day.isoformat()}.csv")
    return JSONResponse(due_json(listed))


@router.post("/records/disposal/propose", response_class=HTMLResponse, include_in_schema=False)
def propose_from_due(
    request: Request,
    principal: RecordsManager,
    as_of: Annotated[str, Form(max_length=40)] = "",
    package: Annotated[list[str] | None, Form(max_length=40)] = None,
    selecting: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    """Propose a batch of what is due for destruction or transfer on the day shown (the library leaves out the held,
    those already in an open batch and those due for review). The due list's form sends `selecting` with the ticked
    packages, so none ticked is told apart from a form without the choice (which proposes everything due)."""
    chosen = list(package or []) if selecting else None
    try:
        day = _as_of(as_of)
    except StrongroomError as err:
        context = _due_context(request, today()) | {"form": {"as_of": as_of}}
        return refused_page(request, "records/due.html", context, err, "as-of")
    try:
        if chosen is not None and not chosen:
            raise StrongroomError("Select at least one package to propose for disposal.",
                                  details=["Tick the packages to propose in the table of packages due."])  # fmt: skip
        with context_of(request).archive() as archive:
            proposal = propose(archive, day, principal.operator, only=chosen)
    except StrongroomError as err:
        context = _due_context(request, day) | {"form": {"as_of": day.isoformat(), "packages": chosen}}
        return refused_page(request, "records/due.html", context, err, "packages")
    if proposal.batch is None:
        return done(f"/records/due?as_of={day.isoformat()}", "nothing-due")
    return done(f"/records/disposal/{proposal.batch.id}", "proposed")


def _due_context(request: Request, day: date) -> dict[str, Any]:
    with context_of(request).archive() as archive:
        listed = due(archive, day)
        holds = {h.id: h for h in archive.catalog.holds(active_only=True)}
        open_batches = [b for b in archive.catalog.disposal_batches()
                        if b.status in (BatchStatus.PROPOSED, BatchStatus.APPROVED, BatchStatus.EXECUTING)]  # fmt: skip
    # The due packages that a batch may take (propose() leaves the others out): they get a tick box.
    proposable = {item.package for item in listed.due if item.due and not item.holds and not item.batch
                  and item.action in (DisposalAction.DESTROY, DisposalAction.TRANSFER)}  # fmt: skip
    return {"listed": listed, "as_of": day, "holds": holds, "open_batches": open_batches, "notice": None,
            "proposable": proposable, "form": {"as_of": day.isoformat()}}  # fmt: skip


# --- holds ---------------------------------------------------------------------------------------


def _holds_context(request: Request, show_all: bool) -> dict[str, Any]:
    with context_of(request).archive() as archive:
        holds = archive.catalog.holds(active_only=not show_all)
    return {"holds": list(reversed(holds)), "show_all": show_all, "hold_types": HOLD_TYPES,
            "notice": notice(request), "form": {}}  # fmt: skip


@router.get("/records/holds", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.MANAGE_RECORDS)])  # fmt: skip
def holds_page(request: Request, all: bool = False) -> Response:
    return render(request, "records/holds.html", _holds_context(request, all))


def _place(request: Request, operator: str, *, kind: str, reason: str, authority: str | None, reference: str | None,
           packages: list[str], query: str | None) -> Hold:  # fmt: skip
    if not kind.strip():
        raise FormError("Choose the type of hold.", "hold-type")
    if packages and query:
        raise FormError(
            "Name the packages or give a search, not both.",
            "hold-packages",
            details=("A hold placed by a search keeps the search with it; place two holds for both.",),
        )
    if not packages and not query:
        raise FormError("Name the packages to hold, or give a search that finds them.", "hold-packages")
    with context_of(request).archive() as archive:
        placement = place_hold(archive, packages=packages, query=query, type=hold_type(kind), reason=reason,
                               authority=authority, reference=reference, operator=operator)  # fmt: skip
    return placement.hold


@router.post("/records/holds", response_class=HTMLResponse, include_in_schema=False)
def holds_place(
    request: Request,
    principal: RecordsManager,
    type: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    authority: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    reference: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    packages: Annotated[str, Form(max_length=200_000)] = "",
    query: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    try:
        hold = _place(request, principal.operator, kind=type, reason=reason, authority=optional(authority),
                      reference=optional(reference), packages=references(packages), query=optional(query))  # fmt: skip
    except StrongroomError as err:
        form = {"type": type, "reason": reason, "authority": authority, "reference": reference,
                "packages": packages, "query": query}  # fmt: skip
        field = "hold-reason" if "reason" in err.message.lower() else "hold-packages"
        return refused_page(request, "records/holds.html", _holds_context(request, False) | {"form": form}, err,
                            field)  # fmt: skip
    return done(f"/records/holds/{hold.id}", "placed")


def _hold_context(request: Request, ref: str) -> dict[str, Any]:
    with context_of(request).archive() as archive:
        hold = find_hold(archive, ref)
        names = {}
        for package in hold.packages[:500]:
            summary = archive.catalog.find_package(package)
            stub = archive.catalog.stub(package) if summary is None else None
            names[package] = summary.name if summary else (f"{stub.title} (disposed of)" if stub else "")
    return {"hold": hold, "names": names, "notice": notice(request), "form": {}}


@router.get("/records/holds/{hold_id}", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.MANAGE_RECORDS)])  # fmt: skip
def hold_page(request: Request, hold_id: str) -> Response:
    return render(request, "records/hold.html", _hold_context(request, hold_id))


@router.post("/records/holds/{hold_id}/release", response_class=HTMLResponse, include_in_schema=False)
def hold_release(
    request: Request,
    hold_id: str,
    principal: RecordsManager,
    reason: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    try:
        with context_of(request).archive() as archive:
            report = release_hold(archive, hold_id, reason=reason, operator=principal.operator)
    except StrongroomError as err:
        context = _hold_context(request, hold_id) | {"form": {"reason": reason}}
        return refused_page(request, "records/hold.html", context, err, "release-reason")
    return done(f"/records/holds/{report.hold.id}", "released")


class HoldRequest(BaseModel):
    type: str = Field(description="litigation, foi, audit or investigation (eir, foi/eir and legal are aliases).",
                      max_length=40)  # fmt: skip
    reason: str = Field(max_length=MAX_TEXT)
    packages: list[str] = Field(default_factory=list, max_length=100_000, description="Package references.")
    query: str | None = Field(default=None, max_length=MAX_TEXT, description="Hold what an archivist search finds.")
    authority: str | None = Field(default=None, max_length=MAX_TEXT)
    reference: str | None = Field(default=None, max_length=MAX_TEXT)


class ReasonRequest(BaseModel):
    reason: str = Field(max_length=MAX_TEXT)


@router.get(f"{API}/holds", response_model=HoldList,
            tags=["records"], dependencies=[require(Permission.MANAGE_RECORDS)])  # fmt: skip
def api_holds(request: Request, all: bool = False, package: str | None = None) -> JSONResponse:
    """The active holds (with all=true, released ones too), oldest first: `hold list --json`."""
    with context_of(request).archive() as archive:
        uuid = archive.package(package).uuid if package else None
        holds = archive.catalog.holds(package=uuid, active_only=not all)
    return JSONResponse({"holds": [hold_view(h) for h in holds]})


@router.post(f"{API}/holds", response_model=HoldPlaced, tags=["records"], status_code=201)
def api_holds_place(request: Request, body: HoldRequest, principal: RecordsManager) -> JSONResponse:
    """Place a hold on packages or on what a search finds: `hold place --json`."""
    packages = [p.strip() for p in body.packages if p.strip()]
    query = optional(body.query)
    if packages and query:
        raise StrongroomError("Name packages or give a query, not both.")
    with context_of(request).archive() as archive:
        placement = place_hold(archive, packages=packages, query=query, type=hold_type(body.type),
                               reason=body.reason, authority=optional(body.authority),
                               reference=optional(body.reference), operator=principal.operator)  # fmt: skip
    return JSONResponse(placement_view(placement), status_code=201)


@router.get(f"{API}/holds/{{hold_id}}", response_model=HoldAnswer,
            tags=["records"], dependencies=[require(Permission.MANAGE_RECORDS)])  # fmt: skip
def api_hold(request: Request, hold_id: str) -> JSONResponse:
    """One hold, by id or a unique prefix of 8 or more characters."""
    with context_of(request).archive() as archive:
        return JSONResponse(hold_view(find_hold(archive, hold_id)))


@router.post(f"{API}/holds/{{hold_id}}/release", response_model=HoldReleased, tags=["records"])
def api_hold_release(request: Request, hold_id: str, body: ReasonRequest, principal: RecordsManager) -> JSONResponse:
    """Release a hold (its packages stay held while another hold covers them): `hold release --json`."""
    with context_of(request).archive() as archive:
        report = release_hold(archive, hold_id, reason=body.reason, operator=principal.operator)
    return JSONResponse(release_view(report))
