"""Tables of the on-time figures and reports.

Revision ID: 20261123_0004
Revises: 20261123_0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import onestop.db

revision = "20261123_0004"
down_revision = "20261123_0003"
branch_labels = None
depends_on = None

CASE_COUNTS = (
    "received_online", "received_in_person", "received_post",
    "resolved_early", "resolved_on_time", "resolved_late",
    "withdrawn", "stopped", "refused",
    "open_within", "open_overdue", "open_at_risk", "open_paused",
    "resolved_disliked",
)
STEP_COUNTS = (
    "finished_early", "finished_on_time", "finished_late",
    "open_within", "open_overdue", "open_at_risk", "open_paused", "held_cases_overdue",
)
STEP_SECONDS = ("worked_seconds", "budget_seconds", "overrun_seconds", "open_overrun_seconds")


def upgrade() -> None:
    op.create_table(
        "metric_calendar_days",
        sa.Column("dn", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("working", sa.SmallInteger(), nullable=False),
        sa.Column("cum", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("dn"),
        sa.UniqueConstraint("day"),
    )
    op.create_table(
        "metric_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("watermark_at", onestop.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_event_id", sa.BigInteger(), nullable=True),
        sa.Column("computed_from", sa.Date(), nullable=True),
        sa.Column("computed_to", sa.Date(), nullable=True),
        sa.Column("office_hours", sa.String(length=64), nullable=True),
        sa.Column("at_risk_share", sa.Float(), nullable=True),
        sa.Column("updated_at", onestop.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "metric_case_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("procedure_id", sa.Integer(), autoincrement=False, nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in CASE_COUNTS),
        sa.Column("resolved_working_seconds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "unit_id", "procedure_id"),
    )
    op.create_table(
        "metric_step_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("procedure_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("step_position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("owner_id", sa.Integer(), autoincrement=False, nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in STEP_COUNTS),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in STEP_SECONDS),
        sa.PrimaryKeyConstraint("day", "unit_id", "procedure_id", "step_position", "owner_id"),
    )
    op.create_table(
        "stored_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("created_at", onestop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "unit_id", "period_start", "period_end"),
    )
    with op.batch_alter_table("stored_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stored_reports_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stored_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_reports_unit_id"))
    op.drop_table("stored_reports")
    op.drop_table("metric_step_days")
    op.drop_table("metric_case_days")
    op.drop_table("metric_state")
    op.drop_table("metric_calendar_days")
