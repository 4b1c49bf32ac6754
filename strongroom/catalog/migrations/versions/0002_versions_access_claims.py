"""Versions, access rules and the payload claim; times in one sortable form.

- packages: `payload_claim` (the duplicate check, a unique index: the digest for the package
  that claims its payload, NULL otherwise), `version` (the head) and `updated`.
- files: `format_version` of the first format match; events: `version`.
- new tables `versions` (one row per version of a package) and `access_rules`.
- Rows of a 0.1 catalog: every package is at version 1 (a `versions` row made from the
  package), the oldest package of each payload digest claims it, and times are rewritten
  as fixed-width UTC text so that they sort as times.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-01
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
CHUNK = 1000


def _package_fk() -> sa.Column[str]:
    return sa.Column("package", TEXT, sa.ForeignKey("packages.uuid", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.add_column("packages", sa.Column("payload_claim", TEXT))
    op.add_column("packages", sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")))
    op.add_column("packages", sa.Column("updated", TEXT))
    op.add_column("files", sa.Column("format_version", TEXT))
    op.add_column("events", sa.Column("version", sa.Integer))
    op.create_table(
        "versions",
        _package_fk(),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("created", TEXT, nullable=False),
        sa.Column("message", TEXT, nullable=False),
        sa.Column("files", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("new_files", sa.BigInteger, nullable=False),
        sa.Column("new_bytes", sa.BigInteger, nullable=False),
        sa.Column("operator", TEXT),
        sa.PrimaryKeyConstraint("package", "number", name="versions_pkey"),
    )
    op.create_table(
        "access_rules",
        _package_fk(),
        sa.Column("path", TEXT, nullable=False),
        sa.Column("status", TEXT, nullable=False),
        sa.Column("reason", TEXT, nullable=False),
        sa.Column("opening_date", TEXT),
        sa.Column("changed", TEXT),
        sa.Column("event_uuid", TEXT),
        sa.PrimaryKeyConstraint("package", "path", name="access_rules_pkey"),
    )
    _migrate_packages()
    _migrate_files()
    _migrate_events()
    op.create_index("packages_payload_claim", "packages", ["payload_claim"], unique=True)


def _utc_text(text: str | None) -> str | None:
    """0.1 wrote isoformat() with any offset and optional microseconds; now fixed-width UTC."""
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    value = value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return value.isoformat(timespec="microseconds")


def _migrate_packages() -> None:
    bind = op.get_bind()
    packages = sa.table(
        "packages",
        *(sa.column(name) for name in ("uuid", "created", "files", "bytes", "payload_sha256", "payload_claim")),
        sa.column("updated"),
    )
    versions = sa.table("versions", *(sa.column(name) for name in ("package", "number", "created", "message")),
                        *(sa.column(name) for name in ("files", "bytes", "new_files", "new_bytes")))  # fmt: skip
    rows = bind.execute(
        sa.select(packages.c.uuid, packages.c.created, packages.c.files, packages.c.bytes, packages.c.payload_sha256)
    ).all()
    claimed: dict[str, tuple[str, str]] = {}  # digest -> (created, uuid) of its oldest package
    updates = []
    for uuid, created, _files, _size, digest in rows:
        when = _utc_text(created) or ""  # created is NOT NULL
        updates.append({"key": uuid, "when": when})
        if digest not in claimed or (when, uuid) < claimed[digest]:
            claimed[digest] = (when, uuid)
    claim_of = {uuid: digest for digest, (_, uuid) in claimed.items()}
    for start in range(0, len(updates), CHUNK):
        chunk = updates[start : start + CHUNK]
        for row in chunk:
            row["claim"] = claim_of.get(row["key"])
        bind.execute(
            sa.update(packages)
            .where(packages.c.uuid == sa.bindparam("key"))
            .values(created=sa.bindparam("when"), updated=sa.bindparam("when"), payload_claim=sa.bindparam("claim")),
            chunk,
        )
    # Every 0.1 package holds one version: the ingest that made it.
    version_rows = [
        {"package": uuid, "number": 1, "created": _utc_text(created), "message": "ingest", "files": files,
         "bytes": size, "new_files": files, "new_bytes": size}
        for uuid, created, files, size, _ in rows
    ]  # fmt: skip
    for start in range(0, len(version_rows), CHUNK):
        bind.execute(sa.insert(versions), version_rows[start : start + CHUNK])


def _first_version(identification: str | None) -> str | None:
    if not identification:
        return None
    matches = json.loads(identification).get("matches") or []
    version = matches[0].get("version") if matches else None
    return str(version) if version is not None else None


def _migrate_files() -> None:
    bind = op.get_bind()
    files = sa.table("files", *(sa.column(n) for n in ("uuid", "identification", "modified", "format_version")))
    last = ""
    while True:
        rows = bind.execute(
            sa.select(files.c.uuid, files.c.identification, files.c.modified)
            .where(files.c.uuid > last)
            .order_by(files.c.uuid)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        bind.execute(
            sa.update(files)
            .where(files.c.uuid == sa.bindparam("key"))
            .values(format_version=sa.bindparam("new_version"), modified=sa.bindparam("new_modified")),
            [
                {"key": uuid, "new_version": _first_version(ident), "new_modified": _utc_text(modified)}
                for uuid, ident, modified in rows
            ],
        )
        last = rows[-1][0]


def _migrate_events() -> None:
    bind = op.get_bind()
    events = sa.table("events", sa.column("uuid"), sa.column("datetime"))
    last = ""
    while True:
        rows = bind.execute(
            sa.select(events.c.uuid, events.c.datetime).where(events.c.uuid > last).order_by(events.c.uuid).limit(CHUNK)
        ).all()
        if not rows:
            return
        bind.execute(
            sa.update(events).where(events.c.uuid == sa.bindparam("key")).values(datetime=sa.bindparam("when")),
            [{"key": uuid, "when": _utc_text(when)} for uuid, when in rows],
        )
        last = rows[-1][0]


def downgrade() -> None:
    raise NotImplementedError("The catalog is rebuilt from storage rather than downgraded: strongroom rebuild")
