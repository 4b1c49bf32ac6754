"""Retention: one schedule per package (at ingest or later), trigger events, the due list for each trigger, reviews."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from strongroom.archive import Archive
from strongroom.errors import NotFound, StrongroomError
from strongroom.records.journal_data import ASSIGNMENT_EVENT, retention_of
from strongroom.records.model import DisposalAction, Period, ReviewDecision
from strongroom.records.retention import assign, due, record_trigger, review
from strongroom.records.schedules import load_schedules
from tests.conftest import Home, write

SCHEDULES = """
[[schedule]]
code = "CREATE-6"
title = "Working papers"
authority = "Business need"
period = "P6Y"
trigger = "creation"
action = "destroy"

[[schedule]]
code = "LAST-2"
title = "Case files"
authority = "Limitation Act 1980"
period = "P2Y"
trigger = "last-record"
action = "review"

[[schedule]]
code = "CLOSE-1"
title = "Complaints"
authority = "Business need"
period = "P1Y"
trigger = "closure"
action = "destroy"

[[schedule]]
code = "CONTRACT-3"
title = "Contracts"
authority = "Limitation Act 1980 s.5"
period = "P3Y"
trigger = "event:contract-end"
action = "transfer"
transfer_to = "County Record Office"

[[schedule]]
code = "KEEP"
title = "Minutes"
authority = "Local Government Act 1972"
period = "Permanent"
action = "retain"

