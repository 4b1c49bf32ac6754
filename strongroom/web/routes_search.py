"""Search: GET /api/v1/search (what `strongroom search --json --as ROLE` prints) and the /search page.

Both run one SearchQuery as the principal's viewer role: a researcher's query never reaches a closed
record (not as a hit, a count or a snippet); restricted records appear as their stand-ins only.
The page does no work per hit beyond formatting what the index returned (it serves the load test).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from strongroom import views
from strongroom.archive import Archive
from strongroom.errors import StrongroomError
from strongroom.search.base import FACETS, SearchResults
from strongroom.web.api_models import API_ERRORS, SearchAnswer
from strongroom.web.context import context_of
from strongroom.web.pages import render
from strongroom.web.permissions import Permission, Principal, require
from strongroom.web.viewing_search import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    SearchForm,
    build_query,
    chosen_facets,
    facet_options,
    facet_titles,
    given,
    hit_view,
    page_facets,
    pagination,
)

# Every API operation's error answers, in the one shared shape (pages are left out of the document).
router = APIRouter(responses=API_ERRORS)

# Everyone may ask (the public too); what they get is decided by principal.viewer.
Reader = Annotated[Principal, require(Permission.READ_OPEN)]

Sort = Literal["relevance", "newest", "oldest"]


def search_form(
    q: Annotated[str, Query(max_length=1000, description='Words to find: all must match; "a phrase", OR, NOT or '
                            "-word, word* for a prefix. Empty: everything the filters allow.")] = "",
    page: Annotated[int, Query(ge=1, le=10_000, description="Page number, from 1.")] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Hits per page.")] = PAGE_SIZE,
    after: Annotated[str | None, Query(max_length=2000, description="The next_after cursor of a previous page: "
                                       "the page after it, however deep (page is then ignored).")] = None,
    sort: Sort = "relevance",
    puid: Annotated[str | None, Query(max_length=200, description="Only files of this PRONOM format.")] = None,
    format: Annotated[str | None, Query(max_length=500, description="Only files of this format name.")] = None,
    risk: Annotated[str | None, Query(max_length=20, description="low, medium, high or unknown.")] = None,
    creator: Annotated[str | None, Query(max_length=500, description="Only this Dublin Core creator.")] = None,
    package: Annotated[str | None, Query(max_length=500, description="Only this package (UUID or name).")] = None,
    access: Annotated[str | None, Query(max_length=20, description="open, closed or restricted.")] = None,
    validity: Annotated[str | None, Query(max_length=20, description="A characterisation verdict.")] = None,
    kind: Annotated[str | None, Query(max_length=20, description="package or file.")] = None,
    date_from: Annotated[str | None, Query(alias="from", max_length=20,
                                           description="Dated on or after: YYYY, YYYY-MM or YYYY-MM-DD.")] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=20,
                                         description="Dated on or before: YYYY, YYYY-MM or YYYY-MM-DD.")] = None,
    facet: Annotated[list[str] | None, Query(max_length=20, description=f"Count hits by: {', '.join(FACETS)}; "
                                             "repeatable or comma-separated; all or none.")] = None,
    include_housekeeping: Annotated[bool, Query(description="Also the packages' own files (METS, "
                                                "metadata.csv, logs).")] = False,
) -> SearchForm:  # fmt: skip
    return SearchForm(
        q=q.strip(), page=page, page_size=page_size, after=given(after), sort=sort, puid=given(puid),
        format=given(format), risk=given(risk), creator=given(creator), package=given(package),
        access=given(access), validity=given(validity), kind=given(kind), date_from=given(date_from),
        date_to=given(date_to), facets=tuple(facet) if facet is not None else None,
        include_housekeeping=include_housekeeping,
    )  # fmt: skip


Form = Annotated[SearchForm, Depends(search_form)]


def run_search(archive: Archive, form: SearchForm, principal: Principal, facets: tuple[str, ...]) -> SearchResults:
    viewer = principal.viewer
    package_uuid = None
    if form.package:  # as the viewer may know of it: a closed package is as unknown as none at all
        from strongroom.records.viewing import known_package, not_found

        if "\x00" in form.package:
            raise not_found(form.package)  # as for any unknown package (PostgreSQL cannot compare a NUL)
        package_uuid = known_package(archive, form.package, viewer, dt.datetime.now(dt.UTC).date()).uuid
    return archive.search(build_query(form, viewer, package_uuid, facets))


@router.get("/api/v1/search", response_model=SearchAnswer, tags=["search"],
            summary="Search the records as the caller's role")  # fmt: skip
def search_api(request: Request, principal: Reader, form: Form) -> JSONResponse:
    """The JSON `strongroom search --json` prints for the same query, as the caller's role sees it."""
    with context_of(request).archive() as archive:
        results = run_search(archive, form, principal, chosen_facets(form))
    return JSONResponse(views.search_json(results))


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(request: Request, principal: Reader, form: Form) -> HTMLResponse:
    viewer = principal.viewer
    facets = page_facets(viewer)
    problem: StrongroomError | None = None
    with context_of(request).archive() as archive:
        try:
            results = run_search(archive, form, principal, facets)
        except StrongroomError as exc:  # shown above the form, as GOV.UK pages show a problem
            problem, results = exc, SearchResults(0, ())
    hits = [hit_view(h) for h in results.hits]
    first = 0 if form.after else (form.page - 1) * form.page_size
    return render(request, "search/search.html", {
        "form": form, "results": results, "hits": hits, "facets": facet_options(results, form),
        "facet_titles": facet_titles(), "pages": pagination(form, results.total) if not form.after else [],
        "first": first + 1, "last": first + len(hits), "staff": viewer.sees_closed,
        "next_href": form.link(after=results.next_after, page=None) if form.after and results.next_after else None,
        "searched": bool(form.q or form.filters()), "problem": problem,
    }, 400 if problem else 200)  # fmt: skip
