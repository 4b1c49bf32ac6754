"""Account and access facts in the journal: who was given what, failed sign-ins, closed records opened.

Each fact is one hash-chained journal entry (so `journal verify` catches an edited one), with
the event types below and the details in `data["account"]`. None of them is a package event
except "record.closed_viewed" (its package is the record opened). Secrets never appear: not
passwords, not token texts, not cookie values, and no password hashes.

| event type               | package | data["account"]                                          |
|--------------------------|---------|----------------------------------------------------------|
| account.added            | ""      | {"name", "role", "full_name"}                            |
| account.role_changed     | ""      | {"name", "role", "previous"}                             |
| account.disabled/enabled | ""      | {"name", "sessions_ended"}                               |
| account.password_changed | ""      | {"name", "sessions_ended"}                               |
| token.issued             | ""      | {"name", "token", "label", "expires"}                    |
| token.revoked            | ""      | {"name", "token", "label"}                               |
| sign_in.failed           | ""      | {"name_tried", "client", "reason"}                       |
| record.closed_viewed     | P       | {"what"}                                                 |
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from strongroom.model import Event, Outcome
from strongroom.storage.journal import JournalEntry, JournalRecord

if TYPE_CHECKING:
    from strongroom.archive import Archive

ACCOUNT_ADDED = "account.added"
ROLE_CHANGED = "account.role_changed"
DISABLED = "account.disabled"
ENABLED = "account.enabled"
PASSWORD_CHANGED = "account.password_changed"
TOKEN_ISSUED = "token.issued"
TOKEN_REVOKED = "token.revoked"
SIGN_IN_FAILED = "sign_in.failed"
CLOSED_VIEWED = "record.closed_viewed"
ACCOUNT_EVENT_TYPES = frozenset({ACCOUNT_ADDED, ROLE_CHANGED, DISABLED, ENABLED, PASSWORD_CHANGED, TOKEN_ISSUED,
                                 TOKEN_REVOKED, SIGN_IN_FAILED, CLOSED_VIEWED})  # fmt: skip

KEY = "account"  # of JournalEntry.data
SHOWN_MAX = 100  # characters of untrusted text kept in an entry (a name tried, a client address)


def shown(text: str, limit: int = SHOWN_MAX) -> str:
    """Untrusted text as kept in the journal: control and other unprintable characters escaped, then truncated."""
    escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
    return escaped if len(escaped) <= limit else escaped[:limit] + "…"


def record(
    archive: Archive,
    kind: str,
    operator: str,
    detail: str,
    data: Mapping[str, Any],
    *,
    package: str = "",
    outcome: Outcome = Outcome.SUCCESS,
    outcome_detail: str = "",
    now: datetime | None = None,
) -> JournalEntry:
    """Append one fact to the journal and return it as stored."""
    agents = archive.system_agents(operator)
    version = None
    if package:
        summary = archive.catalog.find_package(package)
        version = summary.version if summary is not None else None
    event = Event(str(uuid.uuid4()), kind, now or datetime.now(UTC), detail, outcome, outcome_detail,
                  tuple(a.key for a in agents), None, version)  # fmt: skip
    return archive.journal.append([JournalRecord(package, event, agents, {KEY: dict(data)})])[0]


def journal_closed_access(archive: Archive, operator: str, package: str, what: str) -> None:
    """Journal that staff opened a closed or restricted record (`what`: e.g. "package page", "download of PATH")."""
    record(archive, CLOSED_VIEWED, operator, f"closed or restricted record opened: {shown(what)}",
           {"what": shown(what, 500)}, package=package)  # fmt: skip


def account_entries(archive: Archive, kinds: frozenset[str] = ACCOUNT_EVENT_TYPES) -> list[JournalEntry]:
    """The journal's account facts, oldest first (reads the whole journal)."""
    return [e for e in archive.journal.entries() if e.event.type in kinds]
