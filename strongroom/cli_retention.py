"""The `retention` commands: schedules, assignments, trigger events, the due list, reviews; `journal export`."""

from __future__ import annotations

import csv
import io
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from strongroom.archive import current_operator
from strongroom.cli_common import HomeOption, JsonFlag, open_archive
from strongroom.cli_output import PACKAGE_HELP, Command, Group, console, errors, fail, print_json
from strongroom.records.model import DueItem, DueList, ReviewDecision

retention_app = typer.Typer(
    help="Retention schedules: load them, assign them to packages, record trigger events, list what is due.",
    no_args_is_help=True,
    cls=Group,
)


def _day(text: str | None, option: str, as_json: bool) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        fail(f"{option} {text!r} is not a date.", as_json=as_json, hints=["Write it as YYYY-MM-DD, e.g. 2031-03-31."])


@retention_app.command(name="load", cls=Command)
def retention_load(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A .toml ([[schedule]] tables) or .csv schedule file.")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why the schedules change (default: loaded from FILE).")
    ] = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Load retention schedules; a schedule whose terms changed gets a new version, an unchanged one nothing.

    The CSV header is code,title,description,authority,period,trigger,action (and transfer_to); the UK
    local-government guidance's columns and wording (Reference, Retention period, 'Closure of file + 6
    years', 'Transfer to archives') are read too. The whole file is checked first: any problem loads nothing.
    """
    from strongroom.records.schedules import load_schedules

    with errors(as_json), open_archive(ctx, home) as archive:
        report = load_schedules(archive, file, reason=reason, operator=current_operator())
    if as_json:
        print_json({
            "loaded": [{"code": s.code, "version": s.version, "changed": s.changed} for s in report.loaded],
            "unchanged": report.unchanged, "source_sha256": report.source_sha256, "notes": list(report.notes),
        })  # fmt: skip
        return
    out = console()
    for s in report.loaded:
        what = "new version" if s.changed else "new schedule"
        out.print(f"[green]{what}[/] {escape(s.code)} version {s.version}", highlight=False)
    for note in report.notes:
        out.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    out.print(f"{len(report.loaded)} schedule version(s) loaded, {report.unchanged} unchanged.", highlight=False)


@retention_app.command(name="list", cls=Command)
def retention_list(
    ctx: typer.Context,
    all_versions: Annotated[bool, typer.Option("--all-versions", help="Every version, not only the current.")] = False,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List the retention schedules (their current versions)."""
    from strongroom.records.schedules import schedule_json

    with errors(as_json), open_archive(ctx, home) as archive:
        schedules = archive.catalog.schedules(all_versions=all_versions)
    if as_json:
        print_json({"schedules": [schedule_json(s) for s in schedules]})
        return
    if not schedules:
        console().print("No retention schedules yet. Load them with: strongroom retention load FILE")
        return
    table = Table("Code", "Version", "Title", "Period", "Trigger", "Action", "Authority")
    for s in schedules:
        action = s.action.value + (f" to {s.transfer_to}" if s.transfer_to else "")
        table.add_row(escape(s.code), str(s.version), escape(s.title), s.period.iso() if s.period else "permanent",
                      escape(s.trigger_text()), escape(action), escape(s.authority))  # fmt: skip
    console().print(table)


