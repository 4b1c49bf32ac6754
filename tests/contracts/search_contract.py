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

import base64
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.errors import SearchError
from strongroom.model import AccessStatus
from strongroom.search import query as language
from strongroom.search.base import (
    ALL_ROLES,
    FACET_SIZE,
    FACETS,
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    MAX_WINDOW,
    ROLES_RECORDS,
    FacetCount,
    Role,
    SearchDocument,
    SearchIndex,
    SearchQuery,
    SearchResults,
    role_named,
)

OPEN, CLOSED, RESTRICTED = AccessStatus.OPEN, AccessStatus.CLOSED, AccessStatus.RESTRICTED

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


def creators_of(document: SearchDocument) -> tuple[str, ...]:
    values = document.dublin_core.get("creator", ())
    return (values,) if isinstance(values, str) else tuple(values)


def creator_counts(documents: Iterable[SearchDocument]) -> dict[str, int]:
    """The creator facet: each value as written, counted once per document that has it."""
    return dict(Counter(value for d in documents for value in set(creators_of(d))))


# --- the contract's own reading of a query, to grade every backend by ---------------------


def text_fields(document: SearchDocument) -> list[str]:
    """The fields a word may be found in; each Dublin Core value is a field of its own."""
    values = [v for vs in document.dublin_core.values() for v in ((vs,) if isinstance(vs, str) else vs)]
    fields = [document.title, document.name, document.path, *values, document.package_name]
    return [f for f in (*fields, document.format_name, document.puid, document.content) if f]


def term_matches(term: language.Term, document: SearchDocument) -> bool:
    """The term's tokens next to each other, in order, in one field (the last one a prefix if so marked)."""
    width = len(term.tokens)
    for field in text_fields(document):
        words = language.tokens(field)
        for at in range(len(words) - width + 1):
            window = words[at : at + width]
            if window[:-1] == list(term.tokens[:-1]) and (
                window[-1].startswith(term.tokens[-1]) if term.prefix else window[-1] == term.tokens[-1]
            ):
                return True
    return False


def tree_matches(node: language.Node | None, document: SearchDocument) -> bool:
    if node is None:
        return True
    if isinstance(node, language.Term):
        return term_matches(node, document)
    if isinstance(node, language.Without):
        return not tree_matches(node.part, document)
    if isinstance(node, language.All):
        return all(tree_matches(part, document) for part in node.parts)
    return any(tree_matches(part, document) for part in node.parts)


def expected_hits(documents: Iterable[SearchDocument], query: SearchQuery) -> list[SearchDocument]:
    """What `query` must find among `documents`, read from the words of the contract."""
    day = query.day()
    tree = language.parse(query.text)
    roles = ROLES_RECORDS if query.roles is None else query.roles
    found = []
    for d in documents:
        checks = (
            sees(query.viewer, d, day),
            d.path is None or (d.role or "original") in roles,
            query.kind is None or query.kind == ("package" if d.path is None else "file"),
            query.access is None or access_on(d, day) is query.access,
            query.puid is None or d.puid == query.puid,
            query.package is None or d.package == query.package,
            query.validity is None or d.validity == query.validity,
            query.format_name is None or d.format_name == query.format_name,
            query.risk is None or d.risk == query.risk,
            query.creator is None
            or any(language.fold_key(c) == language.fold_key(query.creator) for c in creators_of(d)),
            query.date_from is None or (d.date is not None and d.date >= query.date_from),
            query.date_to is None or (d.date is not None and d.date <= query.date_to),
        )
        if all(checks) and tree_matches(tree, d):
            found.append(d)
    return found


def expected_facets(found: list[SearchDocument], day: dt.date) -> dict[str, dict[str, int]]:
    return {
        "package": counts(d.package for d in found),
        "puid": counts(d.puid for d in found),
        "format": counts(d.format_name for d in found),
        "access": counts(access_on(d, day).value for d in found),
        "validity": counts(d.validity for d in found),
        "risk": counts(d.risk for d in found),
        "creator": creator_counts(found),
    }


# Records with the newer structured fields: risk, creators, dates (one undated, one closed).
LIBRARY = "6f1c1e2a-0000-4000-8000-000000000005"
ARCHIVE = "6f1c1e2a-0000-4000-8000-000000000006"


def _shelf(path: str, content: str, **fields: Any) -> SearchDocument:
    package = fields.pop("package", LIBRARY)
    return file_doc(package, "library", path, path.rsplit("/", 1)[-1], content, fields.pop("fmt", PDF), path, **fields)


