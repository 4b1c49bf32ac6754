"""The `strongroom` command: a thin typer layer over strongroom.archive.

Each command parses its options, calls one library function and renders the
result, as a table for people or as JSON (`--json`) for scripts. Library errors
become one clear message on stderr and a non-zero exit.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer._click.core import ParameterSource

from strongroom import __version__, views
from strongroom.archive import Archive, current_operator
from strongroom.cli_common import HomeOption, JsonFlag, State
from strongroom.cli_common import command_home as _home
from strongroom.cli_common import open_archive as _archive
from strongroom.cli_common import show_bar as _bar
from strongroom.cli_copies import LocationOption, print_repair, print_unreachable, register_copy_commands
from strongroom.cli_dip import register_dip
from strongroom.cli_disposal import register_disposal
from strongroom.cli_doctor import register_doctor
from strongroom.cli_holds import register_holds
from strongroom.cli_identify import register_identify
from strongroom.cli_jobs import SubmitFlag, register_jobs, submit_job
from strongroom.cli_migrate import register_migrate
from strongroom.cli_output import (
    PACKAGE_HELP,
    Command,
    Group,
    console,
    errors,
    fail,
    human,
    print_json,
    print_package,
    print_profile,
    progress,
)
from strongroom.cli_report import register_report
from strongroom.cli_retention import register_retention
from strongroom.cli_search import register_search
from strongroom.cli_signatures import register_signatures
from strongroom.cli_text import register_text
from strongroom.cli_users import register_users
from strongroom.cli_web import register_web
from strongroom.cli_worker import register_worker
from strongroom.home import default_home
from strongroom.model import AccessStatus
from strongroom.preservation.audit import parse_duration, parse_size
from strongroom.preservation.fixity import FixityMode
from strongroom.records.viewing import ResearcherDetails, RestrictedView
from strongroom.reports.profile import GroupBy, write_parquet

app = typer.Typer(
    help="Strongroom: ingest, verify, find and export digital records as BagIt packages with METS/PREMIS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
)


def _show_version(value: bool) -> None:
    if value:
        print(f"strongroom {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar="STRONGROOM_HOME",
            help="The archive's home folder (config, catalog, storage, index); also accepted after the command.",
            show_default="the platform's data folder, e.g. ~/.local/share/strongroom",
            metavar="FOLDER",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", help="Print Strongroom's version and exit.", callback=_show_version, is_eager=True),
    ] = False,
) -> None:
    """Strongroom digital preservation archive."""
    if home is None:
        ctx.obj = State(default_home(), "the default home")
    else:
        source = ctx.get_parameter_source("home")
        how = "from STRONGROOM_HOME" if source is ParameterSource.ENVIRONMENT else "from --home"
        ctx.obj = State(home.expanduser().absolute(), how)


@app.command(cls=Command)
def init(
    ctx: typer.Context,
    organisation: Annotated[
        str, typer.Option(help="Name of the organisation that holds the archive.")
    ] = "Strongroom archive",
    organisation_id: Annotated[
        str, typer.Option(help="Short code of the organisation (repository code).")
    ] = "strongroom",
    home: HomeOption = None,
) -> None:
    """Create a new archive home with default settings (local storage, SQLite catalog and index)."""
    path = _home(ctx, home)
    with errors():
        config = Archive.create(path, organisation, organisation_id)
        Archive.open(path).close()
    state: State = ctx.obj
    how = "from --home" if home is not None else state.home_source
    out = console()
    out.print(f"Created archive in [bold]{escape(str(path))}[/] ({how}; settings: {config.name}).", highlight=False)
    if how == "the default home":
        out.print("Every command uses it unless given --home or STRONGROOM_HOME.", highlight=False)
        out.print("Next: strongroom ingest <folder|zip|tar|bag>", highlight=False)
    else:
        out.print(f"Next: strongroom ingest --home {escape(str(path))} <folder|zip|tar|bag>", highlight=False)


@app.command(name="ingest", cls=Command)
def ingest_command(
    ctx: typer.Context,
    source: Annotated[
        Path,
        typer.Argument(
            help="A folder, .zip, .7z, .tar/.tar.gz/.tgz, BagIt bag (folder or in an archive), "
            "or an ISO 9660 disk image (stored as received)."
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Package name (default: the source's name).")] = None,
    title: Annotated[str | None, typer.Option(help="Dublin Core title of the whole package.")] = None,
    creator: Annotated[list[str] | None, typer.Option(help="Dublin Core creator (repeatable).")] = None,
    date: Annotated[str | None, typer.Option(help="Dublin Core date.")] = None,
    description: Annotated[str | None, typer.Option(help="Dublin Core description.")] = None,
    subject: Annotated[list[str] | None, typer.Option(help="Dublin Core subject (repeatable).")] = None,
    identifier: Annotated[str | None, typer.Option(help="Dublin Core identifier (e.g. a reference code).")] = None,
    rights: Annotated[str | None, typer.Option(help="Dublin Core rights statement.")] = None,
    allow_duplicate: Annotated[
        bool, typer.Option("--allow-duplicate", help="Store even when the same files are already stored.")
    ] = False,
    as_folder: Annotated[
        bool,
        typer.Option(
            "--as-folder",
            help="Take a folder that looks like a BagIt bag (bagit.txt, manifests, data/) as plain files: "
            "no bag checks, every file kept as it is.",
        ),
    ] = False,
    retention: Annotated[
        str | None,
        typer.Option(
            "--retention",
            help="Assign this retention schedule (its code; see `strongroom retention list`); refused before "
            "storing if the code is unknown or metadata.csv or a rule names another.",
            metavar="CODE",
        ),
    ] = None,
    submit: SubmitFlag = False,
    home: HomeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON (errors too, on stderr).")] = False,
) -> None:
    """Ingest a transfer: verify it, identify formats, build and store a BagIt package with METS."""
    dc: dict[str, tuple[str, ...]] = {}
    for element, value in (
        ("title", title),
        ("date", date),
        ("description", description),
        ("identifier", identifier),
        ("rights", rights),
    ):
        if value:
            dc[element] = (value,)
    for element, values in (("creator", creator), ("subject", subject)):
        if values:
            dc[element] = tuple(values)
    from strongroom.ingest.pipeline import IngestOptions  # imported on use, as every heavy part: start-up counts

    options = IngestOptions(
        name=name,
        description=dc,
        allow_duplicate=allow_duplicate,
        operator=current_operator(),
        as_folder=as_folder,
        retention=retention,
    )
    if submit:
        from strongroom.errors import TransferError
        from strongroom.ingest.job import INGEST_KIND, ingest_params

        with errors(as_json):
            if not source.exists():  # refused now rather than as a failed job
                raise TransferError(f"{source} does not exist.", details=["Check the path and try again."])
        submit_job(ctx, home, INGEST_KIND, ingest_params(source, options), f"Ingest {source.name}", as_json)
        return
    with errors(as_json), _archive(ctx, home) as archive, progress(_bar(as_json)) as bar:
        report = archive.ingest(source, options, bar)
    if as_json:
        print_json(views.ingest_json(report))
        return
    out = console()
    out.print(
        f"Stored [bold]{escape(report.name)}[/] as package [bold]{report.package}[/]: "
        f"{report.originals} records, {report.files} files, {human(report.bytes)} ({report.kind}).",
        highlight=False,
    )
    for line in report.normalization:
        out.print(escape(line), highlight=False)
    for warning in report.warnings:
        out.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    if not report.indexed:
        out.print("[yellow]The search index will catch up on the next run (or: strongroom rebuild).[/]")


@app.command(name="list", cls=Command)
def list_command(ctx: typer.Context, home: HomeOption = None, as_json: JsonFlag = False) -> None:
    """List the stored packages."""
    with errors(as_json), _archive(ctx, home) as archive:
        packages = archive.catalog.packages()
    if as_json:
        print_json([views.package_json(p) for p in packages])
        return
    if not packages:
        console().print("No packages yet. Ingest one with: strongroom ingest <folder>")
        return
    table = Table("Name", "Title", "Created", "Version", "Files", "Size")
    table.add_column("Package", no_wrap=True, min_width=36)
    for p in packages:
        table.add_row(
            escape(p.name), escape(p.title or ""), p.created.strftime("%Y-%m-%d %H:%M"), str(p.version),
            str(p.files), human(p.bytes), p.uuid,
        )  # fmt: skip
    console().print(table)


SHOWN_FILES = 20  # `show` lists this many files unless told otherwise; a package may hold many thousands


@app.command(cls=Command)
def show(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help=f"The package: {PACKAGE_HELP}.")],
    files: Annotated[
        int | None,
        typer.Option(
            "--files",
            min=0,
            show_default=False,
            help=f"List this many files (default: {SHOWN_FILES}; under --json: all of them).",
        ),
    ] = None,
    all_files: Annotated[bool, typer.Option("--all-files", help="List every file, however many.")] = False,
    as_role: Annotated[
        str,
        typer.Option(
            "--as",
            help="Show it as this role sees it: researcher (closed records left out, restricted ones as "
            "stand-ins), archivist or admin (everything).",
        ),
    ] = "archivist",
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a package: summary, files by role and format, the first files with checksums, versions and events."""
    from strongroom.preservation.dip import role_of

    if files is not None and all_files:
        fail("give --files N or --all-files, not both.", as_json=as_json)
    with errors(as_json):
        role = role_of(as_role)
        with _archive(ctx, home) as archive:
            viewed = archive.details(package, role)
    if isinstance(viewed, RestrictedView):
        if as_json:
            print_json(views.restricted_view_json(viewed))
        else:
            _print_restricted(viewed)
        return
    details = viewed.details if isinstance(viewed, ResearcherDetails) else viewed
    data = views.details_json(details)
    if isinstance(viewed, ResearcherDetails):
        data.update(views.researcher_extras_json(viewed))
    if as_json:
        # Scripts rely on every file being listed; file_count always gives the whole number.
        if files is not None:
            data["files"] = data["files"][:files]
        print_json(data)
        return
    print_package(details, data, package, None if all_files else SHOWN_FILES if files is None else files)
    if isinstance(viewed, ResearcherDetails):
        _print_researcher_extras(viewed)


