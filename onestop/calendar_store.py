"""The working calendar as administrators configure it: the package's holidays plus their exceptions."""

from __future__ import annotations

import functools
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestop import clock
from onestop.audit import record_admin_action
from onestop.calendar import WorkCalendar
from onestop.errors import NotFound, ValidationError
from onestop.models import CalendarException, Officer
from onestop.validation import clean_text


@functools.lru_cache(maxsize=16)
def _calendar_for(
    days_off: tuple[tuple[date, str], ...], working_days: tuple[tuple[date, str], ...]
) -> WorkCalendar:
    return WorkCalendar.vietnam(extra_days_off=days_off, extra_working_days=working_days)


def work_calendar(session: Session) -> WorkCalendar:
    """The calendar in force now; a new exception takes effect on the next call, no restart."""
    rows = session.execute(
        select(CalendarException.day, CalendarException.kind, CalendarException.legal_reference)
        .order_by(CalendarException.day)
    ).all()
    days_off = tuple((r.day, r.legal_reference) for r in rows if r.kind == "day_off")
    working = tuple((r.day, r.legal_reference) for r in rows if r.kind == "working_day")
    return _calendar_for(days_off, working)


def add_calendar_exception(
    session: Session, day: date, kind: str, legal_reference: str, by: Officer | None = None
) -> CalendarException:
    """Record an announced day off or working day. Open cases' deadlines are re-projected by
    the recompute-deadlines flow, which records each change in the case history."""
    if kind not in ("day_off", "working_day"):
        raise ValidationError("invalid_value", field="kind", detail="day_off or working_day")
    reference = clean_text(legal_reference, "legal_reference", max_length=500, required=True)
    existing = session.scalar(select(CalendarException).where(CalendarException.day == day))
    if existing is not None:
        raise ValidationError("duplicate", what="calendar exception", value=day.isoformat())
    row = CalendarException(
        day=day, kind=kind, legal_reference=reference, created_at=clock.now(),
        created_by_id=by.id if by else None,
    )
    session.add(row)
    session.flush()
    record_admin_action(
        session, f"calendar_{kind}_added", day.isoformat(), by=by, reason=reference
    )
    return row


def remove_calendar_exception(
    session: Session, day: date, reason: str | None, by: Officer | None = None
) -> CalendarException:
    """Remove a day off or working day recorded in error, with the reason; the trail keeps what
    it was. The caller re-projects open cases' due instants, as after an addition."""
    why = clean_text(reason, "reason", max_length=500, required=True)
    row = session.scalar(select(CalendarException).where(CalendarException.day == day))
    if row is None:
        raise NotFound("calendar_exception_not_found", day=f"{day:%d/%m/%Y}")
    record_admin_action(
        session, f"calendar_{row.kind}_removed", day.isoformat(), by=by, reason=why,
        legal_reference=row.legal_reference, recorded_at=row.created_at,
        recorded_by_id=row.created_by_id,
    )
    session.delete(row)
    session.flush()
    return row


def calendar_change_reason(day: date, kind: str, detail: str, *, removed: bool = False) -> str:
    """The reason written into each re-projected case's history."""
    what = "day off" if kind == "day_off" else "working day"
    if removed:
        return f"Calendar change: {what} {day:%d/%m/%Y} removed ({detail})"
    return f"Calendar change: {what} {day:%d/%m/%Y} ({detail})"
