"""What every flow needs: a session factory for the application database, opened inside tasks
(sessions are never task arguments: Prefect hashes inputs for cache keys), retries on database
errors, and the two ways to run the flows of `flows.FLOWS`:

- `run_once(name, ...)`: one run now, in this process, with no Prefect server: the flow's body
  (`flow.fn`) runs with each task called as the plain function it wraps (`onestop flows run`);
- `serve_all()`: every flow as a deployment with its cron schedules in `flows.TIMEZONE`, served
  against the Prefect server named by PREFECT_API_URL (`onestop flows serve`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import logging
import sys
from collections.abc import Iterator
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from onestop.db import database_url, make_engine, make_session_factory

# Back-off between attempts of a task that met a database error (seconds).
DATABASE_RETRY_DELAYS = [2, 10, 30, 90]

log = logging.getLogger("flows")


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    """Sessions on `url` (default: ONESTOP_DATABASE_URL); one engine per URL per process."""
    return _factory(url or database_url())


@functools.lru_cache(maxsize=8)
def _factory(url: str) -> sessionmaker[Session]:
    return make_session_factory(make_engine(url))


def database_error(task, task_run, state) -> bool:
    """Prefect retry condition: retry when the database was away, busy or locked, not on bugs."""
    error = state.data if isinstance(state.data, BaseException) else None
    if error is None:
        try:
            state.result(raise_on_failure=True)
        except (OperationalError, DBAPIError):
            return True
        except Exception:  # noqa: BLE001 (anything else is a bug, not the database)
            return False
    return isinstance(error, (OperationalError, DBAPIError))


# --- running flows ---------------------------------------------------------------------------

def load_flow(name: str):
    from flows import FLOWS

    try:
        target = FLOWS[name]
    except KeyError:
        raise KeyError(f"no flow {name!r}; known: {', '.join(sorted(FLOWS))}") from None
    module_name, attribute = target.split(":")
    return getattr(importlib.import_module(module_name), attribute)


def _plain_logger(*_args: Any, **_kwargs: Any) -> logging.Logger:
    return log


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Inside this block a flow body can run with no Prefect API at all: calling a task calls
    the function it wraps (no retries, no task runs recorded), and `get_run_logger` gives the
    `flows` logger. For one-off runs from the command line only; flows that run this way call
    their tasks directly (no `.submit`/`.map`)."""
    from prefect.tasks import Task

    def call(self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    patched = [
        (module, "get_run_logger", module.get_run_logger)
        for name, module in list(sys.modules.items())
        if (name == "flows" or name.startswith("flows.")) and hasattr(module, "get_run_logger")
    ]
    original_call = Task.__call__
    Task.__call__ = call  # type: ignore[method-assign]
    for module, attribute, _ in patched:
        setattr(module, attribute, _plain_logger)
    try:
        yield
    finally:
        Task.__call__ = original_call  # type: ignore[method-assign]
        for module, attribute, value in patched:
            setattr(module, attribute, value)


def run_once(name: str, *, day: str | None = None, database_url: str | None = None) -> Any:
    """One run of flow `name` now, without a Prefect server. `day` goes to the flow's `day`
    (or `now`, or `week`) parameter."""
    flow = load_flow(name)
    parameters = inspect.signature(flow.fn).parameters
    kwargs: dict[str, Any] = {}
    if day is not None:
        for candidate in ("day", "now", "week"):
            if candidate in parameters:
                kwargs[candidate] = day
                break
        else:
            raise ValueError(f"flow {name!r} takes no date")
    if "database_url" in parameters:
        kwargs["database_url"] = database_url
    with offline():
        return flow.fn(**kwargs)


def deployments() -> list:
    """Every flow of FLOWS as a deployment named after it, scheduled by its module's SCHEDULES
    (cron strings read in Asia/Ho_Chi_Minh)."""
    from prefect.schedules import Cron

    from flows import FLOWS, TIMEZONE

    out = []
    for name in FLOWS:
        flow = load_flow(name)
        module = sys.modules[flow.fn.__module__]
        schedules = [Cron(cron, timezone=TIMEZONE) for cron in getattr(module, "SCHEDULES", [])]
        out.append(flow.to_deployment(name=name, schedules=schedules, tags=["onestop"]))
    return out


def serve_all(limit: int | None = None) -> None:
    """Register every deployment with the Prefect server at PREFECT_API_URL and run their
    scheduled runs in this process until stopped (Ctrl-C pauses the schedules)."""
    from prefect import serve
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise RuntimeError(
            "PREFECT_API_URL is not set: schedules need a real Prefect server "
            "(prefect server start; PREFECT_API_URL=http://127.0.0.1:4200/api)"
        )
    serve(*deployments(), limit=limit)
