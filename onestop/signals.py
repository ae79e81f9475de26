"""Signs of pushing work around (RULES.md section 8): advisory signals, never sanctions.

`run_signals(session, day)` recomputes the signals as of the end of `day` (local time) over
the cases with history in the window before it, or still open, and stores each with its
evidence: the case events (ids and sequence numbers) that show it. Rerunning a day replaces that
day's signals, so the nightly run is idempotent. Each signal names its case, the officer it
concerns and the unit, so it can be read per case, per owner and per unit.

Signals computed (sign: kind):
- passing the ball: `sent_back` (sent back to an earlier step, or back to an officer who held
  the step before, at least twice); `excess_handovers` (more handovers than the process has
  steps);
- dragging: `over_budget` (a step held past its budget, named on whoever held it at its due
  instant); `idle` (no action for N working hours, paused time and a result awaiting collection
  not counted);
- supplements beyond the rules: `repeated_supplement` (more than one request);
  `late_supplement` (a request after a share of the step's budget had gone, 75% by default);
- formal apologies: `late_apology` (form 04 after the due instant, which the lifecycle refuses,
  so this checks the data, not the code); `repeated_apologies` (form 04 issued more than once by
  the same officer in the window);
- avoiding decisions: `late_refusal` (refused after review once the full processing time had
  run);
- head delegating down: `delegating_down` (every approval step, the one before the return step,
  that an officer received in the window was passed by them to someone else, at least 3);
- tampering: `history_altered` (an event whose hash chain no longer checks). Refused attempts
  to change a recorded time leave no data: the database aborts them with their transaction;
- inspections: `irregular_finding` (an inspector found the case irregular).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    delete,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, selectinload

from onestop import clock
from onestop.audit import hash_of
from onestop.calendar import WorkCalendar
from onestop.calendar_store import work_calendar
from onestop.db import Base, UTCDateTime
from onestop.inspections import InspectionFinding
from onestop.models import (
    OPEN_STATUSES,
    PAUSED_STATUSES,
    Case,
    CaseEvent,
    Procedure,
    StepAssignment,
)

SIGNS = {
    "sent_back": "passing_ball",
    "excess_handovers": "passing_ball",
    "over_budget": "dragging",
    "idle": "dragging",
    "repeated_supplement": "supplements",
    "late_supplement": "supplements",
    "late_apology": "apologies",
    "repeated_apologies": "apologies",
    "late_refusal": "avoiding_decisions",
    "delegating_down": "delegating_down",
    "history_altered": "tampering",
    "irregular_finding": "inspection",
}
BATCH = 500
# Events that are not an action on the case by the officers handling it.
NOT_ACTIONS = frozenset({"due_recomputed", "inspection_finding"})


class Signal(Base):
    """One advisory signal of one day, with the evidence that shows it."""

    __tablename__ = "signals"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    sign: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    # What the signal is about, e.g. "case:12", "step:40", "officer:7": unique per day and kind.
    subject: Mapped[str] = mapped_column(String(80))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("day", "kind", "subject", name="uq_signals_day_kind_subject"),
        Index("ix_signals_kind_day", "kind", "day"),
    )


@dataclass(frozen=True)
class SignalRules:
    """Thresholds (choices; RULES.md names the signs, not the numbers)."""

    window_days: int = 30
    idle_hours: float = 16.0
    late_supplement_share: float = 0.75
    sent_back_min: int = 2
    apologies_min: int = 2
    delegation_min: int = 3


@dataclass
class SignalRun:
    day: date
    cases_examined: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def signals(self) -> int:
        return sum(self.by_kind.values())


@dataclass
class _Found:
    kind: str
    subject: str
    case_id: int | None
    officer_id: int | None
    unit_id: int | None
    evidence: dict[str, Any]


def _iso(instant: datetime | None) -> str | None:
    return instant.astimezone(UTC).isoformat() if instant else None


def _ev(event: CaseEvent) -> dict[str, Any]:
    return {"id": event.id, "seq": event.seq, "kind": event.kind, "at": _iso(event.at)}


def _paused_hours(case: Case, start: datetime, end: datetime, calendar: WorkCalendar) -> float:
    total = 0.0
    for pause in case.pauses:
        a = max(start, pause.started_at)
        b = min(end, pause.ended_at or end)
        if b > a:
            total += calendar.working_hours_between(a, b)
    return total


def _holding_at(case: Case, instant: datetime) -> StepAssignment | None:
    """The assignment that held the case at `instant` (the later one at a handover instant)."""
    held = None
    for assignment in case.assignments:
        if assignment.started_at <= instant and (
            assignment.ended_at is None or assignment.ended_at > instant
        ):
            held = assignment
    return held


# --- per case ---------------------------------------------------------------------------------


def _sent_back(case: Case, events: list[CaseEvent], rules: SignalRules) -> list[_Found]:
    """Moves back: a handover to an earlier step, or a reassignment back to an officer who
    already held the same step."""
    by_time = {(e.kind, e.at): e for e in events}
    bounces: list[CaseEvent] = []
    holdings = sorted(case.assignments, key=lambda a: a.id)
    for index in range(1, len(holdings)):
        before, after = holdings[index - 1], holdings[index]
        if before.end_kind == "handover" and after.step_position < before.step_position:
            event = by_time.get(("handed_over", after.started_at))
        elif before.end_kind == "reassigned" and after.owner_id in {
            a.owner_id
            for a in holdings[:index]
            if a.step_position == after.step_position and a.step_started_at == after.step_started_at
        }:
            event = by_time.get(("reassigned", after.started_at))
        else:
            continue
        if event is not None:
            bounces.append(event)
    if len(bounces) < rules.sent_back_min:
        return []
    actor = Counter(e.actor_id for e in bounces).most_common(1)[0][0]
    return [
        _Found(
            "sent_back",
            f"case:{case.id}",
            case.id,
            actor,
            case.unit_id,
            {"events": [_ev(e) for e in bounces], "count": len(bounces)},
        )
    ]


def _excess_handovers(case: Case, events: list[CaseEvent], end: datetime) -> list[_Found]:
    holdings = [a for a in case.assignments if a.started_at < end]
    handovers = len(holdings) - 1
    steps = len(case.procedure.steps)
    if handovers <= steps:
        return []
    moves = [e for e in events if e.kind in ("handed_over", "reassigned", "resolved")]
    return [
        _Found(
            "excess_handovers",
            f"case:{case.id}",
            case.id,
            None,
            case.unit_id,
            {"events": [_ev(e) for e in moves], "handovers": handovers, "steps": steps},
        )
    ]


def _over_budget(
    case: Case,
    events: list[CaseEvent],
    start: datetime,
    end: datetime,
) -> list[_Found]:
    found = []
    paused_now = case.status in PAUSED_STATUSES
    for assignment in case.assignments:
        if assignment.started_at >= end or assignment.end_kind == "reassigned":
            continue  # a reassigned holding's step goes on in the next one
        if assignment.ended_at is not None and assignment.ended_at < end:
            if assignment.result != "late" or assignment.ended_at < start:
                continue
        elif paused_now or assignment.due_at >= end:
            continue
        # Name whoever held the step when its due instant passed.
        occurrence = [
            a
            for a in case.assignments
            if a.step_position == assignment.step_position
            and a.step_started_at == assignment.step_started_at
        ]
        at_due = next(
            (
                a
                for a in occurrence
                if a.started_at <= assignment.due_at
                and (a.ended_at is None or a.ended_at > assignment.due_at)
            ),
            assignment,
        )
        bounds = (assignment.step_started_at, assignment.ended_at or end)
        evidence = [
            _ev(e)
            for e in events
            if bounds[0] <= e.at <= bounds[1]
            and assignment.step_position in (e.from_step, e.to_step)
        ]
        found.append(
            _Found(
                "over_budget",
                f"step:{occurrence[0].id}",
                case.id,
                at_due.owner_id,
                at_due.unit_id,
                {
                    "events": evidence,
                    "step": assignment.step_name,
                    "position": assignment.step_position,
                    "due_at": _iso(assignment.due_at),
                    "ended_at": _iso(assignment.ended_at),
                    "holders": [a.owner_id for a in occurrence],
                },
            )
        )
    return found


def _idle(
    case: Case,
    events: list[CaseEvent],
    start: datetime,
    end: datetime,
    calendar: WorkCalendar,
    rules: SignalRules,
) -> list[_Found]:
    longest: tuple[float, CaseEvent, CaseEvent | None] | None = None
    events = [e for e in events if e.kind not in NOT_ACTIONS]
    for index, event in enumerate(events):
        if event.to_status not in OPEN_STATUSES or event.to_status in PAUSED_STATUSES:
            continue  # closed, resolved (awaiting collection) or paused: nothing to act on
        after = events[index + 1] if index + 1 < len(events) else None
        gap_end = after.at if after is not None else end
        if gap_end < start:
            continue
        hours = calendar.working_hours_between(event.at, gap_end) - _paused_hours(
            case, event.at, gap_end, calendar
        )
        if hours >= rules.idle_hours and (longest is None or hours > longest[0]):
            longest = (hours, event, after)
    if longest is None:
        return []
    hours, before, after = longest
    holder = _holding_at(case, before.at)
    return [
        _Found(
            "idle",
            f"case:{case.id}",
            case.id,
            holder.owner_id if holder else None,
            holder.unit_id if holder else case.unit_id,
            {
                "events": [_ev(e) for e in (before, after) if e is not None],
                "working_hours": round(hours, 2),
                "open": after is None,
            },
        )
    ]


def _supplements(
    case: Case,
    events: list[CaseEvent],
    calendar: WorkCalendar,
    rules: SignalRules,
) -> list[_Found]:
    requests = [e for e in events if e.kind == "supplement_requested"]
    found = []
    if len(requests) > 1:
        found.append(
            _Found(
                "repeated_supplement",
                f"case:{case.id}",
                case.id,
                requests[1].actor_id,
                case.unit_id,
                {"events": [_ev(e) for e in requests], "count": len(requests)},
            )
        )
    late = []
    for request in requests:
        holding = _holding_at(case, request.at)
        if holding is None or holding.budget_hours <= 0:
            continue
        elapsed = calendar.working_hours_between(
            holding.step_started_at, request.at
        ) - _paused_hours(case, holding.step_started_at, request.at, calendar)
        share = elapsed / holding.budget_hours
        if share > rules.late_supplement_share:
            late.append((request, holding, share))
    if late:
        request, holding, _ = late[0]
        found.append(
            _Found(
                "late_supplement",
                f"case:{case.id}",
                case.id,
                request.actor_id,
                holding.unit_id,
                {
                    "events": [_ev(e) for e, _, _ in late],
                    "shares": [round(s, 3) for _, _, s in late],
                    "step": holding.step_name,
                },
            )
        )
    return found


def _late_apology(case: Case, events: list[CaseEvent]) -> list[_Found]:
    extension = case.extension
    if extension is None or extension.issued_at <= extension.previous_due_at:
        return []
    event = next((e for e in events if e.kind == "extended"), None)
    return [
        _Found(
            "late_apology",
            f"case:{case.id}",
            case.id,
            extension.issued_by_id,
            extension.responsible_unit_id,
            {
                "events": [_ev(event)] if event else [],
                "issued_at": _iso(extension.issued_at),
                "due_at": _iso(extension.previous_due_at),
            },
        )
    ]


def _late_refusal(case: Case, events: list[CaseEvent]) -> list[_Found]:
    refusal = next((e for e in events if e.kind == "refused"), None)
    if refusal is None or case.due_at is None or refusal.at < case.due_at:
        return []
    holder = _holding_at(case, refusal.at - timedelta(microseconds=1))
    return [
        _Found(
            "late_refusal",
            f"case:{case.id}",
            case.id,
            refusal.actor_id,
            holder.unit_id if holder else case.unit_id,
            {"events": [_ev(refusal)], "due_at": _iso(case.due_at)},
        )
    ]


def _history_altered(case: Case, events: list[CaseEvent]) -> list[_Found]:
    broken, previous, expected = [], None, 1
    for event in events:
        if (
            event.seq != expected
            or event.prev_hash != previous
            or hash_of(event, event.prev_hash) != event.hash
        ):
            broken.append(event)
        previous, expected = event.hash, event.seq + 1
    if (
        not broken
        and (case.last_event_seq or 0) == expected - 1
        and case.last_event_hash == previous
    ):
        return []
    return [
        _Found(
            "history_altered",
            f"case:{case.id}",
            case.id,
            None,
            case.unit_id,
            {"events": [_ev(e) for e in broken], "last_event_seq": case.last_event_seq},
        )
    ]


# --- across cases -----------------------------------------------------------------------------


@dataclass
class _Across:
    apologies: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    approvals: dict[int, list[tuple[bool, dict[str, Any] | None, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )


def _collect_across(
    case: Case, events: list[CaseEvent], start: datetime, end: datetime, across: _Across
) -> None:
    extension = case.extension
    if extension is not None and start <= extension.issued_at < end:
        event = next((e for e in events if e.kind == "extended"), None)
        across.apologies[extension.issued_by_id].append(
            {"case_id": case.id, "code": case.receipt_code, **(_ev(event) if event else {})}
        )
    steps = case.procedure.steps
    if len(steps) < 3:
        return
    approval = steps[-2].position
    by_time = {(e.kind, e.at): e for e in events}
    for assignment in case.assignments:
        if assignment.step_position != approval or not (start <= assignment.started_at < end):
            continue
        if assignment.ended_at is None and case.status in OPEN_STATUSES:
            continue  # not decided yet either way
        reassign = by_time.get(("reassigned", assignment.ended_at)) if assignment.ended_at else None
        passed_on = (
            assignment.end_kind == "reassigned"
            and reassign is not None
            and reassign.actor_id == assignment.owner_id
        )
        across.approvals[assignment.owner_id].append(
            (
                passed_on,
                _ev(reassign) if reassign is not None and passed_on else None,
                assignment.unit_id,
            )
        )


def _across_signals(across: _Across, rules: SignalRules) -> list[_Found]:
    found = []
    for officer_id, items in sorted(across.apologies.items()):
        if len(items) >= rules.apologies_min:
            found.append(
                _Found(
                    "repeated_apologies",
                    f"officer:{officer_id}",
                    None,
                    officer_id,
                    None,
                    {"events": items, "count": len(items)},
                )
            )
    for officer_id, holdings in sorted(across.approvals.items()):
        if len(holdings) >= rules.delegation_min and all(passed for passed, _, _ in holdings):
            found.append(
                _Found(
                    "delegating_down",
                    f"officer:{officer_id}",
                    None,
                    officer_id,
                    holdings[-1][2],
                    {"events": [e for _, e, _ in holdings if e], "count": len(holdings)},
                )
            )
    return found


def _findings(session: Session, start: datetime, end: datetime) -> list[_Found]:
    rows = session.execute(
        select(InspectionFinding, Case.unit_id, CaseEvent)
        .join(Case, Case.id == InspectionFinding.case_id)
        .join(CaseEvent, CaseEvent.id == InspectionFinding.event_id)
        .where(
            InspectionFinding.verdict == "irregular",
            InspectionFinding.recorded_at >= start,
            InspectionFinding.recorded_at < end,
        )
        .order_by(InspectionFinding.id)
    ).all()
    return [
        _Found(
            "irregular_finding",
            f"finding:{finding.id}",
            finding.case_id,
            None,
            unit_id,
            {"events": [_ev(event)], "note": finding.note, "inspector_id": finding.inspector_id},
        )
        for finding, unit_id, event in rows
    ]


# --- the run ----------------------------------------------------------------------------------


def day_bounds(day: date, calendar: WorkCalendar, window_days: int) -> tuple[datetime, datetime]:
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=calendar.zone)
    return end - timedelta(days=window_days), end


def _case_ids(session: Session, start: datetime, end: datetime) -> list[int]:
    with_history = select(CaseEvent.case_id).where(CaseEvent.at >= start, CaseEvent.at < end)
    return list(
        session.scalars(
            select(Case.id)
            .where(
                Case.received_at.is_not(None),
                Case.received_at < end,
                or_(Case.id.in_(with_history), Case.status.in_(OPEN_STATUSES)),
            )
            .order_by(Case.id)
        )
    )


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


def compute_signals(
    session: Session, day: date, rules: SignalRules | None = None
) -> tuple[int, list[_Found]]:
    """The signals as of the end of `day`; returns (cases examined, signals)."""
    rules = rules or SignalRules()
    calendar = work_calendar(session)
    start, end = day_bounds(day, calendar, rules.window_days)
    ids = _case_ids(session, start, end)
    found: list[_Found] = []
    across = _Across()
    for chunk in _chunks(ids, BATCH):
        cases = session.scalars(
            select(Case)
            .where(Case.id.in_(chunk))
            .options(
                selectinload(Case.assignments),
                selectinload(Case.pauses),
                selectinload(Case.extension),
                selectinload(Case.procedure).selectinload(Procedure.steps),
            )
            .order_by(Case.id)
        ).all()
        history: dict[int, list[CaseEvent]] = defaultdict(list)
        for event in session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id.in_(chunk))
            .order_by(CaseEvent.case_id, CaseEvent.seq)
        ):
            history[event.case_id].append(event)
        for case in cases:
            everything = history[case.id]
            found.extend(_history_altered(case, everything))
            events = [e for e in everything if e.at < end]
            found.extend(_sent_back(case, events, rules))
            found.extend(_excess_handovers(case, events, end))
            found.extend(_over_budget(case, events, start, end))
            found.extend(_idle(case, events, start, end, calendar, rules))
            found.extend(_supplements(case, events, calendar, rules))
            found.extend(_late_apology(case, events))
            found.extend(_late_refusal(case, events))
            _collect_across(case, events, start, end, across)
    found.extend(_across_signals(across, rules))
    found.extend(_findings(session, start, end))
    return len(ids), found


def run_signals(session: Session, day: date, *, rules: SignalRules | None = None) -> SignalRun:
    """Recompute and store the signals of `day`, replacing any stored for it (flushes)."""
    examined, found = compute_signals(session, day, rules)
    session.execute(delete(Signal).where(Signal.day == day))
    now = clock.now()
    run = SignalRun(day=day, cases_examined=examined)
    seen: set[tuple[str, str]] = set()
    for item in found:
        if (item.kind, item.subject) in seen:
            continue
        seen.add((item.kind, item.subject))
        session.add(
            Signal(
                day=day,
                sign=SIGNS[item.kind],
                kind=item.kind,
                subject=item.subject,
                case_id=item.case_id,
                officer_id=item.officer_id,
                unit_id=item.unit_id,
                evidence=item.evidence,
                computed_at=now,
            )
        )
        run.by_kind[item.kind] = run.by_kind.get(item.kind, 0) + 1
    session.flush()
    return run


def signals_for(
    session: Session,
    *,
    day: date | None = None,
    case_id: int | None = None,
    officer_id: int | None = None,
    unit_id: int | None = None,
) -> list[Signal]:
    """Stored signals, filtered per case, owner or unit (the latest day if none given)."""
    if day is None:
        day = session.scalar(select(Signal.day).order_by(Signal.day.desc()).limit(1))
        if day is None:
            return []
    query = select(Signal).where(Signal.day == day)
    if case_id is not None:
        query = query.where(Signal.case_id == case_id)
    if officer_id is not None:
        query = query.where(Signal.officer_id == officer_id)
    if unit_id is not None:
        query = query.where(Signal.unit_id == unit_id)
    return list(session.scalars(query.order_by(Signal.kind, Signal.subject)))
