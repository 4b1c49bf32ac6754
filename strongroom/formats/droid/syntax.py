"""DROID's byte-sequence syntax compiled to fixed-length byte-class patterns.

A DROID signature file (and the BinarySignatures inside a container file) gives
each SubSequence and each Left/RightFragment as text. DROID 6.5.2 rewrites that
text (FragmentRewriter: `[!..]` → `^[..]`, `[xx:yy]` → `[xx-yy]`) and compiles it
with byteseek 2.0.3's SequenceMatcherCompiler, which only accepts expressions
of one fixed length: hex bytes, `.`, `'text'`, `` `text` `` (any case), sets
`[...]` with ranges, inversion and bitmasks (`&xx` all bits, `~xx` any bit),
shorthands (`\\d`…), single-byte alternatives `(aa|bb)` (byteseek turns them
into a set) and fixed repeats `x{n}`. Anything else — `*`, `+`, `?`, `{n,m}`,
alternatives of longer sequences — is a compile error, and DROID then drops the
whole signature with a warning. This module follows the same grammar and the
same errors, so a signature is usable here exactly when it is usable in DROID.
"""

from __future__ import annotations

import re
from typing import Any

from strongroom.errors import StrongroomError

ALL_BYTES = frozenset(range(256))


class SequenceSyntaxError(StrongroomError):
    """A byte-sequence expression DROID (byteseek) could not compile either."""


def rewrite_fragment(text: str) -> str:
    """DROID's FragmentRewriter: PRONOM's `[!xx]` and `[xx:yy]` in byteseek's spelling."""
    out: list[str] = []
    in_quote = in_backtick = False
    in_set = 0
    length = len(text)
    for index, char in enumerate(text):
        if not in_quote and not in_backtick:
            if in_set > 0:
                if char == ":":
                    out.append("-")
                elif char != "!":
                    out.append(char)
            elif char == "[" and index + 1 < length and text[index + 1] == "!":
                out.append("^[")
            else:
                out.append(char)
        else:
            out.append(char)
        if char == "'" and not in_backtick:
            in_quote = not in_quote
        elif char == "`" and not in_quote:
            in_backtick = not in_backtick
        elif not in_quote and not in_backtick:
            if char == "[":
                in_set += 1
            elif char == "]":
                in_set -= 1
    return "".join(out)


# --- parse tree: tuples, because the tree lives only while compiling --------------------
# ("byte", value, inverted) ("any",) ("all", mask, inverted) ("anybit", mask, inverted)
# ("range", lo, hi, inverted) ("string", bytes) ("istring", bytes) ("set", children, inverted)
# ("seq", children) ("alt", children) ("repeat", n, child) ("quant", kind, child)
Node = tuple[Any, ...]

_HEX = "0123456789abcdefABCDEF"
_SHORTHAND_RANGES = {
    "d": (0x30, 0x39, False), "D": (0x30, 0x39, True),
    "l": (0x61, 0x7A, False), "L": (0x61, 0x7A, True),
    "u": (0x41, 0x5A, False), "U": (0x41, 0x5A, True),
    "i": (0x00, 0x7F, False), "I": (0x00, 0x7F, True),
}  # fmt: skip
_SHORTHAND_BYTES = {"t": 0x09, "n": 0x0A, "r": 0x0D, "v": 0x0B, "f": 0x0C, "e": 0x1E}
_WHITESPACE: tuple[Node, ...] = tuple(("byte", b, False) for b in (0x20, 0x09, 0x0A, 0x0D))
_WORD: tuple[Node, ...] = (
    ("range", 0x30, 0x39, False),
    ("range", 0x61, 0x7A, False),
    ("range", 0x41, 0x5A, False),
    ("byte", 0x5F, False),
)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def read(self) -> str:
        if self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            return char
        self.pos += 1  # byteseek advances past the end too; peek_behind then sees no character
        return ""

    def peek_behind(self) -> str:
        return self.text[self.pos - 1] if 0 < self.pos <= len(self.text) else ""

    def peek_ahead(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def error(self, message: str) -> SequenceSyntaxError:
        return SequenceSyntaxError(
            f"{message} at position {self.pos} in byte sequence {self.text!r}",
            details=["DROID would drop a signature with this sequence; fix or remove it in the signature file"],
        )

    def hex_byte(self, first: str | None = None) -> int:
        first = first if first is not None else self._checked()
        second = self._checked()
        if first not in _HEX or second not in _HEX:
            raise self.error(f"invalid hex byte {first + second!r}")
        return int(first + second, 16)

    def _checked(self) -> str:
        char = self.read()
        if not char:
            raise self.error("unexpected end of expression")
        return char

    def integer(self) -> int:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos].isdigit() and self.text[self.pos] in "0123456789":
            self.pos += 1
        if self.pos == start:
            raise self.error("a number was expected")
        return int(self.text[start : self.pos])

    def string(self, closing: str) -> str:
        end = self.text.find(closing, self.pos)
        if end < 0:
            raise self.error(f"no closing {closing}")
        value = self.text[self.pos : end]
        self.pos = end + 1
        return value