@retention_app.command(name="assign", cls=Command)
def retention_assign(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help=f"The package: {PACKAGE_HELP}.")],
    code: Annotated[str, typer.Argument(help="The schedule's code (its current version applies).")],
    reason: Annotated[str, typer.Option("--reason", help="Why this schedule applies (kept for good).")] = "",
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Apply a retention schedule to a package, replacing the one it had (the journal keeps both)."""
    from strongroom.records.retention import assign

    with errors(as_json), open_archive(ctx, home) as archive:
        change = assign(archive, package, code, reason=reason, operator=current_operator())
    a, previous = change.assignment, change.previous
    if as_json:
        print_json({
            "package": a.package, "schedule": {"code": a.code, "version": a.version},
            "previous": {"code": previous.code, "version": previous.version} if previous else None,
            "event": change.event.uuid if change.event else None,
        })  # fmt: skip
        return
    if change.event is None:
        console().print(f"Package {a.package} already has schedule {escape(a.code)} version {a.version}; "
                        "nothing recorded.", highlight=False)  # fmt: skip
        return
    was = f" (was {escape(previous.code)} version {previous.version})" if previous else ""
    console().print(f"Package {a.package} now has retention schedule {escape(a.code)} version {a.version}{was}.",
                    highlight=False)  # fmt: skip


@retention_app.command(name="event", cls=Command)
def retention_event(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help=f"The package: {PACKAGE_HELP}.")],
    name: Annotated[
        str,
        typer.Argument(
            help="The event: closure (the file was closed), or a name such as "
            "contract-end that a schedule's event:NAME trigger uses."
        ),
    ],
    day: Annotated[str, typer.Option("--date", help="The day it happened.", metavar="YYYY-MM-DD")] = "",
    reason: Annotated[str | None, typer.Option("--reason", help="Where the date comes from (kept).")] = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Record the date of a package's trigger event; a later record of the same event replaces it."""
    from strongroom.records.retention import record_trigger

    when = _day(day, "--date", as_json) if day else None
    if when is None:
        fail("Give the event's date with --date YYYY-MM-DD.", as_json=as_json)
    with errors(as_json), open_archive(ctx, home) as archive:
        change = record_trigger(archive, package, name, when, reason=reason, operator=current_operator())
    t = change.trigger
    if as_json:
        print_json({"package": t.package, "name": t.name, "date": t.date.isoformat(), "event": change.event.uuid})
        return
    console().print(f"Recorded {escape(t.name)} on {t.date.isoformat()} for package {t.package}.", highlight=False)


def due_row(item: DueItem) -> dict[str, Any]:
    s = item.schedule
    return {
        "package": item.package, "name": item.name, "title": item.title,
        "schedule": {"code": s.code, "version": s.version, "title": s.title, "authority": s.authority},
        "action": item.action.value, "trigger": s.trigger_text(),
        "trigger_date": item.trigger_date.isoformat() if item.trigger_date else None,
        "due": item.due.isoformat() if item.due else None, "holds": list(item.holds), "batch": item.batch,
    }  # fmt: skip


def due_json(listed: DueList) -> dict[str, Any]:
    return {
        "as_of": listed.as_of.isoformat(),
        "due": [due_row(i) for i in listed.due],
        "waiting": [{"package": i.package, "code": i.schedule.code, "why": i.waiting} for i in listed.waiting],
    }


DUE_CSV = ("package", "name", "title", "code", "version", "schedule_title", "authority", "action", "trigger",
           "trigger_date", "due", "holds", "batch")  # fmt: skip


def due_csv(listed: DueList) -> str:
    from strongroom.records.cells import safe_cell

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(DUE_CSV)
    for item in listed.due:
        r = due_row(item)
        s = r["schedule"]
        values = [r["package"], r["name"], r["title"], s["code"], s["version"], s["title"], s["authority"],
                  r["action"], r["trigger"], r["trigger_date"] or "", r["due"] or "", ";".join(r["holds"]),
                  r["batch"] or ""]  # fmt: skip
        writer.writerow([safe_cell(v) for v in values])
    return out.getvalue()


@retention_app.command(name="due", cls=Command)
def retention_due(
    ctx: typer.Context,
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="YYYY-MM-DD", help="List what is due on this day (default: today).")
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the due packages as CSV, one row each.")] = False,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List packages due for disposal or review, and those waiting for a trigger date."""
    from strongroom.records.retention import due

    if as_json and as_csv:
        raise typer.BadParameter("give one of them, not both.", param_hint="'--json' / '--csv'")
    day = _day(as_of, "--as-of", as_json) or date.today()
    with errors(as_json), open_archive(ctx, home) as archive:
        listed = due(archive, day)
    if as_json:
        print_json(due_json(listed))
        return
    if as_csv:
        sys.stdout.write(due_csv(listed))
        return
    out = console()
    if listed.due:
        table = Table("Due", "Package", "Title", "Schedule", "Action", "Held", "Batch")
        for item in listed.due:
            table.add_row(item.due.isoformat() if item.due else "", escape(item.name), escape(item.title),
                          f"{escape(item.schedule.code)} v{item.schedule.version}", item.action.value,
                          escape(", ".join(h[:8] for h in item.holds)), (item.batch or "")[:8])  # fmt: skip
        out.print(table)
    else:
        out.print(f"Nothing is due on {day.isoformat()}.")
    for item in listed.waiting:
        out.print(f"[yellow]waiting[/] {escape(item.name)} ({item.package}), schedule {escape(item.schedule.code)}: "
                  f"{escape(item.waiting or '')}", highlight=False)  # fmt: skip


