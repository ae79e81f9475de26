"""Recompute open cases' due instants after a calendar change (RULES.md section 3).

Nightly, and callable after an administrator's change (`reason` names it). Each case whose due
instant moves gets a `due_recomputed` event with the reason; a case that does not move gets
nothing, so a rerun records nothing new.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.common import session_factory
from flows.escalation import DATABASE_TASK, parse_instant
from onestop.db import session_scope
from onestop.deadlines import reproject_open_cases
from onestop.models import CalendarException

SCHEDULES = ["15 0 * * *"]  # 00:15, before the day's first escalation pass
KIND_WORDS = {"day_off": "nghỉ", "working_day": "làm việc"}
NIGHTLY_REASON = "Đối chiếu hằng đêm hạn giải quyết với lịch làm việc hiện hành"


def change_reason(session: Session, days: int = 2) -> str:
    """The reason to record: the calendar exceptions added lately, or the nightly check."""
    since = parse_instant(None) - timedelta(days=days)
    recent = session.scalars(
        select(CalendarException)
        .where(CalendarException.created_at >= since)
        .order_by(CalendarException.day)
    ).all()
    if not recent:
        return NIGHTLY_REASON
    parts = [
        f"{KIND_WORDS[e.kind]} ngày {e.day:%d/%m/%Y} ({e.legal_reference})" for e in recent
    ]
    return "Lịch làm việc thay đổi: " + "; ".join(parts)


@task(**DATABASE_TASK)
def recompute(reason: str | None, database_url: str | None) -> dict[str, Any]:
    with session_scope(session_factory(database_url)) as session:
        reason = reason or change_reason(session)
        changed = reproject_open_cases(session, reason)
    return {"reason": reason, "changed": changed}


@flow(name="deadlines")
def deadlines_flow(reason: str | None = None, database_url: str | None = None) -> dict[str, Any]:
    """Re-project every open case's due instant with the calendar now in force."""
    summary = recompute(reason, database_url)
    get_run_logger().info("deadlines: %s", summary)
    return summary
