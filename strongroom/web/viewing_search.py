"""A search asked for over the web, as the same SearchQuery `strongroom search` builds, and what a results page shows.

The API (/api/v1/search) and the page (/search) take the same parameters; both build one SearchQuery for the
principal's viewer role, so a researcher's query can never reach a closed record (search/base.py decides that).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from strongroom.errors import StrongroomError
from strongroom.model import AccessStatus, Validity
from strongroom.search.base import (
    ALL_ROLES,
    FACETS,
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    KINDS,
    MAX_WINDOW,
    SORTS,
    Role,
    SearchHit,
    SearchQuery,
    SearchResults,
    readable_snippet,
)
from strongroom.search.query import period_day
from strongroom.web.viewing_packages import file_href, package_href

# What `strongroom search` counts when no facet is asked for: the API answers the same JSON for the same query.
DEFAULT_FACETS = ("package", "puid", "access", "validity")
# What the page counts (its filters): the package facet is left out, as naming its packages would cost a
# catalog read per value on the load test's path.
PAGE_FACETS_PUBLIC = ("format", "creator")
PAGE_FACETS_STAFF = ("format", "creator", "access", "validity", "risk")
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
RISKS = ("low", "medium", "high", "unknown")
_DAY = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class SearchRequestError(StrongroomError):
    """A search parameter that cannot be read (answered 400 with what to write instead)."""


@dataclass(frozen=True)
class SearchForm:
    """The parameters of one web search, as given (empty strings already read as "not given")."""

    q: str = ""
    page: int = 1
    page_size: int = PAGE_SIZE
    after: str | None = None
    sort: str = "relevance"
    puid: str | None = None
    format: str | None = None
    risk: str | None = None
    creator: str | None = None
    package: str | None = None
    access: str | None = None
    validity: str | None = None
    kind: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    facets: tuple[str, ...] | None = None  # None: the defaults
    include_housekeeping: bool = False

    def filters(self) -> dict[str, str]:
        """The filters given, by their parameter names (for links that keep them)."""
        named = {"puid": self.puid, "format": self.format, "risk": self.risk, "creator": self.creator,
                 "package": self.package, "access": self.access, "validity": self.validity, "kind": self.kind,
                 "from": self.date_from, "to": self.date_to}  # fmt: skip
        return {k: v for k, v in named.items() if v}

    def link(self, **changes: object) -> str:
        """The search page's address for this search with `changes` (a value of None drops the parameter)."""
        params: dict[str, object] = {"q": self.q, **self.filters(), "sort": self.sort,
                                     "page_size": self.page_size, "page": self.page}  # fmt: skip
        if self.include_housekeeping:
            params["include_housekeeping"] = "true"
        params.update(changes)
        kept = [(k, str(v)) for k, v in params.items() if v not in (None, "")]
        kept = [(k, v) for k, v in kept if not (k == "sort" and v == "relevance")
                and not (k == "page" and v == "1") and not (k == "page_size" and v == str(PAGE_SIZE))]  # fmt: skip
        return "/search" + (f"?{urlencode(kept)}" if kept else "")


def given(value: str | None) -> str | None:
    """A form field's value, or None when it was left empty."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def day(text: str, *, end: bool, name: str) -> dt.date:
    """YYYY, YYYY-MM or YYYY-MM-DD: the period's first day, or with `end` its last day."""
    try:
        return period_day(text, end=end)
    except ValueError as exc:
        raise SearchRequestError(
            f"{name} {exc}", details=["Write a year (1999), a month (1999-06) or a day (1999-06-30)."]
        ) from None


def _one_of(name: str, value: str | None, allowed: Sequence[str]) -> str | None:
    if value is not None and value not in allowed:
        listed = ", ".join(allowed)
        raise SearchRequestError(f"{name} {value!r} is not one of {listed}.",
                                 details=[f"Give {name} as one of: {listed}; or leave it out."])  # fmt: skip
    return value


def chosen_facets(form: SearchForm) -> tuple[str, ...]:
    if form.facets is None:
        return DEFAULT_FACETS
    names: list[str] = []
    for item in form.facets:
        for name in (part.strip().lower() for part in item.split(",")):
            if name == "all":
                names.extend(FACETS)
            elif name in FACETS:
                names.append(name)
            elif name and name != "none":
                listed = ", ".join(FACETS)
                raise SearchRequestError(f"facet {name!r} is not one of {listed}.",
                                         details=[f"Give facet as any of: {listed}, all or none."])  # fmt: skip
    return tuple(dict.fromkeys(names))


