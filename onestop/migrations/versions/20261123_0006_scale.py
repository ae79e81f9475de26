"""Indexes for a province's millions of cases (docs/queries.md has the plans before and after).

- cases: (unit_id, received_at) and (unit_id, ended_at) for the case book and the period
  reports, replacing the index on unit_id alone; a partial index of the open cases for
  escalation, re-projection and overdue lists, replacing the index on due_at, so that moving a
  due instant touches no index and the row's new version stays on its page (HOT, helped by a
  fill factor of 90 on PostgreSQL).
- step_assignments: the open steps by unit and due instant (a unit head's queue).

On a large live database, build the new indexes first with CREATE INDEX CONCURRENTLY under the
same names (see docs/queries.md); this migration then skips them (IF NOT EXISTS).

Revision ID: 20261123_0006
Revises: 20261123_0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261123_0006"
down_revision = "20261123_0005"
branch_labels = None
depends_on = None

OPEN = "status IN ('received', 'in_progress', 'awaiting_supplement', 'awaiting_payment')"
OPEN_STEP = "ended_at IS NULL"


def upgrade() -> None:
    op.create_index("ix_cases_unit_received", "cases", ["unit_id", "received_at"], if_not_exists=True)
    op.create_index("ix_cases_unit_ended", "cases", ["unit_id", "ended_at"], if_not_exists=True)
    op.create_index(
        "ix_cases_open", "cases", ["id"], if_not_exists=True,
        sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN),
    )
    op.create_index(
        "ix_step_assignments_open_by_unit", "step_assignments", ["unit_id", "due_at"],
        if_not_exists=True, sqlite_where=sa.text(OPEN_STEP), postgresql_where=sa.text(OPEN_STEP),
    )
    op.drop_index("ix_cases_unit_id", table_name="cases")
    op.drop_index("ix_cases_due_at", table_name="cases")
    if op.get_bind().dialect.name == "postgresql":
        # New and moved rows keep 10% of each page free; existing pages follow at their next
        # rewrite (VACUUM FULL or pg_repack), which a live database need not do at once.
        op.execute("ALTER TABLE cases SET (fillfactor = 90)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE cases RESET (fillfactor)")
    op.create_index("ix_cases_due_at", "cases", ["due_at"])
    op.create_index("ix_cases_unit_id", "cases", ["unit_id"])
    op.drop_index(
        "ix_step_assignments_open_by_unit", table_name="step_assignments",
        sqlite_where=sa.text(OPEN_STEP), postgresql_where=sa.text(OPEN_STEP),
    )
    op.drop_index("ix_cases_open", table_name="cases", sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
    op.drop_index("ix_cases_unit_ended", table_name="cases")
    op.drop_index("ix_cases_unit_received", table_name="cases")
