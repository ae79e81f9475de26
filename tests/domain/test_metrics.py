"""On-time figures (RULES.md sections 4 and 5): pinned on hand-built cases, on both backends."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from onestop import lifecycle as lc
from onestop import metrics
from onestop.calendar_store import work_calendar
from onestop.catalogue import load_catalogue
from onestop.classification import classify_case, compare_end
from onestop.clock import frozen_at
from onestop.db import make_engine
from onestop.metrics import (
    CaseDayFigures,
    StepDayFigures,
    compute_days,
    on_time_report,
    refresh_metrics,
    wilson_interval,
)
from onestop.satisfaction import record_complaint, record_rating
from onestop.settings import Policy
from tests.conftest import vn
from tests.factories import APPLICANT, build_world

MON, FRI = date(2026, 3, 2), date(2026, 3, 6)
HOURS_PROCEDURE = (
    "code,name_vi,name_en,field,level,duration_unit,duration_amount,same_day_cutoff,legal_basis,steps_hours\n"
    "CT-NH,Chứng thực nhanh,Quick certification,Chứng thực,commune,working_hours,4,,Thử nghiệm,"
    "receive:desk:0.5;certify:civil_status_officer:3;return:desk:0.5\n"
)


def receive(world, procedure="HT-XNHN", *, channel="in_person", unit="XA-MP", desk="desk"):
    return lc.receive(
        world.session, world.officers[desk], unit_code=unit, procedure_code=procedure,
        applicant=APPLICANT, channel=channel, documents=[{"name": "Tờ khai", "form": "original", "count": 1}],
    )


@pytest.fixture
def world(session):
    with frozen_at(vn(2026, 2, 20, 9, 0)):
        world = build_world(session)
        load_catalogue(session, HOURS_PROCEDURE)
        session.flush()
    return world


def build_week(session, world) -> dict:
    """Every kind of case in the week of Monday 2 March 2026 (HT-XNHN: 3 working days)."""
    s, w, cases = session, world, {}
    with frozen_at(vn(2026, 2, 27, 9, 0)) as clock:
        cases["carried"] = c = receive(w)  # due Wed 4 March 09:00
        clock.set(vn(2026, 3, 1, 20, 0))
        cases["online"] = lc.register_online(
            s, unit_code="XA-MP", procedure_code="HT-XNHN", applicant=APPLICANT
        )
        clock.set(vn(2026, 3, 2, 8, 0))
        lc.accept_registered(s, cases["online"], w.desk)  # due Wed 17:00
        for name in ("early", "late", "twice", "withdrawn", "abandoned"):
            cases[name] = receive(w)  # due Wed 17:00
        clock.set(vn(2026, 3, 2, 9, 0))
        lc.hand_over(s, c, w.desk, w.civ)
        lc.hand_over(s, cases["early"], w.desk, w.civ)
        cases["on_time"] = receive(w)  # due Thu 09:00
        clock.set(vn(2026, 3, 2, 10, 0))
        cases["overdue"] = receive(w)  # due Thu 10:00
        lc.request_supplement(s, cases["twice"], w.desk, "Thiếu tờ khai")
        clock.set(vn(2026, 3, 2, 11, 0))
        lc.request_supplement(s, cases["abandoned"], w.desk, "Thiếu giấy tờ")
        clock.set(vn(2026, 3, 2, 14, 0))
        lc.receive_supplement(s, cases["twice"], w.desk)
        clock.set(vn(2026, 3, 2, 16, 0))
        cases["same_day"] = receive(w, "HT-KS")  # after the 15:00 cut-off: due Tue 17:00
        clock.set(vn(2026, 3, 3, 8, 0))
        cases["hours"] = receive(w, "CT-NH")  # due Tue 12:00
        cases["hours_late"] = receive(w, "CT-NH")
        cases["stopped"] = receive(w)
        cases["refused"] = receive(w)
        clock.set(vn(2026, 3, 3, 9, 0))
        lc.request_supplement(s, cases["twice"], w.desk, "Thiếu lần hai")
        lc.withdraw(s, cases["withdrawn"], w.desk, "Công dân rút")
        lc.hand_over(s, cases["refused"], w.desk, w.civ)
        clock.set(vn(2026, 3, 3, 10, 0))
        lc.resolve(s, cases["early"], w.civ)
        lc.resolve(s, cases["same_day"], w.desk)
        cases["at_risk"] = receive(w)  # due Fri 10:00
        clock.set(vn(2026, 3, 3, 11, 0))
        lc.receive_supplement(s, cases["twice"], w.desk)
        lc.return_result(s, cases["early"], w.desk)
        record_rating(s, cases["early"], False, "Chờ lâu", actor=w.desk)
        clock.set(vn(2026, 3, 3, 12, 0))
        lc.resolve(s, cases["hours"], w.desk)  # exactly at its due instant
        clock.set(vn(2026, 3, 3, 13, 30))
        lc.resolve(s, cases["hours_late"], w.desk)  # same date, later instant: late
        clock.set(vn(2026, 3, 3, 14, 0))
        lc.resolve(s, c, w.civ)
        clock.set(vn(2026, 3, 3, 15, 0))
        lc.resolve(s, cases["twice"], w.desk)  # early by the clock, late by the rule
        clock.set(vn(2026, 3, 4, 8, 0))
        cases["paused"] = receive(w)  # due Fri 17:00
        clock.set(vn(2026, 3, 4, 9, 0))
        lc.stop(s, cases["stopped"], w.desk, "Không đủ điều kiện", "Điều 10")
        lc.hand_over(s, cases["paused"], w.desk, w.civ)
        clock.set(vn(2026, 3, 4, 10, 0))
        lc.refuse_after_review(s, cases["refused"], w.civ, "Không đủ căn cứ")
        clock.set(vn(2026, 3, 4, 16, 0))
        lc.resolve(s, cases["online"], w.desk)  # on its due date
        clock.set(vn(2026, 3, 5, 8, 30))
        lc.resolve(s, cases["late"], w.desk)
        record_complaint(s, cases["late"], "Trả chậm")
        clock.set(vn(2026, 3, 5, 9, 0))
        lc.request_supplement(s, cases["paused"], w.civ, "Thiếu xác nhận")
        clock.set(vn(2026, 3, 5, 16, 0))
        lc.resolve(s, cases["on_time"], w.desk)
        clock.set(vn(2026, 3, 6, 8, 0))
        cases["fresh"] = receive(w)
        clock.set(vn(2026, 3, 6, 9, 0))
        cases["post"] = receive(w, channel="post")
        clock.set(vn(2026, 3, 9, 8, 0))
        cases["next_week"] = receive(w)
        lc.refuse_at_intake(s, w.desk, "Sai thẩm quyền", unit_code="XA-MP", procedure_code="HT-XNHN",
                            applicant=APPLICANT, channel="in_person", documents=[])
        # The applicant never brought the supplement: the case ends at the request (2 March).
        lc.withdraw(s, cases["abandoned"], w.desk, "Không bổ sung")
        clock.set(vn(2026, 3, 2, 8, 0))
        cases["elsewhere"] = receive(w, unit="XA-SD", desk="desk_sd")
        clock.set(vn(2026, 3, 2, 15, 0))
        lc.resolve(s, cases["elsewhere"], w.desk_sd)
    session.flush()
    return cases


def seed_week(database_url: str, chair_email: str | None = None) -> None:
    """The same world and week, committed to the database at `database_url` (for code that
    opens its own sessions: the command line, the flows)."""
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        with frozen_at(vn(2026, 2, 20, 9, 0)):
            world = build_world(session)
            load_catalogue(session, HOURS_PROCEDURE)
        world.chair.email = chair_email
        build_week(session, world)
        session.commit()
    engine.dispose()


def refresh_at(session, instant, **kw):
    with frozen_at(instant):
        return refresh_metrics(session, **kw)


def report(session, unit="XA-MP", first=MON, last=FRI, **kw):
    with frozen_at(vn(2026, 3, 10, 12, 0)):
        return on_time_report(session, unit, first, last, **kw)


def test_period_report_pins_every_classification(session, world):
    build_week(session, world)
    refresh_at(session, vn(2026, 3, 10, 12, 0))
    figures = report(session)
    assert figures["received"] == {
        "total": 18, "online": 1, "in_person": 16, "of_which_post": 1, "carried_over": 1,
    }
    assert figures["resolved"] == {"total": 9, "early": 2, "on_time": 4, "late": 3}
    assert figures["in_progress"] == {
        "total": 5, "within_deadline": 4, "overdue": 1, "at_risk": 1, "paused": 1,
    }
    assert (figures["withdrawn"], figures["stopped"], figures["refused"]) == (2, 1, 1)
    assert figures["on_time_rate"] == round(10 / 14, 4)
    assert figures["score_766"] == round(20 * 10 / 14, 2)
    assert figures["on_time_cases"] == 10 and figures["rate_base"] == 14
    assert figures["invariant_holds"]


def test_report_of_a_province_includes_its_communes(session, world):
    build_week(session, world)
    refresh_at(session, vn(2026, 3, 10, 12, 0))
    province = report(session, "HN")
    assert province["resolved"] == {"total": 10, "early": 3, "on_time": 4, "late": 3}
    lines = {line["unit"]["code"]: line for line in province["subunits"]}
    assert lines["XA-MP"]["resolved"]["total"] == 9
    assert lines["XA-SD"]["resolved"] == {"total": 1, "early": 1, "on_time": 0, "late": 0}
    assert lines["HN-VPDK"]["received"]["total"] == 0
    assert province["own"]["received"]["total"] == 0
    alone = report(session, "HN", include_subunits=False)
    assert alone["received"]["total"] == 0 and "subunits" not in alone


def test_invariant_holds_for_every_period(session, world):
    build_week(session, world)
    refresh_at(session, vn(2026, 3, 10, 12, 0))
    days = [date(2026, 2, 26) + timedelta(days=n) for n in range(14)]
    for first in days:
        for last in days:
            if last >= first:
                figures = report(session, "HN", first, last)
                assert figures["invariant_holds"], (first, last, figures)


def test_satisfaction_counts_late_and_disliked_cases_among_those_resolved(session, world):
    build_week(session, world)
    refresh_at(session, vn(2026, 3, 10, 12, 0))
    satisfaction = report(session)["satisfaction"]
    # 9 resolved: 3 late, 2 with a complaint or a dissatisfied rating (one late, one early).
    assert satisfaction["late_share"] == round(3 / 9, 4)
    assert satisfaction["complaint_or_dislike_share"] == round(2 / 9, 4)
    assert satisfaction["rate"] == round(4 / 9, 4)
    assert satisfaction["score"] == round(6 * (4 / 9) / 0.9, 2)


def test_satisfaction_score_is_full_from_ninety_percent():
    figures = metrics.Figures(resolved_on_time=19, resolved_late=1)
    assert figures.satisfaction_ratio == pytest.approx(0.95)
    assert figures.satisfaction_score == 6.0
    figures = metrics.Figures(resolved_on_time=7, resolved_late=3, resolved_disliked=1)
    assert figures.satisfaction_ratio == pytest.approx(0.6)
    assert figures.satisfaction_score == pytest.approx(4.0)
    assert metrics.Figures(resolved_late=3, resolved_disliked=3).satisfaction_ratio == 0.0


def test_average_processing_time_is_working_days_without_paused_time(session, world):
    cases = build_week(session, world)
    refresh_at(session, vn(2026, 3, 10, 12, 0))
    calendar = work_calendar(session)
    resolved = [c for c in cases.values() if c.status in ("resolved", "returned") and c.unit.code == "XA-MP"]
    assert len(resolved) == 9
    hours = sum(
        calendar.working_hours_between(c.received_at, c.ended_at)
        - sum(p.paused_working_hours for p in c.pauses)
        for c in resolved
    )
    assert report(session)["average_processing_days"] == round(hours / 9 / 8, 2)
    # By hand: "on_time" took Mon 09:00 to Thu 16:00 = 7 + 8 + 8 + 7 working hours.
    assert calendar.working_hours_between(cases["on_time"].received_at, cases["on_time"].ended_at) == 30


def test_an_overdue_open_case_lowers_the_rate_now(session, world):
    with frozen_at(vn(2026, 3, 2, 8, 0)) as clock:
        done, _waiting = receive(world), receive(world)  # both due Wed 17:00
        clock.set(vn(2026, 3, 3, 9, 0))
        lc.resolve(session, done, world.desk)
    refresh_at(session, vn(2026, 3, 4, 16, 0))
    with frozen_at(vn(2026, 3, 4, 16, 0)):
        today = on_time_report(session, "XA-MP", MON, date(2026, 3, 4))
    assert today["on_time_rate"] == 1.0 and today["in_progress"]["within_deadline"] == 1
    refresh_at(session, vn(2026, 3, 5, 8, 0))
    with frozen_at(vn(2026, 3, 5, 8, 0)):
        later = on_time_report(session, "XA-MP", MON, date(2026, 3, 5))
        assert later["in_progress"]["overdue"] == 1
        assert later["on_time_rate"] == 0.5 and later["score_766"] == 10.0
        # The figures of the earlier period keep what was true at its end.
        assert on_time_report(session, "XA-MP", MON, date(2026, 3, 4))["on_time_rate"] == 1.0


def test_working_hours_are_compared_as_instants_and_days_as_local_dates(session, world):
    cases = build_week(session, world)
    refresh_at(session, vn(2026, 3, 10, 12, 0))
    calendar = work_calendar(session)
    for name, expected in [("hours", "on_time"), ("hours_late", "late"), ("same_day", "on_time"),
                           ("online", "on_time"), ("twice", "late"), ("early", "early")]:
        assert classify_case(cases[name], calendar) == expected, name
    day = session.execute(
        sa.select(CaseDayFigures.resolved_on_time, CaseDayFigures.resolved_late)
        .join(metrics.Procedure, metrics.Procedure.id == CaseDayFigures.procedure_id)
        .where(CaseDayFigures.day == date(2026, 3, 3), metrics.Procedure.code == "CT-NH")
    ).one()
    assert tuple(day) == (1, 1)
    assert compare_end(cases["hours_late"].ended_at, cases["hours_late"].due_at, "working_days", calendar) == "on_time"


def dump(session) -> dict:
    out = {}
    for model in (CaseDayFigures, StepDayFigures):
        table = model.__table__
        rows = session.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
        out[table.name] = [tuple(row) for row in rows]
    return out


def test_incremental_refresh_recomputes_only_days_a_change_can_touch(session, world):
    cases = build_week(session, world)
    first = refresh_at(session, vn(2026, 3, 10, 12, 0))
    assert (first.first, first.last, first.full) == (date(2026, 2, 27), date(2026, 3, 10), True)
    quiet = refresh_at(session, vn(2026, 3, 10, 15, 0))
    assert (quiet.first, quiet.last, quiet.full) == (date(2026, 3, 10), date(2026, 3, 10), False)

    def change_then_refresh(instant, change):
        with frozen_at(instant):
            change()
        result = refresh_at(session, instant + timedelta(minutes=5))
        incremental = dump(session)
        refresh_at(session, instant + timedelta(minutes=5), full=True)
        assert dump(session) == incremental, "the incremental refresh missed a day"
        return result.first

    # A result changes nothing before its own day (and the last refresh's day is redone).
    assert change_then_refresh(
        vn(2026, 3, 11, 9, 0), lambda: lc.resolve(session, cases["overdue"], world.desk)
    ) == date(2026, 3, 10)
    # A complaint counts on the day the case was resolved.
    assert change_then_refresh(
        vn(2026, 3, 11, 10, 0), lambda: record_complaint(session, cases["on_time"], "Thái độ")
    ) == date(2026, 3, 5)
    # A supplement received moves the due instant: every day since the receipt may change.
    assert change_then_refresh(
        vn(2026, 3, 11, 11, 0), lambda: lc.receive_supplement(session, cases["paused"], world.civ)
    ) == date(2026, 3, 4)
    with frozen_at(vn(2026, 3, 11, 11, 5)):
        week = on_time_report(session, "XA-MP", MON, FRI)
        longer = on_time_report(session, "XA-MP", MON, date(2026, 3, 11))
    assert week["in_progress"]["overdue"] == 1 and week["resolved"]["total"] == 9
    assert week["satisfaction"]["complaint_or_dislike_share"] == round(3 / 9, 4)
    assert longer["resolved"]["late"] == 4
    # Still open on 11 March and past due: "at_risk" (Fri 6) and "fresh" (Tue 10).
    assert longer["in_progress"]["overdue"] == 2


def test_rerunning_a_day_replaces_it(session, world):
    build_week(session, world)
    refresh_at(session, vn(2026, 3, 10, 12, 0))
    before = dump(session)
    with frozen_at(vn(2026, 3, 10, 12, 0)):
        again = compute_days(session, date(2026, 3, 4), date(2026, 3, 4))
        compute_days(session, MON, date(2026, 3, 10))
    assert again.case_rows == sum(1 for row in before["metric_case_days"] if row[0] == date(2026, 3, 4))
    assert dump(session) == before
    assert report(session)["resolved"]["total"] == 9


def test_a_calendar_change_recomputes_everything(session, world):
    build_week(session, world)
    refresh_at(session, vn(2026, 3, 10, 12, 0))
    from onestop.calendar_store import add_calendar_exception

    with frozen_at(vn(2026, 3, 10, 13, 0)):
        add_calendar_exception(session, date(2026, 3, 4), "day_off", "Thông báo thử")
    assert refresh_at(session, vn(2026, 3, 10, 14, 0)).full


def test_wilson_interval_known_values():
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_rates_carry_their_wilson_interval(session, world):
    build_week(session, world)
    refresh_at(session, vn(2026, 3, 10, 12, 0))
    figures = report(session)
    assert figures["on_time_rate_interval"] == [round(v, 4) for v in wilson_interval(10, 14)]


# --- the SQL against the classification module, at many instants ------------------------------

OPEN_SPLIT = {"within_deadline": "open_within", "at_risk": "open_within", "overdue": "open_overdue"}
OPEN_COLUMNS = ("open_within", "open_overdue", "open_at_risk", "open_paused")


def _open_split(state, started, due, unit, many, calendar, counts):
    """The snapshot's terms: a paused case counts as overdue if it paused after its due."""
    if state == "paused":
        counts["open_paused"] += 1
        late = many or compare_end(started, due, unit, calendar) == "late"
        counts["open_overdue" if late else "open_within"] += 1
    else:
        counts[OPEN_SPLIT[state]] += 1
        counts["open_at_risk"] += state == "at_risk"


