"""Shared set-up for the officers' web app tests: a seeded database, a client, signing in.

Two ways to get a seeded database:
- `seeded_world(request, backend, tmp_path, cases)`: fast. The factory world is seeded once per
  test session and backend; each test gets a copy of the SQLite file, or, on PostgreSQL, one
  connection inside a transaction that is rolled back at the end (the app's sessions and the
  test's own `world.session()` both use it, commits become savepoints).
- `seed(database_url, cases)` + `make_client(url)`: a committed database of the test's own.
"""

from __future__ import annotations

import contextlib
import functools
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, sessionmaker

from onestop.admin import create_officer
from onestop.clock import frozen_at
from onestop.db import make_engine
from onestop.intake import set_checklist
from onestop.models import Officer, Unit
from onestop.web import create_app
from tests.conftest import vn
from tests.factories import World, build_world

PASSWORD = "mật-khẩu-thử-1"
RECEIVED_AT = vn(2026, 3, 2, 8, 0)  # a Monday
CHECKLIST = [
    {"name": "Tờ khai cấp Giấy xác nhận tình trạng hôn nhân", "form": "original"},
    {"name": "Bản sao Căn cước", "form": "copy"},
]


@functools.cache
def password_hash() -> str:
    """One argon2id hash for every test officer, with light parameters: verification reads
    them from the hash, so signing in stays fast while going through the real code."""
    return PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)


def _seed_world(session: Session) -> World:
    world = build_world(session)
    create_officer(session, "admin", "Quản Trị Viên", unit_code="HN", roles=["admin"])
    create_officer(session, "admin_mp", "Quản trị xã", unit_code="XA-MP", roles=["admin"])
    for officer in session.scalars(select(Officer)):
        officer.password_hash = password_hash()
    set_checklist(session, "HT-XNHN", CHECKLIST)
    return world


def _world_of(session: Session) -> World:
    """The factory world as stored, to receive cases into it."""
    world = World(session)
    world.units = {u.code: u for u in session.scalars(select(Unit))}
    world.officers = {o.username: o for o in session.scalars(select(Officer))}
    return world


def _receive(session: Session, cases: dict[str, dict]) -> dict[str, str]:
    world = _world_of(session)
    return {name: world.receive(**kwargs).receipt_code for name, kwargs in cases.items()}


@dataclass
class Seeded:
    url: str
    codes: dict[str, str] = field(default_factory=dict)
    connection: Connection | None = None

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session that sees (and may change) what the app sees."""
        if self.connection is not None:
            with Session(
                bind=self.connection, join_transaction_mode="create_savepoint", expire_on_commit=False
            ) as session:
                yield session
            return
        engine = make_engine(self.url)
        try:
            with Session(engine, expire_on_commit=False) as session:
                yield session
        finally:
            engine.dispose()

    def client(self, *, csrf: bool = False, **config):
        app = _app(self.url, csrf, config)
        if self.connection is not None:
            app.extensions["onestop.sessions"] = sessionmaker(
                bind=self.connection, join_transaction_mode="create_savepoint", expire_on_commit=False
            )
        return app.test_client()

    def add_cases(self, cases: dict[str, dict]) -> None:
        """Cases received at 08:00 on Monday 2 March 2026 (name -> World.receive arguments)."""
        with frozen_at(RECEIVED_AT), self.session() as session:
            self.codes.update(_receive(session, cases))
            session.commit()


_TEMPLATES: dict[tuple[str, int], str] = {}


def _template(request, backend: str) -> str:
    """The seeded database of this test session for `backend` (made on first use)."""
    if backend == "sqlite":
        base = request.getfixturevalue("sqlite_template")
        key = (base, 0)
        if key not in _TEMPLATES:
            path = Path(base).with_name("seeded-web.db")
            shutil.copy(base, path)
            _TEMPLATES[key] = f"sqlite:///{path}"
            seed(_TEMPLATES[key])
        return _TEMPLATES[key]
    factory = request.getfixturevalue("postgres_schema_factory")
    key = ("postgresql", id(factory))
    if key not in _TEMPLATES:
        _TEMPLATES[key] = factory()
        seed(_TEMPLATES[key])
    return _TEMPLATES[key]


def seeded_world(request, backend: str, tmp_path: Path, cases: dict[str, dict] | None = None) -> Seeded:
    """The factory world with passwords, two administrators (`admin` of the province,
    `admin_mp` of commune XA-MP), the HT-XNHN checklist, and `cases`; see the module doc."""
    template = _template(request, backend)
    if backend == "sqlite":
        path = tmp_path / "onestop.db"
        shutil.copy(template[len("sqlite:///"):], path)
        world = Seeded(f"sqlite:///{path}")
    else:
        engine = make_engine(template)
        connection = engine.connect()
        outer = connection.begin()

        def undo() -> None:
            outer.rollback()
            connection.close()
            engine.dispose()

        request.addfinalizer(undo)
        world = Seeded(template, connection=connection)
    if cases:
        world.add_cases(cases)
    return world


def seed(database_url: str, cases: dict[str, dict] | None = None) -> Seeded:
    """Seed a committed database of one's own (see `seeded_world`)."""
    engine = make_engine(database_url)
    with frozen_at(RECEIVED_AT), Session(engine) as session:
        _seed_world(session)
        codes = _receive(session, cases or {})
        session.commit()
    engine.dispose()
    return Seeded(database_url, codes)


def _app(database_url: str, csrf: bool, config: dict):
    # The limiter stays on: it is one object shared by every app in the process, and switching
    # it off for one app would leave it off for the next (flask-limiter keeps `enabled` on it).
    return create_app({
        "DATABASE_URL": database_url, "TESTING": True, "WTF_CSRF_ENABLED": csrf, **config,
    })


def make_client(database_url: str, *, csrf: bool = False, **config):
    return _app(database_url, csrf, config).test_client()


_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page: str) -> str | None:
    match = _TOKEN.search(page)
    return match.group(1) if match else None


def login(client, username: str, password: str = PASSWORD):
    page = client.get("/login").get_data(as_text=True)
    data = {"username": username, "password": password}
    token = csrf_token(page)
    if token:
        data["csrf_token"] = token
    return client.post("/login", data=data)


def text(response) -> str:
    return response.get_data(as_text=True)
