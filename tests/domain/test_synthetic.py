"""The synthetic province: bulk-loaded rows that the rest of the application can trust."""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import case as sql_case
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from onestop import lifecycle as lc
from onestop.audit import verify_chains
from onestop.calendar_store import work_calendar
from onestop.classification import classify_case
from onestop.clock import frozen_at
from onestop.db import make_engine
from onestop.models import (
    OPEN_STATUSES,
    PAUSED_STATUSES,
    Case,
    CaseEvent,
    Extension,
    Officer,
    Pause,
    Procedure,
    StepAssignment,
    Unit,
)
from onestop.synthetic import seed_synthetic
from tests.conftest import vn

NOW = vn(2026, 11, 20, 10, 0)
SMALL = {"cases": 800, "communes": 3, "months": 2, "seed": 11, "now": NOW}


def _digest(session: Session) -> str:
    """Every case's code, state and clock, and its history's kinds, instants and actors by
    name: what a seed decides (row ids are the database's, and PostgreSQL's sequences move on
    even when a test's transaction is rolled back)."""
    cases = session.execute(
        select(Case.id, Case.receipt_code, Case.status, Case.due_at, Case.ended_at)
        .order_by(Case.id)
    ).all()
    events: dict[int, list] = {}
    for case_id, kind, at, actor in session.execute(
        select(CaseEvent.case_id, CaseEvent.kind, CaseEvent.at, Officer.username)
        .outerjoin(Officer, Officer.id == CaseEvent.actor_id).order_by(CaseEvent.case_id, CaseEvent.seq)
    ):
        events.setdefault(case_id, []).append((kind, at, actor))
    content = [(tuple(c[1:]), events.get(c.id)) for c in cases]
    return hashlib.sha256(repr(content).encode()).hexdigest()


def test_the_same_seed_gives_the_same_province_on_every_backend(session, tmp_path, sqlite_template):
    small = {**SMALL, "cases": 300}
    seed_synthetic(session, **small)
    shutil.copy(sqlite_template, tmp_path / "other.db")
    url = f"sqlite:///{tmp_path / 'other.db'}"
    engine = make_engine(url)
    with Session(engine) as other:
        seed_synthetic(other, **small)
        same = _digest(other)
        other.rollback()
    with Session(engine) as third:
        seed_synthetic(third, **{**small, "seed": 12})
        different = _digest(third)
    engine.dispose()
    assert _digest(session) == same
    assert different != same


def test_a_synthetic_province_keeps_every_rule_of_the_case_record(session):
    summary = seed_synthetic(session, **SMALL, chunk_size=300)
    assert summary.cases == session.scalar(select(func.count()).select_from(Case)) == 800
    assert summary.events == session.scalar(select(func.count()).select_from(CaseEvent))

    # One accountable owner: every case still being worked on (or resolved and waiting at
    # the desk) has exactly one open step, every other case none.
    open_steps = dict(session.execute(
        select(StepAssignment.case_id, func.count()).where(StepAssignment.ended_at.is_(None))
        .group_by(StepAssignment.case_id)
    ).all())
    open_pauses = dict(session.execute(
        select(Pause.case_id, func.count()).where(Pause.ended_at.is_(None)).group_by(Pause.case_id)
    ).all())
    calendar = work_calendar(session)
    states: Counter = Counter()
    cases = select(Case).options(selectinload(Case.pauses), selectinload(Case.procedure))
    for case in session.scalars(cases):
        held = case.status in OPEN_STATUSES or case.status == "resolved"
        assert open_steps.get(case.id, 0) == (1 if held else 0), case
        assert open_pauses.get(case.id, 0) == (1 if case.status in PAUSED_STATUSES else 0), case
        if case.received_at is not None:
            assert case.received_at <= case.original_due_at <= case.due_at
            states[classify_case(case, calendar, at=NOW)] += 1
        assert case.submitted_at <= NOW
    # Classifications spread over every state the dashboards show.
    assert {"early", "on_time", "late", "within_deadline", "overdue", "paused"} <= set(states)
    assert states["early"] + states["on_time"] > 5 * states["late"]

    checked, broken = verify_chains(session)
    assert checked == summary.events and broken == []


