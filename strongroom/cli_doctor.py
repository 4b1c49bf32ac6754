"""`strongroom doctor`: which optional external tools are installed, their versions and what each is for."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from strongroom.cli_common import HomeOption, JsonFlag, State
from strongroom.cli_output import Command, console, fail, print_json
from strongroom.cli_signatures import print_in_use
from strongroom.errors import StrongroomError
from strongroom.formats.signature_store import SignaturesInUse, in_use_at
from strongroom.home import default_home
from strongroom.tools import ToolStatus, find_tools, tools_dir


def _json(tool: ToolStatus) -> dict[str, object]:
    return {"name": tool.name, "found": tool.found, "version": tool.version, "purpose": tool.purpose,
            "command": list(tool.command) if tool.command else None, "how_to_install": tool.how_to_install,
            "note": tool.note}  # fmt: skip


def _signatures(ctx: typer.Context, home: Path | None) -> SignaturesInUse | str:
    """The signature files in use at the home (bundled ones where it is no archive), or why that is unknown."""
    state = ctx.obj if isinstance(ctx.obj, State) else None
    chosen = home.expanduser().absolute() if home is not None else (state.home if state else default_home())
    try:
        return in_use_at(chosen)
    except StrongroomError as exc:
        return exc.message


def doctor_command(
    ctx: typer.Context,
    require: Annotated[
        list[str] | None,
        typer.Option(
            "--require",
            help="Exit 1 if this tool is missing (repeat for several), e.g. --require jhove.",
            show_default=False,
            metavar="TOOL",
        ),
    ] = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List the external tools Strongroom can use (JHOVE, veraPDF, MediaInfo, ExifTool, pdftotext, Apache Tika,
    Java; and for migrations LibreOffice, ImageMagick, Ghostscript, FFmpeg, pdfinfo): found or missing, version,
    what each is for and how to install it. All are optional: without one, its checks read "not checked" (a
    record's text "not extracted"), and `strongroom migrate` says which conversions it could not run. Also which
    PRONOM signature files identify formats (at the archive home, if there is one).
    """
    tools = find_tools()
    names = {tool.name for tool in tools}
    unknown = [name for name in require or [] if name not in names]
    if unknown:
        fail(f"--require {', '.join(unknown)}: no such tool; choose from {', '.join(sorted(names))}.", as_json=as_json)
    missing = [name for name in require or [] if not any(t.name == name and t.found for t in tools)]
    signatures = _signatures(ctx, home)
    if as_json:
        in_use = signatures.to_json() if isinstance(signatures, SignaturesInUse) else {"error": signatures}
        print_json({"tools_dir": str(tools_dir(os.environ)), "tools": [_json(t) for t in tools],
                    "missing_required": missing, "signatures": in_use})  # fmt: skip
    else:
        table = Table("Tool", "Status", "Version", "Used for", "How to install")
        for tool in tools:
            status = "[green]found[/]" if tool.found else "[yellow]missing[/]"
            how = "" if tool.found else tool.how_to_install + (f" ({tool.note})" if tool.note else "")
            table.add_row(tool.name, status, escape(tool.version or "-"), escape(tool.purpose), escape(how))
        out = console()
        out.print(table)
        if any(not tool.found for tool in tools):
            note = (
                'Missing tools are optional: their checks read "not checked" (or "not scanned", or text "not '
                'extracted", or a migration "not run"). Each row says how to install it; bash scripts/tools.sh '
                "installs all but clamd."
            )
            out.print(note, highlight=False)
        if isinstance(signatures, SignaturesInUse):
            print_in_use(signatures)
        else:
            out.print(f"Signatures in use: unknown ({escape(signatures)})", highlight=False)
    if missing:
        hint = "see `strongroom doctor` for clamd" if "clamd" in missing else "install them with: bash scripts/tools.sh"
        fail(f"required tool(s) missing: {', '.join(missing)}; {hint}.", 1, as_json=as_json)


def register_doctor(app: typer.Typer) -> None:
    app.command(name="doctor", cls=Command)(doctor_command)
