"""The dashboards' query functions on both backends, over snapshots that `onestop.metrics`
computed from cases driven through the lifecycle."""

from __future__ import annotations

from datetime import date

import pytest

from dashboards import queries as q
from onestop import lifecycle as lc
from onestop.clock import frozen_at
from onestop.metrics import refresh_metrics
from tests.conftest import vn
from tests.factories import build_world

MARCH = (date(2026, 3, 1), date(2026, 3, 31))
NOW = vn(2026, 3, 10, 10, 0)  # a Tuesday


@pytest.fixture
def world(session):
    """XA-MP: one case resolved early, one resolved late, one open and overdue (HT-XNHN takes 3
    working days); XA-SD: one resolved early. All received on Monday 2 March 2026."""
    with frozen_at(vn(2026, 2, 20, 9, 0)):
        world = build_world(session)
    with frozen_at(vn(2026, 3, 2, 8, 0)) as clock:
        early, late, stuck = world.receive(), world.receive(), world.receive()
        other = world.receive(desk="desk_sd", unit="XA-SD")
        clock.set(vn(2026, 3, 2, 9, 0))
        for case in (early, late, stuck):
            lc.hand_over(session, case, world.desk, world.civ)
        lc.hand_over(session, other, world.desk_sd, world.civ_sd)
        clock.set(vn(2026, 3, 3, 9, 0))
        lc.resolve(session, early, world.civ)
        lc.resolve(session, other, world.civ_sd)
        clock.set(vn(2026, 3, 9, 9, 0))
        lc.resolve(session, late, world.civ)
    with frozen_at(NOW):
        refresh_metrics(session, full=True)
        session.flush()
    world.codes = {"early": early.receipt_code, "late": late.receipt_code,
                   "stuck": stuck.receipt_code}
    return world


def test_a_chair_sees_the_subtree_and_a_unit_head_only_their_unit(session):
    world = build_world(session)
    chair = [u.code for u in q.dashboard_units(session, world.chair)]
    assert chair == ["XA-MP", "XA-MP-MC", "XA-MP-TP"]
    # `chair` also heads XA-MP: still the same set, no duplicates.
    assert [u.code for u in q.dashboard_units(session, world.head)] == ["XA-MP-TP"]
    assert q.dashboard_units(session, world.desk) == []
    assert q.may_see_officer(session, world.chair, world.civ)
    assert q.may_see_officer(session, world.civ, world.civ)
    assert not q.may_see_officer(session, world.chair, world.civ_sd)
    assert not q.may_see_officer(session, world.desk, world.civ)


def test_a_dashboard_viewer_sees_the_subtree_of_the_unit_they_were_granted_read_only(session):
    from onestop.admin import grant_role

    world = build_world(session)
    assert q.dashboard_units(session, world.desk2) == []
    grant_role(world.desk2, world.units["XA-MP"], "dashboard_viewer")
    session.flush()
    assert [u.code for u in q.dashboard_units(session, world.desk2)] == [
        "XA-MP", "XA-MP-MC", "XA-MP-TP"]
    assert q.may_see_officer(session, world.desk2, world.civ)
    assert not q.may_see_officer(session, world.desk2, world.civ_sd)
    world.desk2.active = False
    assert q.dashboard_units(session, world.desk2) == []


def test_overview_counts_the_classes_and_lists_the_open_overdue_case(session, world):
    unit = world.units["XA-MP"]
    with frozen_at(NOW):
        data = q.overview(session, unit, *MARCH)
    f = data.figures
    assert (f.resolved_early, f.resolved_late, f.open_overdue, f.open_within) == (1, 1, 1, 0)
    assert f.rate_base == 3 and f.on_time_count == 1
    assert [c.receipt_code for c in data.overdue] == [world.codes["stuck"]]
    assert data.overdue[0].holder == world.civ.full_name and data.overdue[0].days_over > 0
    assert [w["week_start"] for w in data.weeks][:2] == ["2026-03-01", "2026-03-02"]


def test_heat_rows_leave_out_units_without_cases_and_the_unit_without_own_cases(session, world):
    with frozen_at(NOW):
        rows = q.heat_rows(session, world.units["HN"], *MARCH)
        rates = {r.code: [w["on_time_rate"] for w in r.weeks] for r in rows}
        assert list(rates) == ["XA-MP", "XA-SD"]  # HN itself and HN-VPDK have no case
        assert rates["XA-SD"][1] == 1.0
        assert q.heat_rows(session, world.units["HN"], date(2026, 1, 1), date(2026, 1, 31)) == []


