"""The weekly report flow end to end under Prefect, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.reports import weekly_report_flow
from onestop.db import make_engine
from onestop.reports import StoredReport
from tests.domain.test_metrics import seed_week


def test_weekly_report_flow_stores_and_queues_once(database_url):
    from onestop.mail import OutboxMessage

    seed_week(database_url, chair_email="chutich@minhphu.gov.vn")
    engine = make_engine(database_url)
    first = weekly_report_flow(day="2026-03-09", database_url=database_url)
    second = weekly_report_flow(day="2026-03-09", database_url=database_url)
    assert (first["period_start"], first["period_end"]) == ("2026-03-02", "2026-03-08")
    assert first["reports"] == second["reports"] == ["bao-cao-tuan-XA-MP-20260302-20260308.xlsx"]
    assert first["mailed"] == second["mailed"] == ["<weekly-report-XA-MP-2026-03-02@onestop.local>"]
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(StoredReport)) == 1
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
        report = session.scalars(select(StoredReport)).one()
        assert report.summary["figures"]["received"]["total"] == 18
        assert report.content[:2] == b"PK"
    engine.dispose()
