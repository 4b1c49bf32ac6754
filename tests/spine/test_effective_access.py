"""Which access rule governs a path: the most specific; a derivative is at least as closed as its original."""

from __future__ import annotations

from datetime import date

import pytest

from strongroom.indexing import effective_access
from strongroom.model import AccessRule, AccessStatus

OPEN, CLOSED = AccessStatus.OPEN, AccessStatus.CLOSED


def rule(path: str | None, status: AccessStatus, opening: date | None = None) -> AccessRule:
    return AccessRule("p", path, status, "reason", opening)


@pytest.mark.parametrize(
    "derivative",
    ["text/objects/minutes/a.doc.txt", "preservation/objects/minutes/a.doc.odt", "access/objects/minutes/a.doc.pdf"],
)
def test_a_derivative_of_a_closed_record_is_closed(derivative: str) -> None:
    closed_file = rule("objects/minutes/a.doc", CLOSED, date(2040, 1, 1))
    closed_folder = rule("objects/minutes", CLOSED)
    assert effective_access([closed_file], derivative) == closed_file
    assert effective_access([closed_folder], derivative) == closed_folder
    assert effective_access([rule("objects/other", CLOSED)], derivative) is None


def test_opening_a_derivative_does_not_open_a_closed_original() -> None:
    closed = rule("objects/a.doc", CLOSED)
    assert effective_access([closed, rule("access/objects/a.doc.pdf", OPEN)], "access/objects/a.doc.pdf") == closed


def test_closing_only_the_copy_closes_the_copy_not_the_original() -> None:
    copy_closed = rule("access/objects/a.doc.pdf", CLOSED, date(2030, 1, 1))
    rules = [rule(None, OPEN), copy_closed]
    assert effective_access(rules, "access/objects/a.doc.pdf") == copy_closed
    assert effective_access(rules, "objects/a.doc") == rule(None, OPEN)


def test_of_two_closures_the_longer_governs() -> None:
    until_2030 = rule("objects/a.doc", CLOSED, date(2030, 1, 1))
    until_2050 = rule("access/objects/a.doc.pdf", CLOSED, date(2050, 1, 1))
    for_good = rule("access", CLOSED)
    assert effective_access([until_2030, until_2050], "access/objects/a.doc.pdf") == until_2050
    assert effective_access([until_2030, for_good], "access/objects/a.doc.pdf") == for_good


def test_the_package_rule_governs_what_has_no_rule_of_its_own() -> None:
    sealed = rule(None, CLOSED)
    assert effective_access([sealed], "access/objects/a.doc.pdf") == sealed
    assert effective_access([sealed], None) == sealed
    assert effective_access([sealed, rule("objects/a.doc", OPEN)], "access/objects/a.doc.pdf").status is OPEN  # type: ignore[union-attr]