def test_a_synthetic_province_has_the_paths_of_a_real_one(session):
    seed_synthetic(session, **SMALL)
    statuses = Counter(dict(session.execute(select(Case.status, func.count()).group_by(Case.status)).all()))
    assert {"returned", "resolved", "in_progress", "withdrawn", "stopped", "refused",
            "refused_at_intake", "guided"} <= set(statuses)
    assert statuses["returned"] > 0.7 * sum(statuses.values())
    kinds = set(session.scalars(select(CaseEvent.kind).distinct()))
    assert {"registered", "received", "handed_over", "reassigned", "supplement_requested",
            "supplement_received", "payment_requested", "payment_received", "extended",
            "resolved", "returned"} <= kinds
    assert session.scalar(select(func.count()).select_from(Extension)) > 0
    two_requests = session.scalar(
        select(func.count()).select_from(
            select(Pause.case_id).where(Pause.reason == "supplement").group_by(Pause.case_id)
            .having(func.count() > 1).subquery()
        )
    )
    assert two_requests > 0
    # Certification and civil status dominate; inter-agency steps reach provincial bodies.
    popular = Counter(dict(session.execute(
        select(Procedure.code, func.count()).join(Case.procedure).group_by(Procedure.code)
    ).all()))
    assert popular["CT-BS"] == max(popular.values())
    province_steps = set(session.scalars(
        select(Unit.code).join(StepAssignment, StepAssignment.unit_id == Unit.id).distinct()
    ))
    assert {"TS-VPDK", "TS-STNMT", "TS-BHXH"} <= province_steps
    # Lateness concentrates: a few officers are late far more often than the province.
    late = session.execute(
        select(StepAssignment.owner_id, func.count(),
               func.sum(sql_case((StepAssignment.result == "late", 1), else_=0)))
        .where(StepAssignment.result.is_not(None)).group_by(StepAssignment.owner_id)
    ).all()
    overall = sum(n_late for _, _, n_late in late) / sum(n for _, n, _ in late)
    worst = max(n_late / n for _, n, n_late in late if n >= 20)
    assert overall < 0.2 and worst > 3 * overall


def test_the_application_carries_on_where_the_synthetic_load_stopped(session):
    seed_synthetic(session, **SMALL)
    case = session.scalar(
        select(Case).where(Case.status == "in_progress").order_by(Case.id.desc()).limit(1)
    )
    owner = case.current_assignment.owner
    with frozen_at(NOW + timedelta(minutes=5)):
        if case.current_assignment.step_position + 1 < len(case.procedure.steps):
            nxt = case.procedure.step_at(case.current_assignment.step_position + 1)
            lc.hand_over(session, case, owner, lc.eligible_owners(session, case, nxt)[0])
        else:
            lc.resolve(session, case, owner)
    # The receipt counters continue the synthetic numbering of that unit and day.
    day_case = session.scalar(select(Case).where(Case.channel == "in_person").order_by(Case.id.desc()).limit(1))
    desk = day_case.assignments[0].owner
    with frozen_at(day_case.submitted_at + timedelta(seconds=1)):
        new = lc.receive(session, desk, unit_code=day_case.unit.code, procedure_code="CT-BS",
                         applicant={"name": "Lê Văn Tám"})
    same_day = session.scalars(
        select(Case.receipt_code).where(Case.receipt_code.like(new.receipt_code[:-4] + "%"))
    ).all()
    assert new.receipt_code == max(same_day)
    assert verify_chains(session)[1] == []


@pytest.mark.parametrize("row_checks", [True])
def test_rows_pass_the_databases_own_per_row_guards(session, row_checks):
    """With the triggers firing on every row (foreign keys, no backdated event), the load goes
    through: what the fast path checks in bulk holds row by row."""
    summary = seed_synthetic(session, **{**SMALL, "cases": 400}, row_checks=row_checks)
    assert summary.row_checks
    assert verify_chains(session)[1] == []


def test_the_seed_command_loads_a_synthetic_province(database_url, monkeypatch):
    from onestop.cli import main

    monkeypatch.setenv("ONESTOP_DATABASE_URL", database_url)
    runner = CliRunner()
    args = ["seed", "--synthetic", "--cases", "200", "--communes", "2", "--months", "1",
            "--seed", "5", "--as-of", "2026-11-20T10:00"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "200 cases" in result.output
    again = runner.invoke(main, [*args, "--if-empty"])
    assert again.exit_code == 0 and "nothing seeded" in again.output
    assert runner.invoke(main, ["seed", "--synthetic"]).exit_code == 2  # --cases missing
    verify = runner.invoke(main, ["audit", "verify"])
    assert verify.exit_code == 0 and "0 broken link(s)" in verify.output
