"""DROID 6.5.2's byte-sequence matching, ported step for step.

A PRONOM internal signature is a list of ByteSequences that must all match.
Each ByteSequence (Reference BOFoffset, EOFoffset or Variable) is a list of
SubSequences matched one after another from a moving file marker; each
SubSequence is an anchor (a fixed-length pattern, searched for) with Left and
Right Fragments around it at bounded distances, alternatives at one position
allowed.

DROID's own algorithm (uk.gov.nationalarchives.droid.core.signature.droid6.
SubSequence.findSequenceFromPosition and its fragment helpers) has quirks a
"clean" regex translation would not reproduce: only the first SubSequence of
an anchored ByteSequence honours its maximum offset (the rest scan to the end
of the file), fragments at a fixed distance are folded into the anchor, the
left-fragment offset check applies only to a BOF subsequence, the fragment
search backtracks in its own way, and there is no backtracking between
SubSequences. Agreement with DROID is the point, so this module mirrors that
code, names and all, rather than improving on it. `data` is always the whole
content (bytes or an mmap): DROID's command line scans whole files
(maxBytesToScan = -1) unless told otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strongroom.formats.droid.nearest import NearestFragments
from strongroom.formats.droid.syntax import (
    Searches,
    SequencePattern,
    SequenceSyntaxError,
    compile_sequence,
    rewrite_fragment,
)

__all__ = [
    "ByteSequence",
    "ByteSequenceSpec",
    "FragmentSpec",
    "InternalSignature",
    "Searches",
    "SequencePattern",
    "SequenceSyntaxError",
    "SubSequence",
    "SubSequenceSpec",
    "build_byte_sequence",
    "compile_sequence",
    "match_byte_sequence",
    "match_internal_signature",
    "rewrite_fragment",
]

Buffer = Any  # bytes, bytearray, memoryview or mmap: anything `re` can search and len() can measure


# --- what the XML says (before DROID prepares it) ----------------------------------------------


@dataclass(frozen=True)
class FragmentSpec:
    """A Left/RightFragment as written: text, offsets from the anchor side, and position (1 = nearest)."""

    text: str
    min_offset: int
    max_offset: int
    position: int


@dataclass(frozen=True)
class SubSequenceSpec:
    sequence: str
    min_offset: int = 0  # SubSeqMinOffset
    max_offset: int = 0  # SubSeqMaxOffset (DROID: never below the minimum; absent means equal to it)
    left: tuple[FragmentSpec, ...] = ()
    right: tuple[FragmentSpec, ...] = ()


@dataclass(frozen=True)
class ByteSequenceSpec:
    reference: str = "Variable"  # BOFoffset, EOFoffset, Variable (IndirectBOFoffset/IndirectEOFoffset too)
    subsequences: tuple[SubSequenceSpec, ...] = ()
    big_endian: bool = True  # only read for indirect offsets
    indirect_offset_location: int = 0
    indirect_offset_length: int = 0


# --- prepared form ------------------------------------------------------------------------------


@dataclass
class Fragment:
    """DROID's SideFragment. Mutable only on copies made while matching (DROID does the same)."""

    pattern: SequencePattern | None  # None: the text did not compile (DROID keeps it, with length 0)
    min_offset: int
    max_offset: int
    position: int

    @property
    def length(self) -> int:
        return self.pattern.length if self.pattern is not None else 0

    def set_min(self, value: int) -> None:
        self.min_offset = value
        if self.max_offset < self.min_offset:
            self.max_offset = value

    def set_max(self, value: int) -> None:
        self.max_offset = value
        if self.min_offset > self.max_offset:
            self.min_offset = value

    def copy(self) -> Fragment:
        return Fragment(self.pattern, self.min_offset, self.max_offset, self.position)

    def matches_at(self, data: Buffer, position: int) -> bool:
        if self.pattern is None:
            raise _DroidException("fragment has no matcher")  # DROID: NullPointerException, caught as no match
        return self.pattern.matches_at(data, position)


class _DroidException(Exception):
    """Where DROID's Java would throw inside findSequenceFromPosition (which then reports no match)."""


