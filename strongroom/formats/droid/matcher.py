"""Which internal signatures of a DROID signature file match a file, and DROID's rules on the hits.

Running DROID's algorithm (sequence.py) for all ~2,250 signatures on every
file would be slow in Python, so each signature first gets necessary
conditions: for each of its byte sequences, a literal that any match must
contain and the region it must lie in —

- "bof": the first SubSequence of a BOF sequence is searched only up to its
  maximum offset, so its literal lies in the first N bytes (N <= 153 KB in V122);
- "eof": likewise within the last N bytes for an EOF sequence;
- "any": anywhere (variable sequences, and SubSequences after the first, which
  DROID scans to the end of the file).

Three Hyperscan literal databases find, in one pass each over the head, the
tail and the whole content, which literals occur; only signatures whose every
condition holds run DROID's algorithm, in DROID's order. A condition is only
ever implied by a match, so the prefilter never changes an answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strongroom.formats.droid.sequence import InternalSignature, SubSequence, match_internal_signature
from strongroom.formats.droid.signatures import SignatureFile
from strongroom.formats.droid.syntax import SequencePattern

BOF, EOF, ANY = 0, 1, 2
_REGIONS = (BOF, EOF, ANY)
ANY_ONLY = 3  # index of the literals of signatures whose every condition is "any"
_INDEXES = (*_REGIONS, ANY_ONLY)


@dataclass
class _LiteralIndex:
    """Literals of one region and, for each, the signatures (by position) that need it."""

    literals: list[bytes] = field(default_factory=list)
    needers: list[list[tuple[int, int]]] = field(default_factory=list)  # (signature, condition number)
    ids: dict[bytes, int] = field(default_factory=dict)
    serialized: bytes | None = None  # Hyperscan database, serialised (it pickles as bytes)
    _database: Any = None

    def add(self, literal: bytes, signature: int, condition: int) -> None:
        literal_id = self.ids.get(literal)
        if literal_id is None:
            literal_id = self.ids[literal] = len(self.literals)
            self.literals.append(literal)
            self.needers.append([])
        self.needers[literal_id].append((signature, condition))

    def build(self) -> None:
        if not self.literals:
            return
        import hyperscan

        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(
            expressions=[b"".join(b"\\x%02x" % b for b in lit) for lit in self.literals],
            ids=list(range(len(self.literals))),
            elements=len(self.literals),
            flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(self.literals),
        )
        self.serialized = hyperscan.dumpb(db)
        self._database = db

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_database"] = None
        state["ids"] = {}  # only needed while building
        return state

    def found(self, buffer: Any, into: set[int]) -> None:
        """Add to `into` the ids of the literals present in `buffer`."""
        if not self.literals or not len(buffer):
            return
        if self._database is None and self.serialized is not None:
            import hyperscan

            database = hyperscan.loadb(self.serialized, hyperscan.HS_MODE_BLOCK)
            database.scratch = hyperscan.Scratch(database)  # a loaded database comes without one
            self._database = database

        def on_match(literal_id: int, start: int, end: int, flags: int, context: object) -> None:
            into.add(literal_id)

        self._database.scan(buffer, match_event_handler=on_match)


@dataclass
class BinaryMatcher:
    """The compiled form of a signature file: signatures, conditions and literal databases."""

    signatures: SignatureFile
    needed: list[int]  # for each signature: how many conditions it has
    always: list[int]  # signatures with no usable condition: always tried
    indexes: list[_LiteralIndex]  # by region, then ANY_ONLY
    head_bytes: int
    tail_bytes: int
    # for each signature: where the anchors of its BOF/EOF sequences' first SubSequences must start
    windows: list[tuple[_Window, ...]] = field(default_factory=list)
    bounded: list[int] = field(default_factory=list)  # for each signature: how many BOF/EOF conditions

    @classmethod
    def build(cls, signatures: SignatureFile) -> BinaryMatcher:
        indexes = [_LiteralIndex() for _ in _INDEXES]
        needed: list[int] = []
        bounded: list[int] = []
        always: list[int] = []
        head = tail = 0
        for position, sig in enumerate(signatures.signatures):
            conditions = _conditions(sig)
            needed.append(len(conditions))
            bounded.append(sum(1 for region, _, _ in conditions if region != ANY))
            if not conditions:
                always.append(position)
            for number, (region, literals, reach) in enumerate(conditions):
                # Literals of all-"any" signatures get their own small database, scanned over every
                # file; the big one is scanned only when a signature's BOF/EOF conditions all hold.
                target = ANY_ONLY if region == ANY and not bounded[-1] else region
                for literal in literals:
                    indexes[target].add(literal, position, number)
                if region == BOF:
                    head = max(head, reach)
                elif region == EOF:
                    tail = max(tail, reach)
        for index in indexes:
            index.build()
        windows = [_windows(sig) for sig in signatures.signatures]
        return cls(signatures, needed, always, indexes, head, tail, windows, bounded)

    def check(self) -> None:
        """Raise if this object (e.g. unpickled from a cache) is not the shape this code builds."""
        count = len(self.signatures.signatures)
        if len(self.needed) != count or len(self.signatures.signature_formats) != count:
            raise ValueError("signature tables of different lengths")
        if len(self.windows) != count or len(self.bounded) != count:
            raise ValueError("anchor windows or condition counts missing")
        if len(self.indexes) != len(_INDEXES) or any(not 0 <= p < count for p in self.always):
            raise ValueError("malformed literal indexes")
        for index in self.indexes:
            if len(index.needers) != len(index.literals):
                raise ValueError("literal table and needers differ in length")
            for needers in index.needers:
                for position, condition in needers:
                    if not (0 <= position < count and 0 <= condition < self.needed[position]):
                        raise ValueError("a literal names a signature or condition that does not exist")

    def _scan_any(self, index: _LiteralIndex, view: memoryview, limit: int | None, into: set[int]) -> None:
        size = len(view)
        if limit is None or limit <= 0 or size <= 2 * (limit + 1):
            index.found(view, into)
        else:
            # DROID's limit: forward searches end by byte N, backward ones start after size-1-N.
            index.found(view[: limit + 1], into)
            index.found(view[size - 1 - limit :], into)

    def candidates(
        self, data: Any, max_bytes_to_scan: int | None, anchored: dict[int, bool] | None = None
    ) -> list[int]:
        """Positions of the signatures worth running, in DROID's order (`anchored`: _anchored's answers so far)."""
        anchored = {} if anchored is None else anchored
        size = len(data)
        view = memoryview(data) if not isinstance(data, memoryview) else data
        indexes = self.indexes
        found: list[set[int]] = [set() for _ in _INDEXES]
        indexes[BOF].found(view[: self.head_bytes], found[BOF])
        indexes[EOF].found(view[max(0, size - self.tail_bytes) :], found[EOF])
        self._scan_any(indexes[ANY_ONLY], view, max_bytes_to_scan, found[ANY_ONLY])
        passed: dict[int, int] = {}
        self._count(found, (BOF, EOF, ANY_ONLY), passed)
        needed, bounded = self.needed, self.bounded
        if any(
            count == bounded[p] < needed[p] and self._anchored(p, data, size, anchored) for p, count in passed.items()
        ):
            # some signature's BOF/EOF conditions all hold and it still needs literals anywhere
            self._scan_any(indexes[ANY], view, max_bytes_to_scan, found[ANY])
            self._count(found, (ANY,), passed)
        chosen = [p for p, count in passed.items() if count >= needed[p]]
        chosen.extend(self.always)
        chosen.sort()
        return chosen

    def _anchored(self, position: int, data: Any, size: int, known: dict[int, bool]) -> bool:
        """Whether each anchored sequence's first anchor occurs where DROID would look for it."""
        answer = known.get(position)
        if answer is None:
            answer = known[position] = all(
                pattern.search_forward(data, size + low if from_end else low, size + high if from_end else high) >= 0
                for pattern, low, high, from_end in self.windows[position]
            )
        return answer

    def _count(self, found: list[set[int]], which: tuple[int, ...], passed: dict[int, int]) -> None:
        """Add to `passed` the number of distinct conditions met, per signature, by the literals found."""
        met: set[tuple[int, int]] = set()
        for region in which:
            needers = self.indexes[region].needers
            for literal_id in found[region]:
                met.update(needers[literal_id])
        for position, _condition in met:
            passed[position] = passed.get(position, 0) + 1

    def match(self, data: Any, max_bytes_to_scan: int | None = None) -> list[int]:
        """DROID's binary hits: format indices in hit order, one per PUID (runFileIdentification)."""
        if not len(data):
            return []  # DROID never runs internal signatures on an empty file
        formats = self.signatures.formats
        hits: list[int] = []
        seen: set[str] = set()
        size = len(data)
        anchored: dict[int, bool] = {}
        for position in self.candidates(data, max_bytes_to_scan, anchored):
            if not self._anchored(position, data, size, anchored):
                continue  # an anchor is not where DROID would look for it: no match
            if match_internal_signature(self.signatures.signatures[position], data, max_bytes_to_scan):
                for index in self.signatures.signature_formats[position]:
                    puid = formats[index].puid
                    if puid not in seen:
                        seen.add(puid)
                        hits.append(index)
        return hits


