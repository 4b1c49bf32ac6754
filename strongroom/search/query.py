"""What a search's words mean, decided once for every backend.

A query is parsed here into a small tree (`Term`, `All`, `Any`, `Without`) that each
backend translates into its own language (an FTS5 expression, an Elasticsearch bool
query). Words are compared after `fold()`, which every backend applies the same way, so
the same query finds the same documents on SQLite, Elasticsearch and OpenSearch, even on a
node without the analysis-common module (no asciifolding filter there).

The syntax, forgiving of what people type:
- words: all must match (`parish minutes`); `AND` may be written but is the default;
- `"a phrase"`: its words next to each other, in this order, within one field;
- `OR` between parts: either; `NOT part` or `-part`: documents without it;
- `word*`: words starting with `word` (on a phrase, its last word);
- `( ... )` groups. `AND`, `OR` and `NOT` are operators only in capitals.
An unclosed quote or bracket closes at the end; a stray `)` is ignored; words with no
letters or digits are dropped. Nothing a person types is ever a syntax error.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Term:
    """A word or phrase: `tokens` (folded, lower case) next to each other in one field."""

    tokens: tuple[str, ...]
    prefix: bool = False  # the last token matches any word it begins


@dataclass(frozen=True)
class All:
    """Every part matches (a document matching no part of `parts` that is a Without)."""

    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Any:
    """At least one part matches."""

    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Without:
    """Documents the part does not match."""

    part: Node


Node = Term | All | Any | Without


# A private-use character the SQLite index keeps for itself (it marks Dublin Core element
# names there); treated as a separator so no typed word can be, or match, such a mark.
RESERVED_MARK = "\ue000"


def is_token_char(char: str) -> bool:
    """Letters, digits and private-use characters (but RESERVED_MARK) make words; everything else separates them.

    The same rule as SQLite's unicode61 tokenizer, so FTS5 splits text where fold() does.
    """
    category = unicodedata.category(char)
    return category[0] in "LN" or (category == "Co" and char != RESERVED_MARK)


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    if not is_token_char(char):
        return " "
    decomposed = unicodedata.normalize("NFD", char)
    # Only accents on Latin letters come off (é -> e, ệ -> e): exactly what SQLite's unicode61
    # tokenizer removes, so a word in another script (й, ά) is found as typed on every backend.
    base, marks = decomposed[0], decomposed[1:]
    if marks and base.isascii() and base.isalpha() and all(unicodedata.combining(mark) for mark in marks):
        return base
    return char


def fold(text: str) -> str:
    """`text` with accents taken off Latin letters and every separator made a space, one character for one.

    Keeps case and length (character i of the result comes from character i of `text`),
    so a backend that matched the folded text can show the original at the same place.
    Text should be NFC-normalised first (`normalise`), so an accent is part of its letter.
    """
    if text.isascii():
        return "".join(char if char.isalnum() else " " for char in text)
    return "".join(_fold_char(char) for char in text)


def normalise(text: str) -> str:
    """What every backend stores: NFC (composed accents), with NUL bytes removed."""
    return unicodedata.normalize("NFC", text.replace("\x00", " "))


def tokens(text: str) -> list[str]:
    """The words of `text` as every backend compares them: folded and in lower case."""
    return fold(normalise(text)).lower().split()


def fold_key(text: str) -> str:
    """A value compared whole (a creator filter): folded, lower case, single spaces."""
    return " ".join(tokens(text))


_OPERATORS = ("AND", "OR", "NOT")
MAX_DEPTH = 32  # brackets nested deeper than this are ignored, so no query can exhaust the stack


def _lex(text: str) -> list[tuple[str, str]]:
    """(kind, text) pairs: kind is "(", ")", "-", "op", "phrase" or "word"."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            out.append((char, char))
            i += 1
        elif char == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            phrase = text[i + 1 : end]
            i = end + 1
            if i < n and text[i] == "*":
                phrase += "*"
                i += 1
            out.append(("phrase", phrase))
        elif char == "-" and i + 1 < n and not text[i + 1].isspace():  # a word's first character
            out.append(("-", char))
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '()"':
                i += 1
            word = text[start:i]
            out.append(("op", word) if word in _OPERATORS else ("word", word))
    return out


