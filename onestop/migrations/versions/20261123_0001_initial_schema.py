"""Initial schema, with the database guards of the case history.

Revision ID: 20261123_0001
Revises:
Create Date: 2026-11-23 11:18:49.101738
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import onestop.db

revision = '20261123_0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('officers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', onestop.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('procedures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name_vi', sa.String(length=500), nullable=False),
    sa.Column('name_en', sa.String(length=500), nullable=True),
    sa.Column('field', sa.String(length=200), nullable=True),
    sa.Column('level', sa.String(length=32), nullable=True),
    sa.Column('duration_unit', sa.String(length=16), nullable=False),
    sa.Column('duration_amount', sa.Float(), nullable=False),
    sa.Column('same_day_cutoff', sa.Time(), nullable=True),
    sa.Column('legal_basis', sa.Text(), nullable=True),
    sa.Column('pause_policy', sa.String(length=16), nullable=False),
    sa.Column('pause_policy_basis', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', onestop.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('duration_amount >= 0', name='ck_procedures_duration_nonnegative'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code', 'version')
    )
    with op.batch_alter_table('procedures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_procedures_code'), ['code'], unique=False)

    op.create_table('units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('effective_from', sa.Date(), nullable=True),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.CheckConstraint('effective_to IS NULL OR effective_from IS NULL OR effective_to >= effective_from', name='ck_units_effective_range'),
    sa.ForeignKeyConstraint(['parent_id'], ['units.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_units_parent_id'), ['parent_id'], unique=False)

    op.create_table('calendar_exceptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('legal_reference', sa.Text(), nullable=False),
    sa.Column('created_at', onestop.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('day_off', 'working_day')", name='ck_calendar_exceptions_kind'),
    sa.ForeignKeyConstraint(['created_by_id'], ['officers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('day')
    )
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('receipt_code', sa.String(length=40), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('procedure_id', sa.Integer(), nullable=False),
    sa.Column('applicant_name', sa.String(length=200), nullable=False),
    sa.Column('applicant_id_number', sa.String(length=20), nullable=True),
    sa.Column('applicant_phone', sa.String(length=20), nullable=True),
    sa.Column('applicant_address', sa.String(length=500), nullable=True),
    sa.Column('applicant_email', sa.String(length=254), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('documents', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('submitted_at', onestop.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', onestop.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('original_due_at', onestop.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_at', onestop.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', onestop.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('returned_at', onestop.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('imported', sa.Boolean(), nullable=False),
    sa.Column('last_event_seq', sa.Integer(), nullable=False),
    sa.Column('last_event_hash', sa.String(length=64), nullable=True),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('original_due_at IS NULL OR received_at IS NOT NULL', name='ck_cases_due_needs_receipt'),
    sa.ForeignKeyConstraint(['procedure_id'], ['procedures.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('receipt_code')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_ended_at'), ['ended_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_procedure_id'), ['procedure_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_unit_id'), ['unit_id'], unique=False)

    op.create_table('officer_roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=False),
    sa.Column('acting', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('officer_id', 'unit_id', 'role')
    )
    with op.batch_alter_table('officer_roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_officer_roles_officer_id'), ['officer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_officer_roles_unit_id'), ['unit_id'], unique=False)

    op.create_table('process_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('procedure_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=False),
    sa.Column('unit_code', sa.String(length=32), nullable=True),
    sa.Column('budget_hours', sa.Float(), nullable=False),
    sa.CheckConstraint('budget_hours >= 0', name='ck_process_steps_budget_nonnegative'),
    sa.ForeignKeyConstraint(['procedure_id'], ['procedures.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('procedure_id', 'position')
    )
    op.create_table('receipt_counters',
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.PrimaryKeyConstraint('unit_id', 'day')
    )
    op.create_table('case_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('at', onestop.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('from_status', sa.String(length=32), nullable=True),
    sa.Column('to_status', sa.String(length=32), nullable=True),
    sa.Column('from_step', sa.Integer(), nullable=True),
    sa.Column('to_step', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('corrects_event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['officers.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['corrects_event_id'], ['case_events.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'seq')
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_at'), ['at'], unique=False)

    op.create_table('complaints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('received_at', onestop.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['officers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_case_id'), ['case_id'], unique=False)

    op.create_table('extensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', onestop.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('responsible_unit_id', sa.Integer(), nullable=False),
    sa.Column('previous_due_at', onestop.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('new_due_at', onestop.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['issued_by_id'], ['officers.id'], ),
    sa.ForeignKeyConstraint(['responsible_unit_id'], ['units.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id')
    )
    op.create_table('pauses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('started_at', onestop.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', onestop.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('ended_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('documents', sa.JSON(), nullable=False),
    sa.Column('paused_working_hours', sa.Float(), nullable=True),
    sa.CheckConstraint("reason IN ('supplement', 'financial_obligation')", name='ck_pauses_reason'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ended_by_id'], ['officers.id'], ),
    sa.ForeignKeyConstraint(['requested_by_id'], ['officers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pauses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pauses_case_id'), ['case_id'], unique=False)
        batch_op.create_index('uq_pauses_one_open_per_case', ['case_id'], unique=True, sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))

    op.create_table('ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('satisfied', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('recorded_at', onestop.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("source IN ('desk', 'applicant')", name='ck_ratings_source'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['officers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'source')
    )
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ratings_case_id'), ['case_id'], unique=False)

    op.create_table('step_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('step_position', sa.Integer(), nullable=False),
    sa.Column('step_name', sa.String(length=200), nullable=False),
    sa.Column('step_role', sa.String(length=64), nullable=False),
    sa.Column('budget_hours', sa.Float(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('given_by_id', sa.Integer(), nullable=True),
    sa.Column('started_at', onestop.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('step_started_at', onestop.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', onestop.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', onestop.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_kind', sa.String(length=16), nullable=True),
    sa.Column('result', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['given_by_id'], ['officers.id'], ),
    sa.ForeignKeyConstraint(['owner_id'], ['officers.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('step_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_step_assignments_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_step_assignments_open_by_owner', ['owner_id'], unique=False, sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))
        batch_op.create_index(batch_op.f('ix_step_assignments_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_step_assignments_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index('uq_step_assignments_one_open_per_case', ['case_id'], unique=True, sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))
    install_history_guards()


def downgrade() -> None:
    drop_history_guards()
    with op.batch_alter_table('step_assignments', schema=None) as batch_op:
        batch_op.drop_index('uq_step_assignments_one_open_per_case', sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_step_assignments_unit_id'))
        batch_op.drop_index(batch_op.f('ix_step_assignments_owner_id'))
        batch_op.drop_index('ix_step_assignments_open_by_owner', sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_step_assignments_case_id'))

    op.drop_table('step_assignments')
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ratings_case_id'))

    op.drop_table('ratings')
    with op.batch_alter_table('pauses', schema=None) as batch_op:
        batch_op.drop_index('uq_pauses_one_open_per_case', sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_pauses_case_id'))

    op.drop_table('pauses')
    op.drop_table('extensions')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_case_id'))

    op.drop_table('complaints')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_at'))

    op.drop_table('case_events')
    op.drop_table('receipt_counters')
    op.drop_table('process_steps')
    with op.batch_alter_table('officer_roles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_officer_roles_unit_id'))
        batch_op.drop_index(batch_op.f('ix_officer_roles_officer_id'))

    op.drop_table('officer_roles')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_unit_id'))
        batch_op.drop_index(batch_op.f('ix_cases_status'))
        batch_op.drop_index(batch_op.f('ix_cases_received_at'))
        batch_op.drop_index(batch_op.f('ix_cases_procedure_id'))
        batch_op.drop_index(batch_op.f('ix_cases_ended_at'))
        batch_op.drop_index(batch_op.f('ix_cases_due_at'))

    op.drop_table('cases')
    op.drop_table('calendar_exceptions')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_units_parent_id'))

    op.drop_table('units')
    with op.batch_alter_table('procedures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_procedures_code'))

    op.drop_table('procedures')
    op.drop_table('officers')


# The history is append-only and cannot be backdated: the database refuses UPDATE, DELETE and
# TRUNCATE of case_events, and an insert older than the case's latest event.
PG_GUARDS = (
    """
    CREATE FUNCTION onestop_refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'case_events is append-only: % refused', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """,
    """
    CREATE FUNCTION onestop_refuse_backdated_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM case_events WHERE case_id = NEW.case_id AND at > NEW.at) THEN
            RAISE EXCEPTION 'case_events cannot be backdated (case %, at %)', NEW.case_id, NEW.at
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    "CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events "
    "FOR EACH ROW EXECUTE FUNCTION onestop_refuse_history_change()",
    "CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION onestop_refuse_history_change()",
    "CREATE TRIGGER case_events_not_backdated BEFORE INSERT ON case_events "
    "FOR EACH ROW EXECUTE FUNCTION onestop_refuse_backdated_event()",
)
SQLITE_GUARDS = (
    "CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events "
    "BEGIN SELECT RAISE(ABORT, 'case_events is append-only: UPDATE refused'); END",
    "CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events "
    "BEGIN SELECT RAISE(ABORT, 'case_events is append-only: DELETE refused'); END",
    "CREATE TRIGGER case_events_not_backdated BEFORE INSERT ON case_events "
    "WHEN EXISTS (SELECT 1 FROM case_events WHERE case_id = NEW.case_id AND at > NEW.at) "
    "BEGIN SELECT RAISE(ABORT, 'case_events cannot be backdated'); END",
)


def install_history_guards() -> None:
    dialect = op.get_bind().dialect.name
    for statement in PG_GUARDS if dialect == "postgresql" else SQLITE_GUARDS:
        op.execute(statement)


def drop_history_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_events_not_backdated ON case_events")
        op.execute("DROP TRIGGER IF EXISTS case_events_no_truncate ON case_events")
        op.execute("DROP TRIGGER IF EXISTS case_events_append_only ON case_events")
        op.execute("DROP FUNCTION IF EXISTS onestop_refuse_backdated_event()")
        op.execute("DROP FUNCTION IF EXISTS onestop_refuse_history_change()")
    else:
        for name in ("case_events_not_backdated", "case_events_no_delete", "case_events_no_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
