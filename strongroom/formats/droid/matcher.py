"""Which internal signatures of a DROID signature file match a file, and DROID's rules on the hits.

Running DROID's algorithm (sequence.py) for all ~2,250 signatures on every
file would be slow in Python, so each signature first gets necessary
conditions, checked by Hyperscan; only signatures whose every condition holds
run DROID's algorithm, in DROID's order. A condition is only ever implied by
a match, so the prefilter never changes an answer.

- Bounded conditions, one per anchored (BOF/EOF) byte sequence and one per
  literal of the fragments around its first SubSequence: DROID searches that
  SubSequence only within its offsets, so its anchor must start inside a
  window counted from one end of the file. The anchor itself (byte classes
  and all) goes into Hyperscan with the window as its match offsets (BOF:
  the head; EOF: the tail, or the whole file reversed when it is shorter).
- Conditions anywhere: literals of every other SubSequence, which DROID
  scans to the end of the file, and of variable sequences. Only the
  signatures whose bounded conditions all hold need them, so the whole
  content is scanned only for those files (PNG, PDF, JPEG... whose
  signatures look for chunks anywhere). Signatures that share literals or
  bounded patterns (a family: PNG's, PDF/A's) get a database of their own:
  when the signatures left all belong to one family, its few literals scan
  several times faster than all of them together (GIF, PNG: 5-12 GB/s
  against 1-3).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from strongroom.formats.droid.sequence import InternalSignature, Searches, SubSequence, match_internal_signature
from strongroom.formats.droid.signatures import LazySignatures, SignatureFile
from strongroom.formats.droid.syntax import SequencePattern, byte_ranges

BOF, EOF = 0, 1
_BAND_LIMITS = (4096,)  # an end's patterns that reach at most this far get their own, shorter scan


def _byte(value: int) -> bytes:
    return b"\\x%02x" % value


def _class(values: frozenset[int]) -> bytes:
    if len(values) == 1:
        return _byte(next(iter(values)))
    parts = (_byte(lo) if lo == hi else _byte(lo) + b"-" + _byte(hi) for lo, hi in byte_ranges(values))
    return b"[" + b"".join(parts) + b"]"


def hyperscan_regex(classes: tuple[frozenset[int], ...]) -> bytes:
    """A fixed-length run of byte classes as a Hyperscan expression (every byte escaped: no NULs, no UTF-8)."""
    parts: list[bytes] = []
    previous, count = b"", 0
    for values in classes:
        text = _class(values)
        if text == previous:
            count += 1
            continue
        if count:
            parts.append(previous if count == 1 else previous + b"{%d}" % count)
        previous, count = text, 1
    if count:
        parts.append(previous if count == 1 else previous + b"{%d}" % count)
    return b"".join(parts)


class _Database:
    """A Hyperscan block-mode database; pickles as its serialised bytes, loaded again on first use."""

    def __init__(self, expressions: list[bytes], ids: list[int], bounds: list[tuple[int, int]] | None = None) -> None:
        import hyperscan

        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        options: dict[str, Any] = {}
        if bounds is not None:
            flags = hyperscan.HS_EXT_FLAG_MIN_OFFSET | hyperscan.HS_EXT_FLAG_MAX_OFFSET
            extended = hyperscan.ExpressionExt  # type: ignore[attr-defined]  # not in the package's type stubs
            options["ext"] = [extended(flags, low, high, 0, 0, 0) for low, high in bounds]
        database.compile(
            expressions=expressions,
            ids=ids,
            elements=len(expressions),
            flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(expressions),
            **options,
        )
        self.serialized: bytes = hyperscan.dumpb(database)
        self._database: Any = database

    def __getstate__(self) -> dict[str, Any]:
        return {"serialized": self.serialized, "_database": None}

    def scan(self, buffer: Any, needers: list[tuple[int, ...]], met: set[int]) -> None:
        """Add to `met` the conditions `needers` lists for each expression that matches in `buffer` (each
        expression reports once): done in the match callback itself, one Python call per match."""
        database = self._database
        if database is None:
            import hyperscan

            database = hyperscan.loadb(self.serialized, hyperscan.HS_MODE_BLOCK)
            database.scratch = hyperscan.Scratch(database)  # a loaded database comes without one
            self._database = database
        update = met.update

        def on_match(expression: int, start: int, end: int, flags: int, context: object) -> None:
            update(needers[expression])

        database.scan(buffer, match_event_handler=on_match)


@dataclass(frozen=True)
class _Bounded:
    """A pattern that a match puts near one end of the file. BOF: it starts at an offset in [low, high];
    EOF: the distance from its start to the end of the file is in [low, high]."""

    end: int
    classes: tuple[frozenset[int], ...]
    low: int
    high: int

    @property
    def reach(self) -> int:
        """How many bytes from its end of the file the pattern lies within."""
        return self.high + len(self.classes) if self.end == BOF else self.high

    def forward(self, scanned: int) -> tuple[bytes, tuple[int, int]]:
        """Expression and end offsets for a scan of the first (BOF) or last (EOF) `scanned` bytes."""
        length = len(self.classes)
        if self.end == BOF:
            return hyperscan_regex(self.classes), (self.low + length, self.high + length)
        return hyperscan_regex(self.classes), (scanned - self.high + length, scanned - self.low + length)

    def backward(self) -> tuple[bytes, tuple[int, int]]:
        """EOF only: expression and end offsets for a scan of the content reversed (its end offset there is
        the distance from its start to the end of the file)."""
        return hyperscan_regex(self.classes[::-1]), (self.low, self.high)


@dataclass
class _Band:
    """The bounded patterns of one end of the file that lie within its first/last `size` bytes."""

    end: int
    size: int
    needers: list[tuple[int, ...]]  # for each expression: the conditions it meets
    forward: _Database
    backward: _Database | None  # EOF: for files shorter than `size`, scanned reversed

    def scan(self, data: Any, view: memoryview, size: int, met: set[int]) -> None:
        """Add to `met` the conditions met by this band's patterns that match."""
        if self.end == BOF:
            self.forward.scan(view[: self.size] if size > self.size else view, self.needers, met)
        elif size >= self.size:
            self.forward.scan(view[size - self.size :], self.needers, met)
        elif self.backward is not None:
            self.backward.scan((data if isinstance(data, bytes) else bytes(view))[::-1], self.needers, met)


