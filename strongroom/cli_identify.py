"""The `strongroom identify` command: formats of files named on the command line, like fido or sf.

It needs no archive home, so this module imports nothing of the archive: strongroom.__main__
runs `strongroom identify ...` with this command alone, without importing strongroom/cli.py (whose
imports of the catalog, storage and ingest stacks took most of a second before the first file).
A command line in the usual forms (the options below, `--opt value` or `--opt=value`) is parsed by
parse_usual() without typer's per-option pydantic adapters (~0.1 s); anything else (help, a mistake,
an option written another way) goes to typer, which parses and reports it as always.
On that usual path neither typer nor rich (nor strongroom/cli_output.py, which imports both: ~0.045 s of
CPU) is imported unless something goes wrong or a table is printed for a person.
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
from typing import TYPE_CHECKING, Annotated, Any

from strongroom.errors import StrongroomError

if TYPE_CHECKING:
    import typer


@contextmanager
def errors(as_json: bool) -> Iterator[None]:
    """cli_output.errors, imported only when there is an error to report (it brings typer and rich)."""
    try:
        yield
    except (StrongroomError, KeyboardInterrupt):
        from strongroom.cli_output import errors as report

        with report(as_json):
            raise


@contextmanager
def progress(enabled: bool) -> Iterator[Callable[[str, int, int | None], None]]:
    """cli_output.progress (a rich bar), imported only when a bar is shown."""
    if not enabled:
        yield lambda stage, done, total: None
        return
    from strongroom.cli_output import progress as bar

    with bar(enabled) as update:
        yield update


def print_json(data: Any) -> None:
    # As cli_output.print_json writes it (not imported from there: that module brings typer and rich).
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def show_bar(for_script: bool) -> bool:
    """A progress bar only for a person watching: stderr is a terminal and the output is not for a script."""
    return not for_script and sys.stderr.isatty()


def _home_for(ctx: typer.Context, home: Path | None) -> Path:
    """--home after the command, else one before it (the full CLI's state), else $STRONGROOM_HOME or the default."""
    if home is not None:
        return home.expanduser().absolute()
    state = ctx.find_root().obj
    if state is not None and isinstance(getattr(state, "home", None), Path):
        return Path(state.home)
    from strongroom.home import default_home

    return default_home()


def identify(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files (and, with --recursive, folders) to identify.")],
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Identify every file under folders.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file, in a list.")] = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV: path,size,puid,format,version,mime,basis,warnings.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(help="Worker processes (0 = one for small inputs, else one per core this process may use)."),
    ] = 0,
    engine: Annotated[
        str, typer.Option(help="'droid' (DROID's answers, current PRONOM); 'fido-fast' or 'fido' (PRONOM v109).")
    ] = "droid",
    signatures: Annotated[
        Path | None,
        typer.Option(help="A DROID signature file (DROID_SignatureFile_VNNN.xml); FIDO engines: formats-vNNN.xml."),
    ] = None,
    container_signatures: Annotated[
        Path | None, typer.Option(help="A DROID container signature file (container-signature-YYYYMMDD.xml).")
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="An archive home whose signature files to use (see `strongroom signatures list`); default: "
            "$STRONGROOM_HOME, else the platform's data folder, when that is an archive home.",
        ),
    ] = None,
) -> None:
    """Identify file formats with PRONOM signatures, like fido or sf; needs no archive home."""
    if as_json and as_csv:
        raise typer.BadParameter("give one of them, not both.", param_hint="'--json' / '--csv'")
    run_identify(
        Request(paths, recursive, as_json, as_csv, workers, engine, signatures, container_signatures),
        _home_for(ctx, home),
    )


@dataclass(frozen=True)
class Request:
    """What `strongroom identify` was asked, however its command line was parsed."""

    paths: list[Path]
    recursive: bool = False
    as_json: bool = False
    as_csv: bool = False
    workers: int = 0
    engine: str = "droid"
    signatures: Path | None = None
    container_signatures: Path | None = None


