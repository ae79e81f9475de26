"""Escalation every 15 minutes (RULES.md section 7): claims at any hour, delivery in office hours.

Three tasks, each opening its own session: claim (commits the claims before anything is sent),
deliver (inbox entries and queued e-mails, office hours only), send (the outbox over SMTP).
Database and SMTP errors are retried with back-off; every side effect is idempotent in the
application database (unique claim key, unique inbox key, stable Message-ID), so a retry or a
second run at once can never escalate twice.
"""

from __future__ import annotations

import smtplib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import TIMEZONE
from flows.common import DATABASE_RETRY_DELAYS, database_error, session_factory
from onestop import clock, escalation, mail
from onestop.calendar_store import work_calendar

SCHEDULES = ["*/15 * * * *"]


def transient(task, task_run, state) -> bool:
    """Prefect retry condition: the database or the mail server was briefly away or busy
    (a refused recipient is recorded on its message, not retried)."""
    error = state.data if isinstance(state.data, BaseException) else None
    return isinstance(error, (smtplib.SMTPException, OSError)) or database_error(
        task, task_run, state
    )


# Side effects are idempotent in the database, so a task always runs (no result cache).
DATABASE_TASK: dict[str, Any] = {
    "retries": len(DATABASE_RETRY_DELAYS),
    "retry_delay_seconds": DATABASE_RETRY_DELAYS,
    "retry_condition_fn": database_error,
    "cache_policy": NO_CACHE,
}
RETRY: dict[str, Any] = {**DATABASE_TASK, "retry_condition_fn": transient}


def parse_instant(value: str | None) -> datetime:
    """An ISO instant (local time in TIMEZONE if it has no offset), or the clock's now."""
    if not value:
        return clock.now()
    instant = datetime.fromisoformat(value)
    return instant if instant.tzinfo else instant.replace(tzinfo=ZoneInfo(TIMEZONE))


@task(**RETRY)
def claim(now: str, database_url: str | None) -> dict[str, Any]:
    candidates, claimed, by_level = escalation.claim_escalations(
        session_factory(database_url), parse_instant(now)
    )
    return {"candidates": candidates, "fired": len(claimed), "fired_by_level": by_level}


@task(**RETRY)
def deliver(now: str, database_url: str | None) -> dict[str, Any]:
    factory = session_factory(database_url)
    instant = parse_instant(now)
    with factory() as session:
        in_hours = escalation.in_office_hours(work_calendar(session), instant)
    if not in_hours:
        return {"in_office_hours": False, "delivered": 0, "notifications": 0, "emails_queued": 0}
    delivered, notifications, emails = escalation.deliver_escalations(factory, instant)
    return {
        "in_office_hours": True,
        "delivered": delivered,
        "notifications": notifications,
        "emails_queued": emails,
    }


@task(**RETRY)
def send(now: str, database_url: str | None) -> dict[str, Any]:
    factory = session_factory(database_url)
    settings = mail.SmtpSettings.from_env()
    sent = mail.deliver_outbox(factory, settings, now=parse_instant(now))
    with factory() as session:
        pending = mail.pending_count(session)
    if settings is None and pending:
        get_run_logger().warning(
            "SMTP is not configured (ONESTOP_SMTP_HOST): %d e-mail(s) wait in the outbox", pending
        )
    return {"emails_sent": sent, "emails_pending": pending, "smtp_configured": settings is not None}


@flow(name="escalation")
def escalation_flow(now: str | None = None, database_url: str | None = None) -> dict[str, Any]:
    """One escalation pass at `now` (ISO instant; default: the current time)."""
    instant = parse_instant(now).isoformat()
    summary: dict[str, Any] = {"now": instant}
    summary.update(claim(instant, database_url))
    summary.update(deliver(instant, database_url))
    if summary["in_office_hours"]:
        summary.update(send(instant, database_url))
    get_run_logger().info("escalation: %s", summary)
    return summary
