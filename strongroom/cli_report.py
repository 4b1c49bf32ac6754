"""`strongroom report`: the preservation dashboard's figures, as a static HTML report (--html DIR) or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from strongroom.cli_common import HomeOption, JsonFlag
from strongroom.cli_common import open_archive as _archive
from strongroom.cli_output import Command, console, errors, print_json
from strongroom.reports.dashboard import build_dashboard
from strongroom.reports.html_report import write_report
from strongroom.web.charts import human_bytes


def report_command(
    ctx: typer.Context,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="DIR",
            help="Write index.html and a page per section (formats, growth, audits, retention) with charts and "
            "tables into this folder; an earlier report there is replaced.",
        ),
    ] = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Report on the collection: formats and their risk, growth by month, audit age, retention due.

    Without --html, prints the figures (with --json: every series, as GET /api/v1/reports/dashboard answers).
    """
    with errors(as_json), _archive(ctx, home) as archive:
        if html is not None:
            written = write_report(archive, html)
            dashboard = written.dashboard
        else:
            dashboard = build_dashboard(archive)
    if as_json:
        data = dashboard.to_json()
        if html is not None:
            data["written"] = {"folder": str(written.folder), "files": list(written.files)}
        print_json(data)
        return
    out = console()
    totals = dashboard.profile.totals
    audit = dashboard.audit
    due_now = dashboard.retention[0].packages if dashboard.retention else 0
    out.print(
        f"{audit.packages} packages, {totals.files} original files ({human_bytes(totals.bytes)}) in {totals.formats} "
        f"formats; {audit.checked} packages with every copy checked, {audit.failing} with a failing copy; "
        f"{due_now} due for disposal or review now.",
        highlight=False,
    )
    for risk in dashboard.risks:
        out.print(f"  {risk.risk.value} risk: {risk.files} files in {risk.formats} formats", highlight=False)
    if html is not None:
        out.print(f"Wrote {len(written.files)} files into {escape(str(written.folder))}:", highlight=False)
        for name in written.files:
            out.print(f"  {escape(name)}", highlight=False)
        if not written.stylesheet:
            out.print("The web stylesheet is not installed, so the pages are plain HTML "
                      "(build it with scripts/build_web_assets.sh).", highlight=False)  # fmt: skip


def register_report(app: typer.Typer) -> None:
    app.command(name="report", cls=Command)(report_command)
