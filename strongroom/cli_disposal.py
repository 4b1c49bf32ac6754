"""The `disposal` commands: propose a batch from the due list, approve it (two different people), execute
it (destroy or transfer, with a certificate), list and show batches. The JSON views live here too."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from strongroom.archive import current_operator
from strongroom.cli_common import HomeOption, JsonFlag, open_archive, show_bar
from strongroom.cli_jobs import SubmitFlag, submit_job
from strongroom.cli_output import Command, Group, console, errors, fail, print_json, progress
from strongroom.errors import StrongroomError
from strongroom.records.disposal import (
    ExecutionReport,
    Proposal,
    approve,
    batch_summary,
    certificate_matches,
    execute,
    find_batch,
    propose,
    withdraw,
    write_certificate,
)
from strongroom.records.model import Approval, DisposalBatch, DisposalItem

BATCH_HELP = "The disposal batch: its id, or an id prefix of 8+ characters"

disposal_app = typer.Typer(
    help="Defensible disposal: propose a batch from the due list, two different people approve it, execute it.",
    no_args_is_help=True,
    cls=Group,
)


# --- JSON views ----------------------------------------------------------------------------------


def approval_json(a: Approval) -> dict[str, Any]:
    return {"name": a.name, "operator": a.operator, "approved": a.approved.isoformat(), "event": a.event_uuid}


def item_json(i: DisposalItem) -> dict[str, Any]:
    return {
        "package": i.package, "action": i.action.value, "schedule": {"code": i.code, "version": i.version},
        "due": i.due.isoformat(), "head_version": i.head_version, "outcome": i.outcome.value, "why": i.why,
        "pending_locations": list(i.pending_locations),
    }  # fmt: skip


def batch_json(b: DisposalBatch) -> dict[str, Any]:
    return {
        "batch": b.id, "status": b.status.value, "as_of": b.as_of.isoformat(), "proposed": b.proposed.isoformat(),
        "proposed_by": b.proposed_by, "executed": b.executed.isoformat() if b.executed else None,
        "approvals": [approval_json(a) for a in b.approvals], "items": [item_json(i) for i in b.items],
        "counts": batch_summary(b), "certificate_sha256": dict(b.certificate_sha256),
    }  # fmt: skip


def proposal_json(p: Proposal) -> dict[str, Any]:
    items = p.batch.items if p.batch else ()
    return {
        "batch": p.batch.id if p.batch else None, "as_of": p.as_of.isoformat(), "proposed_by": p.proposed_by,
        "items": [
            {"package": i.package, "title": p.titles.get(i.package, ""), "action": i.action.value,
             "schedule": {"code": i.code, "version": i.version}, "due": i.due.isoformat()}
            for i in items
        ],
        "left_out": [{"package": o.package, "name": o.name, "why": o.why} for o in p.left_out],
    }  # fmt: skip


def execution_json(r: ExecutionReport) -> dict[str, Any]:
    c = r.certificate
    return {
        "batch": r.batch.id, "status": r.batch.status.value, "destroyed": list(r.destroyed),
        "transferred": [{"package": p, "bag": bag} for p, bag in r.transferred],
        "skipped": [{"package": p, "why": why} for p, why in r.skipped],
        "pending": {loc: list(packages) for loc, packages in r.pending.items()}, "problems": list(r.problems),
        "index_lagging": list(r.index_lagging),
        "certificate": {"csv": str(c.csv), "html": str(c.html), "stored": [c.key_csv, c.key_html],
                        "sha256": dict(c.sha256)} if c else None,
    }  # fmt: skip


# --- commands ------------------------------------------------------------------------------------


def _as_of(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise StrongroomError(f"--as-of {text[:40]!r} is not a date; write it as YYYY-MM-DD.") from None


@disposal_app.command(name="propose", cls=Command)
def propose_command(
    ctx: typer.Context,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Propose what is due on this day (YYYY-MM-DD; default: today).")
    ] = None,
    packages: Annotated[
        list[str] | None,
        typer.Option(
            "--package",
            metavar="UUID",
            help="Propose only this due package (repeatable); the other due packages are left out.",
        ),
    ] = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Build a disposal batch of the packages due for destruction or transfer.

    Held packages, packages already in an open batch and packages due for review are left out, each with why;
    with --package, so is every due package not named. Nothing due: no batch ("batch": null), exit 0.
    """
    with errors(as_json):
        day = _as_of(as_of)
        with open_archive(ctx, home) as archive:
            proposal = propose(archive, day, current_operator(), only=packages or None)
    if as_json:
        print_json(proposal_json(proposal))
        return
    out = console()
    if proposal.batch is None:
        out.print(f"Nothing is due for destruction or transfer on {day.isoformat()}: no batch proposed.")
    else:
        b = proposal.batch
        out.print(f"Proposed disposal batch {b.id} ({len(b.items)} package(s), due on {day.isoformat()}):",
                  highlight=False)  # fmt: skip
        for i in b.items:
            out.print(f"  {i.action.value:<8} {i.package}  {escape(proposal.titles.get(i.package, ''))}  "
                      f"[{escape(i.code)} v{i.version}, due {i.due.isoformat()}]", highlight=False)  # fmt: skip
        out.print(f"Two different people must now approve it: strongroom disposal approve {b.id} --as NAME",
                  highlight=False)  # fmt: skip
    for o in proposal.left_out:
        out.print(f"  left out {o.package} ({escape(o.name)}): {escape(o.why)}", highlight=False)