SHELF = (
    _shelf("objects/a.pdf", "river crossing at dawn", date=dt.date(1990, 1, 1), risk="low",
           dublin_core={"creator": ("Émile Zola", "Studio Lemieux", "Émile Zola")}),
    _shelf("objects/b.pdf", "river ferry timetable", date=dt.date(1990, 12, 31), risk="high",
           dublin_core={"creator": ("emile zola",)}),
    _shelf("objects/c.tif", "river bridge drawing", date=dt.date(2005, 6, 15), risk="medium", fmt=TIFF,
           dublin_core={"creator": ("Zola, Émile",)}),
    _shelf("objects/d.txt", "river notes, undated", fmt=TEXT),
    _shelf("objects/e.pdf", f"river survey by {SECRET}", date=dt.date(2010, 1, 1), risk="high", access=CLOSED,
           dublin_core={"creator": (f"{SECRET} Zola", "Émile Zola")}),
    _shelf("objects/f.pdf", "river crossing sketch", date=dt.date(1990, 1, 1), risk="low", package=ARCHIVE,
           dublin_core={"creator": "Studio Lemieux"}),
)  # fmt: skip


# A package with an open record, a restricted one (and its masked stand-in, as indexing.py makes it)
# and a closed one without a redacted title (no stand-in): a researcher finds the stand-in until OPENS.
PERSONNEL_PACKAGE = "6f1c1e2a-0000-4000-8000-000000000007"
SENSITIVE = "quillwort"  # only in the restricted record's title, path, content and creator
OPENS = TODAY + dt.timedelta(days=30)
STAND_IN = "Personnel file"
HANDBOOK, APPRAISAL, TRIBUNAL = (
    "objects/hr/handbook.pdf",
    f"objects/hr/{SENSITIVE}-smith.pdf",
    "objects/hr/tribunal.pdf",
)
PERSONNEL = (
    file_doc(PERSONNEL_PACKAGE, "staff-records", HANDBOOK, "Staff handbook", "leave and pay", PDF, "h-1"),
    file_doc(
        PERSONNEL_PACKAGE, "staff-records", APPRAISAL, f"{SENSITIVE} Smith appraisal",
        f"appraisal of {SENSITIVE} smith", PDF, "h-2", access=RESTRICTED, opening_date=OPENS, exemption="s.40",
        date=dt.date(1999, 1, 1),
        dublin_core={"identifier": ("HR/1/7",), "date": ("1999",), "creator": (f"{SENSITIVE} Smith",)},
    ),
    file_doc(PERSONNEL_PACKAGE, "staff-records", TRIBUNAL, "Tribunal", "hearing", PDF, "h-3", access=CLOSED,
             opening_date=OPENS, exemption="s.41"),
    SearchDocument(
        package=PERSONNEL_PACKAGE, package_name="staff-records", path=APPRAISAL, title=STAND_IN,
        dublin_core={"identifier": ("HR/1/7",), "date": ("1999",)}, date=dt.date(1999, 1, 1), access=RESTRICTED,
        opening_date=OPENS, role="original", masked=True, exemption="s.40",
    ),
)  # fmt: skip


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

    def test_operators_only_in_capitals(self, loaded: SearchIndex) -> None:
        # NOT and - exclude; lower-case "not" is a word that must appear (no document has it).
        harbour = {key(d) for d in DOCUMENTS if "harbour" in (d.content + (d.title or "") + (d.path or "")).lower()}
        assert len(harbour) == 3
        everything_else = {key(d) for d in DOCUMENTS} - harbour
        assert self.keys(self.find(loaded, "NOT harbour", limit=100)) == everything_else
        assert self.keys(self.find(loaded, "-harbour", limit=100)) == everything_else
        assert self.find(loaded, "not harbour").total == 0
        assert self.keys(self.find(loaded, "(harbour)")) == harbour
        assert self.paths(self.find(loaded, "budget and vote")) == ["objects/minutes/1999.pdf"]
        assert self.find(loaded, "dredging or budget").total == 0

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
            "risk": (),
            "creator": (),
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
                        "risk": counts(d.risk for d in expected),
                        "creator": creator_counts(expected),
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

    def test_is_empty(self, guarded: SearchIndex) -> None:
        # Only closed documents still count: emptiness is about the index, never about a viewer.
        assert not guarded.is_empty()
        for package in (MINUTES, SURVEY, CASES):
            guarded.delete_package(package)
        assert not guarded.is_empty()
        guarded.delete_package(SEALED)
        assert guarded.is_empty()

    def test_clear(self, guarded: SearchIndex) -> None:
        assert not guarded.is_empty()
        guarded.clear()

        assert guarded.is_empty()
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
                "risk": counts(d.risk for d in expected),
                "creator": creator_counts(expected),
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

    # --- the query language: phrases, AND/OR/NOT, prefixes, brackets ----------------------

    def check_query(self, index: SearchIndex, documents: Iterable[SearchDocument], text: str, **options: Any) -> None:
        """The hit set, total and every facet count are what the contract says, for this query."""
        query = SearchQuery(text=text, facets=FACETS, limit=100, today=TODAY, **options)
        results = index.search(query)
        found = expected_hits(documents, query)

        assert self.keys(results) == {key(d) for d in found}, (text, options)
        assert results.total == len(found), (text, options)
        assert self.facet_counts(results) == expected_facets(found, TODAY), (text, options)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ('"harbour photograph"', {"objects/photos/harbour_view-01.tif"}),
            ('"photograph harbour"', set()),  # in this order only
            ('"view harbour"', set()),  # "Harbour view" is the title, "harbour photograph" the text: two fields
            ('"port photographer"', {"objects/photos/harbour_view-01.tif"}),
            ('"photographer studio"', set()),  # two Dublin Core values are two fields
            ('"photos harbour view"', {"objects/photos/harbour_view-01.tif"}),  # across path separators
            ('"minutes of montreal"', {None}),
            ('"harbour pho"*', {"objects/photos/harbour_view-01.tif"}),
            ("harbour AND pier", {"objects/photos/harbour_view-01.tif"}),
            ("dredging OR budget", {"objects/minutes/1999.pdf", "objects/minutes/2000.pdf"}),
            ("harbour NOT pier", {"objects/minutes/2000.pdf", "objects/notes/field notes.txt"}),
            ("harbour -pie*", {"objects/minutes/2000.pdf", "objects/notes/field notes.txt"}),
            ("(dredging OR budget) minutes", {"objects/minutes/1999.pdf", "objects/minutes/2000.pdf"}),
            ("(dredging OR budget) -vote", {"objects/minutes/2000.pdf"}),
            ("-(dredging OR budget) -harbour -council", {None, "objects/notes/map.pdf"}),
            ("dredging OR -harbour", {None, "objects/minutes/1999.pdf", "objects/minutes/2000.pdf",
                                      "objects/notes/map.pdf"}),
            ("NOT NOT dredging", {"objects/minutes/2000.pdf"}),
            ("quebec OR (harbour -(pier OR dredging))", {"objects/notes/map.pdf", "objects/notes/field notes.txt"}),
        ],
    )  # fmt: skip
    def test_query_language(self, loaded: SearchIndex, text: str, expected: set[str | None]) -> None:
        results = self.find(loaded, text, limit=100)

        assert set(self.paths(results)) == expected
        assert results.total == len(results.hits)
        self.check_query(loaded, DOCUMENTS, text)

    @pytest.mark.parametrize(
        "text",
        ["-harbour", "NOT harbour -council", "-(harbour OR coast)", "council OR -harbour", "-nothingatall",
         "minu* -(vote OR pier)", "(montreal OR quebec) -coast", '"survey notes" OR -"field notes"'],
    )  # fmt: skip
    def test_exclusions_count_every_document_the_viewer_may_see(self, guarded: SearchIndex, text: str) -> None:
        for viewer in (Role.RESEARCHER, Role.ARCHIVIST):
            self.check_query(guarded, (*DOCUMENTS, *GUARDED), text, viewer=viewer)

    def test_accents_are_ignored_both_ways(self, search_index: SearchIndex) -> None:
        search_index.index(
            [
                file_doc(SURVEY, "s", "objects/a.txt", "Montréal harbour", "plain", TEXT, "x-1"),
                file_doc(SURVEY, "s", "objects/b.txt", "Montreal harbour", "plain", TEXT, "x-2"),
            ]
        )
        both = {"objects/a.txt", "objects/b.txt"}
        for text in ("montreal", "Montréal", "MONTRÉAL", '"montreal harbour"', '"Montréal harb"*', "montr*", "montré*"):
            assert set(self.paths(self.find(search_index, text))) == both, text

    def test_words_in_other_scripts_are_found_as_typed(self, search_index: SearchIndex) -> None:
        # Accents come off Latin letters only; a Cyrillic or Greek word is found exactly as written.
        search_index.index(
            [
                file_doc(SURVEY, "s", "objects/a.txt", "Йодная съёмка", "plain", TEXT, "x-1"),
                file_doc(SURVEY, "s", "objects/b.txt", "άλφα χάρτης", "plain", TEXT, "x-2"),
                file_doc(SURVEY, "s", "objects/c.txt", "Ngữ văn Việt", "plain", TEXT, "x-3"),
            ]
        )
        for text, expected in (("йодная", "objects/a.txt"), ("съёмка", "objects/a.txt"), ('"Йодная съёмка"',
                               "objects/a.txt"), ("άλφα", "objects/b.txt"), ("χάρ*", "objects/b.txt"),
                               ("ngu van viet", "objects/c.txt"), ("Việt", "objects/c.txt")):  # fmt: skip
            assert self.paths(self.find(search_index, text)) == [expected], text

    def test_a_typed_word_never_matches_an_element_mark(self, loaded: SearchIndex) -> None:
        for text in ("\ue000creator", '"\ue000creator port"', "\ue000coverage", "\ue000cre*", "creator*"):
            assert self.find(loaded, text).total == 0, text
        assert self.paths(self.find(loaded, "\ue000photographer")) == ["objects/photos/harbour_view-01.tif"]

    def test_snippets_mark_only_the_terms_a_hit_contains(self, loaded: SearchIndex) -> None:
        (hit,) = self.find(loaded, "discussion OR -vote", package=MINUTES, kind="file", puid=PDF[0]).hits[:1]

        assert hit.path == "objects/minutes/1999.pdf"
        assert hit.snippet is not None
        assert f"{HIGHLIGHT_START}discussion{HIGHLIGHT_END}" in hit.snippet
        assert f"{HIGHLIGHT_START}vote" not in hit.snippet
        (excluded,) = self.find(loaded, "budget -dredging").hits
        assert excluded.snippet is not None and f"{HIGHLIGHT_START}budget{HIGHLIGHT_END}" in excluded.snippet

    # --- filters, facets and sorts on the structured fields --------------------------------

    @pytest.fixture
    def shelved(self, search_index: SearchIndex) -> SearchIndex:
        assert search_index.index([*DOCUMENTS, *SHELF]) == len(DOCUMENTS) + len(SHELF)
        return search_index

    @pytest.mark.parametrize(
        ("filters", "researcher", "archivist"),
        [
            ({"risk": "high"}, {"b.pdf"}, {"b.pdf", "e.pdf"}),
            ({"risk": "low"}, {"a.pdf", "f.pdf"}, {"a.pdf", "f.pdf"}),
            ({"format_name": TIFF[1]}, {"c.tif"}, {"c.tif"}),
            ({"format_name": "tagged image file format"}, set(), set()),  # a format's name exactly
            ({"creator": "EMILE ZOLA"}, {"a.pdf", "b.pdf"}, {"a.pdf", "b.pdf", "e.pdf"}),
            ({"creator": "Zola, Emile"}, {"c.tif"}, {"c.tif"}),
            ({"creator": "zola"}, set(), set()),  # the whole value, not a word of it
            ({"creator": "studio  lemieux"}, {"a.pdf", "f.pdf"}, {"a.pdf", "f.pdf"}),
            ({"date_from": dt.date(1990, 1, 1), "date_to": dt.date(1990, 12, 31)},
             {"a.pdf", "b.pdf", "f.pdf"}, {"a.pdf", "b.pdf", "f.pdf"}),
            ({"date_from": dt.date(1990, 1, 2)}, {"b.pdf", "c.tif"}, {"b.pdf", "c.tif", "e.pdf"}),
            ({"date_to": dt.date(1990, 1, 1)}, {"a.pdf", "f.pdf"}, {"a.pdf", "f.pdf"}),
            ({"date_to": dt.date(1989, 12, 31)}, set(), set()),
            ({"date_from": dt.date(1, 1, 1), "date_to": dt.date(9999, 12, 31)},  # undated documents never match
             {"a.pdf", "b.pdf", "c.tif", "f.pdf"}, {"a.pdf", "b.pdf", "c.tif", "e.pdf", "f.pdf"}),
            ({"date_from": dt.date(2006, 1, 1), "date_to": dt.date(2005, 1, 1)}, set(), set()),
            ({"risk": "low", "package": ARCHIVE}, {"f.pdf"}, {"f.pdf"}),
        ],
    )  # fmt: skip
    def test_filters_on_structured_fields(
        self, shelved: SearchIndex, filters: dict[str, Any], researcher: set[str], archivist: set[str]
    ) -> None:
        for viewer, expected in ((Role.RESEARCHER, researcher), (Role.ARCHIVIST, archivist)):
            results = self.find(shelved, "river", viewer=viewer, today=TODAY, limit=100, **filters)

            assert {hit.name for hit in results.hits} == expected, viewer
            assert results.total == len(expected)
            self.check_query(shelved, (*DOCUMENTS, *SHELF), "river", viewer=viewer, **filters)
            self.check_query(shelved, (*DOCUMENTS, *SHELF), "", viewer=viewer, **filters)

    def test_risk_and_creator_facets(self, shelved: SearchIndex) -> None:
        results = self.find(shelved, "river", facets=FACETS, today=TODAY)

        assert results.facets["risk"] == (FacetCount("low", 2), FacetCount("high", 1), FacetCount("medium", 1))
        # As written, once per document (a.pdf names Zola twice), commonest first, ties by value.
        assert results.facets["creator"] == (
            FacetCount("Studio Lemieux", 2),
            FacetCount("Zola, Émile", 1),
            FacetCount("emile zola", 1),
            FacetCount("Émile Zola", 1),
        )
        archivist = self.find(shelved, "river", facets=("creator",), viewer=Role.ADMIN, today=TODAY)
        assert self.facet_counts(archivist)["creator"] == {
            "Studio Lemieux": 2, "Zola, Émile": 1, "emile zola": 1, "Émile Zola": 2, f"{SECRET} Zola": 1,
        }  # fmt: skip
        (hit,) = self.find(shelved, "ferry").hits
        assert hit.risk == "high"

    def test_a_facet_lists_at_most_facet_size_values(self, search_index: SearchIndex) -> None:
        many = [
            file_doc(SURVEY, "s", f"objects/{n:03}.txt", None, "ledger", TEXT, f"m{n}",
                     dublin_core={"creator": (f"writer {n:03}",)})
            for n in range(FACET_SIZE + 20)
        ]  # fmt: skip
        popular = [
            file_doc(SURVEY, "s", f"objects/p{n}.txt", None, "ledger", TEXT, f"p{n}", dublin_core={"creator": ("zz",)})
            for n in range(3)
        ]
        search_index.index([*many, *popular])

        creators = self.find(search_index, "ledger", facets=("creator",)).facets["creator"]
        assert len(creators) == FACET_SIZE
        assert creators[0] == FacetCount("zz", 3)
        assert creators[1:] == tuple(FacetCount(f"writer {n:03}", 1) for n in range(FACET_SIZE - 1))

    def test_sort_by_date(self, shelved: SearchIndex) -> None:
        newest = self.find(shelved, "river", sort="newest", viewer=Role.ADMIN, today=TODAY)
        oldest = self.find(shelved, "river", sort="oldest", viewer=Role.ADMIN, today=TODAY)

        # Undated last either way; the two of 1990-01-01 by package, then path.
        assert [hit.name for hit in newest.hits] == ["e.pdf", "c.tif", "b.pdf", "a.pdf", "f.pdf", "d.txt"]
        assert [hit.name for hit in oldest.hits] == ["a.pdf", "f.pdf", "b.pdf", "c.tif", "e.pdf", "d.txt"]
        public = self.find(shelved, "river", sort="newest", today=TODAY)
        assert [hit.name for hit in public.hits] == ["c.tif", "b.pdf", "a.pdf", "f.pdf", "d.txt"]

    def test_equal_scores_are_ordered_by_package_then_path(self, search_index: SearchIndex) -> None:
        paths = ["objects/c.txt", "objects/a.txt", "objects/b.txt"]
        search_index.index(
            [file_doc(package, "same", path, None, "identical words", TEXT, "t") for package in (SURVEY, MINUTES)
             for path in paths]
        )  # fmt: skip

        for text in ("identical", "", "-nothing"):
            results = self.find(search_index, text)
            assert [(hit.package, hit.path) for hit in results.hits] == [
                (package, path) for package in sorted((SURVEY, MINUTES)) for path in sorted(paths)
            ], text

    def test_unknown_sort_is_refused(self, loaded: SearchIndex) -> None:
        with pytest.raises(SearchError, match="sort"):
            self.find(loaded, "harbour", sort="alphabetical")

    # --- deep paging ---------------------------------------------------------------------

    @pytest.fixture
    def crowded(self, search_index: SearchIndex) -> SearchIndex:
        docs = [
            file_doc(
                (SURVEY, MINUTES, CASES)[n % 3], "crowd", f"objects/{n:03}.txt", None,
                "crowd " + " ".join(["echo"] * (n % 5)), TEXT, f"c{n}",
                date=None if n % 7 == 0 else dt.date(2000, 1, 1) + dt.timedelta(days=n % 11),
                access=CLOSED if n % 4 == 0 else OPEN, opening_date=TOMORROW if n % 8 == 0 else None,
            )
            for n in range(47)
        ]  # fmt: skip
        assert search_index.index(docs) == len(docs)
        return search_index

    def pages(self, index: SearchIndex, text: str, **options: Any) -> list[SearchResults]:
        pages = [self.find(index, text, limit=4, today=TODAY, **options)]
        while pages[-1].next_after is not None:
            pages.append(self.find(index, text, limit=4, today=TODAY, after=pages[-1].next_after, **options))
            assert len(pages) < 100
        return pages

    @pytest.mark.parametrize("sort", ["relevance", "newest", "oldest"])
    @pytest.mark.parametrize("text", ["crowd", "echo", "", "-echo", "crowd OR -echo"])
    @pytest.mark.parametrize("viewer", [Role.RESEARCHER, Role.ADMIN])
    def test_cursor_pages_cover_every_hit_once(self, crowded: SearchIndex, sort: str, text: str, viewer: Role) -> None:
        whole = self.find(crowded, text, limit=100, sort=sort, viewer=viewer, today=TODAY)
        pages = self.pages(crowded, text, sort=sort, viewer=viewer)
        walked = [(hit.package, hit.path) for page in pages for hit in page.hits]

        assert walked == [(hit.package, hit.path) for hit in whole.hits]
        assert len(walked) == len(set(walked)) == whole.total
        assert {page.total for page in pages} == {whole.total}
        assert all(len(page.hits) == 4 for page in pages[:-1])
        assert whole.next_after is None
        if viewer is Role.RESEARCHER:
            assert all(hit.access is OPEN for page in pages for hit in page.hits)

    def test_a_cursor_after_the_last_page(self, crowded: SearchIndex) -> None:
        first = self.find(crowded, "echo", limit=1000)
        assert first.next_after is None
        exact = self.find(crowded, "echo", limit=first.total - 1)
        assert exact.next_after is not None
        (last,) = self.find(crowded, "echo", after=exact.next_after, limit=5).hits
        assert (last.package, last.path) == (first.hits[-1].package, first.hits[-1].path)

    @pytest.mark.parametrize(
        "cursor",
        [
            "not a cursor", "", "!!!!", base64.urlsafe_b64encode(b"{}").decode(),
            base64.urlsafe_b64encode(b"[1, 2, 3]").decode(),
            base64.urlsafe_b64encode(json.dumps([1, "relevance", "x", 5, None]).encode()).decode(),
            base64.urlsafe_b64encode(b"\xff\xfe").decode(), "A" * 20000,
        ],
    )  # fmt: skip
    def test_a_tampered_cursor_is_refused(self, crowded: SearchIndex, cursor: str) -> None:
        with pytest.raises(SearchError, match="cursor"):
            self.find(crowded, "crowd", after=cursor)

    def test_a_cursor_keeps_to_its_sort(self, crowded: SearchIndex) -> None:
        cursor = self.find(crowded, "crowd", limit=2, sort="newest").next_after
        assert cursor is not None

        with pytest.raises(SearchError, match="cursor"):
            self.find(crowded, "crowd", after=cursor, sort="relevance")
        with pytest.raises(SearchError, match="cursor"):
            self.find(crowded, "crowd", after=cursor, sort="newest", offset=2)

    def test_pages_deeper_than_the_window_need_the_cursor(self, loaded: SearchIndex) -> None:
        assert self.find(loaded, "", offset=MAX_WINDOW - 20, limit=20).hits == ()
        with pytest.raises(SearchError, match="--page-after"):
            self.find(loaded, "", offset=MAX_WINDOW - 19, limit=20)
        with pytest.raises(SearchError, match="--page-after"):
            self.find(loaded, "harbour", limit=MAX_WINDOW + 1)

    # --- rebuilding beside the live index -------------------------------------------------

    def test_a_rebuild_replaces_the_index_when_finished(self, loaded: SearchIndex) -> None:
        rebuild = loaded.start_rebuild()
        assert rebuild.index(GUARDED) == len(GUARDED)

        # Until finish() the live index answers as before.
        assert self.paths(self.find(loaded, "dredging")) == ["objects/minutes/2000.pdf"]
        assert self.find(loaded, SHARED, viewer=Role.ADMIN).total == 0
        assert loaded.packages() == {MINUTES, SURVEY}
        rebuild.finish()

        assert self.find(loaded, "dredging").total == 0
        assert loaded.packages() == {CASES, SEALED}
        assert self.find(loaded, SHARED, viewer=Role.ADMIN).total == len(GUARDED)
        assert self.find(loaded, SECRET, today=TODAY).total == 0  # closure holds on the new index
        assert loaded.index(DOCUMENTS[:2]) == 2  # and it takes new documents
        assert self.find(loaded, "budget").total == 1

    def test_an_abandoned_rebuild_leaves_the_index_alone(self, loaded: SearchIndex) -> None:
        rebuild = loaded.start_rebuild()
        rebuild.index(GUARDED)
        rebuild.abandon()

        assert loaded.packages() == {MINUTES, SURVEY}
        assert self.find(loaded, SHARED, viewer=Role.ADMIN).total == 0
        assert self.find(loaded, "", limit=0).total == len(DOCUMENTS)
        assert loaded.index(GUARDED[:1]) == 1

    # --- closure, for every feature, and the property that sums it up ------------------------

    @pytest.mark.parametrize(
        "options",
        [
            {}, {"sort": "newest"}, {"sort": "oldest"}, {"risk": "high"}, {"creator": "Émile Zola"},
            {"creator": f"{SECRET} zola"}, {"format_name": WORD[1]}, {"puid": WORD[0]},
            {"date_from": dt.date(2010, 1, 1)}, {"package": SEALED}, {"access": CLOSED}, {"roles": ALL_ROLES},
        ],
    )  # fmt: skip
    def test_no_feature_reaches_a_closed_document(self, search_index: SearchIndex, options: dict[str, Any]) -> None:
        everything = (*DOCUMENTS, *GUARDED, *SHELF)
        search_index.index(everything)
        hidden = {key(d) for d in everything if not sees(Role.RESEARCHER, d, TODAY)}
        for text in ("", SECRET, f"{SECRET[:5]}*", f'"{SECRET} zola"', f"-{SECRET}", "NOT harbour", "river OR -x",
                     "inquiry", f"{SECRET} OR inquiry OR river", "zola"):  # fmt: skip
            self.check_query(search_index, everything, text, **options)
            for page in self.pages(search_index, text, **options):
                assert not hidden & self.keys(page), (text, options)
                for hit in page.hits:
                    assert SECRET not in repr(hit).lower(), (text, options)

    # --- restricted records and their stand-ins ------------------------------------------

    def test_a_researcher_finds_a_restricted_record_only_as_its_stand_in(self, search_index: SearchIndex) -> None:
        search_index.index(PERSONNEL)

        results = self.find(search_index, "", package=PERSONNEL_PACKAGE, facets=("access",), limit=100)

        assert {(hit.masked, hit.title) for hit in results.hits} == {(False, "Staff handbook"), (True, STAND_IN)}
        assert results.total == 2
        masked = next(hit for hit in results.hits if hit.masked)
        assert (masked.path, masked.name, masked.snippet, masked.puid, masked.file_uuid) == (None,) * 5
        assert (masked.access, masked.opening_date, masked.exemption) == (RESTRICTED, OPENS, "s.40")
        assert dict(masked.dublin_core) == {"identifier": ("HR/1/7",), "date": ("1999",)}
        assert self.facet_counts(results)["access"] == {"open": 1, "restricted": 1}
        for hit in results.hits:
            assert SENSITIVE not in repr(hit).lower()

    @pytest.mark.parametrize("text", [SENSITIVE, f"{SENSITIVE[:5]}*", "appraisal", "smith", f"{SENSITIVE}-smith.pdf"])
    def test_no_word_of_a_restricted_record_finds_its_stand_in(self, search_index: SearchIndex, text: str) -> None:
        search_index.index(PERSONNEL)

        results = self.find(search_index, text, facets=FACETS)

        assert results.total == 0, text
        assert all(not counted for counted in results.facets.values())

    def test_a_stand_in_is_found_by_its_redacted_title(self, search_index: SearchIndex) -> None:
        search_index.index(PERSONNEL)

        results = self.find(search_index, "personnel")

        assert [(hit.masked, hit.title, hit.snippet) for hit in results.hits] == [(True, STAND_IN, None)]

    @pytest.mark.parametrize("viewer", [Role.ARCHIVIST, Role.ADMIN])
    def test_staff_see_restricted_records_and_never_a_stand_in(self, search_index: SearchIndex, viewer: Role) -> None:
        search_index.index(PERSONNEL)

        results = self.find(search_index, "", package=PERSONNEL_PACKAGE, viewer=viewer, facets=("access",))
        found = self.find(search_index, SENSITIVE, viewer=viewer)

        assert not any(hit.masked for hit in results.hits)
        assert {hit.title for hit in results.hits} == {"Staff handbook", f"{SENSITIVE} Smith appraisal", "Tribunal"}
        assert self.facet_counts(results)["access"] == {"open": 1, "restricted": 1, "closed": 1}
        assert [(hit.path, hit.masked, hit.exemption) for hit in found.hits] == [(APPRAISAL, False, "s.40")]

    def test_a_restricted_record_opens_on_its_date_and_its_stand_in_goes(self, search_index: SearchIndex) -> None:
        search_index.index(PERSONNEL)
        before = self.find(search_index, "", package=PERSONNEL_PACKAGE, today=OPENS - dt.timedelta(days=1))
        on_the_day = self.find(search_index, "", package=PERSONNEL_PACKAGE, today=OPENS, facets=("access",))

        assert any(hit.masked for hit in before.hits)
        assert not any(hit.masked for hit in on_the_day.hits)
        assert {hit.path for hit in on_the_day.hits} == {HANDBOOK, APPRAISAL, TRIBUNAL}
        assert {hit.access for hit in on_the_day.hits} == {OPEN}
        assert self.facet_counts(on_the_day)["access"] == {"open": 3}
        assert self.find(search_index, SENSITIVE, today=OPENS).total == 1

    def test_access_filter_with_restricted_records(self, search_index: SearchIndex) -> None:
        search_index.index(PERSONNEL)

        def found(viewer: Role, status: AccessStatus) -> list[tuple[str | None, bool]]:
            results = self.find(search_index, "", package=PERSONNEL_PACKAGE, viewer=viewer, access=status)
            return [(hit.title, hit.masked) for hit in results.hits]

        assert found(Role.RESEARCHER, RESTRICTED) == [(STAND_IN, True)]
        assert found(Role.RESEARCHER, CLOSED) == []  # a closed record without a redacted title has no stand-in
        assert found(Role.RESEARCHER, OPEN) == [("Staff handbook", False)]
        assert found(Role.ARCHIVIST, RESTRICTED) == [(f"{SENSITIVE} Smith appraisal", False)]
        assert found(Role.ARCHIVIST, CLOSED) == [("Tribunal", False)]

    def test_a_cursor_never_gives_away_a_stand_in_s_path(self, search_index: SearchIndex) -> None:
        search_index.index(PERSONNEL)
        cursors: list[str] = []
        results = self.find(search_index, "", package=PERSONNEL_PACKAGE, limit=1)
        while results.next_after is not None:
            cursors.append(results.next_after)
            results = self.find(search_index, "", package=PERSONNEL_PACKAGE, limit=1, after=results.next_after)

        assert cursors
        for cursor in cursors:
            decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            assert SENSITIVE.encode() not in decoded.lower()

    def test_a_stand_in_with_content_or_a_name_is_refused(self, search_index: SearchIndex) -> None:
        stand_in = PERSONNEL[-1]
        assert stand_in.masked
        for wrong in (replace(stand_in, content="text"), replace(stand_in, name="smith.pdf")):
            with pytest.raises(SearchError, match="stand-in"):
                search_index.index([wrong])

    # --- purging a package (disposal) ---------------------------------------------------------

    def test_purge_package_leaves_nothing_of_it(self, loaded: SearchIndex) -> None:
        loaded.index(PERSONNEL)

        loaded.purge_package(PERSONNEL_PACKAGE)
        loaded.purge_package(PERSONNEL_PACKAGE)  # again: nothing left to do, and no error

        assert PERSONNEL_PACKAGE not in loaded.packages()
        for viewer in (Role.ADMIN, Role.RESEARCHER):
            assert self.find(loaded, SENSITIVE, viewer=viewer).total == 0
            assert self.find(loaded, "", package=PERSONNEL_PACKAGE, viewer=viewer).total == 0
        assert self.find(loaded, "harbour").total > 0  # the other packages stay

    # Every backend's subclass runs this same method: differing executors is the point, not a mistake.
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
    )
    @given(data=st.data())
    def test_property_a_researcher_sees_exactly_the_contract(self, search_index: SearchIndex, data: Any) -> None:
        documents = data.draw(st.lists(_documents, min_size=1, max_size=25, unique_by=key))
        text = data.draw(_queries)
        options = data.draw(_options)
        search_index.clear()
        search_index.index(documents)

        self.check_query(search_index, documents, text, **options)


