"""API bearer tokens, one or more per officer.

Only a SHA-256 of each token is stored; the token itself is shown once, at creation. Its first
characters (the prefix) are kept in clear so that an administrator can tell tokens apart and
revoke one without ever seeing it again.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship

from onestop import clock
from onestop.db import Base, UTCDateTime
from onestop.errors import InvalidTransition, NotFound, OnestopError
from onestop.lifecycle import find_officer
from onestop.models import Officer, OfficerRole, Unit
from onestop.validation import clean_text

PREFIX_LENGTH = 8
_PREFIX = re.compile(r"^[A-Za-z0-9_\-]{1,16}$")
# Recording every use would add a write to every API request; a minute's precision is plenty.
LAST_USED_PRECISION = timedelta(minutes=1)


class Unauthenticated(OnestopError):
    """No valid credentials: the caller must present a live token."""

    http_status = 401


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    officer: Mapped[Officer] = relationship()

    def __repr__(self) -> str:
        return f"<ApiToken {self.prefix}… {self.officer_id}>"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    session: Session, officer: Officer | str, label: str | None = None
) -> tuple[ApiToken, str]:
    """A new token for `officer` (or a username). Returns the row and the token, which is not
    stored anywhere and cannot be shown again."""
    if isinstance(officer, str):
        officer = find_officer(session, clean_text(officer, "username", max_length=64, required=True))
    label = clean_text(label, "label", max_length=200)
    while True:
        token = secrets.token_urlsafe(32)
        prefix = token[:PREFIX_LENGTH]
        if session.scalar(select(ApiToken.id).where(ApiToken.prefix == prefix)) is None:
            break
    row = ApiToken(
        officer_id=officer.id, officer=officer, prefix=prefix, token_hash=hash_token(token),
        label=label, created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row, token


def verify_token(session: Session, token: object) -> Officer:
    """The active officer a live token belongs to; `Unauthenticated` otherwise."""
    if not isinstance(token, str) or not token or len(token) > 200:
        raise Unauthenticated("token_invalid")
    row = session.execute(
        select(ApiToken)
        .where(ApiToken.token_hash == hash_token(token))
        .options(
            # The role units and two levels above them: what every permission check walks.
            joinedload(ApiToken.officer).joinedload(Officer.roles).joinedload(OfficerRole.unit)
            .joinedload(Unit.parent).joinedload(Unit.parent)
        )
    ).unique().scalar_one_or_none()
    if row is None:
        raise Unauthenticated("token_invalid")
    if row.revoked_at is not None:
        raise Unauthenticated("token_revoked")
    if not row.officer.active:
        raise Unauthenticated("officer_inactive", username=row.officer.username)
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
        row.last_used_at = now  # written with the caller's transaction
    return row.officer


def revoke_token(session: Session, prefix: str) -> ApiToken:
    """Revoke the token whose prefix is `prefix`; it stops working at once."""
    prefix = (prefix or "").strip()
    if not _PREFIX.match(prefix):  # tokens are URL-safe base64: anything else names none
        raise NotFound("token_not_found", prefix=ascii(prefix)[1:-1][:40])
    row = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if row is None:
        raise NotFound("token_not_found", prefix=prefix)
    if row.revoked_at is not None:
        raise InvalidTransition("token_already_revoked", prefix=prefix)
    row.revoked_at = clock.now()
    session.flush()
    return row


def list_tokens(session: Session, officer: Officer | None = None) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)
    if officer is not None:
        query = query.where(ApiToken.officer_id == officer.id)
    return list(session.scalars(query))
