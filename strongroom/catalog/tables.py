"""The catalog's tables as SQLAlchemy Core objects: what the queries are written against.

The migrations (strongroom/catalog/migrations/versions) create exactly this; a test compares
the two. Both backends store the same types: text, integers and booleans.

- Times are fixed-width UTC ISO 8601 text (codec.time_to_text), so they round-trip exactly
  and sort as times on both backends; dates are ISO 8601 text.
- Text sorts by code point everywhere: on PostgreSQL the text columns use the "C" collation,
  as SQLite's default BINARY does, so `ORDER BY path` agrees between backends.
- JSON (identifications, event agents, Dublin Core elements) is plain text written by codec.py.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from strongroom.catalog.codec import date_from_text, date_to_text, time_from_text, time_to_text

CASCADE = "CASCADE"


def _text_impl(dialect: Dialect) -> sa.types.TypeEngine[Any]:
    if dialect.name != "postgresql":
        return sa.Text()
    from sqlalchemy.dialects import postgresql  # imported here: an SQLite catalog never needs it

    return postgresql.TEXT(collation="C")


class Str(sa.types.TypeDecorator[str]):
    """Text that sorts by code point on every backend."""

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        return _text_impl(dialect)


class Time(sa.types.TypeDecorator[datetime]):
    """A timezone-aware datetime stored as fixed-width UTC ISO 8601 text."""

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        return _text_impl(dialect)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        return None if value is None else time_to_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:
        return None if value is None else time_from_text(value)


class Day(sa.types.TypeDecorator[date]):
    """A date stored as ISO 8601 text."""

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        return _text_impl(dialect)

    def process_bind_param(self, value: date | None, dialect: Dialect) -> str | None:
        return None if value is None else date_to_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> date | None:
        return None if value is None else date_from_text(value)


metadata = sa.MetaData()


def _package_fk() -> sa.Column[str]:
    return sa.Column("package", Str, sa.ForeignKey("packages.uuid", ondelete=CASCADE), nullable=False)


packages = sa.Table(
    "packages",
    metadata,
    sa.Column("uuid", Str, primary_key=True),
    sa.Column("name", Str, nullable=False),
    sa.Column("created", Time, nullable=False),
    sa.Column("files", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("payload_sha256", Str, nullable=False),
    sa.Column("storage_key", Str, nullable=False),
    sa.Column("title", Str),
    sa.Column("indexed", sa.Boolean, nullable=False, server_default=sa.false()),
    # The duplicate check: the payload digest for a package that claims it, NULL otherwise.
    sa.Column("payload_claim", Str),
    sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
    sa.Column("updated", Time),
    sa.Index("packages_payload", "payload_sha256"),
    sa.Index("packages_payload_claim", "payload_claim", unique=True),
)

versions = sa.Table(
    "versions",
    metadata,
    _package_fk(),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("created", Time, nullable=False),
    sa.Column("message", Str, nullable=False),
    sa.Column("files", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("new_files", sa.BigInteger, nullable=False),
    sa.Column("new_bytes", sa.BigInteger, nullable=False),
    sa.Column("operator", Str),
    sa.PrimaryKeyConstraint("package", "number", name="versions_pkey"),
)

files = sa.Table(
    "files",
    metadata,
    sa.Column("uuid", Str, primary_key=True),
    _package_fk(),
    sa.Column("path", Str, nullable=False),
    sa.Column("original_name", Str, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", Str, nullable=False),
    sa.Column("role", Str, nullable=False),
    sa.Column("puid", Str),
    sa.Column("format_name", Str),
    sa.Column("identification", sa.Text),
    sa.Column("modified", Time),
    sa.Column("format_version", Str),
    sa.Column("validity", Str),  # strongroom.model.Validity; NULL: never characterised
    sa.Column("characterisation", sa.Text),  # JSON: each tool's findings
    sa.UniqueConstraint("package", "path", name="files_package_path"),
    sa.Index("files_puid", "puid"),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("key", Str, primary_key=True),
    sa.Column("identifier_type", Str, nullable=False),
    sa.Column("identifier_value", Str, nullable=False),
    sa.Column("name", Str, nullable=False),
    sa.Column("type", Str, nullable=False),
    sa.Column("note", Str),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("uuid", Str, primary_key=True),
    _package_fk(),
    sa.Column("file_uuid", Str),
    sa.Column("type", Str, nullable=False),
    sa.Column("datetime", Time, nullable=False),
    sa.Column("detail", Str, nullable=False),
    sa.Column("outcome", Str, nullable=False),
    sa.Column("outcome_detail", Str, nullable=False),
    sa.Column("agents", sa.Text, nullable=False),
    sa.Column("version", sa.Integer),
    sa.Index("events_package", "package", "datetime"),
)

descriptions = sa.Table(
    "descriptions",
    metadata,
    _package_fk(),
    sa.Column("target", Str, nullable=False),
    sa.Column("elements", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("package", "target", name="descriptions_pkey"),
)

access_rules = sa.Table(
    "access_rules",
    metadata,
    _package_fk(),
    sa.Column("path", Str, nullable=False),  # '' for the package itself
    sa.Column("status", Str, nullable=False),
    sa.Column("reason", Str, nullable=False),
    sa.Column("opening_date", Day),
    sa.Column("changed", Time),
    sa.Column("event_uuid", Str),
    sa.Column("closure_start", Day),  # the closure period runs from here
    sa.Column("closure_period", Str),  # ISO 8601 duration text ("P20Y")
    sa.Column("exemption", Str),  # FOI/EIR section ("s.40")
    sa.Column("redacted_title", Str),
    sa.PrimaryKeyConstraint("package", "path", name="access_rules_pkey"),
)

# Which version of each package each storage location holds, and the last fixity check of that copy.
copies = sa.Table(
    "copies",
    metadata,
    _package_fk(),
    sa.Column("location", Str, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),  # the highest version stored whole there
    sa.Column("stored", Time, nullable=False),
    sa.Column("checked", Time),  # the last fixity check of this copy; NULL before the first
    sa.Column("outcome", Str),  # that check's outcome ("success", "failure")
    sa.Column("problems", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.PrimaryKeyConstraint("package", "location", name="copies_pkey"),
    # One location's copies, least recently checked first: what an audit of a location reads.
    sa.Index("copies_location", "location", "checked"),
)

# The newest journal entry the catalog has seen appended (one row, id 1): an outside copy of the
# journal's head, so that entries removed from the end of the journal are noticed.
journal_anchor = sa.Table(
    "journal_anchor",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("digest", Str, nullable=False),
)

# --- records management (records/model.py) --------------------------------------------------------
# None of these has a foreign key to `packages`: recovery deletes and re-adds a package's row (its
# cascade must not take the assignment or holds with it), and a destroyed package keeps its
# assignment, holds and stub with no package row at all.

# Every version of every retention schedule; the current one is the highest version.
schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("code", Str, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("title", Str, nullable=False),
    sa.Column("description", Str, nullable=False),
    sa.Column("authority", Str, nullable=False),
    sa.Column("period", Str),  # ISO 8601 duration; NULL only for "retain"
    sa.Column("trigger", Str, nullable=False),
    sa.Column("trigger_event", Str),
    sa.Column("action", Str, nullable=False),
    sa.Column("transfer_to", Str),
    sa.Column("created", Time, nullable=False),
    sa.Column("reason", Str, nullable=False),
    sa.Column("event_uuid", Str),
    sa.PrimaryKeyConstraint("code", "version", name="schedules_pkey"),
)

# Each package's one schedule assignment (the journal keeps the earlier ones).
retention = sa.Table(
    "retention",
    metadata,
    sa.Column("package", Str, primary_key=True),
    sa.Column("code", Str, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("assigned", Time, nullable=False),
    sa.Column("reason", Str, nullable=False),
    sa.Column("how", Str, nullable=False),
    sa.Column("due_override", Day),
    sa.Column("event_uuid", Str),
    sa.Index("retention_schedule", "code", "version"),
)

# The latest date recorded for each named event of a package.
retention_triggers = sa.Table(
    "retention_triggers",
    metadata,
    sa.Column("package", Str, nullable=False),
    sa.Column("name", Str, nullable=False),
    sa.Column("date", Day, nullable=False),
    sa.Column("recorded", Time, nullable=False),
    sa.Column("reason", Str, nullable=False),
    sa.Column("event_uuid", Str),
    sa.PrimaryKeyConstraint("package", "name", name="retention_triggers_pkey"),
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("event_uuid", Str, primary_key=True),
    sa.Column("package", Str, nullable=False),
    sa.Column("decision", Str, nullable=False),
    sa.Column("reason", Str, nullable=False),
    sa.Column("decided", Time, nullable=False),
    sa.Column("by", Str, nullable=False),
    sa.Column("new_due", Day),
    sa.Column("new_code", Str),
    sa.Column("new_version", sa.Integer),
    sa.Index("reviews_package", "package", "decided"),
)

holds = sa.Table(
    "holds",
    metadata,
    sa.Column("id", Str, primary_key=True),
    sa.Column("type", Str, nullable=False),
    sa.Column("reason", Str, nullable=False),
    sa.Column("authority", Str),
    sa.Column("reference", Str),
    sa.Column("query", Str),
    sa.Column("placed", Time, nullable=False),
    sa.Column("placed_by", Str, nullable=False),
    sa.Column("released", Time),  # NULL while the hold is active
    sa.Column("released_by", Str),
    sa.Column("release_reason", Str),
    sa.Column("place_event", Str),
    sa.Column("release_event", Str),
)

hold_packages = sa.Table(
    "hold_packages",
    metadata,
    sa.Column("hold", Str, sa.ForeignKey("holds.id", ondelete=CASCADE), nullable=False),
    sa.Column("package", Str, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # the order the hold listed them in
    sa.PrimaryKeyConstraint("hold", "package", name="hold_packages_pkey"),
    sa.Index("hold_packages_package", "package"),
)

disposal_batches = sa.Table(
    "disposal_batches",
    metadata,
    sa.Column("id", Str, primary_key=True),
    sa.Column("as_of", Day, nullable=False),
    sa.Column("proposed", Time, nullable=False),
    sa.Column("proposed_by", Str, nullable=False),
    sa.Column("status", Str, nullable=False),
    sa.Column("executed", Time),
    sa.Column("certificate_sha256", sa.Text, nullable=False),  # JSON: {"csv": hex, "html": hex}
)

disposal_items = sa.Table(
    "disposal_items",
    metadata,
    sa.Column("batch", Str, sa.ForeignKey("disposal_batches.id", ondelete=CASCADE), nullable=False),
    sa.Column("package", Str, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # the order the proposal listed them in
    sa.Column("action", Str, nullable=False),
    sa.Column("code", Str, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("due", Day, nullable=False),
    sa.Column("head_version", sa.Integer, nullable=False),
    sa.Column("outcome", Str, nullable=False),
    sa.Column("why", Str),
    sa.Column("pending", sa.Text, nullable=False),  # JSON: the locations still holding content
    sa.PrimaryKeyConstraint("batch", "package", name="disposal_items_pkey"),
)

# The key (batch, name_key) is the two-person rule's last line: the database refuses a second
# approval by the same person, however the name is cased or spaced, even from racing processes.
disposal_approvals = sa.Table(
    "disposal_approvals",
    metadata,
    sa.Column("batch", Str, sa.ForeignKey("disposal_batches.id", ondelete=CASCADE), nullable=False),
    sa.Column("name_key", Str, nullable=False),
    sa.Column("name", Str, nullable=False),
    sa.Column("operator", Str, nullable=False),
    sa.Column("approved", Time, nullable=False),
    sa.Column("event_uuid", Str),
    sa.PrimaryKeyConstraint("batch", "name_key", name="disposal_approvals_pkey"),
)

# What is kept of a destroyed or transferred package: no names of people, no file names, no content.
destruction_stubs = sa.Table(
    "destruction_stubs",
    metadata,
    sa.Column("package", Str, primary_key=True),
    sa.Column("identifier", Str),
    sa.Column("title", Str, nullable=False),
    sa.Column("code", Str, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("authority", Str, nullable=False),
    sa.Column("action", Str, nullable=False),
    sa.Column("date_from", Day),
    sa.Column("date_to", Day),
    sa.Column("batch", Str, nullable=False),
    sa.Column("approved_by", sa.Text, nullable=False),  # JSON list of the approvers' names
    sa.Column("destroyed", Time, nullable=False),
    sa.Column("files", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("payload_sha256", Str, nullable=False),
    sa.Column("transferred_to", Str),
    sa.Column("index_purged", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("event_uuid", Str),
)

# --- the web service's operational state (revision 0007) -------------------------------------------
# Not derived from storage and not in ALL_TABLES: rebuild (Catalog.clear()) keeps accounts, sessions and jobs.

users = sa.Table(
    "users",
    metadata,
    sa.Column("name_key", Str, primary_key=True),  # NFKC + casefold of the name: one account per person
    sa.Column("name", Str, nullable=False),
    sa.Column("role", Str, nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created", Time, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("full_name", Str, nullable=False, server_default=""),
    sa.Column("password_changed", Time),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", Str, primary_key=True),
    sa.Column("user_key", Str, sa.ForeignKey("users.name_key", ondelete=CASCADE), nullable=False),
    sa.Column("label", Str, nullable=False),
    sa.Column("digest", Str, nullable=False),  # sha256 hex of the token text; the text itself is never kept
    sa.Column("created", Time, nullable=False),
    sa.Column("last_used", Time),
    sa.Column("revoked", Time),
    sa.Column("expires", Time),
    sa.Index("api_tokens_digest", "digest", unique=True),
    sa.Index("api_tokens_user", "user_key"),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("digest", Str, primary_key=True),  # sha256 hex of the cookie value
    sa.Column("user_key", Str, sa.ForeignKey("users.name_key", ondelete=CASCADE), nullable=False),
    sa.Column("csrf_token", Str, nullable=False),
    sa.Column("created", Time, nullable=False),
    sa.Column("expires", Time, nullable=False),
    sa.Column("last_seen", Time, nullable=False),
    sa.Index("web_sessions_user", "user_key"),
    sa.Index("web_sessions_expires", "expires"),
)

failed_sign_ins = sa.Table(
    "failed_sign_ins",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name_key", Str, nullable=False),  # the name tried: no foreign key, unknown names count too
    sa.Column("client", Str, nullable=False),
    sa.Column("at", Time, nullable=False),
    sa.Index("failed_sign_ins_name", "name_key", "at"),
    sa.Index("failed_sign_ins_client", "client", "at"),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", Str, primary_key=True),
    sa.Column("kind", Str, nullable=False),
    sa.Column("title", Str, nullable=False),
    sa.Column("owner", Str, nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON object
    sa.Column("state", Str, nullable=False),
    sa.Column("created", Time, nullable=False),
    sa.Column("started", Time),
    sa.Column("finished", Time),
    sa.Column("step", Str, nullable=False, server_default=""),
    sa.Column("done", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    sa.Column("total", sa.BigInteger),
    sa.Column("result", sa.Text),  # JSON object
    sa.Column("error", Str),
    sa.Column("details", sa.Text, nullable=False, server_default="[]"),  # JSON list of strings
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("runner", Str, nullable=False, server_default=""),
    sa.Column("chunks_total", sa.BigInteger),  # a staged job's chunk count, once planned
    sa.Column("chunks_done", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    sa.Index("jobs_created", "created"),
    sa.Index("jobs_owner", "owner", "created"),
    sa.Index("jobs_state", "state", "runner"),
)

# One row per step of a job (plan, chunk-000012, finalize, run): the queue of the embedded runner and
# the lease every worker holds while it runs a step (jobs/model.py StepRecord).
job_steps = sa.Table(
    "job_steps",
    metadata,
    sa.Column("job_id", Str, sa.ForeignKey("jobs.id", ondelete=CASCADE), primary_key=True),
    sa.Column("key", Str, primary_key=True),
    sa.Column("state", Str, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("worker", Str, nullable=False, server_default=""),
    sa.Column("lease_until", Time),
    sa.Column("queued", Time, nullable=False),  # when it was (re)queued: the embedded runner takes the oldest
    sa.Column("started", Time),
    sa.Column("finished", Time),
    sa.Column("error", Str),
    sa.Index("job_steps_claim", "state", "job_id"),
    sa.Index("job_steps_expiry", "state", "lease_until"),
)

# Children first: the order clear() deletes in.
ALL_TABLES = (
    copies, access_rules, descriptions, events, files, versions, packages, agents, journal_anchor,
    hold_packages, holds, disposal_approvals, disposal_items, disposal_batches, destruction_stubs,
    reviews, retention_triggers, retention, schedules,
)  # fmt: skip
