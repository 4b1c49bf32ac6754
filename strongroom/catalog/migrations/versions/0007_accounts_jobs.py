"""The web service: accounts, API tokens, sessions, failed sign-ins, and background jobs.

- new tables only; nothing of earlier revisions changes, and there is no data to carry over.
- operational state, not derived from storage: `Catalog.clear()` (rebuild) leaves these tables alone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name_key", TEXT, primary_key=True),
        sa.Column("name", TEXT, nullable=False),
        sa.Column("role", TEXT, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created", TEXT, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("full_name", TEXT, nullable=False, server_default=""),
        sa.Column("password_changed", TEXT),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", TEXT, primary_key=True),
        sa.Column("user_key", TEXT, sa.ForeignKey("users.name_key", ondelete="CASCADE"), nullable=False),
        sa.Column("label", TEXT, nullable=False),
        sa.Column("digest", TEXT, nullable=False),
        sa.Column("created", TEXT, nullable=False),
        sa.Column("last_used", TEXT),
        sa.Column("revoked", TEXT),
        sa.Column("expires", TEXT),
    )
    op.create_index("api_tokens_digest", "api_tokens", ["digest"], unique=True)
    op.create_index("api_tokens_user", "api_tokens", ["user_key"])
    op.create_table(
        "web_sessions",
        sa.Column("digest", TEXT, primary_key=True),
        sa.Column("user_key", TEXT, sa.ForeignKey("users.name_key", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", TEXT, nullable=False),
        sa.Column("created", TEXT, nullable=False),
        sa.Column("expires", TEXT, nullable=False),
        sa.Column("last_seen", TEXT, nullable=False),
    )
    op.create_index("web_sessions_user", "web_sessions", ["user_key"])
    op.create_index("web_sessions_expires", "web_sessions", ["expires"])
    op.create_table(
        "failed_sign_ins",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name_key", TEXT, nullable=False),
        sa.Column("client", TEXT, nullable=False),
        sa.Column("at", TEXT, nullable=False),
    )
    op.create_index("failed_sign_ins_name", "failed_sign_ins", ["name_key", "at"])
    op.create_index("failed_sign_ins_client", "failed_sign_ins", ["client", "at"])
    op.create_table(
        "jobs",
        sa.Column("id", TEXT, primary_key=True),
        sa.Column("kind", TEXT, nullable=False),
        sa.Column("title", TEXT, nullable=False),
        sa.Column("owner", TEXT, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("state", TEXT, nullable=False),
        sa.Column("created", TEXT, nullable=False),
        sa.Column("started", TEXT),
        sa.Column("finished", TEXT),
        sa.Column("step", TEXT, nullable=False, server_default=""),
        sa.Column("done", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("total", sa.BigInteger),
        sa.Column("result", sa.Text),
        sa.Column("error", TEXT),
        sa.Column("details", sa.Text, nullable=False, server_default="[]"),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("runner", TEXT, nullable=False, server_default=""),
    )
    op.create_index("jobs_created", "jobs", ["created"])
    op.create_index("jobs_owner", "jobs", ["owner", "created"])
    op.create_index("jobs_state", "jobs", ["state", "runner"])


def downgrade() -> None:
    for table in ("jobs", "failed_sign_ins", "web_sessions", "api_tokens", "users"):
        op.drop_table(table)
