"""`journal export`: the hash-chained journal as a log an auditor can read, filter and open in a spreadsheet.

Every entry becomes one row (sequence, time, event type, package and its name, outcome, what
happened, who took part, the machine-readable data and the entry's digest). Date bounds are
inclusive days in UTC. The same entries are verified, so the log says whether the chain holds.
The name of a package is the catalog's (its redacted title while it is closed or restricted and
has one), else its destruction stub's title, else empty.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from strongroom.errors import JournalError, StrongroomError
from strongroom.records.cells import safe_cell
from strongroom.records.closure import title_while_closed
from strongroom.storage.journal import Journal, JournalEntry, JournalProblem

if TYPE_CHECKING:
    from strongroom.archive import Archive
    from strongroom.catalog.base import Catalog

COLUMNS = ("sequence", "datetime", "type", "package", "package_name", "outcome", "detail", "outcome_detail",
           "agents", "data", "digest")  # fmt: skip


@dataclass(frozen=True)
class AuditRow:
    sequence: int
    datetime: str  # ISO 8601, UTC
    type: str
    package: str
    package_name: str
    outcome: str
    detail: str
    outcome_detail: str
    agents: str  # "Name (type); Name (type)"
    data: str  # compact canonical JSON
    digest: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AuditLog:
    rows: tuple[AuditRow, ...]
    verified: bool  # the whole journal's chain holds (and its end matches the catalog's anchor)
    problems: tuple[JournalProblem, ...]
    unreadable: str | None = None  # why reading stopped early (a damaged line), if it did


class _Names:
    """Package names for the log, looked up once each."""

    def __init__(self, catalog: Catalog, today: date) -> None:
        self.catalog = catalog
        self.today = today
        self.known: dict[str, str] = {}

    def __call__(self, package: str) -> str:
        if not package:
            return ""
        if package not in self.known:
            self.known[package] = self._lookup(package)
        return self.known[package]

    def _lookup(self, package: str) -> str:
        summary = self.catalog.find_package(package)
        if summary is not None and summary.uuid == package:
            return title_while_closed(self.catalog.access_rules(package), summary.name, self.today)
        stub = self.catalog.stub(package)
        return stub.title if stub is not None else ""


def export_entries(
    journal: Journal, catalog: Catalog, start: date | None, end: date | None, package: str | None
) -> Iterator[AuditRow]:
    """The rows of the entries within the inclusive UTC days [start, end] (and of `package`, if given)."""
    names = _Names(catalog, datetime.now(UTC).date())
    for entry in journal.entries(package=package):
        day = entry.event.datetime.astimezone(UTC).date()
        if (start is not None and day < start) or (end is not None and day > end):
            continue
        yield audit_row(entry, names(entry.package))


def audit_row(entry: JournalEntry, package_name: str) -> AuditRow:
    event = entry.event
    agents = "; ".join(f"{a.name} ({a.type.value})" for a in entry.agents)
    return AuditRow(
        sequence=entry.sequence, datetime=event.datetime.astimezone(UTC).isoformat(), type=event.type,
        package=entry.package, package_name=package_name, outcome=event.outcome.value, detail=event.detail,
        outcome_detail=event.outcome_detail, agents=agents,
        data=json.dumps(entry.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str),
        digest=entry.digest,
    )  # fmt: skip


def audit_log(archive: Archive, start: date | None = None, end: date | None = None,
              package: str | None = None) -> AuditLog:  # fmt: skip
    """Verify the journal and read its entries as rows; a damaged line stops the reading, not the report."""
    if start is not None and end is not None and end < start:
        raise StrongroomError(f"--to {end.isoformat()} is before --from {start.isoformat()}.",
                              details=["Give the earlier day with --from and the later one with --to."])  # fmt: skip
    report = archive.journal_verify()
    wanted = resolve_package(archive.catalog, package) if package is not None else None
    rows: list[AuditRow] = []
    unreadable = None
    try:
        for row in export_entries(archive.journal, archive.catalog, start, end, wanted):
            rows.append(row)
    except JournalError as err:
        unreadable = err.message
    return AuditLog(tuple(rows), report.ok and unreadable is None, report.problems, unreadable)


def resolve_package(catalog: Catalog, ref: str) -> str:
    """A package's UUID from a reference (UUID, prefix or name; a destroyed package's UUID as given)."""
    found = catalog.find_package(ref.strip())
    return found.uuid if found is not None else ref.strip()


def rows_csv(rows: tuple[AuditRow, ...] | list[AuditRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        values = row.as_dict()
        writer.writerow([safe_cell(values[c]) for c in COLUMNS])
    return out.getvalue()


def log_json(log: AuditLog) -> dict[str, Any]:
    return {
        "verified": log.verified,
        "problems": [{"sequence": p.sequence, "kind": p.kind, "detail": p.describe()} for p in log.problems],
        "unreadable": log.unreadable,
        "entries": [r.as_dict() for r in log.rows],
    }
