"""E-mail through an outbox: enqueue in the caller's transaction, send later over SMTP.

A message is written to `outbox_messages` with a stable Message-ID, in the same transaction as
the change it reports, so it can never be lost. `deliver_outbox` sends pending messages, each
taken with a short lease (so two runs at once never send it twice) and marked sent in its own
transaction. A crash between sending and recording can at worst send the same message again,
with the same Message-ID, which mail clients deduplicate.

SMTP is configured by the environment: ONESTOP_SMTP_HOST, ONESTOP_SMTP_PORT (25),
ONESTOP_SMTP_USER, ONESTOP_SMTP_PASSWORD, ONESTOP_SMTP_STARTTLS (0/1), ONESTOP_SMTP_FROM.
Without a host, messages stay pending and `deliver_outbox` says so in the log.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, sessionmaker

from onestop import clock
from onestop.bulk import insert_ignoring_conflicts
from onestop.db import Base, UTCDateTime
from onestop.errors import ValidationError

log = logging.getLogger(__name__)

MESSAGE_ID_DOMAIN = "onestop.local"
# A run that took a message and died holds it this long; the next run (every 15 minutes)
# sends it again with the same Message-ID.
LEASE = timedelta(minutes=10)
# A message refused this many times stays in the outbox as failed, visible, never dropped.
MAX_ATTEMPTS = 10
OUTBOX_STATUSES = ("pending", "sent", "failed")


class OutboxMessage(Base):
    """One e-mail to send; `message_id` is its stable Message-ID header (with angle brackets)."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    to_addrs: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    attachments: Mapped[list[OutboxAttachment]] = relationship(
        back_populates="message", order_by="OutboxAttachment.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name="ck_outbox_messages_status"
        ),
        Index(
            "ix_outbox_messages_pending",
            "id",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    @property
    def recipients(self) -> list[str]:
        return [a.strip() for a in self.to_addrs.split(",") if a.strip()]


class OutboxAttachment(Base):
    __tablename__ = "outbox_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    content: Mapped[bytes] = mapped_column(LargeBinary)

    message: Mapped[OutboxMessage] = relationship(back_populates="attachments")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    sender: str = f"onestop@{MESSAGE_ID_DOMAIN}"
    timeout: float = 30.0

    @classmethod
    def from_env(cls) -> SmtpSettings | None:
        """The settings in the environment, or None when no SMTP host is configured."""
        host = os.environ.get("ONESTOP_SMTP_HOST", "").strip()
        if not host:
            return None
        port = os.environ.get("ONESTOP_SMTP_PORT", "").strip() or "25"
        if not port.isdigit():
            raise ValueError(f"ONESTOP_SMTP_PORT must be a number, got {port!r}")
        return cls(
            host=host,
            port=int(port),
            user=os.environ.get("ONESTOP_SMTP_USER") or None,
            password=os.environ.get("ONESTOP_SMTP_PASSWORD") or None,
            starttls=os.environ.get("ONESTOP_SMTP_STARTTLS", "").strip().lower()
            in ("1", "true", "yes", "on"),
            sender=os.environ.get("ONESTOP_SMTP_FROM") or cls.sender,
        )


def make_message_id(*parts: object) -> str:
    """A Message-ID from stable parts: make_message_id("escalation", 7, "step_overdue")."""
    local = "-".join(str(p) for p in parts)
    return f"<{local}@{MESSAGE_ID_DOMAIN}>"


_MESSAGE_ID = re.compile(r"^(<[^<>@\s]+@[^<>@\s]+>|[^<>@\s]+@[^<>@\s]+)$")
_ADDRESS = re.compile(r"^[^<>@\s,]+@[^<>@\s,]+$")


def _normalise_message_id(message_id: str) -> str:
    value = (message_id or "").strip()
    if not _MESSAGE_ID.match(value):
        raise ValidationError("invalid_value", field="message_id", detail="local@domain")
    if not value.startswith("<"):
        value = f"<{value}>"
    return value


def _clean_addresses(to: str | Iterable[str]) -> list[str]:
    items = [to] if isinstance(to, str) else list(to)
    addresses = []
    for item in items:
        for address in str(item).split(","):
            address = address.strip()
            if not address:
                continue
            if not _ADDRESS.match(address):
                raise ValidationError("invalid_value", field="to", detail=address)
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise ValidationError("required", field="to")
    return addresses


def _attachment(item: Attachment | Sequence) -> Attachment:
    if isinstance(item, Attachment):
        return item
    return Attachment(*item)


def enqueue_mail(
    session: Session,
    *,
    to: str | Iterable[str],
    subject: str,
    body: str,
    message_id: str,
    attachments: Iterable[Attachment | Sequence] = (),
) -> OutboxMessage:
    """Put a message in the outbox (flushes, does not commit).

    Idempotent on `message_id`: enqueuing the same id again returns the message already there,
    unchanged. Attachments are `Attachment`s or (filename, bytes, content type) tuples.
    """
    message_id = _normalise_message_id(message_id)
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))
    if existing is not None:
        return existing
    if "\n" in subject or "\r" in subject:
        raise ValidationError("invalid_value", field="subject", detail="one line")
    message = OutboxMessage(
        message_id=message_id,
        to_addrs=", ".join(_clean_addresses(to)),
        subject=subject,
        body=body,
        status="pending",
        attempts=0,
        created_at=clock.now(),
        attachments=[
            OutboxAttachment(filename=a.filename, content_type=a.content_type, content=a.content)
            for a in map(_attachment, attachments)
        ],
    )
    # A concurrent enqueue of the same id wins the unique constraint; return its row.
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        found = session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))
        if found is None:
            raise
        return found
    return message


