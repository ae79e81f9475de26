"""The administrators' trail: who changed a unit, a procedure's process or the calendar, and why.

Revision ID: 20261203_0008
Revises: 20261123_0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import onestop.db

revision = "20261203_0008"
down_revision = "20261123_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", onestop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["officers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_admin_actions_at", "admin_actions", ["at"])
    op.create_index("ix_admin_actions_target", "admin_actions", ["target"])


def downgrade() -> None:
    op.drop_index("ix_admin_actions_target", "admin_actions")
    op.drop_index("ix_admin_actions_at", "admin_actions")
    op.drop_table("admin_actions")
