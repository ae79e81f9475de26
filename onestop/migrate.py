"""Create or migrate the database to the newest schema (`onestop db upgrade`)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from onestop.db import database_url


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "onestop:migrations")
    # ConfigParser treats "%" as interpolation; URLs carry %-escapes (e.g. search_path options).
    config.set_main_option("sqlalchemy.url", (url or database_url()).replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from onestop.db import make_engine

    engine = make_engine(url or database_url())
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    engine.dispose()
    return revision
