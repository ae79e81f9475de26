"""On time or late (RULES.md section 4): computed from the record, never stored as a flag."""

from __future__ import annotations

from datetime import datetime

from onestop.calendar import WorkCalendar
from onestop.models import PAUSED_STATUSES, Case, StepAssignment
from onestop.settings import Policy

DAY_BASED_UNITS = frozenset({"working_days", "same_day", "calendar_days"})
FINISHED = ("early", "on_time", "late")
OPEN = ("within_deadline", "at_risk", "overdue", "paused")


def compare_end(end: datetime, due: datetime, unit: str, calendar: WorkCalendar) -> str:
    """early / on_time / late; day-based durations compare local dates, hour-based instants."""
    if unit in DAY_BASED_UNITS:
        end_key, due_key = end.astimezone(calendar.zone).date(), due.astimezone(calendar.zone).date()
    else:
        end_key, due_key = end, due
    if end_key < due_key:
        return "early"
    if end_key == due_key:
        return "on_time"
    return "late"


def _open_state(
    at: datetime, started: datetime, due: datetime, unit: str, calendar: WorkCalendar, share: float
) -> str:
    if compare_end(at, due, unit, calendar) == "late":
        return "overdue"
    budget = calendar.working_hours_between(started, due)
    left = calendar.working_hours_between(at, due) if at < due else 0.0
    if budget > 0 and left < share * budget:
        return "at_risk"
    return "within_deadline"


def classify_case(
    case: Case, calendar: WorkCalendar, at: datetime | None = None, policy: Policy = Policy()
) -> str | None:
    """The case's classification at instant `at` (finished cases ignore `at`).

    None for a case whose clock never ran (refused at intake, guided, not yet accepted).
    More than one supplement request makes the case late whatever its times (Decision 766).
    """
    if case.received_at is None or case.due_at is None:
        return None
    unit = case.procedure.duration_unit
    many_supplements = case.supplement_requests > 1
    if case.ended_at is not None:
        if many_supplements:
            return "late"
        return compare_end(case.ended_at, case.due_at, unit, calendar)
    if case.status in PAUSED_STATUSES:
        return "paused"
    if at is None:
        raise ValueError("an open case is classified at an instant: pass `at`")
    if many_supplements:
        return "overdue"
    return _open_state(at, case.received_at, case.due_at, unit, calendar, policy.at_risk_share)


def classify_assignment(
    assignment: StepAssignment,
    calendar: WorkCalendar,
    at: datetime | None = None,
    policy: Policy = Policy(),
) -> str:
    """A step against its own budget (working hours, so instants are compared)."""
    if assignment.ended_at is not None:
        return compare_end(assignment.ended_at, assignment.due_at, "working_hours", calendar)
    if at is None:
        raise ValueError("an open step is classified at an instant: pass `at`")
    if assignment.case.status in PAUSED_STATUSES:
        return "paused"
    return _open_state(
        at, assignment.step_started_at, assignment.due_at, "working_hours", calendar,
        policy.at_risk_share,
    )


def classify_open_case_at(
    case: Case, calendar: WorkCalendar, at: datetime, policy: Policy = Policy()
) -> str:
    """overdue, at_risk or within_deadline: a case open at instant `at`, as its record stood
    then (a case finished since is classified as it was). Counted as the on-time snapshots
    count it: a case paused at `at` is within deadline unless it paused past its due, or had
    a second supplement request by then (Decision 766)."""
    unit = case.procedure.duration_unit
    pauses = [p for p in case.pauses if p.started_at <= at]
    if sum(1 for p in pauses if p.reason == "supplement") > 1:
        return "overdue"
    paused = next((p for p in pauses if p.ended_at is None or p.ended_at > at), None)
    if paused is not None:
        late = compare_end(paused.started_at, case.due_at, unit, calendar) == "late"
        return "overdue" if late else "within_deadline"
    return _open_state(at, case.received_at, case.due_at, unit, calendar, policy.at_risk_share)
