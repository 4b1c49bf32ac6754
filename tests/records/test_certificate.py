"""Destruction certificates: deterministic, every column, hostile text escaped (HTML) and never run (CSV)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta, timezone
from html.parser import HTMLParser

from strongroom.records.certificate import COLUMNS, certificate_csv, certificate_html
from strongroom.records.model import (
    Approval,
    BatchStatus,
    DestructionStub,
    DisposalAction,
    DisposalBatch,
    DisposalItem,
    ItemOutcome,
)

HOSTILE = "hello? sausage/êé/Hello, 世界/ \" ' @ < > & ? + ≠/z.txt <script>alert(1)</script>"
WHEN = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def stub(package: str, **changes: object) -> DestructionStub:
    values: dict[str, object] = dict(
        package=package, identifier="TCA/PC/1", title="Parish council minutes", code="LG-1.2", version=2,
        authority="Local Government Act 1972 s.224", action=DisposalAction.DESTROY, date_from=date(1999, 1, 1),
        date_to=date(1999, 12, 31), batch="b" * 36, approved_by=("Alice Smith", "Bob Jones"), destroyed=WHEN,
        files=4, bytes=12345, payload_sha256="ab" * 32,
    )  # fmt: skip
    values.update(changes)
    return DestructionStub(**values)  # type: ignore[arg-type]


def batch(*items: DisposalItem, approvals: tuple[Approval, ...] | None = None) -> DisposalBatch:
    approvals = approvals or (
        Approval("Bob Jones", "bob", WHEN - timedelta(hours=1), "e2"),
        Approval("Alice Smith", "alice", WHEN - timedelta(hours=2), "e1"),
    )
    return DisposalBatch("b" * 36, date(2026, 3, 1), WHEN - timedelta(days=1), "carol", items, approvals,
                         BatchStatus.EXECUTED, WHEN)  # fmt: skip


def item(package: str, outcome: ItemOutcome = ItemOutcome.DESTROYED, why: str | None = None) -> DisposalItem:
    return DisposalItem(package, DisposalAction.DESTROY, "LG-1.2", 2, date(2001, 1, 1), 2, outcome, why)


def test_csv_has_every_column_one_row_per_stub_in_package_order_and_parses_back() -> None:
    stubs = [stub("p2"), stub("p1", action=DisposalAction.TRANSFER, transferred_to="/bags/x", identifier=None)]
    body = certificate_csv(batch(item("p1"), item("p2")), stubs)
    assert body.endswith(b"\r\n") and b"\r\n" in body
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert tuple(rows[0].keys()) == COLUMNS
    assert [r["package"] for r in rows] == ["p1", "p2"]
    first, second = rows
    assert first["action"] == "transfer" and first["transferred_to"] == "/bags/x" and first["identifier"] == ""
    assert second == {
        "package": "p2", "identifier": "TCA/PC/1", "title": "Parish council minutes", "schedule": "LG-1.2",
        "schedule_version": "2", "authority": "Local Government Act 1972 s.224", "action": "destroy",
        "date_from": "1999-01-01", "date_to": "1999-12-31", "files": "4", "bytes": "12345",
        "payload_sha256": "ab" * 32, "destroyed": "2026-03-04 05:06:07 UTC", "transferred_to": "",
        "approved_by": "Alice Smith; Bob Jones",
    }  # fmt: skip


def test_rendering_is_deterministic_whatever_the_input_order_or_time_precision() -> None:
    stubs = [stub("p1"), stub("p2")]
    b = batch(item("p1"), item("p2"))
    assert certificate_csv(b, stubs) == certificate_csv(b, list(reversed(stubs)))
    assert certificate_html(b, stubs, 7) == certificate_html(b, list(reversed(stubs)), 7)
    # A database that keeps times without microseconds, or in another zone, gives the same bytes.
    coarse = [stub("p1", destroyed=WHEN.replace(microsecond=0).astimezone(timezone(timedelta(hours=2)))),
              stub("p2", destroyed=WHEN.replace(microsecond=0))]  # fmt: skip
    reordered = batch(item("p2"), item("p1"), approvals=tuple(reversed(b.approvals)))
    assert certificate_csv(reordered, coarse) == certificate_csv(b, stubs)
    assert certificate_html(reordered, coarse, 7) == certificate_html(b, stubs, 7)
    assert certificate_html(b, stubs, 8) != certificate_html(b, stubs, 7)


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_shown_not_run() -> None:
    stubs = [stub("p1", title="=HYPERLINK(\"http://evil\")", identifier="+1", authority="@SUM(A1)"),
             stub("p2", title="-2+3")]  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(certificate_csv(batch(), stubs).decode("utf-8"))))
    assert rows[0]["title"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["identifier"] == "'+1" and rows[0]["authority"] == "'@SUM(A1)"
    assert rows[1]["title"] == "'-2+3"


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_one_printable_page_with_hostile_text_escaped() -> None:
    hostile_batch = batch(
        item("p1"), item("p9", ItemOutcome.SKIPPED, "held: " + HOSTILE),
        approvals=(Approval(HOSTILE, "op<1>", WHEN, "e1"), Approval("Bob Jones", "bob", WHEN, "e2")),
    )  # fmt: skip
    page = certificate_html(hostile_batch, [stub("p1", title=HOSTILE, authority=HOSTILE, code="<b>")], 42,
                            organisation="Test & County <Archive>").decode("utf-8")  # fmt: skip
    parser = _Texts()
    parser.feed(page)
    assert "script" not in parser.tags and "b" not in parser.tags  # nothing hostile became markup
    assert parser.tags.count("style") == 1 and "link" not in parser.tags and "img" not in parser.tags
    text = "".join(parser.text)
    assert HOSTILE in text and "Test & County <Archive>" in text and "op<1>" in text
    assert "@media print" in page
    assert "journal sequence 42" in text and "b" * 36 in text
    assert "Bob Jones" in text and "2026-03-04 05:06:07 UTC" in text
    assert "Not disposed of" in text and "p9" in text  # skipped items are listed with why
    assert not re.search(r"(src|href)=", page)  # self-contained: nothing fetched when printed


def test_html_names_the_schedule_authority_and_counts() -> None:
    b = batch(item("p1"), item("p2"), item("p3", ItemOutcome.SKIPPED, "changed"))
    stubs = [stub("p1"), stub("p2", action=DisposalAction.TRANSFER, transferred_to="/bags/p2")]
    page = certificate_html(b, stubs, 3).decode("utf-8")
    assert "1 destroyed, 1 transferred, 1 not disposed of" in page
    assert "LG-1.2 (version 2)" in page and "Local Government Act 1972 s.224" in page
    assert "1999-01-01 to 1999-12-31" in page and "transfer to /bags/p2" in page