@disposal_app.command(name="approve", cls=Command)
def approve_command(
    ctx: typer.Context,
    batch: Annotated[str, typer.Argument(help=f"{BATCH_HELP}.")],
    name: Annotated[str, typer.Option("--as", help="Your name: the person approving (the account is recorded too).")],
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Approve a disposal batch. Two different people must approve it; the same person twice is refused."""
    with errors(as_json), open_archive(ctx, home) as archive:
        approved = approve(archive, batch, name, current_operator())
    if as_json:
        data = batch_json(approved)
        print_json({"batch": data["batch"], "status": data["status"], "approvals": data["approvals"]})
        return
    names = ", ".join(escape(a.name) for a in approved.approvals)
    console().print(f"Disposal batch {approved.id} is {approved.status.value}; approved by {names}.", highlight=False)


@disposal_app.command(name="withdraw", cls=Command)
def withdraw_command(
    ctx: typer.Context,
    batch: Annotated[str, typer.Argument(help=f"{BATCH_HELP}.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the batch is withdrawn (kept for good).")],
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Withdraw a proposed or approved batch before it is executed; its packages may be proposed again."""
    with errors(as_json), open_archive(ctx, home) as archive:
        withdrawn = withdraw(archive, batch, reason, current_operator())
    if as_json:
        print_json({"batch": withdrawn.id, "status": withdrawn.status.value})
        return
    console().print(f"Disposal batch {withdrawn.id} is withdrawn; nothing was disposed of.", highlight=False)


@disposal_app.command(name="execute", cls=Command)
def execute_command(
    ctx: typer.Context,
    batch: Annotated[str, typer.Argument(help=f"{BATCH_HELP}.")],
    transfer_to: Annotated[
        Path | None,
        typer.Option("--transfer-to", help="Where to write the BagIt bags of packages transferred to another archive."),
    ] = None,
    submit: SubmitFlag = False,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Execute an approved batch: remove each package from every location and the index, keep a stub, issue a
    certificate.

    Packages held, changed or re-sentenced since the proposal are skipped. A location that cannot be reached
    leaves the batch executing (exit 1): run the command again once it answers; it resumes where it stopped.
    With --submit, transferred packages' bags go to <home>/transferred/<batch>/.
    """
    if submit:
        _submit_execute(ctx, home, batch, transfer_to, as_json)
        return
    with errors(as_json), open_archive(ctx, home) as archive, progress(show_bar(as_json)) as bar:
        report = execute(archive, batch, current_operator(), transfer_to=transfer_to, progress=bar)
    if as_json:
        print_json(execution_json(report))
    else:
        _print_execution(report)
    if report.pending:
        raise typer.Exit(1)


def _submit_execute(ctx: typer.Context, home: Path | None, batch: str, transfer_to: Path | None,
                    as_json: bool) -> None:  # fmt: skip
    from strongroom.web.jobs_records import DISPOSAL_EXECUTE

    if transfer_to is not None:
        fail("--transfer-to cannot go with --submit: the job writes transferred packages' bags to "
             "<home>/transferred/<batch>/.", as_json=as_json,
             hints=["Leave out --transfer-to (and move the bags from there), or leave out --submit."])  # fmt: skip
    with errors(as_json), open_archive(ctx, home) as archive:
        found = find_batch(archive, batch)
    submit_job(ctx, home, DISPOSAL_EXECUTE, {"batch": found.id, "operator": current_operator()},
               f"Execute disposal batch {found.id}", as_json)  # fmt: skip


def _print_execution(r: ExecutionReport) -> None:
    out = console()
    for package in r.destroyed:
        out.print(f"[green]destroyed[/] {package}", highlight=False)
    for package, bag in r.transferred:
        out.print(f"[green]transferred[/] {package} as {escape(bag)}", highlight=False)
    for package, why in r.skipped:
        out.print(f"[yellow]skipped[/] {package}: {escape(why)}", highlight=False)
    for location, packages in r.pending.items():
        out.print(f"[red]pending[/] location {escape(location)} still holds {len(packages)} package(s)",
                  highlight=False)  # fmt: skip
    for problem in r.problems:
        out.print(f"  {escape(problem)}", highlight=False)
    if r.certificate:
        out.print(f"Disposal batch {r.batch.id} executed. Certificate: {escape(str(r.certificate.html))} and "
                  f"{escape(str(r.certificate.csv))}", highlight=False)  # fmt: skip
    else:
        out.print(f"Disposal batch {r.batch.id} is still {r.batch.status.value}: run `strongroom disposal execute "
                  f"{r.batch.id}` again once every location answers.", highlight=False)  # fmt: skip


@disposal_app.command(name="list", cls=Command)
def list_command(ctx: typer.Context, home: HomeOption = None, as_json: JsonFlag = False) -> None:
    """List the disposal batches, oldest first, with their status and approvals."""
    with errors(as_json), open_archive(ctx, home) as archive:
        batches = archive.catalog.disposal_batches()
    if as_json:
        print_json({"batches": [batch_json(b) for b in batches]})
        return
    if not batches:
        console().print("No disposal batches yet. Propose one with: strongroom disposal propose")
        return
    table = Table("Batch", "Status", "As of", "Items", "Approved by", "Executed")
    for b in batches:
        table.add_row(b.id, b.status.value, b.as_of.isoformat(), str(len(b.items)),
                      escape(", ".join(a.name for a in b.approvals)) or "-",
                      b.executed.strftime("%Y-%m-%d %H:%M") if b.executed else "-")  # fmt: skip
    console().print(table)


@disposal_app.command(name="show", cls=Command)
def show_command(
    ctx: typer.Context,
    batch: Annotated[str, typer.Argument(help=f"{BATCH_HELP}.")],
    certificate: Annotated[
        Path | None,
        typer.Option(
            "--certificate",
            help="Render the batch's destruction certificate (CSV and HTML) into this "
            "folder, checked against the digests journalled when it was issued.",
        ),
    ] = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a disposal batch: its items and their outcomes, approvals and certificate digests."""
    with errors(as_json), open_archive(ctx, home) as archive:
        found = find_batch(archive, batch)
        written = write_certificate(archive, found.id, certificate) if certificate is not None else None
    matches = certificate_matches(found, written) if written and found.certificate_sha256 else None
    if as_json:
        data = batch_json(found)
        if written is not None:
            data["certificate"] = {k: str(v) for k, v in written.items()} | {"matches": matches}
        print_json(data)
    else:
        _print_batch(found, written, matches)
    if matches is not None and not all(matches.values()):
        raise typer.Exit(1)


def _print_batch(b: DisposalBatch, written: dict[str, Path] | None, matches: dict[str, bool] | None) -> None:
    out = console()
    out.print(f"Disposal batch {b.id}: {b.status.value} (due on {b.as_of.isoformat()}, proposed "
              f"{b.proposed:%Y-%m-%d %H:%M} by {escape(b.proposed_by)})", highlight=False)  # fmt: skip
    for a in b.approvals:
        out.print(f"  approved by {escape(a.name)} ({escape(a.operator)}) {a.approved:%Y-%m-%d %H:%M}",
                  highlight=False)  # fmt: skip
    for i in b.items:
        extra = f": {escape(i.why)}" if i.why else ""
        pending = f" (pending in {escape(', '.join(i.pending_locations))})" if i.pending_locations else ""
        out.print(f"  {i.outcome.value:<11} {i.action.value:<8} {i.package} [{escape(i.code)} v{i.version}]"
                  f"{extra}{pending}", highlight=False)  # fmt: skip
    for kind, path in (written or {}).items():
        if matches is None:
            verdict = "a draft: the batch has no certificate issued yet"
        elif matches[kind]:
            verdict = "matches the digest journalled when it was issued"
        else:
            verdict = "[red]DIFFERS[/] from the digest journalled when it was issued"
        out.print(f"  certificate {kind}: {escape(str(path))}: {verdict}", highlight=False)


def register_disposal(app: typer.Typer, journal_app: typer.Typer) -> None:
    """Add the commands to `app` (and `journal_app` where they are journal commands)."""
    app.add_typer(disposal_app, name="disposal")
