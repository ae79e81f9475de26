"""On time or late, within deadline, at risk, overdue, paused (RULES.md section 4)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from onestop import lifecycle as lc
from onestop.calendar import WorkCalendar
from onestop.calendar_store import work_calendar
from onestop.classification import classify_assignment, classify_case, compare_end
from onestop.clock import frozen_at
from onestop.settings import Policy
from tests.conftest import vn
from tests.factories import build_world

CAL = WorkCalendar.vietnam()
DUE = vn(2026, 3, 4, 17, 0)


@pytest.mark.parametrize(
    ("end", "unit", "expected"),
    [
        (vn(2026, 3, 3, 16, 0), "working_days", "early"),
        (vn(2026, 3, 4, 8, 0), "working_days", "on_time"),  # same local date
        (vn(2026, 3, 4, 19, 0), "working_days", "on_time"),
        (vn(2026, 3, 5, 8, 0), "working_days", "late"),
        (vn(2026, 3, 4, 16, 59), "working_hours", "early"),
        (DUE, "working_hours", "on_time"),
        (vn(2026, 3, 4, 17, 1), "working_hours", "late"),
    ],
)
def test_finished_cases_compare_dates_for_day_budgets_and_instants_for_hours(end, unit, expected):
    assert compare_end(end, DUE, unit, CAL) == expected


def test_local_dates_are_compared_in_vietnam_time_not_utc():
    # 23:30 UTC on 3 March is 06:30 on 4 March in Hà Nội: the due date itself.
    from datetime import UTC, datetime

    assert compare_end(datetime(2026, 3, 3, 23, 30, tzinfo=UTC), DUE, "working_days", CAL) == "on_time"


@pytest.fixture
def world(session):
    with frozen_at(vn(2026, 3, 1, 9, 0)):
        return build_world(session)


def test_open_case_states_move_from_within_deadline_to_at_risk_to_overdue(session, world):
    with frozen_at(vn(2026, 3, 2, 8, 0)):
        case = world.receive("HT-XNHN")  # 24 working hours, due Wednesday 17:00
    calendar = work_calendar(session)
    policy = Policy(at_risk_share=0.25)
    states = {
        at: classify_case(case, calendar, at, policy)
        for at in (
            vn(2026, 3, 2, 9, 0),
            vn(2026, 3, 4, 10, 0),  # 6 h of 24 left: exactly the share, not yet at risk
            vn(2026, 3, 4, 10, 1),
            vn(2026, 3, 4, 18, 0),  # after the close on the due date: still that date
            vn(2026, 3, 5, 8, 0),
        )
    }
    assert list(states.values()) == [
        "within_deadline", "within_deadline", "at_risk", "at_risk", "overdue",
    ]


def test_paused_case_is_paused_whatever_the_time(session, world):
    with frozen_at(vn(2026, 3, 2, 8, 0)):
        case = world.receive("HT-XNHN")
        lc.request_supplement(session, case, world.desk, "Thiếu tờ khai")
    assert classify_case(case, work_calendar(session), vn(2026, 4, 1, 8, 0)) == "paused"


def test_clock_never_ran_means_no_classification(session, world):
    with frozen_at(vn(2026, 3, 2, 8, 0)):
        case = lc.register_online(
            session, unit_code="XA-MP", procedure_code="HT-KS", applicant={"name": "Mai Anh"}
        )
    assert classify_case(case, work_calendar(session), vn(2026, 3, 9, 8, 0)) is None


def test_open_case_with_two_supplement_requests_counts_as_overdue(session, world):
    with frozen_at(vn(2026, 3, 2, 8, 0)):
        case = world.receive("HT-XNHN")
        for _ in range(2):
            lc.request_supplement(session, case, world.desk, "Thiếu")
            lc.receive_supplement(session, case, world.desk)
    assert classify_case(case, work_calendar(session), vn(2026, 3, 2, 9, 0)) == "overdue"


def test_steps_are_classified_against_their_own_budget(session, world):
    with frozen_at(vn(2026, 3, 2, 8, 0)) as clock:
        case = world.receive("HT-XNHN")
        receive_step = case.current_assignment  # 2 h: due 10:00
        calendar = work_calendar(session)
        assert classify_assignment(receive_step, calendar, vn(2026, 3, 2, 9, 0)) == "within_deadline"
        assert classify_assignment(receive_step, calendar, vn(2026, 3, 2, 9, 45)) == "at_risk"
        assert classify_assignment(receive_step, calendar, vn(2026, 3, 2, 10, 1)) == "overdue"
        clock.set(vn(2026, 3, 2, 10, 0))
        lc.hand_over(session, case, world.desk, world.civ)
    assert classify_assignment(receive_step, calendar) == receive_step.result == "on_time"


def test_an_open_case_must_be_classified_at_an_instant(session, world):
    with frozen_at(vn(2026, 3, 2, 8, 0)):
        case = world.receive("HT-XNHN")
    with pytest.raises(ValueError, match="instant"):
        classify_case(case, work_calendar(session))


def test_extension_does_not_move_the_deadline_used_for_classification(session, world):
    with frozen_at(vn(2026, 3, 2, 8, 0)) as clock:
        case = world.receive("HT-XNHN")
        lc.hand_over(session, case, world.desk, world.civ)
        lc.extend(session, case, world.head, "Cần xác minh", vn(2026, 3, 11, 17, 0))
        lc.hand_over(session, case, world.civ, world.vice)
        clock.set(vn(2026, 3, 10, 9, 0))
        lc.resolve(session, case, world.vice)
    assert classify_case(case, work_calendar(session)) == "late"
    assert case.ended_at - case.due_at > timedelta(days=5)
