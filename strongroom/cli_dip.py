"""`strongroom dip`: a dissemination package of one package's access copies, with a METS and an HTML index."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from strongroom.cli_common import HomeOption, JsonFlag
from strongroom.cli_common import open_archive as _archive
from strongroom.cli_common import show_bar as _bar
from strongroom.cli_output import PACKAGE_HELP, Command, console, errors, fail, human, print_json, progress
from strongroom.preservation.dip import NO_COPY, DipReport, build_dip
from strongroom.search.base import Role

# A DIP leaves the archive: unlike `search --as` (archivist, for staff at the terminal), it is made for the
# reading room unless the archivist says otherwise, so a closed record never goes out by default.
DEFAULT_ROLE = Role.RESEARCHER
_LISTED = 20  # records without an access copy named in the plain output (--json lists all)


def dip_command(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help=f"The package: {PACKAGE_HELP}.")],
    dest: Annotated[
        Path, typer.Argument(help="The folder to write the DIP into (made if missing); the DIP is a new folder in it.")
    ],
    zip_it: Annotated[
        bool, typer.Option("--zip", help="Also write the DIP as one .zip file beside its folder.")
    ] = False,
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="The package version to give out (default: the latest).")
    ] = None,
    as_role: Annotated[
        str,
        typer.Option(
            "--as",
            help="Build it for this role: researcher (open records only; the default), archivist or admin "
            "(closed records too).",
        ),
    ] = DEFAULT_ROLE.value,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Build a dissemination package (DIP): access copies of one package with a METS and an index.html.

    Each record gets its access copy (made by `strongroom migrate`), or the original where its format is fit
    to give out as it is; records with neither are listed as lacking a copy. As a researcher (the default),
    closed records are left out entirely (only counted) and a closed package is refused.
    """
    try:
        role = Role(as_role.strip().lower())
    except ValueError:
        fail(f"--as {as_role!r} is not a role.", as_json=as_json, hints=[f"Give one of: {', '.join(Role)}."])
    with errors(as_json), _archive(ctx, home) as archive, progress(_bar(as_json)) as bar:
        report = build_dip(
            archive, package, dest.expanduser().absolute(), viewer_role=role, zip_it=zip_it, version=version,
            progress=bar,
        )  # fmt: skip
    if as_json:
        print_json(report.to_json())
        return
    _print_report(report)


def _print_report(report: DipReport) -> None:
    out = console()
    out.print(
        f"DIP of {escape(report.package_name)} version {report.version}, for the {report.viewer.value} role: "
        f"{len(report.files)} file(s), {human(report.bytes)}, in {escape(str(report.path))}",
        highlight=False,
    )
    if report.zip_path is not None:
        out.print(f"Zip: {escape(str(report.zip_path))}", highlight=False)
    out.print(f"Records withheld (closed): {report.withheld}", highlight=False)
    for title in report.withheld_restricted[:_LISTED]:  # restricted ones are known by their stand-in titles
        out.print(f"  restricted: {escape(title)}", highlight=False)
    missing = report.without_copy
    out.print(f"Records without an access copy: {len(missing)}", highlight=False)
    for item in missing[:_LISTED]:
        out.print(f"  {escape(item.original)} ({escape(item.format_name or item.puid or 'unknown format')})",
                  highlight=False)  # fmt: skip
    if len(missing) > _LISTED:
        out.print(f"  and {len(missing) - _LISTED} more (--json lists all)", highlight=False)
    if missing:
        out.print(f"They have {NO_COPY}: strongroom migrate {report.package}", highlight=False)


def register_dip(app: typer.Typer) -> None:
    app.command(name="dip", cls=Command)(dip_command)