def _print_restricted(view: RestrictedView) -> None:
    opening = view.opening_date.isoformat() if view.opening_date else "not set"
    console().print(
        f"[bold]{escape(view.title)}[/] {view.package}\n  {view.status.value}: its content may not be seen"
        f"\n  identifier: {escape('; '.join(view.identifier) or '-')}\n  dates: {escape('; '.join(view.dates) or '-')}"
        f"\n  exemption: {escape(view.exemption or '-')}\n  opens: {opening}",
        highlight=False,
    )


def _print_researcher_extras(viewed: ResearcherDetails) -> None:
    out = console()
    if viewed.withheld:
        out.print(f"Records withheld (closed): {viewed.withheld}", highlight=False)
    for masked in viewed.masked:
        opening = masked.opening_date.isoformat() if masked.opening_date else "not set"
        exemption = f", {masked.exemption}" if masked.exemption else ""
        out.print(f"  restricted: {escape(masked.title)} (opens {opening}{exemption})", highlight=False)


@app.command(cls=Command)
def audit(
    ctx: typer.Context,
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="Skip packages checked more recently than this (e.g. 90d, 12h)."),
    ] = None,
    max_bytes: Annotated[
        str | None,
        typer.Option("--max-bytes", help="Stop adding packages to this run once this much is planned (e.g. 500G)."),
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", help="Read no faster than this many MB/s, to spare the disks.")
    ] = None,
    location: Annotated[
        str | None, typer.Option("--location", help="Audit only the copies in this storage location.")
    ] = None,
    repair: Annotated[
        bool, typer.Option("--repair", help="Heal each damaged copy found from a location whose copy verifies.")
    ] = False,
    submit: SubmitFlag = False,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Re-read a slice of the archive, least recently checked copies first (exit 1 on any problem).

    Run it from cron or a systemd timer: each run checks the package copies (in every storage location) that
    waited longest, every version and every byte, and records a PREMIS fixity-check event per package and
    location in the journal, so a cycle of runs covers the whole archive.
    """
    with errors(as_json):
        age = parse_duration(older_than) if older_than else None
        budget = parse_size(max_bytes) if max_bytes else None
        if rate is not None and rate <= 0:
            fail("--rate must be more than 0 MB/s.", as_json=as_json)
    if submit:
        from strongroom.web.jobs_preservation import AUDIT, audit_params

        with errors(as_json):
            params = audit_params({"older_than": older_than, "max_bytes": max_bytes, "rate": rate,
                                   "location": location, "repair": repair})  # fmt: skip
        submit_job(ctx, home, AUDIT, params | {"operator": current_operator()}, "Audit stored copies", as_json)
        return
    with errors(as_json), _archive(ctx, home) as archive, progress(_bar(as_json)) as bar:
        report = archive.audit(
            current_operator(), location=location, older_than=age, max_bytes=budget, rate=rate, repair=repair,
            progress=bar,
        )  # fmt: skip
        packages_by_uuid = {p.uuid: p for p in archive.catalog.packages()} if report.verify.problems else {}
    if as_json:
        print_json(views.audit_json(report))
    else:
        out = console()
        for p in report.verify.problems:
            out.print(
                f"[red]{p.problem.kind}[/] {escape(views.describe_problem(p, packages_by_uuid))}", highlight=False
            )
        print_unreachable(out, report.verify.unreachable)
        plan = report.plan
        count = len(report.verify.problems)
        verdict = "[green]all good[/]" if not count else f"[red]{count} problem(s)[/]"
        read = (
            f"{report.verify.bytes_read / 1e6:.1f} MB in {report.seconds:.1f} s ({report.read_mb_per_second:.1f} MB/s)"
        )
        out.print(
            f"Audited {len(plan.copies)} copies of {len(plan.packages)} package(s): {report.verify.checked} stored "
            f"files, {read}: {verdict}. Waiting for a later run: {plan.checked_recently} checked recently, "
            f"{plan.over_budget} over --max-bytes.",
            highlight=False,
        )
        for repaired in report.repairs:
            print_repair(out, repaired)
        for package, why in report.repair_failures.items():
            out.print(f"[red]not repaired[/] {escape(package)}: {escape(why)}", highlight=False)
        if report.verify.problems and not repair:
            out.print("Next:", highlight=False)
            for step in views.verify_next_steps(report.verify):
                out.print(f"  - {escape(step)}", highlight=False)
    healed = repair and not report.repair_failures and all(r.ok for r in report.repairs)
    if (report.verify.problems and not healed) or report.verify.unreachable:
        raise typer.Exit(1)


@app.command(cls=Command)
def verify(
    ctx: typer.Context,
    packages: Annotated[list[str] | None, typer.Argument(help=f"Packages to check: {PACKAGE_HELP}.")] = None,
    all_packages: Annotated[bool, typer.Option("--all", help="Check every package.")] = False,
    fast: Annotated[
        bool, typer.Option("--fast", help="Only check that every stored file is present and of the right size.")
    ] = False,
    location: LocationOption = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Check every version of the packages against their inventories and manifests (exit 1 on any problem).

    Each storage location's copy is checked (or only the --location ones). Results are recorded as PREMIS
    fixity-check events in the journal and the catalog.
    """
    if not packages and not all_packages:
        fail("name one or more packages, or use --all.", as_json=as_json)
    mode = FixityMode.FAST if fast else FixityMode.FULL
    with errors(as_json), _archive(ctx, home) as archive, progress(_bar(as_json)) as bar:
        report = archive.verify(packages or [], current_operator(), mode, bar, locations=location or None)
        packages_by_uuid = {p.uuid: p for p in archive.catalog.packages()} if report.problems else {}
    if as_json:
        print_json(views.verify_json(report) | views.verify_next_steps_json(report, packages_by_uuid))
    else:
        out = console()
        few = len(report.problems) <= 10  # a step per problem helps with a few; with many it buries the list
        for p in report.problems:
            out.print(
                f"[red]{p.problem.kind}[/] {escape(views.describe_problem(p, packages_by_uuid))}", highlight=False
            )
            if few:
                out.print(
                    f"  to fix: {escape(views.problem_next_step(p, packages_by_uuid, report.location_count > 1))}",
                    highlight=False,
                )
        print_unreachable(out, report.unreachable)
        verdict = "[green]all good[/]" if not report.problems else f"[red]{len(report.problems)} problem(s)[/]"
        how = "present and of the right size" if fast else "every byte re-read"
        places = len({c.location for c in report.copies})
        out.print(
            f"Checked {report.checked} stored files ({how}) in {report.packages} package(s), "
            f"{report.versions} version(s), {len(report.copies)} copies in {places} location(s): {verdict}."
        )
        if report.problems:
            out.print("Next:", highlight=False)
            for step in views.verify_next_steps(report):
                out.print(f"  - {escape(step)}", highlight=False)
    if report.problems or report.unreachable:
        raise typer.Exit(1)


