"""The case lifecycle (RULES.md section 2).

Each operation checks the state machine and the actor, changes the case, appends one event to
its history and flushes. None commits: the caller's transaction decides. Times come from the
server clock only. A concurrent change of the same case (optimistic version check, or the
database's one-open-step index) surfaces as `Conflict`, after which the caller rolls back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.exc import StaleDataError

from onestop import clock
from onestop.audit import hash_of
from onestop.calendar import WorkCalendar
from onestop.calendar_store import work_calendar
from onestop.classification import classify_assignment
from onestop.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationError
from onestop.i18n import STATUS_LABELS, label
from onestop.models import (
    CHANNELS,
    OPEN_STATUSES,
    RESULT_RETURNS,
    Case,
    CaseEvent,
    Extension,
    Officer,
    Pause,
    Procedure,
    ProcessStep,
    ReceiptCounter,
    StepAssignment,
    Unit,
)
from onestop.settings import Policy
from onestop.validation import Applicant, clean_documents, clean_text

# Departments and agencies of a higher level serve every unit below their parent (a province's
# land registration office takes steps of a commune's land cases).
SERVING_KINDS = frozenset({"department", "agency", "centre"})
ACTIVE_STATUSES = ("received", "in_progress")
FORWARDING_CUTOFF = time(15, 0)
MAX_EXTENSION = timedelta(days=366)


# --- look-ups ---------------------------------------------------------------------------------

def find_unit(session: Session, code: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise NotFound("unit_not_found", code=code)
    return unit


def find_officer(session: Session, username: str) -> Officer:
    officer = session.scalar(select(Officer).where(Officer.username == username))
    if officer is None:
        raise NotFound("officer_not_found", username=username)
    return officer


def find_procedure(session: Session, code: str) -> Procedure:
    """The newest active version of a procedure: the one new cases are received under."""
    # Its steps come in the same round trip: receiving a case reads them at once.
    procedure = session.execute(
        select(Procedure)
        .where(Procedure.code == code, Procedure.active.is_(True))
        .order_by(Procedure.version.desc())
        .limit(1)
        .options(joinedload(Procedure.steps))
    ).unique().scalar_one_or_none()
    if procedure is None:
        raise NotFound("procedure_not_found", code=code)
    return procedure


def find_case(session: Session, receipt_code: str) -> Case:
    case = session.scalar(select(Case).where(Case.receipt_code == receipt_code))
    if case is None:
        raise NotFound("case_not_found", code=receipt_code)
    return case


# --- who may own a step -----------------------------------------------------------------------

def serves(role_unit: Unit, case_unit: Unit) -> bool:
    """Whether a role held in `role_unit` covers work of `case_unit`."""
    if case_unit.is_within(role_unit) or role_unit.is_within(case_unit):
        return True
    parent = role_unit.parent
    return role_unit.kind in SERVING_KINDS and parent is not None and case_unit.is_within(parent)


def step_unit(session: Session, case: Case, step: ProcessStep) -> Unit:
    return find_unit(session, step.unit_code) if step.unit_code else case.unit


def owner_unit(officer: Officer, role: str, unit: Unit) -> Unit | None:
    """The unit in which `officer` holds `role` for work of `unit`, or None if they cannot."""
    for held in officer.roles:
        if held.role == role and serves(held.unit, unit):
            return held.unit
    return None


def eligible_owners(session: Session, case: Case, step: ProcessStep) -> list[Officer]:
    """Active officers who may take `step` of `case`, for the hand-over picker."""
    unit = step_unit(session, case, step)
    candidates = session.scalars(
        select(Officer)
        .join(Officer.roles)
        .where(Officer.active.is_(True))
        .where(Officer.roles.any(role=step.role))
        .distinct()
    ).all()
    eligible = [o for o in candidates if owner_unit(o, step.role, unit) is not None]
    # Sorted here, not in SQL: collations order Vietnamese names differently per database.
    return sorted(eligible, key=lambda o: (o.full_name, o.username))


def _receiving_unit(session: Session, case: Case, step: ProcessStep, officer: Officer) -> Unit:
    if not officer.active:
        raise PermissionDenied("officer_inactive", username=officer.username)
    unit = owner_unit(officer, step.role, step_unit(session, case, step))
    if unit is None:
        raise PermissionDenied(
            "receiver_lacks_role", username=officer.username, role=step.role, step=step.name
        )
    return unit


def is_head_of(officer: Officer, unit: Unit) -> bool:
    """Head (or acting head) of `unit` or of a unit above it."""
    return any(r.role == "unit_head" and unit.is_within(r.unit) for r in officer.roles)


def is_desk_for(officer: Officer, unit: Unit) -> bool:
    return any(r.role == "desk" and serves(r.unit, unit) for r in officer.roles)


# --- internals --------------------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _record(
    session: Session,
    case: Case,
    kind: str,
    actor: Officer | None,
    *,
    from_status: str | None = None,
    from_step: int | None = None,
    reason: str | None = None,
    **data: Any,
) -> CaseEvent:
    """Append one history event. Bumping the case's sequence makes every event pass the
    case's optimistic version check, so two concurrent actions can never both be recorded."""
    case.last_event_seq = (case.last_event_seq or 0) + 1
    current = case.current_assignment
    event = CaseEvent(
        case_id=case.id,
        seq=case.last_event_seq,
        kind=kind,
        at=clock.now(),
        actor_id=actor.id if actor else None,
        from_status=from_status,
        to_status=case.status,
        from_step=from_step,
        to_step=current.step_position if current else None,
        reason=reason,
        data={k: _iso(v) if isinstance(v, datetime) else v for k, v in data.items()},
        prev_hash=case.last_event_hash,
    )
    event.hash = case.last_event_hash = hash_of(event, event.prev_hash)
    session.add(event)
    return event


