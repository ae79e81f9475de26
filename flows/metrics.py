"""On-time figures, every 15 minutes in office hours and nightly (RULES.md sections 4 and 5).

One task, one transaction: the days a change can have touched are deleted and recomputed in the
database, so a failed run leaves the previous figures whole and a rerun replaces the same days.
The nightly run closes yesterday: its open cases are then evaluated at the end of the day.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.common import DATABASE_RETRY_DELAYS, database_error, session_factory
from onestop.db import session_scope
from onestop.metrics import compute_days, refresh_metrics

# Office hours (Saturdays too: some are working days in exchange), the close, and at night.
SCHEDULES = ["*/15 8-16 * * 1-6", "0 17 * * 1-6", "30 0 * * *"]


@task(
    retries=len(DATABASE_RETRY_DELAYS), retry_delay_seconds=DATABASE_RETRY_DELAYS,
    retry_condition_fn=database_error, cache_policy=NO_CACHE,
)
def refresh(day: str | None, database_url: str | None) -> dict[str, Any]:
    """Recompute what changed since the last run (or, given `day`, that local day only)."""
    with session_scope(session_factory(database_url)) as session:
        if day:
            one = date.fromisoformat(day)
            result = compute_days(session, one, one)
        else:
            result = refresh_metrics(session)
    return result.to_dict()


@flow(name="metrics")
def metrics_flow(day: str | None = None, database_url: str | None = None) -> dict[str, Any]:
    """Bring the on-time figures up to now; with `day` (YYYY-MM-DD), recompute that day."""
    summary = refresh(day, database_url)
    get_run_logger().info("metrics: %s", summary)
    return summary
