"""Packages, their files and downloads: pages and the API (what `strongroom show --json --as ROLE` prints).

Every answer is decided by viewing_packages / records.viewing before anything is read from storage: a
researcher (or the public) gets the same 404 for a closed package as for none, a restricted package's
stand-in only, and no file, copy or version of a record that is not open today. Staff see everything, and
each staff look at a closed or restricted record (package, file, download) is journalled.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from strongroom import views
from strongroom.archive import Archive, PackageDetails
from strongroom.indexing import PACKAGE_TARGET, effective_access
from strongroom.model import AccessStatus, FileRecord
from strongroom.records.viewing import ResearcherDetails, RestrictedView, not_found, stands_in
from strongroom.reports.dashboard import AGE_BUCKETS
from strongroom.reports.package_list import MAX_LIMIT, MAX_NAME_FILTER, PackageFilter, list_packages, package_row_json
from strongroom.web.api_models import API_ERRORS, FileShown, PackageListItem, PackageShown, RestrictedStandIn
from strongroom.web.context import context_of
from strongroom.web.downloads import download_response
from strongroom.web.pages import render
from strongroom.web.permissions import Permission, Principal, require
from strongroom.web.viewing_packages import (
    EVENTS_SHOWN,
    FILES_PER_PAGE,
    StoredFile,
    access_copy_of,
    content_of,
    download_href,
    file_href,
    has_closed_records,
    is_shut,
    journal_staff_access,
    locate,
    may_download,
    package_href,
    package_named,
    staff_extras,
)

# Every API operation's error answers, in the one shared shape (pages are left out of the document).
router = APIRouter(responses=API_ERRORS)

# Everyone may ask (the public too); what they get is decided by principal.viewer.
Reader = Annotated[Principal, require(Permission.READ_OPEN)]

Version = Annotated[int | None, Query(ge=1, le=1_000_000, description="A version number (staff); default the current.")]
Page = Annotated[int, Query(ge=1, le=1_000_000, description="Page of the file list, from 1.")]


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


# --- the list (staff) ----------------------------------------------------------------------------------------


AccessFilter = Annotated[AccessStatus | None, Query(description="Only packages with this access status today.")]
AuditFilter = Annotated[str | None, Query(max_length=40, description=f"Only packages whose least recently checked "
                                          f"copy's age is one of: {', '.join(AGE_BUCKETS)}.")]  # fmt: skip
NameFilter = Annotated[str | None, Query(max_length=MAX_NAME_FILTER, description="Only packages whose name or "
                                         "title contains this (case ignored).")]  # fmt: skip


def _filters(access: AccessStatus | None, audit: str | None, name: str | None) -> PackageFilter:
    return PackageFilter(access=access, audit=audit or None, name=(name or "").strip() or None)


@router.get("/packages", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.VIEW_PRESERVATION)])  # fmt: skip
def packages_page(request: Request, page: Page = 1, access: str | None = None, audit: AuditFilter = None,
                  name: NameFilter = None) -> HTMLResponse:  # fmt: skip
    status = next((s for s in AccessStatus if s.value == access), None)  # an unknown value lists every status
    filters = _filters(status, audit if audit in AGE_BUCKETS else None, name)
    with context_of(request).archive() as archive:
        listed = list_packages(archive, filters, offset=(page - 1) * FILES_PER_PAGE, limit=FILES_PER_PAGE)
        if not listed.rows and listed.total and page > 1:  # past the end: the last page instead
            page = -(-listed.total // FILES_PER_PAGE)
            listed = list_packages(archive, filters, offset=(page - 1) * FILES_PER_PAGE, limit=FILES_PER_PAGE)
    last = max(1, -(-listed.total // FILES_PER_PAGE))
    query = {k: v for k, v in (("access", status.value if status else ""), ("audit", filters.audit or ""),
                               ("name", filters.name or "")) if v}  # fmt: skip
    return render(request, "packages/list.html", {
        "rows": listed.rows, "total": listed.total, "page": page, "last": last, "package_href": package_href,
        "filters": filters, "statuses": list(AccessStatus), "buckets": AGE_BUCKETS, "filtered": bool(query),
        "page_href": lambda n: "/packages?" + urlencode({**query, "page": n}),
    })  # fmt: skip


@router.get("/api/v1/packages", tags=["packages"], summary="Packages with their access, last audit and fixity",
            dependencies=[require(Permission.VIEW_PRESERVATION)], response_model=list[PackageListItem])  # fmt: skip
def packages_api(
    request: Request,
    access: AccessFilter = None,
    audit: AuditFilter = None,
    name: NameFilter = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Skip this many packages.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many packages.")] = 100,
) -> JSONResponse:
    """`strongroom list --json`'s fields for each package (oldest first), with its access status today, its last
    audit (the least recently checked copy; null if a copy was never checked) and fixity. The number of packages
    the filters match is in the X-Total-Count header; the next page's address in the Link header."""
    with context_of(request).archive() as archive:
        listed = list_packages(archive, _filters(access, audit, name), offset=offset, limit=limit)
    headers = {"X-Total-Count": str(listed.total)}
    if offset + limit < listed.total:
        following = request.url.include_query_params(offset=offset + limit, limit=limit)
        headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return JSONResponse([package_row_json(row) for row in listed.rows], headers=headers)


