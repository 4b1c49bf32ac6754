"""The Identifier protocol and helpers shared by identifiers."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from strongroom.model import Identification


@runtime_checkable
class Identifier(Protocol):
    """Names the format of a file. Implementations must be safe to create once per worker process."""

    tool: str
    tool_version: str
    signature_version: str

    def identify(self, path: Path, name: str | None = None) -> Identification:
        """Identify the file at `path`.

        `name` is the file's name as deposited, used for extension matching when the
        bytes live under another name (for example in a staging area).
        """
        ...


def extension_of(name: str) -> str:
    """Lower-case extension without the dot, as FIDO compares them."""
    suffix = Path(name).suffix
    return suffix.lower().lstrip(".")