_Window = tuple[SequencePattern, int, int, bool]  # anchor, lowest and highest start, counted from the end


@dataclass
class BinaryMatcher:
    """The compiled form of a signature file: signatures, their conditions and Hyperscan databases."""

    signatures: SignatureFile
    owner: list[int]  # for each condition: the signature (position) it belongs to
    bounded: list[int]  # for each signature: how many bounded conditions
    anywhere: list[int]  # for each signature: how many conditions anywhere
    bands: list[_Band]
    literals: list[bytes]  # literals of the conditions anywhere
    literal_needers: list[tuple[int, ...]]  # for each literal: the conditions it meets
    signature_literals: list[tuple[int, ...]]  # for each signature: its literals (by number)
    family: list[int]  # for each signature: its family (signatures sharing literals or bounded patterns)
    family_databases: list[_Database | None]  # each family's literals anywhere
    anywhere_database: _Database | None  # every literal anywhere
    unbounded: list[int]  # signatures with no bounded condition (run, or scanned for, on every file)
    windows: dict[int, tuple[_Window, ...]]  # anchor windows Hyperscan could not take, checked in Python
    head_bytes: int
    tail_bytes: int

    @classmethod
    def build(cls, signatures: SignatureFile) -> BinaryMatcher:
        owner: list[int] = []
        bounded: list[int] = []
        anywhere: list[int] = []
        patterns: list[tuple[_Bounded, int]] = []
        window_of: dict[int, _Window] = {}  # bounded condition -> its anchor window (for the fallback)
        literal_ids: dict[bytes, int] = {}
        literal_needers: list[list[int]] = []
        signature_literals: list[tuple[int, ...]] = []
        for position, sig in enumerate(signatures.signatures):
            near, far = _conditions(sig)
            for alternatives, window in near:
                condition = len(owner)
                owner.append(position)
                patterns.extend((pattern, condition) for pattern in alternatives)
                if window is not None:
                    window_of[condition] = window
            mine: list[int] = []
            for group in far:
                condition = len(owner)
                owner.append(position)
                for literal in group:
                    number = literal_ids.setdefault(literal, len(literal_ids))
                    if number == len(literal_needers):
                        literal_needers.append([])
                    literal_needers[number].append(condition)
                    mine.append(number)
            bounded.append(len(near))
            anywhere.append(len(far))
            signature_literals.append(tuple(sorted(set(mine))))
        bands, dead = _build_bands(patterns)
        windows: dict[int, list[_Window]] = {}
        for condition in sorted(dead):  # Hyperscan refused one of its patterns: checked otherwise, or dropped
            position = owner[condition]
            bounded[position] -= 1
            if condition in window_of:
                windows.setdefault(position, []).append(window_of[condition])
        family = _families(owner, anywhere, bands, literal_needers)
        literals = list(literal_ids)
        family_databases: list[_Database | None] = []
        for number in range(max(family, default=-1) + 1):
            mine = sorted({n for p, f in enumerate(family) if f == number for n in signature_literals[p]})
            family_databases.append(_literal_database(literals, mine))
        head = max((b.size for b in bands if b.end == BOF), default=0)
        tail = max((b.size for b in bands if b.end == EOF), default=0)
        return cls(
            signatures=replace(signatures, signatures=LazySignatures(signatures.signatures)),
            owner=owner,
            bounded=bounded,
            anywhere=anywhere,
            bands=bands,
            literals=literals,
            literal_needers=[tuple(n) for n in literal_needers],
            signature_literals=signature_literals,
            family=family,
            family_databases=family_databases,
            anywhere_database=_literal_database(literals, list(range(len(literals)))),
            unbounded=[p for p, count in enumerate(bounded) if not count],
            windows={p: tuple(w) for p, w in windows.items()},
            head_bytes=head,
            tail_bytes=tail,
        )

    def check(self) -> None:
        """Raise if this object (e.g. unpickled from a cache) is not the shape this code builds."""
        count = len(self.signatures.signatures)
        if not (len(self.bounded) == len(self.anywhere) == len(self.signature_literals) == len(self.family) == count):
            raise ValueError("signature tables of different lengths")
        if len(self.signatures.signature_formats) != count or not _within(self.owner, count):
            raise ValueError("conditions name signatures that do not exist")
        conditions = len(self.owner)
        if len(self.literal_needers) != len(self.literals):
            raise ValueError("literal table and needers differ in length")
        # Bounds checked with min/max over flat lists: this runs on every cache load (~50,000 numbers).
        named = [c for needers in self.literal_needers for c in needers]
        named += [c for band in self.bands for needers in band.needers for c in needers]
        if not _within(named, conditions):
            raise ValueError("a pattern names a condition that does not exist")
        if not _within([*self.unbounded, *self.windows], count):
            raise ValueError("malformed signature lists")
        if not _within(self.family, len(self.family_databases)):
            raise ValueError("a signature names a family that does not exist")

    def candidates(self, data: Any, max_bytes_to_scan: int | None) -> list[int]:
        """Positions of the signatures worth running on `data` (the whole content), in DROID's order."""
        size = len(data)
        view = data if isinstance(data, memoryview) else memoryview(data)
        owner = self.owner
        met: set[int] = set()
        for band in self.bands:
            band.scan(data, view, size, met)
        counts = Counter([owner[c] for c in met])
        bounded, anywhere = self.bounded, self.anywhere
        ready = [p for p, n in counts.items() if n == bounded[p]]
        ready.extend(self.unbounded)
        if self.windows:
            ready = [p for p in ready if p not in self.windows or self._anchored(p, data, size)]
        chosen = [p for p in ready if not anywhere[p]]
        wanting = [p for p in ready if anywhere[p]]
        if wanting:
            chosen.extend(self._found_anywhere(wanting, view, max_bytes_to_scan))
        chosen.sort()
        return chosen

    def _found_anywhere(self, wanting: list[int], view: memoryview, limit: int | None) -> list[int]:
        """The signatures of `wanting` whose every condition anywhere holds: one scan of the content."""
        families = {self.family[p] for p in wanting}
        database = self.family_databases[families.pop()] if len(families) == 1 else self.anywhere_database
        if database is None:
            return []  # no literals at all: cannot happen for a signature with conditions anywhere
        met: set[int] = set()
        needers = self.literal_needers
        size = len(view)
        if limit is None or limit <= 0 or size <= 2 * (limit + 1):
            database.scan(view, needers, met)
        else:
            # DROID's limit: forward searches end by byte N, backward ones start after size-1-N.
            database.scan(view[: limit + 1], needers, met)
            database.scan(view[size - 1 - limit :], needers, met)
        owner = self.owner
        counts = Counter([owner[c] for c in met])
        anywhere = self.anywhere
        return [p for p in wanting if counts[p] == anywhere[p]]

    def _anchored(self, position: int, data: Any, size: int) -> bool:
        """Whether each anchor Hyperscan could not take occurs where DROID would look for it."""
        return all(
            pattern.search_forward(data, size + low if from_end else low, size + high if from_end else high) >= 0
            for pattern, low, high, from_end in self.windows[position]
        )

    def match(self, data: Any, max_bytes_to_scan: int | None = None) -> list[int]:
        """DROID's binary hits: format indices in hit order, one per PUID (runFileIdentification)."""
        if not len(data):
            return []  # DROID never runs internal signatures on an empty file
        formats = self.signatures.formats
        signature_formats = self.signatures.signature_formats
        internal = self.signatures.signatures
        hits: list[int] = []
        seen: set[str] = set()
        searches = Searches()  # this content's searches, shared by its signatures; dropped with it
        for position in self.candidates(data, max_bytes_to_scan):
            if match_internal_signature(internal[position], data, max_bytes_to_scan, searches):
                for index in signature_formats[position]:
                    puid = formats[index].puid
                    if puid not in seen:
                        seen.add(puid)
                        hits.append(index)
        return hits