def python_counts(cases, calendar, at, policy):
    from onestop.classification import classify_assignment

    case_counts = dict.fromkeys(OPEN_COLUMNS, 0)
    step_counts = dict.fromkeys(OPEN_COLUMNS, 0)
    finished = dict.fromkeys(("early", "on_time", "late"), 0)
    today = at.astimezone(calendar.zone).date()
    for case in cases:
        if case.ended_at is not None:
            if case.status in ("resolved", "returned") and case.ended_at.astimezone(calendar.zone).date() == today:
                finished[classify_case(case, calendar)] += 1
        else:
            pause = case.open_pause
            _open_split(classify_case(case, calendar, at, policy), pause and pause.started_at,
                        case.due_at, case.procedure.duration_unit, case.supplement_requests > 1,
                        calendar, case_counts)
        for step in case.assignments:
            if step.ended_at is None:
                pause = case.open_pause
                _open_split(classify_assignment(step, calendar, at, policy), pause and pause.started_at,
                            step.due_at, "working_hours", False, calendar, step_counts)
    return case_counts, step_counts, finished


def simulate(world, seed: int, count: int):
    """A reproducible mix of cases: (instant, action) pairs to run in time order."""
    import random

    rng = random.Random(seed)
    s, w = world.session, world
    start = vn(2026, 3, 2, 7, 0)
    actions, slots = [], []
    for n in range(count):
        slot: dict = {}
        slots.append(slot)
        t = start + timedelta(minutes=rng.randrange(0, 5 * 24 * 60, 15))
        procedure = rng.choice(["HT-XNHN", "HT-XNHN", "CT-NH", "HT-KS"])

        def later(t):
            return t + timedelta(minutes=rng.choice([30, 90, 240, 600, 1440, 2000]))

        actions.append((t, lambda slot=slot, p=procedure: slot.update(case=receive(w, p), holder=w.desk)))
        if rng.random() < 0.5:
            t = later(t)
            actions.append((t, lambda slot=slot: (lc.hand_over(s, slot["case"], slot["holder"], w.civ),
                                                  slot.update(holder=w.civ))))
        ended = False
        for _ in range(rng.choice([0, 0, 1, 2])):
            t = later(t)
            actions.append((t, lambda slot=slot: lc.request_supplement(s, slot["case"], slot["holder"], "Thiếu")))
            t = later(t)
            if rng.random() < 0.2:
                actions.append((t, lambda slot=slot: lc.withdraw(s, slot["case"], w.desk, "Không bổ sung")))
                ended = True
                break
            actions.append((t, lambda slot=slot: lc.receive_supplement(s, slot["case"], slot["holder"])))
        if not ended:
            t = later(t)
            fate = rng.random()
            if fate < 0.6:
                actions.append((t, lambda slot=slot: lc.resolve(s, slot["case"], slot["holder"])))
            elif fate < 0.7:
                actions.append((t, lambda slot=slot: lc.stop(s, slot["case"], slot["holder"], "Dừng")))
    actions.sort(key=lambda pair: pair[0])
    return actions, slots


