"""The metrics flow end to end under Prefect, on SQLite and PostgreSQL; and the deployments."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from flows import FLOWS, TIMEZONE
from flows.common import deployments
from flows.metrics import metrics_flow
from onestop.clock import frozen_at
from onestop.db import make_engine
from onestop.metrics import CaseDayFigures, MetricState, on_time_report
from tests.conftest import vn
from tests.domain.test_metrics import FRI, MON, dump, seed_week


def test_metrics_flow_computes_and_a_rerun_replaces(database_url):
    seed_week(database_url)
    state = metrics_flow(database_url=database_url, return_state=True)
    assert state.is_completed()
    first = state.result()
    assert first["full"] and first["first"] == "2026-02-27" and first["case_rows"] > 0
    engine = make_engine(database_url)
    with Session(engine) as session:
        with frozen_at(vn(2026, 3, 10, 12, 0)):
            figures = on_time_report(session, "XA-MP", MON, FRI)
        assert figures["resolved"] == {"total": 9, "early": 2, "on_time": 4, "late": 3}
        assert figures["in_progress"]["total"] == 5 and figures["invariant_holds"]
        assert session.get(MetricState, "metrics").computed_to is not None
        before = dump(session)
    # A named day is recomputed alone, and replaces what was there.
    again = metrics_flow(day="2026-03-04", database_url=database_url)
    assert (again["first"], again["last"], again["full"]) == ("2026-03-04", "2026-03-04", False)
    with Session(engine) as session:
        assert dump(session) == before
        days = session.scalar(sa.select(sa.func.count(sa.distinct(CaseDayFigures.day))))
        assert days >= (date(2026, 3, 10) - date(2026, 2, 27)).days
    engine.dispose()


def test_every_flow_is_a_deployment_with_cron_schedules_in_vietnam_time():
    from prefect.client.orchestration import get_client

    built = {d.name: d for d in deployments()}
    assert set(built) == set(FLOWS)
    for deployment in built.values():
        assert deployment.schedules, deployment.name
        for schedule in deployment.schedules:
            assert schedule.schedule.timezone == TIMEZONE
    assert [s.schedule.cron for s in built["reports"].schedules] == ["0 7 * * 1"]
    built["metrics"].apply()  # registered with the harness's real API server
    with get_client(sync_client=True) as client:
        stored = client.read_deployment_by_name("metrics/metrics")
    assert {s.schedule.cron for s in stored.schedules} == {"*/15 8-16 * * 1-6", "0 17 * * 1-6", "30 0 * * *"}
    assert {s.schedule.timezone for s in stored.schedules} == {TIMEZONE}


def test_database_errors_are_retried_and_bugs_are_not(sqlite_template, tmp_path, monkeypatch):
    import shutil

    from prefect import flow
    from sqlalchemy.exc import OperationalError

    import flows.metrics as module

    shutil.copy(sqlite_template, tmp_path / "onestop.db")
    url = f"sqlite:///{tmp_path / 'onestop.db'}"
    calls = []
    real = module.refresh_metrics

    def flaky(session, **kwargs):
        calls.append("flaky")
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return real(session, **kwargs)

    monkeypatch.setattr(module, "refresh_metrics", flaky)
    quick = module.refresh.with_options(retry_delay_seconds=0)

    @flow
    def once():
        return quick(None, url)

    assert once()["full"] is True and calls == ["flaky", "flaky"]

    def broken(session, **kwargs):
        calls.append("bug")
        raise ValueError("a bug, not the database")

    monkeypatch.setattr(module, "refresh_metrics", broken)
    assert once(return_state=True).is_failed()
    assert calls.count("bug") == 1
