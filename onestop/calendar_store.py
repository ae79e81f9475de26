"""The working calendar as administrators configure it: the package's holidays plus their exceptions."""

from __future__ import annotations

import functools
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestop import clock
from onestop.calendar import WorkCalendar
from onestop.errors import ValidationError
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
    return row