def test_heat_rows_agree_with_the_weekly_trend_of_each_sub_unit(session, world):
    from onestop.metrics import weekly_trend

    with frozen_at(NOW):
        for row in q.heat_rows(session, world.units["HN"], *MARCH):
            assert row.weeks == weekly_trend(session, row.code, *MARCH,
                                             include_subunits=row.include_subunits)


def test_drill_down_narrows_from_procedure_to_step_to_officer_to_cases(session, world):
    ids = q.subtree_ids(session, world.units["XA-MP"])
    with frozen_at(NOW):
        procedures = q.procedure_rates(session, ids, *MARCH)
        assert [(r.key, r.on_time, r.total) for r in procedures] == [("HT-XNHN", 1, 3)]
        low, high = procedures[0].low, procedures[0].high
        assert 0 < low < 1 / 3 < high < 1
        steps = q.step_rates(session, ids, *MARCH, by="step", procedure="HT-XNHN")
        assert steps and all(r.key.startswith("HT-XNHN#") for r in steps)
        # Steps read as people name them, not by the catalogue's keys ("receive", "verify").
        assert "HT-XNHN – Tiếp nhận hồ sơ" in {r.label for r in steps}
        holders = {}
        for row in steps:
            position = int(row.key.split("#")[1])
            officers = q.step_rates(session, ids, *MARCH, by="officer", procedure="HT-XNHN",
                                    step=position)
            assert sum(r.total for r in officers) == row.total
            holders.update({r.key: position for r in officers})
        assert {"desk", "civ"} <= set(holders)
        cases = q.step_cases(session, ids, *MARCH, procedure="HT-XNHN", step=holders["civ"],
                             owner="civ")
        assert {c.receipt_code for c in cases} == set(world.codes.values())
        assert {c.step for c in cases} == {"Xác minh, thẩm tra"}  # the civil status step, "verify"
        assert [c.state for c in cases][:2] == ["overdue", "late"]  # the worst first
        assert q.step_rates(session, ids, *MARCH, by="step", procedure="NO-SUCH") == []


def test_an_empty_period_and_a_unit_without_cases_give_empty_answers(session, world):
    january = (date(2026, 1, 1), date(2026, 1, 31))
    with frozen_at(NOW):
        vpdk = q.subtree_ids(session, world.units["HN-VPDK"])
        assert q.procedure_rates(session, vpdk, *MARCH) == []
        assert q.open_overdue_cases(session, vpdk) == []
        data = q.overview(session, world.units["XA-MP"], *january)
        assert data.figures.rate_base == 0 and data.figures.on_time_rate is None
        assert all(w["on_time_rate"] is None for w in data.weeks)
        assert q.open_escalations(session, vpdk) == []
        assert q.signs(session, vpdk, *january) == []


def test_the_scorecard_sums_an_officers_steps_with_an_interval(session, world):
    with frozen_at(NOW):
        card = q.scorecard(session, world.civ, *MARCH)
    assert card.overall.total == sum(r.total for r in card.steps) >= 3
    assert card.overall.low <= (card.overall.rate or 0) <= card.overall.high
    assert card.overdue_held == 1  # the stuck case, overdue as a whole
    assert card.days_lost > 0
    assert card.extensions == 0 and card.findings == {} and card.signs == []


LAGGARD_PERIODS = [
    MARCH, (date(2026, 3, 3), date(2026, 3, 5)), (date(2026, 3, 10), date(2026, 4, 30)),
    (date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 3, 11), date(2026, 3, 31)),
]


def assert_laggards_equal_metrics(session, code: str, date_from: date, date_to: date) -> None:
    from onestop.lifecycle import find_unit
    from onestop.metrics import overdue_held, rates_by, working_days_lost

    data = q.laggards(session, find_unit(session, code), date_from, date_to)
    for by, rows in (("subunit", data.subunits), ("procedure", data.procedures),
                     ("step", data.steps), ("officer", data.officers)):
        assert rows == q.ranked(rates_by(session, by, code, date_from, date_to)), (code, by)
    assert data.days_lost == working_days_lost(session, code, date_from, date_to), code
    assert data.overdue_held == overdue_held(session, code, date_to), code