_Window = tuple[SequencePattern, int, int, bool]  # anchor, lowest and highest start, counted from the end


def _windows(sig: InternalSignature) -> tuple[_Window, ...]:
    """Where each anchored sequence's first SubSequence anchor must start for DROID to match it.

    From findSequenceFromPosition: forwards from BOF the anchor starts in
    [minLeft + minOffset, maxLeft + maxOffset]; backwards from EOF in
    [size - length - maxRight - maxOffset, size - length - minRight - minOffset].
    Limits (maxBytesToScan, the file's ends) only narrow this, so a miss means no match.
    """
    out: list[_Window] = []
    for seq in sig.sequences:
        if not (seq.anchored_bof or seq.anchored_eof) or seq.indirect or not seq.subsequences:
            continue
        first = seq.subsequences[-1] if seq.reverse else seq.subsequences[0]
        if first.full_file_scan:
            continue
        length = first.anchor.length
        if seq.reverse:
            low = -(length + first.max_right + first.max_offset)
            high = -(length + first.min_right + first.min_offset)
            out.append((first.anchor, low, high, True))
        else:
            out.append((first.anchor, first.min_left + first.min_offset, first.max_left + first.max_offset, False))
    return tuple(out)


def _groups(sub: SubSequence) -> list[frozenset[bytes]]:
    """Sets of literals of which a match of `sub` contains at least one: its anchor's, and each
    fragment position's (one literal per alternative; a position with an alternative lacking
    one gives no set)."""
    groups: list[frozenset[bytes]] = []
    _, anchor = sub.anchor.longest_literal()
    if anchor:
        groups.append(frozenset((anchor,)))
    for frags in (*sub.left, *sub.right):
        literals = [f.pattern.longest_literal()[1] if f.pattern is not None else b"" for f in frags]
        if literals and all(literals):
            groups.append(frozenset(literals))
    return groups