@dataclass
class SubSequence:
    anchor: SequencePattern
    min_offset: int
    max_offset: int
    left: list[list[Fragment]]  # DROID's orderedLeftFragments, after folding fixed ones into the anchor
    right: list[list[Fragment]]
    backwards: bool
    full_file_scan: bool
    min_left: int = 0
    max_left: int = 0
    min_right: int = 0
    max_right: int = 0
    left_variable: list[bool] = field(default_factory=list)
    right_variable: list[bool] = field(default_factory=list)
    left_backtrack: bool = False
    right_backtrack: bool = False


@dataclass
class ByteSequence:
    reference: str
    subsequences: list[SubSequence]
    anchored_bof: bool
    anchored_eof: bool
    reverse: bool
    indirect: bool = False
    big_endian: bool = True
    indirect_offset_location: int = 0
    indirect_offset_length: int = 0

    @property
    def sort_order(self) -> int:
        if self.anchored_bof:
            return 1 if len(self.subsequences) == 1 else 2
        if self.anchored_eof:
            return 3 if len(self.subsequences) == 1 else 4
        return 5


@dataclass
class InternalSignature:
    """All byte sequences must match. `sequences` are in DROID's order (BOF, then EOF, then variable)."""

    id: int
    sequences: list[ByteSequence]

    @property
    def sort_order(self) -> int:
        bits = 0
        for seq in self.sequences:
            if seq.anchored_bof:
                bits |= 1 if len(seq.subsequences) == 1 else 2
            elif seq.anchored_eof:
                bits |= 8 if len(seq.subsequences) == 1 else 16
            else:
                bits |= 4
        return bits


# --- preparing (SubSequence.processSequenceFragments) -----------------------------------------


def _fragment(spec: FragmentSpec) -> Fragment:
    try:
        pattern: SequencePattern | None = compile_sequence(spec.text)
    except SequenceSyntaxError:
        pattern = None
    frag = Fragment(pattern, 0, 0, spec.position)
    return frag


def _ordered(specs: tuple[FragmentSpec, ...], raw: list[dict[str, int]] | None = None) -> list[list[Fragment]]:
    count = max((s.position for s in specs), default=0)
    ordered: list[list[Fragment]] = [[] for _ in range(count)]
    for spec in specs:
        frag = _fragment(spec)
        # The XML setters run in attribute order; specs carry the already-resolved pair.
        frag.min_offset, frag.max_offset = spec.min_offset, spec.max_offset
        if spec.position >= 1:
            ordered[spec.position - 1].append(frag)
    return ordered


def _regex_text(frag: Fragment) -> str:
    """What byteseek's toRegularExpression would give, in a form our compiler reads back identically."""
    if frag.pattern is None:
        return ""
    parts = []
    for values in frag.pattern.classes:
        if len(values) == 256:
            parts.append(".")
        elif len(values) == 1:
            parts.append(f"{next(iter(values)):02x}")
        else:
            parts.append("[" + " ".join(f"{v:02x}" for v in sorted(values)) + "]")
    return " ".join(parts)


def _merge_single_byte_alternatives(ordered: list[list[Fragment]]) -> None:
    for index, frags in enumerate(ordered):
        if len(frags) > 1 and all(f.length <= 1 for f in frags):
            last = frags[-1]
            union: frozenset[int] = frozenset().union(
                *(f.pattern.classes[0] for f in frags if f.pattern is not None and f.length)
            )
            # DROID rebuilds the set as text; with no valid member it fails to compile (an invalid fragment).
            merged = Fragment(SequencePattern("[merged]", (union,)) if union else None, 0, 0, last.position)
            merged.set_min(last.min_offset)
            merged.set_max(last.max_offset)
            ordered[index] = [merged]


