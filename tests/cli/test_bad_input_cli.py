"""The bad-input corpus against the administration command: every argument and option, the files
it reads (catalogue, case book, backups) and standard input.

Every invocation must end with a message and an exit status (0, 1 or 2), never a traceback.
Whatever was accepted is stored safely: NFC, no NUL or control character.
"""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session

from onestop.cli import main
from onestop.db import make_engine
from tests.factories import build_world
from tests.web.test_bad_input import (
    BAD_BOOKS,
    BAD_CATALOGUES,
    CATALOGUE_HEADER,
    CODE,
    DATE,
    TEXT,
    stored_strings,
)

ROOT = Path(__file__).resolve().parents[2]
# Linux refuses a single argument over 128 KiB (MAX_ARG_STRLEN): that is the oversized argument;
# 10 MB goes through files and standard input below.
ARGV_MAX = "A" * (128 * 1024 - 1)
# Python hands undecodable argv bytes to the program as lone surrogates (PEP 383).
ARGUMENT_TEXT = {**TEXT, "oversized 10 MB": ARGV_MAX, "invalid UTF-8 argv": "Hoa\udcff\udcfe"}
ARGUMENT_CODE = {**CODE, "oversized 10 MB": ARGV_MAX, "invalid UTF-8 argv": "HT\udcc3("}
ARGUMENT_DATE = {**DATE, "oversized 10 MB": ARGV_MAX, "invalid UTF-8 argv": "2026-03-1\udcff"}
KINDS = {"text": ARGUMENT_TEXT, "code": ARGUMENT_CODE, "date": ARGUMENT_DATE}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cli_database(request, tmp_path_factory) -> str:
    """One world per backend for the whole module: every accepted value uses fresh codes."""
    if request.param == "sqlite":
        import shutil

        path = tmp_path_factory.mktemp("cli-bad-input") / "onestop.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_schema_factory")()
    engine = make_engine(url)
    with Session(engine) as session:
        build_world(session)
        session.commit()
    engine.dispose()
    return url


_serial = iter(range(1, 10**6))


@pytest.fixture
def cli(cli_database, monkeypatch):
    engine = make_engine(cli_database)
    monkeypatch.setenv("ONESTOP_DATABASE_URL", cli_database)
    monkeypatch.setenv("ONESTOP_LANG", "en")
    runner = CliRunner()

    def invoke(args: list[str], input: str | bytes | None = None):
        n = next(_serial)
        day = date(2030, 1, 5) + timedelta(weeks=n)  # a Saturday no other invocation used
        args = [a.replace("{n}", str(n)).replace("{saturday}", day.isoformat()) for a in args]
        return runner.invoke(main, args, input=input, catch_exceptions=True)

    yield invoke, engine
    engine.dispose()


