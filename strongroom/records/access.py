"""Access status of packages and records: who may see them, changed with a reason, kept in the journal.

A change is a PREMIS event appended to the journal (so `rebuild` applies it again),
then recorded in the catalog and the search index; the next version's METS carries
it as dcterms:accessRights. Records management will add closure periods and FOI
exemptions on top of these rules.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from strongroom.catalog.base import Catalog
from strongroom.errors import StrongroomError
from strongroom.model import AccessRule, AccessStatus, Agent, Event, Outcome, PackageSummary
from strongroom.records.journal_data import access_data
from strongroom.storage.journal import Journal, JournalRecord

EVENT_TYPE = "access status change"


@dataclass(frozen=True)
class AccessChange:
    rule: AccessRule
    event: Event
    previous: AccessRule | None


def normalise_target(path: str | None) -> str | None:
    """A path as the catalog holds it (relative to data/), or None for the whole package."""
    if path is None:
        return None
    cleaned = path.strip().strip("/").removeprefix("data/")
    return cleaned or None


def change_access(
    catalog: Catalog,
    journal: Journal,
    summary: PackageSummary,
    path: str | None,
    status: AccessStatus,
    reason: str,
    opening_date: date | None,
    agents: tuple[Agent, ...],
) -> AccessChange:
    target = normalise_target(path)
    if not reason.strip():
        raise StrongroomError("Give a reason for the change with --reason; it is kept in the record for good.")
    if opening_date is not None and status is AccessStatus.OPEN:
        raise StrongroomError("An opening date only makes sense for a closed record; leave out --until.")
    if target is not None:
        paths = {f.path for f in catalog.files(summary.uuid)}
        is_folder = any(p.startswith(target + "/") for p in paths)
        if target not in paths and not is_folder:
            raise StrongroomError(
                f"Package {summary.name} has no file or folder {target!r}.",
                details=[f"See its files with: strongroom show {summary.uuid}"],
            )
    previous = next((r for r in catalog.access_rules(summary.uuid) if r.path == target), None)
    now = datetime.now(UTC)
    what = f"file or folder {target}" if target else "the whole package"
    until = f", opening on {opening_date.isoformat()}" if opening_date else ""
    event = Event(
        str(uuid.uuid4()), EVENT_TYPE, now, f'program="Strongroom"; target={target or "package"}', Outcome.SUCCESS,
        f"{what} set {status.value}{until}: {reason.strip()}"
        + (f" (was {previous.status.value})" if previous else ""),
        tuple(a.key for a in agents), None, summary.version,
    )  # fmt: skip
    rule = AccessRule(summary.uuid, target, status, reason.strip(), opening_date, now, event.uuid)
    journal.append([JournalRecord(summary.uuid, event, agents, access_data(rule))])
    catalog.set_access(rule)
    catalog.record_events(summary.uuid, [event], agents)
    return AccessChange(rule, event, previous)