def _flush(session: Session, case: Case) -> None:
    try:
        session.flush()
    except (StaleDataError, IntegrityError, OperationalError) as exc:
        raise Conflict("stale_case", code=case.receipt_code) from exc


def _claim(session: Session, case: Case, expected_version: int | None = None) -> None:
    """Take the case for this transaction before changing anything.

    A no-op UPDATE guarded by the version the caller loaded (or saw on screen) takes the row's
    write lock on PostgreSQL and the database's on SQLite; a concurrent writer waits here, then
    finds the version moved and gets a conflict, having written nothing.
    """
    loaded = case.version_id
    if expected_version is not None and expected_version != loaded:
        raise Conflict("stale_case", code=case.receipt_code)
    cases = Case.__table__
    statement = (
        update(cases)
        .where(cases.c.id == case.id, cases.c.version_id == loaded)
        .values(version_id=cases.c.version_id)
    )
    try:
        claimed = session.connection().execute(statement).rowcount
    except OperationalError as exc:  # SQLite gave up waiting for another writer
        raise Conflict("stale_case", code=case.receipt_code) from exc
    if claimed != 1:
        raise Conflict("stale_case", code=case.receipt_code)


def _refuse(case: Case, action: str) -> InvalidTransition:
    if case.status not in OPEN_STATUSES and case.status != "resolved":
        return InvalidTransition(
            "case_closed", code=case.receipt_code, status=label(STATUS_LABELS, case.status)
        )
    return InvalidTransition("invalid_transition", action=action, status=label(STATUS_LABELS, case.status))


def _require_status(case: Case, action: str, allowed: tuple[str, ...]) -> None:
    if case.status not in allowed:
        raise _refuse(case, action)


def _current(case: Case) -> StepAssignment:
    current = case.current_assignment
    if current is None:  # only closed cases have no owner
        raise _refuse(case, "act")
    return current


def _require_owner(case: Case, actor: Officer) -> StepAssignment:
    current = _current(case)
    if current.owner_id != actor.id:
        raise PermissionDenied("not_owner", step=current.step_name, owner=current.owner.full_name)
    return current


def _reason(value: object, field: str = "reason", required: bool = True) -> str | None:
    return clean_text(value, field, max_length=2000, required=required, multiline=True)


