"""The Identifier protocol and helpers shared by identifiers."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from strongroom.model import Identification

DEFAULT_ENGINE = "droid"


@dataclass(frozen=True)
class IdentifierSpec:
    """Which engine identifies, with which signature files; small and picklable, so worker processes get it."""

    engine: str = DEFAULT_ENGINE
    # DROID engine: a DROID signature file (DROID_SignatureFile_VNNN.xml) and a container signature file
    # (container-signature-YYYYMMDD.xml); None: the newest bundled with Strongroom.
    signature_file: Path | None = None
    container_file: Path | None = None
    # FIDO engines ("fido-fast", "fido"): a PRONOM signature file in FIDO's format (formats-vNNN.xml).
    fido_signature_file: Path | None = None


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


class TimeLimitExceeded(Exception):
    """Raised inside `per_file_deadline` when one file's identification ran out of time."""


@contextmanager
def per_file_deadline(seconds: float) -> Iterator[None]:
    """Interrupt work after `seconds` (SIGALRM, main thread only); Python's regex engine checks for signals as
    it runs. Elsewhere, or with `seconds` <= 0, no limit applies."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise TimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