def _capture(ordered: list[list[Fragment]], anchor_text: str, left: bool, backwards: bool) -> str:
    captured = -1
    for index, frags in enumerate(ordered):
        if len(frags) != 1:
            break
        frag = frags[0]
        if frag.min_offset == 0 and frag.max_offset == 0:
            text = _regex_text(frag)
            anchor_text = f"{text} {anchor_text}" if left else f"{anchor_text} {text}"
        elif frag.min_offset == frag.max_offset:
            # DROID folds a fixed gap on the far side of the search direction only.
            if left == backwards:
                break
            gap = f".{{{frag.min_offset}}}"
            text = _regex_text(frag)
            anchor_text = f"{text} {gap} {anchor_text}" if left else f"{anchor_text} {gap} {text}"
        else:
            break
        captured = index
    if captured > -1:
        del ordered[: captured + 1]
        for position, frags in enumerate(ordered):
            for frag in frags:
                frag.position = position
    return anchor_text


def _span(ordered: list[list[Fragment]]) -> tuple[int, int]:
    low = high = 0
    for frags in ordered:
        low += min((f.length + f.min_offset for f in frags), default=2**31 - 1)
        high += max((f.length + f.max_offset for f in frags), default=0)
    return low, high


def prepare_subsequence(spec: SubSequenceSpec, backwards: bool, full_file_scan: bool) -> SubSequence:
    """DROID's prepareForUse for one SubSequence; SequenceSyntaxError when DROID would call it invalid."""
    left = _ordered(spec.left)
    right = _ordered(spec.right)
    _merge_single_byte_alternatives(left)
    _merge_single_byte_alternatives(right)
    text = rewrite_fragment(spec.sequence)
    text = _capture(left, text, left=True, backwards=backwards)
    text = _capture(right, text, left=False, backwards=backwards)
    anchor = compile_sequence(text)
    if any(f.pattern is None for frags in (*left, *right) for f in frags):
        raise SequenceSyntaxError(f"a fragment of sequence {spec.sequence!r} does not compile")
    min_offset = spec.min_offset
    max_offset = max(spec.max_offset, spec.min_offset)
    sub = SubSequence(anchor, min_offset, max_offset, left, right, backwards, full_file_scan)
    sub.left_variable = [any(f.min_offset != f.max_offset for f in frags) for frags in left]
    sub.right_variable = [any(f.min_offset != f.max_offset for f in frags) for frags in right]
    sub.left_backtrack = any(sub.left_variable)
    sub.right_backtrack = any(sub.right_variable)
    sub.min_left, sub.max_left = _span(left)
    sub.min_right, sub.max_right = _span(right)
    return sub


def build_byte_sequence(spec: ByteSequenceSpec) -> ByteSequence:
    """A ByteSequence ready to match; SequenceSyntaxError when DROID would drop its signature."""
    ref = spec.reference
    anchored_eof = ref.endswith("EOFoffset")
    anchored_bof = ref.endswith("BOFoffset")
    reverse = ref.lower() == "eofoffset"
    fixed_start = anchored_bof or anchored_eof
    first = len(spec.subsequences) - 1 if reverse else 0
    subs = [
        prepare_subsequence(sub, reverse, not (index == first and fixed_start))
        for index, sub in enumerate(spec.subsequences)
    ]
    return ByteSequence(
        reference=ref,
        subsequences=subs,
        anchored_bof=anchored_bof,
        anchored_eof=anchored_eof,
        reverse=reverse,
        indirect=ref.startswith("Indirect"),
        big_endian=spec.big_endian,
        indirect_offset_location=spec.indirect_offset_location,
        indirect_offset_length=spec.indirect_offset_length,
    )


def build_internal_signature(signature_id: int, specs: list[ByteSequenceSpec]) -> InternalSignature:
    """Sequences sorted as DROID sorts them (a stable sort on BOF/EOF/variable)."""
    sequences = [build_byte_sequence(spec) for spec in specs]
    sequences.sort(key=lambda s: s.sort_order)
    return InternalSignature(signature_id, sequences)


# --- matching (ByteSequence.matches, SubSequence.findSequenceFromPosition) ---------------------


class _Marker:
    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value


def match_internal_signature(
    signature: InternalSignature, data: Buffer, max_bytes_to_scan: int | None = None, searches: Searches | None = None
) -> bool:
    """DROID's InternalSignature.matches (the caller skips empty files, as DROID does)."""
    return all(match_byte_sequence(seq, data, max_bytes_to_scan, searches) for seq in signature.sequences)