# --- one package ---------------------------------------------------------------------------------------------


def _viewed(
    archive: Archive, ref: str, principal: Principal, what: str
) -> PackageDetails | RestrictedView | ResearcherDetails:
    """The package as the principal may see it; staff looks at closed records are journalled."""
    today = _today()
    if not principal.viewer.sees_closed:
        # Decided before the package's files, events and descriptions are read: a closed package costs
        # a researcher's request no more work than one that does not exist.
        summary = package_named(archive, ref, principal.viewer, today)
        rule = effective_access(archive.catalog.access_rules(summary.uuid), None)
        if is_shut(rule, today) and not stands_in(rule, today):
            raise not_found(ref)
    elif "\x00" in ref:
        raise not_found(ref)  # as for any unknown package (PostgreSQL cannot compare a NUL)
    viewed = archive.details(ref, principal.viewer, today)
    if isinstance(viewed, PackageDetails) and has_closed_records(viewed.access, today):
        journal_staff_access(archive, principal.operator, viewed.summary.uuid, what)
    return viewed


def show_json(viewed: PackageDetails | RestrictedView | ResearcherDetails, files: int | None = None) -> dict[str, Any]:
    """Exactly what `strongroom show --json [--files N]` prints for the same view."""
    if isinstance(viewed, RestrictedView):
        return views.restricted_view_json(viewed)
    details = viewed.details if isinstance(viewed, ResearcherDetails) else viewed
    data = views.details_json(details)
    if isinstance(viewed, ResearcherDetails):
        data.update(views.researcher_extras_json(viewed))
    if files is not None:
        data["files"] = data["files"][:files]
    return data


@router.get("/api/v1/packages/{ref}", response_model=PackageShown | RestrictedStandIn, tags=["packages"],
            summary="One package as the caller's role may see it")  # fmt: skip
def package_api(
    request: Request, ref: str, principal: Reader,
    files: Annotated[int | None, Query(ge=0, le=10_000_000, description="List only this many files.")] = None,
) -> JSONResponse:  # fmt: skip
    """What `strongroom show REF --json --as ROLE` prints; a closed package is answered as no package at all."""
    with context_of(request).archive() as archive:
        viewed = _viewed(archive, ref, principal, "package (API)")
    return JSONResponse(show_json(viewed, files))


