"""What every `strongroom` command module shares: the --home and --json options and opening the archive."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from strongroom.archive import Archive


@dataclass
class State:
    home: Path  # from --home before the command, STRONGROOM_HOME, or the platform's data folder
    home_source: str  # how it was chosen, said by `init`


HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="The archive's home folder; may also come before the command (default: $STRONGROOM_HOME, else the "
        "platform's data folder, e.g. ~/.local/share/strongroom).",
        show_default=False,
        metavar="FOLDER",
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print as JSON (errors too, on stderr).")]


def command_home(ctx: typer.Context, home: Path | None) -> Path:
    # --home after the command name wins over one before it, which wins over STRONGROOM_HOME and the default.
    state: State = ctx.obj
    return home.expanduser().absolute() if home is not None else state.home


def open_archive(ctx: typer.Context, home: Path | None) -> Archive:
    return Archive.open(command_home(ctx, home))


def show_bar(as_json: bool = False) -> bool:
    """Show a progress bar only to a person watching: stderr is a terminal and the output is not for a script."""
    return not as_json and sys.stderr.isatty()