@pytest.mark.parametrize("seed", [1, 2])
def test_sql_states_match_the_classification_module_at_many_instants(session, world, seed):
    calendar = work_calendar(session)
    policy = Policy(at_risk_share=0.25)
    actions, slots = simulate(world, seed, 14)
    checkpoints = [vn(2026, 3, 2, 7, 0) + timedelta(minutes=97 * k) for k in range(1, 120, 7)]
    checkpoints += [vn(2026, 3, 4, 17, 0), vn(2026, 3, 5, 12, 0), vn(2026, 3, 9, 23, 59, 59)]
    seen = dict.fromkeys(OPEN_COLUMNS, 0)
    for checkpoint in sorted(checkpoints):
        while actions and actions[0][0] <= checkpoint:
            instant, action = actions.pop(0)
            with frozen_at(instant):
                action()
        session.flush()
        cases = [slot["case"] for slot in slots if "case" in slot]
        day = checkpoint.astimezone(calendar.zone).date()
        with frozen_at(checkpoint):
            compute_days(session, day, day, policy=policy)
        want_cases, want_steps, want_finished = python_counts(cases, calendar, checkpoint, policy)
        got = {}
        for model, columns in ((CaseDayFigures, OPEN_COLUMNS + ("resolved_early", "resolved_on_time", "resolved_late")),
                               (StepDayFigures, OPEN_COLUMNS)):
            row = session.execute(
                sa.select(*(sa.func.sum(getattr(model, c)) for c in columns)).where(model.day == day)
            ).one()
            got[model] = dict(zip(columns, (int(v or 0) for v in row)))
        assert {c: got[CaseDayFigures][c] for c in OPEN_COLUMNS} == want_cases, checkpoint
        assert got[StepDayFigures] == want_steps, checkpoint
        assert [got[CaseDayFigures][f"resolved_{k}"] for k in ("early", "on_time", "late")] == list(want_finished.values())
        for column in OPEN_COLUMNS:
            seen[column] += want_cases[column] + want_steps[column]
    # The mix really exercised every state.
    assert all(seen.values()), seen


