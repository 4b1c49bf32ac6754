"""The `strongroom` command: a thin typer layer over strongroom.archive.

Each command parses its options, calls one library function and renders the
result, as a table for people or as JSON (`--json`) for scripts. Library errors
become one clear message on stderr and a non-zero exit.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from strongroom import views
from strongroom.archive import Archive, current_operator
from strongroom.errors import StrongroomError
from strongroom.formats import describe_identifier
from strongroom.formats.batch import expand_paths, identify_many
from strongroom.ingest.pipeline import IngestOptions
from strongroom.model import AccessStatus
from strongroom.preservation.fixity import FixityMode
from strongroom.preservation.verify import NEXT_STEP
from strongroom.reports.profile import GroupBy, write_parquet
from strongroom.search.base import SearchQuery, role_named
from strongroom.workers import default_workers

app = typer.Typer(
    help="Strongroom: ingest, verify, find and export digital records as BagIt packages with METS/PREMIS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@dataclass
class State:
    home: Path


def _fail(message: str, code: int = 2) -> NoReturn:
    # The message is plain text: brackets in it (paths, TOML keys) must not be read as markup.
    Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except StrongroomError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted; nothing half-stored is kept (the next run cleans up).", 130)


def _archive(ctx: typer.Context) -> Archive:
    state: State = ctx.obj
    return Archive.open(state.home)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int | None], None]]:
    """A rich progress bar on stderr; silent when output is for a script."""
    if not enabled:
        yield lambda stage, done, total: None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[
        Path,
        typer.Option(
            "--home", envvar="STRONGROOM_HOME", help="The archive's home folder (config, catalog, storage, index)."
        ),
    ] = Path("strongroom-home"),
) -> None:
    """Strongroom digital preservation archive."""
    ctx.obj = State(home=home.expanduser().absolute())


@app.command()
def init(
    ctx: typer.Context,
    organisation: Annotated[
        str, typer.Option(help="Name of the organisation that holds the archive.")
    ] = "Strongroom archive",
    organisation_id: Annotated[
        str, typer.Option(help="Short code of the organisation (repository code).")
    ] = "strongroom",
) -> None:
    """Create a new archive home with default settings (local storage, SQLite catalog and index)."""
    home: Path = ctx.obj.home
    with _errors():
        config = Archive.create(home, organisation, organisation_id)
        Archive.open(home).close()
    Console().print(f"Created archive in [bold]{home}[/] (settings: {config.name}).")
    Console().print(f"Next: strongroom --home {home} ingest <folder|zip|tar|bag>")


@app.command(name="ingest")
def ingest_command(
    ctx: typer.Context,
    source: Annotated[
        Path, typer.Argument(help="A folder, .zip, .tar/.tar.gz/.tgz, or BagIt bag (folder, zipped or tarred).")
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
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
    options = IngestOptions(name=name, description=dc, allow_duplicate=allow_duplicate, operator=current_operator())
    with _errors(), _archive(ctx) as archive, _progress(not as_json and sys.stderr.isatty()) as progress:
        report = archive.ingest(source, options, progress)
    if as_json:
        _print_json(views.ingest_json(report))
        return
    console = Console()
    console.print(
        f"Stored [bold]{escape(report.name)}[/] as package [bold]{report.package}[/]: "
        f"{report.originals} records, {report.files} files, {_human(report.bytes)} ({report.kind}).",
        highlight=False,
    )
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    if not report.indexed:
        console.print("[yellow]The search index will catch up on the next run (or: strongroom rebuild).[/]")


@app.command(name="list")
def list_command(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False
) -> None:
    """List the stored packages."""
    with _errors(), _archive(ctx) as archive:
        packages = archive.catalog.packages()
    if as_json:
        _print_json([views.package_json(p) for p in packages])
        return
    if not packages:
        Console().print("No packages yet. Ingest one with: strongroom ingest <folder>")
        return
    table = Table("Name", "Title", "Created", "Version", "Files", "Size")
    table.add_column("Package", no_wrap=True, min_width=36)
    for p in packages:
        table.add_row(
            escape(p.name), escape(p.title or ""), p.created.strftime("%Y-%m-%d %H:%M"), str(p.version),
            str(p.files), _human(p.bytes), p.uuid,
        )  # fmt: skip
    Console().print(table)


@app.command()
def show(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help="Package UUID, UUID prefix or name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show a package: summary, files with formats and checksums, and events."""
    with _errors(), _archive(ctx) as archive:
        details = archive.details(package)
    data = views.details_json(details)
    if as_json:
        _print_json(data)
        return
    s = details.summary
    console = Console()
    console.print(
        f"[bold]{escape(s.name)}[/] {s.uuid}\n  title: {escape(s.title or '')}\n  created: {s.created.isoformat()}"
        f"\n  version {s.version} of {len(details.versions)}; {s.files} files, {_human(s.bytes)}"
        f"\n  storage: {escape(s.storage_key)}",
        highlight=False,
    )
    table = Table("Path", "PUID", "Format", "Basis", "Size", "SHA-256")
    for f in data["files"]:
        table.add_row(
            escape(str(f["path"])), f["puid"] or "-", escape(f["format"] or ""), f["basis"] or "",
            _human(int(f["size"])), str(f["sha256"])[:16] + "…",
        )  # fmt: skip
    console.print(table)
    versions = Table("Version", "Created", "By", "New files", "Why")
    for v in details.versions:
        versions.add_row(
            str(v.number), v.created.strftime("%Y-%m-%d %H:%M"), escape(v.operator or ""),
            f"{v.new_files} ({_human(v.new_bytes)})", escape(v.message),
        )  # fmt: skip
    console.print(versions)
    for rule in details.access:
        opening = f" until {rule.opening_date.isoformat()}" if rule.opening_date else ""
        console.print(
            f"  access: {escape(rule.path or 'whole package')} {rule.status.value}{opening}: {escape(rule.reason)}",
            highlight=False,
        )
    events = data["events"]
    package_events = [e for e in events if e["file"] is None]
    console.print(f"{len(events)} events ({len(package_events)} about the whole package):")
    for e in package_events:
        first_line = str(e["detail"]).splitlines()[0] if e["detail"] else ""
        console.print(f"  {e['datetime']}  {e['type']}: {e['outcome']} - {escape(first_line)}", highlight=False)


