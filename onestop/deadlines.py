"""Due instants of open cases, re-projected in bulk after a calendar change (RULES.md section 3).

Same result as re-projecting case by case through the ORM, at a cost that stays small for a
province's million open cases: rows are read with plain SQL in batches (keyset on the case id),
the new due instant comes from `lifecycle.projected_due` on the fast calendar, and only the
cases whose due instant moved are written: one set-based UPDATE per batch from a temporary
table (filled by COPY on PostgreSQL), guarded by each case's version, then one hash-chained
`due_recomputed` event per changed case. A case changed concurrently between our read and our
write is left alone by the version guard and re-projected again from fresh rows afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from onestop import clock
from onestop.audit import event_hash
from onestop.calendar import WorkCalendar
from onestop.calendar_store import work_calendar
from onestop.db import UTCDateTime
from onestop.errors import Conflict
from onestop.lifecycle import projected_due
from onestop.models import (
    OPEN_PREDICATE,
    OPEN_STATUSES,
    Case,
    CaseEvent,
    Pause,
    Procedure,
    StepAssignment,
)
from onestop.validation import clean_text

__all__ = ["reproject_open_cases", "reprojected_case_ids"]

DEFAULT_BATCH = 20_000
# Rounds of re-reading cases that a concurrent action changed under us, before giving up.
RETRIES = 3
EVENT_KIND = "due_recomputed"

_temp = MetaData()
# The changes of one batch, joined to `cases` by one UPDATE; a temporary table lives and dies
# with the connection (and, on PostgreSQL, with the transaction).
DUE_CHANGES = Table(
    "onestop_due_changes",
    _temp,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("original_due_at", UTCDateTime, nullable=False),
    Column("last_event_seq", Integer, nullable=False),
    Column("last_event_hash", String(64), nullable=False),
    prefixes=["TEMPORARY"],
)
_UPDATE = text(
    "UPDATE cases SET due_at = t.due_at, original_due_at = t.original_due_at, "
    "version_id = cases.version_id + 1, last_event_seq = t.last_event_seq, "
    "last_event_hash = t.last_event_hash "
    "FROM onestop_due_changes AS t "
    "WHERE cases.id = t.id AND cases.version_id = t.version_id "
    # The batch's id range lets the database walk the primary key instead of every case.
    "AND cases.id BETWEEN :first AND :last "
    "RETURNING cases.id"
)
_EVENT_COLUMNS = (
    "case_id", "seq", "kind", "at", "actor_id", "from_status", "to_status", "from_step",
    "to_step", "reason", "data", "corrects_event_id", "prev_hash", "hash",
)


@dataclass(frozen=True)
class _Terms:
    duration_unit: str
    duration_amount: float
    same_day_cutoff: object
    pause_policy: str


@dataclass(frozen=True)
class _Change:
    case_id: int
    version_id: int
    due_at: datetime
    original_due_at: datetime
    event: dict


def reproject_open_cases(session: Session, reason: str, *, batch_size: int = DEFAULT_BATCH) -> int:
    """Re-project every open case's due instant with the calendar now in force; record each
    change in the case's history with `reason`. Returns how many cases changed.

    Flushes the session first and never commits. Case objects this session holds are expired
    when their row changes, so they reload the new due instant and version.
    """
    return sum(len(ids) for ids in reprojected_case_ids(session, reason, batch_size=batch_size))


def reprojected_case_ids(
    session: Session, reason: str, *, batch_size: int = DEFAULT_BATCH
) -> Iterator[list[int]]:
    """`reproject_open_cases`, yielding the ids of the changed cases batch by batch."""
    reason = clean_text(reason, "reason", max_length=2000, required=True)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    try:
        session.flush()
    except (StaleDataError, IntegrityError, OperationalError) as exc:
        raise Conflict("stale_case", code="*") from exc
    calendar = work_calendar(session)
    connection = session.connection()
    terms = {
        row.id: _Terms(row.duration_unit, row.duration_amount, row.same_day_cutoff, row.pause_policy)
        for row in connection.execute(
            select(
                Procedure.id, Procedure.duration_unit, Procedure.duration_amount,
                Procedure.same_day_cutoff, Procedure.pause_policy,
            )
        )
    }
    # Cases this session holds, by id, read from their identity keys (an expired object would
    # reload itself to answer `.id`).
    held = {
        inspect(obj).identity[0]: obj
        for obj in session.identity_map.values() if isinstance(obj, Case)
    }
    reader = _Reader(connection)
    writer = _Writer(connection)
    skipped: list[int] = []
    last_id = 0
    while True:
        rows = reader.open_cases(after=last_id, limit=batch_size)
        if not rows:
            break
        last_id = rows[-1][0]
        changed, missed = _apply(session, reader, writer, calendar, terms, rows, reason, held)
        skipped.extend(missed)
        if changed:
            yield changed
    for _ in range(RETRIES):
        if not skipped:
            break
        retry, skipped = skipped, []
        for start in range(0, len(retry), batch_size):
            rows = reader.open_cases(ids=retry[start : start + batch_size])
            changed, missed = _apply(session, reader, writer, calendar, terms, rows, reason, held)
            skipped.extend(missed)
            if changed:
                yield changed
    writer.close()
    if skipped:
        raise Conflict("stale_case", code="*")


class _Reader:
    """The rows a re-projection needs, as plain tuples: through the driver on PostgreSQL (its
    C loaders hand back aware datetimes; the ORM's type layer would cost more than the
    projection itself), through SQLAlchemy's typed columns on SQLite (which keeps text).

    The scan reads only what the projection needs; the few cases that move are read again in
    full (status, version, chain head, step) just before they are written.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"

    def _fetch(self, sql: str, params: dict) -> list[tuple]:
        with self.connection.connection.driver_connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def open_cases(self, *, after: int = 0, limit: int | None = None,
                   ids: list[int] | None = None) -> list[tuple]:
        """Open cases with a running clock: the next `limit` after id `after`, or `ids`."""
        if self.postgres:
            where = "id = ANY(%(ids)s)" if ids is not None else "id > %(after)s"
            return self._fetch(
                # The statuses written out, as in the partial index ix_cases_open (a parameter
                # would keep the planner from proving the index applies).
                "SELECT id, procedure_id, received_at, due_at FROM cases "
                f"WHERE {OPEN_PREDICATE} AND received_at IS NOT NULL AND {where} ORDER BY id"
                + ("" if limit is None else " LIMIT %(limit)s"),
                {"after": after, "limit": limit, "ids": ids},
            )
        query = select(
            Case.id, Case.procedure_id, Case.received_at, Case.due_at
        ).where(Case.status.in_(OPEN_STATUSES), Case.received_at.is_not(None))
        query = query.where(Case.id.in_(ids)) if ids is not None else query.where(Case.id > after)
        query = query.order_by(Case.id)
        if limit is not None:
            query = query.limit(limit)
        return [tuple(row) for row in self.connection.execute(query)]

    def completed_pauses(self, first: int, last: int, wanted: set[int]) -> dict[int, list[tuple]]:
        """(reason, started, ended) of the finished pauses of the cases `wanted` (ids within
        [first, last]), per case in the order they were taken."""
        if self.postgres:
            rows = self._fetch(
                "SELECT case_id, reason, started_at, ended_at FROM pauses "
                "WHERE case_id BETWEEN %(first)s AND %(last)s AND ended_at IS NOT NULL "
                "ORDER BY case_id, id",
                {"first": first, "last": last},
            )
        else:
            rows = self.connection.execute(
                select(Pause.case_id, Pause.reason, Pause.started_at, Pause.ended_at)
                .where(Pause.case_id.between(first, last), Pause.ended_at.is_not(None))
                .order_by(Pause.case_id, Pause.id)
            )
        pauses: dict[int, list[tuple]] = {}
        for case_id, reason, started, ended in rows:
            if case_id in wanted:
                pauses.setdefault(case_id, []).append((reason, started, ended))
        return pauses

    def details(self, ids: list[int]) -> dict[int, tuple]:
        """(status, due_at, version_id, last_event_seq, last_event_hash, open step position)
        of those of `ids` that are still open."""
        if self.postgres:
            rows = self._fetch(
                "SELECT c.id, c.status, c.due_at, c.version_id, c.last_event_seq, "
                "c.last_event_hash, s.step_position FROM cases c "
                "LEFT JOIN step_assignments s ON s.case_id = c.id AND s.ended_at IS NULL "
                f"WHERE c.id = ANY(%(ids)s) AND c.{OPEN_PREDICATE}",
                {"ids": ids},
            )
        else:
            step = StepAssignment.__table__
            rows = []
            for start in range(0, len(ids), 10_000):
                rows += self.connection.execute(
                    select(
                        Case.id, Case.status, Case.due_at, Case.version_id, Case.last_event_seq,
                        Case.last_event_hash, step.c.step_position,
                    )
                    .outerjoin(step, (step.c.case_id == Case.id) & step.c.ended_at.is_(None))
                    .where(Case.id.in_(ids[start : start + 10_000]),
                           Case.status.in_(OPEN_STATUSES))
                ).all()
        return {row[0]: tuple(row[1:]) for row in rows}