# --- query functions for dashboards -----------------------------------------------------------

def test_rates_by_officer_procedure_and_subunit(session, world):
    build_week(session, world)
    refresh_at(session, vn(2026, 3, 10, 12, 0))
    with frozen_at(vn(2026, 3, 10, 12, 0)):
        officers = {r.key: r for r in metrics.rates_by(session, "officer", "XA-MP", MON, FRI)}
        procedures = {r.key: r for r in metrics.rates_by(session, "procedure", "XA-MP", MON, FRI)}
        communes = metrics.rates_by(session, "subunit", "HN", MON, FRI)
    # civ finished three steps early and holds one (paused before its due) at the end.
    civ = officers["civ"]
    assert (civ.on_time, civ.total, civ.rate) == (4, 4, 1.0)
    assert civ.counts["finished_early"] == 3 and civ.counts["open_paused"] == 1
    assert (civ.low, civ.high) == wilson_interval(4, 4)
    assert officers["desk"].rate < 1.0
    assert (procedures["CT-NH"].on_time, procedures["CT-NH"].total) == (1, 2)
    assert (procedures["HT-KS"].on_time, procedures["HT-KS"].total) == (1, 1)
    assert [r.key for r in communes] == ["XA-MP", "XA-SD"]  # worst first
    assert (communes[0].on_time, communes[0].total) == (10, 14)


