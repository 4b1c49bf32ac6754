"""`strongroom signatures`: install newer PRONOM signature files into an archive home, and list those in use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from strongroom.cli_common import HomeOption, JsonFlag, command_home
from strongroom.cli_output import Command, Group, console, errors, print_json
from strongroom.formats.signature_install import install
from strongroom.formats.signature_store import (
    InstallOutcome,
    InstallReport,
    SignatureListing,
    SignaturesInUse,
    list_signatures,
)

signatures_app = typer.Typer(
    help="The PRONOM signature files formats are identified with: install newer ones into the archive home, list "
    "those in use.",
    no_args_is_help=True,
    cls=Group,
)


@signatures_app.command(name="install", cls=Command)
def signatures_install(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(
            help="DROID signature files (DROID_SignatureFile_VNNN.xml) and container signature files "
            "(container-signature-YYYYMMDD.xml), as downloaded from The National Archives.",
            show_default=False,
            metavar="FILE",
        ),
    ],
    allow_older: Annotated[
        bool,
        typer.Option(
            "--allow-older",
            help="Install a file older than the newest installed or bundled one. The newest stays in use; to go "
            "back to the older one, name it in [formats] signature_file (or container_signature_file).",
        ),
    ] = False,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Check signature files and add them to the archive home; ingest, update, migrate and identify then use the
    newest of each kind, installed or bundled. A file is installed only after it loads and compiles as
    identification will use it; one file refused installs none.
    """
    with errors(as_json):
        report = install(command_home(ctx, home), [f.expanduser() for f in files], allow_older=allow_older)
    if as_json:
        print_json(report.to_json())
        return
    _print_install(report)


@signatures_app.command(name="list", cls=Command)
def signatures_list(ctx: typer.Context, home: HomeOption = None, as_json: JsonFlag = False) -> None:
    """Show the DROID and container signature files in use (and whether configured, installed or bundled), with
    every installed and bundled one."""
    with errors(as_json):
        listing = list_signatures(command_home(ctx, home))
    if as_json:
        print_json(listing.to_json())
        return
    _print_listing(listing)


def print_in_use(in_use: SignaturesInUse) -> None:
    """The engine, then which files identify formats, for `signatures list`, `install` and `doctor`."""
    out = console()
    if in_use.droid_files_used:
        out.print("Engine: droid (DROID's answers, from the signature files below)", highlight=False)
    else:
        files = escape(in_use.fido_signatures) if in_use.fido_signatures else "unknown"
        problem = f" [bold red]{escape(in_use.fido_problem)}[/]" if in_use.fido_problem else ""
        out.print(
            f"Engine: {escape(in_use.engine)} {escape('([formats] engine)')}: FIDO's answers, from FIDO's "
            f"signature files {files}{problem}",
            highlight=False,
        )
        out.print(
            'The DROID signature files below are not used: only engine = "droid" (the default) uses them.',
            highlight=False,
        )
    prefix = "In use" if in_use.droid_files_used else "Not used"
    for info in (in_use.droid, in_use.container):
        date = f", {info.date}" if info.date else ""
        problem = f" [bold red]{escape(info.problem)}[/]" if info.problem else ""
        out.print(
            f"{prefix}: {escape(info.label)} ({info.source.value}{date}): {escape(str(info.path))}{problem}",
            highlight=False,
        )


def _print_listing(listing: SignatureListing) -> None:
    print_in_use(listing.in_use)
    table = Table("Kind", "Version", "Date", "Where", "In use", "File")
    for info in listing.available:
        table.add_row(
            info.kind.label,
            str(info.version) if info.version is not None else "?",
            info.date or "-",
            info.source.value,
            "[green]yes[/]" if listing.is_in_use(info) else "",
            escape(str(info.path)),
        )
    out = console()
    out.print(table)
    out.print(
        f"Newer files: strongroom signatures install FILE... (installed into {escape(str(listing.folder))}).",
        highlight=False,
    )


def _print_install(report: InstallReport) -> None:
    out = console()
    for item in report.files:
        name = f"{item.kind.label} {'V' if item.kind.value == 'droid' else ''}{item.version}"
        if item.outcome is InstallOutcome.INSTALLED:
            older = f" (older than the {escape(item.older_than)}: --allow-older)" if item.older_than else ""
            out.print(f"Installed {escape(name)}{older}: {escape(str(item.path))}", highlight=False)
        elif item.outcome is InstallOutcome.ALREADY_INSTALLED:
            out.print(f"Already installed: {escape(name)} ({escape(str(item.path))})", highlight=False)
        else:
            out.print(f"Already bundled with Strongroom: {escape(name)}; nothing to install.", highlight=False)
    for warning in report.warnings:
        out.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    print_in_use(report.in_use)


def register_signatures(app: typer.Typer) -> None:
    app.add_typer(signatures_app, name="signatures")
