"""Closure periods and FOI exemptions, and what a researcher sees of closed and restricted records.

Pure rules first (exemption codes, opening dates), then a real archive: `strongroom access` with the
closure options, the journal entry, search, show, export and DIP as a researcher, on the day before a
record opens and on the day it opens.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from strongroom.archive import Archive
from strongroom.config import load_settings
from strongroom.errors import NotFound, StrongroomError
from strongroom.model import AccessStatus, DublinCore, FileRecord, FileRole
from strongroom.preservation.dip import build_dip
from strongroom.records.closure import (
    ClosureTerms,
    closure_terms,
    exemptions,
    last_record_date,
    normalise_exemption,
    resolve,
)
from strongroom.records.journal_data import access_rule_of
from strongroom.records.model import Period
from strongroom.records.viewing import ResearcherDetails, RestrictedView
from strongroom.search.base import ALL_ROLES, Role, SearchQuery
from tests.conftest import Home, write

CLOSED, RESTRICTED, OPEN = AccessStatus.CLOSED, AccessStatus.RESTRICTED, AccessStatus.OPEN
SECRET = "quillwortsmith"  # only in the restricted record's name, title and text


# --- exemption codes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "code"),
    [("40", "s.40"), ("s40", "s.40"), ("S.40", "s.40"), (" section 41 ", "s.41"), ("s.22a", "s.22A"),
     ("reg13", "reg.13"), ("Reg. 12(4)(e)", "reg.12(4)(e)"), ("12(5)(b)", "reg.12(5)(b)"), ("ｓ４０", "s.40")],
)  # fmt: skip
def test_exemption_codes_are_normalised(given: str, code: str) -> None:
    assert normalise_exemption(given) == code


@pytest.mark.parametrize("given", ["99", "s.25", "reg.14", "", "s.40; DROP TABLE", "<script>", "reg.12(4)"])
def test_an_unknown_exemption_is_refused_with_the_known_ones_listed(given: str) -> None:
    with pytest.raises(StrongroomError) as caught:
        normalise_exemption(given)
    listed = " ".join(caught.value.details)
    assert "s.40 (Personal information)" in listed and "reg.13 (Personal data)" in listed


def test_the_exemption_list_is_the_foi_act_and_the_eir() -> None:
    codes = set(exemptions())
    assert {f"s.{n}" for n in (*range(21, 25), *range(26, 45))} <= codes
    assert {"s.22A", "reg.13"} <= codes
    assert {f"reg.12(4)({c})" for c in "abcde"} <= codes and {f"reg.12(5)({c})" for c in "abcdefg"} <= codes
    assert exemptions()["s.41"].name == "Information provided in confidence"


# --- opening dates --------------------------------------------------------------------------------


def test_the_opening_date_is_start_plus_period() -> None:
    terms = closure_terms("2000-03-31", "P20Y", "40", None)
    closure = resolve(CLOSED, None, terms, None)
    assert (closure.opening_date, closure.start, closure.period, closure.exemption) == (
        dt.date(2020, 3, 31), dt.date(2000, 3, 31), "P20Y", "s.40",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("start", "period", "opens"),
    [("2000-02-29", "P1Y", dt.date(2001, 2, 28)), ("2000-02-29", "P4Y", dt.date(2004, 2, 29)),
     ("2000-02-29", "P100Y", dt.date(2100, 2, 28)), ("2019-01-31", "P1M", dt.date(2019, 2, 28)),
     ("1950-06-01", "P75Y", dt.date(2025, 6, 1))],
)  # fmt: skip
def test_opening_dates_across_29_february_and_month_ends(start: str, period: str, opens: dt.date) -> None:
    assert resolve(RESTRICTED, None, closure_terms(start, period, None, None), None).opening_date == opens


def test_open_on_new_year_moves_a_computed_date_to_the_next_1_january() -> None:
    terms = closure_terms("1999-12-31", "P20Y", None, None)
    assert resolve(CLOSED, None, terms, None, open_on_new_year=True).opening_date == dt.date(2020, 1, 1)
    assert resolve(CLOSED, None, terms, None).opening_date == dt.date(2019, 12, 31)
    # --until is a date someone chose: it is never moved.
    assert resolve(CLOSED, dt.date(2030, 5, 5), None, None, open_on_new_year=True).opening_date == dt.date(2030, 5, 5)


def test_last_record_is_the_latest_dublin_core_or_modified_date_of_the_originals() -> None:
    def record(path: str, modified: dt.date, role: FileRole = FileRole.ORIGINAL) -> FileRecord:
        when = dt.datetime(modified.year, modified.month, modified.day, tzinfo=dt.UTC)
        return FileRecord(path, path, path, 1, "0" * 64, role, None, modified=when)

    files = [record("objects/a/1.txt", dt.date(1980, 1, 1)), record("objects/b/2.txt", dt.date(1985, 5, 5)),
             record("logs/x.log", dt.date(2024, 1, 1), FileRole.LOG)]  # fmt: skip
    descriptions = [DublinCore("objects/a/1.txt", {"date": ("1979/1982",)}), DublinCore("objects", {"date": ("1970",)})]

    assert last_record_date(files, descriptions, None) == dt.date(1985, 5, 5)
    assert last_record_date(files, descriptions, "objects/a") == dt.date(1982, 12, 31)
    assert last_record_date([], [], None) is None


@pytest.mark.parametrize(
    ("status", "until", "terms", "message"),
    [
        (CLOSED, dt.date(2040, 1, 1), ClosureTerms(start=dt.date(2000, 1, 1), period=Period(20)), "not both"),
        (CLOSED, None, ClosureTerms(period=Period(20)), "both a start and a length"),
        (CLOSED, None, ClosureTerms(start=dt.date(2000, 1, 1)), "both a start and a length"),
        (OPEN, dt.date(2040, 1, 1), None, "An open record has no closure"),
        (OPEN, None, ClosureTerms(exemption="s.40"), "An open record has no closure"),
        (CLOSED, None, ClosureTerms(from_last_record=True, period=Period(20)), "No record has a date"),
    ],
)
def test_contradictory_terms_are_refused(
    status: AccessStatus, until: dt.date | None, terms: ClosureTerms | None, message: str
) -> None:
    with pytest.raises(StrongroomError, match=message):
        resolve(status, until, terms, None)


@pytest.mark.parametrize(
    ("start", "period", "title", "message"),
    [("yesterday", "P20Y", None, "neither a day"), ("2000-01-01", "PT5H", None, "not a retention period"),
     ("2000-01-01", "P0D", None, "closes nothing"), (None, None, "  ", "empty"),
     (None, None, "line\nbreak\u202e", "control"), (None, None, "x" * 501, "500")],
)  # fmt: skip
def test_bad_closure_options_are_refused(
    start: str | None, period: str | None, title: str | None, message: str
) -> None:
    with pytest.raises(StrongroomError, match=message):
        closure_terms(start, period, None, title)


def test_open_on_new_year_is_a_records_setting(tmp_path: Path) -> None:
    Archive.create(tmp_path / "a", "Test", "T")
    config = tmp_path / "a" / "strongroom.toml"
    assert load_settings(tmp_path / "a").open_on_new_year is False
    config.write_text(config.read_text() + "\n[records]\nopen_on_new_year = true\n")
    assert load_settings(tmp_path / "a").open_on_new_year is True
    assert load_settings(tmp_path / "a", {"STRONGROOM_OPEN_ON_NEW_YEAR": "false"}).open_on_new_year is False


# --- a real archive ---------------------------------------------------------------------------------


@pytest.fixture
def personnel(home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A package with an open handbook, a restricted appraisal and a closed grievance (hostile titles)."""
    monkeypatch.setenv("STRONGROOM_EXTRACT_TEXT", "1")  # the records' words are in the index, to be kept from view
    root = tmp_path / "personnel"
    write(root / "objects/handbook.txt", "leave and pay rules for harbour staff")
    write(root / f"objects/hr/{SECRET}-appraisal.txt", f"appraisal of {SECRET}: harbour duties")
    write(root / "objects/hr/grievance.txt", "grievance hearing about the harbour crane")
    write(
        root / "metadata/metadata.csv",
        "filename,dc.title,dc.identifier,dc.date,dc.creator\n"
        "objects,Harbour personnel files,HR/1,1995/1999,Harbour Board\n"
        f'objects/hr/{SECRET}-appraisal.txt,"{SECRET} <b>appraisal</b>",HR/1/7,1999-06-30,{SECRET}\n'
        "objects/hr/grievance.txt,Grievance of a crane driver,HR/1/8,1998,Union\n",
    )
    long_ago = dt.datetime(1990, 1, 1, tzinfo=dt.UTC).timestamp()
    for path in (root / "objects").rglob("*.txt"):
        os.utime(path, (long_ago, long_ago))  # so the last record's date is the Dublin Core one
    return str(home.ingest(root)["package"])


