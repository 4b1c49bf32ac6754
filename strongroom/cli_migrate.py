"""`strongroom migrate`: migrate at-risk formats by the migration policy, plan it (--dry-run), or list failures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from strongroom.archive import current_operator
from strongroom.cli_common import HomeOption, JsonFlag
from strongroom.cli_common import open_archive as _archive
from strongroom.cli_common import show_bar as _bar
from strongroom.cli_jobs import SubmitFlag, submit_job
from strongroom.cli_output import PACKAGE_HELP, Command, console, errors, fail, print_json, progress
from strongroom.formats.risk import RiskLevel
from strongroom.preservation.actions import Purpose
from strongroom.preservation.migrate_report import MigrationFailure, MigrationReport, PackageMigration


def migrate_command(
    ctx: typer.Context,
    packages: Annotated[
        list[str] | None, typer.Argument(help=f"Packages to migrate ({PACKAGE_HELP}); leave out for every package.")
    ] = None,
    risk: Annotated[
        RiskLevel | None,
        typer.Option(
            help="Only originals whose format the risk registry rates this level or worse "
            "(most urgent first: high, unknown, medium, low)."
        ),
    ] = None,
    puid: Annotated[
        list[str] | None, typer.Option("--puid", help="Only originals of this PRONOM format (repeatable).")
    ] = None,
    purpose: Annotated[
        list[Purpose] | None,
        typer.Option(
            help="Which derivatives to make (repeatable; default: preservation and access, and text where the policy "
            "has text rules)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be converted, by which rule and tool; store nothing.")
    ] = False,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed",
            help="Run again conversions that failed before with the same source, rule and tool version.",
        ),
    ] = False,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            help="Migrate nothing: list every original whose latest migration failed, why, and what to do next.",
        ),
    ] = False,
    tool: Annotated[
        str | None,
        typer.Option(
            "--tool",
            help="With --submit: queue only the conversions this tool does (libreoffice, imagemagick, ghostscript, "
            "ffmpeg), as a job that only workers whose machine has the tool take.",
            metavar="TOOL",
        ),
    ] = None,
    submit: SubmitFlag = False,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Migrate at-risk formats with real tools, verify each result and keep it in a new package version.

    Each package with a derivative kept gets one new version; the originals and earlier versions stay as they
    were. A conversion that fails verification is recorded as a failed migration event and its original stays
    the preservation master. Safe to run again after an interruption: what is stored is skipped.
    Exit status 1 when any conversion failed, a needed tool is missing or a package could not be migrated
    (with --report: when any failure is listed).
    """
    if submit:
        _submit(ctx, home, packages, risk, puid, purpose, dry_run, retry_failed, report, tool, as_json)
        return
    if tool is not None:
        fail("--tool goes with --submit (a job for the workers that have the tool); without --submit every "
             "conversion runs here.", as_json=as_json)  # fmt: skip
    with errors(as_json), _archive(ctx, home) as archive:
        if report:
            failures = archive.migration_failures()
            if packages:
                wanted = {archive.package(p).uuid for p in packages}
                failures = [f for f in failures if f.package in wanted]
        else:
            with progress(_bar(as_json or dry_run)) as bar:
                result = archive.migrate(
                    packages or [], current_operator(), risk=risk, puids=puid or (), purposes=purpose or None,
                    dry_run=dry_run, retry_failed=retry_failed, progress=bar,
                )  # fmt: skip
    if report:
        if as_json:
            print_json({"failures": [f.to_json() for f in failures], "count": len(failures)})
        else:
            _print_failures(failures)
        if failures:
            raise typer.Exit(1)
        return
    if as_json:
        print_json(result.to_json())
    elif dry_run:
        _print_plan(result)
    else:
        _print_run(result)
    if not result.ok:
        raise typer.Exit(1)


def _submit(ctx: typer.Context, home: Path | None, packages: list[str] | None, risk: RiskLevel | None,
            puids: list[str] | None, purposes: list[Purpose] | None, dry_run: bool, retry_failed: bool, report: bool,
            tool: str | None, as_json: bool) -> None:  # fmt: skip
    from strongroom.preservation.migrate_job import MIGRATE, migrate_params

    if report:
        fail("--report lists failures at once; it is not queued as a job. Leave out --submit.", as_json=as_json)
    with errors(as_json):
        params = migrate_params({"packages": packages or [], "risk": risk.value if risk else None,
                                 "puids": puids or [], "purposes": [p.value for p in purposes or ()],
                                 "dry_run": dry_run, "retry_failed": retry_failed, "tool": tool})  # fmt: skip
    kind = f"{MIGRATE}-{params['tool']}" if "tool" in params else MIGRATE
    title = "Plan migrations (dry run)" if dry_run else "Migrate at-risk formats"
    title += f" with {params['tool']}" if "tool" in params else ""
    submit_job(ctx, home, kind, params | {"operator": current_operator()}, title, as_json)


