"""Loading retention schedules: TOML, CSV, the UK local-government guidance shape; whole-file validation; versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.archive import Archive
from strongroom.errors import StrongroomError
from strongroom.records.journal_data import SCHEDULE_EVENT, schedule_of
from strongroom.records.model import DisposalAction, Period, Trigger
from strongroom.records.schedules import load_schedules, parse_action, parse_trigger
from tests.conftest import Home, write

FIXTURES = Path(__file__).parent / "fixtures"
LG = FIXTURES / "lg-retention-schedule.csv"
HOSTILE = "hello? sausage/êé/Hello, 世界/ \" ' @ < > & ? + ≠/z <script>alert(1)</script>"

TOML = """
[[schedule]]
code = "FIN-01"
title = "Invoices"
description = "Paid and unpaid invoices"
authority = "HMRC VAT Notice 700/21"
period = "P6Y"
trigger = "last-record"
action = "destroy"

[[schedule]]
code = "HR-02"
title = "Contracts of employment"
authority = "Limitation Act 1980"
period = "P7Y"
trigger = "event:employment-end"
action = "transfer"
transfer_to = "County Record Office"
"""


def _load(archive: Archive, path: Path, reason: str | None = None):
    return load_schedules(archive, path, reason=reason, operator="test-archivist")


def test_toml_loads_every_field(home: Home, tmp_path: Path) -> None:
    path = write(tmp_path / "schedules.toml", TOML)
    with home.archive() as archive:
        report = _load(archive, path)
        assert [(s.code, s.version, s.changed) for s in report.loaded] == [("FIN-01", 1, False), ("HR-02", 1, False)]
        fin = archive.catalog.schedule("FIN-01")
        hr = archive.catalog.schedule("HR-02")
    assert fin is not None and hr is not None
    assert (fin.title, fin.description, fin.authority) == (
        "Invoices",
        "Paid and unpaid invoices",
        "HMRC VAT Notice 700/21",
    )
    assert (fin.period, fin.trigger, fin.action, fin.transfer_to) == (
        Period(years=6),
        Trigger.LAST_RECORD,
        DisposalAction.DESTROY,
        None,
    )
    assert (hr.trigger, hr.trigger_event, hr.trigger_text()) == (
        Trigger.EVENT,
        "employment-end",
        "event:employment-end",
    )
    assert (hr.action, hr.transfer_to) == (DisposalAction.TRANSFER, "County Record Office")
    assert fin.reason == "loaded from schedules.toml"


def test_csv_with_the_plain_header(home: Home, tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.csv",
        "code,title,description,authority,period,trigger,action\n"
        'A-1,Minutes,"Board minutes, signed",Companies Act 2006 s.248,P10Y,creation,review\n',
    )
    with home.archive() as archive:
        _load(archive, path, reason="annual review of the schedule")
        a1 = archive.catalog.schedule("A-1")
    assert a1 is not None
    assert (a1.description, a1.period, a1.action, a1.reason) == (
        "Board minutes, signed",
        Period(years=10),
        DisposalAction.REVIEW,
        "annual review of the schedule",
    )


def test_a_description_column_wins_over_function_which_then_titles_the_schedule(home: Home, tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.csv",
        "Reference,Function,Description,Retention period,Disposal action\n"
        "LG-2.4,Personnel files,Files of former employees,Termination of employment + 6 years,Destroy\n",
    )
    with home.archive() as archive:
        _load(archive, path)
        schedule = archive.catalog.schedule("LG-2.4")
    assert schedule is not None
    assert (schedule.title, schedule.description) == ("Personnel files", "Files of former employees")


def test_the_local_government_guidance_shape_loads_without_editing(home: Home) -> None:
    result = home.ok("retention", "load", str(LG), "--json").json()
    assert isinstance(result, dict)
    assert len(result["loaded"]) == 8 and result["unchanged"] == 0
    assert any("termination-of-contract" in note for note in result["notes"])
    with home.archive() as archive:
        s = {x.code: x for x in archive.catalog.schedules()}
    assert (s["LG-1.1"].action, s["LG-1.1"].period) == (DisposalAction.RETAIN, None)
    assert s["LG-1.1"].authority == "Local Government Act 1972 s.228"
    assert s["LG-1.1"].description.startswith("Signed minutes")  # Description wins over the later Notes column
    assert (s["LG-1.2"].trigger, s["LG-1.2"].period) == (Trigger.CREATION, Period(years=6))  # Current year + 6 years
    assert s["LG-2.4"].trigger_text() == "event:termination-of-contract"
    assert (s["LG-2.4"].period, s["LG-2.4"].action) == (Period(years=12), DisposalAction.DESTROY)
    assert s["LG-2.5"].trigger_text() == "event:termination-of-contract"  # a phrase in the trigger column
    assert (s["LG-3.1"].trigger, s["LG-3.1"].action) == (Trigger.LAST_RECORD, DisposalAction.REVIEW)
    assert (s["LG-4.2"].action, s["LG-4.2"].transfer_to) == (DisposalAction.RETAIN, "County Record Office")
    assert (s["LG-5.7"].trigger, s["LG-5.7"].action) == (Trigger.CLOSURE, DisposalAction.DESTROY)
    assert (s["LG-6.1"].action, s["LG-6.1"].transfer_to) == (DisposalAction.TRANSFER, "Archives")
    assert s["LG-1.2"].title == "Committee working papers"


def test_loading_the_same_file_again_makes_no_version_and_no_journal_entry(home: Home, tmp_path: Path) -> None:
    path = write(tmp_path / "schedules.toml", TOML)
    with home.archive() as archive:
        _load(archive, path)
        before = len(list(archive.journal.entries()))
        again = _load(archive, path)
        assert again.loaded == () and again.unchanged == 2
        assert len(list(archive.journal.entries())) == before
        assert len(archive.catalog.schedules(all_versions=True)) == 2


def test_a_changed_schedule_gets_a_new_version_and_packages_keep_theirs(home: Home, tmp_path: Path) -> None:
    transfer = write(tmp_path / "t" / "letter.txt", "Dear Sir")
    path = write(tmp_path / "schedules.toml", TOML)
    with home.archive() as archive:
        _load(archive, path)
    package = home.ingest(transfer.parent, "--retention", "FIN-01")["package"]
    write(path, TOML.replace('period = "P6Y"', 'period = "P7Y"'))
    with home.archive() as archive:
        report = _load(archive, path, reason="HMRC now asks for seven years")
        assert [(s.code, s.version, s.changed) for s in report.loaded] == [("FIN-01", 2, True)]
        assert report.unchanged == 1
        current = archive.catalog.schedule("FIN-01")
        first = archive.catalog.schedule("FIN-01", 1)
        assert current is not None and first is not None
        assert (current.version, current.period, current.reason) == (
            2,
            Period(years=7),
            "HMRC now asks for seven years",
        )
        assert first.period == Period(years=6)
        assignment = archive.catalog.retention(str(package))
        assert assignment is not None and (assignment.code, assignment.version) == ("FIN-01", 1)
        journalled = [schedule_of(e) for e in archive.journal.entries() if e.event.type == SCHEDULE_EVENT]
        assert [(s.code, s.version) for s in journalled if s] == [("FIN-01", 1), ("HR-02", 1), ("FIN-01", 2)]
        assert all(e.package == "" for e in archive.journal.entries() if e.event.type == SCHEDULE_EVENT)
    listed = home.ok("retention", "list", "--all-versions", "--json").json()
    assert isinstance(listed, dict)
    assert sorted((s["code"], s["version"]) for s in listed["schedules"]) == [
        ("FIN-01", 1),
        ("FIN-01", 2),
        ("HR-02", 1),
    ]
    current_only = home.ok("retention", "list", "--json").json()
    assert isinstance(current_only, dict)
    assert sorted((s["code"], s["version"], s["period"]) for s in current_only["schedules"]) == [
        ("FIN-01", 2, "P7Y"),
        ("HR-02", 1, "P7Y"),
    ]


def test_every_bad_row_is_named_and_nothing_is_loaded(home: Home, tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.csv",
        "code,title,description,authority,period,trigger,action\n"
        "OK-1,Fine,,,P1Y,creation,destroy\n"
        "BAD-1,Bad period,,,six yeers,creation,destroy\n"
        "BAD-2,Bad action,,,P1Y,creation,burn it\n"
        ",No code,,,P1Y,creation,destroy\n"
        "BAD-3,Bad trigger,,,P1Y,creaton,destroy\n"
        "OK-1,Twice,,,P1Y,creation,destroy\n"
        "BAD-4,Permanent but destroyed,,,Permanent,,destroy\n",
    )
    result = home.run("retention", "load", str(path))
    assert result.exit_code == 2
    for expected in ("line 3: period 'six yeers'", "line 4: action 'burn it'", "line 5: code is empty",
                     "line 6: trigger 'creaton'", "line 7: code 'OK-1' is already given at line 2",
                     "line 8: period 'Permanent' is permanent"):  # fmt: skip
        assert expected in result.stderr, expected
    assert "nothing was loaded" in result.stderr
    with home.archive() as archive:
        assert archive.catalog.schedules(all_versions=True) == []
        assert list(archive.journal.entries()) == []


def test_a_missing_column_is_named(home: Home, tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "code,title,period\nA,Title,P1Y\n")
    result = home.run("retention", "load", str(path))
    assert result.exit_code == 2
    assert "has no action column" in result.stderr


def test_bom_semicolons_and_a_value_over_several_lines(home: Home, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "\ufeffReference;Title;Description;Retention period;Action at end of retention\r\n"
        'X-1;Title;"first line\r\nsecond line";Closure of file + 2 years;Destroy\r\n'
        "X-2;Other;;Closure of file + two years;Destroy\r\n".encode()
    )
    result = home.run("retention", "load", str(path))
    assert result.exit_code == 2
    assert "line 4: period 'Closure of file + two years'" in result.stderr  # the row after the two-line one
    write(path, path.read_text(encoding="utf-8-sig").replace("two years", "3 years"))
    home.ok("retention", "load", str(path))
    with home.archive() as archive:
        x1 = archive.catalog.schedule("X-1")
        assert x1 is not None and x1.description == "first line\nsecond line"
        assert (x1.trigger, x1.period) == (Trigger.CLOSURE, Period(years=2))


def test_hostile_text_is_kept_as_text(home: Home, tmp_path: Path) -> None:
    def quoted(text: str) -> str:
        return '"' + text.replace('"', '""') + '"'

    code = '=HYPERLINK("x")/≠'
    path = write(
        tmp_path / "hostile.csv",
        "code,title,description,authority,period,trigger,action,transfer_to\n"
        f"{quoted(code)},{quoted(HOSTILE)},{quoted(HOSTILE)},{quoted(HOSTILE)},P1Y,{quoted('event:' + HOSTILE)},"
        f"transfer,{quoted(HOSTILE)}\n",
    )
    with home.archive() as archive:
        _load(archive, path)
        loaded = archive.catalog.schedule(code)
    assert loaded is not None
    assert (loaded.title, loaded.description, loaded.authority, loaded.transfer_to) == (HOSTILE,) * 4
    assert loaded.trigger is Trigger.EVENT and loaded.trigger_event == "-".join(HOSTILE.casefold().split())


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[schedule]]\ncode = "A"\nperiod = "P1Y"\ntrigger = "creation"\naction = "destroy"\ncolour = "red"\n',
         "unknown key 'colour'"),
        ('[[schedule]]\ncode = "A"\nperiod = 6\ntrigger = "creation"\naction = "destroy"\n', "period must be text"),
        ('[schedules]\ncode = "A"\n', "must hold [[schedule]] tables only"),
        ('[[schedule]]\ncode = "A"\n', "action is empty"),
        ("[[schedule\n", "is not valid TOML"),
    ],
)  # fmt: skip
def test_bad_toml_is_refused_naming_the_problem(home: Home, tmp_path: Path, toml: str, message: str) -> None:
    path = write(tmp_path / "s.toml", toml)
    with home.archive() as archive:
        with pytest.raises(StrongroomError) as caught:
            _load(archive, path)
        assert archive.catalog.schedules() == []
    assert message in caught.value.message + " ".join(caught.value.details)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Destroy", (DisposalAction.DESTROY, None)),
        ("Securely destroy.", (DisposalAction.DESTROY, None)),
        ("Delete", (DisposalAction.DESTROY, None)),
        ("Secure disposal", (DisposalAction.DESTROY, None)),
        ("Review", (DisposalAction.REVIEW, None)),
        ("Review for permanent preservation", (DisposalAction.REVIEW, None)),
        ("Retain permanently", (DisposalAction.RETAIN, None)),
        ("Transfer to archives", (DisposalAction.TRANSFER, "archives")),
        ("Offer to Archives", (DisposalAction.TRANSFER, "Archives")),
        ("Transfer to the Straße Record Office", (DisposalAction.TRANSFER, "Straße Record Office")),
        ("transfer", (DisposalAction.TRANSFER, None)),
    ],
)
def test_action_wordings(text: str, expected: tuple[DisposalAction, str | None]) -> None:
    assert parse_action(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("creation", (Trigger.CREATION, None)),
        ("Date of creation", (Trigger.CREATION, None)),
        ("last-record", (Trigger.LAST_RECORD, None)),
        ("Last action on file", (Trigger.LAST_RECORD, None)),
        ("Closure of file", (Trigger.CLOSURE, None)),
        ("closure", (Trigger.CLOSURE, None)),
        ("event:Contract End", (Trigger.EVENT, "contract-end")),
    ],
)
def test_trigger_wordings(text: str, expected: tuple[Trigger, str | None]) -> None:
    assert parse_trigger(text) == expected