def test_weekly_trend_cuts_the_period_into_weeks(session, world):
    build_week(session, world)
    refresh_at(session, vn(2026, 3, 10, 12, 0))
    with frozen_at(vn(2026, 3, 10, 12, 0)):
        weeks = metrics.weekly_trend(session, "HN", date(2026, 2, 25), date(2026, 3, 10))
        second = on_time_report(session, "HN", MON, date(2026, 3, 8))
    assert [(w["week_start"], w["week_end"]) for w in weeks] == [
        ("2026-02-25", "2026-03-01"), ("2026-03-02", "2026-03-08"), ("2026-03-09", "2026-03-10"),
    ]
    assert weeks[0]["received"] == 1 and weeks[0]["in_progress"] == 1 and weeks[0]["on_time_rate"] == 1.0
    assert weeks[1]["on_time_rate"] == second["on_time_rate"]
    assert weeks[1]["resolved"] == second["resolved"]["total"]
    assert weeks[1]["low"] <= weeks[1]["on_time_rate"] <= weeks[1]["high"]


def test_overdue_cases_held_per_officer(session, world):
    build_week(session, world)
    refresh_at(session, vn(2026, 3, 10, 12, 0))
    with frozen_at(vn(2026, 3, 10, 12, 0)):
        held = {r["username"]: r for r in metrics.overdue_held(session, "XA-MP", FRI)}
    # The desk holds step 1 of four open cases, the return step of eight results not yet handed
    # back, and step 1 of "abandoned" (held until its withdrawal on 9 March, though the case
    # ended at the request on 2 March), all past their step budgets; one case is overdue.
    assert held["desk"] == {
        "username": "desk", "full_name": "Trần Văn An", "held": 13, "steps_overdue": 13,
        "cases_overdue": 1, "at_risk": 0,
    }
    assert (held["civ"]["held"], held["civ"]["steps_overdue"], held["civ"]["cases_overdue"]) == (1, 0, 0)
    assert list(held) == ["desk", "civ"]


