"""Rendering for the `strongroom` command: consoles, errors (plain or JSON), progress bars, help and long tables.

Kept apart from strongroom/cli.py so that the commands stay a few lines each over a library call.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer._click.core import Context, Parameter
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup

from strongroom.errors import StrongroomError

if TYPE_CHECKING:
    from strongroom.archive import PackageDetails
    from strongroom.reports.profile import GroupBy

PACKAGE_HELP = "UUID, UUID prefix (8+ characters) or name"

# Wide enough that no real name or path is cut; rich pads a table to its content, not to this.
UNLIMITED_WIDTH = 100_000

_JSON_KEY = "strongroom.json"  # ctx.meta: did the command line ask for --json (errors then come as JSON too)


def console() -> Console:
    """Standard output for people: fitted to a terminal; to a file or pipe, nothing is cut or wrapped."""
    if sys.stdout.isatty():
        return Console()
    return Console(width=UNLIMITED_WIDTH, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def fail(message: str, code: int = 2, *, as_json: bool = False, hints: Sequence[str] = ()) -> NoReturn:
    """Print one error on stderr (plain text, or {"error", "hint"} JSON under --json) and exit with `code`."""
    if as_json:
        sys.stderr.write(json.dumps({"error": message, "hint": list(hints)}, ensure_ascii=False) + "\n")
    else:
        text = message + "".join(f"\n  - {h}" for h in hints)
        # The message is plain text: brackets in it (paths, TOML keys) must not be read as markup.
        Console(stderr=True).print(f"[bold red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def errors(as_json: bool = False) -> Iterator[None]:
    """Library errors become one message and the error's exit code, never a traceback."""
    try:
        yield
    except StrongroomError as exc:
        fail(exc.message, exc.exit_code, as_json=as_json, hints=exc.details)
    except KeyboardInterrupt:
        fail("interrupted; nothing half-stored is kept (the next run cleans up).", 130, as_json=as_json)


StageProgress = Callable[[str, int, int | None], None]


@contextmanager
def progress(enabled: bool) -> Iterator[StageProgress]:
    """A rich progress bar on stderr; silent when output is for a script."""
    if not enabled:
        yield lambda stage, done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

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
            # A bar never shows more done than its total, whatever a caller's estimate was.
            bar.update(tasks[stage], completed=min(done, total) if total is not None else done, total=total)

        yield update


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


# --- help and usage errors ---------------------------------------------------------------------


def _flags_read_as_flags(params: list[Parameter]) -> list[Parameter]:
    # typer's rich help prints a type after every option, so `--json <bool>` reads as if it took a value
    # (and `--json true` fails). An empty metavar leaves a flag as just its name.
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


def _usage_error_as_json(exc: UsageError) -> NoReturn:
    hint = [f"See: {exc.ctx.command_path} --help"] if exc.ctx is not None else []
    fail(exc.format_message(), exc.exit_code, as_json=True, hints=hint)


class Command(TyperCommand):
    """A command whose help shows flags as flags."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        return _flags_read_as_flags(super().get_params(ctx))


class Group(TyperGroup):
    """The app and its sub-apps: flags read as flags, and under --json a usage error is JSON on stderr too."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        return _flags_read_as_flags(super().get_params(ctx))

    def make_context(
        self, info_name: str | None, args: list[str], parent: Context | None = None, **extra: Any
    ) -> Context:
        wants_json = "--json" in args
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except UsageError as exc:
            if wants_json:
                _usage_error_as_json(exc)
            raise
        ctx.meta[_JSON_KEY] = bool(ctx.meta.get(_JSON_KEY)) or wants_json
        return ctx

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            if ctx.meta.get(_JSON_KEY):
                _usage_error_as_json(exc)
            raise


# --- show --------------------------------------------------------------------------------------