def _next_receipt_code(session: Session, unit: Unit, at: datetime, calendar: WorkCalendar) -> str:
    """UNIT-YYMMDD-NNNN, numbered per unit and local day by an atomic upsert."""
    day = at.astimezone(calendar.zone).date()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(ReceiptCounter)
        .values(unit_id=unit.id, day=day, last=1)
        .on_conflict_do_update(
            index_elements=["unit_id", "day"], set_={"last": ReceiptCounter.last + 1}
        )
        .returning(ReceiptCounter.last)
    )
    number = session.execute(statement).scalar_one()
    return f"{unit.code}-{day:%y%m%d}-{number:04d}"


def _open_assignment(
    case: Case,
    step: ProcessStep,
    owner: Officer,
    unit: Unit,
    given_by: Officer | None,
    now: datetime,
    calendar: WorkCalendar,
    *,
    step_started_at: datetime | None = None,
    due_at: datetime | None = None,
    note: str | None = None,
) -> StepAssignment:
    assignment = StepAssignment(
        step_position=step.position,
        step_name=step.name,
        step_role=step.role,
        budget_hours=step.budget_hours,
        owner=owner,
        owner_id=owner.id,
        unit=unit,
        unit_id=unit.id,
        given_by=given_by,
        given_by_id=given_by.id if given_by else None,
        started_at=now,
        step_started_at=step_started_at or now,
        due_at=due_at or calendar.add_working_hours(calendar.next_opening(now), step.budget_hours),
        note=note,
    )
    case.assignments.append(assignment)
    return assignment


def _close_assignment(
    assignment: StepAssignment, now: datetime, end_kind: str, calendar: WorkCalendar,
    *, step_finished: bool = True,
) -> None:
    assignment.ended_at = now
    assignment.end_kind = end_kind
    if step_finished:
        assignment.result = classify_assignment(assignment, calendar)


def _new_case(
    session: Session,
    *,
    unit: Unit,
    procedure_code: str,
    applicant: Applicant | dict,
    channel: str,
    documents: object,
    status: str,
    calendar: WorkCalendar,
) -> Case:
    procedure = find_procedure(session, procedure_code)
    if channel not in CHANNELS:
        raise ValidationError("invalid_value", field="channel", detail=", ".join(CHANNELS))
    person = applicant if isinstance(applicant, Applicant) else Applicant.parse(applicant)
    now = clock.now()
    case = Case(
        receipt_code=_next_receipt_code(session, unit, now, calendar),
        unit=unit,
        procedure=procedure,
        applicant_name=person.name,
        applicant_id_number=person.id_number,
        applicant_phone=person.phone,
        applicant_address=person.address,
        applicant_email=person.email,
        channel=channel,
        documents=clean_documents(documents),
        status=status,
        submitted_at=now,
        last_event_seq=0,
        # A new case has none of these yet: saying so spares three loads after the insert.
        assignments=[],
        pauses=[],
        extension=None,
    )
    session.add(case)
    return case


def _start_clock(session: Session, case: Case, actor: Officer, calendar: WorkCalendar) -> None:
    procedure = case.procedure
    first = procedure.step_at(1) or (procedure.steps[0] if procedure.steps else None)
    if first is None:
        raise ValidationError("invalid_value", field="procedure", detail="it has no process steps")
    owner_unit_ = _receiving_unit(session, case, first, actor)
    now = clock.now()
    case.received_at = now
    case.original_due_at = case.due_at = calendar.due_at(
        now, procedure.duration_unit, procedure.duration_amount, procedure.same_day_cutoff
    )
    case.status = "received"
    forward_from = now
    if case.channel != "online" and now.astimezone(calendar.zone).time() > FORWARDING_CUTOFF:
        # A paper dossier received after 15:00 is forwarded at the next working day's opening
        # (RULES.md section 2): the desk's step counts from then; the case's clock does not move.
        next_day = calendar.close_of_day(now.astimezone(calendar.zone).date())
        forward_from = calendar.next_opening(next_day)
    _open_assignment(
        case, first, actor, owner_unit_, None, now, calendar,
        due_at=calendar.add_working_hours(calendar.next_opening(forward_from), first.budget_hours),
    )


# --- intake -----------------------------------------------------------------------------------

