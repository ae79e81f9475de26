"""Two people acting on the same step at once: one wins, the other gets a clear conflict."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from onestop import lifecycle as lc
from onestop.clock import frozen_at
from onestop.db import make_engine
from onestop.errors import Conflict
from onestop.models import CaseEvent, StepAssignment
from tests.conftest import vn
from tests.factories import build_world


def _race(engine, receipt_code: str, actions) -> list[object]:
    """Run each action in its own thread and session; all load the case before any writes."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[object] = [None] * len(actions)

    def run(index: int, action) -> None:
        with frozen_at(vn(2026, 3, 2, 9, 0)), Session(engine) as session:
            case = lc.find_case(session, receipt_code)
            case.current_assignment  # load what the action reads before racing
            barrier.wait()
            try:
                action(session, case)
                session.commit()
                outcomes[index] = "committed"
            except Conflict as exc:
                session.rollback()
                outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_owner_and_unit_head_racing_on_one_step_one_wins(database_url):
    engine = make_engine(database_url)
    with frozen_at(vn(2026, 3, 2, 8, 0)), Session(engine) as session:
        build_world(session)
        officers = {o.username: o.id for o in session.scalars(sa.select(lc.Officer))}
        case = lc.receive(
            session, session.get(lc.Officer, officers["desk"]), unit_code="XA-MP",
            procedure_code="HT-XNHN", applicant={"name": "Nguyễn Văn Hùng"},
        )
        lc.hand_over(session, case, case.current_assignment.owner, session.get(lc.Officer, officers["civ"]))
        session.commit()
        code = case.receipt_code

    def owner_hands_over(session, case):
        lc.hand_over(session, case, lc.find_officer(session, "civ"), lc.find_officer(session, "vice"))

    def head_reassigns(session, case):
        lc.reassign(session, case, lc.find_officer(session, "head"), lc.find_officer(session, "civ2"))

    outcomes = _race(engine, code, [owner_hands_over, head_reassigns])
    assert outcomes.count("committed") == 1
    loser = next(o for o in outcomes if o != "committed")
    assert isinstance(loser, Conflict) and loser.code == "stale_case"
    assert "tải lại" in loser.message("vi")

    with Session(engine) as session:
        case = lc.find_case(session, code)
        open_steps = session.scalars(
            sa.select(StepAssignment).where(StepAssignment.case_id == case.id, StepAssignment.ended_at.is_(None))
        ).all()
        events = session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
        assert len(open_steps) == 1
        winner = "vice" if outcomes[0] == "committed" else "civ2"
        assert open_steps[0].owner.username == winner
        assert [e.seq for e in events] == [1, 2, 3]  # received, handed over, the winner's event
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_many_clients_handing_over_the_same_step_exactly_one_wins(database_url):
    engine = make_engine(database_url, pool_size=10)
    with frozen_at(vn(2026, 3, 2, 8, 0)), Session(engine) as session:
        build_world(session)
        desk = lc.find_officer(session, "desk")
        case = lc.receive(
            session, desk, unit_code="XA-MP", procedure_code="HT-XNHN",
            applicant={"name": "Nguyễn Văn Hùng"},
        )
        session.commit()
        code = case.receipt_code

    def hand_to(username):
        def action(session, case):
            lc.hand_over(session, case, lc.find_officer(session, "desk"), lc.find_officer(session, username))
        return action

    outcomes = _race(engine, code, [hand_to(u) for u in ("civ", "civ2") * 4])
    assert outcomes.count("committed") == 1
    assert all(isinstance(o, Conflict) for o in outcomes if o != "committed")
    with Session(engine) as session:
        case = lc.find_case(session, code)
        assert [a.step_position for a in case.assignments] == [1, 2]
        assert lc.count_events(session, case) == 2
    engine.dispose()
