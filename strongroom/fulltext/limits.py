"""What every extractor shares: the per-file limits, the raw text it returns and how it fails."""

from __future__ import annotations

import time
from dataclasses import dataclass


class ExtractionFailed(Exception):
    """The tool could not read the file's text; `reason` says why, for the PREMIS event."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TimeLimitReached(ExtractionFailed):
    pass


class ToolMissing(Exception):
    """The tool the format needs is not installed (or would not start): the file is "not extracted"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    """One file's limits: `size` characters kept at most, and a monotonic-clock deadline."""

    size: int
    deadline: float
    time_limit: float  # the seconds the deadline was set from, for messages

    @classmethod
    def starting_now(cls, size: int, seconds: float) -> Limits:
        return cls(size, time.monotonic() + seconds, seconds)

    @property
    def max_bytes(self) -> int:
        """Bytes of UTF-8 (or any encoding) that surely hold `size` + 1 characters: 4 a character at most."""
        return self.size * 4 + 4

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def check(self, tool: str) -> None:
        if time.monotonic() > self.deadline:
            raise TimeLimitReached(f"{tool} took longer than the time limit of {self.time_limit:g} s")


@dataclass(frozen=True)
class RawText:
    """Text as a tool gave it, before normalising and cutting.

    `more` says the tool had more to give than was read (reading stopped at the size limit).
    """

    text: str
    notes: tuple[str, ...] = ()
    more: bool = False