def run_identify(request: Request, home: Path) -> None:
    as_json, as_csv = request.as_json, request.as_csv
    rows: list[dict[str, Any]] = []
    writer = csv.writer(sys.stdout) if as_csv else None
    if writer:
        writer.writerow(["path", "size", "puid", "format", "version", "mime", "basis", "warnings"])
    table = None
    if not writer and not as_json:
        from rich.table import Table

        table = Table("PUID", "Format", "Basis", "Warnings")
        table.add_column("Path", overflow="fold")
    with errors(as_json), progress(show_bar(as_json or as_csv)) as bar:
        from strongroom.formats.batch import expand_paths, identify_files
        from strongroom.formats.signature_store import spec_for_identify

        files = list(expand_paths(request.paths, request.recursive))
        spec = spec_for_identify(home, request.engine, request.signatures, request.container_signatures)
        for done, item in enumerate(identify_files(files, workers=request.workers, spec=spec), start=1):
            bar("Identifying", done, len(files))
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
            elif table is not None:
                name = " ".join(p for p in (ident.format_name, ident.format_version) if p)
                table.add_row(ident.puid or "-", name, ident.basis.value, warnings, str(item.path))
        if as_json:
            from strongroom.formats import describe_identifier

            about = describe_identifier(spec)
            print_json({"tool": about.tool, "version": about.tool_version, "signatures": about.signature_version,
                        "files": rows})  # fmt: skip
    if table is not None:
        from strongroom.cli_output import console

        console().print(table)


_FLAGS = {"--recursive": "recursive", "-r": "recursive", "--json": "as_json", "--csv": "as_csv"}
_VALUES = {"--workers": "workers", "--engine": "engine", "--signatures": "signatures",
           "--container-signatures": "container_signatures", "--home": "home"}  # fmt: skip


def parse_usual(args: list[str]) -> tuple[Request, Path | None] | None:
    """`identify`'s arguments in their usual forms (and --home), or None for typer to parse: help, an
    unknown or repeated option, a value that does not convert, no paths, `--`, `-` or combined short flags."""
    given: dict[str, Any] = {}
    paths: list[Path] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if not arg:
            return None
        if not arg.startswith("-"):
            paths.append(Path(arg))
            continue
        name, equals, value = arg.partition("=")
        key = _FLAGS.get(name) if not equals else None
        key = key or _VALUES.get(name)
        if key is None or key in given:
            return None  # unknown, or repeated: typer decides
        if name in _FLAGS:
            given[key] = True
        else:
            if not equals:
                if index >= len(args):
                    return None
                value = args[index]
                index += 1
            if not value:
                return None
            if key == "workers":
                if not (value.isascii() and value.isdigit()):  # typer's own message for anything else
                    return None
                given[key] = int(value)
            elif key == "engine":
                given[key] = value
            else:
                given[key] = Path(value)
    if not paths or (given.get("as_json") and given.get("as_csv")):
        return None  # no paths, or both outputs: typer's usage errors
    home = given.pop("home", None)
    return Request(paths, **given), home


def run_usual(args: list[str]) -> bool:
    """Run `strongroom identify ARGS` when they are in the usual forms; False (nothing done) otherwise."""
    parsed = parse_usual(args)
    if parsed is None:
        return False
    request, home = parsed
    if home is not None:
        home = home.expanduser().absolute()
    else:
        from strongroom.home import default_home

        home = default_home()
    try:
        run_identify(request, home)
        sys.stdout.flush()
    except BrokenPipeError:  # as click does: the reader went away, which is no error of ours to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception as exc:
        # cli_output.fail ends a command with typer.Exit, which typer turns into the exit status. typer is
        # loaded only if fail() ran (it imports it), so without it there is no typer.Exit to look for.
        loaded = sys.modules.get("typer")
        if loaded is not None and isinstance(exc, loaded.Exit):
            sys.exit(exc.exit_code)
        raise
    return True


def register_identify(app: typer.Typer) -> None:
    # identify()'s annotations name typer (its options), and typer resolves them in this module's namespace,
    # which imports typer only now: the usual command line runs without it (run_usual).
    global typer
    import typer

    from strongroom.cli_output import Command

    app.command(name="identify", cls=Command)(identify)
