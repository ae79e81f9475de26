"""An officer's own figures (the dashboards' scorecard) read the step snapshots by owner; their
primary key leads with the day, so without this index each scorecard scans the whole table.

Revision ID: 20261123_0007
Revises: 20261123_0006
"""

from __future__ import annotations

from alembic import op

revision = "20261123_0007"
down_revision = "20261123_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_metric_step_days_owner_day", "metric_step_days", ["owner_id", "day"], if_not_exists=True
    )


def downgrade() -> None:
    op.drop_index("ix_metric_step_days_owner_day", "metric_step_days")
