"""`strongroom search`: free text, filters, facets, sorting and deep paging, as a given role."""

from __future__ import annotations

import datetime as dt
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from typer._click.core import ParameterSource

from strongroom import views
from strongroom.cli_common import HomeOption, JsonFlag
from strongroom.cli_common import open_archive as _archive
from strongroom.cli_output import PACKAGE_HELP, Command, console, errors, fail, print_json
from strongroom.model import AccessStatus, Validity
from strongroom.search.base import (
    ALL_ROLES,
    FACETS,
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    KINDS,
    SORTS,
    SearchHit,
    SearchQuery,
    SearchResults,
    role_named,
)
from strongroom.search.query import period_day

# What `search` shows when no --facet is given: the counts a reader uses to narrow a search.
DEFAULT_FACETS = ("package", "puid", "access", "validity")
FILTER_KEYS = ("puid", "format", "risk", "creator", "package", "access", "validity", "kind", "from", "to")
_RISKS = ("low", "medium", "high", "unknown")
_DAY = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


@dataclass
class Filters:
    """What --filter KEY=VALUE options (and the older --puid/--package/--validity) ask for."""

    values: dict[str, str] = field(default_factory=dict)
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def _day(text: str, *, end: bool) -> dt.date:
    """YYYY, YYYY-MM or YYYY-MM-DD; a period's first day (`end` False) or last day (`end` True)."""
    try:
        return period_day(text, end=end)
    except ValueError as exc:
        raise ValueError(f"{exc}: write YYYY, YYYY-MM or YYYY-MM-DD") from None


def parse_filters(given: Sequence[str]) -> Filters:
    """Read KEY=VALUE filters; ValueError with a message a person can act on when one is wrong."""
    filters = Filters()
    for item in given:
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or key not in FILTER_KEYS or not value:
            raise ValueError(f"--filter {item!r} is not KEY=VALUE with KEY one of {', '.join(FILTER_KEYS)}")
        if key in filters.values or (key == "from" and filters.date_from) or (key == "to" and filters.date_to):
            raise ValueError(f"--filter {key}= is given twice; a search takes one value per filter")
        if key == "from":
            filters.date_from = _day(value, end=False)
        elif key == "to":
            filters.date_to = _day(value, end=True)
        elif key == "access" and value not in tuple(AccessStatus):
            raise ValueError(f"--filter access= takes open or closed, not {value!r}")
        elif key == "validity" and value not in tuple(Validity):
            raise ValueError(f"--filter validity= takes one of {', '.join(Validity)}, not {value!r}")
        elif key == "risk" and value not in _RISKS:
            raise ValueError(f"--filter risk= takes one of {', '.join(_RISKS)}, not {value!r}")
        elif key == "kind" and value not in KINDS:
            raise ValueError(f"--filter kind= takes package or file, not {value!r}")
        else:
            filters.values[key] = value
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise ValueError("--filter from= is after to=: nothing can match")
    return filters


def _facets(given: Sequence[str]) -> tuple[str, ...]:
    if not given:
        return DEFAULT_FACETS
    names: list[str] = []
    for item in given:
        for name in (part.strip().lower() for part in item.split(",")):
            if name == "all":
                names.extend(FACETS)
            elif name == "none":
                continue
            elif name in FACETS:
                names.append(name)
            elif name:
                raise ValueError(f"--facet {name!r} is not one of {', '.join(FACETS)} (or all, none)")
    return tuple(dict.fromkeys(names))