@app.command()
def verify(
    ctx: typer.Context,
    packages: Annotated[list[str] | None, typer.Argument(help="Packages to check (UUID, prefix or name).")] = None,
    all_packages: Annotated[bool, typer.Option("--all", help="Check every package.")] = False,
    fast: Annotated[
        bool, typer.Option("--fast", help="Only check that every stored file is present and of the right size.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Check every version of the packages against their inventories and manifests (exit 1 on any problem).

    Results are recorded as PREMIS fixity-check events in the journal and the catalog.
    """
    if not packages and not all_packages:
        _fail("name one or more packages, or use --all.")
    mode = FixityMode.FAST if fast else FixityMode.FULL
    with _errors(), _archive(ctx) as archive, _progress(not as_json and sys.stderr.isatty()) as progress:
        report = archive.verify(packages or [], current_operator(), mode, progress)
    if as_json:
        _print_json(views.verify_json(report))
    else:
        console = Console()
        for p in report.problems:
            console.print(f"[red]{p.problem.kind}[/] {p.package}: {escape(p.describe())}", highlight=False)
        verdict = "[green]all good[/]" if not report.problems else f"[red]{len(report.problems)} problem(s)[/]"
        how = "present and of the right size" if fast else "every byte re-read"
        console.print(
            f"Checked {report.checked} stored files ({how}) in {report.packages} package(s), "
            f"{report.versions} version(s): {verdict}."
        )
        if report.problems:
            console.print(f"Next: {NEXT_STEP}", highlight=False)
    if report.problems:
        raise typer.Exit(1)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Words to find (all must match; end a word with * for a prefix).")],
    puid: Annotated[str | None, typer.Option(help="Only files of this PRONOM format (e.g. fmt/43).")] = None,
    package: Annotated[str | None, typer.Option(help="Only this package (UUID).")] = None,
    limit: Annotated[int, typer.Option(help="How many hits to show.")] = 20,
    offset: Annotated[int, typer.Option(help="Skip this many hits (paging).")] = 0,
    as_role: Annotated[
        str, typer.Option("--as", help="Search as this role: researcher (open records only), archivist or admin.")
    ] = "archivist",
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Search packages and files by Dublin Core, names, paths and formats, as a given role.

    A researcher (also any unknown role) sees open records only; archivist and admin see closed ones too.
    """
    viewer = role_named(as_role)
    with _errors(), _archive(ctx) as archive:
        if package:
            package = archive.package(package).uuid
        results = archive.search(
            SearchQuery(
                text=query, viewer=viewer, puid=puid, package=package, facets=("puid", "package", "access"),
                offset=offset, limit=limit,
            )
        )  # fmt: skip
    if as_json:
        _print_json(views.search_json(results))
        return
    console = Console()
    console.print(f"{results.total} match(es), searching as {viewer.value}.")
    table = Table("Package", "Title", "PUID", "Access")
    table.add_column("Path", overflow="fold")
    for h in results.hits:
        table.add_row(
            escape(h.package_name), escape(h.title or ""), h.puid or "", h.access.value,
            escape(h.path or "(whole package)"),
        )  # fmt: skip
    if results.hits:
        console.print(table)


@app.command()
def identify(
    paths: Annotated[list[Path], typer.Argument(help="Files (and, with --recursive, folders) to identify.")],
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Identify every file under folders.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file, in a list.")] = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV: path,size,puid,format,version,mime,basis,warnings.")
    ] = False,
    workers: Annotated[int, typer.Option(help="Worker processes (0 = one per core).")] = 0,
    engine: Annotated[str, typer.Option(help="'fast' (FIDO's answers, indexed) or 'fido' (FIDO itself).")] = "fast",
    signatures: Annotated[
        Path | None, typer.Option(help="A newer PRONOM signature file in FIDO's format (formats-vNNN.xml).")
    ] = None,
) -> None:
    """Identify file formats with PRONOM signatures, like fido or sf; needs no archive home."""
    count = workers if workers > 0 else default_workers()
    rows: list[dict[str, Any]] = []
    writer = csv.writer(sys.stdout) if as_csv else None
    if writer:
        writer.writerow(["path", "size", "puid", "format", "version", "mime", "basis", "warnings"])
    table = Table("PUID", "Format", "Basis", "Warnings")
    table.add_column("Path", overflow="fold")
    with _errors():
        files = list(expand_paths(paths, recursive))
        for item in identify_many(files, workers=count, engine=engine, signature_file=signatures):
            ident = item.identification
            warnings = "; ".join(ident.warnings)
            if writer:
                writer.writerow(
                    [item.path, item.size, ident.puid or "", ident.format_name or "", ident.format_version or "",
                     ident.mime or "", ident.basis.value, warnings]
                )  # fmt: skip
            elif as_json:
                rows.append(
                    {"path": str(item.path), "size": item.size, "puid": ident.puid, "format": ident.format_name,
                     "version": ident.format_version, "mime": ident.mime, "basis": ident.basis.value,
                     "warnings": list(ident.warnings), "matches": [m.puid for m in ident.matches]}
                )  # fmt: skip
            else:
                name = " ".join(p for p in (ident.format_name, ident.format_version) if p)
                table.add_row(ident.puid or "-", name, ident.basis.value, warnings, str(item.path))
        if as_json:
            tool, version, signature_version = describe_identifier(engine, signatures)
            _print_json({"tool": tool, "version": version, "signatures": signature_version, "files": rows})
        elif not writer:
            Console().print(table)


@app.command()
def export(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help="Package UUID, prefix (8+ characters) or name.")],
    dest: Annotated[Path, typer.Argument(help="Folder to write the bag into.")],
    version: Annotated[
        int | None, typer.Option("--version", help="Which version to export (1, 2, ...; default: the latest).")
    ] = None,
) -> None:
    """Write one version of a stored package out as a BagIt bag and validate it."""
    with _errors(), _archive(ctx) as archive, _progress(sys.stderr.isatty()) as progress:
        path = archive.export(package, dest, version, progress)
    Console().print(f"Exported to {escape(str(path))} (bag valid).", highlight=False)


