"""The query language shared by every backend (strongroom/search/query.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strongroom.search.query import (
    MAX_DEPTH,
    RESERVED_MARK,
    All,
    Any,
    Term,
    Without,
    fold,
    fold_key,
    normalise,
    parse,
    positive_terms,
    tokens,
)


def t(*words: str, prefix: bool = False) -> Term:
    return Term(tuple(words), prefix)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("", None),
        ("  ", None),
        ("harbour", t("harbour")),
        ("Harbour Pier", All((t("harbour"), t("pier")))),
        ("harbour AND pier", All((t("harbour"), t("pier")))),
        ("harbour OR pier", Any((t("harbour"), t("pier")))),
        ("a b OR c", Any((All((t("a"), t("b"))), t("c")))),  # AND binds tighter than OR
        ("harbour NOT pier", All((t("harbour"), Without(t("pier"))))),
        ("harbour -pier", All((t("harbour"), Without(t("pier"))))),
        ("-pier", Without(t("pier"))),
        ("NOT NOT pier", t("pier")),
        ("- pier", t("pier")),  # a lone dash is no word and no operator
        ("well-known", t("well", "known")),
        ('"harbour view"', t("harbour", "view")),
        ('"harbour vi"*', t("harbour", "vi", prefix=True)),
        ("harb*", t("harb", prefix=True)),
        ("ha*bour", t("ha", "bour")),
        ("(a OR b) c", All((Any((t("a"), t("b"))), t("c")))),
        ("-(a OR b)", Without(Any((t("a"), t("b"))))),
        ('"unclosed phrase', t("unclosed", "phrase")),
        ("(unclosed OR bracket", Any((t("unclosed"), t("bracket")))),
        ("stray) word", All((t("stray"), t("word")))),
        ("and or not", All((t("and"), t("or"), t("not")))),  # operators only in capitals
        ("AND OR NOT", None),
        ("Montréal", t("montreal")),
        ("objects/minutes/1999.pdf", t("objects", "minutes", "1999", "pdf")),
        ('* - " ( ) ≠ 🗄️', None),
        (f"{RESERVED_MARK}creator", t("creator")),
    ],
)
def test_parse(text: str, tree: object) -> None:
    assert parse(text) == tree


def test_deep_brackets_do_not_exhaust_the_stack() -> None:
    assert parse("(" * 10_000 + "x" + ")" * 10_000) is not None
    assert parse("NOT " * 10_000 + "x") == t("x")
    assert parse("-" * 10_000 + "x") is not None
    assert MAX_DEPTH < 100


@given(st.text(max_size=60))
def test_nothing_typed_is_an_error(text: str) -> None:
    tree = parse(text)
    for term in positive_terms(tree):
        assert term.tokens
        assert tokens(" ".join(term.tokens)) == list(term.tokens)  # already folded, lower case words


@given(st.text(max_size=60))
def test_fold_keeps_length(text: str) -> None:
    assert len(fold(text)) == len(text)


def test_fold_and_tokens() -> None:
    assert fold("Montréal, Québec") == "Montreal  Quebec"
    assert tokens("Montre\u0301al") == ["montreal"]  # decomposed accents compose first
    assert tokens("ÉMILE zola_2") == ["emile", "zola", "2"]
    assert tokens("İstanbul Łódź ß") == ["istanbul", "łodz", "ß"]  # no decomposition, no folding
    assert tokens(f"a{RESERVED_MARK}creator") == ["a", "creator"]
    assert normalise("e\u0301\x00") == "é "
    assert fold_key("  Zola,   Émile ") == "zola emile"
    assert fold_key("Émile Zola") == fold_key("emile ZOLA")


def test_positive_terms() -> None:
    assert positive_terms(None) == []
    assert positive_terms(parse("a -b (c OR -d) NOT (e f)")) == [t("a"), t("c")]
    assert positive_terms(parse("-a")) == []
