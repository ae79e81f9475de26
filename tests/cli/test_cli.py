"""The admin CLI as administrators and our acceptance tests use it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from onestop.cli import main

CATALOGUE = Path(__file__).resolve().parents[2] / "onestop" / "data" / "procedures.csv"


@pytest.fixture
def run(database_url, monkeypatch):
    monkeypatch.setenv("ONESTOP_DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


def test_units_officers_and_procedures_are_set_up_from_the_command_line(run):
    assert run("db", "upgrade").exit_code == 0
    assert run("units", "add", "HN", "Thành phố Hà Nội", "--kind", "province").exit_code == 0
    result = run("units", "add", "XA-MP", "UBND xã Minh Phú", "--kind", "commune", "--parent", "HN")
    assert result.exit_code == 0, result.output
    run("units", "add", "HU-SS", "Huyện Sóc Sơn (cũ)", "--kind", "district", "--parent", "HN",
        "--effective-from", "2008-08-01", "--effective-to", "30/06/2025")
    added = run(
        "officers", "add", "mc.minhphu", "--name", "Trần Văn An", "--unit", "XA-MP",
        "--role", "desk", "--role", "civil_status_officer", "--password-stdin",
        input="mật-khẩu-dài-đủ\n",
    )
    assert added.exit_code == 0, added.output
    loaded = run("procedures", "load", str(CATALOGUE))
    assert loaded.output.strip() == "16 created, 0 new versions, 0 unchanged"
    assert run("procedures", "load", str(CATALOGUE)).output.strip() == "0 created, 0 new versions, 16 unchanged"
    tree = run("units", "list").output.splitlines()
    assert tree[0].startswith("HN  Thành phố Hà Nội") and tree[1].startswith("  HU-SS")


def test_domain_refusals_exit_2_with_a_vietnamese_message_and_write_nothing(run):
    run("units", "add", "HN", "Hà Nội", "--kind", "province")
    result = run("units", "add", "XA-1", "Xã 1", "--parent", "NOPE")
    assert result.exit_code == 2
    assert "unit_not_found: Không tìm thấy đơn vị có mã NOPE." in result.output
    assert "XA-1" not in run("units", "list").output
    bad_kind = run("units", "add", "XA-2", "Xã 2", "--kind", "galaxy")
    assert bad_kind.exit_code == 2 and "kind" in bad_kind.output
    short = run("officers", "add", "x.y", "--name", "X", "--unit", "HN", "--role", "desk",
                "--password-stdin", input="short\n")
    assert short.exit_code == 2 and "password" in short.output


def test_a_bad_catalogue_names_the_line_and_column(run, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(CATALOGUE.read_text(encoding="utf-8").replace("same_day,0,15:00", "same_day,0,99:00", 1), encoding="utf-8")
    result = run("procedures", "load", str(bad))
    assert result.exit_code == 2
    assert "Dòng 2, cột «same_day_cutoff»" in result.output
    assert run("procedures", "load", str(CATALOGUE)).output.startswith("16 created")


def test_calendar_explain_lists_holidays_and_exchanged_saturdays(run):
    output = run("calendar", "explain", "--from", "2026-08-21", "--to", "2026-09-03").output
    lines = {line[4:14]: line for line in output.splitlines() if line[4:14].count("/") == 2}
    assert "làm việc" in lines["22/08/2026"] and "exchange" in lines["22/08/2026"]
    assert "nghỉ" in lines["31/08/2026"]
    assert "nghỉ" in lines["02/09/2026"] and "nghỉ" in lines["01/09/2026"]
    assert output.strip().endswith("8 working day(s) of 14")


def test_calendar_exceptions_from_the_cli_show_in_explain(run):
    assert run("calendar", "add-day-off", "2026-03-03", "--reference", "TB 5/TB-UBND").exit_code == 0
    data = json.loads(run("calendar", "explain", "--from", "03/03/2026", "--to", "03/03/2026", "--format", "json").output)
    assert data[0]["is_working"] is False and "TB 5/TB-UBND" in data[0]["reason"]
    bad = run("calendar", "explain", "--from", "2026-13-01", "--to", "2026-12-31")
    assert bad.exit_code == 2 and "not a date" in bad.output


def test_a_calendar_exception_is_removed_from_the_cli_with_a_reason(run):
    assert run("calendar", "add-day-off", "2026-03-03", "--reference", "TB 5/TB-UBND").exit_code == 0
    no_reason = run("calendar", "remove", "2026-03-03", "--reason", " ")
    assert no_reason.exit_code == 2 and "reason" in no_reason.output
    unknown = run("calendar", "remove", "2026-03-04", "--reason", "nhầm")
    assert unknown.exit_code == 2 and "04/03/2026" in unknown.output
    removed = run("calendar", "remove", "03/03/2026", "--reason", "Thông báo bị thu hồi")
    assert removed.exit_code == 0, removed.output
    assert "day off 03/03/2026 removed; 0 open case(s) got a new due instant" in removed.output
    data = json.loads(run("calendar", "explain", "--from", "03/03/2026", "--to", "03/03/2026", "--format", "json").output)
    assert data[0]["is_working"] is True


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_console_script_is_installed(database_url, tmp_path):
    script = shutil.which("onestop", path=str(Path(sys.executable).parent))
    assert script, "the onestop console script is not installed next to this Python"
    done = subprocess.run(
        [script, "db", "upgrade"], capture_output=True, text=True, timeout=60,
        env={"ONESTOP_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("database at revision ")


def test_the_demo_comes_with_its_on_time_figures_and_is_seeded_once(run, database_url):
    import sqlalchemy as sa

    assert run("db", "upgrade").exit_code == 0
    seeded = run("seed", "--demo", "--months", "1", "--if-empty")
    assert seeded.exit_code == 0, seeded.output
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        snapshot_days = connection.scalar(sa.text("SELECT count(*) FROM metric_case_days"))
        cases = connection.scalar(sa.text("SELECT count(*) FROM cases"))
    engine.dispose()
    assert cases > 0 and snapshot_days > 0  # the dashboards have figures from the first view
    again = run("seed", "--demo", "--if-empty")
    assert again.exit_code == 0 and "nothing seeded" in again.output
