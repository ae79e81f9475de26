"""INSERT .. ON CONFLICT DO NOTHING for many rows at once, on PostgreSQL and SQLite.

On PostgreSQL the rows travel as one JSON parameter expanded by the server
(`json_populate_recordset`): a short statement that is parsed once, instead of a VALUES list
with thousands of placeholders that the driver must rewrite. On SQLite, an executemany.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session


def _jsonable(value: Any) -> Any:
    """json.dumps' fallback for the values JSON has no type for."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store instants with their zone")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def insert_ignoring_conflicts(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str],
    returning: Sequence[str],
) -> list[Row]:
    """Insert `rows` (dicts with the same keys), skipping those that hit the unique key
    `conflict`; returns the `returning` columns of the rows inserted."""
    if not rows:
        return []
    if session.get_bind().dialect.name != "postgresql":
        statement = (
            sqlite_insert(table)
            .on_conflict_do_nothing(index_elements=list(conflict))
            .returning(*(table.c[name] for name in returning))
        )
        return list(session.execute(statement, list(rows)))
    columns = ", ".join(rows[0])
    payload = json.dumps(list(rows), default=_jsonable)
    statement = text(
        f"INSERT INTO {table.name} ({columns}) "
        f"SELECT {columns} FROM json_populate_recordset(NULL::{table.name}, CAST(:rows AS json)) "
        f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {', '.join(returning)}"
    )
    return list(session.execute(statement, {"rows": payload}))