APPRAISAL = f"objects/hr/{SECRET}-appraisal.txt"
GRIEVANCE = "objects/hr/grievance.txt"
OPENS = dt.date(2070, 1, 1)


def restrict(home: Home, package: str) -> None:
    home.ok("access", package, "--file", APPRAISAL, "--status", "restricted", "--reason", "personal data",
            "--until", OPENS.isoformat(), "--exemption", "40", "--redacted-title", "Appraisal <staff>")  # fmt: skip
    home.ok("access", package, "--file", GRIEVANCE, "--status", "closed", "--reason", "in confidence",
            "--closure-start", "last-record", "--period", "P72Y", "--exemption", "s41")  # fmt: skip


def test_access_with_a_closure_period_in_json_and_in_the_journal(home: Home, personnel: str) -> None:
    answer = home.ok("access", personnel, "--file", GRIEVANCE, "--status", "closed", "--reason", "in confidence",
                     "--closure-start", "last-record", "--period", "P72Y", "--exemption", "S.41",
                     "--redacted-title", "  Grievance   file ", "--json").json()  # fmt: skip

    assert isinstance(answer, dict)
    # The last record of the grievance is dated 1998: read as the end of that year.
    wanted = ("path", "status", "closure_start", "closure_period", "opening_date", "exemption", "redacted_title")
    assert {k: answer[k] for k in wanted} == {
        "path": GRIEVANCE,
        "status": "closed",
        "closure_start": "1998-12-31",
        "closure_period": "P72Y",
        "opening_date": "2070-12-31",
        "exemption": "s.41",
        "redacted_title": "Grievance file",
    }
    with home.archive() as archive:
        entry = next(e for e in archive.journal.entries() if e.event.uuid == answer["event"])
        rule = next(r for r in archive.catalog.access_rules(personnel) if r.path == GRIEVANCE)
    assert access_rule_of(entry) == rule
    assert (rule.exemption, rule.closure_period, rule.redacted_title) == ("s.41", "P72Y", "Grievance file")
    for words in ("closure period P72Y from 1998-12-31", "opening on 2070-12-31", "exemption s.41"):
        assert words in entry.event.outcome_detail