def _latin1(text: str) -> bytes:
    return text.encode("latin-1", errors="replace")


def _parse(text: str) -> Node:
    if not text:
        raise SequenceSyntaxError("empty byte sequence", details=["a sequence needs at least one byte"])
    return _alternatives(_Reader(text))


def _alternatives(reader: _Reader) -> Node:
    alternatives: list[Node] = []
    while not reader.at_end() and reader.peek_behind() != ")":
        alternatives.append(_sequence(reader))
    if not alternatives:
        raise reader.error("no alternatives were found")
    if len(alternatives) == 1:
        return alternatives[0]
    single = [a for a in alternatives if a[0] in ("byte", "range", "set", "any", "all", "anybit")]
    if len(single) > 1:
        rest = [a for a in alternatives if a[0] not in ("byte", "range", "set", "any", "all", "anybit")]
        as_set: Node = ("set", tuple(single), False)
        if not rest:
            return as_set
        return ("alt", (*rest, as_set))
    return ("alt", tuple(alternatives))


def _sequence(reader: _Reader) -> Node:
    nodes: list[Node] = []
    need_range_end = False
    char = reader.read()
    while char:
        if _quantified_atom(char, reader, nodes):
            if need_range_end:
                _make_range(nodes, reader)
                need_range_end = False
        elif char in " \t\r\n":
            pass
        elif char == "#":
            end = reader.text.find("\n", reader.pos)
            reader.pos = len(reader.text) if end < 0 else end + 1
        else:
            if need_range_end:
                raise reader.error("a range value was expected")
            if char == "(":
                nodes.append(_alternatives(reader))
            elif char in "|)":
                break
            elif char == "-":
                need_range_end = True
            else:
                raise reader.error(f"unexpected character {char!r}")
        char = reader.read()
    if need_range_end:
        raise reader.error("a range needs a second value")
    if not nodes:
        raise reader.error("empty sequence")
    return nodes[0] if len(nodes) == 1 else ("seq", tuple(nodes))


def _make_range(nodes: list[Node], reader: _Reader) -> None:
    second = nodes.pop() if nodes else None
    first = nodes.pop() if nodes else None
    if second is None or first is None or second[0] != "byte" or first[0] != "byte" or second[2]:
        raise reader.error("range values must be single bytes")
    nodes.append(("range", first[1], second[1], first[2]))


def _quantified_atom(char: str, reader: _Reader, nodes: list[Node]) -> bool:
    inverted = False
    if char == "^":
        inverted = True
        char = reader.read()
    node = _atom(char, reader, inverted)
    if node is None and nodes:
        node = _quantifier(char, reader, nodes[-1])
        if node is not None:
            nodes.pop()
    if node is not None:
        nodes.append(node)
    return node is not None


def _quantifier(char: str, reader: _Reader, target: Node) -> Node | None:
    if char == "*":
        return ("quant", "zero_to_many", target)
    if char == "+":
        return ("quant", "one_to_many", target)
    if char == "?":
        return ("quant", "optional", target)
    if char == "{":
        first = reader.integer()
        token = reader.read()
        if token == "}":
            if first == 0:
                raise reader.error("a single repeat value cannot be zero")
            return ("repeat", first, target)
        if token == ",":
            if reader.peek_ahead() == "*":
                reader.read()
                kind = "min_to_many"
            else:
                reader.integer()
                kind = "min_to_max"
            if reader.read() == "}":
                return ("quant", kind, target)
        raise reader.error("no closing } for a repeat")
    return None


def _atom(char: str, reader: _Reader, inverted: bool) -> Node | None:
    if char and char in _HEX:
        return ("byte", reader.hex_byte(char), inverted)
    if char == ".":
        return ("any",)
    if char == "&":
        return ("all", reader.hex_byte(), inverted)
    if char == "~":
        return ("anybit", reader.hex_byte(), inverted)
    if char == "'":
        value = _latin1(reader.string("'"))
        if len(value) == 1:
            return ("byte", value[0], inverted)
        if inverted:
            raise reader.error("strings cannot be inverted")
        return ("string", value)
    if char == "`":
        value = _latin1(reader.string("`"))
        if inverted:
            raise reader.error("case-insensitive strings cannot be inverted")
        return ("istring", value)
    if char == "\\":
        return _shorthand(reader, inverted)
    if char == "[":
        return _set(reader, inverted)
    return None


