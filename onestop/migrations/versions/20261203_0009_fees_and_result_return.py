"""Form 01's last fields: the procedure's fees, how the result is returned (chosen at intake),
and the usual count of each checklist document.

Revision ID: 20261203_0009
Revises: 20261203_0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261203_0009"
down_revision = "20261203_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("procedures", sa.Column("fees", sa.String(length=500), nullable=True))
    # Older cases keep NULL: their receipts name the channel's way, as before.
    op.add_column("cases", sa.Column("result_return", sa.String(length=16), nullable=True))
    op.add_column(
        "procedure_documents",
        sa.Column("count", sa.Integer(), nullable=False, server_default="1"),
    )


def downgrade() -> None:
    with op.batch_alter_table("procedure_documents") as batch:
        batch.drop_column("count")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("result_return")
    with op.batch_alter_table("procedures") as batch:
        batch.drop_column("fees")
