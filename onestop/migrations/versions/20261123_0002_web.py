"""Tables of the web desk app: the document checklist of each procedure.

Revision ID: 20261123_0002
Revises: 20261123_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261123_0002"
down_revision = "20261123_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "procedure_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_code", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("form", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "form IN ('original', 'copy', 'certified_copy')", name="ck_procedure_documents_form"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("procedure_code", "position"),
    )
    op.create_index(
        "ix_procedure_documents_procedure_code", "procedure_documents", ["procedure_code"]
    )


def downgrade() -> None:
    op.drop_index("ix_procedure_documents_procedure_code", table_name="procedure_documents")
    op.drop_table("procedure_documents")