@router.get("/packages/{ref}", response_class=HTMLResponse, include_in_schema=False)
def package_page(request: Request, ref: str, principal: Reader,
                 page: Page = 1) -> HTMLResponse:  # fmt: skip
    today = _today()
    with context_of(request).archive() as archive:
        viewed = _viewed(archive, ref, principal, "package page")
        if isinstance(viewed, RestrictedView):
            return render(request, "packages/standin.html", {"view": viewed})
        details = viewed.details if isinstance(viewed, ResearcherDetails) else viewed
        extras = staff_extras(archive, details.summary.uuid) if isinstance(viewed, PackageDetails) else None
    files = sorted(details.files, key=lambda f: (f.role.value != "original", f.path))
    last = max(1, -(-len(files) // FILES_PER_PAGE))
    page = min(page, last)
    uuid = details.summary.uuid
    rows = [
        _file_row(uuid, f, details, principal, today)
        for f in files[(page - 1) * FILES_PER_PAGE : page * FILES_PER_PAGE]
    ]
    by_target = {d.target: d for d in details.descriptions}
    return render(request, "packages/package.html", {
        "summary": details.summary, "description": by_target.get(PACKAGE_TARGET), "rows": rows, "page": page,
        "last": last, "file_count": len(files), "staff": extras is not None, "extras": extras,
        "versions": sorted(details.versions, key=lambda v: -v.number),
        "events": sorted(details.events, key=lambda e: e.datetime, reverse=True)[:EVENTS_SHOWN],
        "event_count": len(details.events), "rules": details.access, "today": today,
        "withheld": viewed.withheld if isinstance(viewed, ResearcherDetails) else 0,
        "masked": viewed.masked if isinstance(viewed, ResearcherDetails) else (),
        "href": package_href(uuid), "records_href": f"/records/packages/{uuid}",
        "manages_records": principal.may(Permission.MANAGE_RECORDS),
    })  # fmt: skip


def _file_row(package: str, record: FileRecord, details: PackageDetails, principal: Principal,
              today: dt.date) -> dict[str, Any]:  # fmt: skip
    ident = record.identification
    rule = effective_access(details.access, record.path)
    return {"record": record, "href": file_href(package, record.path),
            "download": download_href(package, record.path) if may_download(principal.viewer, record) else None,
            "format": (ident.format_name or ident.puid) if ident else None,
            "status": rule.status.value if is_shut(rule, today) and rule is not None else "open"}  # fmt: skip


# --- one file ------------------------------------------------------------------------------------------------


def _located(archive: Archive, ref: str, path: str, principal: Principal, version: int | None, what: str,
             *, download: bool = False) -> StoredFile:  # fmt: skip
    stored = locate(archive, ref, path, principal.viewer, _today(), version, download=download)
    if principal.viewer.sees_closed and stored.closed_today:
        journal_staff_access(archive, principal.operator, stored.summary.uuid, f"{what} {stored.path} (version "
                             f"{stored.version})")  # fmt: skip
    return stored


def file_json(archive: Archive, stored: StoredFile, principal: Principal) -> dict[str, Any]:
    """One file as the viewer may see it: format, size, checksum, access copy, download address;
    staff also its characterisation and access rule."""
    uuid = stored.summary.uuid
    current = stored.version == stored.summary.version
    data: dict[str, Any] = {"package": uuid, "package_name": stored.summary.name, "version": stored.version,
                            "current": current}  # fmt: skip
    if stored.record is not None:
        data.update(views.file_json(stored.record))
    else:
        data.update({"path": stored.path, "sha256": stored.sha256})
    record = stored.record
    allowed = record is None or may_download(principal.viewer, record)
    data["download"] = download_href(uuid, stored.path, None if current else stored.version) if allowed else None
    copy = None
    if record is not None and current:
        copy = access_copy_of(list(archive.catalog.files(uuid)), record)
        if (
            copy is not None
            and not principal.viewer.sees_closed
            and is_shut(effective_access(stored.rules, copy.path), _today())
        ):
            copy = None  # fmt: skip
    data["access_copy"] = (
        None if copy is None else {**views.file_json(copy), "download": download_href(uuid, copy.path)}
    )
    if principal.viewer.sees_closed:
        data["access"] = views.access_json(stored.rule) if stored.rule is not None else None
        if record is not None:
            data["validity"] = record.validity.value if record.validity else None
            data["characterisation"] = [
                {"tool": t.tool, "version": t.version, "well_formed": t.well_formed, "valid": t.valid,
                 "format": t.format_name, "messages": list(t.messages)}
                for t in record.characterisation
            ]  # fmt: skip
    return data


@router.get("/api/v1/packages/{ref}/files/{path:path}", response_model=FileShown, tags=["packages"],
            summary="One file of a package")  # fmt: skip
def file_api(request: Request, ref: str, path: str, principal: Reader,
             version: Version = None) -> JSONResponse:  # fmt: skip
    with context_of(request).archive() as archive:
        stored = _located(archive, ref, path, principal, version, "file (API)")
        return JSONResponse(file_json(archive, stored, principal))


@router.get("/packages/{ref}/files/{path:path}", response_class=HTMLResponse, include_in_schema=False)
def file_page(request: Request, ref: str, path: str, principal: Reader,
              version: Version = None) -> HTMLResponse:  # fmt: skip
    with context_of(request).archive() as archive:
        stored = _located(archive, ref, path, principal, version, "file page")
        data = file_json(archive, stored, principal)
        events = []
        if principal.viewer.sees_closed and stored.record is not None:
            events = archive.catalog.events(stored.summary.uuid, file_uuid=stored.record.uuid)
    return render(request, "packages/file.html", {
        "stored": stored, "file": data, "events": sorted(events, key=lambda e: e.datetime, reverse=True),
        "staff": principal.viewer.sees_closed, "package_href": package_href(stored.summary.uuid),
    })  # fmt: skip


# --- downloads -----------------------------------------------------------------------------------------------


def _download(request: Request, ref: str, path: str, principal: Principal, version: int | None) -> Response:
    with context_of(request).archive() as archive:
        stored = _located(archive, ref, path, principal, version, "download", download=True)
        content = content_of(archive, stored)
        return download_response(request, archive.ocfl.backend, stored, content)


@router.api_route("/packages/{ref}/download/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
def download_page(request: Request, ref: str, path: str, principal: Reader,
                  version: Version = None) -> Response:  # fmt: skip
    return _download(request, ref, path, principal, version)


DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes"},
    206: {"description": "Part of the file (one Range)"},
    416: {"description": "The Range asked for lies past the end of the file"},
}


@router.get("/api/v1/packages/{ref}/download/{path:path}", tags=["packages"], response_class=Response,
            summary="The bytes of one file (one Range supported)", responses=DOWNLOAD_RESPONSES,
            operation_id="download_file")  # fmt: skip
def download_api(request: Request, ref: str, path: str, principal: Reader, version: Version = None) -> Response:
    return _download(request, ref, path, principal, version)


@router.head("/api/v1/packages/{ref}/download/{path:path}", tags=["packages"], response_class=Response,
             summary="A download's headers: size, type, ETag", responses=DOWNLOAD_RESPONSES,
             operation_id="download_file_headers")  # fmt: skip
def download_api_head(request: Request, ref: str, path: str, principal: Reader, version: Version = None) -> Response:
    return _download(request, ref, path, principal, version)