@app.command(cls=Command)
def export(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help=f"The package: {PACKAGE_HELP}.")],
    dest: Annotated[Path, typer.Argument(help="Folder to write the bag into.")],
    version: Annotated[
        int | None, typer.Option("--version", help="Which version to export (1, 2, ...; default: the latest).")
    ] = None,
    as_role: Annotated[
        str,
        typer.Option(
            "--as",
            help="Export for this role: archivist or admin (the default: everything), or researcher (refused "
            "unless every record is open today; give researchers a DIP with `strongroom dip`).",
        ),
    ] = "archivist",
    home: HomeOption = None,
) -> None:
    """Write one version of a stored package out as a BagIt bag and validate it."""
    from strongroom.preservation.dip import role_of

    with errors():
        role = role_of(as_role)
        with _archive(ctx, home) as archive, progress(_bar()) as bar:
            path = archive.export(package, dest, version, bar, viewer=role)
    console().print(f"Exported to {escape(str(path))} (bag valid).", highlight=False)


@app.command(cls=Command)
def update(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help=f"The package: {PACKAGE_HELP}.")],
    metadata: Annotated[
        Path, typer.Option("--metadata", help="A metadata.csv (filename,dc.title,...) with the new descriptions.")
    ],
    reason: Annotated[str, typer.Option(help="Why the metadata changes; kept in the PREMIS event.")] = "",
    submit: SubmitFlag = False,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Make a new version of a package with new descriptive metadata; nothing else is copied."""
    if submit:
        from strongroom.ingest.job import UPDATE_KIND, update_params

        with errors(as_json), _archive(ctx, home) as archive:
            params = update_params(archive, package, metadata, reason, current_operator())
            name = archive.package(package).name
        submit_job(ctx, home, UPDATE_KIND, params, f"Update the descriptions of {name}", as_json)
        return
    with errors(as_json), _archive(ctx, home) as archive, progress(_bar(as_json)) as bar:
        result = archive.update_metadata(package, metadata, reason, current_operator(), bar)
    if as_json:
        print_json(views.update_json(result))
        return
    s = result.commit.summary
    v = result.commit.version
    out = console()
    out.print(
        f"Stored version {v.number} of [bold]{escape(s.name)}[/] ({s.uuid}): new descriptions of "
        f"{escape(', '.join(result.targets))}; {v.new_files} new files stored, the rest kept from earlier versions.",
        highlight=False,
    )
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


@app.command(cls=Command)
def access(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help=f"The package: {PACKAGE_HELP}.")],
    status: Annotated[
        AccessStatus,
        typer.Option(
            "--status",
            help="open: anyone may see it; closed: staff only (researchers see nothing of it); restricted: "
            "researchers see a stand-in (redacted title, reference, dates, exemption) but no content.",
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why; kept in the journal and the next version's METS.")],
    file: Annotated[
        str | None, typer.Option("--file", help="A file or folder of the package (objects/...); default: all of it.")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="For a closed or restricted record: the date it opens by itself (YYYY-MM-DD)."),
    ] = None,
    closure_start: Annotated[
        str | None,
        typer.Option(
            "--closure-start",
            help="The day the closure period runs from (YYYY-MM-DD), or last-record for the latest date of the "
            "records themselves. With --period; the opening date is start + period.",
        ),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            help="The closure period as an ISO 8601 duration: P20Y (the 20-year rule for public records), "
            "P75Y or P100Y (personal data), P30Y6M.",
        ),
    ] = None,
    exemption: Annotated[
        str | None,
        typer.Option(
            "--exemption",
            help="The FOI Act 2000 section or EIR 2004 regulation closing it: s.40 (personal information), "
            "s.41 (information provided in confidence), reg.13, ...; 40 and S.40 are read as s.40.",
        ),
    ] = None,
    redacted_title: Annotated[
        str | None,
        typer.Option("--redacted-title", help="The title researchers see instead of the real one until it opens."),
    ] = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Open, close or restrict a package, or one file or folder of it, for researchers.

    Examples: --status closed --closure-start last-record --period P20Y --exemption s.40;
    --status restricted --until 2040-01-01 --redacted-title "Personnel file".
    """
    from strongroom.errors import StrongroomError
    from strongroom.records.closure import closure_terms

    with errors(as_json):
        try:
            opening = date.fromisoformat(until) if until else None
        except ValueError:
            raise StrongroomError(f"--until {str(until)[:40]!r} is not a date; write it as YYYY-MM-DD.") from None
        terms = closure_terms(closure_start, period, exemption, redacted_title)
        with _archive(ctx, home) as archive:
            change = archive.set_access(package, file, status, reason, opening, current_operator(), terms)
    if as_json:
        print_json(views.access_change_json(change))
        return
    rule = change.rule
    opening_text = f" until {rule.opening_date.isoformat()}" if rule.opening_date else ""
    exemption_text = f" under {rule.exemption}" if rule.exemption else ""
    console().print(
        f"{escape(rule.path or 'The whole package')} is now {rule.status.value}{opening_text}{exemption_text} "
        f"(recorded as event {change.event.uuid}).",
        highlight=False,
    )


