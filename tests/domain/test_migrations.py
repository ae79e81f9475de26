"""One Alembic tree: an empty database upgrades to head, and back, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from onestop.db import make_engine
from onestop.migrate import alembic_config, current_revision, upgrade
from onestop.schema import metadata


def test_empty_database_upgrades_to_head_with_every_table(database_url):
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert current_revision(database_url) == head
    engine = make_engine(database_url)
    tables = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert set(metadata.tables) <= tables


def test_downgrade_to_base_and_upgrade_again(database_url):
    command.downgrade(alembic_config(database_url), "base")
    engine = make_engine(database_url)
    assert "cases" not in sa.inspect(engine).get_table_names()
    upgrade(database_url)
    assert "case_events" in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_models_and_migrations_agree(database_url):
    """No difference between the tables the code declares and those the migrations build."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert diff == []
