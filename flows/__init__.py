"""Prefect 3 flows: thin, scheduled wrappers over domain functions in `onestop`.

`FLOWS` maps each flow's name (as in `onestop flows run NAME`) to "module:attribute" of its
`@flow` function. Each flow module also declares `SCHEDULES`: a list of cron strings, read in the
time zone `TIMEZONE`, that `onestop flows serve` registers as deployments.

The pattern (see flows/metrics.py): a `@flow` taking simple arguments (`day: str | None`,
`database_url: str | None`) that calls `@task`s; each task opens its own session with
`flows.common.session_factory(database_url)` (never a session as an argument), commits its own
transaction, retries database errors with back-off (`flows.common.database_error`), and keeps
its side effects idempotent in the application database. Flow bodies call tasks directly (no
`.submit`/`.map`), so that `onestop flows run NAME` can run them with no Prefect server
(`flows.common.run_once`).
"""

import os

# The machines are offline: Prefect must not phone home (set before Prefect is imported).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

TIMEZONE = "Asia/Ho_Chi_Minh"

FLOWS: dict[str, str] = {
    "metrics": "flows.metrics:metrics_flow",
    "reports": "flows.reports:weekly_report_flow",
    "escalation": "flows.escalation:escalation_flow",
    "signals": "flows.signals:signals_flow",
    "inspections": "flows.inspections:inspections_flow",
    "deadlines": "flows.deadlines:deadlines_flow",
}
