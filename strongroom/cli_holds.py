"""The `holds` commands. Holds (litigation, FOI/EIR, audit, investigation): place, release, list."""

from __future__ import annotations

import typer


def register_holds(app: typer.Typer, journal_app: typer.Typer) -> None:
    """Add the commands to `app` (and `journal_app` where they are journal commands)."""