@pytest.mark.parametrize(
    ("options", "message"),
    [(["--until", "2040-01-01", "--closure-start", "2000-01-01", "--period", "P20Y"], "not both"),
     (["--exemption", "99"], "not an exemption"), (["--until", "soon"], "not a date"),
     (["--period", "P20Y"], "start and a length")],
)  # fmt: skip
def test_refusals_exit_2_and_journal_nothing(home: Home, personnel: str, options: list[str], message: str) -> None:
    with home.archive() as archive:
        before = len(list(archive.journal.entries()))
    result = home.run("access", personnel, "--status", "closed", "--reason", "r", *options, "--json")

    assert result.exit_code == 2
    assert message in json.loads(result.stderr)["error"]
    with home.archive() as archive:
        assert len(list(archive.journal.entries())) == before


def test_a_researcher_finds_the_stand_in_until_the_record_opens(home: Home, personnel: str) -> None:
    restrict(home, personnel)
    before, on_the_day = OPENS - dt.timedelta(days=1), OPENS
    with home.archive() as archive:

        def find(text: str, day: dt.date, viewer: Role = Role.RESEARCHER) -> list[tuple[str | None, bool]]:
            """The files found: a record by its path, a stand-in by its title."""
            results = archive.search(SearchQuery(text=text, viewer=viewer, today=day, kind="file", limit=100))
            return sorted((hit.title if hit.masked else hit.path, hit.masked) for hit in results.hits)

        hits = archive.search(SearchQuery(text="harbour", today=before, limit=100)).hits
        assert hits and SECRET not in repr(hits).lower()
        assert find("harbour", before) == [("objects/handbook.txt", False)]  # the closed grievance: nowhere
        assert find("appraisal", before) == [("Appraisal <staff>", True)]
        assert find(SECRET, before) == []
        assert find("grievance", before) == []
        assert find(SECRET, before, Role.ARCHIVIST) == [(APPRAISAL, False)]
        # On the opening day the record itself shows, and the stand-in is gone.
        assert find("appraisal", on_the_day) == [(APPRAISAL, False)]
        assert find("harbour", on_the_day) == [("objects/handbook.txt", False), (APPRAISAL, False)]
        assert find("grievance", dt.date(2070, 12, 31)) == [(GRIEVANCE, False)]
        masked = [h for h in archive.search(SearchQuery(text="appraisal", today=before)).hits if h.masked]
        assert [(h.path, h.name, h.snippet, h.exemption, h.opening_date) for h in masked] == [
            (None, None, None, "s.40", OPENS)
        ]