def build_query(form: SearchForm, viewer: Role, package_uuid: str | None, facets: tuple[str, ...]) -> SearchQuery:
    """The SearchQuery `strongroom search --as VIEWER` builds for the same filters (the package already resolved
    as the viewer may know of it). SearchRequestError names a parameter that cannot be read."""
    _one_of("sort", form.sort, SORTS)
    access = _one_of("access", form.access, tuple(AccessStatus))
    _one_of("validity", form.validity, tuple(Validity))
    _one_of("risk", form.risk, RISKS)
    _one_of("kind", form.kind, KINDS)
    date_from = day(form.date_from, end=False, name="from") if form.date_from else None
    date_to = day(form.date_to, end=True, name="to") if form.date_to else None
    if date_from and date_to and date_from > date_to:
        raise SearchRequestError("from is after to: nothing can match.", details=["Swap the two dates."])
    if not 1 <= form.page_size <= MAX_PAGE_SIZE:
        raise SearchRequestError(f"page_size must be from 1 to {MAX_PAGE_SIZE}.")
    offset = 0 if form.after else (form.page - 1) * form.page_size
    if offset + form.page_size > MAX_WINDOW:
        raise SearchRequestError(
            f"Page {form.page} is deeper than the first {MAX_WINDOW} results a search can page through.",
            details=["Narrow the search with more words or filters, or page on with the next_after cursor "
                     "(the after parameter)."],
        )  # fmt: skip
    return SearchQuery(
        text=form.q, viewer=viewer, puid=form.puid, package=package_uuid, kind=form.kind,
        access=AccessStatus(access) if access else None, validity=form.validity,
        roles=ALL_ROLES if form.include_housekeeping else None, format_name=form.format, risk=form.risk,
        creator=form.creator, date_from=date_from, date_to=date_to, facets=facets, sort=form.sort, offset=offset,
        limit=form.page_size, after=form.after,
    )  # fmt: skip


# --- what the page shows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    text: str
    marked: bool


def snippet_segments(snippet: str | None) -> list[Segment]:
    """A backend's snippet as plain-text pieces, the matched words marked. The template escapes every piece,
    so nothing in the record's text (or the backend's markup) is ever taken as HTML."""
    if not snippet:
        return []
    segments: list[Segment] = []
    rest = readable_snippet(snippet)  # SearchHit cleans its own; a snippet from elsewhere is cleaned here
    while rest:
        start = rest.find(HIGHLIGHT_START)
        if start < 0:
            segments.append(Segment(rest, False))
            break
        end = rest.find(HIGHLIGHT_END, start + len(HIGHLIGHT_START))
        if end < 0:
            segments.append(Segment(rest.replace(HIGHLIGHT_START, ""), False))
            break
        if start:
            segments.append(Segment(rest[:start], False))
        word = rest[start + len(HIGHLIGHT_START) : end]
        if word:
            segments.append(Segment(word, True))
        rest = rest[end + len(HIGHLIGHT_END) :]
    return [s for s in segments if s.text]


@dataclass(frozen=True)
class HitView:
    """One result as the page lists it; a stand-in has a title and exemption only."""

    masked: bool
    title: str
    reference: str  # the Dublin Core identifier(s), else the package name
    href: str | None
    date: str | None
    format: str | None
    access: str
    exemption: str | None
    kind: str  # "package" or "record"
    where: str | None  # a record's path within its package
    segments: list[Segment] = field(default_factory=list)


def hit_view(hit: SearchHit) -> HitView:
    identifiers = "; ".join(hit.dublin_core.get("identifier", ()))
    if hit.masked:
        # A stand-in shows its redacted title and exemption; a stand-in of a whole package has its (stand-in) page.
        href = f"/packages/{hit.package}" if hit.path is None and hit.role is None else None
        return HitView(True, hit.title or "Restricted record", identifiers, href,
                       hit.date.isoformat() if hit.date else None, None, hit.access.value, hit.exemption,
                       "package" if href else "record", None)  # fmt: skip
    href = package_href(hit.package) if hit.path is None else file_href(hit.package, hit.path)
    title = hit.title or hit.name or (hit.path.rpartition("/")[2] if hit.path else hit.package_name)
    return HitView(False, title, identifiers or hit.package_name, href, hit.date.isoformat() if hit.date else None,
                   hit.format_name or hit.puid, hit.access.value, hit.exemption,
                   "package" if hit.path is None else "record", hit.path, snippet_segments(hit.snippet))  # fmt: skip


@dataclass(frozen=True)
class FacetOption:
    value: str
    count: int
    checked: bool


def facet_options(results: SearchResults, form: SearchForm) -> dict[str, list[FacetOption]]:
    chosen = {"format": form.format, "creator": form.creator, "access": form.access, "validity": form.validity,
              "risk": form.risk, "puid": form.puid}  # fmt: skip
    options: dict[str, list[FacetOption]] = {}
    for name, counts in results.facets.items():
        listed = [FacetOption(c.value, c.count, chosen.get(name) == c.value) for c in counts[:20]]
        picked = chosen.get(name)
        if picked and not any(o.checked for o in listed):  # keep the chosen value selectable, even at 0
            listed.insert(0, FacetOption(picked, 0, True))
        options[name] = listed
    return options


@dataclass(frozen=True)
class PageLink:
    number: int | None  # None: an ellipsis
    href: str
    current: bool


def pagination(form: SearchForm, total: int) -> list[PageLink]:
    """Numbered pages around the current one (first and last always), within the pageable window."""
    last = max(1, min(-(-total // form.page_size), MAX_WINDOW // form.page_size))
    wanted = sorted({1, last, *range(max(1, form.page - 2), min(last, form.page + 2) + 1)})
    links: list[PageLink] = []
    previous = 0
    for number in wanted:
        if number - previous > 1:
            links.append(PageLink(None, "", False))
        links.append(PageLink(number, form.link(page=number, after=None), number == form.page))
        previous = number
    return links


def page_facets(viewer: Role) -> tuple[str, ...]:
    return PAGE_FACETS_STAFF if viewer.sees_closed else PAGE_FACETS_PUBLIC


def facet_titles() -> Mapping[str, str]:
    return {"format": "Format", "creator": "Creator", "access": "Access", "validity": "Validity",
            "risk": "Format risk", "puid": "PRONOM format", "package": "Package"}  # fmt: skip
