"""The journal on the web: newest entries first, paged and filtered by package and UTC days, with its verification
status (the whole hash chain is checked on each view), CSV and JSON exports, and the API.

The entries come from records/audit_log.py, as `journal export` prints them: a package's name is its
redacted title while it is closed (where one is set), CSV cells are safe to open in a spreadsheet.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from strongroom import views
from strongroom.errors import StrongroomError
from strongroom.records.audit_log import AuditLog, audit_log, log_json, rows_csv
from strongroom.web.api_models import API_ERRORS, JournalPage, JournalVerified
from strongroom.web.context import context_of
from strongroom.web.pages import render
from strongroom.web.permissions import Permission, require
from strongroom.web.routes_records_forms import FormError, optional, parse_day, refused_page

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

# Every API operation's error answers, in the one shared shape (pages are left out of the document).
router = APIRouter(responses=API_ERRORS)


def _log(request: Request, start: date | None, end: date | None, package: str | None) -> AuditLog:
    with context_of(request).archive() as archive:
        return audit_log(archive, start, end, package)


def _status(log: AuditLog) -> dict[str, Any]:
    """The banner's facts: intact, or where the first damage is."""
    first = log.problems[0] if log.problems else None
    return {
        "verified": log.verified, "damaged_at": first.sequence if first else None,
        "problem": first.describe() if first else log.unreadable, "problems": len(log.problems),
    }  # fmt: skip


def _page_of(log: AuditLog, page: int, size: int) -> tuple[list[Any], int]:
    """One page of the entries, newest first, and how many pages there are."""
    newest = list(reversed(log.rows))
    pages = max(1, -(-len(newest) // size))
    page = min(page, pages)
    return newest[(page - 1) * size : page * size], pages


@router.get("/journal", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.VIEW_JOURNAL)])  # fmt: skip
def journal_page(
    request: Request,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    package: Annotated[str, Query(max_length=200)] = "",
    start: Annotated[str, Query(alias="from", max_length=40)] = "",
    end: Annotated[str, Query(alias="to", max_length=40)] = "",
) -> Response:
    form = {"package": package, "from": start, "to": end}
    problem: StrongroomError | None = None
    try:
        first = parse_day(start, "the first day", "journal-from")
        last = parse_day(end, "the last day", "journal-to")
        log = _log(request, first, last, optional(package))
    except StrongroomError as err:  # a filter that cannot be read: the whole journal, with the error above it
        problem = err
        log = _log(request, None, None, None)
    rows, pages = _page_of(log, page, PAGE_SIZE)
    query = {k: v for k, v in (("package", package), ("from", start), ("to", end)) if v}
    context = {"rows": rows, "page": min(page, pages), "pages": pages, "total": len(log.rows), "status": _status(log),
               "form": form, "query": query, "filtered": bool(query)}  # fmt: skip
    if problem is not None:
        field = problem.field_id if isinstance(problem, FormError) else "journal-package"
        return refused_page(request, "journal/journal.html", context, problem, field)
    return render(request, "journal/journal.html", context)


@router.get("/journal/export.csv", include_in_schema=False, dependencies=[require(Permission.VIEW_JOURNAL)])
def journal_csv(
    request: Request,
    package: Annotated[str | None, Query(max_length=200)] = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    log = _log(request, start, end, optional(package))
    return Response(rows_csv(log.rows).encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="journal.csv"',
                             "X-Journal-Verified": "true" if log.verified else "false"})  # fmt: skip


@router.get("/journal/export.json", include_in_schema=False, dependencies=[require(Permission.VIEW_JOURNAL)])
def journal_json_export(
    request: Request,
    package: Annotated[str | None, Query(max_length=200)] = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    log = _log(request, start, end, optional(package))
    body = json.dumps(log_json(log), ensure_ascii=False, indent=2).encode("utf-8")
    return Response(body, media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="journal.json"'})  # fmt: skip


@router.get("/api/v1/journal", response_model=JournalPage,
            tags=["journal"], dependencies=[require(Permission.VIEW_JOURNAL)])  # fmt: skip
def api_journal(
    request: Request,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
    package: Annotated[str | None, Query(max_length=200, description="Only this package's entries.")] = None,
    start: Annotated[date | None, Query(alias="from", description="From this UTC day (inclusive).")] = None,
    end: Annotated[date | None, Query(alias="to", description="Up to this UTC day (inclusive).")] = None,
) -> JSONResponse:
    """One page of the journal, newest first, in the shape of `journal export --json` (verified, problems,
    unreadable, entries) with page, pages and total."""
    log = _log(request, start, end, optional(package))
    rows, pages = _page_of(log, page, per_page)
    data = log_json(AuditLog(tuple(rows), log.verified, log.problems, log.unreadable))
    return JSONResponse(data | {"page": min(page, pages), "pages": pages, "total": len(log.rows)})


@router.get("/api/v1/journal/verify", response_model=JournalVerified,
            tags=["journal"], dependencies=[require(Permission.VIEW_JOURNAL)])  # fmt: skip
def api_journal_verify(request: Request) -> JSONResponse:
    """Check the journal's hash chain: `journal verify --json` (no problems: intact)."""
    with context_of(request).archive() as archive:
        report = archive.journal_verify()
    return JSONResponse(views.journal_json(report))