def test_show_as_a_researcher(home: Home, personnel: str) -> None:
    restrict(home, personnel)
    shown = home.ok("show", personnel, "--as", "researcher", "--json").json()
    staff = home.ok("show", personnel, "--json").json()

    assert isinstance(shown, dict) and isinstance(staff, dict)
    assert SECRET not in json.dumps(shown).lower() and "grievance" not in json.dumps(shown).lower()
    assert SECRET in json.dumps(staff).lower()
    assert shown["withheld"] == 1
    assert [(r["title"], r["identifier"], r["exemption"], r["opening_date"]) for r in shown["restricted"]] == [
        ("Appraisal <staff>", ["HR/1/7"], "s.40", OPENS.isoformat())
    ]
    assert shown["events"] == [] and shown["access"] == []
    text = home.ok("show", personnel, "--as", "researcher").stdout
    assert "Appraisal <staff>" in text and SECRET not in text.lower()
    with home.archive() as archive:
        viewed = archive.details(personnel, Role.RESEARCHER, today=OPENS)
    assert isinstance(viewed, ResearcherDetails)
    assert (viewed.withheld, viewed.masked) == (1, ())  # the appraisal is open; the grievance opens 2070-12-31


def test_a_closed_package_is_unknown_to_a_researcher_and_a_restricted_one_is_a_stand_in(
    home: Home, personnel: str
) -> None:
    unknown = home.run("show", "00000000-0000-4000-8000-000000000000", "--as", "researcher", "--json")
    home.ok("access", personnel, "--status", "closed", "--reason", "sealed", "--until", OPENS.isoformat())
    closed = home.run("show", personnel, "--as", "researcher", "--json")

    assert closed.exit_code == unknown.exit_code == 2
    message = json.loads(closed.stderr)["error"]
    assert message == json.loads(unknown.stderr)["error"].replace("00000000-0000-4000-8000-000000000000",
                                                                              personnel)  # fmt: skip
    home.ok("access", personnel, "--status", "restricted", "--reason", "personal data", "--until",
            OPENS.isoformat(), "--exemption", "reg13")  # fmt: skip
    view = home.ok("show", personnel, "--as", "researcher", "--json").json()
    assert view == {
        "uuid": personnel, "status": "restricted", "masked": True, "title": "Restricted record",
        "identifier": ["HR/1"], "dates": ["1995/1999"], "exemption": "reg.13", "opening_date": OPENS.isoformat(),
    }  # fmt: skip
    with home.archive() as archive:
        assert isinstance(archive.details(personnel, Role.RESEARCHER), RestrictedView)
        opened = archive.details(personnel, Role.RESEARCHER, today=OPENS)
        assert isinstance(opened, ResearcherDetails)


def test_export_as_a_researcher_only_when_every_record_is_open(home: Home, personnel: str, tmp_path: Path) -> None:
    home.ok("export", personnel, str(tmp_path / "all-open"), "--as", "researcher")
    restrict(home, personnel)

    refused = home.run("export", personnel, str(tmp_path / "out"), "--as", "researcher")
    assert refused.exit_code == 2
    assert "strongroom dip" in refused.stdout + refused.stderr
    assert not (tmp_path / "out").exists()
    home.ok("export", personnel, str(tmp_path / "staff"))  # archivists export everything, as before
    with home.archive() as archive:
        # On a day when every record is open, a researcher may have it.
        path = archive.export(personnel, tmp_path / "later", viewer=Role.RESEARCHER, today=dt.date(2071, 1, 1))
        assert path.is_dir()
        home.ok("access", personnel, "--status", "closed", "--reason", "sealed")
        with pytest.raises(NotFound, match="No package"):
            archive.export(personnel, tmp_path / "never", viewer=Role.RESEARCHER)