def _within(numbers: list[int], limit: int) -> bool:
    """Whether every number is in range(limit)."""
    return not numbers or (min(numbers) >= 0 and max(numbers) < limit)


def _literal_database(literals: list[bytes], numbers: list[int]) -> _Database | None:
    if not numbers:
        return None
    return _Database([b"".join(map(_byte, literals[n])) for n in numbers], numbers)


def _families(owner: list[int], anywhere: list[int], bands: list[_Band], literal_needers: list[list[int]]) -> list[int]:
    """For each signature, a family number: signatures with conditions anywhere that share a literal
    or a bounded pattern are in one family (they tend to be left together: PDF/A's, PNG's)."""
    parent = list(range(len(anywhere)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    shared = [[owner[c] for c in needers] for needers in literal_needers]
    shared += [[owner[c] for c in needers if anywhere[owner[c]]] for band in bands for needers in band.needers]
    for positions in shared:
        for position in positions[1:]:
            parent[find(position)] = find(positions[0])
    numbers: dict[int, int] = {}
    return [numbers.setdefault(find(p), len(numbers)) if anywhere[p] else 0 for p in range(len(anywhere))]


def _build_bands(patterns: list[tuple[_Bounded, int]]) -> tuple[list[_Band], set[int]]:
    """Hyperscan databases for the bounded patterns, by end of file and reach; and the conditions whose
    patterns Hyperscan refused (they cannot be checked this way)."""
    dead: set[int] = set()
    bands: list[_Band] = []
    for end in (BOF, EOF):
        mine = [(p, c) for p, c in patterns if p.end == end]
        if not mine:
            continue
        reach = max(p.reach for p, _ in mine)
        limits = sorted({*(limit for limit in _BAND_LIMITS if limit < reach), reach})
        lower = 0
        for limit in limits:
            chosen = [(p, c) for p, c in mine if lower < p.reach <= limit or (lower == 0 and p.reach == 0)]
            lower = limit
            if chosen:
                band, refused = _compile_band(end, limit, chosen)
                dead |= refused
                if band is not None:
                    bands.append(band)
    # a condition with one alternative refused could hold through it: it is no condition at all
    for band in bands:
        band.needers = [tuple(c for c in needers if c not in dead) for needers in band.needers]
    return bands, dead


def _compile_band(end: int, size: int, chosen: list[tuple[_Bounded, int]]) -> tuple[_Band | None, set[int]]:
    import hyperscan

    expressions: dict[tuple[_Bounded], list[int]] = {}
    for pattern, condition in chosen:
        expressions.setdefault((pattern,), []).append(condition)
    keys = list(expressions)
    refused: set[int] = set()

    def databases(kept: list[tuple[_Bounded]]) -> tuple[_Database, _Database | None]:
        forward = [k[0].forward(size) for k in kept]
        ids = list(range(len(kept)))
        database = _Database([e for e, _ in forward], ids, [b for _, b in forward])
        if end == BOF:
            return database, None
        backward = [k[0].backward() for k in kept]
        return database, _Database([e for e, _ in backward], ids, [b for _, b in backward])

    try:
        forward, backward = databases(keys)
    except hyperscan.error:
        good = []
        for key in keys:
            try:
                databases([key])
            except hyperscan.error:
                refused.update(expressions[key])
            else:
                good.append(key)
        keys = good
        if not keys:
            return None, refused
        forward, backward = databases(keys)
    return _Band(end, size, [tuple(expressions[k]) for k in keys], forward, backward), refused


def _window(sub: SubSequence, reverse: bool) -> _Window:
    """Where the first SubSequence's anchor must start for DROID to match it (findSequenceFromPosition):
    forwards from BOF in [minLeft + minOffset, maxLeft + maxOffset]; backwards from EOF in
    [size - length - maxRight - maxOffset, size - length - minRight - minOffset]. Limits
    (maxBytesToScan, the file's ends) only narrow this, so a miss means no match."""
    length = sub.anchor.length
    if reverse:
        return (
            sub.anchor,
            -(length + sub.max_right + sub.max_offset),
            -(length + sub.min_right + sub.min_offset),
            True,
        )
    return (sub.anchor, sub.min_left + sub.min_offset, sub.max_left + sub.max_offset, False)


def _groups(sub: SubSequence, anchor: bool = True) -> list[frozenset[bytes]]:
    """Sets of literals of which a match of `sub` contains at least one: its anchor's (if asked), and each
    fragment position's (one literal per alternative; a position with an alternative lacking one gives no set)."""
    groups: list[frozenset[bytes]] = []
    if anchor:
        _, literal = sub.anchor.longest_literal()
        if literal:
            groups.append(frozenset((literal,)))
    for frags in (*sub.left, *sub.right):
        literals = [f.pattern.longest_literal()[1] if f.pattern is not None else b"" for f in frags]
        if literals and all(literals):
            groups.append(frozenset(literals))
    return groups


def _strength(group: frozenset[bytes]) -> int:
    return min(len(lit) for lit in group) * 4 - len(group) // 8


_Near = tuple[tuple[_Bounded, ...], _Window | None]


def _conditions(sig: InternalSignature) -> tuple[list[_Near], list[frozenset[bytes]]]:
    """Conditions implied by a match of `sig`; all must hold.

    Near an end (each: alternative patterns, and the anchor window it stands for): for each anchored
    sequence, its first SubSequence's anchor inside its window, and each literal group of that
    SubSequence's fragments (2 bytes or more) within the SubSequence's reach of that end.
    Anywhere (each: literals, one of which must occur): for a sequence not anchored, its strongest
    group; for every SubSequence not searched within a window, its groups of literals of 3 bytes or more.
    """
    near: list[_Near] = []
    far: list[frozenset[bytes]] = []
    for seq in sig.sequences:
        first: SubSequence | None = None
        if (seq.anchored_bof or seq.anchored_eof) and not seq.indirect and seq.subsequences:
            candidate = seq.subsequences[-1] if seq.reverse else seq.subsequences[0]
            if not candidate.full_file_scan:
                first = candidate
        if first is not None:
            end = EOF if seq.reverse else BOF
            window = _window(first, seq.reverse)
            anchor, low, high, _ = window
            if end == EOF:
                low, high = -high, -low  # distances from the end of the file
            near.append(((_Bounded(end, anchor.classes, low, high),), window))
            span = first.anchor.length + first.max_offset + first.max_left + first.max_right
            for group in _groups(first, anchor=False):
                if min(map(len, group)) >= 2:
                    alternatives = tuple(
                        _Bounded(end, tuple(frozenset((b,)) for b in literal), *((0, span - len(literal))
                                 if end == BOF else (len(literal), span)))
                        for literal in sorted(group)
                    )  # fmt: skip
                    near.append((alternatives, None))
        else:
            best: frozenset[bytes] | None = None
            for sub in seq.subsequences:
                for group in _groups(sub):
                    if best is None or _strength(group) > _strength(best):
                        best = group
            if best is not None:
                far.append(best)
        for sub in seq.subsequences:
            if sub is not first:
                far.extend(group for group in _groups(sub) if min(len(lit) for lit in group) >= 3)
    near = list(dict.fromkeys(near))  # the same condition twice counts once
    return near, list(dict.fromkeys(far))


def remove_lower_priority(signatures: SignatureFile, hits: list[int]) -> list[int]:
    """DROID's removeLowerPriorityHits: drop every hit that any hit (kept or not) has priority over."""
    formats = signatures.formats
    beaten: set[int] = set()
    for index in hits:
        beaten.update(formats[index].priority_over)
    return [index for index in hits if formats[index].id not in beaten]


def droid_extension(name: str) -> str:
    """DROID's ResourceUtils.getExtension: after the last dot of the name, none for dotfiles."""
    bare = name.split("?", 1)[0]
    base = bare.replace("\\", "/").rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[dot + 1 :] if dot > 0 else ""


def extension_matches(signatures: SignatureFile, name: str, all_formats: bool) -> list[int]:
    """DROID's matchExtensions: formats with no internal signature (or all, when asked) for the extension."""
    extension = droid_extension(name)
    if not extension:
        return []
    table = signatures.all_extensions if all_formats else signatures.tentative_extensions
    return list(table.get(extension.upper(), ()))


def extension_mismatch(signatures: SignatureFile, hits: list[int], name: str) -> bool:
    """DROID's checkForExtensionsMismatches for the hits of a file called `name`."""
    extension = droid_extension(name)
    formats = signatures.formats
    if not extension:
        return any(formats[i].extensions for i in hits)
    return any(formats[i].extensions and not formats[i].has_extension(extension) for i in hits)