def match_byte_sequence(
    seq: ByteSequence, data: Buffer, max_bytes_to_scan: int | None = None, searches: Searches | None = None
) -> bool:
    """DROID's ByteSequence.matches over the whole content `data`.

    `max_bytes_to_scan` is DROID's setting of that name: None (DROID's -1, the
    command line's default) scans everything; a positive number bounds the
    searches the way DROID bounds them. `searches`, when given, holds the
    answers of searches already made over this same `data` (one per content, never shared between
    contents): signatures often repeat one.
    """
    limit = -1 if max_bytes_to_scan is None else max_bytes_to_scan
    size = len(data)
    marker = _Marker(0)
    if seq.reverse:
        fixed = seq.anchored_eof
        marker.value = size - 1
        for sub in reversed(seq.subsequences):
            if not _find(sub, marker.value, data, size, marker, limit, False, fixed, searches):
                return False
            fixed = False
        return True
    fixed = seq.anchored_bof
    offset = _indirect_offset(seq, data, size)
    if offset is None:
        return False
    marker.value = offset
    for sub in seq.subsequences:
        if not _find(sub, marker.value, data, size, marker, limit, fixed, False, searches):
            return False
        fixed = False
    return True


def _indirect_offset(seq: ByteSequence, data: Buffer, size: int) -> int | None:
    if not seq.indirect:
        return 0
    location = seq.indirect_offset_location
    if seq.anchored_eof:
        location = size - location - 1
    value = 0
    power = 1
    indices = range(seq.indirect_offset_length)
    for index in reversed(indices) if seq.big_endian else indices:
        position = location + index
        if not 0 <= position < size:
            return None  # DROID: IOException, logged, no match
        value += power * data[position]
        power *= 256
    return value


def _find(
    sub: SubSequence,
    position: int,
    data: Buffer,
    size: int,
    marker: _Marker,
    limit: int,
    bof: bool,
    eof: bool,
    searches: Searches | None = None,
) -> bool:
    try:
        return _find_sequence_from_position(sub, position, data, size, marker, limit, bof, eof, searches)
    except (_DroidException, IndexError):
        return False  # DROID catches every exception here and reports no match


def _search(
    anchor: SequencePattern, data: Buffer, first: int, last: int, forward: bool, searches: Searches | None
) -> int:
    if searches is not None:
        return searches.search(anchor, data, first, last, forward)
    return anchor.search_forward(data, first, last) if forward else anchor.search_backward(data, first, last)


