"""Copies: which version of each package each storage location holds, and its last fixity check.

- new table `copies`, one row per (package, location).
- Rows of an older catalog: its home had one storage location, which is now named "primary";
  every package gets a copy there at its head version, stored when the package was last
  updated (else created), last checked at its latest whole-package fixity check event (a
  "fixity check" with no file), with that event's outcome. Done in SQL, one statement, so an
  archive of hundreds of thousands of packages upgrades without loading them into Python.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
PRIMARY = "primary"  # the name a single-location home's storage gets


def upgrade() -> None:
    op.create_table(
        "copies",
        sa.Column("package", TEXT, sa.ForeignKey("packages.uuid", ondelete="CASCADE"), nullable=False),
        sa.Column("location", TEXT, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("stored", TEXT, nullable=False),
        sa.Column("checked", TEXT),
        sa.Column("outcome", TEXT),
        sa.Column("problems", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("package", "location", name="copies_pkey"),
    )
    op.create_index("copies_location", "copies", ["location", "checked"])
    _fill_primary()


def _fill_primary() -> None:
    packages = sa.table("packages", sa.column("uuid"), sa.column("version"), sa.column("created"),
                        sa.column("updated"))  # fmt: skip
    events = sa.table("events", sa.column("uuid"), sa.column("package"), sa.column("file_uuid"), sa.column("type"),
                      sa.column("datetime"), sa.column("outcome"))  # fmt: skip
    copies = sa.table("copies", *(sa.column(n) for n in ("package", "location", "version", "stored", "checked")),
                      sa.column("outcome"), sa.column("problems"))  # fmt: skip
    # Times are fixed-width UTC text since 0002, so text order is time order.
    latest = (
        sa.select(events.c.datetime, events.c.outcome)
        .where(events.c.package == packages.c.uuid, events.c.type == "fixity check", events.c.file_uuid.is_(None))
        # Two checks at the same instant: a failure counts as the last word (the cautious reading).
        .order_by(
            events.c.datetime.desc(),
            sa.case((events.c.outcome == "failure", 0), else_=1),
            events.c.uuid.desc(),
        )
        .limit(1)
        .correlate(packages)
    )
    checked = latest.with_only_columns(events.c.datetime).scalar_subquery()
    outcome = latest.with_only_columns(events.c.outcome).scalar_subquery()
    rows = sa.select(
        packages.c.uuid,
        sa.literal(PRIMARY),
        packages.c.version,
        sa.func.coalesce(packages.c.updated, packages.c.created),
        checked,
        outcome,
        sa.case((outcome == "failure", 1), else_=0),
    )
    op.get_bind().execute(
        sa.insert(copies).from_select(
            ["package", "location", "version", "stored", "checked", "outcome", "problems"], rows
        )
    )


def downgrade() -> None:
    op.drop_table("copies")