def register_online(
    session: Session, *, unit_code: str, procedure_code: str, applicant: Applicant | dict,
    documents: object = None, channel: str = "online",
) -> Case:
    """A dossier submitted online or by post: registered (status 1), clock not started."""
    calendar = work_calendar(session)
    case = _new_case(
        session, unit=find_unit(session, unit_code), procedure_code=procedure_code,
        applicant=applicant, channel=channel, documents=documents, status="submitted",
        calendar=calendar,
    )
    _flush(session, case)
    _record(session, case, "registered", None)
    _flush(session, case)
    return case


def receive(
    session: Session, actor: Officer, *, unit_code: str, procedure_code: str,
    applicant: Applicant | dict, channel: str = "in_person", documents: object = None,
    result_return: str | None = None,
) -> Case:
    """Receive a complete dossier at the desk (form 01): the clock starts, step 1 is the actor's.
    The result goes back as `result_return` says (RESULT_RETURNS), by default the channel's way."""
    calendar = work_calendar(session)
    unit = find_unit(session, unit_code)
    if not is_desk_for(actor, unit):
        raise PermissionDenied("role_required", role="desk", unit=unit.code)
    if result_return is not None and result_return not in RESULT_RETURNS:
        raise ValidationError("invalid_value", field="result_return", detail=", ".join(RESULT_RETURNS))
    case = _new_case(
        session, unit=unit, procedure_code=procedure_code, applicant=applicant,
        channel=channel, documents=documents, status="received", calendar=calendar,
    )
    case.result_return = result_return or channel
    # The clock starts before the first insert, so the case and its first step go in together.
    _start_clock(session, case, actor, calendar)
    _flush(session, case)
    _record(session, case, "received", actor, due_at=case.due_at, result_return=case.result_return)
    _flush(session, case)
    return case


def accept_registered(session: Session, case: Case, actor: Officer) -> Case:
    """Accept a dossier registered online: it is received now."""
    _claim(session, case)
    _require_status(case, "accept", ("submitted",))
    if not is_desk_for(actor, case.unit):
        raise PermissionDenied("role_required", role="desk", unit=case.unit.code)
    calendar = work_calendar(session)
    _start_clock(session, case, actor, calendar)
    _record(session, case, "received", actor, from_status="submitted", due_at=case.due_at)
    _flush(session, case)
    return case


def _intake_outcome(
    session: Session, actor: Officer, status: str, kind: str, reason: str | None,
    case: Case | None, intake: dict, **data: Any,
) -> Case:
    calendar = work_calendar(session)
    if case is None:
        for field in ("unit_code", "procedure_code", "applicant"):
            if not intake.get(field):
                raise ValidationError("required", field=field)
        intake.setdefault("channel", "in_person")
        intake.setdefault("documents", None)
        unit = find_unit(session, intake.pop("unit_code"))
        if not is_desk_for(actor, unit):
            raise PermissionDenied("role_required", role="desk", unit=unit.code)
        case = _new_case(session, unit=unit, status=status, calendar=calendar, **intake)
        _flush(session, case)
        from_status = None
    else:
        _claim(session, case)
        _require_status(case, kind, ("submitted",))
        if not is_desk_for(actor, case.unit):
            raise PermissionDenied("role_required", role="desk", unit=case.unit.code)
        from_status, case.status = case.status, status
    _record(session, case, kind, actor, from_status=from_status, reason=reason, **data)
    _flush(session, case)
    return case


def refuse_at_intake(
    session: Session, actor: Officer, reason: str, *, case: Case | None = None, **intake: Any
) -> Case:
    """Refuse to receive (form 03): recorded with its reason; the clock never runs."""
    return _intake_outcome(
        session, actor, "refused_at_intake", "refused_at_intake", _reason(reason), case, intake
    )


def guide_to_complete(
    session: Session, actor: Officer, missing: object, reason: str | None = None,
    *, case: Case | None = None, **intake: Any,
) -> Case:
    """Guide the applicant to complete the dossier (form 02 at intake): one full list of what is
    missing, so the applicant never has to come back for a second list."""
    items = clean_documents(missing)
    if not items:
        raise ValidationError("required", field="missing")
    return _intake_outcome(
        session, actor, "guided", "guided", _reason(reason, required=False), case, intake,
        missing=items,
    )


