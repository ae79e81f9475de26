"""Bulk re-projection of open cases' due instants after a calendar change (onestop.deadlines)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select, update

from onestop import deadlines
from onestop import lifecycle as lc
from onestop.audit import verify_chains
from onestop.calendar_store import add_calendar_exception, work_calendar
from onestop.clock import frozen_at
from onestop.models import Case, CaseEvent, Procedure
from tests.conftest import vn
from tests.factories import build_world


def _cases(session):
    """Open cases of every kind the projection handles, received on Monday 02/03/2026 (a day
    off is then announced for Tuesday 03/03), and one finished case."""
    with frozen_at(vn(2026, 3, 1, 9, 0)):
        world = build_world(session)
    restart = session.scalar(select(Procedure).where(Procedure.code == "HT-CC"))
    restart.pause_policy = "restart"
    with frozen_at(vn(2026, 3, 2, 8, 0)) as clock:
        cases = {
            "plain": world.receive("HT-XNHN"),
            "resumed": world.receive("HT-XNHN"),
            "paused": world.receive("HT-XNHN"),
            "restart": world.receive("HT-CC"),
            "handed": world.receive("HT-XNHN"),
            "same_day": world.receive("HT-KS"),  # due Monday 17:00: the day off is after it
            "finished": world.receive("HT-KS"),
        }
        lc.request_supplement(session, cases["resumed"], world.desk, "Thiếu tờ khai")
        lc.request_supplement(session, cases["paused"], world.desk, "Thiếu tờ khai")
        lc.request_supplement(session, cases["restart"], world.desk, "Thiếu giấy tờ")
        lc.hand_over(session, cases["handed"], world.desk, world.civ)
        lc.hand_over(session, cases["finished"], world.desk, world.civ)
        lc.hand_over(session, cases["finished"], world.civ, world.vice)
        lc.resolve(session, cases["finished"], world.vice)
        clock.set(vn(2026, 3, 2, 10, 0))
        lc.receive_supplement(session, cases["resumed"], world.desk)
        lc.receive_supplement(session, cases["restart"], world.desk)
        clock.set(vn(2026, 3, 2, 11, 0))
        add_calendar_exception(session, date(2026, 3, 3), "day_off", "TB 7/TB-BNV")
    session.flush()
    return world, cases


def test_bulk_reprojection_gives_what_the_case_by_case_projection_gives(session):
    _, cases = _cases(session)
    calendar = work_calendar(session)
    before = {k: (c.due_at, c.version_id, c.last_event_seq, c.last_event_hash) for k, c in cases.items()}
    expected = {k: lc.project_due(c, calendar) for k, c in cases.items() if c.is_open}
    with frozen_at(vn(2026, 3, 2, 11, 5)):
        changed = deadlines.reproject_open_cases(session, "Nghỉ bù theo TB 7/TB-BNV", batch_size=2)

    moved = {k for k in expected if expected[k] != before[k][0]}
    assert moved == {"plain", "resumed", "paused", "restart", "handed"}
    assert changed == len(moved)
    for key, case in cases.items():  # the held objects were expired: they reload
        if key in moved:
            assert case.due_at == expected[key]
            assert case.version_id == before[key][1] + 1
            assert case.last_event_seq == before[key][2] + 1
        else:
            assert (case.due_at, case.version_id, case.last_event_seq) == before[key][:3]
    assert cases["plain"].due_at == vn(2026, 3, 5, 17, 0)
    assert cases["resumed"].due_at == vn(2026, 3, 6, 10, 0)  # 2 paused hours still added
    assert cases["paused"].due_at == vn(2026, 3, 5, 17, 0)  # the running pause not yet counted
    assert cases["restart"].due_at == vn(2026, 3, 6, 10, 0)  # 3 days from the supplement
    assert cases["restart"].original_due_at == vn(2026, 3, 5, 17, 0)

    event = lc.history(session, cases["handed"])[-1]
    assert (event.kind, event.actor_id, event.reason) == (
        "due_recomputed", None, "Nghỉ bù theo TB 7/TB-BNV"
    )
    assert (event.from_status, event.to_status, event.from_step, event.to_step) == (
        "in_progress", "in_progress", 2, 2
    )
    assert event.at == vn(2026, 3, 2, 11, 5)
    assert datetime.fromisoformat(event.data["previous_due_at"]) == vn(2026, 3, 4, 17, 0)
    assert datetime.fromisoformat(event.data["due_at"]) == vn(2026, 3, 5, 17, 0)
    assert event.prev_hash == before["handed"][3]
    assert cases["handed"].last_event_hash == event.hash

    with frozen_at(vn(2026, 3, 2, 11, 10)):
        assert deadlines.reproject_open_cases(session, "again") == 0  # idempotent
    assert session.scalar(select(func.count()).where(CaseEvent.kind == "due_recomputed")) == 5
    checked, broken = verify_chains(session)
    assert checked > 0 and broken == []


def test_a_case_changed_between_read_and_write_is_projected_again_from_fresh_rows(
    session, monkeypatch
):
    _, cases = _cases(session)
    plain = cases["plain"]
    read_details = deadlines._Reader.details

    def concurrent_action(reader, ids):
        found = read_details(reader, ids)
        # Another transaction moves the case (its version) after we read it, before we write.
        if plain.id in ids and not concurrent_action.done:
            concurrent_action.done = True
            reader.connection.execute(
                update(Case).where(Case.id == plain.id).values(version_id=Case.version_id + 1)
            )
        return found

    concurrent_action.done = False
    monkeypatch.setattr(deadlines._Reader, "details", concurrent_action)
    version = plain.version_id
    with frozen_at(vn(2026, 3, 2, 11, 5)):
        changed = [i for ids in deadlines.reprojected_case_ids(session, "TB 7") for i in ids]

    assert concurrent_action.done
    assert sorted(changed) == sorted({c.id for k, c in cases.items() if k not in ("same_day", "finished")})
    assert plain.due_at == vn(2026, 3, 5, 17, 0)
    assert plain.version_id == version + 2  # the concurrent change, then ours
    kinds = [e.kind for e in lc.history(session, plain)]
    assert kinds.count("due_recomputed") == 1
    assert verify_chains(session)[1] == []


def test_the_orm_entry_point_returns_the_changed_cases_refreshed(session):
    _, cases = _cases(session)
    with frozen_at(vn(2026, 3, 2, 11, 5)):
        changed = lc.recompute_due_instants(session, "TB 7")
    assert {c.id for c in changed} == {
        c.id for k, c in cases.items() if k not in ("same_day", "finished")
    }
    assert all(c in changed for k, c in cases.items() if k not in ("same_day", "finished"))
    assert cases["plain"].due_at == vn(2026, 3, 5, 17, 0)
