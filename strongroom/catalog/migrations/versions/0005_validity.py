"""Characterisation: each file's validity verdict and each tool's findings.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    # Files stored before characterisation keep NULL: "never characterised", not "not checked".
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("validity", TEXT))
        batch.add_column(sa.Column("characterisation", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.drop_column("characterisation")
        batch.drop_column("validity")