# --- processing -------------------------------------------------------------------------------

def hand_over(
    session: Session, case: Case, actor: Officer, to_officer: Officer, *,
    to_step: int | None = None, note: str | None = None, expected_version: int | None = None,
) -> StepAssignment:
    """Give the case to the owner of the next step (or of a named earlier step, to send it back)."""
    _claim(session, case, expected_version)
    _require_status(case, "hand over", ACTIVE_STATUSES)
    current = _require_owner(case, actor)
    procedure = case.procedure
    position = to_step if to_step is not None else current.step_position + 1
    step = procedure.step_at(position)
    if step is None:
        if to_step is not None:
            raise ValidationError("step_not_found", step=to_step)
        raise InvalidTransition("no_next_step", step=current.step_name)
    if position == current.step_position:
        raise InvalidTransition("same_step", step=current.step_name)
    last = procedure.steps[-1]
    if len(procedure.steps) > 1 and step.position == last.position:
        raise InvalidTransition("resolve_instead", step=step.name)
    unit = _receiving_unit(session, case, step, to_officer)
    note = _reason(note, "note", required=False)
    calendar = work_calendar(session)
    now = clock.now()
    _close_assignment(current, now, "handover", calendar)
    assignment = _open_assignment(case, step, to_officer, unit, actor, now, calendar, note=note)
    from_status, case.status = case.status, "in_progress"
    _record(
        session, case, "handed_over", actor, from_status=from_status,
        from_step=current.step_position, reason=note, to_owner=to_officer.username,
        step_result=current.result, step_due_at=assignment.due_at,
    )
    _flush(session, case)
    return assignment


def reassign(
    session: Session, case: Case, actor: Officer, to_officer: Officer, *,
    note: str | None = None, expected_version: int | None = None,
) -> StepAssignment:
    """The unit head gives the current step to another officer; the step's clock runs on."""
    _claim(session, case, expected_version)
    _require_status(case, "reassign", OPEN_STATUSES + ("resolved",))
    current = _current(case)
    if not is_head_of(actor, current.unit):
        raise PermissionDenied("role_required", role="unit_head", unit=current.unit.code)
    if to_officer.id == current.owner_id:
        raise InvalidTransition("handover_to_self")
    step = case.procedure.step_at(current.step_position)
    assert step is not None
    unit = _receiving_unit(session, case, step, to_officer)
    note = _reason(note, "note", required=False)
    calendar = work_calendar(session)
    now = clock.now()
    _close_assignment(current, now, "reassigned", calendar, step_finished=False)
    assignment = _open_assignment(
        case, step, to_officer, unit, actor, now, calendar,
        step_started_at=current.step_started_at, due_at=current.due_at, note=note,
    )
    _record(
        session, case, "reassigned", actor, from_status=case.status,
        from_step=current.step_position, reason=note, from_owner=current.owner.username,
        to_owner=to_officer.username,
    )
    _flush(session, case)
    return assignment


def _pause(
    session: Session, case: Case, actor: Officer, reason_code: str, status: str, kind: str,
    note: str | None, documents: object, expected_version: int | None,
) -> Pause:
    _claim(session, case, expected_version)
    _require_status(case, kind.replace("_", " "), ACTIVE_STATUSES)
    current = _require_owner(case, actor)
    now = clock.now()
    pause = Pause(
        reason=reason_code, started_at=now, requested_by_id=actor.id, note=note,
        documents=clean_documents(documents),
    )
    case.pauses.append(pause)
    from_status, case.status = case.status, status
    _record(
        session, case, kind, actor, from_status=from_status, from_step=current.step_position,
        reason=note, request_number=case.supplement_requests if reason_code == "supplement" else None,
        documents=pause.documents,
    )
    _flush(session, case)
    return pause


