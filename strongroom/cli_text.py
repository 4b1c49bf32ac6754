"""`strongroom text`: extract the text of stored records that have none, keep it in the package, index it."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from strongroom.archive import current_operator
from strongroom.cli_common import HomeOption, JsonFlag, command_home, show_bar
from strongroom.cli_jobs import SubmitFlag, submit_job
from strongroom.cli_output import PACKAGE_HELP, Command, console, errors, print_json, progress


def text_command(
    ctx: typer.Context,
    packages: Annotated[
        list[str] | None, typer.Argument(help=f"Packages whose records lack text ({PACKAGE_HELP}).")
    ] = None,
    all_missing: Annotated[
        bool, typer.Option("--all-missing", help="Every package with records whose format has text but that have none.")
    ] = False,
    submit: SubmitFlag = False,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Extract the text of stored records that have none yet, so full-text search finds them.

    For packages ingested with extract_text = false (in strongroom.toml), or before pdftotext or Tika was
    installed. The same extractors and limits as ingest; each package with text kept gets one new version (the
    texts as data/text/<record>.txt, with their PREMIS events), which is then indexed. Safe to run again:
    records that have text are skipped. Exit status 1 when an extraction failed or a package could not be stored.
    """
    from strongroom.fulltext.job import EXTRACT_TEXT, extract_text, text_params

    params = {"packages": packages or [], "all_missing": all_missing, "operator": current_operator()}
    if submit:
        with errors(as_json):
            text_params(params)
        submit_job(ctx, home, EXTRACT_TEXT, params, "Extract the text of stored records", as_json)
        return
    with errors(as_json), progress(show_bar(as_json)) as bar:
        report = extract_text(command_home(ctx, home), packages or [], all_missing=all_missing,
                              operator=current_operator(), progress=bar)  # fmt: skip
    if as_json:
        print_json(report)
    else:
        _print(report)
    if not report["ok"]:
        raise typer.Exit(1)


def _print(report: dict[str, Any] | Any) -> None:
    out = console()
    totals = report["totals"]
    if not report["packages"]:
        out.print("Nothing to do: every record whose format has text has its text already.")
        return
    for package in report["packages"]:
        made = f"version {package['version']}" if package["version"] is not None else "no new version"
        out.print(f"[bold]{escape(package['name'])}[/]: {package['extracted']} of {package['files']} record(s) got "
                  f"their text; {made}.", highlight=False)  # fmt: skip
        for line in (*package["failed"], *package["not_extracted"]):
            out.print(f"  [yellow]{escape(line)}[/]", highlight=False)
        if package["cut"]:
            out.print(f"  {len(package['cut'])} text(s) cut at [ingest] text_size_limit.", highlight=False)
        for warning in package["warnings"]:
            out.print(f"  [yellow]{escape(warning)}[/]", highlight=False)
        if package["error"]:
            out.print(f"  [red]not stored:[/] {escape(package['error'])}", highlight=False)
    out.print(f"{totals['extracted']} text(s) kept in {totals['versions_made']} new version(s); {totals['empty']} "
              f"record(s) had no text, {totals['failed']} failed, {totals['not_extracted']} not extracted (tool "
              "missing: see strongroom doctor).", highlight=False)  # fmt: skip


def register_text(app: typer.Typer) -> None:
    app.command(name="text", cls=Command)(text_command)
