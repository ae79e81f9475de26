"""Administration: the organisation tree, its officers, and procedures' internal process."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onestop import clock
from onestop.audit import record_admin_action
from onestop.catalogue import steps_over_duration
from onestop.errors import ValidationError
from onestop.lifecycle import find_procedure, find_unit
from onestop.models import (
    TERMINAL_STATUSES,
    UNIT_KINDS,
    Case,
    Officer,
    OfficerRole,
    Procedure,
    ProcessStep,
    StepAssignment,
    Unit,
)
from onestop.passwords import MIN_LENGTH, hash_password
from onestop.validation import clean_text

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")
_ROLE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{1,63}$")


def create_unit(
    session: Session, code: str, name: str, *, kind: str = "department",
    parent_code: str | None = None, effective_from: date | None = None,
    effective_to: date | None = None,
) -> Unit:
    if not _CODE.match(code or ""):
        raise ValidationError(
            "invalid_value", field="code", detail="letters, digits, '.', '_', '-'; at most 32"
        )
    if kind not in UNIT_KINDS:
        raise ValidationError("invalid_value", field="kind", detail=", ".join(UNIT_KINDS))
    if effective_from and effective_to and effective_to < effective_from:
        raise ValidationError("invalid_value", field="effective_to", detail="before effective_from")
    if session.scalar(select(Unit.id).where(Unit.code == code)) is not None:
        raise ValidationError("duplicate", what="unit", value=code)
    unit = Unit(
        code=code,
        name=clean_text(name, "name", max_length=255, required=True),
        kind=kind,
        parent=find_unit(session, parent_code) if parent_code else None,
        effective_from=effective_from,
        effective_to=effective_to,
    )
    session.add(unit)
    session.flush()
    return unit


def create_officer(
    session: Session, username: str, full_name: str, *, unit_code: str, roles: Iterable[str],
    password: str | None = None, email: str | None = None, acting: bool = False,
) -> Officer:
    username = (username or "").strip().lower()
    if not _USERNAME.match(username):
        raise ValidationError(
            "invalid_value", field="username", detail="lower-case letters, digits, '.', '_', '-'"
        )
    if session.scalar(select(Officer.id).where(Officer.username == username)) is not None:
        raise ValidationError("duplicate", what="officer", value=username)
    roles = list(dict.fromkeys(roles))
    if not roles:
        raise ValidationError("required", field="role")
    if password is not None and len(password) < MIN_LENGTH:
        raise ValidationError(
            "invalid_value", field="password", detail=f"at least {MIN_LENGTH} characters"
        )
    officer = Officer(
        username=username,
        full_name=clean_text(full_name, "name", max_length=200, required=True),
        email=clean_text(email, "email", max_length=254),
        password_hash=hash_password(password) if password else None,
        active=True,
        created_at=clock.now(),
    )
    session.add(officer)
    unit = find_unit(session, unit_code)
    for role in roles:
        grant_role(officer, unit, role, acting=acting)
    session.flush()
    return officer


def grant_role(officer: Officer, unit: Unit, role: str, *, acting: bool = False) -> OfficerRole:
    """Built-in roles (desk, unit_head, chair, admin, inspector, dashboard_viewer) carry
    permissions; any other name (e.g. civil_status_officer) qualifies the officer for process
    steps naming it."""
    if not _ROLE.match(role or ""):
        raise ValidationError(
            "invalid_value", field="role", detail="lower-case letters, digits and '_'"
        )
    if any(r.role == role and r.unit.id == unit.id for r in officer.roles):
        raise ValidationError("duplicate", what="role", value=f"{role}@{unit.code}")
    held = OfficerRole(unit=unit, role=role, acting=acting)
    officer.roles.append(held)
    return held


# --- changing units ---------------------------------------------------------------------------

def rename_unit(session: Session, code: str, name: str | None, *, by: Officer | None = None) -> Unit:
    unit = find_unit(session, code)
    new_name = clean_text(name, "name", max_length=255, required=True)
    if new_name != unit.name:
        record_admin_action(session, "unit_renamed", unit.code, by=by, before=unit.name, after=new_name)
        unit.name = new_name
        session.flush()
    return unit


def unit_open_work(session: Session, unit: Unit) -> tuple[int, int, int]:
    """What still rests on a unit: unfinished cases it received or whose current step it holds,
    roles of active officers in it, and units below it still in force."""
    cases = session.scalar(
        select(func.count(func.distinct(Case.id)))
        .outerjoin(StepAssignment, (StepAssignment.case_id == Case.id) & StepAssignment.ended_at.is_(None))
        .where(Case.status.not_in(TERMINAL_STATUSES))
        .where((Case.unit_id == unit.id) | (StepAssignment.unit_id == unit.id))
    ) or 0
    roles = session.scalar(
        select(func.count(OfficerRole.id)).join(Officer)
        .where(OfficerRole.unit_id == unit.id, Officer.active.is_(True))
    ) or 0
    today = clock.now().date()
    units = sum(
        1 for child in unit.children if child.effective_to is None or child.effective_to >= today
    )
    return cases, roles, units


def close_unit(
    session: Session, code: str, effective_to: date | None, *, by: Officer | None = None
) -> Unit:
    """Close a unit on `effective_to` (it keeps its history); refused while work rests on it."""
    unit = find_unit(session, code)
    if effective_to is None:
        raise ValidationError("required", field="effective_to")
    if unit.effective_from and effective_to < unit.effective_from:
        raise ValidationError("invalid_value", field="effective_to", detail="before effective_from")
    cases, roles, units = unit_open_work(session, unit)
    if cases or roles or units:
        raise ValidationError("unit_still_in_use", code=unit.code, cases=cases, roles=roles, units=units)
    record_admin_action(
        session, "unit_closed", unit.code, by=by, before=unit.effective_to, after=effective_to
    )
    unit.effective_to = effective_to
    session.flush()
    return unit


# --- a procedure's internal process -----------------------------------------------------------

@dataclass(frozen=True)
class StepChange:
    """One step as an administrator writes it; unit_code None: the receiving unit."""

    name: str
    role: str
    unit_code: str | None
    budget_hours: float


MAX_STEPS = 50


def parse_step_lines(raw: str | None) -> list[StepChange]:
    """One step a line: «name | role | unit code (empty: the receiving unit) | working hours»."""
    lines = [line for line in (raw or "").splitlines() if line.strip()]
    if not lines:
        raise ValidationError("required", field="steps")
    if len(lines) > MAX_STEPS:
        raise ValidationError("invalid_value", field="steps", detail=f"at most {MAX_STEPS} steps")
    steps = []
    for number, line in enumerate(lines, start=1):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 4:
            raise ValidationError("step_line", line=number, detail="write name | role | unit | hours")
        name, role, unit_code, hours = parts
        try:
            budget = float(hours.replace(",", "."))
        except ValueError:
            raise ValidationError("step_line", line=number, detail=f"hours is not a number: {hours[:20]!r}") from None
        steps.append(StepChange(name, role, unit_code or None, budget))
    return steps


def change_process(
    session: Session, code: str, steps: list[StepChange], *, by: Officer | None = None
) -> Procedure:
    """A new version of the procedure with this internal process, as the catalogue versions a
    procedure whose terms changed: cases keep the version (and process) they were received under."""
    current = find_procedure(session, code)
    if not steps:
        raise ValidationError("required", field="steps")
    cleaned = []
    for number, step in enumerate(steps, start=1):
        try:
            name = clean_text(step.name, "name", max_length=200, required=True)
        except ValidationError as exc:
            raise ValidationError("step_line", line=number, detail=exc.message("en")) from None
        if not _ROLE.match(step.role or ""):
            raise ValidationError("step_line", line=number, detail="role: lower-case letters, digits and '_'")
        if step.unit_code is not None:
            find_unit(session, step.unit_code)
        if not math.isfinite(step.budget_hours) or step.budget_hours < 0:
            raise ValidationError("step_line", line=number, detail="hours must be a number ≥ 0")
        cleaned.append(StepChange(name or "", step.role, step.unit_code, float(step.budget_hours)))
    problem = steps_over_duration(
        current.duration_unit, current.duration_amount, [s.budget_hours for s in cleaned]
    )
    if problem:
        raise ValidationError("invalid_value", field="steps", detail=problem)
    before = [(s.name, s.role, s.unit_code, float(s.budget_hours)) for s in current.steps]
    after = [(s.name, s.role, s.unit_code, s.budget_hours) for s in cleaned]
    if before == after:
        raise ValidationError("process_unchanged", code=code)
    newest = session.scalar(select(func.max(Procedure.version)).where(Procedure.code == code)) or 0
    for older in session.scalars(select(Procedure).where(Procedure.code == code)):
        older.active = False
    # Every column is carried over (whatever the catalogue adds), then the process replaced.
    copied = {
        column.key: getattr(current, column.key) for column in Procedure.__table__.columns
        if column.key not in ("id", "version", "active", "created_at")
    }
    procedure = Procedure(
        **copied, version=newest + 1, active=True, created_at=clock.now(),
        steps=[
            ProcessStep(position=i, name=s.name, role=s.role, unit_code=s.unit_code,
                        budget_hours=s.budget_hours)
            for i, s in enumerate(cleaned, start=1)
        ],
    )
    session.add(procedure)
    session.flush()
    record_admin_action(
        session, "process_changed", code, by=by, from_version=current.version,
        to_version=procedure.version, before=before, after=after,
    )
    return procedure
