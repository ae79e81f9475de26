"""Tamper evidence for the case history (each event's hash chains to the previous one), and the
trail of administrators' changes to what the cases rest on: units, procedures, the calendar."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, exists, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from onestop import clock
from onestop.db import Base, UTCDateTime
from onestop.models import Case, CaseEvent, Officer, Unit


class AdminAction(Base):
    """One administrator's change, append-only: who (None: the command line), what, on which
    record, why, and what the record was before and after."""

    __tablename__ = "admin_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def record_admin_action(
    session: Session, action: str, target: str, *, by: Officer | None = None,
    reason: str | None = None, **details: Any,
) -> AdminAction:
    """Add an entry to the administrators' trail (in the caller's transaction)."""
    entry = AdminAction(
        at=clock.now(), actor_id=by.id if by else None, action=action, target=target,
        reason=reason, details=json.loads(json.dumps(details, default=str)),
    )
    session.add(entry)
    return entry


def event_hash(
    prev_hash: str | None, *, case_id: int, seq: int, kind: str, at: datetime,
    actor_id: int | None, from_status: str | None, to_status: str | None,
    from_step: int | None, to_step: int | None, reason: str | None, data: dict[str, Any],
    corrects_event_id: int | None,
) -> str:
    """SHA-256 over the previous hash and a canonical JSON of the event's content."""
    content = [
        case_id, seq, kind, at.astimezone(UTC).isoformat(timespec="microseconds"), actor_id,
        from_status, to_status, from_step, to_step, reason, data or {}, corrects_event_id,
    ]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(((prev_hash or "") + canonical).encode("utf-8")).hexdigest()


def hash_of(event: Any, prev_hash: str | None) -> str:
    """The hash of a CaseEvent, or of a row with the same columns."""
    return event_hash(
        prev_hash, case_id=event.case_id, seq=event.seq, kind=event.kind, at=event.at,
        actor_id=event.actor_id, from_status=event.from_status, to_status=event.to_status,
        from_step=event.from_step, to_step=event.to_step, reason=event.reason, data=event.data,
        corrects_event_id=event.corrects_event_id,
    )


@dataclass(frozen=True)
class BrokenLink:
    receipt_code: str
    seq: int
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        return f"{self.receipt_code} event {self.seq}: {self.problem}"


def verify_chains(
    session: Session, unit_code: str | None = None, batch: int = 5000
) -> tuple[int, list[BrokenLink]]:
    """Re-check every case's chain (optionally one unit and the units below it).

    Streams the events in (case, seq) order as plain rows, so it neither loads the whole history
    nor touches the caller's session state. Returns the number of events checked and each broken
    link: a changed event (its hash no longer matches), a missing or reordered event (a gap in
    the sequence or a prev_hash that does not match), or a case whose last hash disagrees with
    its history.
    """
    events = CaseEvent.__table__
    cases = Case.__table__
    query = (
        select(events, cases.c.receipt_code, cases.c.last_event_seq, cases.c.last_event_hash)
        .join(cases, cases.c.id == events.c.case_id)
        .order_by(events.c.case_id, events.c.seq)
    )
    if unit_code is not None:
        root = session.scalar(select(Unit).where(Unit.code == unit_code))
        if root is None:
            from onestop.errors import NotFound

            raise NotFound("unit_not_found", code=unit_code)
        query = query.where(cases.c.unit_id.in_(_subtree_ids(session, root.id)))
    broken: list[BrokenLink] = []
    checked = 0
    current = None  # (case_id, receipt_code, last_seq, last_hash) of the case being walked
    previous: str | None = None
    expected_seq = 1

    def close_case() -> None:
        if current is None:
            return
        _, code, last_seq, last_hash = current
        if (last_seq or 0) != expected_seq - 1 or last_hash != previous:
            broken.append(BrokenLink(code, expected_seq, None, "latest events missing from the history"))

    for row in session.execute(query.execution_options(yield_per=batch)):
        if current is None or row.case_id != current[0]:
            close_case()
            current = (row.case_id, row.receipt_code, row.last_event_seq, row.last_event_hash)
            previous, expected_seq = None, 1
        checked += 1
        code = row.receipt_code
        if row.seq != expected_seq:
            broken.append(BrokenLink(code, expected_seq, None, "event missing from the history"))
            expected_seq = row.seq
        if row.prev_hash != previous:
            broken.append(BrokenLink(code, row.seq, row.id, "does not follow the previous event"))
        if hash_of(row, row.prev_hash) != row.hash:
            broken.append(BrokenLink(code, row.seq, row.id, "content changed after it was recorded"))
        previous = row.hash
        expected_seq += 1
    close_case()
    emptied = select(cases.c.receipt_code).where(
        cases.c.last_event_seq > 0, ~exists().where(events.c.case_id == cases.c.id)
    )
    if unit_code is not None:
        emptied = emptied.where(cases.c.unit_id.in_(_subtree_ids(session, root.id)))
    for code in session.scalars(emptied):
        broken.append(BrokenLink(code, 1, None, "the whole history is missing"))
    return checked, broken


def _subtree_ids(session: Session, root_id: int) -> list[int]:
    parents = dict(session.execute(select(Unit.id, Unit.parent_id)).all())
    ids = []
    for unit_id in parents:
        node: int | None = unit_id
        while node is not None and node != root_id:
            node = parents.get(node)
        if node == root_id:
            ids.append(unit_id)
    return ids