def print_package(details: PackageDetails, data: dict[str, Any], ref: str, limit: int | None) -> None:
    """A package for people: summary, files summarised by role and format, the first `limit` files (None: all)."""
    from rich.table import Table

    s = details.summary
    out = console()
    out.print(
        f"[bold]{escape(s.name)}[/] {s.uuid}\n  title: {escape(s.title or '')}\n  created: {s.created.isoformat()}"
        f"\n  version {s.version} of {len(details.versions)}; {s.files} files, {human(s.bytes)}"
        f"\n  storage: {escape(s.storage_key)}",
        highlight=False,
    )
    files: list[dict[str, Any]] = data["files"]
    roles = Counter(str(f["role"]) for f in files)
    out.print("  files by role: " + ", ".join(f"{role} {n:,}" for role, n in sorted(roles.items())), highlight=False)
    formats: dict[tuple[str, str], list[int]] = {}
    for f in files:
        counts = formats.setdefault((f["puid"] or "-", f["format"] or "unidentified"), [0, 0])
        counts[0] += 1
        counts[1] += int(f["size"])
    by_format = Table("PUID", "Format", "Files", "Size", title="Formats", title_justify="left")
    for (puid, name), (count, size) in sorted(formats.items(), key=lambda item: (-item[1][0], item[0])):
        by_format.add_row(puid, escape(name), f"{count:,}", human(size))
    out.print(by_format)
    shown = files if limit is None else files[:limit]
    if shown:
        table = Table("Path", "PUID", "Format", "Basis", "Size", "SHA-256")
        for f in shown:
            table.add_row(
                escape(str(f["path"])), f["puid"] or "-", escape(f["format"] or ""), f["basis"] or "",
                human(int(f["size"])), str(f["sha256"])[:16] + "…",
            )  # fmt: skip
        out.print(table)
    if len(shown) < len(files):
        out.print(
            f"Showing {len(shown):,} of {len(files):,} files. See more with: strongroom show {escape(ref)} "
            f"--files {max(len(shown) * 5, 100)}, or every file with --all-files (or --json).",
            highlight=False,
        )
    versions = Table("Version", "Created", "By", "New files", "Why")
    for v in details.versions:
        versions.add_row(
            str(v.number), v.created.strftime("%Y-%m-%d %H:%M"), escape(v.operator or ""),
            f"{v.new_files} ({human(v.new_bytes)})", escape(v.message),
        )  # fmt: skip
    out.print(versions)
    for rule in details.access:
        opening = f" until {rule.opening_date.isoformat()}" if rule.opening_date else ""
        out.print(
            f"  access: {escape(rule.path or 'whole package')} {rule.status.value}{opening}: {escape(rule.reason)}",
            highlight=False,
        )
    events = data["events"]
    package_events = [e for e in events if e["file"] is None]
    out.print(f"{len(events)} events ({len(package_events)} about the whole package):")
    for e in package_events:
        first_line = str(e["detail"]).splitlines()[0] if e["detail"] else ""
        out.print(f"  {e['datetime']}  {e['type']}: {e['outcome']} - {escape(first_line)}", highlight=False)


# --- formats -----------------------------------------------------------------------------------

_RISK_STYLE = {"low": "green", "medium": "yellow", "high": "bold red", "unknown": "magenta"}


def print_profile(by: GroupBy, records: list[dict[str, Any]], totals: dict[str, Any]) -> None:
    from rich.table import Table

    from strongroom.reports.profile import GroupBy

    out = console()
    if not totals["files"]:
        out.print("No original files yet. Ingest a transfer with: strongroom ingest <folder>")
        return

    def risk(value: str) -> str:
        return f"[{_RISK_STYLE.get(value, '')}]{value}[/]"

    if by is GroupBy.VALIDITY:
        table = Table("Validity")
        table.add_column("Files", justify="right")
        table.add_column("Size", justify="right")
        table.add_column("Formats")
        for r in records:
            puids = ", ".join(p or "unidentified" for p in r["puids"])
            style = {"invalid": "red", "valid": "green"}.get(r["validity"], "")
            table.add_row(f"[{style}]{r['validity']}[/]" if style else r["validity"], str(r["files"]),
                          human(r["bytes"]), puids)  # fmt: skip
    elif by is GroupBy.RISK:
        table = Table("Risk")
        table.add_column("Files", justify="right")
        table.add_column("Size", justify="right")
        table.add_column("Formats")
        for r in records:
            puids = ", ".join(p or "unidentified" for p in r["puids"])
            table.add_row(risk(r["risk"]), str(r["files"]), human(r["bytes"]), puids)
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
                str(r["files"]), human(r["bytes"]), risk(r["risk"]), r["preferred_puid"] or "",
            ]  # fmt: skip
            # Package and format names are the depositor's words: "[draft]" is not markup. Cell 4 is the styled risk.
            cells = [escape(c) if i != 4 else c for i, c in enumerate(cells)]
            table.add_row(*([escape(r["package_name"]), *cells] if by is GroupBy.PACKAGE else cells))
        # Target names are long; a legend under the table ("fmt/477: ...") keeps the rows readable.
        table.caption = "; ".join(f"{puid}: {name}" for puid, name in sorted(targets.items())) or None
        table.caption_justify = "left"
    out.print(table)
    at_risk = ", ".join(f"{risk(level)} {count}" for level, count in totals["risk_files"].items() if count)
    out.print(
        f"{totals['files']} original files, {human(totals['bytes'])}, {totals['formats']} formats: {at_risk}.",
        highlight=False,
    )
    if totals["unidentified_files"]:
        out.print(f"[magenta]{totals['unidentified_files']} file(s) not identified.[/]", highlight=False)