def _shorthand(reader: _Reader, inverted: bool) -> Node:
    char = reader.read()
    if char in _SHORTHAND_BYTES:
        return ("byte", _SHORTHAND_BYTES[char], inverted)
    if char in _SHORTHAND_RANGES:
        lo, hi, inv = _SHORTHAND_RANGES[char]
        return ("range", lo, hi, inv != inverted)
    if char in "sS":
        return ("set", _WHITESPACE, (char == "S") != inverted)
    if char in "wW":
        return ("set", _WORD, (char == "W") != inverted)
    raise reader.error(f"unexpected shorthand \\{char}")


def _set(reader: _Reader, inverted: bool) -> Node:
    members: list[Node] = []
    need_range_end = False
    char = reader.read()
    while char:
        sub_inverted = False
        probe = char
        if probe == "^":
            sub_inverted = True
            probe = reader.read()
        node = _atom(probe, reader, sub_inverted)
        if node is not None:
            members.append(node)
            if need_range_end:
                _make_range(members, reader)
                need_range_end = False
        elif sub_inverted:
            raise reader.error(f"unexpected character {probe!r}")
        elif char in " \t\r\n":
            pass
        elif char == "#":
            end = reader.text.find("\n", reader.pos)
            reader.pos = len(reader.text) if end < 0 else end + 1
        elif char == "]":
            break
        elif char == "-":
            need_range_end = True
        else:
            raise reader.error(f"unexpected character {char!r} in a set")
        char = reader.read()
    if need_range_end:
        raise reader.error("a range needs a second value")
    if not char:
        raise reader.error("the set is not closed")
    if not members:
        raise reader.error("empty set")
    return ("set", tuple(members), inverted)


# --- compiling ------------------------------------------------------------------------------


def _values(node: Node) -> frozenset[int]:
    """The byte values one single-byte node matches (inside a set, strings are sets of bytes)."""
    kind = node[0]
    if kind == "byte":
        values = frozenset((node[1],))
        return ALL_BYTES - values if node[2] else values
    if kind == "any":
        return ALL_BYTES
    if kind == "all":
        mask = node[1]
        values = frozenset(b for b in range(256) if b & mask == mask)
        return ALL_BYTES - values if node[2] else values
    if kind == "anybit":
        mask = node[1]
        values = frozenset(b for b in range(256) if b & mask)
        return ALL_BYTES - values if node[2] else values
    if kind == "range":
        lo, hi = sorted((node[1], node[2]))
        values = frozenset(range(lo, hi + 1))
        return ALL_BYTES - values if node[3] else values
    if kind == "string":
        return frozenset(node[1])
    if kind == "istring":
        return frozenset(v for b in node[1] for v in _case_variants(b))
    if kind == "set":
        union: set[int] = set()
        for child in node[1]:
            union |= _values(child)
        return ALL_BYTES - union if node[2] else frozenset(union)
    raise SequenceSyntaxError(f"{kind} cannot be used in a set", details=["use single bytes, ranges or strings"])


def _case_variants(byte: int) -> tuple[int, ...]:
    if 0x61 <= byte <= 0x7A:
        return (byte, byte - 32)
    if 0x41 <= byte <= 0x5A:
        return (byte, byte + 32)
    return (byte,)


def _compile(node: Node, out: list[frozenset[int]]) -> None:
    kind = node[0]
    if kind in ("byte", "any", "all", "anybit", "range", "set"):
        if kind == "any" and len(node) > 1:
            raise SequenceSyntaxError("the any-byte . cannot be inverted", details=["remove the ^"])
        out.append(_values(node))
    elif kind == "string":
        out.extend(frozenset((b,)) for b in node[1])
    elif kind == "istring":
        out.extend(frozenset(_case_variants(b)) for b in node[1])
    elif kind == "seq":
        for child in node[1]:
            _compile(child, out)
    elif kind == "repeat":
        inner: list[frozenset[int]] = []
        _compile(node[2], inner)
        out.extend(inner * node[1])
    else:
        what = "alternatives of more than one byte" if kind == "alt" else f"the quantifier ({node[1]})"
        raise SequenceSyntaxError(
            f"{what} cannot be compiled into a fixed-length sequence",
            details=["DROID (byteseek 2.0.3) rejects this sequence too and drops its signature"],
        )