def _find_sequence_from_position(
    sub: SubSequence,
    position: int,
    data: Buffer,
    size: int,
    marker: _Marker,
    limit: int,
    bof: bool,
    eof: bool,
    searches: Searches | None = None,
) -> bool:
    last_byte = size - 1
    anchor = sub.anchor
    match_length = anchor.length
    last_in_anchor = match_length - 1
    first_possible = sub.min_left
    last_possible = last_byte - sub.min_right

    if sub.backwards:
        max_start = position - sub.min_right - last_in_anchor
        start_window = max_start - sub.min_offset
        right_window = sub.max_right - sub.min_right
        end_window = 0 if sub.full_file_scan else max_start - sub.max_offset - right_window
        if limit > 0 and end_window < last_byte - limit:
            end_window = last_byte - limit
        if start_window > last_possible:
            return False
        if end_window < first_possible:
            end_window = first_possible
        match = start_window
        nearest: NearestFragments | None = None  # built at the second anchor hit (most have one), used from then
        first_hit = bool(sub.left or sub.right)  # without fragments every hit is possible
        while match >= end_window:
            if match == end_window:
                match = match if anchor.matches_at(data, match) else -1
            else:
                match = _search(anchor, data, match, end_window, False, searches)
            if match == -1:
                break
            if first_hit:
                first_hit = False
            elif sub.left or sub.right:
                if nearest is None:
                    nearest = NearestFragments(sub, data, end_window, start_window, searches)
                if not nearest.possible(match):
                    match -= 1
                    continue
            found = True
            if sub.right:
                last_option = sub.right[-1:]
                final_positions = _OffsetAndFilePositions(len(last_option[0]))
                right_positions = _right_fragments(
                    sub, data, match + match_length, marker.value, 1, 0, sub.right, final_positions
                )
                found = len(right_positions) > 0
                invalid = True
                if found:
                    nearest_eof = right_positions[-1]
                    furthest_eof = right_positions[0] if len(right_positions) > 1 else nearest_eof
                    if furthest_eof <= position - sub.min_offset:
                        invalid = nearest_eof < position - sub.max_offset and _check_right_invalid(
                            sub, data, nearest_eof + 1, position, sub.max_offset, sub.min_offset,
                            last_option, final_positions,
                        )  # fmt: skip
                found = not invalid
            if found:
                if sub.left:
                    left_positions = _left_fragments(sub, data, 0, match - 1, -1, 0, sub.left, None)
                    found = len(left_positions) > 0
                    match = left_positions[0] if found else match
                if found:
                    marker.value = match - 1
                    return True
            match -= 1
        return False

    min_start = position + sub.min_left + last_in_anchor
    start_window = min_start + sub.min_offset
    left_window = sub.max_left - sub.min_left
    end_window = last_possible if sub.full_file_scan else min_start + sub.max_offset + left_window
    if limit > 0 and end_window > limit:
        end_window = limit
    if start_window < first_possible:
        return False
    if end_window > last_possible:
        end_window = last_possible
    match = start_window
    nearest = None
    first_hit = bool(sub.left or sub.right)
    while match <= end_window:
        starter = match - match_length + 1
        ending = end_window - match_length + 1
        if starter == ending:
            match = starter + match_length - 1 if anchor.matches_at(data, starter) else -1
        else:
            hit = _search(anchor, data, starter, ending, True, searches)
            match = hit + match_length - 1 if hit >= 0 else -1
        if match == -1:
            break
        if first_hit:
            first_hit = False
        elif sub.left or sub.right:
            if nearest is None:
                nearest = NearestFragments(
                    sub, data, start_window - last_in_anchor, end_window - last_in_anchor, searches
                )
            if not nearest.possible(match - last_in_anchor):
                match += 1
                continue
        found = True
        if sub.left:
            last_option = sub.left[-1:]
            final_positions = _OffsetAndFilePositions(len(last_option[0]))
            left_positions = _left_fragments(
                sub, data, marker.value, match - match_length, -1, 0, sub.left, final_positions
            )
            found = len(left_positions) > 0
            invalid = True
            if found:
                nearest_bof = left_positions[-1]
                furthest_bof = left_positions[0] if len(left_positions) > 1 else nearest_bof
                min_from_bof = sub.min_offset + position
                max_from_bof = sub.max_offset + position
                if nearest_bof >= min_from_bof:
                    invalid = furthest_bof > max_from_bof and _check_left_invalid(
                        sub, data, 0, nearest_bof, max_from_bof, min_from_bof, last_option, final_positions
                    )
            if found and bof and invalid:
                found = False
        if found:
            if sub.right:
                right_positions = _right_fragments(sub, data, match + 1, last_byte, 1, 0, sub.right, None)
                found = len(right_positions) > 0
                if found and eof and right_positions[0] > sub.max_offset:
                    found = False
                match = right_positions[0] if found else match
            if found:
                marker.value = match + 1
                return True
        match += 1
    return False


class _OffsetAndFilePositions:
    def __init__(self, count: int) -> None:
        self.offsets = [-1] * count
        self.files = [-1] * count

    def set(self, alt: int, offset: int, file_position: int) -> None:
        self.offsets[alt] = _java_int(offset)
        self.files[alt] = file_position

    def first_position(self) -> int:
        found = [o for o in self.offsets if o != -1]
        return min(found) if found else -1


