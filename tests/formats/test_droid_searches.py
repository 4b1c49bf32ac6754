"""Searches: one file's searches made once for all its signatures, with the answers they would give anyway;
and the signature versions PREMIS names, kept in the compiled cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from strongroom.formats.droid import nearest
from strongroom.formats.droid.identifier import BUNDLED_CONTAINER, BUNDLED_SIGNATURES, DroidIdentifier
from strongroom.formats.droid.sequence import Fragment, match_internal_signature
from strongroom.formats.droid.syntax import Searches, SequencePattern, compile_sequence

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "sample-transfers"


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Record each search_forward actually run (first, last)."""
    calls: list[tuple[int, int]] = []
    original = SequencePattern.search_forward

    def counted(self: SequencePattern, data: Any, first: int, last: int) -> int:
        calls.append((first, last))
        return original(self, data, first, last)

    monkeypatch.setattr(SequencePattern, "search_forward", counted)
    return calls


def test_a_repeated_search_is_answered_from_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    data = b"xx" + b"AB?D" * 3 + b"ABCD" + b"yy"
    searches = Searches()
    pattern = compile_sequence("41 42 43 44")
    same = compile_sequence("'ABCD'")  # another object, the same bytes: the same search
    assert pattern is not same and pattern.key == same.key
    assert searches.search(pattern, data, 0, len(data), True) == 14
    assert searches.search(same, data, 0, len(data), True) == 14
    assert calls == [(0, len(data))]
    assert searches.search(pattern, data, 0, 13, True) == -1  # another window: searched
    assert searches.search(pattern, data, 0, 13, True) == -1
    assert calls == [(0, len(data)), (0, 13)]
    assert searches.search(pattern, data, len(data), 0, False) == 14  # backwards is another search
    assert searches.search(compile_sequence("41 42 3F 44"), data, 0, len(data), True) == 2
    assert len(calls) == 3


def test_fragment_starts_are_listed_once_per_window(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"..AB..AB....AB"
    fragment = Fragment(compile_sequence("4142"), 0, 0, 1)
    expected = nearest._starts(fragment, data, 0, len(data), 256)
    assert expected == [2, 6, 12]
    calls = _counting(monkeypatch)
    searches = Searches()
    assert nearest._starts(fragment, data, 0, len(data), 256, searches) == expected
    runs = len(calls)
    assert runs == 4  # three starts, then none
    other = Fragment(compile_sequence("4142"), 3, 9, 1)  # the same bytes in another signature
    assert nearest._starts(other, data, 0, len(data), 256, searches) == expected
    assert len(calls) == runs
    assert nearest._starts(fragment, data, 0, len(data), 2, searches) is None  # too many: a different answer
    assert nearest._starts(fragment, data, 3, len(data), 256, searches) == [6, 12]


def test_the_corpus_pdfs_match_the_same_with_searches_shared() -> None:
    """Every candidate signature of each PDF in the corpus (where PDF/A's signatures repeat their searches):
    the same answer with one Searches for the file as with none."""
    if not CORPUS.is_dir():
        pytest.skip("the shared sample corpus is not here")
    ident = DroidIdentifier(no_containers=True)
    binary = ident.compiled.binary
    pdfs = sorted(p for p in CORPUS.rglob("*.pdf") if p.is_file() and not p.is_symlink())
    assert pdfs
    shared = 0
    for path in pdfs:
        data = path.read_bytes()
        searches = Searches()
        for position in binary.candidates(data, None):
            signature = ident.signatures.signatures[position]
            alone = match_internal_signature(signature, data)
            assert match_internal_signature(signature, data, None, searches) == alone, (path, position)
        shared += len(searches.anchors)
    assert shared  # the searches were made through Searches


def test_the_versions_premis_names_come_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from strongroom.formats import signature_store

    first = DroidIdentifier(cache_dir=tmp_path / "cache")
    DroidIdentifier(cache_dir=tmp_path / "cache", no_containers=True)  # compiled (and cached) before the patch
    assert first.signature_version.startswith("DROID signature file V122 (")
    assert first.signature_version.endswith(f"container signature file 40 ({BUNDLED_CONTAINER.name})")

    def unread(path: Path) -> None:
        raise AssertionError(f"{path} was parsed although the cache holds its root element")

    monkeypatch.setattr(signature_store, "read_root", unread)
    again = DroidIdentifier(cache_dir=tmp_path / "cache")
    assert again.signature_version == first.signature_version
    alone = DroidIdentifier(cache_dir=tmp_path / "cache", no_containers=True)
    assert alone.signature_version == first.signature_version.split(";")[0]
    assert BUNDLED_SIGNATURES.is_file()
