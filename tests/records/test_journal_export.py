"""`journal export`: every entry as a readable row, inclusive UTC day bounds, spreadsheet-safe CSV, damage shown."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from strongroom.model import Agent, AgentType, Event, Outcome
from strongroom.records.audit_log import audit_log, safe_cell
from strongroom.storage.journal import JournalRecord
from tests.conftest import Home, write

HOSTILE = "hello? sausage/êé/Hello, 世界/ \" ' @ < > & ? + ≠/z\nsecond line"
PERSON = Agent("local user", "anna", "Anna Ångström", AgentType.PERSON)


def _append(home: Home, when: datetime, detail: str, package: str = "", data: dict[str, object] | None = None) -> None:
    event = Event(str(uuid.uuid4()), "test event", when, detail, Outcome.SUCCESS, f"outcome of {detail}",
                  (PERSON.key,))  # fmt: skip
    with home.archive() as archive:
        archive.journal.append([JournalRecord(package, event, (PERSON,), data or {"note": detail})])


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_inclusive_utc_day_bounds(home: Home) -> None:
    _append(home, datetime(2020, 1, 1, 23, 59, 59, tzinfo=UTC), "last second of the 1st")
    _append(home, datetime(2020, 1, 2, 0, 0, tzinfo=UTC), "first second of the 2nd")
    _append(home, datetime(2020, 1, 3, 1, 0, tzinfo=timezone(timedelta(hours=2))), "late on the 2nd in UTC")
    _append(home, datetime(2020, 1, 3, 0, 0, tzinfo=UTC), "the 3rd")
    result = home.ok("journal", "export", "--from", "2020-01-02", "--to", "2020-01-02", "--json").json()
    assert isinstance(result, dict) and result["verified"] is True
    assert [r["detail"] for r in result["entries"]] == ["first second of the 2nd", "late on the 2nd in UTC"]
    assert result["entries"][1]["datetime"] == "2020-01-02T23:00:00+00:00"
    after = home.ok("journal", "export", "--from", "2020-01-03", "--json").json()
    assert isinstance(after, dict) and [r["detail"] for r in after["entries"]] == ["the 3rd"]
    before = home.ok("journal", "export", "--to", "2020-01-01", "--json").json()
    assert isinstance(before, dict) and [r["detail"] for r in before["entries"]] == ["last second of the 1st"]
    everything = home.ok("journal", "export", "--json").json()
    assert isinstance(everything, dict) and [r["sequence"] for r in everything["entries"]] == [1, 2, 3, 4]
    backwards = home.run("journal", "export", "--from", "2020-01-03", "--to", "2020-01-02")
    assert backwards.exit_code == 2 and "before --from" in backwards.stderr


def test_csv_parses_back_with_unicode_and_formulas_kept_as_text(home: Home, tmp_path: Path) -> None:
    _append(home, datetime(2021, 5, 1, tzinfo=UTC), HOSTILE, data={"text": HOSTILE, "n": 1})
    _append(home, datetime(2021, 5, 2, tzinfo=UTC), '=HYPERLINK("http://evil.example","click")')
    _append(home, datetime(2021, 5, 3, tzinfo=UTC), "+1", data={"x": "-2"})
    text = home.ok("journal", "export", "--csv").stdout
    rows = _rows(text)
    assert [r["sequence"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["detail"] == HOSTILE and json.loads(rows[0]["data"]) == {"n": 1, "text": HOSTILE}
    assert rows[0]["agents"] == "Anna Ångström (person)"
    assert rows[1]["detail"] == "'" + '=HYPERLINK("http://evil.example","click")'
    assert rows[2]["detail"] == "'+1" and rows[2]["outcome_detail"] == "outcome of +1"
    with home.archive() as archive:
        entries = list(archive.journal.entries())
    assert [r["digest"] for r in rows] == [e.digest for e in entries]
    assert rows[0]["data"] == json.dumps(entries[0].data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)" and safe_cell("plain") == "plain" and safe_cell(-3) == -3
    plain = home.ok("journal", "export").stdout
    assert "Hello, 世界" in plain and plain.count("test event") == 3


def test_package_filter_and_names(home: Home, tmp_path: Path) -> None:
    source = write(tmp_path / "minutes" / "objects" / "1999.txt", "Minutes")
    package = str(home.ingest(source.parent.parent, "--title", "Parish minutes")["package"])
    _append(home, datetime.now(UTC), "about the package", package=package)
    _append(home, datetime.now(UTC), "about the archive")
    result = home.ok("journal", "export", "--package", "minutes", "--json").json()
    assert isinstance(result, dict)
    assert {r["package"] for r in result["entries"]} == {package}
    assert [r["detail"] for r in result["entries"]] == ["about the package"]
    assert result["entries"][0]["package_name"] == "minutes"
    with home.archive() as archive:
        log = audit_log(archive, date.today(), date.today(), None)
    assert [r.package_name for r in log.rows] == ["minutes", ""]


def test_a_damaged_journal_still_prints_and_exits_1(home: Home) -> None:
    for day in (1, 2, 3):
        _append(home, datetime(2022, 3, day, tzinfo=UTC), f"entry {day}")
    [batch] = [p for p in (home.path / "storage" / "journal").iterdir() if p.name.startswith("000000000002")]
    batch.write_text(batch.read_text(encoding="utf-8").replace("entry 2", "entry X"), encoding="utf-8")
    result = home.run("journal", "export", "--csv")
    assert result.exit_code == 1
    assert [r["detail"] for r in _rows(result.stdout)] == ["entry 1", "entry X", "entry 3"]
    assert "The journal is damaged" in result.stderr and "entry 2" in result.stderr and "edited" in result.stderr
    as_json = home.run("journal", "export", "--json")
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["verified"] is False and data["problems"][0]["kind"] == "edited"
