"""The demo seeder: a realistic, deterministic world built through the real lifecycle."""

from __future__ import annotations

import itertools
import shutil
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from onestop import lifecycle
from onestop.calendar_store import work_calendar
from onestop.classification import classify_case
from onestop.db import make_engine
from onestop.demo import DEMO_LOGINS, DEMO_PASSWORD, seed_demo
from onestop.errors import ValidationError
from onestop.models import (
    OPEN_STATUSES,
    Case,
    CaseEvent,
    Officer,
    OfficerRole,
    ProcessStep,
    StepAssignment,
    Unit,
)
from onestop.passwords import verify_password
from tests.conftest import vn

NOW = vn(2026, 11, 25, 15, 30)  # a Wednesday afternoon
SMALL = {"seed": 7, "months": 1, "now": NOW, "cases_per_month": 60}
COMMUNES = ("XA-MP", "PH-HK", "XA-SD")


@pytest.fixture
def demo(session):
    summary = seed_demo(session, **SMALL)
    return session, summary


def _cases(session: Session) -> list[Case]:
    return list(session.scalars(sa.select(Case).order_by(Case.receipt_code)))


def test_every_step_role_of_the_catalogue_has_an_officer_serving_each_commune(demo):
    session, _ = demo
    roles = set(session.scalars(sa.select(ProcessStep.role).distinct()))
    assert {"desk", "civil_status_officer", "land_registration_office"} <= roles
    officers = list(session.scalars(sa.select(Officer)))
    for code in COMMUNES:
        commune = lifecycle.find_unit(session, code)
        for role in roles:
            holders = [o for o in officers if lifecycle.owner_unit(o, role, commune) is not None]
            assert holders, f"nobody can take a {role} step of {code}"


def test_built_in_roles_head_every_department_and_chair_every_commune(demo):
    session, _ = demo
    held = {(r.role, r.unit.code) for r in session.scalars(sa.select(OfficerRole))}
    departments = session.scalars(
        sa.select(Unit.code).where(Unit.kind.in_(("department", "agency")))
    ).all()
    assert departments and all(("unit_head", code) in held for code in departments)
    assert all(("chair", code) in held for code in (*COMMUNES, "HN"))
    assert sorted(role for role, _ in held if role in ("admin", "inspector")) == [
        "admin", "inspector",
    ]
    district = lifecycle.find_unit(session, "HU-SS")
    assert (district.kind, str(district.effective_to)) == ("district", "2025-06-30")


def test_documented_logins_exist_with_their_role_and_the_demo_password(demo):
    session, summary = demo
    for username, role, unit in DEMO_LOGINS:
        officer = lifecycle.find_officer(session, username)
        assert any(r.role == role and r.unit.code == unit for r in officer.roles), username
        assert username in summary
    hashes = set(session.scalars(sa.select(Officer.password_hash)))
    assert len(hashes) == 1  # hashed once, shared by every demo officer
    assert verify_password(hashes.pop(), DEMO_PASSWORD)


def test_every_open_case_is_held_by_exactly_one_officer_with_the_step_role(demo):
    session, _ = demo
    cases = _cases(session)
    still_held = [c for c in cases if c.status in (*OPEN_STATUSES, "resolved")]
    assert len(still_held) >= 5
    for case in still_held:
        open_steps = [a for a in case.assignments if a.ended_at is None]
        assert len(open_steps) == 1, case.receipt_code
        step = open_steps[0]
        assert lifecycle.owner_unit(step.owner, step.step_role, case.unit) is not None
    for case in cases:
        if case.status not in (*OPEN_STATUSES, "resolved"):
            assert all(a.ended_at is not None for a in case.assignments), case.receipt_code


def test_cases_cover_the_lifecycle_statuses(demo):
    session, summary = demo
    statuses = {c.status for c in _cases(session)}
    assert {
        "received", "in_progress", "awaiting_supplement", "awaiting_payment", "resolved",
        "returned", "withdrawn", "stopped", "refused", "refused_at_intake", "guided",
    } <= statuses
    assert "returned" in summary and "60 cases" in summary


def test_classifications_at_now_cover_finished_and_open_states(demo):
    session, _ = demo
    calendar = work_calendar(session)
    classes = {classify_case(c, calendar, NOW) for c in _cases(session)}
    finished = {"early", "on_time", "late"}
    still_open = {"within_deadline", "at_risk", "overdue", "paused"}
    assert finished | still_open <= classes


def test_history_never_runs_past_now_and_receipts_fall_in_the_simulated_months(demo):
    session, _ = demo
    latest = session.scalar(sa.select(sa.func.max(CaseEvent.at)))
    assert latest <= NOW
    calendar = work_calendar(session)
    received = [c for c in _cases(session) if c.received_at is not None]
    assert all(NOW - timedelta(days=31) <= c.received_at <= NOW for c in received)
    # Paper dossiers are received across the counter: on a working day, in office hours.
    for case in received:
        if case.channel == "in_person":
            assert calendar.next_opening(case.received_at) == case.received_at


def test_paths_the_dashboards_show_are_there_even_in_a_small_demo(demo):
    session, _ = demo
    kinds = set(session.scalars(sa.select(CaseEvent.kind).distinct()))
    assert {
        "supplement_requested", "supplement_received", "payment_requested", "payment_received",
        "reassigned", "extended", "handed_over", "returned", "registered",
    } <= kinds
    twice = [c for c in _cases(session) if c.supplement_requests == 2]
    assert twice and all(classify_case(c, work_calendar(session), NOW) in ("late", "overdue")
                         for c in twice)
    late_steps = session.scalar(
        sa.select(sa.func.count())
        .select_from(StepAssignment)
        .where(StepAssignment.result == "late")
    )
    assert late_steps > 0


def test_seed_refuses_a_database_that_already_has_units(session):
    from onestop.admin import create_unit

    create_unit(session, "HN", "Thành phố Hà Nội", kind="province")
    with pytest.raises(ValidationError) as refused:
        seed_demo(session, **SMALL)
    assert refused.value.params["field"] == "database"
    assert "not empty" in refused.value.message("en")
    assert session.scalar(sa.select(sa.func.count()).select_from(Officer)) == 0


@pytest.fixture
def fresh_url(request, backend, tmp_path):
    """Makes migrated, empty databases on the test's backend."""
    numbers = itertools.count()

    def make() -> str:
        if backend == "sqlite":
            path = tmp_path / f"demo{next(numbers)}.db"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            return f"sqlite:///{path}"
        return request.getfixturevalue("postgres_schema_factory")()

    return make


def _fingerprint(url: str, **kwargs) -> list[tuple]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            seed_demo(session, **{**SMALL, **kwargs})
            rows = session.execute(
                sa.select(Case.receipt_code, Case.status, Case.received_at, Case.ended_at,
                          Case.last_event_seq)
                .order_by(Case.receipt_code)
            ).all()
            session.rollback()
        return [tuple(r) for r in rows]
    finally:
        engine.dispose()


def test_the_same_seed_gives_the_same_cases_and_another_seed_does_not(fresh_url):
    first = _fingerprint(fresh_url())
    assert len(first) == 60
    assert _fingerprint(fresh_url()) == first
    assert _fingerprint(fresh_url(), seed=8) != first