def _problem(result, label: str) -> str | None:
    """What is wrong with how the command ended, or None."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"{label}: {type(result.exception).__name__}: {str(result.exception)[:200]}"
    if result.exit_code not in (0, 1, 2):
        return f"{label}: exit status {result.exit_code}"
    if result.exit_code != 0 and not result.output.strip():
        return f"{label}: refused without a message"
    return None


def _stored_safely(engine) -> list[str]:
    with engine.connect() as connection:
        strings = stored_strings(connection)
    return [
        repr(s[:60]) for s in strings
        if "\x00" in s or "\x1b" in s or unicodedata.normalize("NFC", s) != s
        or any("\ud800" <= ch <= "\udfff" for ch in s) or len(s) > 30_000
    ]


# (command line with {} where the bad value goes, kind of value)
ARGUMENTS = [
    (["units", "add", "{}", "Văn hóa", "--parent", "XA-MP"], "code"),
    (["units", "add", "VH-{n}", "{}", "--parent", "XA-MP"], "text"),
    (["units", "add", "VH-{n}", "Văn hóa", "--kind", "{}", "--parent", "XA-MP"], "code"),
    (["units", "add", "VH-{n}", "Văn hóa", "--parent", "{}"], "code"),
    (["units", "add", "HU-{n}", "Huyện cũ", "--kind", "district", "--parent", "HN",
      "--effective-from", "{}"], "date"),
    (["units", "add", "HU-{n}", "Huyện cũ", "--kind", "district", "--parent", "HN",
      "--effective-to", "{}"], "date"),
    (["officers", "add", "{}", "--name", "Cán Bộ", "--unit", "XA-MP-MC", "--role", "desk"], "code"),
    (["officers", "add", "moi{n}", "--name", "{}", "--unit", "XA-MP-MC", "--role", "desk"], "text"),
    (["officers", "add", "moi{n}", "--name", "Cán Bộ", "--unit", "{}", "--role", "desk"], "code"),
    (["officers", "add", "moi{n}", "--name", "Cán Bộ", "--unit", "XA-MP-MC", "--role", "{}"], "code"),
    (["officers", "add", "moi{n}", "--name", "Cán Bộ", "--unit", "XA-MP-MC", "--role", "desk",
      "--email", "{}"], "text"),
    (["calendar", "explain", "--from", "{}", "--to", "2026-03-31"], "date"),
    (["calendar", "explain", "--from", "2026-03-01", "--to", "{}"], "date"),
    (["calendar", "add-day-off", "{}", "--reference", "Thông báo 1/TB-BNV"], "date"),
    (["calendar", "add-working-day", "{saturday}", "--reference", "{}"], "text"),
    (["calendar", "remove", "{}", "--reason", "nhầm ngày"], "date"),
    (["calendar", "remove", "2026-03-03", "--reason", "{}"], "text"),
    (["audit", "verify", "--unit", "{}"], "code"),
    (["tokens", "create", "{}"], "code"),
    (["tokens", "create", "desk", "--label", "{}"], "text"),
    (["tokens", "revoke", "{}"], "code"),
    (["tokens", "list", "{}"], "code"),
]


@pytest.mark.parametrize(("args", "kind"), ARGUMENTS, ids=[" ".join(a) for a, _ in ARGUMENTS])
def test_every_argument_survives_the_corpus(cli, args, kind):
    invoke, engine = cli
    problems = []
    for label, value in KINDS[kind].items():
        result = invoke([value if a == "{}" else a for a in args])
        problem = _problem(result, label)
        if problem:
            problems.append(problem)
    assert problems == []
    assert _stored_safely(engine) == []


@pytest.mark.parametrize("label", list(TEXT))
def test_a_password_on_standard_input_survives_the_corpus(cli, label):
    invoke, engine = cli
    result = invoke(
        ["officers", "add", "moi{n}", "--name", "Cán Bộ", "--unit", "XA-MP-MC", "--role", "desk",
         "--password-stdin"], input=TEXT[label] + "\n",
    )
    assert _problem(result, label) is None
    assert _stored_safely(engine) == []


@pytest.mark.parametrize("months", ["0", "-1", "37", "abc", "1e3"])
def test_seed_refuses_absurd_months(cli, months):
    invoke, _ = cli
    result = invoke(["seed", "--demo", "--months", months])
    assert result.exit_code == 2 and "Invalid value" in result.output


@pytest.mark.parametrize("name", list(BAD_CATALOGUES) + ["invalid UTF-8", "oversized 10 MB", "empty"])
def test_a_bad_catalogue_file_is_refused_with_its_line(cli, tmp_path, name):
    invoke, engine = cli
    if name == "invalid UTF-8":
        content = (CATALOGUE_HEADER + "\n").encode() + b"HT-X,Th\xff\xfe,Proc,x,commune,working_days,3,,x,a:desk:1\n"
    elif name == "oversized 10 MB":
        content = (CATALOGUE_HEADER + "\n" + "HT-X," + "A" * (10 * 1024 * 1024)
                   + ",Proc,x,commune,working_days,3,,x,a:desk:1\n").encode()
    elif name == "empty":
        content = b""
    else:
        content = (CATALOGUE_HEADER + "\n" + BAD_CATALOGUES[name] + "\n").encode()
    path = tmp_path / "procedures.csv"
    path.write_bytes(content)
    result = invoke(["procedures", "load", str(path)])
    assert _problem(result, name) is None
    if name != "HTML name":
        assert result.exit_code == 2, result.output
        assert "csv_error: Line" in result.output or "Dòng" in result.output, result.output
    assert _stored_safely(engine) == []


@pytest.mark.parametrize("name", list(BAD_BOOKS))
def test_a_bad_case_book_file_is_refused_or_stored_safely(cli, tmp_path, name):
    invoke, engine = cli
    path = tmp_path / "so.csv"
    path.write_bytes(BAD_BOOKS[name].replace(b"{progress}", b"XA-MP-260302-0001"))
    result = invoke(["import-book", str(path), "--unit", "XA-MP", "--officer", "desk"])
    assert _problem(result, name) is None
    assert _stored_safely(engine) == []


@pytest.mark.parametrize("unit, officer", [
    ("NOPE", "desk"), ("XA-MP", "nobody"), ("XA-SD", "desk"), ("<b>", "desk"), ("XA-MP", "\x00"),
])
def test_import_book_with_unknown_or_foreign_unit_and_officer(cli, tmp_path, unit, officer):
    invoke, _ = cli
    path = tmp_path / "so.csv"
    path.write_bytes(BAD_BOOKS["HTML and SQL in names"])
    result = invoke(["import-book", str(path), "--unit", unit, "--officer", officer])
    assert _problem(result, unit) is None and result.exit_code == 2


@pytest.mark.parametrize("content", [b"", b"garbage", b"\x00" * 1024, b"PGDMP" + b"\xff" * 100])
def test_restoring_garbage_is_refused_and_changes_nothing(cli, tmp_path, content):
    invoke, engine = cli
    with engine.connect() as connection:
        units = connection.scalar(sa.text("SELECT count(*) FROM units"))
    path = tmp_path / "nightly.backup"
    path.write_bytes(content)
    for manifest in (None, b"{not json", b'{"format": "onestop-backup/1"}', b"[]"):
        if manifest is not None:
            (tmp_path / "nightly.backup.manifest.json").write_bytes(manifest)
        result = invoke(["restore", str(path), "--yes"])
        assert _problem(result, repr(manifest)) is None
        assert result.exit_code == 2 and "backup_" in result.output, result.output
    with engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT count(*) FROM units")) == units


@pytest.mark.parametrize("output", ["{tmp}", "{tmp}/no/such/folder/x.backup", "/proc/version"])
def test_backup_to_an_odd_place_is_a_clear_message(cli, tmp_path, output):
    invoke, _ = cli
    result = invoke(["backup", "--output", output.format(tmp=tmp_path)])
    assert _problem(result, output) is None


def test_invalid_utf8_arguments_from_a_real_shell(cli_database):
    """Bytes that are not UTF-8 in argv, as a terminal with another encoding would send them."""
    env = {**os.environ, "ONESTOP_DATABASE_URL": cli_database, "ONESTOP_LANG": "en",
           "PYTHONIOENCODING": "utf-8"}
    script = "import sys; from onestop.cli import main; sys.argv[0] = 'onestop'; main()"
    for args in ([b"units", b"add", b"XA-\xff", b"T\xc3"], [b"calendar", b"explain", b"--from", b"\xff", b"--to", b"x"]):
        done = subprocess.run(
            [sys.executable.encode(), b"-c", script.encode(), *args], env=env, cwd=ROOT,
            capture_output=True, timeout=60, check=False,
        )
        assert done.returncode in (1, 2), done.stderr[-500:]
        assert b"Traceback" not in done.stderr, done.stderr[-2000:]
        assert done.stderr.strip()