@retention_app.command(name="review", cls=Command)
def retention_review(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help=f"The package: {PACKAGE_HELP}.")],
    reason: Annotated[str, typer.Option("--reason", help="Why this was decided (kept for good).")] = "",
    extend_to: Annotated[
        str | None, typer.Option("--extend-to", metavar="YYYY-MM-DD", help="Keep it until this day.")
    ] = None,
    schedule: Annotated[
        str | None, typer.Option("--schedule", help="Re-sentence it to this schedule (its current version).")
    ] = None,
    destroy: Annotated[bool, typer.Option("--destroy", help="It may be disposed of now (due at once).")] = False,
    retain: Annotated[bool, typer.Option("--retain", help="Keep it permanently (never due).")] = False,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Record a review decision: extend, re-sentence, destroy or retain; a reason is required."""
    from strongroom.records.retention import review

    given = {
        ReviewDecision.EXTEND: extend_to is not None, ReviewDecision.RESENTENCE: schedule is not None,
        ReviewDecision.DESTROY: destroy, ReviewDecision.RETAIN: retain,
    }  # fmt: skip
    chosen = [decision for decision, yes in given.items() if yes]
    if len(chosen) != 1:
        fail("Give exactly one decision: --extend-to DATE, --schedule CODE, --destroy or --retain.", as_json=as_json)
    new_due = _day(extend_to, "--extend-to", as_json)
    with errors(as_json), open_archive(ctx, home) as archive:
        result = review(archive, package, chosen[0], reason=reason, new_due=new_due, new_code=schedule,
                        operator=current_operator())  # fmt: skip
    a = result.assignment
    if as_json:
        print_json({
            "package": a.package, "decision": result.review.decision.value,
            "due": result.due.isoformat() if result.due else None,
            "schedule": {"code": a.code, "version": a.version}, "event": result.event.uuid,
        })  # fmt: skip
        return
    due_text = result.due.isoformat() if result.due else "never (or when its trigger has a date)"
    if result.review.decision is ReviewDecision.RETAIN:
        due_text = "never: retained permanently"
    console().print(f"Review recorded for package {a.package}: {result.review.decision.value}; schedule "
                    f"{escape(a.code)} version {a.version}; due {due_text}.", highlight=False)  # fmt: skip


def journal_export(
    ctx: typer.Context,
    start: Annotated[
        str | None, typer.Option("--from", metavar="YYYY-MM-DD", help="Entries from this day on (UTC, inclusive).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", metavar="YYYY-MM-DD", help="Entries up to this day (UTC, inclusive).")
    ] = None,
    package: Annotated[str | None, typer.Option("--package", help=f"Only this package's: {PACKAGE_HELP}.")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (safe to open in a spreadsheet).")] = False,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Print the journal as a readable log for auditors, checking its chain; exit 1 if it is damaged."""
    from strongroom.records.audit_log import audit_log, log_json, rows_csv

    if as_json and as_csv:
        raise typer.BadParameter("give one of them, not both.", param_hint="'--json' / '--csv'")
    first, last = _day(start, "--from", as_json), _day(end, "--to", as_json)
    with errors(as_json), open_archive(ctx, home) as archive:
        log = audit_log(archive, first, last, package)
    if as_json:
        print_json(log_json(log))
    elif as_csv:
        sys.stdout.write(rows_csv(log.rows))
    else:
        out = console()
        for row in log.rows:
            who = f" {escape(row.package_name)}" if row.package_name else (f" {row.package}" if row.package else "")
            said = " — ".join(escape(t) for t in (row.detail, row.outcome_detail) if t)
            out.print(f"{row.sequence} {row.datetime} [bold]{escape(row.type)}[/]{who} {row.outcome}: {said}",
                      highlight=False)  # fmt: skip
    if not log.verified:
        first_problem = log.problems[0].describe() if log.problems else (log.unreadable or "")
        Console(stderr=True).print(f"[bold red]The journal is damaged:[/] {escape(first_problem)}. Check it with: "
                                   "strongroom journal verify", highlight=False, soft_wrap=True)  # fmt: skip
        raise typer.Exit(1)


def register_retention(app: typer.Typer, journal_app: typer.Typer) -> None:
    """Add the commands to `app` (and `journal_app` where they are journal commands)."""
    app.add_typer(retention_app, name="retention")
    journal_app.command(name="export", cls=Command)(journal_export)
