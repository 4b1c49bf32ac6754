"""The SearchIndex conformance suite.

A backend's test module subclasses `SearchContract` and provides a `search_index`
fixture yielding a fresh, empty index; documents must be searchable as soon as
index() returns (a backend with refresh intervals refreshes before returning).
"""

from __future__ import annotations

from typing import Any

import pytest

from strongroom.errors import SearchError
from strongroom.search.base import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    FacetCount,
    SearchDocument,
    SearchIndex,
    SearchQuery,
    SearchResults,
)

MINUTES = "6f1c1e2a-0000-4000-8000-000000000001"
SURVEY = "6f1c1e2a-0000-4000-8000-000000000002"

PDF = ("fmt/276", "Acrobat PDF 1.7 - Portable Document Format")
TIFF = ("fmt/353", "Tagged Image File Format")
TEXT = ("x-fmt/111", "Plain Text File")


def package_doc(package: str, name: str, title: str, text: str) -> SearchDocument:
    return SearchDocument(package=package, package_name=name, path=None, title=title, text=text)


def file_doc(
    package: str, name: str, path: str, title: str, text: str, fmt: tuple[str, str], uuid: str
) -> SearchDocument:
    return SearchDocument(
        package=package,
        package_name=name,
        path=path,
        title=title,
        text=text,
        puid=fmt[0],
        format_name=fmt[1],
        file_uuid=uuid,
    )


DOCUMENTS = (
    package_doc(MINUTES, "council-minutes", "Council minutes of Montréal", "Records of the city council 1999-2000"),
    file_doc(
        MINUTES, "council-minutes", "objects/minutes/1999.pdf", "1999.pdf", "budget discussion and vote", PDF, "f-1"
    ),
    file_doc(MINUTES, "council-minutes", "objects/minutes/2000.pdf", "2000.pdf", "harbour dredging", PDF, "f-2"),
    file_doc(
        MINUTES,
        "council-minutes",
        "objects/photos/harbour_view-01.tif",
        "Harbour view",
        "harbour photograph taken from the pier",
        TIFF,
        "f-3",
    ),
    package_doc(SURVEY, "survey-notes", "Survey notes", "Field survey of the coast"),
    file_doc(
        SURVEY,
        "survey-notes",
        "objects/notes/field notes.txt",
        "field notes.txt",
        "measurements taken at the harbour mouth",
        TEXT,
        "f-4",
    ),
    file_doc(SURVEY, "survey-notes", "objects/notes/map.pdf", "map.pdf", "coastline map, Québec", PDF, "f-5"),
)

HOSTILE_QUERIES = (
    '"',
    '""',
    '"unbalanced',
    "AND",
    "OR",
    "NOT",
    "harbour AND",
    "AND harbour",
    "NOT harbour",
    "(",
    ")",
    "(harbour",
    "-foo",
    "-harbour",
    "a:b",
    "title:council",
    "*",
    "**",
    "*harbour",
    "harb**",
    "NEAR(harbour pier)",
    "harbour NEAR pier",
    "^harbour",
    "{title path}: harbour",
    "' OR 1=1 --",
    "\\",
    "%_",
    "nul\x00byte",
    "+",
    "≠",
    "🗄️",
)


