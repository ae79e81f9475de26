"""Officers' work lists: whose cases, how much working time is left, and who may see a case."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from onestop.calendar import WorkCalendar
from onestop.classification import classify_assignment, classify_case
from onestop.models import PAUSED_STATUSES, Case, Officer, StepAssignment, Unit
from onestop.settings import Policy

HEAD_ROLES = ("unit_head", "chair")
QUEUE_LIMIT = 500


@dataclass(frozen=True)
class QueueItem:
    """One open step of one case, with its deadline states and the working time left."""

    case: Case
    assignment: StepAssignment
    step_state: str
    case_state: str | None
    step_hours_left: float
    case_hours_left: float | None

    @property
    def paused(self) -> bool:
        return self.case.status in PAUSED_STATUSES


def hours_left(
    calendar: WorkCalendar, now: datetime, due: datetime, paused_since: datetime | None = None
) -> float:
    """Working hours from now (or from the start of a pause, since a paused clock stands
    still) to `due`; negative working hours once `due` has passed."""
    at = paused_since or now
    if at <= due:
        return calendar.working_hours_between(at, due)
    return -calendar.working_hours_between(due, at)


def split_working_time(hours: float, hours_per_day: float) -> tuple[int, int, int]:
    """(working days, hours, minutes) of a span of working hours, its sign dropped."""
    minutes = round(abs(hours) * 60)
    per_day = round(hours_per_day * 60)
    days, rest = divmod(minutes, per_day)
    return days, rest // 60, rest % 60


def queue_item(case: Case, assignment: StepAssignment, calendar: WorkCalendar, now: datetime,
               policy: Policy) -> QueueItem:
    pause = case.open_pause
    paused_since = pause.started_at if pause is not None else None
    case_due = case.due_at
    return QueueItem(
        case=case,
        assignment=assignment,
        step_state=classify_assignment(assignment, calendar, now, policy),
        case_state=classify_case(case, calendar, now, policy),
        step_hours_left=hours_left(calendar, now, assignment.due_at, paused_since),
        case_hours_left=hours_left(calendar, now, case_due, paused_since) if case_due else None,
    )


def _sorted(items: Iterable[QueueItem]) -> list[QueueItem]:
    # The least time left first; paused cases wait for the applicant, so they go last.
    return sorted(
        items,
        key=lambda i: (i.paused, i.step_hours_left, i.case_hours_left or 0.0, i.case.id),
    )


def _open_assignments(session: Session, *conditions) -> list[StepAssignment]:
    return list(
        session.scalars(
            select(StepAssignment)
            .where(StepAssignment.ended_at.is_(None), *conditions)
            .options(
                selectinload(StepAssignment.case).selectinload(Case.procedure),
                selectinload(StepAssignment.case).selectinload(Case.pauses),
                selectinload(StepAssignment.owner),
            )
            .order_by(StepAssignment.due_at)
            .limit(QUEUE_LIMIT)
        )
    )


def my_queue(
    session: Session, officer: Officer, calendar: WorkCalendar, now: datetime,
    policy: Policy | None = None,
) -> list[QueueItem]:
    """The cases whose current step `officer` owns, the least working time left first."""
    policy = policy or Policy.from_env()
    assignments = _open_assignments(session, StepAssignment.owner_id == officer.id)
    return _sorted(queue_item(a.case, a, calendar, now, policy) for a in assignments)


def headed_units(officer: Officer) -> list[Unit]:
    """Units the officer heads (unit head or chair, acting included)."""
    units: dict[int, Unit] = {}
    for held in officer.roles:
        if held.role in HEAD_ROLES:
            units.setdefault(held.unit_id, held.unit)
    return list(units.values())


def unit_ids_below(session: Session, roots: Iterable[Unit]) -> set[int]:
    """The ids of `roots` and of every unit below them."""
    children: dict[int | None, list[int]] = {}
    for unit_id, parent_id in session.execute(select(Unit.id, Unit.parent_id)):
        children.setdefault(parent_id, []).append(unit_id)
    found: set[int] = set()
    pending = [u.id for u in roots]
    while pending:
        unit_id = pending.pop()
        if unit_id in found:
            continue
        found.add(unit_id)
        pending.extend(children.get(unit_id, ()))
    return found


def unit_queue(
    session: Session, officer: Officer, calendar: WorkCalendar, now: datetime,
    policy: Policy | None = None,
) -> list[QueueItem]:
    """Every open step held in a unit the officer heads or a unit below it."""
    policy = policy or Policy.from_env()
    scope = unit_ids_below(session, headed_units(officer))
    if not scope:
        return []
    assignments = _open_assignments(session, StepAssignment.unit_id.in_(scope))
    return _sorted(queue_item(a.case, a, calendar, now, policy) for a in assignments)


def officer_can_see_case(officer: Officer | None, case: Case) -> bool:
    """A role in the case's unit, a unit above it (chairs and heads of an ancestor included) or
    a unit below it (its desk, its departments); or having held, or given, one of its steps."""
    if officer is None or not officer.active:
        return False
    for held in officer.roles:
        if case.unit.is_within(held.unit) or held.unit.is_within(case.unit):
            return True
    return any(officer.id in (a.owner_id, a.given_by_id) for a in case.assignments)


def extension_in_time(case: Case, calendar: WorkCalendar, now: datetime, policy: Policy) -> bool:
    """Form 04 may still be issued: at least the notice period before the due instant."""
    if case.due_at is None or now >= case.due_at:
        return False
    notice = policy.extension_notice_working_days * calendar.hours_per_day
    return calendar.working_hours_between(now, case.due_at) >= notice


def allowed_actions(
    case: Case, officer: Officer, calendar: WorkCalendar, now: datetime,
    policy: Policy | None = None,
) -> set[str]:
    """What `officer` may do with `case` now, by the rules the lifecycle enforces; the page
    shows these buttons only. `extend_too_late` marks a form 04 the deadline rule refuses."""
    from onestop.lifecycle import is_desk_for, is_head_of
    from onestop.models import OPEN_STATUSES

    policy = policy or Policy.from_env()
    status = case.status
    current = case.current_assignment
    owner = current is not None and current.owner_id == officer.id
    desk = is_desk_for(officer, case.unit)
    head = current is not None and is_head_of(officer, current.unit)
    is_open = status in OPEN_STATUSES
    active = status in ("received", "in_progress")
    actions: set[str] = set()
    if status == "submitted" and desk:
        actions |= {"accept", "guide", "refuse_at_intake"}
    if active and owner:
        actions |= {"hand_over", "request_supplement", "pause_payment", "refuse", "resolve"}
    if status == "awaiting_supplement" and (owner or desk):
        actions.add("receive_supplement")
    if status == "awaiting_payment" and (owner or desk):
        actions.add("resume_payment")
    if is_open and (owner or head):
        actions.add("stop")
    if is_open and (owner or desk):
        actions.add("withdraw")
    if is_open and case.extension is None and current is not None and (
        head or is_head_of(officer, case.unit)
    ):
        actions.add("extend" if extension_in_time(case, calendar, now, policy) else "extend_too_late")
    if (is_open or status == "resolved") and head:
        actions.add("reassign")
    if status == "resolved" and owner:
        actions.add("return")
    if status in ("resolved", "returned") and desk:
        actions.add("rate")
    if case.received_at is not None and (desk or is_head_of(officer, case.unit)):
        actions.add("complaint")
    return actions
