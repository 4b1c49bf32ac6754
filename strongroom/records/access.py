"""Access status of packages and records: who may see them, changed with a reason, kept in the journal.

A change is a PREMIS event appended to the journal (so `rebuild` applies it again),
then recorded in the catalog and the search index; the next version's METS carries
it as dcterms:accessRights. A closed or restricted rule may carry closure terms (start,
period, FOI/EIR exemption, redacted title: see closure.py); the event's detail names them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from strongroom.catalog.base import Catalog
from strongroom.errors import StrongroomError
from strongroom.model import AccessRule, AccessStatus, Agent, Event, Outcome, PackageSummary
from strongroom.records.closure import Closure, ClosureTerms, last_record_date, resolve
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
    closure: ClosureTerms | None = None,
    *,
    open_on_new_year: bool = False,
) -> AccessChange:
    """Set the access status of a package or of one file or folder; `opening_date` is `--until`."""
    target = normalise_target(path)
    if not reason.strip():
        raise StrongroomError("Give a reason for the change with --reason; it is kept in the record for good.")
    status = AccessStatus(status)
    files = list(catalog.files(summary.uuid))
    if target is not None:
        paths = {f.path for f in files}
        is_folder = any(p.startswith(target + "/") for p in paths)
        if target not in paths and not is_folder:
            raise StrongroomError(
                f"Package {summary.name} has no file or folder {target!r}.",
                details=[f"See its files with: strongroom show {summary.uuid}"],
            )
    last = None
    if closure is not None and closure.from_last_record:
        last = last_record_date(files, catalog.descriptions(summary.uuid), target)
    terms = resolve(status, opening_date, closure, last, open_on_new_year=open_on_new_year)
    previous = next((r for r in catalog.access_rules(summary.uuid) if r.path == target), None)
    now = datetime.now(UTC)
    what = f"file or folder {target}" if target else "the whole package"
    event = Event(
        str(uuid.uuid4()), EVENT_TYPE, now, f'program="Strongroom"; target={target or "package"}', Outcome.SUCCESS,
        f"{what} set {status.value}{_terms_text(terms)}: {reason.strip()}"
        + (f" (was {previous.status.value})" if previous else ""),
        tuple(a.key for a in agents), None, summary.version,
    )  # fmt: skip
    rule = AccessRule(
        summary.uuid, target, status, reason.strip(), terms.opening_date, now, event.uuid,
        closure_start=terms.start, closure_period=terms.period, exemption=terms.exemption,
        redacted_title=terms.redacted_title,
    )  # fmt: skip
    journal.append([JournalRecord(summary.uuid, event, agents, access_data(rule))])
    catalog.set_access(rule)
    catalog.record_events(summary.uuid, [event], agents)
    return AccessChange(rule, event, previous)


def _terms_text(terms: Closure) -> str:
    """The closure terms as a clause of the event's detail ("" when there are none)."""
    parts: list[str] = []
    if terms.start is not None and terms.period is not None:
        parts.append(f"closure period {terms.period} from {terms.start.isoformat()}")
    if terms.opening_date is not None:
        parts.append(f"opening on {terms.opening_date.isoformat()}")
    if terms.exemption is not None:
        parts.append(f"exemption {terms.exemption}")
    if terms.redacted_title is not None:
        parts.append(f"shown as {terms.redacted_title!r} until then")
    return (", " + ", ".join(parts)) if parts else ""
