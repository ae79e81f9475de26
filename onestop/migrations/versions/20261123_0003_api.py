"""Tables of the REST API: officers' bearer tokens (stored hashed).

Revision ID: 20261123_0003
Revises: 20261123_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import onestop.db

revision = "20261123_0003"
down_revision = "20261123_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", onestop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", onestop.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", onestop.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prefix"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_officer_id"), ["officer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_officer_id"))
    op.drop_table("api_tokens")