def _apply(
    session: Session, reader: _Reader, writer: _Writer, calendar: WorkCalendar,
    terms: dict[int, _Terms], rows: list[tuple], reason: str, held: dict[int, Case],
) -> tuple[list[int], list[int]]:
    """Re-project one batch; returns (changed ids, ids a concurrent change kept us from)."""
    pauses = reader.completed_pauses(rows[0][0], rows[-1][0], {row[0] for row in rows})
    moved = []
    for case_id, procedure_id, received_at, due_at in rows:
        t = terms[procedure_id]
        taken = pauses.get(case_id, ())
        due = projected_due(
            calendar, received_at, t.duration_unit, t.duration_amount, t.same_day_cutoff,
            t.pause_policy, taken,
        )
        if due != due_at:
            moved.append((case_id, received_at, due_at, t, taken, due))
    if not moved:
        return [], []
    details = reader.details([m[0] for m in moved])
    now = clock.now()
    zone = calendar.zone
    changes: list[_Change] = []
    missed: list[int] = []
    for case_id, received_at, due_at, t, taken, due in moved:
        if case_id not in details:
            continue  # closed since the scan: nothing to re-project
        status, current_due, version_id, last_seq, last_hash, step = details[case_id]
        if current_due != due_at:
            missed.append(case_id)  # moved since the scan (a pause ended): project again
            continue
        original = (
            calendar.due_at(received_at, t.duration_unit, t.duration_amount, t.same_day_cutoff)
            if taken else due
        )
        previous = due_at.astimezone(zone).isoformat() if due_at else None
        # What lifecycle._record writes: the status and the step stay as they are.
        event = {
            "case_id": case_id, "seq": (last_seq or 0) + 1, "kind": EVENT_KIND,
            "at": now, "actor_id": None, "from_status": status, "to_status": status,
            "from_step": step, "to_step": step, "reason": reason,
            "data": {"previous_due_at": previous, "due_at": due.isoformat()},
            "corrects_event_id": None, "prev_hash": last_hash,
        }
        event["hash"] = event_hash(
            last_hash, case_id=case_id, seq=event["seq"], kind=EVENT_KIND, at=now,
            actor_id=None, from_status=status, to_status=status, from_step=step, to_step=step,
            reason=reason, data=event["data"], corrects_event_id=None,
        )
        changes.append(_Change(case_id, version_id, due, original, event))
    if not changes:
        return [], missed
    updated = writer.write(changes)
    for case_id in updated:
        obj = held.get(case_id)
        if obj is not None:
            session.expire(obj)
    missed += [c.case_id for c in changes if c.case_id not in updated]
    return sorted(updated), missed


