"""The weekly report, Monday 07:00 (RULES.md section 5): the previous week's statistics table
per unit with a chair, stored for download and put in the outbox to the chairs.

Both side effects are idempotent: the stored report is keyed by unit and week (a rerun replaces
it), and each e-mail's Message-ID names the unit and the week, so it is queued once. The outbox
is sent by the escalation flow, in office hours.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.common import DATABASE_RETRY_DELAYS, database_error, session_factory
from flows.metrics import refresh
from onestop.db import session_scope
from onestop.reports import weekly_reports

SCHEDULES = ["0 7 * * 1"]


@task(
    retries=len(DATABASE_RETRY_DELAYS), retry_delay_seconds=DATABASE_RETRY_DELAYS,
    retry_condition_fn=database_error, cache_policy=NO_CACHE,
)
def build_and_queue(day: str | None, database_url: str | None) -> dict[str, Any]:
    with session_scope(session_factory(database_url)) as session:
        result = weekly_reports(session, date.fromisoformat(day) if day else None)
        return result.to_dict()


@flow(name="reports")
def weekly_report_flow(day: str | None = None, database_url: str | None = None) -> dict[str, Any]:
    """The report of the full week before `day` (YYYY-MM-DD; default: today)."""
    figures = refresh(None, database_url)
    summary = build_and_queue(day, database_url)
    summary["metrics"] = figures
    get_run_logger().info("weekly reports: %s", summary)
    return summary
