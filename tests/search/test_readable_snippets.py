"""Snippets carry no control characters, whichever backend made them: pdftotext's form feeds and the like
would show as boxes on a page and move the cursor in a terminal."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from strongroom.cli_search import _marked
from strongroom.search.base import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    SearchDocument,
    SearchHit,
    SearchQuery,
    readable_snippet,
)
from strongroom.search.sqlite_fts import SqliteSearchIndex
from strongroom.web.viewing_search import Segment, snippet_segments

CONTROLS = [chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if c != 0x0A]


def test_separators_become_one_space_and_other_controls_go() -> None:
    assert readable_snippet("end of page one\x0cpage two") == "end of page one page two"
    assert readable_snippet("a\tb\r\nc\x1ed\x85e") == "a b \nc d e"
    assert readable_snippet("bell\x07 and\x00 nul\x9b") == "bell and nul"
    assert readable_snippet("creator: «Smith», John\nSourceOrganization: Acme") == (
        "creator: «Smith», John\nSourceOrganization: Acme"  # line feeds part a record's fields: kept
    )
    assert readable_snippet("plain  text") == "plain  text"  # nothing to clean: left exactly as it was
    cleaned = readable_snippet("x".join(CONTROLS))
    assert not any(c in cleaned for c in CONTROLS), repr(cleaned)


def test_a_hit_cleans_its_own_snippet() -> None:
    hit = SearchHit(package="p", package_name="n", path=None, title=None, puid=None, format_name=None,
                    file_uuid=None, score=1.0, snippet="one\x0c«two»\x00three")  # fmt: skip
    assert hit.snippet == "one «two»three"
    assert SearchHit(package="p", package_name="n", path=None, title=None, puid=None, format_name=None,
                     file_uuid=None, score=1.0).snippet is None  # fmt: skip


def test_the_sqlite_backend_and_the_cli_and_the_page_show_no_control_characters(tmp_path: Path) -> None:
    text = "Minutes of the council\x0cPage 2\x0cThe harbour\x07 budget\x1b[31m was agreed\x9b"
    with SqliteSearchIndex(tmp_path / "search.sqlite") as index:
        index.index([SearchDocument(package="p", package_name="minutes", path="objects/m.txt", title=None,
                                    content=text)])  # fmt: skip
        (hit,) = index.search(SearchQuery(text="harbour")).hits
    assert hit.snippet is not None
    assert f"{HIGHLIGHT_START}harbour{HIGHLIGHT_END}" in hit.snippet
    assert not any(c in hit.snippet for c in CONTROLS), repr(hit.snippet)
    assert "Page 2 The" in hit.snippet  # a page break still parts the words either side

    console = Console(record=True, width=200, force_terminal=True)
    console.print(_marked(hit.snippet))
    assert "\x0c" not in console.export_text() and "\x07" not in console.export_text()

    segments = snippet_segments(hit.snippet)
    assert Segment("harbour", True) in segments
    assert not any(c in s.text for s in segments for c in CONTROLS)
    # A snippet not made by a SearchHit is cleaned too before it is cut into pieces.
    assert snippet_segments("a\x0c«b»\x00") == [Segment("a ", False), Segment("b", True)]