journal_app = typer.Typer(
    help="The append-only, hash-chained event journal kept beside the stored packages.", cls=Group
)
app.add_typer(journal_app, name="journal")


@journal_app.command(name="verify", cls=Command)
def journal_verify(ctx: typer.Context, home: HomeOption = None, as_json: JsonFlag = False) -> None:
    """Check the journal's hash chain; exit 1 naming the first edited, reordered or missing entry."""
    with errors(as_json), _archive(ctx, home) as archive:
        report = archive.journal_verify()
    if as_json:
        print_json(views.journal_json(report))
    else:
        out = console()
        for problem in report.problems:
            out.print(f"[red]{problem.kind}[/] {escape(problem.describe())}", highlight=False)
        if report.problems:
            out.print(
                f"[red]The journal is damaged[/]: {len(report.problems)} problem(s) in {report.entries} entries. "
                "Restore the journal folder from a backup or another storage location; do not edit it by hand."
            )
        else:
            out.print(f"Journal intact: {report.entries} entries, each chained to the one before.")
    if report.problems:
        raise typer.Exit(1)


@app.command(cls=Command)
def upgrade(ctx: typer.Context, home: HomeOption = None, as_json: JsonFlag = False) -> None:
    """Convert an archive stored by Strongroom 0.1 (one bag per package) into versioned OCFL objects."""
    with errors(as_json), _archive(ctx, home) as archive, progress(_bar(as_json)) as bar:
        report = archive.upgrade(current_operator(), bar)
    if as_json:
        print_json(views.upgrade_json(report))
    elif report.already_done:
        console().print("Nothing to upgrade: storage is already in OCFL objects.")
    else:
        console().print(
            f"Converted {report.packages} packages ({report.files} files) to OCFL objects; "
            f"{report.journal_entries} events that only the catalog held are now in the journal."
        )


