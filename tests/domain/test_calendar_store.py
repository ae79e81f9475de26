"""Administrators' days off and working days live in the database and apply at once."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from onestop.calendar_store import add_calendar_exception, work_calendar
from onestop.clock import frozen_at
from onestop.errors import ValidationError
from tests.conftest import vn


def test_an_added_day_off_changes_due_instants_without_a_restart(session):
    received = vn(2026, 3, 2, 8, 0)
    before = work_calendar(session).due_at(received, "working_days", 3)
    with frozen_at(vn(2026, 2, 20, 9, 0)):
        add_calendar_exception(session, date(2026, 3, 3), "day_off", "Thông báo 99/TB-BNV (giả định)")
    calendar = work_calendar(session)
    assert before == vn(2026, 3, 4, 17, 0)
    assert calendar.due_at(received, "working_days", 3) == vn(2026, 3, 5, 17, 0)
    assert "Thông báo 99/TB-BNV" in calendar.describe_day(date(2026, 3, 3)).reason


def test_an_added_working_saturday_counts(session):
    with frozen_at(vn(2026, 2, 20, 9, 0)):
        add_calendar_exception(session, date(2026, 3, 7), "working_day", "Quyết định 12/QĐ-UBND")
    calendar = work_calendar(session)
    assert calendar.is_working_day(date(2026, 3, 7))
    assert calendar.due_at(vn(2026, 3, 6, 8, 0), "working_days", 2) == vn(2026, 3, 7, 17, 0)


def test_exceptions_need_a_legal_reference_a_known_kind_and_a_new_day(session):
    with frozen_at(vn(2026, 2, 20, 9, 0)):
        with pytest.raises(ValidationError) as missing:
            add_calendar_exception(session, date(2026, 3, 3), "day_off", "  ")
        assert missing.value.params["field"] == "legal_reference"
        with pytest.raises(ValidationError):
            add_calendar_exception(session, date(2026, 3, 3), "holiday", "TB 1")
        add_calendar_exception(session, date(2026, 3, 3), "day_off", "TB 1")
        with pytest.raises(ValidationError) as duplicate:
            add_calendar_exception(session, date(2026, 3, 3), "working_day", "TB 2")
        assert duplicate.value.code == "duplicate"


def test_a_late_day_off_moves_open_cases_and_says_why_in_their_history(session):
    from onestop import lifecycle as lc
    from tests.factories import build_world

    with frozen_at(vn(2026, 3, 1, 9, 0)):
        world = build_world(session)
    with frozen_at(vn(2026, 3, 2, 8, 0)) as clock:
        open_case = world.receive("HT-XNHN")  # due Wednesday 04/03 17:00
        paused = world.receive("HT-XNHN")
        lc.request_supplement(session, paused, world.desk, "Thiếu")
        clock.set(vn(2026, 3, 2, 10, 0))
        lc.receive_supplement(session, paused, world.desk)  # 2 h paused: due Thursday 10:00
        finished = world.receive("HT-KS")
        lc.hand_over(session, finished, world.desk, world.civ)
        lc.hand_over(session, finished, world.civ, world.vice)
        lc.resolve(session, finished, world.vice)
        clock.set(vn(2026, 3, 2, 11, 0))
        add_calendar_exception(session, date(2026, 3, 3), "day_off", "TB 7/TB-BNV")
        changed = lc.recompute_due_instants(session, "Nghỉ bù theo TB 7/TB-BNV")
    assert set(changed) == {open_case, paused}
    assert open_case.due_at == vn(2026, 3, 5, 17, 0)
    assert paused.due_at == vn(2026, 3, 6, 10, 0)
    event = lc.history(session, open_case)[-1]
    assert (event.kind, event.reason, event.actor_id) == ("due_recomputed", "Nghỉ bù theo TB 7/TB-BNV", None)
    assert datetime.fromisoformat(event.data["previous_due_at"]) == vn(2026, 3, 4, 17, 0)
    with frozen_at(vn(2026, 3, 2, 11, 5)):
        assert lc.recompute_due_instants(session, "again") == []  # idempotent