def search_command(
    ctx: typer.Context,
    query: Annotated[
        str,
        typer.Argument(
            help='Words to find: all must match; "a phrase", OR, NOT or -word, word* for a prefix, ( ) to group. '
            "Leave out to list everything the filters allow."
        ),
    ] = "",
    filters: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            help="KEY=VALUE, repeatable: puid, format, risk, creator, package, access, validity, kind (package or "
            "file), from and to (dates: YYYY, YYYY-MM or YYYY-MM-DD, inclusive).",
        ),
    ] = None,
    facet: Annotated[
        list[str] | None,
        typer.Option(
            "--facet", help=f"Count hits by: {', '.join(FACETS)}; repeatable or comma-separated; all or none."
        ),
    ] = None,
    sort: Annotated[str, typer.Option(help=f"Order: {', '.join(SORTS)}.")] = "relevance",
    page_after: Annotated[
        str | None, typer.Option("--page-after", help="The cursor a previous page printed: show the page after it.")
    ] = None,
    puid: Annotated[str | None, typer.Option(help="Only files of this PRONOM format (e.g. fmt/43).")] = None,
    package: Annotated[str | None, typer.Option(help=f"Only this package: {PACKAGE_HELP}.")] = None,
    validity: Annotated[
        Validity | None,
        typer.Option(help="Only files with this characterisation verdict (e.g. invalid: files to look at)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many hits to show.")] = 20,
    offset: Annotated[int, typer.Option(help="Skip this many hits (shallow paging; deeper: --page-after).")] = 0,
    as_role: Annotated[
        str, typer.Option("--as", help="Search as this role: researcher (open records only), archivist or admin.")
    ] = "archivist",
    include_housekeeping: Annotated[
        bool,
        typer.Option(
            "--include-housekeeping",
            help="Also find the package's own files: its METS, metadata.csv, submission documentation and logs.",
        ),
    ] = False,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Search the records: their text, Dublin Core, names, paths and formats, as a given role.

    A researcher (also any unknown role) sees open records only; archivist and admin see closed ones too.
    Hits are the records and packages; the packages' own housekeeping files only with --include-housekeeping.
    """
    viewer = role_named(as_role)
    try:
        chosen = parse_filters(filters or [])
        facets = _facets(facet or [])
    except ValueError as exc:
        fail(str(exc), as_json=as_json, hints=["See: strongroom search --help"])
    if sort not in SORTS:
        fail(f"--sort {sort!r} is not one of {', '.join(SORTS)}.", as_json=as_json)
    if limit < 1 or offset < 0:
        fail("--limit must be 1 or more and --offset 0 or more.", as_json=as_json)
    values = chosen.values
    for key, old in (("puid", puid), ("package", package), ("validity", validity.value if validity else None)):
        if old is not None:
            if key in values and values[key] != old:
                fail(f"--{key} and --filter {key}= disagree; give one.", as_json=as_json)
            values[key] = old
    with errors(as_json), _archive(ctx, home) as archive:
        package_uuid = None
        if "package" in values:  # as the viewer may know of it: a closed package is as unknown as none
            from strongroom.records.viewing import known_package

            day = dt.datetime.now(dt.UTC).date()
            package_uuid = known_package(archive, values["package"], viewer, day).uuid
        access = values.get("access")
        results = archive.search(
            SearchQuery(
                text=query, viewer=viewer, puid=values.get("puid"), package=package_uuid, kind=values.get("kind"),
                access=AccessStatus(access) if access else None, validity=values.get("validity"),
                roles=ALL_ROLES if include_housekeeping else None, format_name=values.get("format"),
                risk=values.get("risk"), creator=values.get("creator"), date_from=chosen.date_from,
                date_to=chosen.date_to, facets=facets, sort=sort, offset=offset, limit=limit, after=page_after,
            )
        )  # fmt: skip
    if as_json:
        print_json(views.search_json(results))
        return
    _print_results(results, viewer.value, ctx)


def _marked(snippet: str) -> str:
    """A snippet for the terminal: its own text escaped, the matched words in bold."""
    return escape(snippet).replace(HIGHLIGHT_START, "[bold]").replace(HIGHLIGHT_END, "[/bold]")


def _where(hit: SearchHit) -> str:
    """The Path cell: a record's path, or what stands in for one (a stand-in of a file is not the package)."""
    if hit.path:
        return escape(hit.path)
    if hit.masked and hit.role is not None:
        return "(a record of the package: not shown)"
    return "(whole package)"


def _print_results(results: SearchResults, role: str, ctx: typer.Context) -> None:
    out = console()
    shown = len(results.hits)
    out.print(f"{results.total} match(es), searching as {role}" + (f"; {shown} shown." if shown else "."))
    if results.hits:
        table = Table("Package", "Title", "Format", "Date", "Access")
        table.add_column("Path", overflow="fold")
        table.add_column("Found in", overflow="fold")
        for h in results.hits:
            table.add_row(
                escape(h.package_name), escape(h.title or ""), escape(h.format_name or h.puid or ""),
                h.date.isoformat() if h.date else "", h.access.value, _where(h), _marked(h.snippet or ""),
            )  # fmt: skip
        out.print(table)
    for name, counts in results.facets.items():
        if counts:
            listed = ", ".join(f"{escape(c.value)} ({c.count})" for c in counts[:10])
            more = f", and {len(counts) - 10} more (--json lists all)" if len(counts) > 10 else ""
            out.print(f"[bold]{name}[/]: {listed}{more}", highlight=False)
    if results.next_after:
        again = shlex.join(next_page_argv(ctx, results.next_after))
        out.print(f"Next page: {escape(again)}", highlight=False, soft_wrap=True)


def next_page_argv(ctx: typer.Context, cursor: str) -> list[str]:
    """The command for the page after this one: this search's options (as parsed, not as typed) and the cursor.

    --offset is left out: the cursor says where the next page starts, and a search takes one or the other.
    """
    params = ctx.params
    argv = ["strongroom"]
    home = params.get("home")
    parent = ctx.parent
    if home is None and parent is not None and parent.get_parameter_source("home") is ParameterSource.COMMANDLINE:
        home = parent.params.get("home")
    if home is not None:
        argv += ["--home", str(home)]
    argv.append("search")
    for item in params.get("filters") or []:
        argv += ["--filter", item]
    for item in params.get("facet") or []:
        argv += ["--facet", item]
    for option, name in (("--sort", "sort"), ("--puid", "puid"), ("--package", "package"), ("--limit", "limit")):
        if params.get(name) is not None and ctx.get_parameter_source(name) is not ParameterSource.DEFAULT:
            argv += [option, str(params[name])]
    if params.get("validity") is not None:
        argv += ["--validity", str(Validity(params["validity"]).value)]
    argv += ["--as", str(params.get("as_role") or "archivist")]
    if params.get("include_housekeeping"):
        argv.append("--include-housekeeping")
    argv += ["--page-after", cursor]
    if params.get("query"):
        argv += ["--", str(params["query"])]  # after "--", a query such as "-draft" is not read as an option
    return argv


def register_search(app: typer.Typer) -> None:
    app.command(name="search", cls=Command)(search_command)
