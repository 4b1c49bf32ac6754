"""Durable staged jobs: a staged job's chunk counts, and one row per step with its state and lease.

- `jobs` gains chunks_total (NULL until the job is planned) and chunks_done (0).
- new table `job_steps` (plan, chunk-000012, finalize, run) keyed by (job_id, key), deleted with its job;
  indexes for taking the oldest queued step (state, job_id) and for finding expired leases (state, lease_until).
- no data to carry over: jobs of earlier revisions have no steps, and runners treat them as before.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.add_column("jobs", sa.Column("chunks_total", sa.BigInteger))
    op.add_column("jobs", sa.Column("chunks_done", sa.BigInteger, nullable=False, server_default=sa.text("0")))
    op.create_table(
        "job_steps",
        sa.Column("job_id", TEXT, sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", TEXT, primary_key=True),
        sa.Column("state", TEXT, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("worker", TEXT, nullable=False, server_default=""),
        sa.Column("lease_until", TEXT),
        sa.Column("queued", TEXT, nullable=False),
        sa.Column("started", TEXT),
        sa.Column("finished", TEXT),
        sa.Column("error", TEXT),
    )
    op.create_index("job_steps_claim", "job_steps", ["state", "job_id"])
    op.create_index("job_steps_expiry", "job_steps", ["state", "lease_until"])


def downgrade() -> None:
    op.drop_table("job_steps")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("chunks_done")
        batch.drop_column("chunks_total")
