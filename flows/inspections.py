"""Surprise inspections, weekly: Monday 06:00 draws the week's sample from last week's cases.

The seed is ONESTOP_INSPECTION_SEED (keep it secret, or the surprise is predictable); the same
seed and week always draw the same sample, and a unit already drawn for the week is left alone.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task

from flows.common import session_factory
from flows.escalation import DATABASE_TASK
from flows.signals import local_today
from onestop.db import session_scope
from onestop.inspections import run_inspections, week_of

SCHEDULES = ["0 6 * * 1"]
SEED_ENV = "ONESTOP_INSPECTION_SEED"


@task(**DATABASE_TASK)
def draw(week_start: str, seed: str, database_url: str | None) -> dict[str, Any]:
    with session_scope(session_factory(database_url)) as session:
        result = run_inspections(session, date.fromisoformat(week_start), seed)
    return {
        "week_start": result.week_start.isoformat(),
        "drawn": result.drawn,
        "skipped_units": result.skipped_units,
        "unassigned": result.unassigned,
    }


@flow(name="inspections")
def inspections_flow(
    week: str | None = None, seed: str | None = None, database_url: str | None = None
) -> dict[str, Any]:
    """Draw the sample of the week containing `week` (ISO date; default: this week)."""
    logger = get_run_logger()
    if seed is None:
        seed = os.environ.get(SEED_ENV)
        if not seed:
            logger.warning("%s is not set: the sample is predictable from the week alone", SEED_ENV)
            seed = "onestop"
    day = date.fromisoformat(week) if week else local_today()
    summary = draw(week_of(day).isoformat(), seed, database_url)
    logger.info("inspections: %s", summary)
    return summary