def request_supplement(
    session: Session, case: Case, actor: Officer, reason: str, documents: object = None,
    *, expected_version: int | None = None,
) -> Pause:
    """Ask the applicant to supplement the dossier (form 02): the clock pauses. A second request
    makes the case late whatever its times."""
    return _pause(
        session, case, actor, "supplement", "awaiting_supplement", "supplement_requested",
        _reason(reason), documents, expected_version,
    )


def pause_for_financial_obligations(
    session: Session, case: Case, actor: Officer, note: str | None = None,
    *, expected_version: int | None = None,
) -> Pause:
    """Wait for the applicant to pay tax or fees (status 6): the clock pauses as for a supplement."""
    return _pause(
        session, case, actor, "financial_obligation", "awaiting_payment", "payment_requested",
        _reason(note, "note", required=False), None, expected_version,
    )


def _resume(
    session: Session, case: Case, actor: Officer, status: str, kind: str, note: str | None,
    expected_version: int | None,
) -> Pause:
    _claim(session, case, expected_version)
    pause = case.open_pause
    if case.status != status or pause is None:
        if case.status in OPEN_STATUSES:
            raise InvalidTransition("not_paused", reason=label(STATUS_LABELS, status))
        raise _refuse(case, kind.replace("_", " "))
    current = _current(case)
    if current.owner_id != actor.id and not is_desk_for(actor, case.unit):
        raise PermissionDenied("not_owner", step=current.step_name, owner=current.owner.full_name)
    calendar = work_calendar(session)
    now = clock.now()
    pause.ended_at, pause.ended_by_id = now, actor.id
    hours = calendar.working_hours_between(pause.started_at, now)
    pause.paused_working_hours = hours
    procedure = case.procedure
    previous_due = case.due_at
    assert previous_due is not None
    if pause.reason == "supplement" and procedure.pause_policy == "restart":
        case.due_at = calendar.due_at(
            now, procedure.duration_unit, procedure.duration_amount, procedure.same_day_cutoff
        )
    else:
        case.due_at = calendar.add_working_hours(previous_due, hours)
    current.due_at = calendar.add_working_hours(current.due_at, hours)
    from_status = case.status
    case.status = "received" if current.step_position == 1 else "in_progress"
    _record(
        session, case, kind, actor, from_status=from_status, from_step=current.step_position,
        reason=note, paused_working_hours=hours, previous_due_at=previous_due,
        due_at=case.due_at, policy=procedure.pause_policy if pause.reason == "supplement" else "extend",
    )
    _flush(session, case)
    return pause


def receive_supplement(
    session: Session, case: Case, actor: Officer, note: str | None = None,
    *, expected_version: int | None = None,
) -> Pause:
    """Record the complete supplement: the clock runs again, the paused working time added."""
    return _resume(
        session, case, actor, "awaiting_supplement", "supplement_received",
        _reason(note, "note", required=False), expected_version,
    )


def resume_after_payment(
    session: Session, case: Case, actor: Officer, note: str | None = None,
    *, expected_version: int | None = None,
) -> Pause:
    return _resume(
        session, case, actor, "awaiting_payment", "payment_received",
        _reason(note, "note", required=False), expected_version,
    )


def extend(
    session: Session, case: Case, actor: Officer, reason: str, new_due_at: datetime,
    *, expected_version: int | None = None, policy: Policy | None = None,
) -> Extension:
    """Apology and extension (form 04), by the unit head, at most once, and at least one working
    day before the due instant. The due instant used for on-time classification is unchanged."""
    policy = policy or Policy.from_env()
    _claim(session, case, expected_version)
    # While paused the due instant is not final yet (the pause will be added on resume).
    _require_status(case, "extend", ACTIVE_STATUSES)
    current = _current(case)
    if not (is_head_of(actor, current.unit) or is_head_of(actor, case.unit)):
        raise PermissionDenied("role_required", role="unit_head", unit=current.unit.code)
    if case.extension is not None:
        raise InvalidTransition("already_extended")
    reason = _reason(reason)
    if not isinstance(new_due_at, datetime) or new_due_at.tzinfo is None:
        raise ValidationError("new_due_naive")
    calendar = work_calendar(session)
    now = clock.now()
    assert case.due_at is not None
    notice_hours = policy.extension_notice_working_days * calendar.hours_per_day
    if now >= case.due_at or calendar.working_hours_between(now, case.due_at) < notice_hours:
        raise InvalidTransition(
            "extension_too_late", days=f"{policy.extension_notice_working_days:g}"
        )
    if new_due_at <= case.due_at:
        raise ValidationError("extension_not_later")
    # A typo (2062 for 2026) would hide a late case for decades; no lawful extension is that long.
    if new_due_at > case.due_at + MAX_EXTENSION:
        raise ValidationError("extension_too_far", days=MAX_EXTENSION.days)
    extension = Extension(
        issued_by_id=actor.id, issued_at=now, reason=reason, responsible_unit_id=current.unit_id,
        previous_due_at=case.due_at, new_due_at=new_due_at,
    )
    case.extension = extension
    _record(
        session, case, "extended", actor, from_status=case.status,
        from_step=current.step_position, reason=reason, new_due_at=new_due_at,
        responsible_unit=current.unit.code,
    )
    _flush(session, case)
    return extension


