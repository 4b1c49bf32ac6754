"""The SearchIndex conformance suite.

A backend's test module subclasses `SearchContract` and provides a `search_index`
fixture yielding a fresh, empty index; documents must be searchable as soon as
index() returns (a backend with refresh intervals refreshes before returning).

Access control is probed the way a curious reader would: a closed document must not
show as a hit, in a total, in any facet count or in a snippet. What a viewer may see is
written out here (`sees`, `access_on`) from the words of the contract, so no backend
grades its own answers.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, cast

import pytest

from strongroom.errors import SearchError
from strongroom.model import AccessStatus
from strongroom.search.base import (
    ALL_ROLES,
    FACETS,
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    FacetCount,
    Role,
    SearchDocument,
    SearchIndex,
    SearchQuery,
    SearchResults,
    role_named,
)

OPEN, CLOSED = AccessStatus.OPEN, AccessStatus.CLOSED

MINUTES = "6f1c1e2a-0000-4000-8000-000000000001"
SURVEY = "6f1c1e2a-0000-4000-8000-000000000002"
CASES = "6f1c1e2a-0000-4000-8000-000000000003"  # open and closed documents side by side
SEALED = "6f1c1e2a-0000-4000-8000-000000000004"  # every document closed

PDF = ("fmt/276", "Acrobat PDF 1.7 - Portable Document Format")
TIFF = ("fmt/353", "Tagged Image File Format")
TEXT = ("x-fmt/111", "Plain Text File")
WORD = ("fmt/412", "Microsoft Word for Windows")  # only ever on a closed document

HOSTILE = "hello? sausage/êé/Hello, 世界/ \" ' @ < > & ? + ≠/z.txt"

# Queries in the access tests name their day, so opening dates do not depend on the clock.
TODAY = dt.date(2030, 6, 15)
YESTERDAY = TODAY - dt.timedelta(days=1)
TOMORROW = TODAY + dt.timedelta(days=1)

SECRET = "zephyrquill"  # only in one closed document's content and Dublin Core
SHARED = "inquiry"  # in every document of CASES and SEALED, open or closed

Key = tuple[str, str | None]


def package_doc(
    package: str, name: str, title: str, dublin_core: dict[str, tuple[str, ...]] | None = None, **fields: Any
) -> SearchDocument:
    return SearchDocument(
        package=package, package_name=name, path=None, title=title, dublin_core=dublin_core or {}, **fields
    )


def file_doc(
    package: str, name: str, path: str, title: str | None, content: str, fmt: tuple[str, str], uuid: str, **fields: Any
) -> SearchDocument:
    return SearchDocument(
        package=package,
        package_name=name,
        path=path,
        title=title,
        name=path.rsplit("/", 1)[-1],
        content=content,
        puid=fmt[0],
        format_name=fmt[1],
        file_uuid=uuid,
        **fields,
    )


DOCUMENTS = (
    package_doc(
        MINUTES, "council-minutes", "Council minutes of Montréal",
        {"title": ("Council minutes of Montréal",), "description": ("Records of the city council 1999-2000",),
         "date": ("2000-12-31",)},
        date=dt.date(2000, 12, 31), version=3,
    ),
    file_doc(
        MINUTES, "council-minutes", "objects/minutes/1999.pdf", "1999.pdf", "budget discussion and vote", PDF, "f-1"
    ),
    file_doc(
        MINUTES, "council-minutes", "objects/minutes/2000.pdf", "2000.pdf", "harbour dredging", PDF, "f-2",
        version=2, date=dt.date(2000, 6, 1),
    ),
    file_doc(
        MINUTES, "council-minutes", "objects/photos/harbour_view-01.tif", "Harbour view",
        "harbour photograph taken from the pier", TIFF, "f-3",
        dublin_core={"creator": ("Port photographer", "Studio Lemieux")},
    ),
    package_doc(SURVEY, "survey-notes", "Survey notes", {"description": ("Field survey of the coast",)}),
    file_doc(
        SURVEY, "survey-notes", "objects/notes/field notes.txt", "field notes.txt",
        "measurements taken at the harbour mouth", TEXT, "f-4",
    ),
    file_doc(
        SURVEY, "survey-notes", "objects/notes/map.pdf", "map.pdf", "coastline map", PDF, "f-5",
        dublin_core={"coverage": ("Québec",)},
    ),
)  # fmt: skip

GUARDED = (
    package_doc(CASES, "case-files", "Case files of the harbour board", {"subject": ("Public inquiry",)}),
    file_doc(CASES, "case-files", "objects/cases/report.pdf", "Report", "the inquiry report, published", PDF, "g-1"),
    file_doc(
        CASES, "case-files", "objects/cases/witness statement.docx", "Witness statement",
        f"inquiry witness statement naming {SECRET}", WORD, "g-2",
        dublin_core={"description": (f"Statement by {SECRET}",)}, access=CLOSED,
    ),
    file_doc(
        CASES, "case-files", "objects/cases/evidence.pdf", "Evidence", "inquiry evidence", PDF, "g-3",
        access=CLOSED, opening_date=YESTERDAY,
    ),
    file_doc(
        CASES, "case-files", "objects/cases/exhibits.pdf", "Exhibits", "inquiry exhibits", PDF, "g-4",
        access=CLOSED, opening_date=TODAY,
    ),
    file_doc(
        CASES, "case-files", "objects/cases/transcript.tif", "Transcript", "inquiry transcript", TIFF, "g-5",
        access=CLOSED, opening_date=TOMORROW,
    ),
    package_doc(SEALED, "sealed-papers", "Sealed papers", {"subject": ("Inquiry correspondence",)}, access=CLOSED),
    file_doc(
        SEALED, "sealed-papers", "objects/letters/letter.txt", "Letter", "inquiry letter", TEXT, "g-6", access=CLOSED
    ),
)  # fmt: skip

# The package's own files beside its records: found only when a query names their roles.
HOUSEKEEPING = (
    file_doc(
        MINUTES, "council-minutes", f"METS.{MINUTES}.xml", f"METS.{MINUTES}.xml", "harbour council mets premis",
        ("fmt/101", "Extensible Markup Language"), "h-1", role="metadata",
    ),
    file_doc(
        MINUTES, "council-minutes", "metadata/metadata.csv", "metadata.csv", "filename,dc.title harbour council",
        TEXT, "h-2", role="metadata",
    ),
    file_doc(
        MINUTES, "council-minutes", "metadata/submissionDocumentation/deed.pdf", "deed.pdf", "harbour deed of gift",
        PDF, "h-3", role="submissionDocumentation",
    ),
    file_doc(MINUTES, "council-minutes", "logs/ingest.log", "ingest.log", "harbour log", TEXT, "h-4", role="log"),
    file_doc(
        MINUTES, "council-minutes", "objects/minutes/notes.txt", "notes.txt", "harbour notes", TEXT, "h-5",
        role="original",
    ),
)  # fmt: skip

HOSTILE_QUERIES = (
    '"', '""', '"unbalanced', "AND", "OR", "NOT", "harbour AND", "AND harbour", "NOT harbour", "(", ")",
    "(harbour", "-foo", "-harbour", "a:b", "title:council", "*", "**", "*harbour", "harb**",
    "NEAR(harbour pier)", "harbour NEAR pier", "^harbour", "{title path}: harbour", "' OR 1=1 --", "\\", "%_",
    "nul\x00byte", "+", "≠", "🗄️", HOSTILE, f"{SECRET} OR 1=1", f"{SECRET}*",
)  # fmt: skip


def access_on(document: SearchDocument, day: dt.date) -> AccessStatus:
    """A document's status on `day`: a closed one counts as open from its opening date on."""
    opened = document.opening_date is not None and document.opening_date <= day
    return OPEN if document.access is OPEN or opened else CLOSED


