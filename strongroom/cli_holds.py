"""The `hold` commands. Holds (litigation, FOI/EIR, audit, investigation): place, release, list."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from strongroom.archive import current_operator
from strongroom.cli_common import HomeOption, JsonFlag, open_archive
from strongroom.cli_output import PACKAGE_HELP, Command, Group, console, errors, fail, print_json
from strongroom.records.holds import (
    LocationOutcome,
    hold_type,
    hold_view,
    place_hold,
    placement_view,
    release_hold,
    release_view,
)
from strongroom.records.model import HOLD_TYPE_ALIASES, HoldType

_TYPES = ", ".join([t.value for t in HoldType] + sorted(HOLD_TYPE_ALIASES))

hold_app = typer.Typer(
    help="Holds (litigation, FOI/EIR request, audit, investigation) that stop packages being changed or destroyed.",
    no_args_is_help=True,
    cls=Group,
)


def _print_locations(outcomes: tuple[LocationOutcome, ...]) -> None:
    out = console()
    for outcome in outcomes:
        colour = "green" if outcome.ok else "red"
        out.print(f"  [{colour}]{escape(outcome.location)}[/]: {escape(outcome.said)}", highlight=False)


@hold_app.command(name="place", cls=Command)
def hold_place(
    ctx: typer.Context,
    packages: Annotated[
        list[str] | None, typer.Argument(help=f"The packages to hold: {PACKAGE_HELP}.", show_default=False)
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="Hold every package an archivist search for this finds now.")
    ] = None,
    kind: Annotated[str, typer.Option("--type", help=f"The type of hold: {_TYPES}.", show_default=False)] = "",
    reason: Annotated[str, typer.Option("--reason", help="Why the packages are held (kept for good).")] = "",
    authority: Annotated[
        str | None, typer.Option("--authority", help="Who ordered or asked for it (a court, the FOI officer...).")
    ] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="The case number or FOI/EIR request reference.")
    ] = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Place a hold on packages (or on everything a search finds): they can then be neither changed nor
    destroyed, by any command or by the storage itself. Exit 1 if a location could not be marked."""
    if not kind.strip():
        fail(f"Give the type of hold with --type: {_TYPES}.", as_json=as_json)
    if packages and query is not None:
        fail("Name packages or give --query, not both.", as_json=as_json)
    with errors(as_json), open_archive(ctx, home) as archive:
        placement = place_hold(
            archive, packages=packages or (), query=query, type=hold_type(kind), reason=reason,
            authority=authority, reference=reference, operator=current_operator(),
        )  # fmt: skip
    if as_json:
        print_json(placement_view(placement))
    else:
        hold = placement.hold
        console().print(
            f"Placed {hold.type.value} hold [bold]{hold.id}[/] on {len(hold.packages)} package(s)"
            + (f" (reference {escape(hold.reference)})" if hold.reference else "")
            + ".",
            highlight=False,
        )
        _print_locations(placement.locations)
        if placement.failed:
            console().print(
                "The hold stands, but the locations above in red are not marked: once they answer, run "
                "`strongroom rebuild` or `strongroom replicate` to mark them.",
                highlight=False,
            )
    if placement.failed:
        raise typer.Exit(1)


@hold_app.command(name="release", cls=Command)
def hold_release(
    ctx: typer.Context,
    hold: Annotated[str, typer.Argument(help="The hold: its id, or a unique prefix of 8 or more characters.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it no longer applies (kept for good).")] = "",
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Release a hold. Its packages stay held while another hold covers them. Exit 1 if a location could not
    be updated."""
    with errors(as_json), open_archive(ctx, home) as archive:
        report = release_hold(archive, hold, reason=reason, operator=current_operator())
    if as_json:
        print_json(release_view(report))
    else:
        out = console()
        out.print(f"Released hold [bold]{report.hold.id}[/] on {len(report.hold.packages)} package(s).")
        if report.still_held:
            out.print(f"  {len(report.still_held)} of them stay held by other holds.", highlight=False)
        _print_locations(report.locations)
    if report.failed:
        raise typer.Exit(1)


@hold_app.command(name="list", cls=Command)
def hold_list(
    ctx: typer.Context,
    include_released: Annotated[bool, typer.Option("--all", help="Released holds too.")] = False,
    package: Annotated[
        str | None, typer.Option("--package", help=f"Only holds on this package: {PACKAGE_HELP}.")
    ] = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List the active holds (with --all, released ones too), oldest first."""
    with errors(as_json), open_archive(ctx, home) as archive:
        uuid = archive.package(package).uuid if package else None
        holds = archive.catalog.holds(package=uuid, active_only=not include_released)
    if as_json:
        print_json({"holds": [hold_view(h) for h in holds]})
        return
    if not holds:
        console().print("No holds." if include_released else "No active holds.")
        return
    table = Table("hold", "type", "reference", "packages", "placed", "released", "reason")
    for h in holds:
        table.add_row(
            h.id, h.type.value, escape(h.reference or "-"), str(len(h.packages)), h.placed.strftime("%Y-%m-%d"),
            h.released.strftime("%Y-%m-%d") if h.released else "-", escape(h.reason),
        )  # fmt: skip
    console().print(table)


def register_holds(app: typer.Typer, journal_app: typer.Typer) -> None:
    """Add the commands to `app` (and `journal_app` where they are journal commands)."""
    app.add_typer(hold_app, name="hold")
