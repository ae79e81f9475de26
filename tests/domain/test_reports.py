"""The weekly report: form 06 per unit and field, the laggards, stored and mailed once."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from onestop import reports
from onestop.clock import frozen_at
from onestop.metrics import Figures, RateRow, refresh_metrics
from onestop.reports import StoredReport, previous_week, statistics_table, weekly_reports
from tests.conftest import vn
from tests.domain.test_metrics import FRI, MON, build_week, world  # noqa: F401 (fixture)

NOW = vn(2026, 3, 10, 12, 0)


@pytest.fixture
def week(session, world):  # noqa: F811
    cases = build_week(session, world)
    with frozen_at(NOW):
        refresh_metrics(session)
    return cases


def test_previous_week_is_the_last_full_monday_to_sunday():
    assert previous_week(date(2026, 3, 9)) == (MON, date(2026, 3, 8))
    assert previous_week(date(2026, 3, 11)) == (MON, date(2026, 3, 8))
    assert previous_week(date(2026, 3, 8)) == (date(2026, 2, 23), date(2026, 3, 1))


def test_statistics_table_has_a_line_per_unit_and_field(session, week):
    with frozen_at(NOW):
        lines = statistics_table(session, "HN", MON, FRI)
    layout = [(line.level, line.number, line.unit_code, line.field) for line in lines]
    assert layout == [
        (0, "", None, None),
        (1, "1", "XA-MP", None),
        (2, "1.1", "XA-MP", "Chứng thực"),
        (2, "1.2", "XA-MP", "Hộ tịch"),
        (1, "2", "XA-SD", None),
        (2, "2.1", "XA-SD", "Hộ tịch"),
    ]
    # received, carried over, online, in person or post | resolved, early, on time, late |
    # in progress, within, overdue | withdrawn, stopped, refused
    assert lines[0].values() == [19, 1, 1, 17, 10, 3, 4, 3, 5, 4, 1, 2, 1, 1]
    assert lines[2].values() == [2, 0, 0, 2, 2, 0, 1, 1, 0, 0, 0, 0, 0, 0]
    for line in lines:
        assert line.figures.check_invariant(), line.label


def test_workbook_carries_form_06_and_the_laggards(session, week):
    with frozen_at(NOW):
        content = reports.on_time_workbook(session, "HN", MON, FRI)
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == ["Biểu 06", "Chậm nhất"]
    sheet = book["Biểu 06"]
    assert sheet["A1"].value == "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"
    assert sheet["A3"].value == "Kỳ báo cáo: từ ngày 02/03/2026 đến ngày 06/03/2026"
    assert [sheet.cell(6, c).value for c in (1, 2, 3, 7, 11, 14, 17)] == [
        "STT", "Đơn vị / Lĩnh vực giải quyết", "Số hồ sơ nhận giải quyết", "Số hồ sơ đã giải quyết",
        "Số hồ sơ đang giải quyết", "Số hồ sơ rút, dừng, từ chối", "Đánh giá (Quyết định 766)",
    ]
    assert sheet.cell(7, 4).value == "Kỳ trước chuyển qua"
    total = [sheet.cell(9, c).value for c in range(1, 19)]
    assert total == [None, "TỔNG CỘNG", 19, 1, 1, 17, 10, 3, 4, 3, 5, 4, 1, 2, 1, 1,
                     round(100 * 11 / 15, 1), round(20 * 11 / 15, 2)]
    assert sheet.cell(10, 2).value == "UBND xã Minh Phú"
    assert sheet.cell(11, 2).value.strip() == "Chứng thực"
    laggard_titles = [row[0] for row in book["Chậm nhất"].iter_rows(values_only=True) if row and row[0]]
    assert {"Đơn vị", "Thủ tục hành chính", "Cán bộ, công chức"} <= set(laggard_titles)


def test_laggards_are_ranked_by_the_upper_bound_not_the_raw_rate(session, week, monkeypatch):
    rows = [
        RateRow("ONE", "one late of one", 0, 1, 0.0, 0.0, 0.7935),
        RateRow("MANY", "forty of a hundred", 40, 100, 0.4, 0.3094, 0.4980),
        RateRow("GOOD", "all on time", 5, 5, 1.0, 0.5655, 1.0),
    ]
    monkeypatch.setattr(reports, "rates_by", lambda *a, **k: list(rows))
    found = reports.laggards(session, "HN", MON, FRI)
    assert [r.key for r in found["units"]] == ["MANY", "ONE"]


def test_weekly_report_is_stored_once_and_mailed_once_per_unit_and_week(session, world, week):  # noqa: F811
    world.chair.email = "chutich@minhphu.gov.vn"
    session.flush()
    from onestop.mail import OutboxMessage

    with frozen_at(vn(2026, 3, 9, 7, 0)):
        first = weekly_reports(session)
    with frozen_at(vn(2026, 3, 9, 7, 30)):
        again = weekly_reports(session)
    assert (first.period_start, first.period_end) == (MON, date(2026, 3, 8))
    assert [r.unit_id for r in first.reports] == [world.units["XA-MP"].id]
    assert session.scalar(select(func.count()).select_from(StoredReport)) == 1
    assert again.reports[0].id == first.reports[0].id
    stored = again.reports[0]
    assert stored.filename == "bao-cao-tuan-XA-MP-20260302-20260308.xlsx"
    assert stored.size == len(stored.content) and stored.content[:2] == b"PK"
    assert stored.summary["figures"]["resolved"]["total"] == 9
    messages = session.scalars(select(OutboxMessage)).all()
    assert len(messages) == 1 and first.mailed == again.mailed == [messages[0].message_id]
    message = messages[0]
    assert message.to_addrs == "chutich@minhphu.gov.vn"
    assert "02/03" in message.subject and "UBND xã Minh Phú" in message.subject
    # Week to Sunday 8 March: "at_risk" (due Friday 10:00) is overdue by then: 9 of 14.
    assert "Tỷ lệ đúng hạn (Quyết định 766): 64.3%, điểm 12.86/20" in message.body
    assert [a.filename for a in message.attachments] == [stored.filename]
    assert message.attachments[0].content_type == reports.XLSX


def test_a_unit_without_cases_gets_an_empty_but_valid_report(session, world):  # noqa: F811
    with frozen_at(NOW):
        refresh_metrics(session)
        report = reports.store_weekly_report(session, world.units["XA-SD"], MON, date(2026, 3, 8))
    assert report.summary["figures"]["received"]["total"] == 0
    assert report.summary["figures"]["on_time_rate"] is None
    book = load_workbook(io.BytesIO(report.content))
    assert book["Biểu 06"].cell(9, 2).value == "TỔNG CỘNG"
    assert Figures().check_invariant()


# --- the command line -------------------------------------------------------------------------

def test_cli_report_on_time_as_json_table_and_excel(database_url, tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from onestop.cli import main
    from tests.domain.test_metrics import seed_week

    seed_week(database_url)
    monkeypatch.setenv("ONESTOP_DATABASE_URL", database_url)
    runner = CliRunner()
    period = ["--unit", "XA-MP", "--from", "2026-03-02", "--to", "06/03/2026"]
    result = runner.invoke(main, ["report", "on-time", *period, "--format", "json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["received"] == {"total": 18, "online": 1, "in_person": 16, "of_which_post": 1, "carried_over": 1}
    assert figures["resolved"] == {"total": 9, "early": 2, "on_time": 4, "late": 3}
    assert (figures["in_progress"]["total"], figures["withdrawn"], figures["stopped"]) == (5, 2, 1)
    assert figures["on_time_rate"] == round(10 / 14, 4) and figures["score_766"] == 14.29
    table = runner.invoke(main, ["report", "on-time", *period, "--no-refresh"])
    assert table.exit_code == 0, table.output
    first_line = next(line for line in table.output.splitlines() if line.startswith("XA-MP "))
    assert first_line.split()[1:4] == ["18", "1", "9"] and "71.4" in first_line
    target = tmp_path / "report.xlsx"
    excel = runner.invoke(main, ["report", "on-time", *period, "--format", "xlsx", "--output", str(target)])
    assert excel.exit_code == 0, excel.output
    assert load_workbook(target)["Biểu 06"].cell(10, 2).value == "UBND xã Minh Phú"
    backwards = runner.invoke(main, ["report", "on-time", "--unit", "XA-MP", "--from", "2026-03-06", "--to", "2026-03-02"])
    assert backwards.exit_code == 2
    unknown = runner.invoke(main, ["report", "on-time", "--unit", "NOPE", "--from", "2026-03-02", "--to", "2026-03-06"])
    assert unknown.exit_code == 2 and "unit_not_found" in unknown.output


def test_cli_flows_run_needs_no_prefect_server(database_url, monkeypatch):
    import json

    from click.testing import CliRunner

    from onestop.cli import main
    from tests.domain.test_metrics import seed_week

    seed_week(database_url, chair_email="chutich@minhphu.gov.vn")
    monkeypatch.setenv("ONESTOP_DATABASE_URL", database_url)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    from prefect.tasks import Task

    task_call = Task.__call__
    runner = CliRunner()
    first = runner.invoke(main, ["flows", "run", "metrics"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["full"] is True
    day = runner.invoke(main, ["flows", "run", "metrics", "--date", "04/03/2026"])
    assert json.loads(day.output)["first"] == json.loads(day.output)["last"] == "2026-03-04"
    weekly = runner.invoke(main, ["flows", "run", "reports", "--date", "2026-03-09"])
    assert weekly.exit_code == 0, weekly.output
    assert json.loads(weekly.output)["mailed"] == ["<weekly-report-XA-MP-2026-03-02@onestop.local>"]
    assert Task.__call__ is task_call  # tasks are Prefect tasks again after the run
