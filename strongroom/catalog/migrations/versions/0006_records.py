"""Records management: retention schedules, assignments, trigger events, reviews, holds, disposal, stubs.

- new tables for what records/model.py describes; none has a foreign key to `packages` (a
  package's row is deleted and re-added on recovery, and a destroyed package keeps its records).
- `access_rules` gains the closure columns: closure_start, closure_period, exemption, redacted_title.
- No data to carry over: older catalogs had no records state, and their access rules stay as they were.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("code", TEXT, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("title", TEXT, nullable=False),
        sa.Column("description", TEXT, nullable=False),
        sa.Column("authority", TEXT, nullable=False),
        sa.Column("period", TEXT),
        sa.Column("trigger", TEXT, nullable=False),
        sa.Column("trigger_event", TEXT),
        sa.Column("action", TEXT, nullable=False),
        sa.Column("transfer_to", TEXT),
        sa.Column("created", TEXT, nullable=False),
        sa.Column("reason", TEXT, nullable=False),
        sa.Column("event_uuid", TEXT),
        sa.PrimaryKeyConstraint("code", "version", name="schedules_pkey"),
    )
    op.create_table(
        "retention",
        sa.Column("package", TEXT, primary_key=True),
        sa.Column("code", TEXT, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("assigned", TEXT, nullable=False),
        sa.Column("reason", TEXT, nullable=False),
        sa.Column("how", TEXT, nullable=False),
        sa.Column("due_override", TEXT),
        sa.Column("event_uuid", TEXT),
    )
    op.create_index("retention_schedule", "retention", ["code", "version"])
    op.create_table(
        "retention_triggers",
        sa.Column("package", TEXT, nullable=False),
        sa.Column("name", TEXT, nullable=False),
        sa.Column("date", TEXT, nullable=False),
        sa.Column("recorded", TEXT, nullable=False),
        sa.Column("reason", TEXT, nullable=False),
        sa.Column("event_uuid", TEXT),
        sa.PrimaryKeyConstraint("package", "name", name="retention_triggers_pkey"),
    )
    op.create_table(
        "reviews",
        sa.Column("event_uuid", TEXT, primary_key=True),
        sa.Column("package", TEXT, nullable=False),
        sa.Column("decision", TEXT, nullable=False),
        sa.Column("reason", TEXT, nullable=False),
        sa.Column("decided", TEXT, nullable=False),
        sa.Column("by", TEXT, nullable=False),
        sa.Column("new_due", TEXT),
        sa.Column("new_code", TEXT),
        sa.Column("new_version", sa.Integer),
    )
    op.create_index("reviews_package", "reviews", ["package", "decided"])
    op.create_table(
        "holds",
        sa.Column("id", TEXT, primary_key=True),
        sa.Column("type", TEXT, nullable=False),
        sa.Column("reason", TEXT, nullable=False),
        sa.Column("authority", TEXT),
        sa.Column("reference", TEXT),
        sa.Column("query", TEXT),
        sa.Column("placed", TEXT, nullable=False),
        sa.Column("placed_by", TEXT, nullable=False),
        sa.Column("released", TEXT),
        sa.Column("released_by", TEXT),
        sa.Column("release_reason", TEXT),
        sa.Column("place_event", TEXT),
        sa.Column("release_event", TEXT),
    )
    op.create_table(
        "hold_packages",
        sa.Column("hold", TEXT, sa.ForeignKey("holds.id", ondelete="CASCADE"), nullable=False),
        sa.Column("package", TEXT, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("hold", "package", name="hold_packages_pkey"),
    )
    op.create_index("hold_packages_package", "hold_packages", ["package"])
    op.create_table(
        "disposal_batches",
        sa.Column("id", TEXT, primary_key=True),
        sa.Column("as_of", TEXT, nullable=False),
        sa.Column("proposed", TEXT, nullable=False),
        sa.Column("proposed_by", TEXT, nullable=False),
        sa.Column("status", TEXT, nullable=False),
        sa.Column("executed", TEXT),
        sa.Column("certificate_sha256", sa.Text, nullable=False),
    )
    op.create_table(
        "disposal_items",
        sa.Column("batch", TEXT, sa.ForeignKey("disposal_batches.id", ondelete="CASCADE"), nullable=False),
        sa.Column("package", TEXT, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("action", TEXT, nullable=False),
        sa.Column("code", TEXT, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("due", TEXT, nullable=False),
        sa.Column("head_version", sa.Integer, nullable=False),
        sa.Column("outcome", TEXT, nullable=False),
        sa.Column("why", TEXT),
        sa.Column("pending", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("batch", "package", name="disposal_items_pkey"),
    )
    op.create_table(
        "disposal_approvals",
        sa.Column("batch", TEXT, sa.ForeignKey("disposal_batches.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name_key", TEXT, nullable=False),
        sa.Column("name", TEXT, nullable=False),
        sa.Column("operator", TEXT, nullable=False),
        sa.Column("approved", TEXT, nullable=False),
        sa.Column("event_uuid", TEXT),
        sa.PrimaryKeyConstraint("batch", "name_key", name="disposal_approvals_pkey"),
    )
    op.create_table(
        "destruction_stubs",
        sa.Column("package", TEXT, primary_key=True),
        sa.Column("identifier", TEXT),
        sa.Column("title", TEXT, nullable=False),
        sa.Column("code", TEXT, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("authority", TEXT, nullable=False),
        sa.Column("action", TEXT, nullable=False),
        sa.Column("date_from", TEXT),
        sa.Column("date_to", TEXT),
        sa.Column("batch", TEXT, nullable=False),
        sa.Column("approved_by", sa.Text, nullable=False),
        sa.Column("destroyed", TEXT, nullable=False),
        sa.Column("files", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("payload_sha256", TEXT, nullable=False),
        sa.Column("transferred_to", TEXT),
        sa.Column("index_purged", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("event_uuid", TEXT),
    )
    # Existing rules keep NULL: no closure period, no exemption, no redacted title.
    with op.batch_alter_table("access_rules") as batch:
        batch.add_column(sa.Column("closure_start", TEXT))
        batch.add_column(sa.Column("closure_period", TEXT))
        batch.add_column(sa.Column("exemption", TEXT))
        batch.add_column(sa.Column("redacted_title", TEXT))


def downgrade() -> None:
    with op.batch_alter_table("access_rules") as batch:
        for column in ("redacted_title", "exemption", "closure_period", "closure_start"):
            batch.drop_column(column)
    for table in ("destruction_stubs", "disposal_approvals", "disposal_items", "disposal_batches",
                  "hold_packages", "holds", "reviews", "retention_triggers", "retention", "schedules"):  # fmt: skip
        op.drop_table(table)
