"""Who may read a case, and who reads the applicant's personal data in full.

The rule for reading is `onestop.queue.officer_can_see_case` (shared with the desk pages);
`visible_cases` is the same rule as a SQL condition, for lists. Acting on a case needs more
(the owner, the desk, the unit head): the lifecycle operations check that.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from onestop.lifecycle import is_desk_for, is_head_of
from onestop.models import Case, Officer, StepAssignment, Unit
from onestop.queue import officer_can_see_case

__all__ = ["entitled_to_personal_data", "mask", "officer_can_see_case", "visible_cases", "visible_unit_ids"]


def visible_unit_ids(session: Session, officer: Officer) -> set[int]:
    """Units whose cases the officer's roles let them read: the units they hold a role in,
    every unit below those, and the units above (a desk sees its commune's cases)."""
    if not officer.active or not officer.roles:
        return set()
    units = session.scalars(select(Unit)).all()
    held = [r.unit for r in officer.roles]
    return {
        unit.id for unit in units
        if any(unit.is_within(h) or h.is_within(unit) for h in held)
    }


def visible_cases(session: Session, officer: Officer):
    """`officer_can_see_case` as a condition on `Case`: a covered unit, or a step the officer
    held or gave."""
    touched = select(StepAssignment.case_id).where(
        or_(StepAssignment.owner_id == officer.id, StepAssignment.given_by_id == officer.id)
    )
    if not officer.active:
        return Case.id.in_([])
    return or_(Case.unit_id.in_(visible_unit_ids(session, officer)), Case.id.in_(touched))


def entitled_to_personal_data(officer: Officer, case: Case) -> bool:
    """Who reads the applicant's ID number, phone and e-mail in full: the officers who work the
    case (its step owners), its desk, and the heads of its units. Others who may read the case
    (a chair, an inspector) see them masked."""
    if not officer.active:
        return False
    if any(a.owner_id == officer.id for a in case.assignments):
        return True
    if is_desk_for(officer, case.unit) or is_head_of(officer, case.unit):
        return True
    current = case.current_assignment
    return current is not None and is_head_of(officer, current.unit)


def mask(value: str | None, keep: int = 3) -> str | None:
    """Hide all but the last `keep` characters: 001190012345 -> *********345."""
    if not value:
        return value
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    shown = value[-keep:] if len(value) > keep else ""
    return "*" * (len(value) - len(shown)) + shown
