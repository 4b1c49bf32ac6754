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

from strongroom.archive import Archive, current_operator
from strongroom.errors import StrongroomError
from strongroom.formats import describe_identifier
from strongroom.formats.batch import expand_paths, identify_many
from strongroom.ingest.pipeline import IngestOptions, ingest
from strongroom.reports.profile import GroupBy, write_parquet
from strongroom.search.base import SearchQuery

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
        report = ingest(archive, source, options, progress)
    if as_json:
        _print_json(
            {
                "package": report.package,
                "name": report.name,
                "files": report.files,
                "bytes": report.bytes,
                "originals": report.originals,
                "kind": report.kind,
                "indexed": report.indexed,
                "warnings": list(report.warnings),
            }
        )
        return
    console = Console()
    console.print(
        f"Stored [bold]{report.name}[/] as package [bold]{report.package}[/]: "
        f"{report.originals} records, {report.files} files, {_human(report.bytes)} ({report.kind})."
    )
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
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
        _print_json(
            [
                {
                    "package": p.uuid,
                    "name": p.name,
                    "title": p.title,
                    "created": p.created.isoformat(),
                    "files": p.files,
                    "bytes": p.bytes,
                }
                for p in packages
            ]
        )
        return
    if not packages:
        Console().print("No packages yet. Ingest one with: strongroom ingest <folder>")
        return
    table = Table("Name", "Title", "Created", "Files", "Size")
    table.add_column("Package", no_wrap=True, min_width=36)
    for p in packages:
        table.add_row(
            p.name, p.title or "", p.created.strftime("%Y-%m-%d %H:%M"), str(p.files), _human(p.bytes), p.uuid
        )
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
    s = details.summary
    files: list[dict[str, Any]] = [
        {
            "path": f.path,
            "uuid": f.uuid,
            "size": f.size,
            "sha256": f.sha256,
            "role": f.role.value,
            "puid": f.identification.puid if f.identification else None,
            "format": f.identification.format_name if f.identification else None,
            "version": f.identification.format_version if f.identification else None,
            "mime": f.identification.mime if f.identification else None,
            "basis": f.identification.basis.value if f.identification else None,
            "warnings": list(f.identification.warnings) if f.identification else [],
        }
        for f in details.files
    ]
    events = [
        {
            "uuid": e.uuid,
            "type": e.type,
            "datetime": e.datetime.isoformat(),
            "outcome": e.outcome.value,
            "detail": e.outcome_detail,
            "file": e.file_uuid,
            "agents": list(e.agents),
        }
        for e in details.events
    ]
    if as_json:
        _print_json(
            {
                "package": s.uuid,
                "name": s.name,
                "title": s.title,
                "created": s.created.isoformat(),
                "files": files,
                "bytes": s.bytes,
                "payload_sha256": s.payload_sha256,
                "storage_key": s.storage_key,
                "description": {d.target: {k: list(v) for k, v in d.elements.items()} for d in details.descriptions},
                "events": events,
            }
        )
        return
    console = Console()
    console.print(
        f"[bold]{s.name}[/] {s.uuid}\n  title: {s.title or ''}\n  created: {s.created.isoformat()}"
        f"\n  {s.files} files, {_human(s.bytes)}\n  storage: {s.storage_key}",
        highlight=False,
    )
    table = Table("Path", "PUID", "Format", "Basis", "Size", "SHA-256")
    for f in files:
        table.add_row(
            str(f["path"]),
            f["puid"] or "-",
            f["format"] or "",
            f["basis"] or "",
            _human(int(f["size"])),
            str(f["sha256"])[:16] + "…",
        )
    console.print(table)
    package_events = [e for e in events if e["file"] is None]
    console.print(f"{len(events)} events ({len(package_events)} about the whole package):")
    for e in package_events:
        first_line = str(e["detail"]).splitlines()[0] if e["detail"] else ""
        console.print(
            f"  {e['datetime']}  {e['type']}: {e['outcome']} - {first_line}",
            highlight=False,
        )


@app.command()
def verify(
    ctx: typer.Context,
    packages: Annotated[list[str] | None, typer.Argument(help="Packages to check (UUID, prefix or name).")] = None,
    all_packages: Annotated[bool, typer.Option("--all", help="Check every package.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Re-read every stored file and compare it with the package manifests (exit 1 on any problem)."""
    if not packages and not all_packages:
        _fail("name one or more packages, or use --all.")
    with _errors(), _archive(ctx) as archive, _progress(not as_json and sys.stderr.isatty()) as progress:
        report = archive.verify(packages or [], current_operator(), progress)
    if as_json:
        _print_json(
            {"checked": report.checked, "packages": report.packages, "problems": [p.as_dict() for p in report.problems]}
        )
    else:
        console = Console()
        for p in report.problems:
            console.print(f"[red]{p.problem.kind}[/] {p.package}: {p.problem.describe()}", highlight=False)
        verdict = "[green]all good[/]" if not report.problems else f"[red]{len(report.problems)} problem(s)[/]"
        console.print(f"Checked {report.checked} files in {report.packages} package(s): {verdict}.")
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
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Search packages and files by Dublin Core, names, paths and formats."""
    with _errors(), _archive(ctx) as archive:
        if package:
            package = archive.package(package).uuid
        results = archive.search(
            SearchQuery(text=query, puid=puid, package=package, facets=("puid", "package"), offset=offset, limit=limit)
        )
    if as_json:
        _print_json(
            {
                "total": results.total,
                "hits": [
                    {
                        "package": h.package,
                        "name": h.package_name,
                        "path": h.path,
                        "title": h.title,
                        "puid": h.puid,
                        "format": h.format_name,
                        "file": h.file_uuid,
                        "score": h.score,
                        "snippet": h.snippet,
                    }
                    for h in results.hits
                ],
                "facets": {k: {f.value: f.count for f in v} for k, v in results.facets.items()},
            }
        )
        return
    console = Console()
    console.print(f"{results.total} match(es).")
    table = Table("Package", "Title", "PUID")
    table.add_column("Path", overflow="fold")
    for h in results.hits:
        table.add_row(h.package_name, h.title or "", h.puid or "", h.path or "(whole package)")
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
    count = workers if workers > 0 else max(1, os.cpu_count() or 1)
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
    package: Annotated[str, typer.Argument(help="Package UUID, prefix or name.")],
    dest: Annotated[Path, typer.Argument(help="Folder to write the bag into.")],
) -> None:
    """Write a stored package out as a BagIt bag and validate it."""
    with _errors(), _archive(ctx) as archive, _progress(sys.stderr.isatty()) as progress:
        path = archive.export(package, dest, progress)
    Console().print(f"Exported to {path} (bag valid).")


@app.command()
def rebuild(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False
) -> None:
    """Rebuild the catalog and the search index from the stored packages alone."""
    with _errors(), _archive(ctx) as archive, _progress(not as_json and sys.stderr.isatty()) as progress:
        report = archive.rebuild(progress)
    if as_json:
        _print_json({"packages": report.packages, "files": report.files, "indexed": report.indexed})
    else:
        Console().print(
            f"Rebuilt from storage: {report.packages} packages, {report.files} files, {report.indexed} indexed."
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