class SearchContract:
    """Tests every SearchIndex must pass. Subclasses provide the `search_index` fixture."""

    @pytest.fixture
    def loaded(self, search_index: SearchIndex) -> SearchIndex:
        assert search_index.index(DOCUMENTS) == len(DOCUMENTS)
        return search_index

    def paths(self, results: SearchResults) -> list[str | None]:
        return [hit.path for hit in results.hits]

    def find(self, index: SearchIndex, text: str, **options: Any) -> SearchResults:
        return index.search(SearchQuery(text=text, **options))

    # --- finding ----------------------------------------------------------------------

    def test_is_a_search_index(self, search_index: SearchIndex) -> None:
        assert isinstance(search_index, SearchIndex)
        assert search_index.name

    def test_empty_index_finds_nothing(self, search_index: SearchIndex) -> None:
        results = self.find(search_index, "harbour")

        assert results.total == 0
        assert results.hits == ()
        assert search_index.packages() == set()

    def test_finds_a_package_by_a_title_word(self, loaded: SearchIndex) -> None:
        results = self.find(loaded, "council")

        assert results.total >= 1
        first = results.hits[0]
        assert (first.package, first.path, first.title) == (MINUTES, None, "Council minutes of Montréal")
        assert first.package_name == "council-minutes"

    def test_finds_a_file_by_a_folder_name_in_its_path(self, loaded: SearchIndex) -> None:
        results = self.find(loaded, "minutes", kind="file")

        # Every file of the council-minutes package matches by its package name; the two
        # in the minutes folder match by path as well and come first.
        assert set(self.paths(results)[:2]) == {"objects/minutes/1999.pdf", "objects/minutes/2000.pdf"}
        assert results.total == 3

    def test_finds_a_file_by_a_fragment_of_its_name(self, loaded: SearchIndex) -> None:
        assert self.paths(self.find(loaded, "harbour_view")) == ["objects/photos/harbour_view-01.tif"]
        assert self.paths(self.find(loaded, "1999.pdf")) == ["objects/minutes/1999.pdf"]
        assert self.paths(self.find(loaded, "view")) == ["objects/photos/harbour_view-01.tif"]

    def test_finds_by_format_name(self, loaded: SearchIndex) -> None:
        results = self.find(loaded, "tagged image")

        assert self.paths(results) == ["objects/photos/harbour_view-01.tif"]

    def test_finds_by_text(self, loaded: SearchIndex) -> None:
        assert self.paths(self.find(loaded, "dredging")) == ["objects/minutes/2000.pdf"]

    def test_all_words_must_match(self, loaded: SearchIndex) -> None:
        assert self.paths(self.find(loaded, "harbour photograph")) == ["objects/photos/harbour_view-01.tif"]
        assert self.paths(self.find(loaded, "harbour measurements")) == ["objects/notes/field notes.txt"]
        assert self.find(loaded, "harbour nonexistentword").total == 0

    @pytest.mark.parametrize("query", ["Montreal", "montreal", "MONTRÉAL", "Montre\u0301al"])
    def test_diacritics_and_case_do_not_matter(self, loaded: SearchIndex, query: str) -> None:
        results = self.find(loaded, query)

        assert [(hit.package, hit.path) for hit in results.hits] == [(MINUTES, None)]

    def test_accented_query_finds_plain_text(self, loaded: SearchIndex) -> None:
        assert self.paths(self.find(loaded, "québec")) == ["objects/notes/map.pdf"]
        assert self.paths(self.find(loaded, "quebec")) == ["objects/notes/map.pdf"]

    def test_prefix_search(self, loaded: SearchIndex) -> None:
        results = self.find(loaded, "minu*")

        assert results.total == 4  # every document of the package named council-minutes
        assert {hit.package for hit in results.hits} == {MINUTES}
        assert "objects/minutes/1999.pdf" in self.paths(results)
        assert self.find(loaded, "harb* pier").total == 1

    def test_a_star_inside_a_word_is_not_a_wildcard(self, loaded: SearchIndex) -> None:
        assert self.find(loaded, "ha*bour").total == 0

    @pytest.mark.parametrize("query", HOSTILE_QUERIES)
    def test_hostile_queries_never_raise(self, loaded: SearchIndex, query: str) -> None:
        results = self.find(loaded, query, facets=("puid", "package"))

        assert results.total >= 0
        assert len(results.hits) <= results.total

    def test_operator_words_are_plain_words(self, loaded: SearchIndex) -> None:
        # "NOT harbour" is two words that must both appear, not an exclusion.
        assert self.find(loaded, "NOT harbour").total == 0
        assert self.find(loaded, "-harbour").total == self.find(loaded, "harbour").total
        assert self.find(loaded, "(harbour)").total == self.find(loaded, "harbour").total

    def test_quoted_words_match_as_words(self, loaded: SearchIndex) -> None:
        assert self.paths(self.find(loaded, '"dredging"')) == ["objects/minutes/2000.pdf"]

    # --- empty queries, filters, facets -------------------------------------------------

    def test_empty_query_lists_everything(self, loaded: SearchIndex) -> None:
        results = self.find(loaded, "", limit=100)

        assert results.total == len(DOCUMENTS)
        assert {(hit.package, hit.path) for hit in results.hits} == {(d.package, d.path) for d in DOCUMENTS}

    def test_filter_by_puid(self, loaded: SearchIndex) -> None:
        results = self.find(loaded, "", puid="fmt/276")

        assert results.total == 3
        assert {hit.puid for hit in results.hits} == {"fmt/276"}
        assert self.paths(self.find(loaded, "harbour", puid="fmt/276")) == ["objects/minutes/2000.pdf"]

    def test_filter_by_package(self, loaded: SearchIndex) -> None:
        results = self.find(loaded, "harbour", package=SURVEY)

        assert self.paths(results) == ["objects/notes/field notes.txt"]
        assert self.find(loaded, "", package=MINUTES).total == 4

    def test_filter_by_kind(self, loaded: SearchIndex) -> None:
        packages = self.find(loaded, "", kind="package")
        files = self.find(loaded, "", kind="file", limit=100)

        assert packages.total == 2
        assert {hit.path for hit in packages.hits} == {None}
        assert files.total == 5
        assert None not in self.paths(files)

    def test_filters_combine(self, loaded: SearchIndex) -> None:
        assert self.find(loaded, "", puid="fmt/276", package=SURVEY, kind="file").total == 1
        assert self.find(loaded, "", puid="fmt/276", kind="package").total == 0

    def test_facets_count_every_match_not_only_the_page(self, loaded: SearchIndex) -> None:
        results = self.find(loaded, "", facets=("puid", "package"), limit=1)

        assert len(results.hits) == 1
        assert results.facets["puid"] == (
            FacetCount("fmt/276", 3),
            FacetCount("fmt/353", 1),
            FacetCount("x-fmt/111", 1),
        )
        assert results.facets["package"] == (FacetCount(MINUTES, 4), FacetCount(SURVEY, 3))

    def test_facets_follow_the_query_and_filters(self, loaded: SearchIndex) -> None:
        results = self.find(loaded, "harbour", facets=("puid",), kind="file")

        assert results.total == 3
        assert results.facets == {
            "puid": (FacetCount("fmt/276", 1), FacetCount("fmt/353", 1), FacetCount("x-fmt/111", 1))
        }

    def test_no_facets_unless_asked(self, loaded: SearchIndex) -> None:
        assert self.find(loaded, "harbour").facets == {}

    def test_hit_fields_round_trip(self, loaded: SearchIndex) -> None:
        (hit,) = self.find(loaded, "dredging").hits

        assert hit.package == MINUTES
        assert hit.package_name == "council-minutes"
        assert hit.path == "objects/minutes/2000.pdf"
        assert hit.title == "2000.pdf"
        assert (hit.puid, hit.format_name) == PDF
        assert hit.file_uuid == "f-2"

    def test_snippet_marks_the_matched_word(self, loaded: SearchIndex) -> None:
        (hit,) = self.find(loaded, "budget").hits

        assert hit.snippet is not None
        assert f"{HIGHLIGHT_START}budget{HIGHLIGHT_END}" in hit.snippet

    def test_results_are_ranked_best_first(self, loaded: SearchIndex) -> None:
        results = self.find(loaded, "harbour")
        scores = [hit.score for hit in results.hits]

        assert scores == sorted(scores, reverse=True)
        # Named "Harbour view", and harbour in its path and text: clearly the best match.
        assert results.hits[0].path == "objects/photos/harbour_view-01.tif"

    # --- paging -----------------------------------------------------------------------

    def test_paging_covers_every_match_once(self, loaded: SearchIndex) -> None:
        seen: list[tuple[str, str | None]] = []
        for offset in range(0, 10, 2):
            page = self.find(loaded, "", offset=offset, limit=2)
            assert page.total == len(DOCUMENTS)
            assert len(page.hits) <= 2
            seen.extend((hit.package, hit.path) for hit in page.hits)

        assert len(seen) == len(DOCUMENTS)
        assert set(seen) == {(d.package, d.path) for d in DOCUMENTS}

    def test_paging_a_ranked_query(self, loaded: SearchIndex) -> None:
        everything = self.find(loaded, "harbour", limit=100)
        pages = [self.find(loaded, "harbour", offset=offset, limit=1) for offset in range(everything.total)]

        assert [page.hits[0].path for page in pages] == self.paths(everything)
        assert {page.total for page in pages} == {everything.total}

    def test_limit_zero_counts_without_hits(self, loaded: SearchIndex) -> None:
        results = self.find(loaded, "harbour", limit=0, facets=("package",))

        assert results.hits == ()
        assert results.total == 3
        assert results.facets["package"] == (FacetCount(MINUTES, 2), FacetCount(SURVEY, 1))

    def test_offset_past_the_end(self, loaded: SearchIndex) -> None:
        results = self.find(loaded, "harbour", offset=100)

        assert results.hits == ()
        assert results.total == 3

    @pytest.mark.parametrize(
        "query",
        [
            SearchQuery(text="harbour", limit=-1),
            SearchQuery(text="harbour", offset=-1),
            SearchQuery(text="harbour", facets=("colour",)),
            SearchQuery(text="harbour", kind="folder"),
        ],
    )
    def test_impossible_queries_raise_search_error(self, loaded: SearchIndex, query: SearchQuery) -> None:
        with pytest.raises(SearchError):
            loaded.search(query)

    # --- changing the index -----------------------------------------------------------

    def test_reindexing_replaces_documents(self, loaded: SearchIndex) -> None:
        changed = file_doc(
            MINUTES, "council-minutes", "objects/minutes/2000.pdf", "2000.pdf", "ferry timetable", TEXT, "f-2"
        )

        assert loaded.index([changed]) == 1

        assert self.find(loaded, "dredging").total == 0
        (hit,) = self.find(loaded, "ferry").hits
        assert hit.puid == "x-fmt/111"
        assert self.find(loaded, "").total == len(DOCUMENTS)
        assert self.find(loaded, "", puid="fmt/276").total == 2

    def test_reindexing_a_package_document_replaces_it(self, loaded: SearchIndex) -> None:
        loaded.index([package_doc(SURVEY, "survey-notes", "Coastal survey", "renamed")])

        assert self.find(loaded, "", kind="package").total == 2
        assert self.find(loaded, "renamed").hits[0].title == "Coastal survey"

    def test_the_same_path_in_two_packages_is_two_documents(self, loaded: SearchIndex) -> None:
        loaded.index([file_doc(SURVEY, "survey-notes", "objects/minutes/1999.pdf", "1999.pdf", "copy", PDF, "f-9")])

        assert self.find(loaded, "1999.pdf").total == 2

    def test_index_accepts_a_generator(self, search_index: SearchIndex) -> None:
        assert search_index.index(doc for doc in DOCUMENTS) == len(DOCUMENTS)
        assert search_index.index([]) == 0
        assert self.find(search_index, "").total == len(DOCUMENTS)

    def test_many_documents(self, search_index: SearchIndex) -> None:
        docs = [
            file_doc(SURVEY, "survey-notes", f"objects/bulk/{n:04}.txt", f"{n:04}.txt", f"word{n % 7}", TEXT, f"b{n}")
            for n in range(1200)
        ]

        assert search_index.index(docs) == 1200
        assert self.find(search_index, "word3").total == len([n for n in range(1200) if n % 7 == 3])
        assert self.find(search_index, "", limit=0).total == 1200

    def test_delete_package(self, loaded: SearchIndex) -> None:
        loaded.delete_package(MINUTES)

        assert loaded.packages() == {SURVEY}
        assert self.find(loaded, "council").total == 0
        assert self.find(loaded, "").total == 3
        loaded.delete_package("no-such-package")  # nothing to do, no error

    def test_packages(self, loaded: SearchIndex) -> None:
        assert loaded.packages() == {MINUTES, SURVEY}

    def test_clear(self, loaded: SearchIndex) -> None:
        loaded.clear()

        assert loaded.packages() == set()
        assert self.find(loaded, "").total == 0
        assert self.find(loaded, "harbour").total == 0
        assert loaded.index(DOCUMENTS[:2]) == 2
        assert self.find(loaded, "budget").total == 1
