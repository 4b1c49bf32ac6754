"""CSV cells that a spreadsheet shows as text (the certificate, the due list, the journal export)."""

from __future__ import annotations

# A cell starting with one of these is a formula to a spreadsheet (CSV injection): a leading quote keeps it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A cell a spreadsheet shows as text: one that would start a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