def _finish(
    session: Session, case: Case, actor: Officer, status: str, kind: str, reason: str | None,
    **data: Any,
) -> Case:
    """End processing: the open pause (if any) and the owner's holding close now. An abandoned
    supplement ends the case at the request instant (RULES.md section 2)."""
    calendar = work_calendar(session)
    now = clock.now()
    current = _current(case)
    pause = case.open_pause
    end = now
    if pause is not None:
        pause.ended_at, pause.ended_by_id = now, actor.id
        pause.paused_working_hours = calendar.working_hours_between(pause.started_at, now)
        if pause.reason == "supplement":
            end = pause.started_at
    _close_assignment(current, now, kind, calendar)
    from_status, case.status = case.status, status
    case.ended_at = end
    _record(
        session, case, kind, actor, from_status=from_status, from_step=current.step_position,
        reason=reason, ended_at=end, **data,
    )
    _flush(session, case)
    return case


def refuse_after_review(
    session: Session, case: Case, actor: Officer, reason: str,
    *, expected_version: int | None = None,
) -> Case:
    """Refuse after review, with a reasoned notice: terminal."""
    _claim(session, case, expected_version)
    _require_status(case, "refuse", OPEN_STATUSES)
    _require_owner(case, actor)
    return _finish(session, case, actor, "refused", "refused", _reason(reason))


def stop(
    session: Session, case: Case, actor: Officer, reason: str, legal_ground: str | None = None,
    *, expected_version: int | None = None,
) -> Case:
    """Stop processing (form 05), by the owner or the unit head: terminal."""
    _claim(session, case, expected_version)
    _require_status(case, "stop", OPEN_STATUSES)
    current = _current(case)
    if current.owner_id != actor.id and not is_head_of(actor, current.unit):
        raise PermissionDenied("not_owner", step=current.step_name, owner=current.owner.full_name)
    ground = clean_text(legal_ground, "legal_ground", max_length=500)
    return _finish(session, case, actor, "stopped", "stopped", _reason(reason), legal_ground=ground)


def withdraw(
    session: Session, case: Case, actor: Officer, reason: str,
    *, expected_version: int | None = None,
) -> Case:
    """The applicant withdraws the dossier, recorded by the owner or the desk: terminal."""
    _claim(session, case, expected_version)
    _require_status(case, "withdraw", OPEN_STATUSES)
    current = _current(case)
    if current.owner_id != actor.id and not is_desk_for(actor, case.unit):
        raise PermissionDenied("not_owner", step=current.step_name, owner=current.owner.full_name)
    return _finish(session, case, actor, "withdrawn", "withdrawn", _reason(reason))