[[schedule]]
code = "MINUTES-10"
title = "Minutes (working copies)"
authority = "Business need"
period = "P10Y"
trigger = "creation"
action = "destroy"
"""

OPERATOR = "test-archivist"


def _schedules(home: Home, tmp_path: Path) -> None:
    with home.archive() as archive:
        load_schedules(archive, write(tmp_path / "schedules.toml", SCHEDULES), reason=None, operator=OPERATOR)


def _transfer(tmp_path: Path, name: str, metadata: str | None = None, modified: date | None = None) -> Path:
    root = tmp_path / name
    record = write(root / "objects" / "report.txt", f"The report of {name}")
    if modified is not None:
        stamp = datetime(modified.year, modified.month, modified.day, 12, tzinfo=UTC).timestamp()
        os.utime(record, (stamp, stamp))
    if metadata is not None:
        write(root / "metadata" / "metadata.csv", metadata)
    return root


def _assignment(archive: Archive, package: str) -> tuple[str, int, str] | None:
    found = archive.catalog.retention(package)
    return (found.code, found.version, found.how) if found else None


@pytest.fixture
def dated(home: Home, tmp_path: Path) -> str:
    """A package whose description is dated 2001-05-06 and whose one record was last modified on 2010-02-03."""
    _schedules(home, tmp_path)
    source = _transfer(tmp_path, "dated", "filename,dc.title,dc.date\nobjects,Dated papers,2001-05-06\n",
                       modified=date(2010, 2, 3))  # fmt: skip
    return str(home.ingest(source, "--retention", "CREATE-6")["package"])


def test_ingest_option_assigns_and_journals_after_the_commit(home: Home, dated: str) -> None:
    with home.archive() as archive:
        assert _assignment(archive, dated) == ("CREATE-6", 1, "ingest-option")
        entries = [e for e in archive.journal.entries(package=dated) if e.event.type == ASSIGNMENT_EVENT]
        assert len(entries) == 1
        journalled = retention_of(entries[0])
        assert journalled is not None and journalled == archive.catalog.retention(dated)
        assert entries[0].event.version == 1
        assert any(e.uuid == entries[0].event.uuid for e in archive.catalog.events(dated))


def test_due_date_for_each_trigger(home: Home, dated: str) -> None:
    today = date.today()
    with home.archive() as archive:
        # creation: the Dublin Core date + 6 years
        listed = due(archive, date(2007, 5, 6))
        assert [(i.package, i.trigger_date, i.due) for i in listed.due] == [(dated, date(2001, 5, 6), date(2007, 5, 6))]
        assert due(archive, date(2007, 5, 5)).due == ()  # the day before: not yet
        assert listed.due[0].title == "Dated papers" and listed.due[0].name == "dated"
        # last-record: the latest of the DC date and the originals' modification dates
        assign(archive, dated, "LAST-2", reason="it is a case file", operator=OPERATOR)
        item = due(archive, date(2012, 2, 3)).due[0]
        assert (item.trigger_date, item.due, item.schedule.action) == (
            date(2010, 2, 3),
            date(2012, 2, 3),
            DisposalAction.REVIEW,
        )
        # closure: waiting until the file's closure is recorded
        assign(archive, dated, "CLOSE-1", reason="a complaint", operator=OPERATOR)
        listed = due(archive, today + timedelta(days=3650))
        assert listed.due == () and [i.package for i in listed.waiting] == [dated]
        assert "no date recorded for closure" in (listed.waiting[0].waiting or "")
        record_trigger(archive, dated, "Closure", date(2015, 1, 31), reason="case closed", operator=OPERATOR)
        listed = due(archive, date(2016, 1, 31))
        assert [(i.trigger_date, i.due) for i in listed.due] == [(date(2015, 1, 31), date(2016, 1, 31))]
        assert listed.waiting == ()
        # event:NAME: waiting, then the latest date recorded for it
        assign(archive, dated, "CONTRACT-3", reason="a contract", operator=OPERATOR)
        assert "event:contract-end" in (due(archive, today).waiting[0].waiting or "")
        record_trigger(archive, dated, "contract-end", date(2018, 6, 30), reason=None, operator=OPERATOR)
        record_trigger(archive, dated, "event:Contract End", date(2019, 6, 30), reason="extended", operator=OPERATOR)
        assert due(archive, date(2022, 6, 29)).due == ()
        item = due(archive, date(2022, 6, 30)).due[0]
        assert (item.trigger_date, item.due, item.schedule.transfer_to) == (
            date(2019, 6, 30),
            date(2022, 6, 30),
            "County Record Office",
        )
        # retain: never due
        assign(archive, dated, "KEEP", reason="of permanent value", operator=OPERATOR)
        listed = due(archive, date(9000, 1, 1))
        assert listed.due == () and listed.waiting == ()


def test_creation_without_a_dublin_core_date_is_the_first_version_date(home: Home, tmp_path: Path) -> None:
    _schedules(home, tmp_path)
    package = str(home.ingest(_transfer(tmp_path, "undated"), "--retention", "CREATE-6")["package"])
    with home.archive() as archive:
        stored = archive.catalog.versions(package)[0].created.astimezone(UTC).date()
        item = due(archive, Period(years=6).add_to(stored)).due[0]
        assert (item.trigger_date, item.due) == (stored, Period(years=6).add_to(stored))
        assert item.title == "undated"  # no DC title: its name


def test_due_cli_json_csv_and_as_of(home: Home, dated: str) -> None:
    listed = home.ok("retention", "due", "--as-of", "2007-05-06", "--json").json()
    assert isinstance(listed, dict)
    assert listed["as_of"] == "2007-05-06"
    [row] = listed["due"]
    assert row["package"] == dated and row["due"] == "2007-05-06" and row["trigger_date"] == "2001-05-06"
    assert row["schedule"] == {
        "code": "CREATE-6",
        "version": 1,
        "title": "Working papers",
        "authority": "Business need",
    }
    assert (row["action"], row["trigger"], row["holds"], row["batch"]) == ("destroy", "creation", [], None)
    assert home.ok("retention", "due", "--as-of", "2007-05-05", "--json").json() == {
        "as_of": "2007-05-05",
        "due": [],
        "waiting": [],
    }
    csv_text = home.ok("retention", "due", "--as-of", "2030-01-01", "--csv").stdout
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert [(r["package"], r["code"], r["due"]) for r in rows] == [(dated, "CREATE-6", "2007-05-06")]
    bad = home.run("retention", "due", "--as-of", "31/12/2030")
    assert bad.exit_code == 2 and "is not a date" in bad.stderr


def test_manual_assignment_replaces_and_needs_a_reason(home: Home, dated: str) -> None:
    with home.archive() as archive:
        with pytest.raises(StrongroomError, match="--reason"):
            assign(archive, dated, "LAST-2", reason="  ", operator=OPERATOR)
        with pytest.raises(NotFound, match="no retention schedule 'NOPE'") as caught:
            assign(archive, dated, "NOPE", reason="why not", operator=OPERATOR)
        assert "CREATE-6" in " ".join(caught.value.details)
        assert _assignment(archive, dated) == ("CREATE-6", 1, "ingest-option")
    result = home.ok("retention", "assign", dated[:8], "LAST-2", "--reason", "re-filed", "--json").json()
    assert isinstance(result, dict)
    assert result["schedule"] == {"code": "LAST-2", "version": 1}
    assert result["previous"] == {"code": "CREATE-6", "version": 1}
    with home.archive() as archive:
        assert _assignment(archive, dated) == ("LAST-2", 1, "manual")
        assert len(archive.catalog.retention_assignments()) == 1
        entries = [e for e in archive.journal.entries(package=dated) if e.event.type == ASSIGNMENT_EVENT]
        assert [e.data["previous"] for e in entries] == [None, {"code": "CREATE-6", "version": 1}]
    again = home.ok("retention", "assign", dated, "LAST-2", "--reason", "again", "--json").json()
    assert isinstance(again, dict) and again["event"] is None  # the same version again records nothing


def test_metadata_column_assigns(home: Home, tmp_path: Path) -> None:
    _schedules(home, tmp_path)
    source = _transfer(tmp_path, "column", "filename,dc.title,retention\nobjects,With a column,CLOSE-1\n")
    package = str(home.ingest(source)["package"])
    with home.archive() as archive:
        assert _assignment(archive, package) == ("CLOSE-1", 1, "metadata")


def test_rules_assign_the_first_match(home: Home, tmp_path: Path) -> None:
    _schedules(home, tmp_path)
    write(home.path / "retention-rules.toml",
          '[[rule]]\nschedule = "KEEP"\nwhen = {"dc.type" = "Signed minutes"}\n\n'
          '[[rule]]\nschedule = "MINUTES-10"\nwhen = {"dc.type" = "minutes", "dc.creator" = "Parish Council"}\n\n'
          '[[rule]]\nschedule = "CREATE-6"\nwhen = {"dc.type" = "Minutes"}\n')  # fmt: skip
    source = _transfer(tmp_path, "ruled", "filename,dc.type,dc.creator\nobjects,Minutes,parish  council\n")
    package = str(home.ingest(source)["package"])
    plain = str(home.ingest(_transfer(tmp_path, "unruled"))["package"])
    with home.archive() as archive:
        assert _assignment(archive, package) == ("MINUTES-10", 1, "rule:2")
        assert _assignment(archive, plain) is None


def _nothing_stored(home: Home) -> None:
    with home.archive() as archive:
        assert archive.catalog.packages() == []
        assert list(archive.ocfl.object_ids()) == []
        assert [e.package for e in archive.journal.entries()] == [""] * 6  # the schedules only


@pytest.mark.parametrize(
    ("args", "metadata", "rule", "message"),
    [
        (("--retention", "NOPE"), None, None, "no retention schedule 'NOPE'"),
        ((), "filename,retention\nobjects,NOPE\n", None, "(the retention column of metadata.csv)"),
        (("--retention", "KEEP"), "filename,retention\nobjects,CLOSE-1\n", None,
         "--retention says 'KEEP'; the retention column of metadata.csv says 'CLOSE-1'"),
        ((), "filename,retention,dc.type\nobjects,CLOSE-1,Minutes\n", "CREATE-6",
         "rule 1 of retention-rules.toml says 'CREATE-6'"),
        ((), "filename,dc.type\nobjects,Minutes\n", "NOT-LOADED", "(rule 1 of retention-rules.toml)"),
    ],
)  # fmt: skip
def test_unknown_or_disagreeing_schedules_are_refused_before_storing(
    home: Home, tmp_path: Path, args: tuple[str, ...], metadata: str | None, rule: str | None, message: str
) -> None:
    _schedules(home, tmp_path)
    if rule is not None:
        write(home.path / "retention-rules.toml", f'[[rule]]\nschedule = "{rule}"\nwhen = {{"dc.type" = "Minutes"}}\n')
    result = home.run("ingest", str(_transfer(tmp_path, "refused", metadata)), *args)
    assert result.exit_code == 2
    assert message in result.stderr
    _nothing_stored(home)


def test_reviews(home: Home, dated: str) -> None:
    today = date.today()
    with home.archive() as archive:
        with pytest.raises(StrongroomError, match="reason"):
            review(archive, dated, ReviewDecision.RETAIN, reason="", operator=OPERATOR)
        with pytest.raises(StrongroomError, match="--extend-to"):
            review(archive, dated, ReviewDecision.EXTEND, reason="busy", operator=OPERATOR)
        with pytest.raises(StrongroomError, match="already past"):
            review(archive, dated, ReviewDecision.EXTEND, reason="x", new_due=today - timedelta(days=1),
                   operator=OPERATOR)  # fmt: skip
        assert archive.catalog.reviews(dated) == []
        extended = review(archive, dated, ReviewDecision.EXTEND, reason="litigation expected",
                          new_due=today + timedelta(days=30), operator=OPERATOR)  # fmt: skip
        assert extended.due == today + timedelta(days=30)
        assert due(archive, today + timedelta(days=29)).due == ()
        assert [i.due for i in due(archive, today + timedelta(days=30)).due] == [today + timedelta(days=30)]
        kept = review(archive, dated, ReviewDecision.RETAIN, reason="of historical value", operator=OPERATOR)
        assert kept.due is None
        assert due(archive, date(9000, 1, 1)).due == ()
        destroyed = review(archive, dated, ReviewDecision.DESTROY, reason="no longer needed", operator=OPERATOR)
        assert destroyed.due == today and [i.due for i in due(archive, today).due] == [today]
        assert [r.decision for r in archive.catalog.reviews(dated)] == [
            ReviewDecision.EXTEND,
            ReviewDecision.RETAIN,
            ReviewDecision.DESTROY,
        ]
        assert all(r.by == OPERATOR and r.event_uuid for r in archive.catalog.reviews(dated))
    result = home.ok("retention", "review", dated, "--reason", "wrong class", "--schedule", "LAST-2", "--json").json()
    assert isinstance(result, dict)
    assert (result["decision"], result["schedule"], result["due"]) == ("re-sentence", {"code": "LAST-2", "version": 1},
                                                                      "2012-02-03")  # fmt: skip
    with home.archive() as archive:
        assert _assignment(archive, dated) == ("LAST-2", 1, "re-sentence")
        assert [e.event.type for e in archive.journal.entries(package=dated)][-2:] == ["appraisal", ASSIGNMENT_EVENT]
    for args, message in (((), "exactly one decision"), (("--destroy", "--retain"), "exactly one decision"),
                          (("--retain",), "reason")):  # fmt: skip
        failed = home.run("retention", "review", dated, *args, *(("--reason", " ") if args == ("--retain",) else ()))
        assert failed.exit_code == 2 and message in failed.stderr


def test_review_of_a_package_without_a_schedule_is_refused(home: Home, tmp_path: Path) -> None:
    _schedules(home, tmp_path)
    package = str(home.ingest(_transfer(tmp_path, "bare"))["package"])
    result = home.run("retention", "review", package, "--reason", "tidy", "--destroy")
    assert result.exit_code == 2 and "has no retention schedule" in result.stderr
    moved = home.ok("retention", "review", package, "--reason", "first sentence", "--schedule", "KEEP", "--json").json()
    assert isinstance(moved, dict) and moved["schedule"] == {"code": "KEEP", "version": 1} and moved["due"] is None


def test_trigger_event_cli(home: Home, dated: str) -> None:
    result = home.ok("retention", "event", dated, "closure", "--date", "2020-01-02", "--json").json()
    assert isinstance(result, dict)
    assert (result["package"], result["name"], result["date"]) == (dated, "closure", "2020-01-02")
    assert home.run("retention", "event", dated, "closure").exit_code == 2
    assert home.run("retention", "event", dated, "closure", "--date", "2020-13-01").exit_code == 2
    assert home.run("retention", "event", "no-such-package", "closure", "--date", "2020-01-02").exit_code == 2


def test_due_list_names_holds(home: Home, dated: str) -> None:
    from strongroom.records.holds import place_hold
    from strongroom.records.model import HoldType

    with home.archive() as archive:
        placed = place_hold(archive, packages=[dated], type=HoldType.FOI, reason="FOI request 2024/117",
                            authority=None, reference="FOI-2024-117", operator=OPERATOR)  # fmt: skip
        item = due(archive, date(2030, 1, 1)).due[0]
        assert item.holds == (placed.hold.id,)


def test_due_title_is_the_redacted_one_while_closed(home: Home, dated: str) -> None:
    from strongroom.model import AccessStatus

    with home.archive() as archive:
        archive.set_access(dated, None, AccessStatus.CLOSED, "personal data", date(2099, 1, 1), OPERATOR)
        assert due(archive, date(2030, 1, 1)).due[0].title == "Dated papers"  # no redacted title: its own
    home.ok("access", dated, "--status", "closed", "--reason", "personal data", "--until", "2099-01-01",
            "--redacted-title", "Closed file")  # fmt: skip
    with home.archive() as archive:
        assert due(archive, date(2030, 1, 1)).due[0].title == "Closed file"
        assert due(archive, date(2099, 1, 1)).due[0].title == "Dated papers"  # open by then


def test_metadata_column_is_read_from_the_whole_transfer_row_only(tmp_path: Path) -> None:
    from strongroom.errors import TransferError
    from strongroom.ingest.transfer_metadata import parse_metadata_csv

    known = {"objects/a.txt"}
    path = write(tmp_path / "metadata.csv", "filename,retention\nobjects/a.txt,FILE-LEVEL\nobjects, WHOLE-1 \n")
    parsed = parse_metadata_csv(path, known, {"objects"})
    assert parsed.retention == "WHOLE-1"
    assert any("'FILE-LEVEL' given for 'objects/a.txt' is ignored" in w for w in parsed.warnings)
    write(path, "filename,retention\nobjects,A\nobjects,B\n")
    with pytest.raises(TransferError, match="line 3 gives the whole transfer retention schedule 'B'"):
        parse_metadata_csv(path, known, {"objects"})


def test_a_due_date_past_year_9999_is_never_due_and_lists_without_a_crash(home: Home, tmp_path: Path) -> None:
    """ "9999" is a common Dublin Core stand-in for an open end; 9999 + P6Y is past what a date can hold."""
    _schedules(home, tmp_path)
    far = str(home.ingest(_transfer(tmp_path, "far", "filename,dc.title,dc.date\nobjects,Far,9999\n"))["package"])
    soon = str(home.ingest(_transfer(tmp_path, "soon", "filename,dc.title,dc.date\nobjects,Soon,1990\n"))["package"])
    event = str(home.ingest(_transfer(tmp_path, "event"))["package"])
    home.ok("retention", "assign", far, "CREATE-6", "--reason", "test")
    home.ok("retention", "assign", soon, "CREATE-6", "--reason", "test")
    home.ok("retention", "assign", event, "CONTRACT-3", "--reason", "test")
    home.ok("retention", "event", event, "contract-end", "--date", "9999-12-31")
    listed = home.ok("retention", "due", "--json").json()
    assert isinstance(listed, dict) and [d["package"] for d in listed["due"]] == [soon]
    assert soon in home.ok("retention", "due", "--as-of", "9999-12-30", "--csv").stdout
    assert Period.parse("P6Y").add_to(date(9999, 1, 1)) == date.max
    proposed = home.ok("disposal", "propose", "--json").json()
    assert isinstance(proposed, dict) and [i["package"] for i in proposed["items"]] == [soon]