@pytest.mark.parametrize("period", LAGGARD_PERIODS, ids=str)
def test_laggards_in_two_reads_equal_the_six_metrics_rankings(session, world, period):
    with frozen_at(NOW):
        for code in ("HN", "XA-MP", "XA-MP-TP", "XA-SD", "HN-VPDK"):
            assert_laggards_equal_metrics(session, code, *period)


@pytest.fixture
def metrics_week(session):
    """The metrics tests' week (early, late, twice supplemented, withdrawn, paused, carried
    over, on the hour-based procedure too), its snapshots computed; the clock stays at noon
    on 10 March."""
    from onestop.catalogue import load_catalogue
    from tests.domain.test_metrics import HOURS_PROCEDURE, build_week

    with frozen_at(vn(2026, 2, 20, 9, 0)):
        world = build_world(session)
        load_catalogue(session, HOURS_PROCEDURE)
    build_week(session, world)
    with frozen_at(vn(2026, 3, 10, 12, 0)):
        refresh_metrics(session, full=True)
        yield world


def test_laggards_equal_the_metrics_rankings_over_every_kind_of_case(session, metrics_week):
    """The metrics tests' week, ranked on each of its days."""
    assert q.laggards(session, metrics_week.units["HN"], *MARCH).steps  # not vacuous
    for day in range(1, 11):
        for code in ("HN", "XA-MP"):
            assert_laggards_equal_metrics(session, code, date(2026, 3, day), date(2026, 3, 10))
            assert_laggards_equal_metrics(session, code, date(2026, 2, 27), date(2026, 3, day))


def assert_overview_equals_metrics(session, code: str, date_from: date, date_to: date) -> None:
    from onestop.classification import classify_case
    from onestop.lifecycle import find_unit
    from onestop.metrics import case_figures, weekly_trend
    from onestop.models import Case

    unit = find_unit(session, code)
    ids = q.subtree_ids(session, unit)
    data = q.overview(session, unit, date_from, date_to)
    [(_, figures)] = case_figures(session, ids, date_from, date_to)
    assert data.figures == figures, (code, date_from, date_to)
    assert data.weeks == weekly_trend(session, code, date_from, date_to), (code, date_from)
    calendar = q.work_calendar(session)
    overdue = {c.receipt_code for c in session.query(Case).filter(Case.unit_id.in_(ids))
               if classify_case(c, calendar, q.clock.now()) == "overdue"}
    assert {c.receipt_code for c in data.overdue} == overdue, code


def test_the_overview_in_one_read_equals_case_figures_and_the_weekly_trend(session, metrics_week):
    """Over the metrics tests' week (every kind of case, a case overdue by a second supplement
    request, the hour-based procedure): each period ending or starting on each day."""
    assert q.overview(session, metrics_week.units["HN"], *MARCH).overdue  # not vacuous
    for day in range(1, 12):
        for code in ("HN", "XA-MP", "XA-SD"):
            assert_overview_equals_metrics(session, code, date(2026, 3, day), date(2026, 3, 31))
            assert_overview_equals_metrics(session, code, date(2026, 2, 25), date(2026, 3, day))


def test_aggregates_get_room_in_memory_and_no_jit_in_the_transaction(session, backend):
    import sqlalchemy as sa

    q.roomy_aggregates(session)  # on SQLite: nothing to set
    if backend == "postgresql":
        assert session.scalar(sa.text("SHOW work_mem")) == "32MB"
        assert session.scalar(sa.text("SHOW jit")) == "off"


@pytest.mark.parametrize("period", [MARCH, (date(2026, 3, 1), date(2026, 3, 3))],
                         ids=["march", "to-3-march"])
