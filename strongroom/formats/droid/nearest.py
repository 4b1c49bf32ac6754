"""Where the fragments next to a SubSequence's anchor can start: lets sequence.py skip anchor hits that
cannot match without walking DROID's fragment search for each (an optimisation only: a hit is skipped
only when DROID's walk could not succeed from it)."""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strongroom.formats.droid.sequence import Fragment, SubSequence
    from strongroom.formats.droid.syntax import Searches, SequencePattern

Buffer = Any  # bytes, bytearray, memoryview or mmap


class NearestFragments:
    """Where the fragments next to the anchor (each side's first position) start, near an anchor window.

    Every anchor hit runs DROID's fragment walk, which finds nothing when no
    alternative of a side's first fragment starts within its offsets of the
    anchor (there is nothing yet to backtrack to): such hits cannot match. A
    few searches over the whole window list those starts, so hits that cannot
    match are skipped with a bisection (fmt/198's EOF anchor 000000 hits
    hundreds of times in an MP3's tail). Sides whose window is large or crowded
    are not indexed and always walked.
    """

    __slots__ = ("sides",)
    _MOST_BYTES = 1 << 16
    _MOST_STARTS = 256

    def __init__(
        self, sub: SubSequence, data: Buffer, first_start: int, last_start: int, searches: Searches | None = None
    ) -> None:
        # For an anchor starting at a: a left fragment ends min..max bytes before a, a right one starts
        # min..max bytes after the anchor's end.
        self.sides: list[list[tuple[int, int, list[int]]]] = []
        length = sub.anchor.length
        for frags, left in ((sub.left[:2], True), (sub.right[:2], False)):
            if not frags:
                continue
            shifts = [
                (-f.max_offset - f.length, -f.min_offset - f.length) if left else (length + f.min_offset,
                                                                                  length + f.max_offset)
                for f in frags[0]
            ]  # fmt: skip
            low = max(first_start + min(s for s, _ in shifts), 0)
            high = min(last_start + max(s for _, s in shifts), len(data) - 1)
            if high - low > self._MOST_BYTES:
                continue
            side = []
            for fragment, (lo, hi) in zip(frags[0], shifts, strict=True):
                starts = _starts(fragment, data, low, high, self._MOST_STARTS, searches)
                if starts is None:
                    break
                side.append((lo, hi, starts))
            else:
                if len(frags) > 1:
                    side = self._chained(side, frags, left, data, searches)
                self.sides.append(side)

    def _chained(
        self,
        side: list[tuple[int, int, list[int]]],
        frags: list[list[Fragment]],
        left: bool,
        data: Buffer,
        searches: Searches | None,
    ) -> list[tuple[int, int, list[int]]]:
        """Keep only the first fragment's starts from which the second position's fragment is in reach.

        The walk reaches position 2 only from a position-1 fragment, searching within position 2's
        own offsets of it (backtracking re-searches position 1 within its first window), so a
        position-1 start with no position-2 fragment in reach cannot be part of a match.
        """
        firsts, seconds = frags[0], frags[1]

        # From a first fragment f starting at s: a second one g, on the left, ends min..max bytes before s;
        # on the right it starts min..max bytes after f's end.
        def reach(f: Fragment, g: Fragment) -> tuple[int, int]:
            if left:
                return -g.max_offset - g.length, -g.min_offset - g.length
            return f.length + g.min_offset, f.length + g.max_offset

        lowest = min((starts[0] for _, _, starts in side if starts), default=None)
        highest = max((starts[-1] for _, _, starts in side if starts), default=None)
        if lowest is None or highest is None:
            return side
        low = max(lowest + min(reach(f, g)[0] for f in firsts for g in seconds), 0)
        high = min(highest + max(reach(f, g)[1] for f in firsts for g in seconds), len(data) - 1)
        if high - low > self._MOST_BYTES:
            return side
        second_starts = []
        for g in seconds:
            found = _starts(g, data, low, high, self._MOST_STARTS, searches)
            if found is None:
                return side
            second_starts.append(found)
        kept = []
        for f, (lo, hi, starts) in zip(firsts, side, strict=True):
            reaches = [(reach(f, g), found) for g, found in zip(seconds, second_starts, strict=True)]
            usable = [
                start for start in starts if any(_any_between(found, start + a, start + b) for (a, b), found in reaches)
            ]
            kept.append((lo, hi, usable))
        return kept

    def possible(self, anchor_start: int) -> bool:
        """False when, for an anchor at `anchor_start`, some side's first fragment has no start in reach."""
        for side in self.sides:
            for lo, hi, starts in side:
                index = bisect_left(starts, anchor_start + lo)
                if index < len(starts) and starts[index] <= anchor_start + hi:
                    break
            else:
                return False
        return True


def _any_between(starts: list[int], low: int, high: int) -> bool:
    index = bisect_left(starts, low)
    return index < len(starts) and starts[index] <= high


def _starts(
    fragment: Fragment, data: Buffer, low: int, high: int, most: int, searches: Searches | None = None
) -> list[int] | None:
    """Every start in [low, high] where `fragment` matches, in order; None past `most` of them.
    From `searches` when this list was made before for the same content (the list is shared: only read it)."""
    pattern = fragment.pattern
    if pattern is None:
        return None
    if searches is None:
        return _all_starts(pattern, data, low, high, most)
    key = (pattern.key, low, high, most)
    if key in searches.starts:
        return searches.starts[key]
    found = searches.starts[key] = _all_starts(pattern, data, low, high, most)
    return found


def _all_starts(pattern: SequencePattern, data: Buffer, low: int, high: int, most: int) -> list[int] | None:
    found: list[int] = []
    position = pattern.search_forward(data, low, high)
    while position >= 0:
        if len(found) == most:
            return None
        found.append(position)
        position = pattern.search_forward(data, position + 1, high)
    return found
