"""Necessary conditions for FIDO's signature regexes, so most of them never run.

A file can only match a pattern if the bytes every match must contain are in
its buffer. This module reads each regex with Python's own parser and derives
one cheap check that is *implied* by a match:

- `FixedLiteral(offset, bytes)`: the pattern is anchored at the start of the
  buffer and a literal run sits at a fixed offset (`\\A.{4}STAK...`);
- `Literal(bytes)`: a literal run that must occur somewhere in the buffer;
- `None`: nothing useful can be said, the regex always runs.

A check never rejects a buffer the regex would match (a prefilter, never a
judge): the regex itself still decides every candidate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any


@dataclass(frozen=True)
class FixedLiteral:
    offset: int
    literal: bytes


@dataclass(frozen=True)
class Literal:
    literal: bytes


Check = FixedLiteral | Literal | None

_MAXREPEAT = sre_c.MAXREPEAT


def _width(item: tuple[Any, Any]) -> tuple[int, int]:
    lo, hi = sre_parse.SubPattern(sre_parse.State(), [item]).getwidth()
    return int(lo), int(hi)


def _required_literals(items: list[tuple[Any, Any]], anchored: bool) -> tuple[list[FixedLiteral], list[bytes]]:
    """Literal runs every match of the sequence must contain, with fixed offsets where known."""
    fixed: list[FixedLiteral] = []
    anywhere: list[bytes] = []
    run = bytearray()
    run_offset: int | None = 0 if anchored else None
    offset: int | None = 0 if anchored else None  # exact offset of the next item, if known

    def close_run() -> None:
        if run:
            if run_offset is not None:
                fixed.append(FixedLiteral(run_offset, bytes(run)))
            anywhere.append(bytes(run))
        run.clear()

    for op, av in items:
        if op is sre_c.LITERAL:
            if not run:
                run_offset = offset
            run.append(av)
            offset = None if offset is None else offset + 1
            continue
        close_run()
        if op is sre_c.AT:
            continue  # zero width
        if op is sre_c.SUBPATTERN:
            # A plain group is always there: what it requires, the whole requires.
            sub = av[-1]
            _inner_fixed, inner_anywhere = _required_literals(list(sub), anchored=False)
            anywhere.extend(inner_anywhere)
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT) and av[0] >= 1:
            _inner_fixed, inner_anywhere = _required_literals(list(av[2]), anchored=False)
            anywhere.extend(inner_anywhere)
        lo, hi = _width((op, av))
        offset = offset + lo if offset is not None and lo == hi and hi < _MAXREPEAT else None
    close_run()
    return fixed, anywhere


def analyse(regex: bytes, anchored_match: bool) -> Check:
    """The best cheap check for one pattern.

    `anchored_match` is True for patterns FIDO applies with re.match (BOF), which
    anchors at the buffer's start whether or not the regex says \\A.
    """
    try:
        parsed = sre_parse.parse(regex)
    except (re.error, RecursionError):
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    items = list(parsed)
    anchored = anchored_match or bool(items and items[0] == (sre_c.AT, sre_c.AT_BEGINNING_STRING))
    fixed, anywhere = _required_literals(items, anchored)
    if fixed:
        return max(fixed, key=lambda f: len(f.literal))
    if anywhere:
        return Literal(max(anywhere, key=len))
    return None


_CONTEXT_FREE = {
    sre_c.LITERAL, sre_c.NOT_LITERAL, sre_c.ANY, sre_c.IN, sre_c.BRANCH, sre_c.SUBPATTERN,
    sre_c.MAX_REPEAT, sre_c.MIN_REPEAT,
}  # fmt: skip


def _context_free(items: list[tuple[Any, Any]]) -> bool:
    """True when matching never looks outside the matched bytes (no anchors, lookarounds, refs)."""
    for op, av in items:
        if op not in _CONTEXT_FREE:
            return False
        if op is sre_c.BRANCH and not all(_context_free(list(alt)) for alt in av[1]):
            return False
        if op is sre_c.SUBPATTERN and not _context_free(list(av[-1])):
            return False
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT) and not _context_free(list(av[2])):
            return False
    return True


def tail_window(regex: bytes) -> int | None:
    """For `...\\Z` patterns of bounded width: how many trailing bytes can hold a match.

    Searching only that tail gives the same answer as searching the whole buffer,
    because any match ends at the end and is at most that long, and nothing in the
    pattern looks at bytes outside the match.
    """
    try:
        parsed = sre_parse.parse(regex)
    except (re.error, RecursionError):
        return None
    items = list(parsed)
    if not items or items[-1] != (sre_c.AT, sre_c.AT_END_STRING) or not _context_free(items[:-1]):
        return None
    _lo, hi = parsed.getwidth()
    return int(hi) if hi < _MAXREPEAT else None