def test_the_cases_of_each_class_are_the_ones_the_classification_chart_counts(
    session, world, period,
):
    """Up to 3 March the late and the stuck case were open within deadline (due Thursday 5
    March) and the early one resolved; by NOW the late one is resolved late and the stuck one
    overdue. Each list matches its count and never lists a case of another unit."""
    from dashboards.figures import classification_counts

    unit = world.units["XA-MP"]
    with frozen_at(NOW):
        ids = q.subtree_ids(session, unit)
        counts = {key: n for key, _, n, _ in
                  classification_counts(q.overview(session, unit, *period).figures)}
        listed = {key: [c.receipt_code for c in q.classified_cases(session, ids, *period, key)]
                  for key in q.CASE_CLASSES}
        assert len(q.classified_cases(session, ids, *period, "open_within", limit=1)) <= 1
        assert q.classified_cases(session, ids, *period, "open_overdue",
                                  procedure="DD-GCN") == []
    assert {key: len(codes) for key, codes in listed.items()} == counts
    codes = world.codes
    if period == MARCH:
        assert listed["resolved_early"] == [codes["early"]]
        assert listed["resolved_late"] == [codes["late"]]
        assert listed["open_overdue"] == [codes["stuck"]]
    else:
        assert listed["resolved_early"] == [codes["early"]]
        assert sorted(listed["open_within"]) == sorted([codes["late"], codes["stuck"]])
        assert listed["resolved_late"] == listed["open_overdue"] == []


def test_escalated_cases_list_what_the_counts_count_by_level_and_age(session, world):
    from datetime import timedelta

    from onestop.escalation import Escalation
    from onestop.models import Case

    stuck = session.query(Case).filter_by(receipt_code=world.codes["stuck"]).one()
    late = session.query(Case).filter_by(receipt_code=world.codes["late"]).one()
    for case, level, days in ((stuck, "step_overdue", 2), (stuck, "case_overdue", 0.2),
                              (late, "step_overdue", 4)):  # `late` is resolved: not open
        session.add(Escalation(case_id=case.id, step_key=case.assignments[-1].id, level=level,
                               step_position=2, owner_id=world.civ.id, due_at=case.due_at,
                               fired_at=NOW - timedelta(days=days)))
    session.flush()
    with frozen_at(NOW):
        ids = q.subtree_ids(session, world.units["XA-MP"])
        counts = q.open_escalations(session, ids)
        every = q.escalated_cases(session, ids)
        for count in counts:
            rows = q.escalated_cases(session, ids, level=count.level, age=count.age)
            assert len(rows) == count.count
            assert {(r.level, r.age) for r in rows} == {(count.level, count.age)}
        assert q.escalated_cases(session, ids, level="step_overdue", age="> 7") == []
        with pytest.raises(ValueError):
            q.escalated_cases(session, ids, age="forever")
    assert sorted((c.level, c.age, c.count) for c in counts) == [
        ("case_overdue", "< 1", 1), ("step_overdue", "1–3", 1)]
    assert [(r.receipt_code, r.level, r.owner) for r in every] == [
        (world.codes["stuck"], "step_overdue", world.civ.full_name),
        (world.codes["stuck"], "case_overdue", world.civ.full_name)]  # oldest first


def test_signs_filter_by_sign_and_their_events_say_who_moved_the_case_where(session, world):
    from onestop.models import Case
    from onestop.signals import Signal

    stuck = session.query(Case).filter_by(receipt_code=world.codes["stuck"]).one()
    handover = next(e for e in stuck.events if e.kind == "handed_over")
    stored = {"events": [{"id": handover.id, "seq": handover.seq, "kind": handover.kind,
                          "at": handover.at.isoformat()}], "count": 1}
    for sign, kind in (("passing_ball", "sent_back"), ("dragging", "idle")):
        session.add(Signal(day=date(2026, 3, 9), sign=sign, kind=kind,
                           subject=f"case:{stuck.id}", case_id=stuck.id, officer_id=world.civ.id,
                           unit_id=stuck.unit_id, evidence=stored, computed_at=NOW))
    session.flush()
    ids = q.subtree_ids(session, world.units["XA-MP"])
    assert len(q.signs(session, ids, *MARCH)) == 2
    [row] = q.signs(session, ids, *MARCH, sign="passing_ball")
    assert row.kind == "sent_back" and row.receipt_code == world.codes["stuck"]
    [event] = row.evidence["events"]
    assert event["from"] == world.desk.full_name and event["to"] == world.civ.full_name
    assert event["kind"] == "handed_over" and event["to_step"] == handover.to_step
    assert "from" not in stored["events"][0]  # the stored evidence is not rewritten
