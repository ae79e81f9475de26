"""Tables of the escalation, signals and inspections.

Escalation claims (unique per case, step and level), the in-app inbox, the e-mail outbox,
advisory signals (unique per day, kind and subject), and surprise inspections.

Revision ID: 20261123_0005
Revises: 20261123_0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import onestop.db

revision = "20261123_0005"
down_revision = "20261123_0004"
branch_labels = None
depends_on = None

EVENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _instant() -> onestop.db.UTCDateTime:
    return onestop.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("step_key", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("step_position", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("recipient_unit_id", sa.Integer(), nullable=True),
        sa.Column("recipient_ids", sa.JSON(), nullable=False),
        sa.Column("due_at", _instant(), nullable=False),
        sa.Column("fired_at", _instant(), nullable=False),
        sa.Column("delivered_at", _instant(), nullable=True),
        sa.CheckConstraint(
            "level IN ('step_at_risk', 'step_overdue', 'extension_prompt', 'case_overdue')",
            name="ck_escalations_level",
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["assignment_id"], ["step_assignments.id"]),
        sa.ForeignKeyConstraint(["owner_id"], ["officers.id"]),
        sa.ForeignKeyConstraint(["recipient_unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "step_key", "level", name="uq_escalations_key"),
    )
    op.create_index(
        "ix_escalations_assignment_level", "escalations", ["assignment_id", "level"]
    )
    op.create_index(
        "ix_escalations_undelivered", "escalations", ["id"],
        sqlite_where=sa.text("delivered_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL"),
    )

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("escalation_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("read_at", _instant(), nullable=True),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["escalation_id"], ["escalations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_notifications_officer_id", "notifications", ["officer_id"])

    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("to_addrs", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("locked_until", _instant(), nullable=True),
        sa.Column("sent_at", _instant(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name="ck_outbox_messages_status"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index(
        "ix_outbox_messages_pending", "outbox_messages", ["id"],
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "outbox_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["outbox_messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_attachments_message_id", "outbox_attachments", ["message_id"])

    op.create_table(
        "inspection_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("inspector_id", sa.Integer(), nullable=True),
        sa.Column("stratum", sa.String(length=32), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("draw_rank", sa.Integer(), nullable=False),
        sa.Column("drawn_at", _instant(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["inspector_id"], ["officers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("week_start", "case_id"),
    )
    op.create_index("ix_inspection_samples_case_id", "inspection_samples", ["case_id"])
    op.create_index("ix_inspection_samples_inspector_id", "inspection_samples", ["inspector_id"])
    op.create_index(
        "ix_inspection_samples_week_unit", "inspection_samples", ["week_start", "unit_id"]
    )
    op.create_table(
        "inspection_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("inspector_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", _instant(), nullable=False),
        sa.Column("event_id", EVENT_ID, nullable=False),
        sa.CheckConstraint(
            "verdict IN ('in_order', 'irregular')", name="ck_inspection_findings_verdict"
        ),
        sa.ForeignKeyConstraint(["sample_id"], ["inspection_samples.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["inspector_id"], ["officers.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["case_events.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sample_id"),
    )
    op.create_index("ix_inspection_findings_case_id", "inspection_findings", ["case_id"])
    op.create_index("ix_inspection_findings_recorded_at", "inspection_findings", ["recorded_at"])

    op.create_table(
        "signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sign", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("computed_at", _instant(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", "kind", "subject", name="uq_signals_day_kind_subject"),
    )
    op.create_index("ix_signals_day", "signals", ["day"])
    op.create_index("ix_signals_case_id", "signals", ["case_id"])
    op.create_index("ix_signals_officer_id", "signals", ["officer_id"])
    op.create_index("ix_signals_unit_id", "signals", ["unit_id"])
    op.create_index("ix_signals_kind_day", "signals", ["kind", "day"])


def downgrade() -> None:
    op.drop_table("signals")
    op.drop_table("inspection_findings")
    op.drop_table("inspection_samples")
    op.drop_table("outbox_attachments")
    op.drop_table("outbox_messages")
    op.drop_table("notifications")
    op.drop_table("escalations")
