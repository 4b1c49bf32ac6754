"""SequencePattern.search_forward's literal-first search gives exactly what a plain regex search gives."""

from __future__ import annotations

import random
import re

import pytest

from strongroom.formats.droid import syntax
from strongroom.formats.droid.syntax import SequencePattern


def _regex_search(pattern: SequencePattern, data: bytes, first: int, last: int) -> int:
    """The reference: re over the window, as search_forward did before it looked for literals first."""
    first = max(first, 0)
    last = min(last, len(data) - pattern.length)
    if first > last:
        return -1
    found = re.compile(pattern._body, re.DOTALL).search(data, first, last + pattern.length)
    return found.start() if found is not None else -1


def _pattern(rng: random.Random, alphabet: bytes) -> SequencePattern:
    classes = []
    for _ in range(rng.randint(2, 9)):
        if rng.random() < 0.6:
            classes.append(frozenset({rng.choice(alphabet)}))
        else:
            classes.append(frozenset(rng.sample(list(alphabet), rng.randint(2, len(alphabet)))))
    return SequencePattern("test", tuple(classes))


@pytest.mark.parametrize("seed", range(40))
def test_search_forward_agrees_with_a_plain_regex_search(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = bytes(rng.sample(range(256), rng.choice((2, 3, 5))))  # few values: literals recur often
    data = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 3000)))
    for _ in range(60):
        pattern = _pattern(rng, alphabet)
        first = rng.randint(-5, len(data) + 5)
        last = rng.randint(first - 3, len(data) + 20)
        assert pattern.search_forward(data, first, last) == _regex_search(pattern, data, first, last), (
            pattern._inner_literal(),
            first,
            last,
        )


def test_a_literal_met_too_often_hands_over_to_re_from_where_it_got() -> None:
    # "AAA" is the pattern's literal; it occurs hundreds of times before the one place the class after it fits.
    pattern = SequencePattern("AAA[BC]", (frozenset(b"A"),) * 3 + (frozenset(b"BC"),))
    assert pattern._inner_literal() == (0, b"AAA")
    data = b"AAAD" * 300 + b"xAAAC" + b"AAAB"
    assert syntax._VERIFY_BEFORE_RE < 300
    assert pattern.search_forward(data, 0, len(data)) == 1201
    assert pattern.search_forward(data, 1202, len(data)) == 1205
    assert pattern.search_forward(data, 0, 1200) == -1


def test_the_literal_must_lie_inside_the_window() -> None:
    pattern = SequencePattern("[ab]XYZ", (frozenset(b"ab"), frozenset(b"X"), frozenset(b"Y"), frozenset(b"Z")))
    assert pattern._inner_literal() == (1, b"XYZ")
    data = b"..aXYZ..bXYZ"
    assert pattern.search_forward(data, 0, 2) == 2
    assert pattern.search_forward(data, 3, 7) == -1  # the start 8 lies past `last`
    assert pattern.search_forward(data, 3, 8) == 8
    assert pattern.search_forward(data, 9, 100) == -1


def test_short_runs_are_not_searched_for_first() -> None:
    pattern = SequencePattern("[ab]X[cd]Y", (frozenset(b"ab"), frozenset(b"X"), frozenset(b"cd"), frozenset(b"Y")))
    assert pattern._inner_literal() == (0, b"")
    assert pattern.search_forward(b"..bXdY", 0, 10) == 2