class _Writer:
    """Writes a batch of changes: cases by one UPDATE from the temporary table, then events."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        if self.postgres:
            with self._cursor() as cursor:
                cursor.execute(
                    "CREATE TEMPORARY TABLE IF NOT EXISTS onestop_due_changes ("
                    "id integer PRIMARY KEY, version_id integer NOT NULL, "
                    "due_at timestamptz NOT NULL, original_due_at timestamptz NOT NULL, "
                    "last_event_seq integer NOT NULL, last_event_hash varchar(64) NOT NULL"
                    ") ON COMMIT DROP"
                )
        else:
            DUE_CHANGES.create(connection, checkfirst=True)
        self._clear()

    def _cursor(self):
        return self.connection.connection.driver_connection.cursor()

    def _clear(self) -> None:
        self.connection.execute(text("DELETE FROM onestop_due_changes"))

    def write(self, changes: list[_Change]) -> set[int]:
        if self.postgres:
            with self._cursor() as cursor, cursor.copy(
                "COPY onestop_due_changes (id, version_id, due_at, original_due_at, "
                "last_event_seq, last_event_hash) FROM STDIN"
            ) as copy:
                for c in changes:
                    copy.write_row((
                        c.case_id, c.version_id, c.due_at, c.original_due_at,
                        c.event["seq"], c.event["hash"],
                    ))
        else:
            self.connection.execute(insert(DUE_CHANGES), [
                {
                    "id": c.case_id, "version_id": c.version_id, "due_at": c.due_at,
                    "original_due_at": c.original_due_at, "last_event_seq": c.event["seq"],
                    "last_event_hash": c.event["hash"],
                }
                for c in changes
            ])
        ids = [c.case_id for c in changes]
        updated = set(
            self.connection.execute(_UPDATE, {"first": min(ids), "last": max(ids)}).scalars()
        )
        events = [c.event for c in changes if c.case_id in updated]
        if events and self.postgres:
            with self._cursor() as cursor, cursor.copy(
                f"COPY case_events ({', '.join(_EVENT_COLUMNS)}) FROM STDIN"
            ) as copy:
                for e in events:
                    copy.write_row(tuple(
                        json.dumps(e["data"], ensure_ascii=False) if k == "data" else e[k]
                        for k in _EVENT_COLUMNS
                    ))
        elif events:
            self.connection.execute(insert(CaseEvent.__table__), events)
        self._clear()
        return updated

    def close(self) -> None:
        self._clear()