def resolve(
    session: Session, case: Case, actor: Officer, *, outcome: str = "approved",
    note: str | None = None, to_officer: Officer | None = None,
    expected_version: int | None = None,
) -> Case:
    """The result is ready and handed back to the one-stop desk: the case's end time.

    The case moves to the process's last (return) step, held by `to_officer`, by default the
    desk officer who received it.
    """
    _claim(session, case, expected_version)
    _require_status(case, "resolve", ACTIVE_STATUSES)
    current = _require_owner(case, actor)
    if outcome not in ("approved", "refused"):
        raise ValidationError("invalid_value", field="outcome", detail="approved or refused")
    note = _reason(note, "note", required=False)
    calendar = work_calendar(session)
    now = clock.now()
    last = case.procedure.steps[-1]
    if last.position != current.step_position:
        receiver = to_officer or case.assignments[0].owner
        unit = _receiving_unit(session, case, last, receiver)
        _close_assignment(current, now, "resolved", calendar)
        _open_assignment(case, last, receiver, unit, actor, now, calendar, note=note)
    from_status, case.status = case.status, "resolved"
    case.ended_at, case.outcome = now, outcome
    _record(
        session, case, "resolved", actor, from_status=from_status,
        from_step=current.step_position, reason=note, outcome=outcome,
        to_owner=case.current_assignment.owner.username if case.current_assignment else None,
    )
    _flush(session, case)
    return case


def return_result(
    session: Session, case: Case, actor: Officer, note: str | None = None,
    *, expected_version: int | None = None,
) -> Case:
    """Hand the result to the applicant (signed for, electronically or by post): terminal."""
    _claim(session, case, expected_version)
    _require_status(case, "return", ("resolved",))
    current = _require_owner(case, actor)
    note = _reason(note, "note", required=False)
    calendar = work_calendar(session)
    now = clock.now()
    # The applicant's pick-up time is not the desk's delay: the return step is not timed.
    _close_assignment(current, now, "returned", calendar, step_finished=False)
    case.status, case.returned_at = "returned", now
    _record(
        session, case, "returned", actor, from_status="resolved",
        from_step=current.step_position, reason=note,
    )
    _flush(session, case)
    return case


def history(session: Session, case: Case) -> list[CaseEvent]:
    return list(
        session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq))
    )


def count_events(session: Session, case: Case) -> int:
    return session.scalar(select(func.count()).where(CaseEvent.case_id == case.id)) or 0


# --- calendar changes -------------------------------------------------------------------------

def projected_due(
    calendar: WorkCalendar, received_at: datetime, duration_unit: str, duration_amount: float,
    same_day_cutoff: time | None, pause_policy: str,
    pauses: Iterable[tuple[str, datetime, datetime | None]],
) -> datetime:
    """`project_due` on plain values, for callers that read rows rather than objects (the bulk
    re-projection): `pauses` are (reason, started_at, ended_at) in the order they were taken."""
    due = calendar.due_at(received_at, duration_unit, duration_amount, same_day_cutoff)
    for reason, started_at, ended_at in pauses:
        if ended_at is None:
            continue
        if reason == "supplement" and pause_policy == "restart":
            due = calendar.due_at(ended_at, duration_unit, duration_amount, same_day_cutoff)
        else:
            due = calendar.add_working_hours(due, calendar.working_hours_between(started_at, ended_at))
    return due


def project_due(case: Case, calendar: WorkCalendar) -> datetime:
    """The case's due instant as `calendar` computes it: the duration from receipt, plus each
    completed pause (or a restart after a supplement, if the procedure says so)."""
    procedure = case.procedure
    assert case.received_at is not None
    return projected_due(
        calendar, case.received_at, procedure.duration_unit, procedure.duration_amount,
        procedure.same_day_cutoff, procedure.pause_policy,
        ((p.reason, p.started_at, p.ended_at) for p in case.pauses),
    )


def recompute_due_instants(session: Session, reason: str) -> list[Case]:
    """After a calendar change, re-project every open case's due instant; each change is
    recorded in the case's history with its reason. Returns the cases that changed.

    The work is done in bulk by `onestop.deadlines`; the changed cases are then loaded (or
    refreshed, if this session holds them). At scale, call `deadlines.reproject_open_cases`,
    which only counts them.
    """
    from onestop.deadlines import reprojected_case_ids  # deadlines builds on this module

    changed: list[Case] = []
    for ids in reprojected_case_ids(session, reason):
        changed.extend(
            session.scalars(
                select(Case).where(Case.id.in_(ids)).order_by(Case.id)
                .execution_options(populate_existing=True)
            )
        )
    return changed