def _java_int(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


@dataclass
class _FragmentHit:
    position: int  # fragment position (1-based)
    alternative: int
    file_position: int
    offset_found: int


def _end_pos_for_fragment(
    sub: SubSequence, data: Buffer, left_end: int, right_end: int, left: bool, direction: int, frag_pos: int,
    fragment: Fragment,
) -> int:  # fmt: skip
    """DROID's endBytePosForSeqFrag."""
    length = fragment.length
    byte_offset = 0 if direction == 1 else length - 1
    if (left and direction == -1) or (not left and direction == 1):
        min_offset, max_offset = fragment.min_offset, fragment.max_offset
    else:
        members = sub.left if left else sub.right
        if frag_pos < len(members):
            following = members[frag_pos][0]  # DROID: getFragment(leftFrag, fragPos + 1, 0)
            min_offset, max_offset = following.min_offset, following.max_offset
        else:
            min_offset = max_offset = 0
    if direction == -1:
        start = right_end - min_offset
        last = max(left_end + length - 1, right_end - max_offset)
    else:
        start = left_end + min_offset
        last = min(right_end - length + 1, left_end + max_offset)
    if direction * (last - start) < 0:
        return -1
    if fragment.pattern is None:
        raise _DroidException("fragment has no matcher")  # DROID: NullPointerException, caught as no match
    # DROID tries each position in turn; a search finds the same first one.
    if direction == 1:
        found = fragment.pattern.search_forward(data, start, last)
        return -1 if found < 0 else found + length - 1
    return fragment.pattern.search_backward(data, start - byte_offset, last - byte_offset)


def _right_fragments(
    sub: SubSequence, data: Buffer, left_pos: int, right_pos: int, direction: int, offset_range: int,
    fragments: list[list[Fragment]], final_positions: _OffsetAndFilePositions | None,
) -> list[int]:  # fmt: skip
    """DROID's bytePosForRightFragments."""
    return _side_fragments(sub, data, left_pos, right_pos, direction, offset_range, fragments, final_positions, False)


def _left_fragments(
    sub: SubSequence, data: Buffer, left_pos: int, right_pos: int, direction: int, offset_range: int,
    fragments: list[list[Fragment]], final_positions: _OffsetAndFilePositions | None,
) -> list[int]:  # fmt: skip
    """DROID's bytePosForLeftFragments."""
    return _side_fragments(sub, data, left_pos, right_pos, direction, offset_range, fragments, final_positions, True)


def _side_fragments(
    sub: SubSequence, data: Buffer, left_pos: int, right_pos: int, direction: int, offset_range: int,
    fragments: list[list[Fragment]], final_positions: _OffsetAndFilePositions | None, left: bool,
) -> list[int]:  # fmt: skip
    count = len(fragments)
    # Right fragments walk positions in the search direction, left fragments against it.
    step = -direction if left else direction
    if left:
        start_pos, loop_start = (left_pos, count) if direction == 1 else (right_pos, 1)
    else:
        start_pos, loop_start = (right_pos, count) if direction == -1 else (left_pos, 1)
    total = offset_range + 1
    for frags in fragments:
        total *= len(frags)
    markers = [0] * total  # fixed size, as in DROID: overrunning it is an error there too
    for offset in range(offset_range + 1):
        markers[offset] = start_pos + offset * direction
    options = 1 + offset_range
    not_found = False
    hits: list[_FragmentHit] | None = [] if (sub.left_backtrack if left else sub.right_backtrack) else None
    variable = sub.left_variable if left else sub.right_variable
    rechecking = final_positions is not None and final_positions.first_position() != -1
    frag_pos = loop_start
    while not not_found and 1 <= frag_pos <= count:
        at_position = fragments[frag_pos - 1]
        alternatives = len(at_position)
        ends = [0] * (alternatives * options)
        count_ends = 0
        for option in range(options):
            alt = 0
            while alt < alternatives:
                fragment = at_position[alt]
                previous_offset = final_positions.offsets[alt] if final_positions is not None and rechecking else -1
                if final_positions is not None and rechecking and previous_offset != -1:
                    fragment = fragment.copy()
                    previous_file = final_positions.files[alt]
                    if left:
                        delta = previous_file - right_pos
                        new_min = fragment.min_offset - previous_offset - fragment.length - delta + 1
                        new_max = fragment.max_offset - previous_offset - fragment.length - delta + 1
                    else:
                        delta = left_pos - (previous_file - fragment.length + 1)
                        new_min = fragment.min_offset - previous_offset - delta
                        new_max = fragment.max_offset - previous_offset - delta
                    fragment.set_min(_java_int(max(new_min, 0)))
                    fragment.set_max(_java_int(new_max))
                    if fragment.max_offset < 0:
                        alt += 1
                        continue
                if direction == 1:
                    frag_end = _end_pos_for_fragment(sub, data, markers[option], right_pos, left, 1, frag_pos, fragment)
                else:
                    frag_end = _end_pos_for_fragment(sub, data, left_pos, markers[option], left, -1, frag_pos, fragment)
                if frag_end > -1:
                    ends[count_ends] = frag_end + direction
                    count_ends += 1
                    if left:
                        offset_found = markers[option] - frag_end - fragment.length + 1
                    else:
                        offset_found = frag_end - markers[option] - fragment.length + 1
                    if hits is not None and frag_pos < count and (variable[frag_pos] or variable[frag_pos - 1]):
                        hits.append(_FragmentHit(frag_pos, alt, ends[count_ends - 1], offset_found))
                    if frag_pos == count and final_positions is not None:
                        final_positions.set(alt, offset_found, frag_end)
                elif alt == alternatives - 1 and count_ends == 0 and option == options - 1:
                    backtracked = False
                    while hits:
                        good = hits.pop()
                        fragment = fragments[good.position - 1][good.alternative].copy()
                        fragment.set_min(max(fragment.min_offset - _java_int(good.offset_found) - fragment.length, 0))
                        fragment.set_max(fragment.max_offset - _java_int(good.offset_found) - fragment.length)
                        if fragment.max_offset < 0:
                            break
                        if direction == 1:
                            frag_end = _end_pos_for_fragment(
                                sub, data, good.file_position, right_pos, left, direction, good.position, fragment
                            )
                        else:
                            frag_end = _end_pos_for_fragment(
                                sub, data, left_pos, good.file_position, left, direction, good.position, fragment
                            )
                        if frag_end > -1:
                            ends[count_ends] = frag_end + direction
                            frag_pos = good.position
                            alt = good.alternative
                            if left:
                                new_offset = (good.file_position - frag_end) + good.offset_found + 1
                            else:
                                new_offset = ends[count_ends] - good.file_position + good.offset_found
                            hits.append(_FragmentHit(frag_pos, alt, ends[count_ends], new_offset))
                            count_ends += 1
                            backtracked = True
                            break
                    if backtracked:
                        break  # DROID: break FRAGS_AT_POSITION
                alt += 1
        if count_ends == 0:
            not_found = True
        else:
            options = 0
            for index in range(count_ends):
                candidate = ends[index]
                if candidate not in markers[:options]:
                    markers[options] = candidate
                    options += 1
        frag_pos += step
    if not_found:
        return []
    chosen = markers[:options]
    chosen.sort(reverse=direction < 0)
    return [value - direction for value in chosen]


def _check_left_invalid(
    sub: SubSequence, data: Buffer, left_pos: int, right_pos: int, max_offset: int, min_offset: int,
    option: list[list[Fragment]], last_positions: _OffsetAndFilePositions,
) -> bool:  # fmt: skip
    """DROID's checkLeftFragmentForInvalidOffset: look for further occurrences of the outermost fragment."""
    current_right = right_pos
    while True:
        positions = _left_fragments(sub, data, left_pos, current_right, -1, 0, option, last_positions)
        if positions:
            current_right = positions[0] - 1
        if not (positions and positions[-1] > max_offset):
            break
    return not positions or positions[0] > max_offset or positions[0] < min_offset


def _check_right_invalid(
    sub: SubSequence, data: Buffer, left_pos: int, right_pos: int, max_offset: int, min_offset: int,
    option: list[list[Fragment]], last_positions: _OffsetAndFilePositions,
) -> bool:  # fmt: skip
    """DROID's checkRightFragmentForInvalidOffset."""
    current_left = left_pos
    while True:
        positions = _right_fragments(sub, data, current_left, right_pos, 1, 0, option, last_positions)
        if positions:
            current_left = positions[0] + 1
        if not (positions and positions[0] < right_pos - max_offset):
            break
    return not positions or positions[0] < right_pos - max_offset or positions[0] > right_pos - min_offset
