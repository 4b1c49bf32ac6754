"""The `disposal` commands. Disposal: propose, approve (two people), execute, with certificates."""

from __future__ import annotations

import typer


def register_disposal(app: typer.Typer, journal_app: typer.Typer) -> None:
    """Add the commands to `app` (and `journal_app` where they are journal commands)."""
