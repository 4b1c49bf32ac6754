"""The `strongroom` command's entry point (console script and `python -m strongroom`).

`strongroom identify ...` needs no archive, so it runs from strongroom/cli_identify.py alone: importing
strongroom/cli.py (catalog, storage, ingest, reports) would cost more than identifying a few files. The
small group below has the same name, command, help and errors; anything else goes to the full command.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

_FAST_COMMANDS = ("identify",)


def _prog_name() -> str:
    name = os.path.basename(sys.argv[0])
    return "strongroom" if not name or name.endswith(".py") else name  # `python -m strongroom`: __main__.py


def _fast_app() -> typer.Typer:
    import typer

    from strongroom.cli_identify import register_identify
    from strongroom.cli_output import Group

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, cls=Group)

    @app.callback()
    def main() -> None:
        """Strongroom digital preservation archive."""

    register_identify(app)
    return app


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] and args[0] in _FAST_COMMANDS:
        from strongroom.cli_identify import run_usual

        if run_usual(args[1:]):
            return
        app = _fast_app()
    else:
        from strongroom.cli import app
    app(args=args, prog_name=_prog_name())


# Guarded: worker processes are spawned and import the main module again.
if __name__ == "__main__":
    main()