@app.command(cls=Command)
def rebuild(ctx: typer.Context, submit: SubmitFlag = False, home: HomeOption = None, as_json: JsonFlag = False) -> None:
    """Rebuild the catalog and the search index from the stored packages and the journal alone."""
    if submit:
        from strongroom.web.jobs_preservation import REBUILD

        submit_job(ctx, home, REBUILD, {"operator": current_operator()}, "Rebuild the catalog and index", as_json)
        return
    with errors(as_json), _archive(ctx, home) as archive, progress(_bar(as_json)) as bar:
        report = archive.rebuild(bar)
    if as_json:
        print_json(views.rebuild_json(report))
    else:
        console().print(
            f"Rebuilt from storage and the journal: {report.packages} packages, {report.files} files, "
            f"{report.journal_entries} journal entries, {report.indexed} packages indexed."
        )
        print_unreachable(console(), report.unreachable)


@app.command(cls=Command)
def formats(
    ctx: typer.Context,
    by: Annotated[
        GroupBy,
        typer.Option(
            "--by",
            help="Rows per format (puid: PUID, name, version), per risk level (risk), or per package and format "
            "(package).",
        ),
    ] = GroupBy.PUID,
    package: Annotated[str | None, typer.Option(help=f"Profile only this package: {PACKAGE_HELP}.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the rows and totals as JSON (bytes as integers).")
    ] = False,
    parquet: Annotated[
        Path | None,
        typer.Option(
            help="Also write the rows to this Parquet file (replaced atomically if it exists).", metavar="FILE"
        ),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Profile the collection's formats with their preservation risk (low, medium, high, unknown).

    Only originals count: the records as deposited, not METS, depositor metadata, logs or submission documents.

    Files that no signature identified show as "unidentified", with unknown risk.

    Ratings come from the packaged registry, changed or extended by <home>/format-risk.toml.
    """
    with errors(as_json), _archive(ctx, home) as archive:
        profile = archive.collection_profile(by, package)
        written = write_parquet(profile, parquet) if parquet else None
    records = profile.records()
    if as_json:
        print_json(
            {
                "by": profile.by.value,
                "package": profile.package,
                "registry_version": profile.registry_version,
                "rows": records,
                "totals": profile.totals.as_dict(),
            }
        )
    else:
        print_profile(profile.by, records, profile.totals.as_dict())
    if written:
        # On stderr under --json, so the JSON on stdout stays parseable.
        Console(stderr=as_json).print(
            f"Wrote {len(records)} rows to {written} (Parquet).", highlight=False, soft_wrap=True
        )


register_copy_commands(app)
register_doctor(app)
register_search(app)
register_dip(app)
register_migrate(app)
register_report(app)
register_identify(app)
register_signatures(app)
register_retention(app, journal_app)
register_holds(app, journal_app)
register_disposal(app, journal_app)
register_web(app)
register_worker(app)
register_users(app)
register_jobs(app)
register_text(app)


def run() -> None:  # pragma: no cover - console entry for `python -m strongroom`
    app(prog_name=os.path.basename(sys.argv[0]) or "strongroom")