def _strength(group: frozenset[bytes]) -> int:
    return min(len(lit) for lit in group) * 4 - len(group) // 8


def _conditions(sig: InternalSignature) -> list[tuple[int, frozenset[bytes], int]]:
    """(region, literals, reach) conditions implied by a match of `sig`; all must hold.

    A condition holds when one of its literals occurs in its region. Per byte
    sequence: the literal groups of the first SubSequence of an anchored sequence
    lie within its bounded window (region BOF or EOF), when that is strong enough;
    otherwise the sequence's strongest group anywhere. Every other SubSequence must
    match somewhere too, so each of its groups (literals of 3 bytes or more) must
    occur in the content: extra "any" conditions.
    """
    out: list[tuple[int, frozenset[bytes], int]] = []
    for seq in sig.sequences:
        best: frozenset[bytes] | None = None
        for sub in seq.subsequences:
            for group in _groups(sub):
                if best is None or _strength(group) > _strength(best):
                    best = group
        first: SubSequence | None = None
        bounded: list[tuple[int, frozenset[bytes], int]] = []
        if (seq.anchored_bof or seq.anchored_eof) and not seq.indirect and seq.subsequences:
            candidate = seq.subsequences[-1] if seq.reverse else seq.subsequences[0]
            groups = _groups(candidate) if not candidate.full_file_scan else []
            if groups:
                strongest = max(groups, key=_strength)
                if best is None or _strength(strongest) >= min(_strength(best), 12):
                    first = candidate
                    span = first.anchor.length + first.max_offset + first.max_left + first.max_right
                    region = EOF if seq.reverse else BOF
                    bounded = [(region, g, span) for g in groups if g == strongest or min(map(len, g)) >= 2]
        if bounded:
            out.extend(bounded)
        elif best is not None:
            out.append((ANY, best, 0))
        for sub in seq.subsequences:
            if sub is not first:
                out.extend((ANY, group, 0) for group in _groups(sub) if min(len(lit) for lit in group) >= 3)
    return list(dict.fromkeys(out))  # the same condition twice counts once


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