def sees(viewer: Role, document: SearchDocument, day: dt.date) -> bool:
    return viewer.sees_closed or access_on(document, day) is OPEN


def key(document: SearchDocument) -> Key:
    return (document.package, document.path)


def counts(values: Iterable[str | None]) -> dict[str, int]:
    return dict(Counter(value for value in values if value is not None))


class SearchContract:
    """Tests every SearchIndex must pass. Subclasses provide the `search_index` fixture."""

    @pytest.fixture
    def loaded(self, search_index: SearchIndex) -> SearchIndex:
        assert search_index.index(DOCUMENTS) == len(DOCUMENTS)
        return search_index

    @pytest.fixture
    def guarded(self, search_index: SearchIndex) -> SearchIndex:
        """The open documents of `loaded`, and beside them documents with every kind of access."""
        assert search_index.index([*DOCUMENTS, *GUARDED]) == len(DOCUMENTS) + len(GUARDED)
        return search_index

    def paths(self, results: SearchResults) -> list[str | None]:
        return [hit.path for hit in results.hits]

    def keys(self, results: SearchResults) -> set[Key]:
        return {(hit.package, hit.path) for hit in results.hits}

    def find(self, index: SearchIndex, text: str, **options: Any) -> SearchResults:
        return index.search(SearchQuery(text=text, **options))

    def facet_counts(self, results: SearchResults) -> dict[str, dict[str, int]]:
        return {name: {f.value: f.count for f in counted} for name, counted in results.facets.items()}

    # --- finding ----------------------------------------------------------------------

    def test_is_a_search_index(self, search_index: SearchIndex) -> None:
        assert isinstance(search_index, SearchIndex)
        assert search_index.name

    def test_empty_index_finds_nothing(self, search_index: SearchIndex) -> None:
        results = self.find(search_index, "harbour", facets=FACETS)

        assert results.total == 0
        assert results.hits == ()
        assert results.facets == {facet: () for facet in FACETS}
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

    def test_finds_by_format_name_and_puid(self, loaded: SearchIndex) -> None:
        assert self.paths(self.find(loaded, "tagged image")) == ["objects/photos/harbour_view-01.tif"]
        assert self.paths(self.find(loaded, "fmt/353")) == ["objects/photos/harbour_view-01.tif"]

    def test_finds_by_content(self, loaded: SearchIndex) -> None:
        assert self.paths(self.find(loaded, "dredging")) == ["objects/minutes/2000.pdf"]

    def test_finds_by_dublin_core_values(self, loaded: SearchIndex) -> None:
        assert self.paths(self.find(loaded, "photographer")) == ["objects/photos/harbour_view-01.tif"]
        assert self.paths(self.find(loaded, "lemieux studio")) == ["objects/photos/harbour_view-01.tif"]
        assert self.keys(self.find(loaded, "coast")) == {(SURVEY, None)}

    def test_dublin_core_element_names_are_not_words_of_a_record(self, loaded: SearchIndex) -> None:
        # Every record with a creator would match otherwise.
        assert self.find(loaded, "creator").total == 0
        assert self.find(loaded, "coverage").total == 0

    def test_all_words_must_match(self, loaded: SearchIndex) -> None:
        assert self.paths(self.find(loaded, "harbour photograph")) == ["objects/photos/harbour_view-01.tif"]
        assert self.paths(self.find(loaded, "harbour measurements")) == ["objects/notes/field notes.txt"]
        assert self.paths(self.find(loaded, "photographer pier")) == ["objects/photos/harbour_view-01.tif"]
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
        assert self.paths(self.find(loaded, "photograph*")) == ["objects/photos/harbour_view-01.tif"]

    def test_a_star_inside_a_word_is_not_a_wildcard(self, loaded: SearchIndex) -> None:
        assert self.find(loaded, "ha*bour").total == 0

    @pytest.mark.parametrize("query", HOSTILE_QUERIES)
    def test_hostile_queries_never_raise(self, guarded: SearchIndex, query: str) -> None:
        for viewer in Role:
            results = self.find(guarded, query, viewer=viewer, facets=FACETS, today=TODAY)

            assert results.total >= 0
            assert len(results.hits) <= results.total
            if not viewer.sees_closed:
                assert not {key(doc) for doc in GUARDED if not sees(viewer, doc, TODAY)} & self.keys(results)

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
        assert self.keys(results) == {key(d) for d in DOCUMENTS}

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
        assert self.find(loaded, "", puid="fmt/276", access=OPEN, kind="file").total == 3

    def test_facets_count_every_match_not_only_the_page(self, loaded: SearchIndex) -> None:
        results = self.find(loaded, "", facets=FACETS, limit=1)

        assert len(results.hits) == 1
        assert results.facets["puid"] == (
            FacetCount("fmt/276", 3),
            FacetCount("fmt/353", 1),
            FacetCount("x-fmt/111", 1),
        )
        assert results.facets["package"] == (FacetCount(MINUTES, 4), FacetCount(SURVEY, 3))
        assert results.facets["format"] == (
            FacetCount(PDF[1], 3),
            FacetCount(TEXT[1], 1),
            FacetCount(TIFF[1], 1),
        )
        assert results.facets["access"] == (FacetCount("open", len(DOCUMENTS)),)

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
        assert hit.name == "2000.pdf"
        assert (hit.puid, hit.format_name) == PDF
        assert hit.file_uuid == "f-2"
        assert hit.version == 2
        assert hit.date == dt.date(2000, 6, 1)
        assert (hit.access, hit.opening_date) == (OPEN, None)
        assert dict(hit.dublin_core) == {}

    def test_package_hit_fields_round_trip(self, loaded: SearchIndex) -> None:
        (hit,) = self.find(loaded, "montreal").hits

        assert (hit.path, hit.name, hit.puid, hit.format_name, hit.file_uuid) == (None, None, None, None, None)
        assert hit.version == 3
        assert hit.date == dt.date(2000, 12, 31)
        assert dict(hit.dublin_core) == dict(DOCUMENTS[0].dublin_core)

    def test_dublin_core_round_trips_with_every_value_in_order(self, loaded: SearchIndex) -> None:
        (hit,) = self.find(loaded, "photographer").hits

        assert dict(hit.dublin_core) == {"creator": ("Port photographer", "Studio Lemieux")}

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

    def test_title_and_name_outweigh_dublin_core_which_outweighs_content(self, search_index: SearchIndex) -> None:
        def doc(path: str, title: str | None = None, **fields: Any) -> SearchDocument:
            return SearchDocument(package=SURVEY, package_name="survey-notes", path=path, title=title, **fields)

        search_index.index(
            [
                doc("objects/c.txt", content="the old lighthouse"),
                doc("objects/b.txt", dublin_core={"subject": ("the old lighthouse",)}),
                doc("objects/lighthouse.txt", name="lighthouse.txt"),
                doc("objects/a.txt", title="The old lighthouse"),
            ]
        )
        paths = self.paths(self.find(search_index, "lighthouse"))

        assert set(paths[:2]) == {"objects/a.txt", "objects/lighthouse.txt"}
        assert paths[2:] == ["objects/b.txt", "objects/c.txt"]

    # --- who sees what ------------------------------------------------------------------

    @pytest.mark.parametrize("viewer", [Role.RESEARCHER, role_named("nonsense"), role_named(None)])
    def test_a_closed_document_counts_nowhere_for_a_researcher(self, guarded: SearchIndex, viewer: Role) -> None:
        for today in (TODAY, None):
            results = self.find(guarded, SECRET, viewer=viewer, facets=FACETS, today=today)

            assert results.total == 0
            assert results.hits == ()
            assert results.facets == {facet: () for facet in FACETS}
        assert self.find(guarded, SECRET, viewer=viewer, limit=0).total == 0

    def test_the_default_viewer_is_a_researcher(self, guarded: SearchIndex) -> None:
        assert SearchQuery(text=SECRET).viewer is Role.RESEARCHER
        assert guarded.search(SearchQuery(text=SECRET, facets=FACETS)) == SearchResults(
            total=0, hits=(), facets={facet: () for facet in FACETS}
        )

    def test_role_names(self) -> None:
        assert role_named("nonsense") is Role.RESEARCHER
        assert role_named(None) is Role.RESEARCHER
        assert role_named("") is Role.RESEARCHER
        assert role_named("admin; DROP TABLE documents") is Role.RESEARCHER
        assert role_named(" Archivist ") is Role.ARCHIVIST
        assert role_named("ADMIN") is Role.ADMIN
        assert not Role.RESEARCHER.sees_closed
        assert Role.ARCHIVIST.sees_closed and Role.ADMIN.sees_closed

    def test_a_shared_word_counts_only_what_the_researcher_may_see(self, guarded: SearchIndex) -> None:
        results = self.find(guarded, SHARED, today=TODAY, facets=FACETS, limit=100)

        visible = [d for d in GUARDED if sees(Role.RESEARCHER, d, TODAY)]
        assert {key(d) for d in visible} == {
            (CASES, None),
            (CASES, "objects/cases/report.pdf"),
            (CASES, "objects/cases/evidence.pdf"),
            (CASES, "objects/cases/exhibits.pdf"),
        }
        assert results.total == len(visible)
        assert self.keys(results) == {key(d) for d in visible}
        assert results.facets == {
            "package": (FacetCount(CASES, 4),),
            "puid": (FacetCount("fmt/276", 3),),
            "format": (FacetCount(PDF[1], 3),),
            "access": (FacetCount("open", 4),),
            "validity": (),  # none of these documents was characterised
        }
        for hit in results.hits:
            assert SECRET not in (hit.snippet or "").lower()
            assert SECRET not in repr(hit).lower()

    @pytest.mark.parametrize(
        "text", ["witness", "statement docx", "microsoft word", "fmt/412", "sealed", "letter", "correspondence"]
    )
    def test_no_word_of_a_closed_document_finds_it_for_a_researcher(self, guarded: SearchIndex, text: str) -> None:
        researcher = self.find(guarded, text, today=TODAY, facets=FACETS)
        archivist = self.find(guarded, text, today=TODAY, facets=FACETS, viewer=Role.ARCHIVIST)

        assert (researcher.total, researcher.hits) == (0, ())
        assert researcher.facets == {facet: () for facet in FACETS}
        assert archivist.total >= 1

    @pytest.mark.parametrize(
        "filters",
        [{"puid": WORD[0]}, {"package": SEALED}, {"access": CLOSED}, {"package": SEALED, "kind": "package"}],
    )
    def test_filters_do_not_reach_closed_documents(self, guarded: SearchIndex, filters: dict[str, Any]) -> None:
        for text in ("", SHARED, "*"):
            results = self.find(guarded, text, today=TODAY, facets=FACETS, **filters)

            assert (results.total, results.hits) == (0, ())
            assert results.facets == {facet: () for facet in FACETS}

    @pytest.mark.parametrize("viewer", [Role.ARCHIVIST, Role.ADMIN, role_named("Admin")])
    def test_staff_see_closed_documents(self, guarded: SearchIndex, viewer: Role) -> None:
        (hit,) = self.find(guarded, SECRET, viewer=viewer, today=TODAY).hits

        assert (hit.package, hit.path) == (CASES, "objects/cases/witness statement.docx")
        assert (hit.access, hit.opening_date) == (CLOSED, None)
        assert hit.snippet is not None
        assert f"{HIGHLIGHT_START}{SECRET}{HIGHLIGHT_END}" in hit.snippet

        shared = self.find(guarded, SHARED, viewer=viewer, today=TODAY, facets=FACETS)
        assert shared.total == len(GUARDED)
        assert self.facet_counts(shared)["access"] == {"open": 4, "closed": 4}
        assert self.facet_counts(shared)["package"] == {CASES: 6, SEALED: 2}
        assert self.facet_counts(shared)["puid"] == {"fmt/276": 3, "fmt/412": 1, "fmt/353": 1, "x-fmt/111": 1}
        assert self.find(guarded, "", viewer=viewer, limit=0).total == len(DOCUMENTS) + len(GUARDED)

    @pytest.mark.parametrize(
        ("day", "opened"),
        [
            (YESTERDAY - dt.timedelta(days=1), set()),
            (YESTERDAY, {"evidence.pdf"}),
            (TODAY, {"evidence.pdf", "exhibits.pdf"}),
            (TOMORROW, {"evidence.pdf", "exhibits.pdf", "transcript.tif"}),
            (dt.date(9999, 12, 31), {"evidence.pdf", "exhibits.pdf", "transcript.tif"}),
        ],
    )
    def test_a_closed_document_opens_on_its_opening_date(
        self, guarded: SearchIndex, day: dt.date, opened: set[str]
    ) -> None:
        results = self.find(guarded, "", package=CASES, kind="file", today=day, facets=("access", "puid"), limit=100)

        expected = {"report.pdf"} | opened  # the witness statement has no opening date: it never opens
        assert {hit.name for hit in results.hits} == expected
        assert results.total == len(expected)
        assert {hit.access for hit in results.hits} == {OPEN}
        assert results.facets["access"] == (FacetCount("open", len(expected)),)
        assert ("transcript.tif" in opened) == (FacetCount(TIFF[0], 1) in results.facets["puid"])

    def test_opening_dates_are_judged_on_today_unless_the_query_names_a_day(self, search_index: SearchIndex) -> None:
        # Two days either side, so a query made just after midnight UTC does not change the answer.
        today = dt.datetime.now(dt.UTC).date()
        days = {"past.txt": today - dt.timedelta(days=2), "future.txt": today + dt.timedelta(days=2)}
        search_index.index(
            [
                file_doc(SURVEY, "survey-notes", f"objects/{n}", None, "dated", TEXT, n, access=CLOSED, opening_date=d)
                for n, d in days.items()
            ]
        )

        assert self.paths(self.find(search_index, "dated")) == ["objects/past.txt"]
        assert self.find(search_index, "dated", today=today + dt.timedelta(days=3)).total == 2
        assert self.find(search_index, "dated", today=today - dt.timedelta(days=3)).total == 0

    def test_a_hit_shows_its_status_on_the_day(self, guarded: SearchIndex) -> None:
        before, after = (
            self.find(guarded, "evidence", viewer=Role.ARCHIVIST, today=day).hits[0]
            for day in (YESTERDAY - dt.timedelta(days=1), TODAY)
        )

        assert (before.access, before.opening_date) == (CLOSED, YESTERDAY)
        assert (after.access, after.opening_date) == (OPEN, YESTERDAY)

    def test_access_filter(self, guarded: SearchIndex) -> None:
        closed = self.find(guarded, "", viewer=Role.ARCHIVIST, access=CLOSED, today=TODAY, limit=100)
        opened = self.find(guarded, "", viewer=Role.ARCHIVIST, access=OPEN, today=TODAY, limit=100)
        researcher = self.find(guarded, "", access=OPEN, today=TODAY, limit=100)

        assert self.keys(closed) == {key(d) for d in GUARDED if access_on(d, TODAY) is CLOSED}
        assert {hit.access for hit in closed.hits} == {CLOSED}
        assert closed.total + opened.total == len(DOCUMENTS) + len(GUARDED)
        assert self.keys(researcher) == self.keys(opened) == self.keys(self.find(guarded, "", today=TODAY, limit=100))
        assert self.find(guarded, "", access=CLOSED, today=TODAY).total == 0

    @pytest.mark.parametrize("viewer", list(Role))
    def test_every_count_is_what_the_viewer_may_see(self, guarded: SearchIndex, viewer: Role) -> None:
        everything = (*DOCUMENTS, *GUARDED)
        for day in (dt.date(1900, 1, 1), YESTERDAY, TODAY, dt.date(9999, 12, 31)):
            for text, matching in (("", everything), (SHARED, GUARDED), (SECRET, GUARDED[2:3])):
                for access in (None, OPEN, CLOSED):
                    results = self.find(
                        guarded, text, viewer=viewer, access=access, today=day, facets=FACETS, limit=100
                    )
                    expected = [
                        d for d in matching if sees(viewer, d, day) and (access is None or access_on(d, day) is access)
                    ]
                    context = (day, text, access)

                    assert results.total == len(expected), context
                    assert self.keys(results) == {key(d) for d in expected}, context
                    assert {(hit.package, hit.path, hit.access) for hit in results.hits} == {
                        (d.package, d.path, access_on(d, day)) for d in expected
                    }, context
                    assert self.facet_counts(results) == {
                        "package": counts(d.package for d in expected),
                        "puid": counts(d.puid for d in expected),
                        "format": counts(d.format_name for d in expected),
                        "access": counts(access_on(d, day).value for d in expected),
                        "validity": counts(d.validity for d in expected if d.validity),
                    }, context

    def test_pages_are_cut_from_what_the_viewer_may_see(self, guarded: SearchIndex) -> None:
        # Were closed documents dropped after paging, some pages would come back short.
        for text in ("", SHARED):
            visible = self.find(guarded, text, today=TODAY, limit=100)
            pages = [self.find(guarded, text, today=TODAY, offset=n, limit=2) for n in range(0, visible.total, 2)]

            assert [len(page.hits) for page in pages] == [min(2, visible.total - n) for n in range(0, visible.total, 2)]
            assert {page.total for page in pages} == {visible.total}
            assert [hit.path for page in pages for hit in page.hits] == self.paths(visible)

    def test_reindexing_changes_access(self, guarded: SearchIndex) -> None:
        report = GUARDED[1]
        guarded.index([replace(report, access=CLOSED)])

        assert self.find(guarded, "report", today=TODAY).total == 0
        assert self.find(guarded, "report", today=TODAY, viewer=Role.ADMIN).hits[0].access is CLOSED

        guarded.index([replace(GUARDED[2], access=OPEN)])
        (hit,) = self.find(guarded, SECRET, today=TODAY).hits
        assert hit.access is OPEN

    def test_an_unknown_access_status_is_refused(self, search_index: SearchIndex) -> None:
        bad = replace(DOCUMENTS[1], access=cast(AccessStatus, "secret"))

        with pytest.raises(SearchError, match="access"):
            search_index.index([bad])

    def test_hostile_names_round_trip(self, search_index: SearchIndex) -> None:
        name = "hostile \" ' <pkg> & ≠"
        visible = file_doc(SURVEY, name, f"objects/{HOSTILE}", HOSTILE, "plain", TEXT, "h-1")
        hidden = file_doc(SURVEY, name, f"objects/{HOSTILE}/closed.txt", None, SECRET, TEXT, "h-2", access=CLOSED)
        assert search_index.index([visible, hidden]) == 2

        for text in ("sausage", "世界", "êé", "ee", "hello", HOSTILE, f"objects/{HOSTILE}"):
            (hit,) = self.find(search_index, text, kind="file").hits
            assert (hit.package_name, hit.path, hit.title, hit.name) == (name, f"objects/{HOSTILE}", HOSTILE, "z.txt")
        assert self.find(search_index, "sausage", viewer=Role.ARCHIVIST).total == 2
        assert self.find(search_index, SECRET).total == 0

        assert search_index.index([replace(visible, content="renamed")]) == 1
        assert self.find(search_index, "sausage", viewer=Role.ADMIN).total == 2
        assert self.paths(self.find(search_index, "renamed")) == [f"objects/{HOSTILE}"]
        search_index.delete_package(SURVEY)
        assert self.find(search_index, "", viewer=Role.ADMIN).total == 0

    # --- paging -----------------------------------------------------------------------

    def test_paging_covers_every_match_once(self, loaded: SearchIndex) -> None:
        seen: list[Key] = []
        for offset in range(0, 10, 2):
            page = self.find(loaded, "", offset=offset, limit=2)
            assert page.total == len(DOCUMENTS)
            assert len(page.hits) <= 2
            seen.extend((hit.package, hit.path) for hit in page.hits)

        assert len(seen) == len(DOCUMENTS)
        assert set(seen) == {key(d) for d in DOCUMENTS}

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
            SearchQuery(text="harbour", access=cast(AccessStatus, "secret")),
            SearchQuery(text="harbour", roles=("original", "scrapbook")),
        ],
    )
    def test_impossible_queries_raise_search_error(self, loaded: SearchIndex, query: SearchQuery) -> None:
        with pytest.raises(SearchError):
            loaded.search(query)

    # --- changing the index -----------------------------------------------------------

    def test_reindexing_replaces_documents(self, loaded: SearchIndex) -> None:
        changed = file_doc(
            MINUTES,
            "council-minutes",
            "objects/minutes/2000.pdf",
            "2000.pdf",
            "ferry timetable",
            TEXT,
            "f-2",
            version=4,
        )

        assert loaded.index([changed]) == 1

        assert self.find(loaded, "dredging").total == 0
        (hit,) = self.find(loaded, "ferry").hits
        assert (hit.puid, hit.version, hit.date) == ("x-fmt/111", 4, None)
        assert self.find(loaded, "").total == len(DOCUMENTS)
        assert self.find(loaded, "", puid="fmt/276").total == 2

    def test_reindexing_a_package_document_replaces_it(self, loaded: SearchIndex) -> None:
        loaded.index([package_doc(SURVEY, "survey-notes", "Coastal survey", {"description": ("renamed",)})])

        assert self.find(loaded, "", kind="package").total == 2
        assert self.find(loaded, "renamed").hits[0].title == "Coastal survey"
        assert self.find(loaded, "coast").total == 0  # the old description went with the old document

    def test_the_same_path_in_two_packages_is_two_documents(self, loaded: SearchIndex) -> None:
        loaded.index([file_doc(SURVEY, "survey-notes", "objects/minutes/1999.pdf", "1999.pdf", "copy", PDF, "f-9")])

        assert self.find(loaded, "1999.pdf").total == 2

    def test_index_accepts_a_generator(self, search_index: SearchIndex) -> None:
        assert search_index.index(doc for doc in DOCUMENTS) == len(DOCUMENTS)
        assert search_index.index([]) == 0
        assert self.find(search_index, "").total == len(DOCUMENTS)

    def test_many_documents(self, search_index: SearchIndex) -> None:
        docs = [
            file_doc(
                SURVEY,
                "survey-notes",
                f"objects/bulk/{n:04}.txt",
                f"{n:04}.txt",
                f"word{n % 7}",
                TEXT,
                f"b{n}",
                access=CLOSED if n % 2 else OPEN,
            )
            for n in range(1200)
        ]

        assert search_index.index(docs) == 1200
        assert self.find(search_index, "word3", viewer=Role.ADMIN).total == len([n for n in range(1200) if n % 7 == 3])
        assert self.find(search_index, "word3").total == len([n for n in range(1200) if n % 7 == 3 and n % 2 == 0])
        assert self.find(search_index, "", limit=0, viewer=Role.ARCHIVIST).total == 1200
        assert self.find(search_index, "", limit=0).total == 600

    def test_delete_package(self, guarded: SearchIndex) -> None:
        guarded.delete_package(MINUTES)
        guarded.delete_package(SEALED)

        assert guarded.packages() == {SURVEY, CASES}
        assert self.find(guarded, "council").total == 0
        assert self.find(guarded, "", package=SURVEY).total == 3
        assert self.find(guarded, "", viewer=Role.ADMIN, package=SEALED).total == 0
        guarded.delete_package("no-such-package")  # nothing to do, no error

    def test_packages(self, guarded: SearchIndex) -> None:
        # Every package with a document, whatever its access: this is for keeping the index in step.
        assert guarded.packages() == {MINUTES, SURVEY, CASES, SEALED}

    def test_clear(self, guarded: SearchIndex) -> None:
        guarded.clear()

        assert guarded.packages() == set()
        assert self.find(guarded, "", viewer=Role.ADMIN).total == 0
        assert self.find(guarded, "harbour").total == 0
        assert guarded.index(DOCUMENTS[:2]) == 2
        assert self.find(guarded, "budget").total == 1

    # --- what a file is: records, and the package's own housekeeping files -------------

    @pytest.fixture
    def housekept(self, search_index: SearchIndex) -> SearchIndex:
        assert search_index.index([*DOCUMENTS, *HOUSEKEEPING]) == len(DOCUMENTS) + len(HOUSEKEEPING)
        return search_index

    def expected_for(self, roles: tuple[str, ...], text_in: str | None = None) -> list[SearchDocument]:
        """What a query for `roles` should find: packages, and files whose role (none: a record) is listed."""
        return [
            d
            for d in (*DOCUMENTS, *HOUSEKEEPING)
            if (d.path is None or (d.role or "original") in roles)
            and (text_in is None or text_in in (d.content + " " + (d.title or "")))
        ]

    def test_housekeeping_files_are_not_found_by_default(self, housekept: SearchIndex) -> None:
        everything = self.find(housekept, "", limit=100, facets=FACETS)
        harbour = self.find(housekept, "harbour", limit=100)

        records = self.expected_for(("original",))
        assert everything.total == len(records) == len(DOCUMENTS) + 1
        assert self.keys(everything) == {key(d) for d in records}
        assert self.facet_counts(everything)["package"] == counts(d.package for d in records)
        assert self.facet_counts(everything)["puid"] == counts(d.puid for d in records)
        assert "objects/minutes/notes.txt" in self.paths(harbour)
        assert not [p for p in self.paths(harbour) if p and not p.startswith("objects/")]
        assert self.find(housekept, "premis").total == 0
        assert self.find(housekept, "", roles=None).total == everything.total

    def test_naming_roles_finds_housekeeping_files(self, housekept: SearchIndex) -> None:
        for roles in (ALL_ROLES, ("metadata",), ("log", "original"), ("submissionDocumentation",), ()):
            results = self.find(housekept, "", roles=roles, limit=100, facets=FACETS)
            expected = self.expected_for(roles)

            assert results.total == len(expected), roles
            assert self.keys(results) == {key(d) for d in expected}, roles
            assert self.facet_counts(results) == {
                "package": counts(d.package for d in expected),
                "puid": counts(d.puid for d in expected),
                "format": counts(d.format_name for d in expected),
                "access": counts("open" for _ in expected),
                "validity": counts(d.validity for d in expected if d.validity),
            }, roles
        (mets,) = self.find(housekept, "premis", roles=ALL_ROLES).hits
        assert (mets.path, mets.role) == (f"METS.{MINUTES}.xml", "metadata")
        metadata_files = self.find(housekept, "harbour", roles=("metadata",), kind="file")
        assert sorted(self.paths(metadata_files)) == [f"METS.{MINUTES}.xml", "metadata/metadata.csv"]

    def test_a_hit_says_what_the_file_is(self, housekept: SearchIndex) -> None:
        by_path = {hit.path: hit.role for hit in self.find(housekept, "", roles=ALL_ROLES, limit=100).hits}

        assert by_path[None] is None
        assert by_path["logs/ingest.log"] == "log"
        assert by_path["objects/minutes/notes.txt"] == "original"
        assert by_path["objects/minutes/1999.pdf"] is None  # indexed with no role: counted as a record

    # --- characterisation verdicts ------------------------------------------------------

    def test_validity_filters_facets_and_shows_on_hits(self, search_index: SearchIndex) -> None:
        flagged = [
            file_doc("5" * 32, "scans", "objects/broken.pdf", "Broken scan", "parish", ("fmt/20", "PDF"), "v-1",
                     validity="invalid"),
            file_doc("5" * 32, "scans", "objects/good.pdf", "Good scan", "parish", ("fmt/20", "PDF"), "v-2",
                     validity="valid"),
            file_doc("5" * 32, "scans", "objects/old.pdf", "Old scan", "parish", ("fmt/20", "PDF"), "v-3"),
            file_doc("5" * 32, "scans", "objects/closed.pdf", "Closed scan", "parish", ("fmt/20", "PDF"), "v-4",
                     validity="invalid", access=CLOSED),
        ]  # fmt: skip
        search_index.index(flagged)
        invalid = self.find(search_index, "parish", validity="invalid", facets=("validity",))
        assert self.paths(invalid) == ["objects/broken.pdf"]  # the closed one is not the researcher's to see
        assert [hit.validity for hit in invalid.hits] == ["invalid"]
        archivist = self.find(search_index, "parish", viewer=Role.ARCHIVIST, validity="invalid")
        assert sorted(self.paths(archivist)) == ["objects/broken.pdf", "objects/closed.pdf"]
        every = self.find(search_index, "parish", facets=("validity",), limit=100)
        assert self.facet_counts(every)["validity"] == {"invalid": 1, "valid": 1}  # never characterised: no value
        assert {hit.path: hit.validity for hit in every.hits}["objects/old.pdf"] is None