def test_a_dip_withholds_restricted_records_and_lists_their_stand_in_titles(
    home: Home, personnel: str, tmp_path: Path
) -> None:
    restrict(home, personnel)
    with home.archive() as archive:
        report = build_dip(archive, personnel, tmp_path / "dip", viewer_role=Role.RESEARCHER)
        opened = build_dip(archive, personnel, tmp_path / "later", viewer_role=Role.RESEARCHER,
                           today=dt.date(2071, 1, 1))  # fmt: skip

    assert report.withheld == 2
    assert report.withheld_restricted == ("Appraisal <staff>",)
    given = b"".join(p.read_bytes() for p in report.path.rglob("*") if p.is_file())
    assert SECRET.encode() not in given.lower() and b"grievance" not in given.lower()
    assert (opened.withheld, opened.withheld_restricted) == (0, ())
    assert report.to_json()["withheld_restricted"] == ["Appraisal <staff>"]


# --- review: a restricted or closed package is one record to a researcher ----------------------------


def test_a_restricted_package_is_one_stand_in_not_one_per_file(home: Home, personnel: str) -> None:
    """Per-file stand-ins of a restricted package gave away how many files it holds, their references and dates."""
    home.ok("access", personnel, "--status", "restricted", "--reason", "personal data", "--until",
            OPENS.isoformat(), "--redacted-title", "Staff files")  # fmt: skip
    before = OPENS - dt.timedelta(days=1)
    with home.archive() as archive:
        everything = archive.search(SearchQuery(text="", today=before, limit=100, facets=("access",)))
        assert [(h.title, h.path, h.masked, h.role) for h in everything.hits] == [("Staff files", None, True, None)]
        assert everything.total == 1
        assert [(c.value, c.count) for c in everything.facets["access"]] == [("restricted", 1)]
        # The files' own references (HR/1/7, HR/1/8) and dates are nowhere to be found.
        assert archive.search(SearchQuery(text="HR/1/7", today=before)).total == 0
        assert archive.search(SearchQuery(text="", kind="file", today=before)).total == 0
        assert archive.search(SearchQuery(text="", today=before, date_from=dt.date(1999, 6, 1))).total == 0
        # Staff see every record, and on its opening day a researcher does too.
        assert archive.search(SearchQuery(text="", viewer=Role.ARCHIVIST, kind="file", today=before)).total == 3
        opened = archive.search(SearchQuery(text="", kind="file", today=OPENS, limit=100))
        assert sorted(h.path or "" for h in opened.hits) == sorted([APPRAISAL, GRIEVANCE, "objects/handbook.txt"])
        assert not any(h.masked for h in opened.hits)


def test_a_restricted_file_does_not_give_away_its_closed_package(home: Home, personnel: str) -> None:
    restrict(home, personnel)  # the appraisal is restricted, with a redacted title
    home.ok("access", personnel, "--status", "closed", "--reason", "sealed", "--until", "2060-01-01")
    with home.archive() as archive:
        found = archive.search(SearchQuery(text="", today=dt.date(2059, 12, 31), limit=100, roles=ALL_ROLES))
        assert (found.total, found.hits) == (0, ())
        assert archive.search(SearchQuery(text="appraisal", today=dt.date(2059, 12, 31))).total == 0


def test_the_search_table_does_not_call_a_file_stand_in_the_whole_package(home: Home, personnel: str) -> None:
    restrict(home, personnel)
    text = home.ok("search", "appraisal", "--as", "researcher").stdout

    assert "Appraisal <staff>" in text
    assert "(whole package)" not in text and "(a record of the package: not shown)" in text


def test_a_researcher_export_of_a_closed_package_says_no_more_than_for_an_unknown_one(
    home: Home, personnel: str, tmp_path: Path
) -> None:
    home.ok("access", personnel, "--status", "closed", "--reason", "sealed")
    unknown = "00000000-0000-4000-8000-000000000000"
    for extra in ([], ["--version", "7"]):
        closed = home.run("export", personnel, str(tmp_path / "out"), "--as", "researcher", *extra)
        none = home.run("export", unknown, str(tmp_path / "out"), "--as", "researcher", *extra)
        assert closed.exit_code == none.exit_code == 2
        assert closed.stderr.replace(personnel, unknown) == none.stderr, extra
    assert not (tmp_path / "out").exists()


