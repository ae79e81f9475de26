"""`onestop tokens create|revoke|list` and `onestop import-book` from the command line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onestop.cli import main
from onestop.clock import frozen_at
from onestop.db import make_engine
from onestop.models import Case
from onestop.tokens import verify_token
from tests.conftest import vn
from tests.factories import build_world

HEADER = ('STT,Mã hồ sơ,Tên thủ tục hành chính,"Tên tổ chức, cá nhân","Địa chỉ, số điện thoại",'
          'Cơ quan chủ trì giải quyết,Ngày nhận hồ sơ,Ngày hẹn trả kết quả,Ngày trả kết quả,Ký nhận,Ghi chú')


@pytest.fixture
def run(database_url, monkeypatch):
    engine = make_engine(database_url)
    with frozen_at(vn(2026, 3, 1, 8, 0)), Session(engine) as session:
        build_world(session)
        session.commit()
    engine.dispose()
    monkeypatch.setenv("ONESTOP_DATABASE_URL", database_url)
    monkeypatch.setenv("ONESTOP_LANG", "vi")
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def with_session(database_url, work):
    engine = make_engine(database_url)
    with Session(engine) as session:
        result = work(session)
        session.commit()
    engine.dispose()
    return result


def test_a_created_token_is_printed_once_works_and_can_be_revoked(run, database_url):
    created = run("tokens", "create", "desk", "--label", "cổng dịch vụ công")
    assert created.exit_code == 0
    token = created.stdout.strip()
    assert len(token) >= 43 and "\n" not in token
    officer = with_session(database_url, lambda s: verify_token(s, token).username)
    assert officer == "desk"
    listed = run("tokens", "list", "desk").stdout
    assert token[:8] in listed and token not in listed and "live" in listed
    revoked = run("tokens", "revoke", token[:8])
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert "revoked" in run("tokens", "list").stdout
    again = run("tokens", "revoke", token[:8])
    assert again.exit_code == 2 and "token_already_revoked" in again.output


def test_token_commands_refuse_unknown_officers_and_prefixes(run):
    unknown = run("tokens", "create", "nobody")
    assert unknown.exit_code == 2 and "officer_not_found" in unknown.output
    prefix = run("tokens", "revoke", "zzzzzzzz")
    assert prefix.exit_code == 2 and "token_not_found" in prefix.output


def test_import_book_imports_a_clean_book(run, database_url, tmp_path):
    book = tmp_path / "so.csv"
    book.write_text(
        HEADER + "\n"
        "1,MP-1,HT-XNHN,Lê Văn Tám,,,03/02/2026,06/02/2026,05/02/2026,,\n"
        "2,MP-2,HT-XNHN,Lê Văn Chín,,,2026-02-20 10:00,2026-02-25,,,\n",
        encoding="utf-8",
    )
    result = run("import-book", str(book), "--unit", "XA-MP", "--officer", "desk")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Đã nhập 2 hồ sơ (1 đã trả kết quả, 1 đang giải quyết)."


def test_import_book_reports_every_bad_line_and_imports_nothing(run, database_url, tmp_path):
    book = tmp_path / "so.csv"
    book.write_text(
        HEADER + "\n"
        "1,MP-1,HT-XNHN,Lê Văn Tám,,,03/02/2026,06/02/2026,05/02/2026,,\n"
        "2,MP-2,HT-XNHN,Lê Văn Chín,,,20/20/2026,2026-02-25,,,\n"
        "3,MP-3,NOPE,Lê Văn Mười,,,03/02/2026,06/02/2026,05/02/2026,,\n",
        encoding="utf-8",
    )
    result = run("import-book", str(book), "--unit", "XA-MP")
    assert result.exit_code == 2
    assert "book_rejected" in result.output
    assert "Dòng 3, cột «Ngày nhận hồ sơ»" in result.output
    assert "Dòng 3, cột «Ngày trả kết quả»" in result.output  # open, and no --officer
    assert "Dòng 4, cột «Tên thủ tục hành chính»" in result.output
    count = with_session(database_url, lambda s: s.scalar(select(func.count()).select_from(Case)))
    assert count == 0
