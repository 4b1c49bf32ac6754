"""Search: the API answers what `strongroom search --json` prints; the page has filters, facets, snippets, pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from strongroom.accounts.model import UserRole
from strongroom.search.base import HIGHLIGHT_END, HIGHLIGHT_START
from strongroom.web.viewing_search import Segment, snippet_segments
from tests.conftest import Home, write
from tests.preservation.samples import pdf_bytes
from tests.web.conftest import Web

HOSTILE_TITLE = "<script>alert(\"x\")</script> & 'harbour'"
HOSTILE_FILE = "<img src=x onerror=alert(1)> harbour.txt"
PDF = "Acrobat PDF 1.4 - Portable Document Format"


@pytest.fixture
def archive(home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("STRONGROOM_EXTRACT_TEXT", "1")  # words from inside the PDF are indexed
    made = {}
    first = tmp_path / "harbour-board"
    write(first / "objects/survey.pdf", pdf_bytes("the cormorant survey of the harbour"))
    write(first / f"objects/{HOSTILE_FILE}", "harbour <b>bold</b> & <script>steal()</script> text")
    for n in range(23):
        write(first / f"objects/tides/tide-{n:02}.txt", f"harbour tide table {n}")
    write(first / "metadata/metadata.csv",
          f'filename,dc.title,dc.date,dc.creator\nobjects,"{HOSTILE_TITLE.replace(chr(34), chr(34) * 2)}",1950,'
          "Harbour Master\nobjects/survey.pdf,Cormorant survey,1962-05-01,Naturalist\n")  # fmt: skip
    made["harbour"] = str(home.ingest(first)["package"])
    second = tmp_path / "ferry-papers"
    write(second / "objects/ferry.txt", "ferry timetable for the harbour crossing")
    write(second / "metadata/metadata.csv", "filename,dc.title,dc.date\nobjects,Ferry papers,1985\n")
    made["ferry"] = str(home.ingest(second)["package"])
    home.ok("access", made["ferry"], "--file", "objects/ferry.txt", "--status", "restricted", "--reason", "personal",
            "--until", "2090-01-01", "--exemption", "s.40", "--redacted-title", "Ferry <staff> list")  # fmt: skip
    return made


@pytest.mark.parametrize(
    ("params", "cli"),
    [
        ({"q": "harbour"}, ["harbour"]),
        ({"q": "harbour", "kind": "file", "page_size": "5", "sort": "oldest"},
         ["harbour", "--filter", "kind=file", "--limit", "5", "--sort", "oldest"]),
        ({"q": "tide", "page": "2", "page_size": "10"}, ["tide", "--limit", "10", "--offset", "10"]),
        ({"format": PDF, "from": "1960", "to": "1965-12", "facet": "all"},
         ["--filter", f"format={PDF}", "--filter", "from=1960", "--filter", "to=1965-12", "--facet", "all"]),
        ({"q": "cormorant", "creator": "Naturalist", "facet": "creator,risk"},
         ["cormorant", "--filter", "creator=Naturalist", "--facet", "creator,risk"]),
        ({"q": "ferry"}, ["ferry"]),
    ],
)  # fmt: skip
@pytest.mark.parametrize(("role", "as_role"), [(UserRole.PUBLIC, "researcher"), (UserRole.ARCHIVIST, "archivist")])
def test_the_api_answers_what_search_json_prints(
    web: Web, home: Home, archive: dict[str, str], params: dict[str, str], cli: list[str], role: UserRole, as_role: str
) -> None:
    printed = home.ok("search", *cli, "--json", "--as", as_role).json()
    answer = web.client.get("/api/v1/search", params=params, headers=web.api_headers(role))

    assert answer.status_code == 200, answer.text
    assert answer.json() == printed
    assert isinstance(printed, dict) and printed["total"] > 0


def test_the_cursor_pages_on_as_the_cli_does(web: Web, home: Home, archive: dict[str, str]) -> None:
    first = web.client.get("/api/v1/search", params={"q": "tide", "page_size": 10}).json()
    cursor = first["next_after"]
    assert cursor
    second = web.client.get("/api/v1/search", params={"q": "tide", "page_size": 10, "after": cursor}).json()
    assert second == home.ok("search", "tide", "--limit", "10", "--page-after", cursor, "--json", "--as",
                             "researcher").json()  # fmt: skip
    assert not {h["path"] for h in first["hits"]} & {h["path"] for h in second["hits"]}


def test_a_word_from_inside_a_pdf_is_found_and_marked(web: Web, archive: dict[str, str]) -> None:
    page = web.client.get("/search", params={"q": "cormorant"})

    assert page.status_code == 200
    assert f'href="/packages/{archive["harbour"]}/files/objects/survey.pdf"' in page.text
    assert "<mark>cormorant</mark>" in page.text.lower()
    assert "Cormorant survey" in page.text and "1962-05-01" in page.text


def test_hostile_titles_file_names_and_snippets_are_escaped(web: Web, archive: dict[str, str]) -> None:
    html = web.client.get("/search", params={"q": "harbour", "page_size": 50}).text

    assert "<script>" not in html.split("</head>")[1].replace('<script type="module"', "")
    assert "<img src=x" not in html and "<b>bold</b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; harbour.txt" in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;harbour&#39;" in html
    assert "&#39;<mark>harbour</mark>&#39;" in html  # a match inside a hostile title: escaped, then marked
    content = web.client.get("/search", params={"q": "steal"}).text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;<mark>steal</mark>()&lt;/script&gt;" in content
    # Every <mark> holds a word, never markup.
    assert all("<" not in m and "&lt;" not in m for m in re.findall(r"<mark>(.*?)</mark>", html + content))


def test_a_stand_in_shows_its_redacted_title_and_exemption_only(web: Web, archive: dict[str, str]) -> None:
    public = web.client.get("/search", params={"q": "ferry"}).text
    staff = web.browser(UserRole.ARCHIVIST).get("/search?q=ferry").text

    assert "Closed record: Ferry &lt;staff&gt; list" in public and "(exemption s.40)" in public
    assert "timetable" not in public and "objects/ferry.txt" not in public
    assert "objects/ferry.txt" in staff and "Closed record" not in staff
    assert "restricted" in staff  # staff see the status of what they find


def test_filters_facets_and_pagination_work_without_javascript(web: Web, archive: dict[str, str]) -> None:
    page = web.client.get("/search", params={"q": "tide"}).text

    assert "23 results" in page and "Showing 1 to 20" in page
    assert 'class="govuk-pagination"' in page and 'href="/search?q=tide&amp;page=2"' in page
    assert 'aria-current="page"' in page
    # The facet form: radios named as the filters, with counts.
    assert re.search(r'name="format" type="radio" value="Plain Text File"', page)
    assert re.search(r"Plain Text File <span[^>]*>\(23\)</span>", page)
    assert 'name="from"' in page and 'for="filter-from"' in page
    second = web.client.get("/search", params={"q": "tide", "page": 2}).text
    assert "Showing 21 to 23" in second and 'rel="prev"' in second and 'rel="next"' not in second
    narrowed = web.client.get("/search", params={"q": "harbour", "format": "Acrobat PDF 1.4 - Portable Document Format",
                                                 "kind": "", "from": "", "to": ""}).text  # fmt: skip
    assert "1 result" in narrowed and "Cormorant survey" in narrowed
    assert re.search(r'value="Acrobat PDF 1.4 - Portable Document Format" checked', narrowed)
    dated = web.client.get("/search", params={"q": "harbour", "from": "1960", "to": "1965"}).text
    assert "1 result" in dated and "Cormorant survey" in dated


def test_no_results_gives_advice(web: Web, archive: dict[str, str]) -> None:
    page = web.client.get("/search", params={"q": "zeppelin"})
    assert page.status_code == 200
    assert "No results" in page.text and "check the spelling" in page.text


def test_bad_parameters_get_a_clear_answer(web: Web, archive: dict[str, str]) -> None:
    bad_date = web.client.get("/api/v1/search", params={"from": "1999-13"})
    assert bad_date.status_code == 400
    assert "from '1999-13' is not a date" in bad_date.json()["error"] and bad_date.json()["hint"]
    page = web.client.get("/search", params={"q": "tide", "to": "soon"})
    assert page.status_code == 400 and "govuk-error-summary" in page.text and "is not a date" in page.text
    assert page.text.count("<h1") == 1
    assert web.client.get("/api/v1/search", params={"access": "secret"}).status_code == 400
    assert web.client.get("/api/v1/search", params={"facet": "colour"}).status_code == 400
    assert web.client.get("/api/v1/search", params={"page_size": 101}).status_code == 422
    deep = web.client.get("/api/v1/search", params={"page": 600, "page_size": 20})
    assert deep.status_code == 400 and "next_after" in " ".join(deep.json()["hint"])
    unknown = web.client.get("/api/v1/search", params={"package": "no-such-package"})
    assert unknown.status_code == 404 and unknown.json()["error"] == "No package 'no-such-package' in this archive."
    nul = web.client.get("/api/v1/search", params={"package": "no\x00package"})  # PostgreSQL cannot compare a NUL
    assert nul.status_code == 404 and nul.json()["error"] == "No package 'no\\x00package' in this archive."


def test_housekeeping_files_only_when_asked_for(web: Web, home: Home, archive: dict[str, str]) -> None:
    params = {"q": "harbour", "include_housekeeping": "true", "page_size": 100, "kind": "file"}
    for role, as_role in ((UserRole.PUBLIC, "researcher"), (UserRole.ARCHIVIST, "archivist")):
        answer = web.client.get("/api/v1/search", params=params, headers=web.api_headers(role)).json()
        printed = home.ok("search", "harbour", "--include-housekeeping", "--filter", "kind=file", "--limit", "100",
                          "--json", "--as", as_role).json()  # fmt: skip
        assert answer == printed
        assert "metadata" in {h["role"] for h in answer["hits"]}
    plain = web.client.get("/api/v1/search", params={**params, "include_housekeeping": "false"}).json()
    assert {h["role"] for h in plain["hits"]} == {"original"}
    # The page offers the choice to staff, who look after those files.
    assert 'name="include_housekeeping"' not in web.client.get("/search?q=harbour").text
    assert 'name="include_housekeeping"' in web.browser(UserRole.ARCHIVIST).get("/search?q=harbour").text


@pytest.mark.parametrize(
    ("snippet", "wanted"),
    [
        (None, []),
        ("plain", [Segment("plain", False)]),
        (f"a {HIGHLIGHT_START}b{HIGHLIGHT_END} c", [Segment("a ", False), Segment("b", True), Segment(" c", False)]),
        (f"{HIGHLIGHT_START}<x>{HIGHLIGHT_END}", [Segment("<x>", True)]),
        (f"open {HIGHLIGHT_START}never closed", [Segment("open never closed", False)]),
        (f"{HIGHLIGHT_START}{HIGHLIGHT_END}x", [Segment("x", False)]),
    ],
)  # fmt: skip
def test_snippet_segments(snippet: str | None, wanted: list[Segment]) -> None:
    assert snippet_segments(snippet) == wanted