# search_forward looks for a pattern's longest literal run (at least this long) before trying the pattern, and
# tries at most _VERIFY_BEFORE_RE occurrences of it before leaving the rest of the search to re.
_INNER_LITERAL_BYTES = 3
_VERIFY_BEFORE_RE = 16


class Searches:
    """The answers of searches already made over one file's content, for the signatures after to reuse: many
    repeat a search (the same pattern over the same window), e.g. PDF/A's dozen signatures each look for the
    same XMP pattern over a whole PDF. One per content, never shared between contents (the answers are
    about that content only), and dropped with it.
    """

    __slots__ = ("anchors", "starts")

    def __init__(self) -> None:
        self.anchors: dict[tuple[bytes, bool, int, int], int] = {}  # (pattern key, forward, first, last) -> start
        self.starts: dict[tuple[bytes, int, int, int], list[int] | None] = {}  # nearest.py's fragment starts

    def search(self, pattern: SequencePattern, data: Any, first: int, last: int, forward: bool) -> int:
        """pattern.search_forward (or search_backward) over `data`, answered from memory when made before."""
        key = (pattern.key, forward, first, last)
        found = self.anchors.get(key)
        if found is None:
            found = pattern.search_forward(data, first, last) if forward else pattern.search_backward(data, first, last)
            self.anchors[key] = found
        return found


class SequencePattern:
    """A fixed-length run of byte classes; `classes[i]` is the set of bytes allowed at position i.

    Stored as a 32-byte bitmap per position plus its regex source (made once, when
    compiled from the signature file), so thousands of them unpickle from the cache
    in milliseconds and the regex compiles on first use without decoding the bitmap.
    """

    __slots__ = (
        "_bitmap", "_body", "_classes", "_inner", "_literal", "_overlapping", "_regex", "key", "length", "text"
    )  # fmt: skip
    text: str
    length: int
    key: bytes  # the bitmap: equal keys, equal patterns (a cheap dictionary key: bytes cache their hash)
    _bitmap: bytes
    _body: bytes
    _classes: tuple[frozenset[int], ...] | None
    _regex: re.Pattern[bytes] | None
    _overlapping: re.Pattern[bytes] | None  # `.*(pattern)`: finds the rightmost match
    _literal: bytes | None
    _inner: tuple[int, bytes] | None  # _inner_literal(): computed on first use, not pickled

    def __init__(self, text: str, classes: tuple[frozenset[int], ...]) -> None:
        bitmap = bytearray(32 * len(classes))
        for index, values in enumerate(classes):
            for value in values:
                bitmap[index * 32 + (value >> 3)] |= 1 << (value & 7)
        body = b"".join(_class_regex(c) for c in classes)
        literal = bytes(next(iter(c)) for c in classes) if all(len(c) == 1 for c in classes) else None
        self._setup(text, bytes(bitmap), body, literal)
        self._classes = classes

    def _setup(self, text: str, bitmap: bytes, body: bytes, literal: bytes | None) -> None:
        self.text = text
        self.length = len(bitmap) // 32
        self._bitmap = bitmap
        self.key = bitmap
        self._body = body
        self._literal = literal
        self._classes = None
        self._regex = None
        self._overlapping = None
        self._inner = None

    @classmethod
    def _restore(cls, text: str, bitmap: bytes, body: bytes, literal: bytes | None) -> SequencePattern:
        pattern = cls.__new__(cls)
        pattern._setup(text, bitmap, body, literal)
        return pattern

    def __reduce__(self) -> tuple[Any, ...]:
        return (SequencePattern._restore, (self.text, self._bitmap, self._body, self._literal))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SequencePattern) and other._bitmap == self._bitmap

    def __hash__(self) -> int:
        return hash(self._bitmap)

    def __repr__(self) -> str:
        return f"SequencePattern({self.text!r}, length={self.length})"

    @property
    def classes(self) -> tuple[frozenset[int], ...]:
        if self._classes is None:
            bitmap = self._bitmap
            self._classes = tuple(
                frozenset(v for v in range(256) if bitmap[i * 32 + (v >> 3)] & (1 << (v & 7)))
                for i in range(self.length)
            )
        return self._classes

    def _compiled(self) -> re.Pattern[bytes]:
        if self._regex is None:
            self._regex = re.compile(self._body, re.DOTALL)
        return self._regex

    def _rightmost(self) -> re.Pattern[bytes]:
        if self._overlapping is None:
            self._overlapping = re.compile(b".*(" + self._body + b")", re.DOTALL)
        return self._overlapping

    @property
    def literal(self) -> bytes | None:
        """The bytes themselves when every position allows exactly one value."""
        return self._literal

    def longest_literal(self) -> tuple[int, bytes]:
        """(offset, bytes) of the longest run of single-valued positions; (0, b"") when there is none."""
        best = (0, b"")
        start = 0
        run = bytearray()
        for index, values in enumerate([*self.classes, ALL_BYTES]):
            if len(values) == 1:
                if not run:
                    start = index
                run.append(next(iter(values)))
                continue
            if len(run) > len(best[1]):
                best = (start, bytes(run))
            run = bytearray()
        return best

    def matches_at(self, data: Any, position: int) -> bool:
        """True when the pattern matches `data` starting at `position` (False past either end)."""
        if position < 0 or position + self.length > len(data):
            return False
        return self._compiled().match(data, position) is not None

    def search_forward(self, data: Any, first: int, last: int) -> int:
        """The lowest start in [first, last] where the pattern matches, or -1."""
        first = max(first, 0)
        last = min(last, len(data) - self.length)
        if first > last:
            return -1
        if self._literal is not None:
            return int(data.find(self._literal, first, last + self.length))
        end = last + self.length
        offset, literal = self._inner_literal()
        if literal:
            # A match starting at s has `literal` at s + offset: find it (bytes.find is far faster than re on a
            # pattern that does not start with a literal, e.g. PDF/A's XMP patterns over a whole PDF), then
            # check the whole pattern there. Occurrences come in order, so the first that checks is the lowest
            # start. A literal met too often without a match hands over to re from where it got to.
            regex = self._compiled()
            at = data.find(literal, first + offset, end - self.length + offset + len(literal))
            for _ in range(_VERIFY_BEFORE_RE):
                if at < 0:
                    return -1
                start = at - offset
                if regex.match(data, start, start + self.length) is not None:
                    return int(start)
                at = data.find(literal, at + 1, end - self.length + offset + len(literal))
            if at < 0:
                return -1
            first = at - offset
        found = self._compiled().search(data, first, end)
        return found.start() if found is not None else -1

    def _inner_literal(self) -> tuple[int, bytes]:
        """(offset, bytes) of the longest run of single-valued positions, when it is long enough to search for
        (else (0, b"")); read from the bitmap, so the classes need not be decoded."""
        if self._inner is None:
            best = (0, b"")
            run_start, run = 0, bytearray()
            bitmap = self._bitmap
            for index in range(self.length + 1):
                bits = int.from_bytes(bitmap[index * 32 : index * 32 + 32], "little") if index < self.length else 0
                if bits and not bits & (bits - 1):  # exactly one byte allowed here: bit number = byte value
                    if not run:
                        run_start = index
                    run.append(bits.bit_length() - 1)
                    continue
                if len(run) > len(best[1]):
                    best = (run_start, bytes(run))
                run = bytearray()
            self._inner = best if len(best[1]) >= _INNER_LITERAL_BYTES else (0, b"")
        return self._inner

    def search_backward(self, data: Any, first: int, last: int) -> int:
        """The highest start in [last, first] (first >= last) where the pattern matches, or -1."""
        first = min(first, len(data) - self.length)
        last = max(last, 0)
        if first < last:
            return -1
        literal = self._literal
        if literal is not None:
            return int(data.rfind(literal, last, first + self.length))
        # A greedy `.*` before the pattern backs off from the end: the first success is the last match.
        found = self._rightmost().match(data, last, first + self.length)
        return found.start(1) if found is not None else -1


