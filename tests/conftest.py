"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, and a small world.

Every test that takes `engine` or `session` runs on both backends. PostgreSQL is the server named
by ONESTOP_TEST_POSTGRES_URL (default 127.0.0.1:5432, database `test`); each test session works in
its own schema. When it is unreachable the PostgreSQL half is skipped, except under CI=true,
where it fails.
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from onestop.db import make_engine
from onestop.migrate import upgrade

VN = ZoneInfo("Asia/Ho_Chi_Minh")
PG_URL = os.environ.get(
    "ONESTOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def vn(*args: int) -> datetime:
    """A Vietnamese local instant: vn(2026, 3, 2, 8, 0)."""
    return datetime(*args, tzinfo=VN)


def _postgres_or_skip() -> None:
    try:
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # any failure to connect means the server is not there
        message = f"PostgreSQL at {PG_URL} is unreachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def schema_url(schema: str) -> str:
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def postgres_schema_factory():
    """Creates migrated PostgreSQL schemas on demand; drops them all at the end."""
    _postgres_or_skip()
    admin = sa.create_engine(PG_URL)
    created: list[str] = []

    def create() -> str:
        schema = f"onestop_test_{uuid.uuid4().hex[:12]}"
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        created.append(schema)
        upgrade(schema_url(schema))
        return schema_url(schema)

    yield create
    for schema in created:  # one transaction each: dropping many at once exhausts the lock table
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_schema_factory) -> str:
    return postgres_schema_factory()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("template") / "onestop.db"
    upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(request, backend, tmp_path) -> str:
    """A migrated, committed-to database for this test (SQLite file or a fresh PG schema)."""
    if backend == "sqlite":
        path = tmp_path / "onestop.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("postgres_schema_factory")()


@pytest.fixture
def engine(request, backend):
    if backend == "sqlite":
        engine = make_engine(request.getfixturevalue("database_url"))
    else:
        engine = make_engine(request.getfixturevalue("postgres_url"))
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine, backend):
    """A session whose work disappears after the test (a fresh file, or a rolled-back PG
    transaction; commits inside the test become savepoints)."""
    if backend == "sqlite":
        with Session(engine, expire_on_commit=False) as session:
            yield session
        return
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield session
    session.close()
    outer.rollback()
    connection.close()