class _Parser:
    def __init__(self, lexed: list[tuple[str, str]]) -> None:
        self.items = lexed
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.at] if self.at < len(self.items) else None

    def take(self) -> tuple[str, str]:
        item = self.items[self.at]
        self.at += 1
        return item

    def expression(self, depth: int) -> Node | None:
        alternatives: list[Node] = []
        part = self.conjunction(depth)
        if part is not None:
            alternatives.append(part)
        while (item := self.peek()) is not None and item == ("op", "OR"):
            self.take()
            part = self.conjunction(depth)
            if part is not None:
                alternatives.append(part)
        if not alternatives:
            return None
        return alternatives[0] if len(alternatives) == 1 else Any(tuple(alternatives))

    def conjunction(self, depth: int) -> Node | None:
        parts: list[Node] = []
        while (item := self.peek()) is not None:
            if item == ("op", "OR"):
                break
            if item[0] == ")":
                if depth > 0:
                    break
                self.take()  # a stray closing bracket
                continue
            if item == ("op", "AND"):
                self.take()
                continue
            part = self.unary(depth)
            if part is not None:
                parts.append(part)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def unary(self, depth: int) -> Node | None:
        item = self.take()
        negations = 0
        while item[0] == "-" or item == ("op", "NOT"):  # a loop, not recursion: NOT NOT ... is harmless
            negations += 1
            if self.peek() is None:
                return None
            item = self.take()
        part = self.primary(item, depth)
        if part is None or negations % 2 == 0:
            return part
        return _negate(part)

    def primary(self, item: tuple[str, str], depth: int) -> Node | None:
        if item[0] == "(":
            if depth >= MAX_DEPTH:  # brackets this deep are noise; read on as if they were not there
                return None
            inner = self.expression(depth + 1)
            if (closing := self.peek()) is not None and closing[0] == ")":
                self.take()
            return inner
        return _term(item[1])


def _negate(node: Node) -> Node:
    return node.part if isinstance(node, Without) else Without(node)


def _term(text: str) -> Term | None:
    prefix = text.endswith("*")
    words = tokens(text.rstrip("*") if prefix else text)
    if not words:
        return None
    return Term(tuple(words), prefix)


def parse(text: str) -> Node | None:
    """The tree for what a person typed, or None when it asks for everything (no words at all).

    A tree may be made only of Without parts (`-draft`): every document the viewer may see
    except those.
    """
    return _Parser(_lex(text)).expression(0)


def positive_terms(node: Node | None) -> list[Term]:
    """The terms a matching document contains (not those under a Without): what snippets highlight."""
    if node is None or isinstance(node, Without):
        return []
    if isinstance(node, Term):
        return [node]
    return [term for part in node.parts for term in positive_terms(part)]


_DAY = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def period_day(text: str, *, end: bool) -> dt.date:
    """YYYY, YYYY-MM or YYYY-MM-DD as a date filter's bound: the period's first day, or with `end` its last.

    ValueError ("'2024-13' is not a date (month must be in 1..12)") when it is none of those.
    """
    match = _DAY.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a date")
    year = int(match.group(1))
    try:
        if match.group(3):
            return dt.date(year, int(match.group(2)), int(match.group(3)))
        if match.group(2):
            month = int(match.group(2))
            return dt.date(year, month, calendar.monthrange(year, month)[1] if end else 1)
        return dt.date(year, 12, 31) if end else dt.date(year, 1, 1)
    except ValueError as exc:  # 2024-02-30, month 13, year 0
        raise ValueError(f"{text!r} is not a date ({exc})") from None