def byte_ranges(values: frozenset[int]) -> list[tuple[int, int]]:
    """The byte values as runs of consecutive values, (first, last) each, for a regex character class."""
    ranges: list[tuple[int, int]] = []
    for value in sorted(values):
        if ranges and ranges[-1][1] == value - 1:
            ranges[-1] = (ranges[-1][0], value)
        else:
            ranges.append((value, value))
    return ranges


def _class_regex(values: frozenset[int]) -> bytes:
    if len(values) == 256:
        return b"."
    if len(values) == 1:
        return re.escape(bytes(values))
    parts = [b"\\x%02x" % lo if lo == hi else b"\\x%02x-\\x%02x" % (lo, hi) for lo, hi in byte_ranges(values)]
    return b"[" + b"".join(parts) + b"]"


def compile_sequence(text: str) -> SequencePattern:
    """Compile one SubSequence or fragment text exactly as DROID 6.5.2 does (rewrite, then byteseek).

    Raises SequenceSyntaxError for what DROID cannot compile either.
    """
    classes: list[frozenset[int]] = []
    _compile(_parse(rewrite_fragment(text)), classes)
    if not classes:
        raise SequenceSyntaxError(f"byte sequence {text!r} matches nothing", details=["give at least one byte"])
    return SequencePattern(text, tuple(classes))
