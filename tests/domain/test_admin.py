"""Administration in the domain: a procedure's process, closing units, removing calendar days,
and the administrators' trail of each change."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from onestop.admin import StepChange, change_process, close_unit, parse_step_lines, rename_unit
from onestop.audit import AdminAction
from onestop.calendar_store import add_calendar_exception, remove_calendar_exception, work_calendar
from onestop.clock import frozen_at
from onestop.errors import NotFound, ValidationError
from onestop.lifecycle import find_procedure, recompute_due_instants
from onestop.models import Procedure, Unit
from tests.conftest import vn
from tests.factories import build_world

NOW = vn(2026, 3, 2, 9, 0)


@pytest.fixture
def world(session):
    with frozen_at(vn(2026, 3, 2, 8, 0)):
        return build_world(session)


def trail(session) -> list[tuple[str, str]]:
    return [(a.action, a.target) for a in session.scalars(select(AdminAction).order_by(AdminAction.id))]


def test_a_new_process_is_a_new_version_and_the_old_one_stays_as_it_was(session, world):
    with frozen_at(NOW):
        case = world.receive()
        old = case.procedure
        steps = parse_step_lines("nhận | desk |  | 2\nthẩm định | civil_status_officer | XA-MP-TP | 20\ntrả | desk |  | 2")
        new = change_process(session, "HT-XNHN", steps, by=world.officers["desk"])
    assert (old.version, old.active, len(old.steps)) == (1, False, 4)
    assert (new.version, new.active, [s.unit_code for s in new.steps]) == (2, True, [None, "XA-MP-TP", None])
    assert find_procedure(session, "HT-XNHN") is new and case.procedure is old
    assert trail(session) == [("process_changed", "HT-XNHN")]


def test_step_budgets_beyond_the_duration_are_refused_with_the_catalogue_rule(session, world):
    with pytest.raises(ValidationError) as refused:
        change_process(session, "HT-XNHN", [StepChange("xử lý", "civil_status_officer", None, 25)])
    assert "more than the duration (24 h)" in refused.value.message("en")
    with pytest.raises(ValidationError):
        change_process(session, "HT-XNHN", [StepChange("xử lý", "civil_status_officer", None, float("inf"))])
    with pytest.raises(NotFound):
        change_process(session, "HT-XNHN", [StepChange("xử lý", "civil_status_officer", "NOPE", 1)])
    assert session.scalars(select(Procedure.version).where(Procedure.code == "HT-XNHN")).all() == [1]
    assert trail(session) == []


def test_a_unit_is_closed_only_when_nothing_rests_on_it(session, world):
    with frozen_at(NOW):
        world.receive()
        with pytest.raises(ValidationError) as busy:
            close_unit(session, "XA-MP", date(2026, 3, 31))
        assert busy.value.code == "unit_still_in_use" and busy.value.params["cases"] == 1
        with pytest.raises(ValidationError) as staffed:
            close_unit(session, "XA-SD-MC", date(2026, 3, 31))
        assert staffed.value.params == {"code": "XA-SD-MC", "cases": 0, "roles": 1, "units": 0}
        world.officers["desk_sd"].active = False
        closed = close_unit(session, "XA-SD-MC", date(2026, 3, 31))
        renamed = rename_unit(session, "XA-SD-MC", "Bộ phận Một cửa (cũ)")
    assert closed.effective_to == date(2026, 3, 31) and renamed.name == "Bộ phận Một cửa (cũ)"
    assert trail(session) == [("unit_closed", "XA-SD-MC"), ("unit_renamed", "XA-SD-MC")]
    assert session.scalar(select(Unit.effective_to).where(Unit.code == "XA-MP")) is None


def test_removing_a_day_off_restores_the_calendar_and_the_due_instants(session, world):
    with frozen_at(vn(2026, 3, 2, 8, 0)):  # three working days from Monday 08:00
        case = world.receive()
        add_calendar_exception(session, date(2026, 3, 3), "day_off", "TB 99")
        recompute_due_instants(session, "added")
        assert case.due_at == vn(2026, 3, 5, 17, 0)
        with pytest.raises(ValidationError):
            remove_calendar_exception(session, date(2026, 3, 3), "  ")
        with pytest.raises(NotFound):
            remove_calendar_exception(session, date(2026, 3, 4), "nhầm ngày")
        assert not work_calendar(session).is_working_day(date(2026, 3, 3))
        removed = remove_calendar_exception(session, date(2026, 3, 3), "Thông báo bị thu hồi")
        changed = recompute_due_instants(session, "removed: Thông báo bị thu hồi")
    assert removed.kind == "day_off" and changed == [case]
    assert work_calendar(session).is_working_day(date(2026, 3, 3))
    assert case.due_at == vn(2026, 3, 4, 17, 0)
    assert case.events[-1].kind == "due_recomputed" and "Thông báo bị thu hồi" in case.events[-1].reason
    assert trail(session) == [("calendar_day_off_added", "2026-03-03"), ("calendar_day_off_removed", "2026-03-03")]