def enqueue_many(session: Session, messages: Iterable[dict], *, now: datetime | None = None) -> int:
    """Queue many messages (dicts of to, subject, body, message_id; no attachments) with one
    INSERT .. ON CONFLICT DO NOTHING; returns how many were new."""
    created = now or clock.now()
    rows = []
    for message in messages:
        if "\n" in message["subject"] or "\r" in message["subject"]:
            raise ValidationError("invalid_value", field="subject", detail="one line")
        rows.append(
            {
                "message_id": _normalise_message_id(message["message_id"]),
                "to_addrs": ", ".join(_clean_addresses(message["to"])),
                "subject": message["subject"],
                "body": message["body"],
                "status": "pending",
                "attempts": 0,
                "created_at": created,
            }
        )
    if not rows:
        return 0
    return len(
        insert_ignoring_conflicts(
            session, OutboxMessage.__table__, rows, conflict=["message_id"], returning=["id"]
        )
    )


def build_email(message: OutboxMessage, sender: str) -> EmailMessage:
    """The MIME message: UTF-8 text, Vietnamese subject, the stable Message-ID."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = ", ".join(message.recipients)
    email["Subject"] = message.subject
    email["Message-ID"] = message.message_id
    email["Date"] = format_datetime(message.created_at)
    email.set_content(message.body, charset="utf-8")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        email.add_attachment(
            attachment.content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return email


def pending_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
        )
        or 0
    )


def _take(factory: sessionmaker[Session], message_id: int, now: datetime) -> bool:
    """Lease one pending message for this run, committed before sending."""
    table = OutboxMessage.__table__
    with factory() as session, session.begin():
        taken = session.execute(
            update(table)
            .where(
                table.c.id == message_id,
                table.c.status == "pending",
                (table.c.locked_until.is_(None)) | (table.c.locked_until <= now),
            )
            .values(locked_until=now + LEASE, attempts=table.c.attempts + 1)
        ).rowcount
    return taken == 1


def _mark_sent(factory: sessionmaker[Session], message_id: int, now: datetime) -> None:
    table = OutboxMessage.__table__
    with factory() as session, session.begin():
        session.execute(
            update(table)
            .where(table.c.id == message_id)
            .values(status="sent", sent_at=now, locked_until=None, last_error=None)
        )


def _mark_refused(
    factory: sessionmaker[Session], message_id: int, error: str, permanent: bool
) -> None:
    table = OutboxMessage.__table__
    with factory() as session, session.begin():
        attempts = session.scalar(select(table.c.attempts).where(table.c.id == message_id)) or 0
        failed = permanent or attempts >= MAX_ATTEMPTS
        session.execute(
            update(table)
            .where(table.c.id == message_id)
            .values(
                status="failed" if failed else "pending",
                locked_until=None,
                last_error=error[:2000],
            )
        )


def _release(factory: sessionmaker[Session], message_id: int) -> None:
    table = OutboxMessage.__table__
    with factory() as session, session.begin():
        session.execute(update(table).where(table.c.id == message_id).values(locked_until=None))


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    connection = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        if settings.starttls:
            connection.starttls()
        if settings.user:
            connection.login(settings.user, settings.password or "")
    except BaseException:
        connection.close()
        raise
    return connection


def _send(connection: smtplib.SMTP, email: EmailMessage, sender: str, to: list[str]) -> None:
    connection.send_message(email, from_addr=sender, to_addrs=to)


def deliver_outbox(
    session_factory: sessionmaker[Session],
    settings: SmtpSettings | None = None,
    *,
    now: datetime | None = None,
    limit: int | None = None,
) -> int:
    """Send pending messages over SMTP; returns how many were sent.

    Each message is leased (committed), sent, then marked sent in its own transaction. A
    recipient refusal is recorded on the message (permanent 5xx: failed; otherwise it stays
    pending); a lost connection raises, so the caller's retry sends what is left.
    """
    settings = settings or SmtpSettings.from_env()
    with session_factory() as session:
        query = (
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending")
            .order_by(OutboxMessage.id)
        )
        if limit is not None:
            query = query.limit(limit)
        ids = list(session.scalars(query))
    if not ids:
        return 0
    if settings is None:
        log.warning(
            "SMTP is not configured (ONESTOP_SMTP_HOST): %d message(s) kept in the outbox",
            len(ids),
        )
        return 0
    sent = 0
    connection: smtplib.SMTP | None = None
    try:
        for message_id in ids:
            instant = now or clock.now()
            if not _take(session_factory, message_id, instant):
                continue  # sent meanwhile, or held by another run
            with session_factory() as session:
                message = session.get(OutboxMessage, message_id)
                assert message is not None
                email = build_email(message, settings.sender)
                recipients = message.recipients
            try:
                if connection is None:
                    connection = _connect(settings)
                _send(connection, email, settings.sender, recipients)
            except (
                smtplib.SMTPRecipientsRefused,
                smtplib.SMTPDataError,
                smtplib.SMTPSenderRefused,
            ) as exc:
                code = getattr(exc, "smtp_code", None)
                if code is None and isinstance(exc, smtplib.SMTPRecipientsRefused):
                    code = min(c for c, _ in exc.recipients.values())
                _mark_refused(session_factory, message_id, str(exc), permanent=(code or 0) >= 500)
                continue
            except BaseException:
                # Not known to be sent: free it for the retry at once.
                _release(session_factory, message_id)
                raise
            _mark_sent(session_factory, message_id, instant)
            sent += 1
    finally:
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()
    return sent
