"""The catalog of Strongroom 0.1: packages, files, events, agents and descriptions.

A 0.1 catalog (made before the catalog had migrations) is stamped with this revision
and upgraded from here; a new catalog is created by running this and every later one.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen here rather than imported from tables.py: a revision must not change when the code does.
# Text sorts by code point on PostgreSQL as it does on SQLite.
TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def _package_fk() -> sa.Column[str]:
    return sa.Column("package", TEXT, sa.ForeignKey("packages.uuid", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "packages",
        sa.Column("uuid", TEXT, primary_key=True),
        sa.Column("name", TEXT, nullable=False),
        sa.Column("created", TEXT, nullable=False),
        sa.Column("files", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("payload_sha256", TEXT, nullable=False),
        sa.Column("storage_key", TEXT, nullable=False),
        sa.Column("title", TEXT),
        sa.Column("indexed", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("packages_payload", "packages", ["payload_sha256"])
    op.create_table(
        "files",
        sa.Column("uuid", TEXT, primary_key=True),
        _package_fk(),
        sa.Column("path", TEXT, nullable=False),
        sa.Column("original_name", TEXT, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", TEXT, nullable=False),
        sa.Column("role", TEXT, nullable=False),
        sa.Column("puid", TEXT),
        sa.Column("format_name", TEXT),
        sa.Column("identification", sa.Text),
        sa.Column("modified", TEXT),
        sa.UniqueConstraint("package", "path", name="files_package_path"),
    )
    op.create_index("files_puid", "files", ["puid"])
    op.create_table(
        "agents",
        sa.Column("key", TEXT, primary_key=True),
        sa.Column("identifier_type", TEXT, nullable=False),
        sa.Column("identifier_value", TEXT, nullable=False),
        sa.Column("name", TEXT, nullable=False),
        sa.Column("type", TEXT, nullable=False),
        sa.Column("note", TEXT),
    )
    op.create_table(
        "events",
        sa.Column("uuid", TEXT, primary_key=True),
        _package_fk(),
        sa.Column("file_uuid", TEXT),
        sa.Column("type", TEXT, nullable=False),
        sa.Column("datetime", TEXT, nullable=False),
        sa.Column("detail", TEXT, nullable=False),
        sa.Column("outcome", TEXT, nullable=False),
        sa.Column("outcome_detail", TEXT, nullable=False),
        sa.Column("agents", sa.Text, nullable=False),
    )
    op.create_index("events_package", "events", ["package", "datetime"])
    op.create_table(
        "descriptions",
        _package_fk(),
        sa.Column("target", TEXT, nullable=False),
        sa.Column("elements", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("package", "target", name="descriptions_pkey"),
    )


def downgrade() -> None:
    raise NotImplementedError("The catalog is rebuilt from storage rather than downgraded: strongroom rebuild")