def _print_plan(result: MigrationReport) -> None:
    out = console()
    if result.planned:
        table = Table("Package", "PUID", "Risk", "Purpose", "Rule", "Tool")
        table.add_column("Path", overflow="fold")
        for p in result.planned:
            tool = f"{p.tool} {p.tool_version}" if p.tool_available else f"[red]{p.tool}: missing[/]"
            table.add_row(escape(p.package_name), p.puid or "", p.risk, p.purpose.value, escape(p.rule), tool,
                          escape(p.path))  # fmt: skip
        out.print(table)
    packages = len({p.package for p in result.planned})
    out.print(f"{len(result.planned)} conversion(s) planned in {packages} package(s) by migration policy "
              f"{escape(result.policy_version)}; {result.skipped} skipped. Dry run: nothing was stored.",
              highlight=False)  # fmt: skip
    for hint in result.missing_tools:
        out.print(f"[yellow]missing tool:[/] {escape(hint)}", highlight=False)


def _print_run(result: MigrationReport) -> None:
    out = console()
    if not result.packages:
        out.print("Nothing to migrate: no original of the chosen packages has a policy rule that applies.")
        return
    for package in result.packages:
        _print_package(package)
    share = f" ({result.tool_seconds / result.seconds:.0%})" if result.seconds > 0 else ""
    verdict = "[green]all verified[/]" if result.ok else "[red]not all done[/]"
    out.print(
        f"Kept {result.kept} derivative(s) in {result.versions_made} new version(s); {result.failed} failed, "
        f"{result.skipped} skipped. {result.seconds:.1f} s in all, {result.tool_seconds:.1f} s in tools{share}: "
        f"{verdict}.",
        highlight=False,
    )
    for hint in result.missing_tools:
        out.print(f"[yellow]missing tool:[/] {escape(hint)}", highlight=False)
    if result.failed:
        out.print("Failed conversions keep their originals as the masters; list them with: strongroom migrate --report",
                  highlight=False)  # fmt: skip


def _print_package(package: PackageMigration) -> None:
    out = console()
    made = f"version {package.version} made" if package.version is not None else "no new version"
    out.print(
        f"[bold]{escape(package.name)}[/]: {made}; {len(package.kept)} kept, {len(package.failed)} failed, "
        f"{len(package.skipped)} skipped ({package.seconds:.1f} s, tools {package.tool_seconds:.1f} s).",
        highlight=False,
    )
    for kept in package.kept:
        out.print(f"  kept {escape(kept.path)} ({kept.puid or 'unidentified'}) by rule {escape(kept.rule)}",
                  highlight=False)  # fmt: skip
    for failed in package.failed:
        out.print(f"  [red]failed[/] {escape(failed.source)} -> {failed.purpose.value} by rule {escape(failed.rule)} "
                  f"({escape(failed.tool)} {escape(failed.tool_version)}): {escape(failed.reason)}",
                  highlight=False)  # fmt: skip
    if package.error:
        out.print(f"  [red]not migrated:[/] {escape(package.error)}", highlight=False)
    for warning in package.warnings:
        out.print(f"  [yellow]warning:[/] {escape(warning)}", highlight=False)


def _print_failures(failures: list[MigrationFailure]) -> None:
    out = console()
    if not failures:
        out.print("No failed migrations: every original's latest attempt succeeded (or none was made).")
        return
    for f in failures:
        out.print(
            f"[red]failed[/] {escape(f.path)} ({f.puid or 'unidentified'}) in {escape(f.package_name)}: "
            f"{f.purpose.value} by rule {escape(f.rule)} ({escape(f.tool)} {escape(f.tool_version)}), "
            f"{f.when.isoformat(timespec='seconds')}",
            highlight=False,
        )
        out.print(f"  why: {escape(f.why)}", highlight=False)
        out.print(f"  next: {escape(f.next_step)}", highlight=False)
    out.print(f"{len(failures)} original(s) whose latest migration failed.", highlight=False)


def register_migrate(app: typer.Typer) -> None:
    app.command(name="migrate", cls=Command)(migrate_command)