# --- random documents and queries for the property test ------------------------------------------

_WORDS = ("harbour", "Montréal", "montreal", "quay", "minutes", "vote", "québec", "pier", "pie")
_day_choices = st.sampled_from([None, YESTERDAY, TODAY, TOMORROW, dt.date(1990, 5, 1)])
_documents = st.builds(
    lambda package, n, title, content, access, opening, risk, creators, fmt, date, role: file_doc(
        package, "random", f"objects/{n}.txt", title, content, fmt, f"r{n}", access=access, opening_date=opening,
        risk=risk, dublin_core={"creator": creators} if creators else {}, date=date, role=role,
    ),
    st.sampled_from([SURVEY, CASES]),
    st.integers(0, 60),
    st.none() | st.lists(st.sampled_from(_WORDS), max_size=3).map(" ".join),
    st.lists(st.sampled_from(_WORDS), max_size=8).map(" ".join),
    st.sampled_from([OPEN, CLOSED]),
    _day_choices,
    st.sampled_from([None, "low", "high"]),
    st.lists(st.sampled_from(["Émile Zola", "emile zola", "Studio Lemieux"]), max_size=2, unique=True).map(tuple),
    st.sampled_from([PDF, TEXT]),
    _day_choices,
    st.sampled_from([None, "original", "metadata"]),
)  # fmt: skip
_terms = st.sampled_from(_WORDS) | st.sampled_from(["mon*", "pi*", "que*", '"harbour quay"', '"quay harbour"'])
_queries = st.recursive(
    _terms,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(" ".join),
        st.lists(inner, min_size=2, max_size=3).map(lambda parts: "(" + " OR ".join(parts) + ")"),
        inner.map(lambda part: f"-({part})"),
        inner.map(lambda part: f"NOT {part}"),
        st.tuples(inner, inner).map(lambda parts: f"({parts[0]} OR -{parts[1]})"),
    ),
    max_leaves=5,
) | st.just("")
_options = st.sampled_from(
    [{}, {"risk": "high"}, {"creator": "EMILE ZOLA"}, {"puid": TEXT[0]}, {"date_from": YESTERDAY},
     {"date_to": TODAY, "sort": "oldest"}, {"access": OPEN}, {"roles": ALL_ROLES}, {"kind": "file"},
     {"viewer": Role.ARCHIVIST}]
)  # fmt: skip
