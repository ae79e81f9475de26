"""The case lifecycle: every operation's legal use and its refusals (RULES.md section 2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from onestop import lifecycle as lc
from onestop.calendar_store import work_calendar
from onestop.classification import classify_case
from onestop.clock import frozen_at
from onestop.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationError
from onestop.models import CaseEvent, StepAssignment
from tests.conftest import vn
from tests.factories import build_world

MONDAY = vn(2026, 3, 2, 8, 0)  # an ordinary working Monday


@pytest.fixture
def world(session):
    with frozen_at(MONDAY - timedelta(days=1)):
        return build_world(session)


@pytest.fixture
def clock():
    with frozen_at(MONDAY) as clock:
        yield clock


def advance(clock, **delta):
    clock.set(clock.instant + timedelta(**delta))


def kinds(session, case):
    return [e.kind for e in lc.history(session, case)]


# --- receive ----------------------------------------------------------------------------------

def test_receive_starts_the_clock_and_gives_step_one_to_the_desk_officer(session, world, clock):
    case = world.receive("HT-XNHN")
    assert case.status == "received" and case.status_code == 2
    assert case.receipt_code == "XA-MP-260302-0001"
    assert case.received_at == MONDAY
    # 3 working days from Monday 08:00 run out at Wednesday 17:00.
    assert case.due_at == case.original_due_at == vn(2026, 3, 4, 17, 0)
    step = case.current_assignment
    assert (step.step_position, step.owner, step.due_at) == (1, world.desk, vn(2026, 3, 2, 10, 0))
    assert kinds(session, case) == ["received"]
    assert case.applicant_phone == "0912345678"


def test_receipt_codes_are_numbered_per_unit_and_day(session, world, clock):
    first, second = world.receive(), world.receive()
    other = world.receive(desk="desk_sd", unit="XA-SD")
    advance(clock, days=1)
    next_day = world.receive()
    assert [c.receipt_code for c in (first, second, other, next_day)] == [
        "XA-MP-260302-0001", "XA-MP-260302-0002", "XA-SD-260302-0001", "XA-MP-260303-0001",
    ]


def test_receive_refuses_an_officer_without_the_desk_role(session, world, clock):
    with pytest.raises(PermissionDenied) as refused:
        world.receive(desk="civ")
    assert refused.value.code == "role_required"
    assert "Công chức Bộ phận Một cửa" in refused.value.message("vi")  # the role, as people name it
    assert "Desk officer" in refused.value.message("en")


def test_receive_refuses_a_desk_officer_of_another_commune(session, world, clock):
    with pytest.raises(PermissionDenied):
        world.receive(desk="desk_sd", unit="XA-MP")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"procedure_code": "NO-SUCH"}, "procedure_not_found"),
        ({"unit": "NO-UNIT"}, "unit_not_found"),
    ],
)
def test_receive_refuses_unknown_codes(session, world, clock, change, code):
    kwargs = {"procedure_code": change.get("procedure_code", "HT-XNHN")}
    with pytest.raises(NotFound) as refused:
        world.receive(kwargs["procedure_code"], unit=change.get("unit", "XA-MP"))
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("applicant", "field"),
    [
        ({"name": "   "}, "applicant.name"),
        ({"name": "x" * 201}, "applicant.name"),
        ({"name": "Nguyễn\x00Văn"}, "applicant.name"),
        ({"id_number": "12345"}, "applicant.id_number"),
        ({"phone": "call me"}, "applicant.phone"),
        ({"email": "not-an-email"}, "applicant.email"),
    ],
)
def test_receive_refuses_bad_applicant_details_and_writes_nothing(session, world, clock, applicant, field):
    with pytest.raises(ValidationError) as refused:
        world.receive(**applicant)
    assert refused.value.params["field"] == field
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseEvent)) == 0


def test_receive_stores_vietnamese_names_in_nfc(session, world, clock):
    decomposed = "Nguye\u0302\u0303n"  # "Nguyễn" typed with combining marks
    case = world.receive(name=decomposed)
    assert case.applicant_name == "Nguyễn"


def test_receipt_outside_office_hours_counts_from_the_next_opening(session, world, clock):
    clock.set(vn(2026, 3, 2, 18, 30))
    case = world.receive("HT-XNHN")
    assert case.received_at == vn(2026, 3, 2, 18, 30)
    assert case.due_at == vn(2026, 3, 5, 17, 0)


def test_same_day_procedure_after_cutoff_is_due_next_working_day(session, world, clock):
    clock.set(vn(2026, 3, 6, 15, 30))  # Friday, after the 15:00 cut-off
    case = world.receive("HT-KS")
    assert case.due_at == vn(2026, 3, 9, 17, 0)


# --- online registration and intake outcomes ------------------------------------------------

def test_online_registration_waits_with_the_clock_stopped_until_accepted(session, world, clock):
    case = lc.register_online(
        session, unit_code="XA-MP", procedure_code="HT-XNHN", applicant={"name": "Trần Thị Lan"}
    )
    assert (case.status, case.status_code, case.received_at, case.due_at) == ("submitted", 1, None, None)
    advance(clock, hours=2)
    lc.accept_registered(session, case, world.desk)
    assert case.status == "received" and case.received_at == MONDAY + timedelta(hours=2)
    assert kinds(session, case) == ["registered", "received"]
    with pytest.raises(InvalidTransition):
        lc.accept_registered(session, case, world.desk)


def test_refusal_at_intake_records_the_reason_and_never_starts_the_clock(session, world, clock):
    case = lc.refuse_at_intake(
        session, world.desk, "Không thuộc thẩm quyền giải quyết của xã",
        unit_code="XA-MP", procedure_code="HT-XNHN", applicant={"name": "Lê Văn Tám"},
        channel="in_person", documents=[],
    )
    assert (case.status, case.status_code, case.received_at) == ("refused_at_intake", 3, None)
    assert lc.history(session, case)[0].reason.startswith("Không thuộc")
    assert classify_case(case, work_calendar(session), MONDAY) is None


def test_refusal_at_intake_needs_a_reason(session, world, clock):
    with pytest.raises(ValidationError) as refused:
        lc.refuse_at_intake(
            session, world.desk, " ", unit_code="XA-MP", procedure_code="HT-XNHN",
            applicant={"name": "Lê Văn Tám"}, channel="in_person", documents=[],
        )
    assert refused.value.params["field"] == "reason"


def test_guidance_lists_every_missing_document_at_once(session, world, clock):
    missing = [{"name": "Bản sao Giấy khai sinh"}, {"name": "Giấy xác nhận cư trú"}]
    case = lc.guide_to_complete(
        session, world.desk, missing, unit_code="XA-MP", procedure_code="HT-XNHN",
        applicant={"name": "Lê Văn Tám"}, channel="in_person", documents=[],
    )
    assert case.status == "guided" and case.received_at is None
    assert [d["name"] for d in lc.history(session, case)[0].data["missing"]] == [
        "Bản sao Giấy khai sinh", "Giấy xác nhận cư trú",
    ]
    with pytest.raises(ValidationError):
        lc.guide_to_complete(
            session, world.desk, [], unit_code="XA-MP", procedure_code="HT-XNHN",
            applicant={"name": "Lê Văn Tám"}, channel="in_person", documents=[],
        )


# --- hand over --------------------------------------------------------------------------------

def test_handover_records_giver_receiver_and_step_result(session, world, clock):
    case = world.receive()
    advance(clock, hours=1)
    assignment = lc.hand_over(session, case, world.desk, world.civ, note="Đủ hồ sơ")
    assert case.status == "in_progress" and case.status_code == 4
    assert (assignment.step_position, assignment.owner, assignment.given_by) == (2, world.civ, world.desk)
    # Step 2's 16 h budget from Monday 09:00: Wednesday 09:00.
    assert assignment.due_at == vn(2026, 3, 4, 9, 0)
    first = case.assignments[0]
    assert (first.ended_at, first.end_kind, first.result) == (MONDAY + timedelta(hours=1), "handover", "early")
    event = lc.history(session, case)[-1]
    assert (event.kind, event.from_step, event.to_step, event.actor) == ("handed_over", 1, 2, world.desk)
    assert event.data["to_owner"] == "civ"


def test_a_late_step_is_recorded_late_against_its_own_budget(session, world, clock):
    case = world.receive()
    advance(clock, hours=3)  # the receive step has 2 h
    lc.hand_over(session, case, world.desk, world.civ)
    assert case.assignments[0].result == "late"


def test_only_the_owner_may_hand_over(session, world, clock):
    case = world.receive()
    with pytest.raises(PermissionDenied) as refused:
        lc.hand_over(session, case, world.desk2, world.civ)
    assert refused.value.code == "not_owner"
    assert "Trần Văn An" in refused.value.message("vi")


def test_handover_refuses_a_receiver_without_the_step_role(session, world, clock):
    case = world.receive()
    with pytest.raises(PermissionDenied) as refused:
        lc.hand_over(session, case, world.desk, world.vice)
    assert refused.value.code == "receiver_lacks_role"
    with pytest.raises(PermissionDenied):  # right role, other commune
        lc.hand_over(session, case, world.desk, world.civ_sd)
    assert case.current_assignment.owner == world.desk
    assert len(case.assignments) == 1


def test_handover_refuses_a_disabled_receiver(session, world, clock):
    case = world.receive()
    world.civ.active = False
    with pytest.raises(PermissionDenied) as refused:
        lc.hand_over(session, case, world.desk, world.civ)
    assert refused.value.code == "officer_inactive"


def test_a_provincial_agency_may_take_a_commune_case_step(session, world, clock):
    case = world.receive("DD-BD")  # review: land_registration_office
    assignment = lc.hand_over(session, case, world.desk, world.land)
    assert assignment.unit.code == "HN-VPDK"


def test_handover_can_send_the_case_back_to_an_earlier_step(session, world, clock):
    case = world.receive()
    lc.hand_over(session, case, world.desk, world.civ)
    lc.hand_over(session, case, world.civ, world.vice)
    back = lc.hand_over(session, case, world.vice, world.civ2, to_step=2, note="Kiểm tra lại")
    assert (back.step_position, back.owner) == (2, world.civ2)
    with pytest.raises(ValidationError):
        lc.hand_over(session, case, world.civ2, world.vice, to_step=9)
    with pytest.raises(InvalidTransition) as same:
        lc.hand_over(session, case, world.civ2, world.civ, to_step=2)
    assert same.value.code == "same_step"


def test_handover_into_the_return_step_must_be_a_resolution(session, world, clock):
    case = world.receive()
    lc.hand_over(session, case, world.desk, world.civ)
    lc.hand_over(session, case, world.civ, world.vice)
    with pytest.raises(InvalidTransition) as refused:
        lc.hand_over(session, case, world.vice, world.desk)
    assert refused.value.code == "resolve_instead"


def test_a_case_is_never_held_by_two_owners_at_once(session, world, clock):
    case = world.receive()
    lc.hand_over(session, case, world.desk, world.civ)
    open_rows = session.scalars(
        sa.select(StepAssignment).where(StepAssignment.case_id == case.id, StepAssignment.ended_at.is_(None))
    ).all()
    assert [a.owner for a in open_rows] == [world.civ]


def test_the_database_refuses_a_second_open_step(session, world, clock):
    case = world.receive()
    session.commit()
    extra = StepAssignment(
        case_id=case.id, step_position=2, step_name="x", step_role="x", budget_hours=1,
        owner_id=world.civ.id, unit_id=world.units["XA-MP"].id, started_at=MONDAY,
        step_started_at=MONDAY, due_at=MONDAY,
    )
    session.add(extra)
    with pytest.raises(sa.exc.IntegrityError):
        session.flush()
    session.rollback()


def test_a_stale_version_is_a_conflict_and_changes_nothing(session, world, clock):
    case = world.receive()
    version = case.version_id
    lc.hand_over(session, case, world.desk, world.civ, expected_version=version)
    with pytest.raises(Conflict) as conflict:
        lc.request_supplement(session, case, world.civ, "Thiếu giấy tờ", expected_version=version)
    assert conflict.value.http_status == 409
    assert case.status == "in_progress" and case.pauses == []


# --- reassign ---------------------------------------------------------------------------------

def test_unit_head_reassigns_the_step_and_its_clock_runs_on(session, world, clock):
    case = world.receive()
    lc.hand_over(session, case, world.desk, world.civ)
    step_due = case.current_assignment.due_at
    advance(clock, hours=2)
    assignment = lc.reassign(session, case, world.head, world.civ2, note="Nghỉ phép")
    assert (assignment.owner, assignment.due_at, assignment.step_started_at) == (
        world.civ2, step_due, MONDAY,
    )
    previous = case.assignments[1]
    assert (previous.end_kind, previous.result) == ("reassigned", None)


def test_only_a_unit_head_may_reassign(session, world, clock):
    case = world.receive()
    lc.hand_over(session, case, world.desk, world.civ)
    with pytest.raises(PermissionDenied):
        lc.reassign(session, case, world.civ, world.civ2)
    with pytest.raises(PermissionDenied):
        lc.reassign(session, case, world.vice, world.civ2)


# --- supplements and payment pauses ---------------------------------------------------------

def test_supplement_pauses_the_clock_and_extends_the_due_instant(session, world, clock):
    case = world.receive()
    lc.hand_over(session, case, world.desk, world.civ)
    step_due = case.current_assignment.due_at
    advance(clock, hours=2)  # Monday 10:00
    pause = lc.request_supplement(session, case, world.civ, "Thiếu bản sao CCCD", [{"name": "Bản sao CCCD"}])
    assert (case.status, case.status_code, pause.started_at) == ("awaiting_supplement", 5, vn(2026, 3, 2, 10))
    assert classify_case(case, work_calendar(session), clock.instant) == "paused"
    clock.set(vn(2026, 3, 3, 10, 0))  # Tuesday 10:00: 8 working hours paused
    lc.receive_supplement(session, case, world.desk, "Đã nộp bổ sung")
    assert case.status == "in_progress" and case.open_pause is None
    assert pause.paused_working_hours == 8
    assert case.due_at == vn(2026, 3, 5, 17, 0)
    assert case.original_due_at == vn(2026, 3, 4, 17, 0)
    assert case.current_assignment.due_at == step_due + timedelta(days=1)


def test_restart_policy_counts_the_full_duration_again(session, world, clock):
    case = world.receive()
    case.procedure.pause_policy = "restart"
    lc.request_supplement(session, case, world.desk, "Thiếu tờ khai")
    clock.set(vn(2026, 3, 4, 8, 0))
    lc.receive_supplement(session, case, world.desk)
    assert case.due_at == vn(2026, 3, 6, 17, 0)
    assert case.status == "received"


def test_a_second_supplement_request_makes_the_case_late(session, world, clock):
    case = world.receive()
    lc.request_supplement(session, case, world.desk, "Thiếu tờ khai")
    lc.receive_supplement(session, case, world.desk)
    lc.request_supplement(session, case, world.desk, "Thiếu ảnh")
    lc.receive_supplement(session, case, world.desk)
    lc.hand_over(session, case, world.desk, world.civ)
    lc.hand_over(session, case, world.civ, world.vice)
    lc.resolve(session, case, world.vice)
    assert case.ended_at < case.due_at
    assert classify_case(case, work_calendar(session)) == "late"
    assert [e.data.get("request_number") for e in lc.history(session, case) if e.kind == "supplement_requested"] == [1, 2]


def test_supplement_refusals(session, world, clock):
    case = world.receive()
    with pytest.raises(PermissionDenied):
        lc.request_supplement(session, case, world.civ, "Thiếu")
    with pytest.raises(ValidationError):
        lc.request_supplement(session, case, world.desk, "")
    with pytest.raises(InvalidTransition) as not_paused:
        lc.receive_supplement(session, case, world.desk)
    assert not_paused.value.code == "not_paused"
    lc.request_supplement(session, case, world.desk, "Thiếu")
    with pytest.raises(InvalidTransition):  # one pause at a time
        lc.request_supplement(session, case, world.desk, "Thiếu nữa")
    with pytest.raises(InvalidTransition):  # no handover while the clock is stopped
        lc.hand_over(session, case, world.desk, world.civ)
    with pytest.raises(PermissionDenied):  # another commune's desk
        lc.receive_supplement(session, case, world.desk_sd)


def test_financial_obligations_pause_and_resume(session, world, clock):
    case = world.receive("DD-BD")
    lc.hand_over(session, case, world.desk, world.land)
    lc.pause_for_financial_obligations(session, case, world.land, "Chờ nộp thuế TNCN")
    assert (case.status, case.status_code) == ("awaiting_payment", 6)
    with pytest.raises(InvalidTransition):
        lc.receive_supplement(session, case, world.desk)
    clock.set(vn(2026, 3, 3, 8, 0))
    lc.resume_after_payment(session, case, world.land)
    assert case.status == "in_progress"
    assert case.pauses[0].paused_working_hours == 8
    assert case.supplement_requests == 0


# --- extension --------------------------------------------------------------------------------

def test_unit_head_extends_once_before_the_deadline(session, world, clock):
    case = world.receive()
    lc.hand_over(session, case, world.desk, world.civ)
    due = case.due_at
    extension = lc.extend(session, case, world.head, "Cần xác minh thêm tại xã khác", vn(2026, 3, 10, 17))
    assert (extension.previous_due_at, extension.new_due_at) == (due, vn(2026, 3, 10, 17))
    assert case.due_at == case.original_due_at == due  # classification keeps the original
    assert extension.responsible_unit.code == "XA-MP-TP"
    with pytest.raises(InvalidTransition) as twice:
        lc.extend(session, case, world.head, "Lần nữa", vn(2026, 3, 12, 17))
    assert twice.value.code == "already_extended"


def test_extension_refused_less_than_one_working_day_before_due(session, world, clock):
    case = world.receive()  # due Wednesday 17:00
    lc.hand_over(session, case, world.desk, world.civ)
    clock.set(vn(2026, 3, 4, 8, 1))  # 7 h 59 min of working time left
    with pytest.raises(InvalidTransition) as refused:
        lc.extend(session, case, world.head, "Chậm", vn(2026, 3, 10, 17))
    assert refused.value.code == "extension_too_late"
    clock.set(vn(2026, 3, 4, 8, 0))  # exactly one working day left
    assert lc.extend(session, case, world.head, "Chậm", vn(2026, 3, 10, 17))


def test_extension_refusals(session, world, clock):
    case = world.receive()
    lc.hand_over(session, case, world.desk, world.civ)
    with pytest.raises(PermissionDenied):
        lc.extend(session, case, world.civ, "Chậm", vn(2026, 3, 10, 17))
    with pytest.raises(ValidationError):
        lc.extend(session, case, world.head, "Chậm", vn(2026, 3, 4, 12))  # not later
    with pytest.raises(ValidationError):
        lc.extend(session, case, world.head, "Chậm", vn(2026, 3, 10, 17).replace(tzinfo=None))
    with pytest.raises(ValidationError) as typo:
        lc.extend(session, case, world.head, "Chậm", vn(2062, 3, 10, 17))  # 2062 for 2026
    assert typo.value.code == "extension_too_far"
    assert case.extension is None and [e.kind for e in case.events].count("extended") == 0


# --- endings ----------------------------------------------------------------------------------

def _to_signing(session, world, case):
    lc.hand_over(session, case, world.desk, world.civ)
    lc.hand_over(session, case, world.civ, world.vice)


def test_resolve_hands_the_result_to_the_desk_and_return_closes_the_case(session, world, clock):
    case = world.receive()
    _to_signing(session, world, case)
    advance(clock, days=1)
    lc.resolve(session, case, world.vice, note="Đã ký")
    assert (case.status, case.status_code, case.ended_at) == ("resolved", 9, MONDAY + timedelta(days=1))
    assert case.current_assignment.owner == world.desk  # back to the officer who received it
    assert case.current_assignment.step_position == 4
    assert classify_case(case, work_calendar(session)) == "early"
    advance(clock, hours=1)
    lc.return_result(session, case, world.desk)
    assert (case.status, case.status_code, case.current_assignment) == ("returned", 10, None)
    assert kinds(session, case) == ["received", "handed_over", "handed_over", "resolved", "returned"]
    with pytest.raises(InvalidTransition) as closed:
        lc.withdraw(session, case, world.desk, "Muộn")
    assert closed.value.code == "case_closed"


def test_resolution_on_the_due_date_is_on_time_and_after_it_late(session, world, clock):
    on_time, late = world.receive(), world.receive()
    for case in (on_time, late):
        _to_signing(session, world, case)
    clock.set(vn(2026, 3, 4, 17, 30))  # due date, after the close: same date, on time
    lc.resolve(session, on_time, world.vice)
    clock.set(vn(2026, 3, 5, 8, 0))
    lc.resolve(session, late, world.vice)
    calendar = work_calendar(session)
    assert classify_case(on_time, calendar) == "on_time"
    assert classify_case(late, calendar) == "late"


def test_resolve_and_return_refusals(session, world, clock):
    case = world.receive()
    with pytest.raises(InvalidTransition):
        lc.return_result(session, case, world.desk)
    with pytest.raises(PermissionDenied):
        lc.resolve(session, case, world.vice)
    _to_signing(session, world, case)
    with pytest.raises(ValidationError):
        lc.resolve(session, case, world.vice, outcome="maybe")
    with pytest.raises(PermissionDenied):  # the return step needs a desk officer
        lc.resolve(session, case, world.vice, to_officer=world.civ)
    lc.resolve(session, case, world.vice, to_officer=world.desk2)
    with pytest.raises(PermissionDenied):
        lc.return_result(session, case, world.desk)
    with pytest.raises(InvalidTransition):
        lc.resolve(session, case, world.desk2)


def test_refusal_after_review_is_terminal(session, world, clock):
    case = world.receive()
    lc.hand_over(session, case, world.desk, world.civ)
    with pytest.raises(PermissionDenied):
        lc.refuse_after_review(session, case, world.desk, "Không đủ điều kiện")
    lc.refuse_after_review(session, case, world.civ, "Không đủ điều kiện theo Điều 22")
    assert (case.status, case.status_code, case.current_assignment) == ("refused", 8, None)
    with pytest.raises(InvalidTransition):
        lc.hand_over(session, case, world.civ, world.vice)


def test_stop_by_the_unit_head_with_legal_ground(session, world, clock):
    case = world.receive()
    lc.hand_over(session, case, world.desk, world.civ)
    with pytest.raises(PermissionDenied):
        lc.stop(session, case, world.desk2, "Theo yêu cầu")
    lc.stop(session, case, world.head, "Có tranh chấp", legal_ground="Điều 9 Nghị định 118/2025")
    assert (case.status, case.status_code) == ("stopped", 8)
    assert lc.history(session, case)[-1].data["legal_ground"] == "Điều 9 Nghị định 118/2025"


def test_abandoned_supplement_ends_the_case_at_the_request_instant(session, world, clock):
    case = world.receive()
    advance(clock, hours=1)
    lc.request_supplement(session, case, world.desk, "Thiếu giấy tờ")
    advance(clock, days=20)
    lc.withdraw(session, case, world.desk2, "Công dân không bổ sung, rút hồ sơ")
    assert (case.status, case.status_code) == ("withdrawn", 7)
    assert case.ended_at == MONDAY + timedelta(hours=1)
    assert case.pauses[0].ended_at == clock.instant


def test_withdraw_refused_to_an_officer_of_another_commune(session, world, clock):
    case = world.receive()
    with pytest.raises(PermissionDenied):
        lc.withdraw(session, case, world.desk_sd, "Rút")


# --- history ----------------------------------------------------------------------------------

def test_every_change_is_one_numbered_event_with_server_time(session, world, clock):
    case = world.receive()
    advance(clock, minutes=5)
    lc.hand_over(session, case, world.desk, world.civ)
    advance(clock, minutes=5)
    lc.request_supplement(session, case, world.civ, "Thiếu")
    events = lc.history(session, case)
    assert [(e.seq, e.kind, e.at) for e in events] == [
        (1, "received", MONDAY),
        (2, "handed_over", MONDAY + timedelta(minutes=5)),
        (3, "supplement_requested", MONDAY + timedelta(minutes=10)),
    ]
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, "received"), ("received", "in_progress"), ("in_progress", "awaiting_supplement"),
    ]


def test_the_database_refuses_to_edit_or_delete_history(session, world, clock):
    case = world.receive()
    session.commit()
    event_id = lc.history(session, case)[0].id
    for statement in (
        sa.update(CaseEvent).where(CaseEvent.id == event_id).values(reason="sửa"),
        sa.delete(CaseEvent).where(CaseEvent.id == event_id),
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            session.execute(statement)
        session.rollback()
    assert lc.history(session, case)[0].reason is None


def test_the_database_refuses_a_backdated_event(session, world, clock):
    case = world.receive()
    session.commit()
    session.add(CaseEvent(case_id=case.id, seq=99, kind="received", at=MONDAY - timedelta(days=1), data={}))
    with pytest.raises(sa.exc.DatabaseError, match="backdated"):
        session.flush()
    session.rollback()


def test_paper_dossier_after_1500_is_forwarded_next_morning_without_moving_the_case_clock(session, world, clock):
    clock.set(vn(2026, 3, 2, 15, 30))
    case = world.receive("HT-XNHN")
    assert case.current_assignment.due_at == vn(2026, 3, 3, 10, 0)  # 08:00 next day + 2 h
    assert case.due_at == vn(2026, 3, 5, 15, 30)  # 24 working hours from 15:30 Monday


def test_resuming_at_the_first_step_returns_the_case_to_received(session, world, clock):
    case = world.receive()
    lc.reassign(session, case, world.chair, world.desk2)  # still step 1, a second holding
    lc.request_supplement(session, case, world.desk2, "Thiếu tờ khai")
    lc.receive_supplement(session, case, world.desk2)
    assert (case.status, case.status_code) == ("received", 2)


def test_the_return_step_is_not_timed_against_the_applicants_pick_up(session, world, clock):
    case = world.receive()
    _to_signing(session, world, case)
    lc.resolve(session, case, world.vice)
    advance(clock, days=10)
    lc.return_result(session, case, world.desk)
    assert (case.assignments[-1].end_kind, case.assignments[-1].result) == ("returned", None)


def test_no_extension_while_the_clock_is_paused(session, world, clock):
    case = world.receive()
    lc.hand_over(session, case, world.desk, world.civ)
    lc.request_supplement(session, case, world.civ, "Thiếu")
    with pytest.raises(InvalidTransition):
        lc.extend(session, case, world.head, "Chậm", vn(2026, 3, 10, 17))


def test_intake_outcomes_name_a_missing_field(session, world, clock):
    with pytest.raises(ValidationError) as refused:
        lc.refuse_at_intake(session, world.desk, "Không đủ điều kiện", unit_code="XA-MP", procedure_code="HT-KS")
    assert refused.value.params["field"] == "applicant"