def test_working_days_lost_per_step_against_its_budget(session, world):
    build_week(session, world)
    refresh_at(session, vn(2026, 3, 10, 12, 0))
    with frozen_at(vn(2026, 3, 10, 12, 0)):
        lost = {(r["procedure"], r["step_position"]): r for r in metrics.working_days_lost(session, "XA-MP", MON, FRI)}
    verify = lost[("HT-XNHN", 2)]
    assert (verify["finished"], verify["late"], verify["days_lost"], verify["budget_days"]) == (3, 0, 0.0, 2.0)
    receive_step = lost[("HT-XNHN", 1)]
    assert receive_step["days_lost"] == pytest.approx(
        receive_step["days_lost_finished"] + receive_step["days_lost_open"], abs=0.002
    )
    assert receive_step["days_lost"] > 0
    days = [r["days_lost"] for r in lost.values()]
    assert days == sorted(days, reverse=True)


def test_sqlite_and_postgresql_agree_row_for_row(tmp_path, sqlite_template, postgres_schema_factory):
    import shutil

    shutil.copy(sqlite_template, tmp_path / "onestop.db")
    dumps, reports = [], []
    for url in (f"sqlite:///{tmp_path / 'onestop.db'}", postgres_schema_factory()):
        engine = make_engine(url)
        with Session(engine, expire_on_commit=False) as session:
            with frozen_at(vn(2026, 2, 20, 9, 0)):
                world = build_world(session)
                load_catalogue(session, HOURS_PROCEDURE)
            build_week(session, world)
            refresh_at(session, vn(2026, 3, 10, 12, 0))
            session.commit()
            dumps.append(dump(session))
            reports.append(report(session, "HN"))
        engine.dispose()
    assert dumps[0] == dumps[1]
    assert reports[0] == reports[1]
    assert len(dumps[0]["metric_case_days"]) >= 16 and len(dumps[0]["metric_step_days"]) >= 40


def test_a_full_refresh_and_the_first_refresh_of_a_day_analyze_the_snapshots(
    session, world, backend
):
    """The dashboards read the snapshots by day range; without statistics PostgreSQL plans for
    a handful of rows (nested loops, sorts on disk) where there are a hundred thousand."""
    analyzed = []
    real = metrics.analyze_snapshots
    metrics.analyze_snapshots = lambda s: (analyzed.append(True), real(s))
    try:
        build_week(session, world)
        refresh_at(session, vn(2026, 3, 10, 12, 0), full=True)
        assert len(analyzed) == 1
        refresh_at(session, vn(2026, 3, 10, 12, 15))  # the same day: autovacuum's job
        assert len(analyzed) == 1
        refresh_at(session, vn(2026, 3, 11, 8, 0))  # a new day past the histogram
        assert len(analyzed) == 2
    finally:
        metrics.analyze_snapshots = real
    if backend == "postgresql":
        tuples = session.scalar(sa.text(
            "SELECT reltuples FROM pg_class WHERE oid = 'metric_step_days'::regclass"))
        assert tuples > 0  # -1: never analyzed
