"""Surprise inspections: reproducible, stratified, weighted samples and the inspectors' findings."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from onestop import lifecycle as lc
from onestop.admin import create_officer, grant_role
from onestop.audit import verify_chains
from onestop.calendar_store import work_calendar
from onestop.clock import frozen_at
from onestop.errors import InvalidTransition, PermissionDenied, ValidationError
from onestop.escalation import Notification
from onestop.inspections import (
    InspectionSample,
    allocate,
    case_weight,
    record_finding,
    run_inspections,
    samples_for,
    weighted_draw,
)
from onestop.settings import Policy
from tests.conftest import vn
from tests.factories import build_world

SUNDAY = vn(2026, 3, 1, 10, 0)
MONDAY = vn(2026, 3, 2, 8, 0)
WEEK = date(2026, 3, 9)  # the sample of this week is drawn from last week's cases


@pytest.fixture
def world(session):
    with frozen_at(SUNDAY):
        world = build_world(session)
        world.officers["tt.hn"] = create_officer(
            session, "tt.hn", "Phan Thanh Hà", unit_code="HN", roles=["inspector"]
        )
        world.officers["tt.mp"] = create_officer(
            session, "tt.mp", "Cao Minh Tâm", unit_code="XA-MP", roles=["inspector"]
        )
        world.officers["tt.sd"] = create_officer(
            session, "tt.sd", "Hà Văn Sơn", unit_code="XA-SD", roles=["inspector"]
        )
        return world


def _cases(session, world, procedure, count, *, late=False, extended=False, supplements=0):
    """Cases received on Monday; on time ones are withdrawn the same morning."""
    made = []
    with frozen_at(MONDAY) as clock:
        for _ in range(count):
            clock.set(MONDAY)
            case = world.receive(procedure)
            clock.set(MONDAY + timedelta(minutes=30))
            if extended:
                lc.extend(session, case, world.chair, "Cần xác minh", vn(2026, 3, 20, 17, 0))
            for number in range(supplements):
                clock.set(MONDAY + timedelta(hours=1 + 2 * number))
                lc.request_supplement(session, case, world.desk, "Thiếu giấy tờ")
                clock.set(MONDAY + timedelta(hours=2 + 2 * number))
                lc.receive_supplement(session, case, world.desk)
            if not late:
                clock.set(MONDAY + timedelta(hours=7))
                lc.withdraw(session, case, world.desk, "Công dân rút hồ sơ")
            made.append(case)
    return made


def _draw(session, seed, **kw):
    with frozen_at(vn(2026, 3, 9, 6, 0)):
        return run_inspections(session, WEEK, seed, **kw)


def test_allocation_is_proportional_with_largest_remainders():
    assert allocate({"HT-XNHN": 20, "HT-KS": 10, "CT-BS": 10}, 4) == {
        "HT-XNHN": 2,
        "HT-KS": 1,
        "CT-BS": 1,
    }
    assert allocate({"A": 7, "B": 2, "C": 1}, 5) == {"A": 4, "B": 1, "C": 0}
    assert allocate({"A": 2, "B": 1}, 5) == {"A": 2, "B": 1}  # small units: everything
    assert sum(allocate({"A": 5, "B": 5, "C": 5}, 4).values()) == 4


def test_weighted_draw_favours_heavy_cases_without_replacement():
    items = [(i, 4.0 if i < 5 else 1.0) for i in range(50)]
    counts: Counter[int] = Counter()
    for seed in range(400):
        drawn = weighted_draw(random.Random(seed), items, 5)
        assert len(set(drawn)) == 5
        counts.update(drawn)
    heavy = sum(counts[i] for i in range(5)) / 5
    light = sum(counts[i] for i in range(5, 50)) / 45
    assert heavy > 2.5 * light


def test_case_weight_counts_late_extended_and_repeated_supplements(session, world):
    calendar, policy = work_calendar(session), Policy()
    [plain] = _cases(session, world, "HT-XNHN", 1)
    [late] = _cases(session, world, "HT-XNHN", 1, late=True)
    [extended] = _cases(session, world, "HT-XNHN", 1, late=True, extended=True)
    [twice] = _cases(session, world, "HT-XNHN", 1, supplements=2)
    at = vn(2026, 3, 9, 0, 0)
    assert [case_weight(c, at, calendar, policy) for c in (plain, late, extended, twice)] == [
        1,
        4,
        6,
        6,
    ]


def test_the_draw_is_reproducible_stratified_and_assigned_to_covering_inspectors(session, world):
    _cases(session, world, "HT-XNHN", 20)
    _cases(session, world, "HT-KS", 6, late=True)
    _cases(session, world, "CT-BS", 10)
    with frozen_at(MONDAY):
        other = world.receive(desk="desk_sd", unit="XA-SD")
    savepoint = session.begin_nested()
    first = _draw(session, seed=7, size=4)
    first_ids = [(s.unit_id, s.case_id, s.stratum, s.inspector_id) for s in first.samples]
    savepoint.rollback()
    again = _draw(session, seed=7, size=4)
    assert [(s.unit_id, s.case_id, s.stratum, s.inspector_id) for s in again.samples] == first_ids
    assert again.drawn == {"XA-MP": 4, "XA-SD": 1}
    mp = [s for s in again.samples if s.unit_id == world.units["XA-MP"].id]
    # 36 cases: 20 / 6 / 10 share 4 places as 2 / 1 / 1.
    assert Counter(s.stratum for s in mp) == {"HT-XNHN": 2, "HT-KS": 1, "CT-BS": 1}
    # Inspectors of the commune or above take its cases in turn; the other commune's does not.
    assert {s.inspector.username for s in mp} == {"tt.hn", "tt.mp"}
    [sd] = [s for s in again.samples if s.case_id == other.id]
    assert sd.inspector.username in ("tt.hn", "tt.sd")
    # Another seed, another sample (of the 36 cases).
    savepoint = session.begin_nested()
    different = _draw(session, seed=8, size=4)
    assert [s.case_id for s in different.samples] != [s.case_id for s in again.samples]
    savepoint.rollback()


def test_a_unit_is_drawn_once_a_week_and_a_case_is_never_sampled_twice(session, world):
    _cases(session, world, "HT-XNHN", 3)
    first = _draw(session, seed=1, size=2)
    second = _draw(session, seed=1, size=2)
    assert second.samples == [] and second.skipped_units == ["XA-MP"]
    with frozen_at(vn(2026, 3, 16, 6, 0)):
        # The next week: last week's cases have no new history, so nothing to draw.
        assert run_inspections(session, date(2026, 3, 16), 1).samples == []
    drawn = {s.case_id for s in first.samples}
    assert (
        session.scalar(sa.select(sa.func.count()).select_from(InspectionSample)) == len(drawn) == 2
    )


def test_an_inspector_never_inspects_a_case_they_handled(session, world):
    # The commune's inspector also worked the desk this week.
    grant_role(world.officers["tt.mp"], world.units["XA-MP-MC"], "desk")
    session.flush()
    with frozen_at(MONDAY):
        cases = [world.receive(desk="tt.mp") for _ in range(4)]
    draw = _draw(session, seed=3, size=4)
    assert {s.case_id for s in draw.samples} == {c.id for c in cases}
    assert {s.inspector.username for s in draw.samples} == {"tt.hn"}


def test_inspectors_are_told_of_their_sample_in_the_inbox(session, world):
    _cases(session, world, "HT-XNHN", 6)
    _draw(session, seed=5, size=4)
    notes = session.scalars(sa.select(Notification).order_by(Notification.officer_id)).all()
    assert sorted(n.officer_id for n in notes) == sorted(
        {world.officers["tt.hn"].id, world.officers["tt.mp"].id}
    )
    counts = {n.officer_id: n.title for n in notes}
    assert all(t.startswith("Kiểm tra đột xuất tuần 09/03/2026: ") for t in counts.values())


def test_recording_a_finding_writes_the_case_history_once(session, world):
    _cases(session, world, "HT-XNHN", 2)
    draw = _draw(session, seed=2, size=2)
    sample = draw.samples[0]
    inspector = sample.inspector
    stranger = world.officers["tt.sd"]
    with frozen_at(vn(2026, 3, 10, 9, 0)):
        with pytest.raises(PermissionDenied):
            record_finding(session, sample, stranger, "in_order")
        with pytest.raises(ValidationError):
            record_finding(session, sample, inspector, "irregular", "  ")
        with pytest.raises(ValidationError):
            record_finding(session, sample, inspector, "fine")
        finding = record_finding(
            session, sample, inspector, "irregular", "Phiếu kiểm soát thiếu chữ ký người nhận"
        )
        with pytest.raises(InvalidTransition) as twice:
            record_finding(session, sample, inspector, "in_order")
    assert twice.value.code == "finding_already_recorded"
    event = lc.history(session, sample.case)[-1]
    assert (event.id, event.kind, event.actor_id) == (
        finding.event_id,
        "inspection_finding",
        inspector.id,
    )
    assert event.reason == "Phiếu kiểm soát thiếu chữ ký người nhận"
    assert event.data["verdict"] == "irregular" and event.data["sample_id"] == sample.id
    assert verify_chains(session)[1] == []
    mine = samples_for(session, inspector, week_start=WEEK)
    assert sample in mine and mine[mine.index(sample)].finding is finding
