"""Signs of pushing work around (RULES.md section 8): each signal, with its evidence."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from onestop import lifecycle as lc
from onestop.admin import create_officer
from onestop.audit import hash_of
from onestop.clock import frozen_at
from onestop.inspections import InspectionSample, record_finding
from onestop.models import CaseEvent, Extension
from onestop.signals import Signal, SignalRules, run_signals, signals_for
from tests.conftest import vn
from tests.factories import build_world

SUNDAY = vn(2026, 3, 1, 10, 0)
MONDAY = vn(2026, 3, 2, 8, 0)
FRIDAY = date(2026, 3, 6)


@pytest.fixture
def world(session):
    with frozen_at(SUNDAY):
        return build_world(session)


@pytest.fixture
def clock():
    with frozen_at(MONDAY) as clock:
        yield clock


def at(clock, *args):
    clock.set(vn(*args))


def kinds(session, case=None, day=FRIDAY, **kw):
    rows = signals_for(session, day=day, case_id=case.id if case else None, **kw)
    return sorted(r.kind for r in rows)


def one(session, kind, case=None, day=FRIDAY):
    [row] = [
        r
        for r in signals_for(session, day=day, case_id=case.id if case else None)
        if r.kind == kind
    ]
    return row


def event_ids(session, case, *wanted):
    return [(e.id, e.seq) for e in lc.history(session, case) if e.kind in wanted]


def test_a_case_handled_by_the_book_raises_no_signal(session, world, clock):
    case = world.receive()
    at(clock, 2026, 3, 2, 9, 0)
    lc.hand_over(session, case, world.desk, world.civ)
    at(clock, 2026, 3, 3, 10, 0)
    lc.hand_over(session, case, world.civ, world.vice)
    at(clock, 2026, 3, 3, 11, 0)
    lc.resolve(session, case, world.vice)
    at(clock, 2026, 3, 3, 11, 30)
    lc.return_result(session, case, world.desk)
    run = run_signals(session, FRIDAY)
    assert run.cases_examined == 1 and run.signals == 0


def test_passing_the_ball_back_and_forth_is_signalled_with_the_handovers(session, world, clock):
    case = world.receive()
    for hour, (giver, receiver, step) in enumerate(
        [
            ("desk", "civ", None),
            ("civ", "desk", 1),
            ("desk", "civ", None),
            ("civ", "desk", 1),
            ("desk", "civ", None),
        ],
        start=9,
    ):
        at(clock, 2026, 3, 2, hour, 0)
        lc.hand_over(session, case, world.officers[giver], world.officers[receiver], to_step=step)
    run_signals(session, FRIDAY)
    assert {"sent_back", "excess_handovers"} <= set(kinds(session, case))
    sent_back = one(session, "sent_back", case)
    backs = [e for e in lc.history(session, case) if e.kind == "handed_over" and e.to_step == 1]
    assert [(e["id"], e["seq"]) for e in sent_back.evidence["events"]] == [
        (e.id, e.seq) for e in backs
    ]
    assert (sent_back.sign, sent_back.officer_id, sent_back.unit_id) == (
        "passing_ball",
        world.civ.id,
        case.unit_id,
    )
    excess = one(session, "excess_handovers", case)
    assert (excess.evidence["handovers"], excess.evidence["steps"]) == (5, 4)


def test_dragging_a_step_past_its_budget_and_sitting_idle(session, world, clock):
    late = world.receive()
    idle = world.receive()
    at(clock, 2026, 3, 2, 9, 0)
    lc.hand_over(session, late, world.desk, world.civ)  # review step due Wednesday 09:00
    lc.hand_over(session, idle, world.desk, world.civ2)
    at(clock, 2026, 3, 4, 11, 0)
    lc.hand_over(session, late, world.civ, world.vice)
    run_signals(session, FRIDAY)
    over = [s for s in signals_for(session, day=FRIDAY, case_id=late.id) if s.kind == "over_budget"]
    # The review step finished late; the signing step (4 h from Wednesday 11:00) is still open.
    assert sorted(s.evidence["position"] for s in over) == [2, 3]
    review = next(s for s in over if s.evidence["position"] == 2)
    assert (review.sign, review.officer_id) == ("dragging", world.civ.id)
    # Read per unit: the review step belongs to the civil status officers' unit.
    per_unit = signals_for(session, day=FRIDAY, unit_id=world.units["XA-MP-TP"].id)
    assert review in per_unit and all(s.unit_id == world.units["XA-MP-TP"].id for s in per_unit)
    handover = [e for e in lc.history(session, late) if e.kind == "handed_over"]
    assert [e["id"] for e in review.evidence["events"]] == [e.id for e in handover]
    # Untouched since Monday 09:00: 7 + 8 * 4 working hours to Friday's end.
    quiet = one(session, "idle", idle)
    assert quiet.evidence["working_hours"] == 39 and quiet.evidence["open"] is True
    assert quiet.officer_id == world.civ2.id
    # The other case's longest silence is with the signer since Wednesday 11:00 (21 h).
    signing = one(session, "idle", late)
    assert (signing.officer_id, signing.evidence["working_hours"]) == (world.vice.id, 21)
    # A higher threshold lets it pass.
    run_signals(session, FRIDAY, rules=SignalRules(idle_hours=24))
    assert "idle" not in kinds(session, late) and "idle" in kinds(session, idle)


def test_supplements_beyond_the_rules(session, world, clock):
    twice = world.receive()
    at(clock, 2026, 3, 2, 9, 0)
    lc.hand_over(session, twice, world.desk, world.civ)
    at(clock, 2026, 3, 2, 10, 0)
    lc.request_supplement(session, twice, world.civ, "Thiếu bản sao CCCD")
    at(clock, 2026, 3, 2, 14, 0)
    lc.receive_supplement(session, twice, world.civ)
    at(clock, 2026, 3, 3, 15, 0)  # 9 of the step's 16 hours used (the pause does not count)
    lc.request_supplement(session, twice, world.civ, "Thiếu giấy xác nhận cư trú")
    late = world.receive()
    at(clock, 2026, 3, 3, 15, 30)
    lc.hand_over(session, late, world.desk, world.civ2)
    at(clock, 2026, 3, 5, 14, 0)  # 14.5 of 16 hours gone: 91%
    lc.request_supplement(session, late, world.civ2, "Thiếu tờ khai")
    run_signals(session, FRIDAY)
    repeated = one(session, "repeated_supplement", twice)
    assert [e["seq"] for e in repeated.evidence["events"]] == [
        s for _, s in event_ids(session, twice, "supplement_requested")
    ]
    assert repeated.officer_id == world.civ.id
    assert "late_supplement" not in kinds(session, twice)
    flagged = one(session, "late_supplement", late)
    assert flagged.evidence["shares"] == [0.906] and flagged.officer_id == world.civ2.id


def test_formal_apologies_repeated_by_one_head_and_one_after_the_due_instant(session, world, clock):
    cases = [world.receive(), world.receive()]
    at(clock, 2026, 3, 2, 9, 0)
    for case in cases:
        lc.hand_over(session, case, world.desk, world.civ)
        lc.extend(
            session, case, world.head, "Cần xác minh tại địa phương khác", vn(2026, 3, 9, 17, 0)
        )
    # The lifecycle refuses form 04 after the due instant; data imported from elsewhere may not.
    imported = world.receive()
    session.add(
        Extension(
            case=imported,  # through the relationship, as the lifecycle attaches form 04
            issued_by_id=world.chair.id,
            issued_at=vn(2026, 3, 5, 10, 0),
            reason="Chậm do liên thông",
            responsible_unit_id=world.units["XA-MP"].id,
            previous_due_at=imported.due_at,
            new_due_at=vn(2026, 3, 10, 17, 0),
        )
    )
    session.flush()
    run_signals(session, FRIDAY)
    repeated = signals_for(session, day=FRIDAY, officer_id=world.head.id)
    [row] = [r for r in repeated if r.kind == "repeated_apologies"]
    assert row.subject == f"officer:{world.head.id}" and row.case_id is None
    assert sorted(e["case_id"] for e in row.evidence["events"]) == sorted(c.id for c in cases)
    late = one(session, "late_apology", imported)
    assert (late.sign, late.officer_id) == ("apologies", world.chair.id)


def test_refusal_after_the_full_processing_time_is_avoiding_a_decision(session, world, clock):
    timely, late = world.receive(), world.receive()
    at(clock, 2026, 3, 2, 9, 0)
    lc.hand_over(session, timely, world.desk, world.civ)
    lc.hand_over(session, late, world.desk, world.civ)
    at(clock, 2026, 3, 3, 9, 0)
    lc.refuse_after_review(session, timely, world.civ, "Không đủ điều kiện")
    at(clock, 2026, 3, 5, 9, 0)  # due Wednesday 17:00
    lc.refuse_after_review(session, late, world.civ, "Không đủ điều kiện")
    run_signals(session, FRIDAY)
    assert "late_refusal" not in kinds(session, timely)
    row = one(session, "late_refusal", late)
    assert row.sign == "avoiding_decisions" and row.officer_id == world.civ.id
    assert [e["id"] for e in row.evidence["events"]] == [
        i for i, _ in event_ids(session, late, "refused")
    ]


def test_a_head_who_always_passes_the_signing_step_down(session, world, clock):
    head = create_officer(
        session,
        "pct",
        "Bùi Văn Phong",
        unit_code="XA-MP",
        roles=["commune_vice_chair", "unit_head"],
    )
    signer = create_officer(
        session,
        "pct2",
        "Ngô Thị Quỳnh",
        unit_code="XA-MP",
        roles=["commune_vice_chair", "unit_head"],
    )
    for index in range(3):
        case = world.receive()
        at(clock, 2026, 3, 2, 9, 10 * index)
        lc.hand_over(session, case, world.desk, world.civ)
        lc.hand_over(session, case, world.civ, head)
        lc.reassign(session, case, head, world.vice)
        lc.resolve(session, case, world.vice)
        clock.set(MONDAY)
        case = world.receive()  # the other one signs what they get
        at(clock, 2026, 3, 2, 9, 10 * index + 5)
        lc.hand_over(session, case, world.desk, world.civ)
        lc.hand_over(session, case, world.civ, signer)
        lc.resolve(session, case, signer)
        clock.set(MONDAY)
    run_signals(session, FRIDAY)
    [row] = [
        r
        for r in signals_for(session, day=FRIDAY, officer_id=head.id)
        if r.kind == "delegating_down"
    ]
    assert row.evidence["count"] == 3 and len(row.evidence["events"]) == 3
    assert all(e["kind"] == "reassigned" for e in row.evidence["events"])
    assert not [
        r
        for r in signals_for(session, day=FRIDAY, officer_id=signer.id)
        if r.kind == "delegating_down"
    ]


def test_an_event_whose_hash_does_not_check_is_flagged_as_tampering(session, world, clock):
    case = world.receive()
    at(clock, 2026, 3, 2, 9, 0)
    lc.hand_over(session, case, world.desk, world.civ)
    # Written behind the application's back: the chain and the case's last hash disagree.
    forged = CaseEvent(
        case_id=case.id,
        seq=case.last_event_seq + 1,
        kind="resolved",
        at=vn(2026, 3, 2, 10, 0),
        actor_id=world.civ.id,
        data={},
        prev_hash=case.last_event_hash,
    )
    forged.hash = hash_of(forged, forged.prev_hash)[::-1]
    session.add(forged)
    session.flush()
    run_signals(session, FRIDAY)
    row = one(session, "history_altered", case)
    assert row.sign == "tampering" and [e["id"] for e in row.evidence["events"]] == [forged.id]


def test_an_irregular_inspection_finding_feeds_the_signals(session, world, clock):
    inspector = create_officer(
        session, "thanhtra", "Mai Thanh Tra", unit_code="HN", roles=["inspector"]
    )
    case = world.receive()
    sample = InspectionSample(
        week_start=date(2026, 3, 2),
        unit_id=case.unit_id,
        case_id=case.id,
        inspector_id=inspector.id,
        stratum="HT-XNHN",
        weight=1.0,
        draw_rank=1,
        drawn_at=MONDAY,
    )
    session.add(sample)
    session.flush()
    at(clock, 2026, 3, 3, 9, 0)
    finding = record_finding(
        session, sample, inspector, "irregular", "Thiếu phiếu kiểm soát quá trình"
    )
    run_signals(session, FRIDAY)
    row = one(session, "irregular_finding", case)
    assert row.evidence["events"][0]["id"] == finding.event_id
    assert row.evidence["note"] == "Thiếu phiếu kiểm soát quá trình"


def test_rerunning_a_day_replaces_its_signals_and_other_days_stay(session, world, clock):
    idle = world.receive()
    at(clock, 2026, 3, 2, 9, 0)
    lc.hand_over(session, idle, world.desk, world.civ)
    first = run_signals(session, FRIDAY)
    again = run_signals(session, FRIDAY)
    assert first.by_kind == again.by_kind and first.signals >= 1
    run_signals(session, FRIDAY - timedelta(days=1))
    per_day = dict(
        session.execute(sa.select(Signal.day, sa.func.count()).group_by(Signal.day)).all()
    )
    assert per_day[FRIDAY] == first.signals and FRIDAY - timedelta(days=1) in per_day
    # Signals are as of the end of their day: on Monday evening the case was not idle yet.
    run_signals(session, date(2026, 3, 2))
    assert "idle" in kinds(session, idle) and "idle" not in kinds(
        session, idle, day=date(2026, 3, 2)
    )
