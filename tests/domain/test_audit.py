"""Tamper evidence: a history edited behind the application's back is reported."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session

from onestop import lifecycle as lc
from onestop.audit import verify_chains
from onestop.cli import main
from onestop.clock import frozen_at
from onestop.db import make_engine
from tests.conftest import vn
from tests.factories import build_world


@pytest.fixture
def recorded(database_url):
    engine = make_engine(database_url)
    with frozen_at(vn(2026, 3, 2, 8, 0)) as clock, Session(engine) as session:
        world = build_world(session)
        cases = [world.receive("HT-XNHN"), world.receive("HT-KS")]
        clock.set(vn(2026, 3, 2, 9, 0))
        lc.hand_over(session, cases[0], world.desk, world.civ)
        lc.request_supplement(session, cases[0], world.civ, "Thiếu bản sao")
        session.commit()
        codes = [c.receipt_code for c in cases]
    yield engine, codes
    engine.dispose()


def _tamper(engine, sql: str) -> None:
    """Edit the history as someone with database access could, triggers switched off."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("ALTER TABLE case_events DISABLE TRIGGER USER"))
            connection.execute(sa.text(sql))
            connection.execute(sa.text("ALTER TABLE case_events ENABLE TRIGGER USER"))
        else:
            connection.execute(sa.text("DROP TRIGGER IF EXISTS case_events_no_update"))
            connection.execute(sa.text("DROP TRIGGER IF EXISTS case_events_no_delete"))
            connection.execute(sa.text(sql))


def test_an_intact_history_verifies(recorded):
    engine, _ = recorded
    with Session(engine) as session:
        checked, broken = verify_chains(session)
    assert (checked, broken) == (4, [])


def test_an_edited_event_is_named(recorded):
    engine, codes = recorded
    _tamper(engine, "UPDATE case_events SET reason = 'Đủ hồ sơ' WHERE kind = 'supplement_requested'")
    with Session(engine) as session:
        _, broken = verify_chains(session)
    assert [(b.receipt_code, b.seq, b.problem) for b in broken] == [
        (codes[0], 3, "content changed after it was recorded"),
    ]


def test_a_deleted_event_is_named(recorded):
    engine, codes = recorded
    _tamper(engine, "DELETE FROM case_events WHERE kind = 'handed_over'")
    with Session(engine) as session:
        _, broken = verify_chains(session)
    assert [(b.receipt_code, b.seq) for b in broken][:2] == [(codes[0], 2), (codes[0], 3)]


def test_audit_verify_command_exits_1_and_lists_broken_links(recorded, monkeypatch):
    engine, codes = recorded
    monkeypatch.setenv("ONESTOP_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    clean = runner.invoke(main, ["audit", "verify", "--unit", "XA-MP"])
    assert clean.exit_code == 0 and "4 event(s) checked, 0 broken" in clean.output
    _tamper(engine, "UPDATE case_events SET at = at WHERE seq = 1")  # same values: still intact
    _tamper(engine, "UPDATE case_events SET actor_id = NULL WHERE seq = 1")
    result = runner.invoke(main, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"BROKEN {codes[0]} event 1: content changed" in result.output
    assert f"BROKEN {codes[1]} event 1: content changed" in result.output
    assert runner.invoke(main, ["audit", "verify", "--unit", "XA-SD"]).output.startswith("0 event(s)")
