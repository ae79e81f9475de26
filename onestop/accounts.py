"""Officers' accounts: signing in, passwords, and switching an account on or off."""

from __future__ import annotations

import functools
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestop.errors import InvalidTransition, ValidationError
from onestop.models import Officer, OfficerRole, Unit
from onestop.passwords import MIN_LENGTH, hash_password, verify_password

MAX_PASSWORD_LENGTH = 1024


@functools.cache
def _dummy_hash() -> str:
    """Checked when the username is unknown, so a miss costs as much time as a wrong password."""
    return hash_password("onestop-timing-equaliser")


def normalise_username(username: object) -> str:
    if not isinstance(username, str):
        return ""
    return username.strip().lower()[:64]


def authenticate(session: Session, username: object, password: object) -> Officer | None:
    """The active officer with these credentials, or None; the caller says only "wrong
    username or password", never which of the two."""
    name = normalise_username(username)
    if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD_LENGTH:
        return None
    officer = session.scalar(select(Officer).where(Officer.username == name)) if name else None
    if officer is None or not officer.password_hash:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(officer.password_hash, password) or not officer.active:
        return None
    return officer


def session_fingerprint(officer: Officer) -> str:
    """Changes when the password changes or the account is switched off, which ends every
    session signed in with the old one."""
    material = f"{officer.id}:{officer.password_hash or ''}:{officer.active}"
    return hashlib.sha256(material.encode()).hexdigest()[:20]


def set_password(officer: Officer, password: object) -> None:
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise ValidationError(
            "invalid_value", field="password", detail=f"at least {MIN_LENGTH} characters"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError("too_long", field="password", max=MAX_PASSWORD_LENGTH)
    officer.password_hash = hash_password(password)


def set_active(officer: Officer, active: bool) -> None:
    officer.active = bool(active)


def revoke_role(session: Session, officer: Officer, unit: Unit, role: str) -> None:
    """Take a role away; an officer keeps at least one role (switch the account off instead)."""
    held = session.scalar(
        select(OfficerRole).where(
            OfficerRole.officer_id == officer.id, OfficerRole.unit_id == unit.id, OfficerRole.role == role
        )
    )
    if held is None:
        raise ValidationError("invalid_value", field="role", detail=f"{role}@{unit.code} is not held")
    if len(officer.roles) <= 1:
        raise InvalidTransition("last_role", username=officer.username)
    officer.roles.remove(held)
    session.flush()
