"""Applicants' satisfaction and complaints (Decision 766, indicator 5.4)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestop import clock
from onestop.errors import InvalidTransition, PermissionDenied, ValidationError
from onestop.lifecycle import _claim, _flush, _record, is_desk_for
from onestop.models import Case, Complaint, Officer, Rating
from onestop.validation import clean_text

RATING_SOURCES = ("desk", "applicant")


def record_rating(
    session: Session, case: Case, satisfied: bool, comment: str | None = None,
    *, actor: Officer | None = None,
) -> Rating:
    """The desk records the applicant's rating at return (`actor` given); without an actor the
    applicant rates from the look-up page. Each source rates a case once."""
    if not isinstance(satisfied, bool):
        raise ValidationError("invalid_value", field="satisfied", detail="yes or no")
    source = "desk" if actor is not None else "applicant"
    if actor is not None:
        if not is_desk_for(actor, case.unit):
            raise PermissionDenied("role_required", role="desk", unit=case.unit.code)
        if case.status not in ("resolved", "returned"):
            raise InvalidTransition("invalid_transition", action="rate", status=case.status)
    elif case.received_at is None:
        raise InvalidTransition("invalid_transition", action="rate", status=case.status)
    existing = session.scalar(select(Rating.id).where(Rating.case_id == case.id, Rating.source == source))
    if existing is not None:
        raise ValidationError("duplicate", what="rating", value=case.receipt_code)
    _claim(session, case)
    rating = Rating(
        case_id=case.id, source=source, satisfied=satisfied,
        comment=clean_text(comment, "comment", max_length=2000, multiline=True),
        recorded_at=clock.now(), recorded_by_id=actor.id if actor else None,
    )
    session.add(rating)
    _record(session, case, "rated", actor, from_status=case.status, source=source, satisfied=satisfied)
    _flush(session, case)
    return rating


def record_complaint(session: Session, case: Case, text: str, *, actor: Officer | None = None) -> Complaint:
    if case.received_at is None:
        raise InvalidTransition("invalid_transition", action="complain", status=case.status)
    body = clean_text(text, "text", max_length=5000, required=True, multiline=True)
    _claim(session, case)
    complaint = Complaint(
        case_id=case.id, received_at=clock.now(), text=body, recorded_by_id=actor.id if actor else None
    )
    session.add(complaint)
    _record(session, case, "complaint_recorded", actor, from_status=case.status, reason=body)
    _flush(session, case)
    return complaint
