"""Administration: the organisation tree and its officers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestop import clock
from onestop.errors import ValidationError
from onestop.lifecycle import find_unit
from onestop.models import UNIT_KINDS, Officer, OfficerRole, Unit
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
