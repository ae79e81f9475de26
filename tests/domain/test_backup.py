"""Backup and restore bring back exactly the backed-up database, verified, on both backends."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session

from onestop import backup as backups
from onestop import lifecycle as lc
from onestop.audit import verify_chains
from onestop.backup import BackupError, backup, manifest_path_for, restore
from onestop.cli import main
from onestop.clock import frozen_at
from onestop.db import make_engine
from onestop.models import Case, CaseEvent
from tests.conftest import vn
from tests.factories import build_world


def _record(url: str, count: int = 2) -> list[str]:
    """A world and `count` cases with some history, committed; their receipt codes."""
    engine = make_engine(url)
    with frozen_at(vn(2026, 3, 2, 8, 0)) as clock, Session(engine) as session:
        world = build_world(session)
        cases = [world.receive("HT-XNHN") for _ in range(count)]
        clock.set(vn(2026, 3, 2, 9, 0))
        lc.hand_over(session, cases[0], world.desk, world.civ)
        session.commit()
        codes = [case.receipt_code for case in cases]
    engine.dispose()
    return codes


def _add_later_case(url: str) -> str:
    """Work done after the backup: a new case and more history on an old one."""
    engine = make_engine(url)
    with frozen_at(vn(2026, 3, 3, 8, 0)), Session(engine) as session:
        from onestop.lifecycle import find_officer

        desk = find_officer(session, "desk")
        case = lc.receive(
            session, desk, unit_code="XA-MP", procedure_code="HT-KS",
            applicant={"name": "Trần Văn Bình", "id_number": "001090000001", "phone": "0987654321",
                       "address": "Minh Phú"},
            channel="in_person", documents=[{"name": "Tờ khai", "form": "original", "count": 1}],
        )
        session.commit()
        code = case.receipt_code
    engine.dispose()
    return code


def _snapshot(url: str) -> tuple[list[str], int]:
    engine = make_engine(url)
    with Session(engine) as session:
        codes = sorted(session.scalars(sa.select(Case.receipt_code)))
        events = session.scalar(sa.select(sa.func.count()).select_from(CaseEvent))
    engine.dispose()
    return codes, events


def test_a_restore_brings_back_exactly_the_backed_up_database(database_url, tmp_path):
    codes = _record(database_url)
    before = _snapshot(database_url)
    result = backup(database_url, tmp_path / "onestop.backup")
    manifest = result.manifest
    assert manifest.row_counts["cases"] == 2 and manifest.row_counts["case_events"] == before[1]
    assert manifest.broken_links == 0 and manifest.events_checked == before[1]
    assert json.loads(manifest_path_for(result.path).read_text())["sha256"] == manifest.sha256

    later = _add_later_case(database_url)
    assert later not in codes and _snapshot(database_url) != before

    # The target's history triggers refuse DELETE and TRUNCATE of case_events; the restore
    # replaces the whole schema (PostgreSQL) or every page (SQLite) instead.
    report = restore(database_url, result.path)

    assert report.ok, report
    assert report.row_counts == manifest.row_counts
    assert report.events_checked == before[1] and report.broken_links == []
    assert _snapshot(database_url) == before


def test_the_restored_database_works_and_keeps_its_history_guards(database_url, tmp_path):
    _record(database_url)
    result = backup(database_url, tmp_path / "onestop.backup")
    restore(database_url, result.path)

    later = _add_later_case(database_url)  # sequences and counters continue where they were
    assert later in _snapshot(database_url)[0]
    engine = make_engine(database_url)
    try:
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM case_events"))
        with Session(engine) as session:
            assert verify_chains(session)[1] == []
    finally:
        engine.dispose()


def test_a_changed_backup_file_is_refused_and_the_database_is_untouched(database_url, tmp_path):
    _record(database_url)
    path = backup(database_url, tmp_path / "onestop.backup").path
    later = _add_later_case(database_url)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    with pytest.raises(BackupError) as refused:
        restore(database_url, path)

    assert refused.value.code == "backup_checksum_mismatch"
    assert "SHA-256" in refused.value.message("en")
    assert later in _snapshot(database_url)[0]


def test_a_backup_without_its_manifest_is_refused(database_url, tmp_path):
    _record(database_url, count=1)
    path = backup(database_url, tmp_path / "onestop.backup").path
    manifest_path_for(path).unlink()

    with pytest.raises(BackupError) as refused:
        restore(database_url, path)

    assert refused.value.code == "backup_manifest_missing"
    assert _snapshot(database_url)[0]


def test_a_backup_of_the_other_backend_is_refused(database_url, tmp_path, backend):
    path = tmp_path / "other.backup"
    path.write_bytes(b"data")
    other = "sqlite" if backend == "postgresql" else "postgresql"
    manifest = backups.Manifest(
        backend=other, schema=None, revision=None, sha256=backups._sha256(path), row_counts={},
        events_checked=0, broken_links=0, created_at="2026-03-02T01:00:00+00:00",
    )
    manifest_path_for(path).write_text(manifest.to_json())

    with pytest.raises(BackupError) as refused:
        restore(database_url, path)

    assert refused.value.code == "backup_backend_mismatch"


def test_the_verification_names_a_broken_history_carried_in_the_backup(database_url, tmp_path):
    codes = _record(database_url)
    engine = make_engine(database_url)
    with engine.begin() as connection:  # someone with database access edits the history
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("ALTER TABLE case_events DISABLE TRIGGER USER"))
            connection.execute(sa.text("UPDATE case_events SET reason = 'x' WHERE seq = 1"))
            connection.execute(sa.text("ALTER TABLE case_events ENABLE TRIGGER USER"))
        else:
            connection.execute(sa.text("DROP TRIGGER case_events_no_update"))
            connection.execute(sa.text("UPDATE case_events SET reason = 'x' WHERE seq = 1"))
    engine.dispose()
    result = backup(database_url, tmp_path / "onestop.backup")
    assert result.manifest.broken_links == len(codes)

    report = restore(database_url, result.path)

    assert not report.ok and not report.mismatched_tables
    assert sorted(report.broken_links) == sorted(
        f"{code} event 1: content changed after it was recorded" for code in codes
    )


def test_the_verification_names_a_table_whose_rows_differ(database_url, tmp_path):
    _record(database_url)
    result = backup(database_url, tmp_path / "onestop.backup")
    _add_later_case(database_url)

    report = backups.verify_restored(database_url, result.manifest)

    assert not report.ok
    assert report.mismatched_tables["cases"] == (2, 3)
    assert "table cases: 3 row(s), the backup had 2" in backups.describe_report(report)


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite needs no client tool
def test_a_missing_client_tool_is_named(database_url, tmp_path, monkeypatch):
    monkeypatch.setattr(backups.shutil, "which", lambda name: None)

    with pytest.raises(BackupError) as refused:
        backup(database_url, tmp_path / "onestop.backup")

    assert refused.value.code == "backup_tool_missing"
    assert "pg_dump" in refused.value.message("en")
    assert not list(tmp_path.iterdir())  # no half-written file left behind


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgres_restore_into_a_schema_that_no_longer_exists(database_url, tmp_path):
    codes = _record(database_url)
    result = backup(database_url, tmp_path / "onestop.backup")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        schema = connection.scalar(sa.text("SELECT current_schema()"))
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()

    report = restore(database_url, result.path)

    assert report.ok and sorted(codes) == _snapshot(database_url)[0]


def test_backup_and_restore_from_the_command_line(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ONESTOP_DATABASE_URL", database_url)
    monkeypatch.setenv("ONESTOP_LANG", "en")
    runner = CliRunner()
    codes = _record(database_url)
    path = tmp_path / "nightly.backup"

    made = runner.invoke(main, ["backup", "--output", str(path)])
    assert made.exit_code == 0, made.output
    assert f"backup written to {path}" in made.output and path.exists()

    later = _add_later_case(database_url)
    declined = runner.invoke(main, ["restore", str(path)], input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert later in _snapshot(database_url)[0]

    restored = runner.invoke(main, ["restore", str(path), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert "restored and verified" in restored.output and "0 broken links" in restored.output
    assert _snapshot(database_url)[0] == sorted(codes)

    missing = runner.invoke(main, ["restore", str(tmp_path / "nope.backup"), "--yes"])
    assert missing.exit_code == 2
    assert "backup_file_missing: No backup file" in missing.output