@app.command()
def update(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help="Package UUID, prefix (8+ characters) or name.")],
    metadata: Annotated[
        Path, typer.Option("--metadata", help="A metadata.csv (filename,dc.title,...) with the new descriptions.")
    ],
    reason: Annotated[str, typer.Option(help="Why the metadata changes; kept in the PREMIS event.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Make a new version of a package with new descriptive metadata; nothing else is copied."""
    with _errors(), _archive(ctx) as archive, _progress(not as_json and sys.stderr.isatty()) as progress:
        result = archive.update_metadata(package, metadata, reason, current_operator(), progress)
    if as_json:
        _print_json(views.update_json(result))
        return
    s = result.commit.summary
    v = result.commit.version
    console = Console()
    console.print(
        f"Stored version {v.number} of [bold]{escape(s.name)}[/] ({s.uuid}): new descriptions of "
        f"{escape(', '.join(result.targets))}; {v.new_files} new files stored, the rest kept from earlier versions.",
        highlight=False,
    )
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


@app.command()
def access(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help="Package UUID, prefix (8+ characters) or name.")],
    status: Annotated[AccessStatus, typer.Option("--status", help="open: anyone may see it; closed: staff only.")],
    reason: Annotated[str, typer.Option("--reason", help="Why; kept in the journal and the next version's METS.")],
    file: Annotated[
        str | None, typer.Option("--file", help="A file or folder of the package (objects/...); default: all of it.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="For a closed record: the date it opens by itself (YYYY-MM-DD).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Open or close a package, or one file or folder of it, for researchers."""
    try:
        opening = date.fromisoformat(until) if until else None
    except ValueError:
        _fail(f"--until {until!r} is not a date; write it as YYYY-MM-DD.")
    with _errors(), _archive(ctx) as archive:
        change = archive.set_access(package, file, status, reason, opening, current_operator())
    if as_json:
        _print_json(views.access_change_json(change))
        return
    rule = change.rule
    opening_text = f" until {rule.opening_date.isoformat()}" if rule.opening_date else ""
    Console().print(
        f"{escape(rule.path or 'The whole package')} is now {rule.status.value}{opening_text} "
        f"(recorded as event {change.event.uuid}).",
        highlight=False,
    )


journal_app = typer.Typer(help="The append-only, hash-chained event journal kept beside the stored packages.")
app.add_typer(journal_app, name="journal")


@journal_app.command(name="verify")
def journal_verify(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False
) -> None:
    """Check the journal's hash chain; exit 1 naming the first edited, reordered or missing entry."""
    with _errors(), _archive(ctx) as archive:
        report = archive.journal_verify()
    if as_json:
        _print_json(views.journal_json(report))
    else:
        console = Console()
        for problem in report.problems:
            console.print(f"[red]{problem.kind}[/] {escape(problem.describe())}", highlight=False)
        if report.problems:
            console.print(
                f"[red]The journal is damaged[/]: {len(report.problems)} problem(s) in {report.entries} entries. "
                "Restore the journal folder from a backup or another storage location; do not edit it by hand."
            )
        else:
            console.print(f"Journal intact: {report.entries} entries, each chained to the one before.")
    if report.problems:
        raise typer.Exit(1)


@app.command()
def upgrade(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False
) -> None:
    """Convert an archive stored by Strongroom 0.1 (one bag per package) into versioned OCFL objects."""
    with _errors(), _archive(ctx) as archive, _progress(not as_json and sys.stderr.isatty()) as progress:
        report = archive.upgrade(current_operator(), progress)
    if as_json:
        _print_json(views.upgrade_json(report))
    elif report.already_done:
        Console().print("Nothing to upgrade: storage is already in OCFL objects.")
    else:
        Console().print(
            f"Converted {report.packages} packages ({report.files} files) to OCFL objects; "
            f"{report.journal_entries} events that only the catalog held are now in the journal."
        )


@app.command()
def rebuild(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False
) -> None:
    """Rebuild the catalog and the search index from the stored packages and the journal alone."""
    with _errors(), _archive(ctx) as archive, _progress(not as_json and sys.stderr.isatty()) as progress:
        report = archive.rebuild(progress)
    if as_json:
        _print_json(views.rebuild_json(report))
    else:
        Console().print(
            f"Rebuilt from storage and the journal: {report.packages} packages, {report.files} files, "
            f"{report.journal_entries} journal entries, {report.indexed} packages indexed."
        )


_RISK_STYLE = {"low": "green", "medium": "yellow", "high": "bold red", "unknown": "magenta"}


@app.command()
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
    package: Annotated[str | None, typer.Option(help="Profile only this package (UUID, UUID prefix or name).")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the rows and totals as JSON (bytes as integers).")
    ] = False,
    parquet: Annotated[
        Path | None,
        typer.Option(
            help="Also write the rows to this Parquet file (replaced atomically if it exists).", metavar="FILE"
        ),
    ] = None,
) -> None:
    """Profile the collection's formats with their preservation risk (low, medium, high, unknown).

    Only originals count: the records as deposited, not METS, depositor metadata, logs or submission documents.

    Files that no signature identified show as "unidentified", with unknown risk.

    Ratings come from the packaged registry, changed or extended by <home>/format-risk.toml.
    """
    with _errors(), _archive(ctx) as archive:
        profile = archive.collection_profile(by, package)
        written = write_parquet(profile, parquet) if parquet else None
    records = profile.records()
    if as_json:
        _print_json(
            {
                "by": profile.by.value,
                "package": profile.package,
                "registry_version": profile.registry_version,
                "rows": records,
                "totals": profile.totals.as_dict(),
            }
        )
    else:
        _print_profile(profile.by, records, profile.totals.as_dict())
    if written:
        # On stderr under --json, so the JSON on stdout stays parseable.
        Console(stderr=as_json).print(
            f"Wrote {len(records)} rows to {written} (Parquet).", highlight=False, soft_wrap=True
        )


def _print_profile(by: GroupBy, records: list[dict[str, Any]], totals: dict[str, Any]) -> None:
    from rich.markup import escape  # package names are the depositor's words: "[draft]" is not markup

    console = Console()
    if not totals["files"]:
        console.print("No original files yet. Ingest a transfer with: strongroom ingest <folder>")
        return

    def risk(value: str) -> str:
        return f"[{_RISK_STYLE.get(value, '')}]{value}[/]"

    if by is GroupBy.RISK:
        table = Table("Risk")
        table.add_column("Files", justify="right")
        table.add_column("Size", justify="right")
        table.add_column("Formats")
        for r in records:
            puids = ", ".join(p or "unidentified" for p in r["puids"])
            table.add_row(risk(r["risk"]), str(r["files"]), _human(r["bytes"]), puids)
    else:
        table = Table()
        if by is GroupBy.PACKAGE:
            table.add_column("Package", overflow="fold", min_width=8)
        table.add_column("PUID", no_wrap=True)
        table.add_column("Format", overflow="fold", min_width=12)
        table.add_column("Files", justify="right", no_wrap=True)
        table.add_column("Size", justify="right", no_wrap=True)
        table.add_column("Risk", no_wrap=True)
        table.add_column("Target", no_wrap=True)
        targets: dict[str, str] = {}
        for r in records:
            if r["preferred_puid"]:
                targets[r["preferred_puid"]] = r["preferred_name"]
            name, version = r["format_name"] or "", r["format_version"] or ""
            cells = [
                r["puid"] or "unidentified", f"{name} {version}" if version and version not in name else name,
                str(r["files"]), _human(r["bytes"]), risk(r["risk"]), r["preferred_puid"] or "",
            ]  # fmt: skip
            cells = [escape(c) if i != 4 else c for i, c in enumerate(cells)]  # cell 4 is the styled risk
            table.add_row(*([escape(r["package_name"]), *cells] if by is GroupBy.PACKAGE else cells))
        # Target names are long; a legend under the table ("fmt/477: ...") keeps the rows readable.
        table.caption = "; ".join(f"{puid}: {name}" for puid, name in sorted(targets.items())) or None
        table.caption_justify = "left"
    console.print(table)
    at_risk = ", ".join(f"{risk(level)} {count}" for level, count in totals["risk_files"].items() if count)
    console.print(
        f"{totals['files']} original files, {_human(totals['bytes'])}, {totals['formats']} formats: {at_risk}.",
        highlight=False,
    )
    if totals["unidentified_files"]:
        console.print(f"[magenta]{totals['unidentified_files']} file(s) not identified.[/]", highlight=False)


def run() -> None:  # pragma: no cover - console entry for `python -m strongroom`
    app(prog_name=os.path.basename(sys.argv[0]) or "strongroom")
