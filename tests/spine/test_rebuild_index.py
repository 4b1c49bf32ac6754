"""`strongroom rebuild`'s new search index against writes made while it fills: nothing it read before a change
stays live after the swap, above all a record closed in the meantime."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.archive import Archive
from strongroom.errors import SearchError
from strongroom.model import AccessStatus, PackageSummary
from strongroom.search.base import Role, SearchDocument, SearchQuery
from tests.conftest import Home, write


def _ingest(home: Home, tmp_path: Path, name: str, words: str) -> str:
    write(tmp_path / name / "objects" / "letter.txt", f"{words}\n")
    write(tmp_path / name / "metadata" / "metadata.csv", f'filename,dc.title\nobjects/letter.txt,"{words}"\n')
    package = home.ingest(tmp_path / name)["package"]
    assert isinstance(package, str)
    return package


def _found(archive: Archive, words: str, viewer: Role) -> set[str]:
    hits = archive.search(SearchQuery(text=words, viewer=viewer, kind="file")).hits
    return {hit.package for hit in hits}


def test_a_record_closed_while_the_index_fills_stays_closed_after_the_swap(home: Home, tmp_path: Path) -> None:
    first = _ingest(home, tmp_path, "first", "harbour dredging")
    second = _ingest(home, tmp_path, "second", "lighthouse keeper")
    with home.archive() as archive:
        read = archive.search_documents_of
        closed: list[str] = []

        def reading(summary: PackageSummary) -> Iterator[SearchDocument]:
            documents = list(read(summary))  # this package as the new index will hold it
            if summary.uuid == first and not closed:
                closed.append(first)
                # Another process closes the record now; it re-indexes the live (old) index only.
                archive.set_access(first, "objects/letter.txt", AccessStatus.CLOSED, "personal data", None, "tester")
            return iter(documents)

        archive.search_documents_of = reading  # type: ignore[method-assign]
        report = archive.rebuild()
        archive.search_documents_of = read  # type: ignore[method-assign]
        assert closed == [first]
        assert report.indexed == 2
        assert _found(archive, "harbour", Role.RESEARCHER) == set()
        assert _found(archive, "harbour", Role.ARCHIVIST) == {first}
        assert _found(archive, "lighthouse", Role.RESEARCHER) == {second}
        assert archive.catalog.unindexed() == []


def test_a_rebuild_whose_new_index_cannot_be_dropped_says_why_it_stopped(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _ingest(home, tmp_path, "first", "harbour dredging")
    with home.archive() as archive:
        real_start = archive.search_index.start_rebuild

        class Failing:
            """A rebuild whose index refuses documents and whose abandon fails too (the server went away)."""

            def __init__(self) -> None:
                self.inner = real_start()

            def index(self, documents: object) -> int:
                raise SearchError("the new index refused the documents")

            def finish(self) -> None:
                raise AssertionError("never reached")

            def abandon(self) -> None:
                self.inner.abandon()
                raise SearchError("could not delete the new index either")

        monkeypatch.setattr(archive.search_index, "start_rebuild", Failing)
        report = archive.rebuild()  # the live index caught up package by package instead
        assert report.indexed == 1
        assert _found(archive, "harbour", Role.RESEARCHER) == {package}


def test_closing_a_record_the_index_cannot_take_is_an_error_not_silence(home: Home, tmp_path: Path) -> None:
    package = _ingest(home, tmp_path, "first", "harbour dredging")
    with home.archive() as archive:

        def unreachable(documents: object) -> int:
            raise SearchError("no answer from the search server")

        archive.search_index.index = unreachable  # type: ignore[method-assign]
        with pytest.raises(SearchError, match="now closed") as caught:
            archive.set_access(package, "objects/letter.txt", AccessStatus.CLOSED, "personal data", None, "tester")
        assert "no answer from the search server" in str(caught.value)
        assert "strongroom rebuild" in " ".join(caught.value.details)
        # The closure itself stands, and the package waits for the index to catch up.
        rules = archive.catalog.access_rules(package)
        assert [(rule.path, rule.status) for rule in rules] == [("objects/letter.txt", AccessStatus.CLOSED)]
        assert package in archive.catalog.unindexed()
        del archive.search_index.index  # the server is back
        assert archive.catch_up_index() == 1
        assert _found(archive, "harbour", Role.RESEARCHER) == set()
