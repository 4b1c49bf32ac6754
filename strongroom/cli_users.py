"""`strongroom user ...`: accounts of the web service (filled by its owner)."""

from __future__ import annotations

import typer


def register_users(app: typer.Typer) -> None:
    """Adds the `user` command group."""
