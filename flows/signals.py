"""Signs of pushing work around, nightly (RULES.md section 8): yesterday's signals, replaced
whole."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task

from flows import TIMEZONE
from flows.common import session_factory
from flows.escalation import DATABASE_TASK, parse_instant
from onestop.db import session_scope
from onestop.signals import run_signals

SCHEDULES = ["30 1 * * *"]  # 01:30, for the day that just ended


def local_today() -> date:
    return parse_instant(None).astimezone(ZoneInfo(TIMEZONE)).date()


def parse_day(value: str | None) -> date:
    """An ISO date, or yesterday in local time."""
    return date.fromisoformat(value) if value else local_today() - timedelta(days=1)


@task(**DATABASE_TASK)
def compute(day: str, database_url: str | None) -> dict[str, Any]:
    # One transaction: the day's signals are replaced whole, or not at all.
    with session_scope(session_factory(database_url)) as session:
        run = run_signals(session, date.fromisoformat(day))
    return {"day": day, "cases_examined": run.cases_examined, "by_kind": run.by_kind}


@flow(name="signals")
def signals_flow(day: str | None = None, database_url: str | None = None) -> dict[str, Any]:
    """Recompute the signals of `day` (ISO date; default: yesterday)."""
    summary = compute(parse_day(day).isoformat(), database_url)
    get_run_logger().info("signals: %s", summary)
    return summary