def test_closure_terms_and_what_a_researcher_finds_survive_rebuild(home: Home, personnel: str) -> None:
    restrict(home, personnel)  # a restricted file (--until, exemption, redacted title), a closed one (start + period)
    home.ok("access", personnel, "--file", "objects/handbook.txt", "--status", "closed", "--reason", "in confidence",
            "--closure-start", "2001-02-03", "--period", "P30Y", "--redacted-title", "Handbook")  # fmt: skip
    home.ok("access", personnel, "--file", "objects/handbook.txt", "--status", "open", "--reason", "cleared")
    before_day = OPENS - dt.timedelta(days=1)

    def seen(archive: Archive) -> list[tuple[str | None, str | None, bool]]:
        hits = archive.search(SearchQuery(text="", today=before_day, limit=100, roles=ALL_ROLES)).hits
        return sorted(((h.path, h.title, h.masked) for h in hits), key=repr)

    with home.archive() as archive:
        rules = archive.catalog.access_rules(personnel)
        found = seen(archive)
    assert {(r.path, r.status, r.closure_start, r.closure_period, r.exemption, r.redacted_title) for r in rules} == {
        (APPRAISAL, RESTRICTED, None, None, "s.40", "Appraisal <staff>"),
        (GRIEVANCE, CLOSED, dt.date(1998, 12, 31), "P72Y", "s.41", None),
        ("objects/handbook.txt", OPEN, None, None, None, None),  # re-opened: its stand-in went with the closure
    }
    assert (None, "Appraisal <staff>", True) in found and ("objects/handbook.txt", "handbook.txt", False) in found
    assert not any(title == "Handbook" for _, title, _ in found)

    home.ok("rebuild")
    with home.archive() as archive:
        assert archive.catalog.access_rules(personnel) == rules
        assert seen(archive) == found


def test_a_name_shared_with_a_closed_package_does_not_list_it_to_a_researcher(
    home: Home, personnel: str, tmp_path: Path
) -> None:
    twin = write(tmp_path / "twin" / "personnel" / "objects" / "roster.txt", "duty roster")
    other = str(home.ingest(twin.parent.parent)["package"])
    home.ok("access", personnel, "--status", "closed", "--reason", "sealed")
    staff = home.run("show", "personnel", "--json")
    assert staff.exit_code == 2 and personnel in staff.stderr and other in staff.stderr  # staff choose

    shown = home.ok("show", "personnel", "--as", "researcher", "--json").json()
    assert isinstance(shown, dict) and shown["package"] == other  # the one package a researcher may know of
    assert home.ok("export", "personnel", str(tmp_path / "out"), "--as", "researcher").exit_code == 0
    home.ok("access", other, "--status", "closed", "--reason", "sealed too")
    hidden = home.run("show", "personnel", "--as", "researcher", "--json")
    unknown = home.run("show", "no-such-name", "--as", "researcher", "--json")
    assert hidden.exit_code == unknown.exit_code == 2
    assert personnel not in hidden.stderr and other not in hidden.stderr
    assert json.loads(hidden.stderr)["error"] == json.loads(unknown.stderr)["error"].replace("no-such-name",
                                                                                             "personnel")  # fmt: skip
    home.ok("access", personnel, "--status", "restricted", "--reason", "stand-in", "--redacted-title", "Sealed")
    home.ok("access", other, "--status", "open", "--reason", "cleared")
    both = home.run("show", "personnel", "--as", "researcher", "--json")
    assert both.exit_code == 2
    # Both may be known of; the restricted one by its stand-in title only.
    assert "Sealed" in both.stderr and other in both.stderr and both.stderr.count("personnel") == 2


def test_search_by_a_closed_package_answers_a_researcher_as_for_an_unknown_one(home: Home, personnel: str) -> None:
    home.ok("access", personnel, "--status", "closed", "--reason", "sealed")
    staff = home.ok("search", "", "--package", "personnel", "--json").json()
    assert isinstance(staff, dict) and staff["total"] > 0
    for ref in ("personnel", personnel):
        closed = home.run("search", "", "--as", "researcher", "--package", ref, "--json")
        unknown = home.run("search", "", "--as", "researcher", "--package", "no-such-package", "--json")
        assert closed.exit_code == unknown.exit_code == 2
        assert json.loads(closed.stderr)["error"] == json.loads(unknown.stderr)["error"].replace("no-such-package", ref)
    home.ok("access", personnel, "--status", "restricted", "--reason", "stand-in", "--redacted-title", "Sealed")
    found = home.ok("search", "", "--as", "researcher", "--package", personnel, "--json").json()
    assert isinstance(found, dict) and [h["title"] for h in found["hits"]] == ["Sealed"]
