"""The CI variant of the fault run (`python -m bench.faults --quick`): gunicorn on PostgreSQL under
API load, one worker SIGKILLed, the escalation run SIGKILLed mid-run and then run to the end, and
races for one step. Nothing acknowledged may be lost, nothing duplicated or half-written, and
each race has one winner and only 409s besides. (The PostgreSQL restart is in the long run only:
it would cut every other test's connections.)"""

from __future__ import annotations

import json
import os

import pytest
import sqlalchemy as sa

from bench import faults


def test_quick_fault_run_loses_and_duplicates_nothing(tmp_path):
    url = os.environ.get("ONESTOP_FAULTS_POSTGRES_URL", faults.DEFAULT_URL)
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {url} is unreachable: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL at {url} is unreachable: {exc}")
    report = tmp_path / "faults.json"

    status = faults.run(["--quick", "--json", str(report)])

    summary = json.loads(report.read_text())
    assert summary["verdict"] == {
        "lost": 0, "duplicated": 0, "half_written": 0, "broken_links": 0, "races_not_one_winner": 0,
    }
    assert status == 0
    assert summary["acknowledged"]["receipts"] > 0 and summary["acknowledged"]["handovers"] > 0
    assert any(f.startswith("SIGKILL gunicorn worker") for f in summary["faults"])
    assert any("completed" in f for f in summary["faults"])
    assert summary["checks"]["escalations"] > 0 and summary["checks"]["undelivered_escalations"] == 0
    assert all(r == {"200": 1, "409": 7} for r in summary["races"])
