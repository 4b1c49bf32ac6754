"""The `retention` commands: schedules, assignments, trigger events, the due list, reviews; `journal export`."""

from __future__ import annotations

import typer


def register_retention(app: typer.Typer, journal_app: typer.Typer) -> None:
    """Add the commands to `app` (and `journal_app` where they are journal commands)."""
