"""On-time figures (RULES.md sections 4 and 5), materialised per day in the database.

Design, in one paragraph: the database does all the counting. Two snapshot tables hold, per
local day, the counts of RULES.md section 5: `metric_case_days` per receiving unit and procedure
(cases received, ended, and still open at the end of the day), `metric_step_days` per owner's
unit, procedure, step and owner (steps finished, and held at the end of the day). A period
report is then a sum of daily flows over the period plus the open stock at its last day (and the
stock of the day before it, which is what was carried over); the invariant received = resolved +
in progress + withdrawn + stopped + refused holds because one set of instants decides both.

Day-based classification needs local dates and "at risk" needs working time, so the working
calendar is copied into `metric_calendar_days` (one row per local day: working or not, and the
number of working days before it). With it, SQL computes the same working *position* of an
instant as `WorkCalendar` (working days before x day length + office time spent that day), in
integer microseconds, on SQLite and PostgreSQL alike: instants become epoch microseconds through
one small dialect-specific expression, and everything else is integer arithmetic. Viet Nam has
kept UTC+7 since 1975, so local dates are (epoch + 7 h) // 1 day.

Figures for a past day are recomputed from the record as it stands (`current record`): receipts,
ends and pauses are intervals and so historical, but a case's due instant is its current one
(a pause that ended later has already moved it, as the law says it should). Most history
events only write instants equal to their own time, so they change today's figures on; an event
that moves a due instant (a supplement received, a recomputed deadline) can change every day
since the receipt. `refresh_metrics` recomputes from the earliest day the new events can have
touched through today. Each recompute deletes and re-inserts its days in the caller's
transaction, so a rerun replaces and a failure leaves the previous snapshot whole. Cases written
straight into the tables (bulk imports without history events) need `refresh_metrics(full=True)`.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.expression import FunctionElement, bindparam

from onestop import clock
from onestop.calendar import WorkCalendar
from onestop.calendar_store import work_calendar
from onestop.db import Base, UTCDateTime
from onestop.errors import ValidationError
from onestop.i18n import step_title
from onestop.models import (
    Case,
    CaseEvent,
    Complaint,
    Officer,
    Pause,
    Procedure,
    ProcessStep,
    Rating,
    StepAssignment,
    Unit,
)
from onestop.settings import Policy

US = 1_000_000
DAY_US = 86_400 * US
# A run that is committed a little after its events were stamped is still seen: the next run
# looks this far back before the last watermark (server time of the previous run).
LOOKBACK = timedelta(minutes=10)
WILSON_Z = 1.959963984540054  # 95 %
SATISFACTION_TARGET = 0.9  # Decision 766, indicator 5.4: full score at 90 %


# --- tables -----------------------------------------------------------------------------------
# Snapshot tables are derived data, rebuilt from the cases: no foreign keys, so that a rebuild
# of millions of rows does not pay a look-up per row.

class MetricCalendarDay(Base):
    """The working calendar as a table, for working-time arithmetic in SQL."""

    __tablename__ = "metric_calendar_days"

    # Local days since 1970-01-01 (Asia/Ho_Chi_Minh).
    dn: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, unique=True)
    working: Mapped[int] = mapped_column(SmallInteger)
    # Working days before this day (for a day off: the index of the next working day).
    cum: Mapped[int] = mapped_column(Integer)


class MetricState(Base):
    """Where the last refresh stopped: the watermark of the history and what it assumed."""

    __tablename__ = "metric_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    watermark_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_event_id: Mapped[int | None] = mapped_column(BigInteger)
    computed_from: Mapped[date | None] = mapped_column(Date)
    computed_to: Mapped[date | None] = mapped_column(Date)
    office_hours: Mapped[str | None] = mapped_column(String(64))
    at_risk_share: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


_COUNT = {"default": 0}


class CaseDayFigures(Base):
    """Cases of one receiving unit and procedure on one local day: received and ended that day,
    and open at the end of it (for today: now)."""

    __tablename__ = "metric_case_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    procedure_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    received_online: Mapped[int] = mapped_column(Integer, **_COUNT)
    received_in_person: Mapped[int] = mapped_column(Integer, **_COUNT)
    received_post: Mapped[int] = mapped_column(Integer, **_COUNT)
    resolved_early: Mapped[int] = mapped_column(Integer, **_COUNT)
    resolved_on_time: Mapped[int] = mapped_column(Integer, **_COUNT)
    resolved_late: Mapped[int] = mapped_column(Integer, **_COUNT)
    withdrawn: Mapped[int] = mapped_column(Integer, **_COUNT)
    stopped: Mapped[int] = mapped_column(Integer, **_COUNT)
    refused: Mapped[int] = mapped_column(Integer, **_COUNT)
    # Open at the end of the day: within deadline + overdue is every open case; at risk is part
    # of within deadline, paused part of either.
    open_within: Mapped[int] = mapped_column(Integer, **_COUNT)
    open_overdue: Mapped[int] = mapped_column(Integer, **_COUNT)
    open_at_risk: Mapped[int] = mapped_column(Integer, **_COUNT)
    open_paused: Mapped[int] = mapped_column(Integer, **_COUNT)
    # Resolved that day with a complaint or a dissatisfied rating (766 indicator 5.4).
    resolved_disliked: Mapped[int] = mapped_column(Integer, **_COUNT)
    # Working time from receipt to result of the cases resolved that day, paused time excluded.
    resolved_working_seconds: Mapped[int] = mapped_column(BigInteger, **_COUNT)


class StepDayFigures(Base):
    """Steps held by one owner (in the unit where they hold the role) on one local day."""

    __tablename__ = "metric_step_days"
    # An officer's scorecard reads by owner (migration 0007).
    __table_args__ = (Index("ix_metric_step_days_owner_day", "owner_id", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    procedure_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    step_position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    finished_early: Mapped[int] = mapped_column(Integer, **_COUNT)
    finished_on_time: Mapped[int] = mapped_column(Integer, **_COUNT)
    finished_late: Mapped[int] = mapped_column(Integer, **_COUNT)
    open_within: Mapped[int] = mapped_column(Integer, **_COUNT)
    open_overdue: Mapped[int] = mapped_column(Integer, **_COUNT)
    open_at_risk: Mapped[int] = mapped_column(Integer, **_COUNT)
    open_paused: Mapped[int] = mapped_column(Integer, **_COUNT)
    # Open steps at the end of the day whose whole case is overdue: overdue cases this owner holds.
    held_cases_overdue: Mapped[int] = mapped_column(Integer, **_COUNT)
    # Finished steps: working time used, the step budgets, and the time past the step's due.
    worked_seconds: Mapped[int] = mapped_column(BigInteger, **_COUNT)
    budget_seconds: Mapped[int] = mapped_column(BigInteger, **_COUNT)
    overrun_seconds: Mapped[int] = mapped_column(BigInteger, **_COUNT)
    # Open steps at the end of the day: working time already past their due.
    open_overrun_seconds: Mapped[int] = mapped_column(BigInteger, **_COUNT)


CASE_COLUMNS = tuple(
    c.name for c in CaseDayFigures.__table__.columns if c.name not in ("day", "unit_id", "procedure_id")
)
STEP_COLUMNS = tuple(
    c.name for c in StepDayFigures.__table__.columns
    if c.name not in ("day", "unit_id", "procedure_id", "step_position", "owner_id")
)


# --- SQL building blocks ----------------------------------------------------------------------

class epoch_us(FunctionElement):
    """Microseconds since 1970-01-01 UTC of an instant column."""

    type = BigInteger()
    name = "epoch_us"
    inherit_cache = True


@compiles(epoch_us, "postgresql")
def _epoch_us_pg(element, compiler, **kw):
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(floor(EXTRACT(EPOCH FROM {arg}) * 1000000) AS BIGINT)"


@compiles(epoch_us, "sqlite")
def _epoch_us_sqlite(element, compiler, **kw):
    # UTCDateTime stores 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) on SQLite.
    arg = compiler.process(element.clauses, **kw)
    return (
        f"(CAST(strftime('%s', {arg}) AS INTEGER) * 1000000"
        f" + CAST(substr({arg}, 21, 6) AS INTEGER))"
    )


class day_of_number(FunctionElement):
    """The local date of a day number (days since 1970-01-01)."""

    type = Date()
    name = "day_of_number"
    inherit_cache = True


@compiles(day_of_number, "postgresql")
def _day_of_number_pg(element, compiler, **kw):
    return f"(DATE '1970-01-01' + CAST({compiler.process(element.clauses, **kw)} AS INTEGER))"


@compiles(day_of_number, "sqlite")
def _day_of_number_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)} * 86400, 'unixepoch')"


def _int(value: int) -> ColumnElement[int]:
    return literal_column(str(int(value)), BigInteger)


def _zero() -> ColumnElement[int]:
    return literal_column("0", BigInteger)


@dataclass(frozen=True)
class _Clock:
    """The calendar's constants in microseconds, for SQL expressions."""

    offset_us: int
    day_us: int  # office time per working day
    sessions: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, calendar: WorkCalendar) -> _Clock:
        zone = calendar.zone
        offsets = {
            datetime(year, month, 1, 12, tzinfo=zone).utcoffset() for year in (1990, 2026, 2060)
            for month in (1, 7)
        }
        if len(offsets) != 1:
            raise ValueError(f"the metrics need a fixed UTC offset; {zone} has {sorted(offsets)}")
        offset = offsets.pop()
        assert offset is not None
        sessions = tuple(
            ((h1 * 60 + m1) * 60 * US, (h2 * 60 + m2) * 60 * US)
            for h1, m1, h2, m2 in calendar.office_hours
        )
        return cls(
            offset_us=int(offset.total_seconds()) * US,
            day_us=sum(e - s for s, e in sessions),
            sessions=sessions,
        )

    @property
    def signature(self) -> str:
        return f"{self.offset_us}|" + ",".join(f"{s}-{e}" for s, e in self.sessions)

    def day_number(self, e: ColumnElement) -> ColumnElement[int]:
        return (e + _int(self.offset_us)) // _int(DAY_US)

    def time_of_day(self, e: ColumnElement) -> ColumnElement[int]:
        return (e + _int(self.offset_us)) % _int(DAY_US)

    def office_before(self, tod: ColumnElement) -> ColumnElement[int]:
        parts = [
            case((tod <= _int(s), _zero()), (tod >= _int(e), _int(e - s)), else_=tod - _int(s))
            for s, e in self.sessions
        ]
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return total

    def position(self, e: ColumnElement, cal) -> ColumnElement[int]:
        """Working position of instant `e` (epoch µs), `cal` being its day's calendar row."""
        return cal.c.cum * _int(self.day_us) + case(
            (cal.c.working == 1, self.office_before(self.time_of_day(e))), else_=_zero()
        )


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def day_number(day: date) -> int:
    return day.toordinal() - EPOCH_ORDINAL


def day_of(dn: int) -> date:
    return date.fromordinal(dn + EPOCH_ORDINAL)


def _to_epoch_us(instant: datetime) -> int:
    delta = instant.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def _instant_of_day_start(dn: int, offset_us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=dn * DAY_US - offset_us)


# --- the calendar table -----------------------------------------------------------------------

def _calendar_range(session: Session, calendar: WorkCalendar, upto: date) -> tuple[date, date]:
    """Every local day an instant of the record can fall on, with room on both sides."""
    row = session.execute(
        select(func.min(Case.received_at), func.max(Case.due_at), func.max(Case.ended_at))
    ).one()
    step_due = session.scalar(select(func.max(StepAssignment.due_at)))
    instants = [i for i in (*row, step_due) if i is not None]
    zone = calendar.zone
    first = min([upto, *(i.astimezone(zone).date() for i in instants)])
    last = max([upto, *(i.astimezone(zone).date() for i in instants)])
    return date(first.year - 1, 1, 1), date(last.year + 1, 12, 31)


def sync_calendar(session: Session, calendar: WorkCalendar, first: date, last: date) -> bool:
    """Make `metric_calendar_days` cover [first, last] as `calendar` says; True if a day that
    was already there changed (its working-time figures are then stale)."""
    table = MetricCalendarDay.__table__
    stored = {
        r.dn: r.working for r in session.execute(select(table.c.dn, table.c.working))
    }
    if stored:
        first = min(first, day_of(min(stored)))
        last = max(last, day_of(max(stored)))
    rows, cum, changed = [], 0, False
    day = first
    while day <= last:
        dn = day_number(day)
        working = 1 if calendar.is_working_day(day) else 0
        if dn in stored and stored[dn] != working:
            changed = True
        rows.append({"dn": dn, "day": day, "working": working, "cum": cum})
        cum += working
        day += timedelta(days=1)
    if changed or len(stored) != len(rows) or (stored and min(stored) != rows[0]["dn"]):
        session.execute(delete(table))
        session.execute(insert(table), rows)
        # Fresh statistics, or the planner takes the table for a single row.
        session.execute(text("ANALYZE metric_calendar_days"))
    return changed


# --- computing days ---------------------------------------------------------------------------

def _pause_stats():
    """Per case: supplement requests, paused working seconds, whether it ever paused, and when
    the second supplement was requested (from then on it is late, Decision 766)."""
    p = Pause.__table__
    stats = (
        select(
            p.c.case_id,
            func.sum(case((p.c.reason == "supplement", 1), else_=0)).label("n_supp"),
            func.sum(
                cast(func.round(func.coalesce(p.c.paused_working_hours, 0.0) * 3600), BigInteger)
            ).label("paused_s"),
        )
        .group_by(p.c.case_id)
        .cte("pause_stats")
    )
    ranked = (
        select(
            p.c.case_id,
            epoch_us(p.c.started_at).label("started"),
            func.row_number().over(partition_by=p.c.case_id, order_by=(p.c.started_at, p.c.id)).label("rn"),
        )
        .where(p.c.reason == "supplement")
        .subquery("supplements")
    )
    second = select(ranked.c.case_id, ranked.c.started.label("supp2")).where(ranked.c.rn == 2).cte("second_supplement")
    return stats, second


def _disliked():
    r, c = Rating.__table__, Complaint.__table__
    return union_all(
        select(r.c.case_id).where(r.c.satisfied.is_(False)),
        select(c.c.case_id),
    ).cte("disliked_raw")


def _eval_days(ck: _Clock):
    """The days evaluated, each with its evaluation instant T (end of the day, or now)."""
    cal = MetricCalendarDay.__table__
    end_of_day = (cal.c.dn + 1) * _int(DAY_US) - _int(ck.offset_us) - 1
    now = bindparam("now_us", type_=BigInteger)
    t = case((end_of_day < now, end_of_day), else_=now)
    inner = (
        select(cal.c.dn, cal.c.working, cal.c.cum, t.label("t"))
        .where(cal.c.dn.between(bindparam("first_dn", type_=Integer), bindparam("last_dn", type_=Integer)))
        .subquery("eval_days")
    )
    return inner


def _position_of_t(ck: _Clock, ev) -> ColumnElement[int]:
    return ev.c.cum * _int(ck.day_us) + case(
        (ev.c.working == 1, ck.office_before(ck.time_of_day(ev.c.t))), else_=_zero()
    )


def _open_days(ck: _Clock, source, case_id, start_dn, end_dn, dialect: str, name: str):
    """Each row of `source` paired with each evaluated day at whose end it was open (days in
    [start_dn, end_dn)), with the day's instant T, its working position, and the instant at
    which the pause running at T began (NULL if none: a case's pauses never overlap)."""
    ev = _eval_days(ck)
    if dialect == "postgresql":
        # Expand each row into exactly its own days, rather than filter rows x days.
        lower = func.greatest(start_dn, bindparam("first_dn", type_=Integer))
        upper = func.least(
            func.coalesce(end_dn - 1, bindparam("last_dn", type_=Integer)),
            bindparam("last_dn", type_=Integer),
        )
        days = func.generate_series(lower, upper).table_valued("dn").render_derived(name="open_day").lateral()
        joined = source.join(days, true()).join(ev, ev.c.dn == days.c.dn)
    else:  # SQLite walks the calendar's primary key for each row's range
        joined = source.join(ev, and_(ev.c.dn >= start_dn, or_(end_dn.is_(None), ev.c.dn < end_dn)))
    p = Pause.__table__.alias("pause_at_t")
    joined = joined.outerjoin(p, and_(
        p.c.case_id == case_id,
        epoch_us(p.c.started_at) <= ev.c.t,
        or_(p.c.ended_at.is_(None), epoch_us(p.c.ended_at) > ev.c.t),
    ))
    return (
        select(source, ev.c.dn, ev.c.t, _position_of_t(ck, ev).label("pos_t"),
               epoch_us(p.c.started_at).label("paused_since"))
        .select_from(joined)
        .subquery(name)
    )


def _case_rows_query(ck: _Clock, dialect: str):
    """INSERT source for metric_case_days over [first_dn, last_dn] (bound parameters)."""
    c, p = Case.__table__, Procedure.__table__
    stats, second = _pause_stats()
    disliked = select(_disliked().c.case_id).distinct().cte("disliked")
    start_first = bindparam("start_first", type_=UTCDateTime)
    start_after_last = bindparam("start_after_last", type_=UTCDateTime)
    base = (
        select(
            c.c.id, c.c.unit_id, c.c.procedure_id, c.c.channel, c.c.status,
            epoch_us(c.c.received_at).label("rec"),
            epoch_us(c.c.due_at).label("due"),
            epoch_us(c.c.ended_at).label("fin"),
            case((p.c.duration_unit == "working_hours", 1), else_=0).label("hours"),
            func.coalesce(stats.c.n_supp, 0).label("n_supp"),
            func.coalesce(stats.c.paused_s, 0).label("paused_s"),
            second.c.supp2,
            case((disliked.c.case_id.is_(None), 0), else_=1).label("disliked"),
        )
        .select_from(c)
        .join(p, p.c.id == c.c.procedure_id)
        .outerjoin(stats, stats.c.case_id == c.c.id)
        .outerjoin(second, second.c.case_id == c.c.id)
        .outerjoin(disliked, disliked.c.case_id == c.c.id)
        .where(
            c.c.received_at.is_not(None),
            c.c.received_at < start_after_last,
            or_(c.c.ended_at.is_(None), c.c.ended_at >= start_first),
        )
        .cte("base").prefix_with("MATERIALIZED")
    )
    cal = MetricCalendarDay.__table__
    cr, cd, ce = cal.alias("cal_rec"), cal.alias("cal_due"), cal.alias("cal_fin")
    cf = (
        select(
            base,
            ck.day_number(base.c.rec).label("rec_dn"),
            ck.day_number(base.c.due).label("due_dn"),
            ck.day_number(base.c.fin).label("fin_dn"),
            ck.position(base.c.rec, cr).label("pos_rec"),
            ck.position(base.c.due, cd).label("pos_due"),
            ck.position(base.c.fin, ce).label("pos_fin"),
        )
        .select_from(base)
        .join(cr, cr.c.dn == ck.day_number(base.c.rec))
        .join(cd, cd.c.dn == ck.day_number(base.c.due))
        .outerjoin(ce, ce.c.dn == ck.day_number(base.c.fin))
        .cte("case_facts").prefix_with("MATERIALIZED")
    )
    first_dn = bindparam("first_dn", type_=Integer)
    last_dn = bindparam("last_dn", type_=Integer)

    def part(dn, where, values: dict[str, ColumnElement], source=cf):
        cols = [dn.label("dn"), source.c.unit_id, source.c.procedure_id]
        cols += [func.sum(values[name]).label(name) if name in values else _zero().label(name)
                 for name in CASE_COLUMNS]
        return select(*cols).select_from(source).where(where).group_by(dn, source.c.unit_id, source.c.procedure_id)

    one = lambda cond: case((cond, 1), else_=0)
    received = part(cf.c.rec_dn, cf.c.rec_dn.between(first_dn, last_dn), {
        "received_online": one(cf.c.channel == "online"),
        "received_in_person": one(cf.c.channel == "in_person"),
        "received_post": one(cf.c.channel == "post"),
    })

    resolved = or_(cf.c.status == "resolved", cf.c.status == "returned")
    verdict = case(
        (cf.c.n_supp > 1, "late"),
        (cf.c.hours == 1, case((cf.c.fin < cf.c.due, "early"), (cf.c.fin == cf.c.due, "on_time"), else_="late")),
        else_=case((cf.c.fin_dn < cf.c.due_dn, "early"), (cf.c.fin_dn == cf.c.due_dn, "on_time"), else_="late"),
    )
    ended = part(cf.c.fin_dn, cf.c.fin_dn.between(first_dn, last_dn), {
        "resolved_early": one(and_(resolved, verdict == "early")),
        "resolved_on_time": one(and_(resolved, verdict == "on_time")),
        "resolved_late": one(and_(resolved, verdict == "late")),
        "withdrawn": one(cf.c.status == "withdrawn"),
        "stopped": one(cf.c.status == "stopped"),
        "refused": one(cf.c.status == "refused"),
        "resolved_disliked": one(and_(resolved, cf.c.disliked == 1)),
        "resolved_working_seconds": case(
            (resolved, (cf.c.pos_fin - cf.c.pos_rec) // _int(US) - cf.c.paused_s), else_=_zero()
        ),
    })

    pairs = _open_days(ck, cf, cf.c.id, cf.c.rec_dn, cf.c.fin_dn, dialect, "open_cases")
    share = bindparam("share", type_=Float)
    paused = pairs.c.paused_since.is_not(None)
    many = and_(pairs.c.supp2.is_not(None), pairs.c.supp2 <= pairs.c.t)
    # A paused case is overdue only if its due instant had already passed when it paused (a
    # supplement request cannot hide a late case) or it had more than one supplement request.
    late_when_paused = case(
        (pairs.c.hours == 1, pairs.c.paused_since > pairs.c.due),
        else_=ck.day_number(pairs.c.paused_since) > pairs.c.due_dn,
    )
    late_now = case((pairs.c.hours == 1, pairs.c.t > pairs.c.due), else_=pairs.c.dn > pairs.c.due_dn)
    overdue = or_(many, and_(paused, late_when_paused), and_(~paused, late_now))
    budget = pairs.c.pos_due - pairs.c.pos_rec
    left = case((pairs.c.t < pairs.c.due, pairs.c.pos_due - pairs.c.pos_t), else_=_zero())
    at_risk = and_(~paused, ~overdue, budget > 0, left < share * budget)
    stock = part(pairs.c.dn, pairs.c.dn.is_not(None), {
        "open_within": one(~overdue),
        "open_overdue": one(overdue),
        "open_at_risk": one(at_risk),
        "open_paused": one(paused),
    }, source=pairs)
    return _final(union_all(received, ended, stock).subquery("parts"), ("unit_id", "procedure_id"), CASE_COLUMNS)


def _final(parts, keys: tuple[str, ...], columns: tuple[str, ...]):
    return (
        select(
            day_of_number(parts.c.dn).label("day"), *(parts.c[k] for k in keys),
            *(func.sum(parts.c[name]).label(name) for name in columns),
        )
        .group_by(parts.c.dn, *(parts.c[k] for k in keys))
    )


def _step_rows_query(ck: _Clock, dialect: str):
    """INSERT source for metric_step_days over [first_dn, last_dn] (bound parameters)."""
    a, c, p = StepAssignment.__table__, Case.__table__, Procedure.__table__
    _stats, second = _pause_stats()
    start_first = bindparam("start_first", type_=UTCDateTime)
    start_after_last = bindparam("start_after_last", type_=UTCDateTime)
    base = (
        select(
            a.c.id, a.c.unit_id, c.c.procedure_id, a.c.step_position, a.c.owner_id, a.c.result,
            a.c.budget_hours, a.c.case_id,
            epoch_us(a.c.started_at).label("st"),
            epoch_us(a.c.step_started_at).label("sst"),
            epoch_us(a.c.due_at).label("adue"),
            epoch_us(a.c.ended_at).label("afin"),
            epoch_us(c.c.due_at).label("cdue"),
            epoch_us(c.c.ended_at).label("cfin"),
            case((p.c.duration_unit == "working_hours", 1), else_=0).label("hours"),
            second.c.supp2,
        )
        .select_from(a)
        .join(c, c.c.id == a.c.case_id)
        .join(p, p.c.id == c.c.procedure_id)
        .outerjoin(second, second.c.case_id == c.c.id)
        .where(
            a.c.started_at < start_after_last,
            or_(a.c.ended_at.is_(None), a.c.ended_at >= start_first),
        )
        .cte("step_base").prefix_with("MATERIALIZED")
    )
    cal = MetricCalendarDay.__table__
    cs, cd, ce = cal.alias("cal_start"), cal.alias("cal_due"), cal.alias("cal_fin")
    sf = (
        select(
            base,
            ck.day_number(base.c.st).label("st_dn"),
            ck.day_number(base.c.afin).label("afin_dn"),
            ck.day_number(base.c.cdue).label("cdue_dn"),
            ck.day_number(base.c.cfin).label("cfin_dn"),
            ck.position(base.c.sst, cs).label("pos_sst"),
            ck.position(base.c.adue, cd).label("pos_adue"),
            ck.position(base.c.afin, ce).label("pos_afin"),
        )
        .select_from(base)
        .join(cs, cs.c.dn == ck.day_number(base.c.sst))
        .join(cd, cd.c.dn == ck.day_number(base.c.adue))
        .outerjoin(ce, ce.c.dn == ck.day_number(base.c.afin))
        .cte("step_facts").prefix_with("MATERIALIZED")
    )
    first_dn = bindparam("first_dn", type_=Integer)
    last_dn = bindparam("last_dn", type_=Integer)
    keys = ("unit_id", "procedure_id", "step_position", "owner_id")

    def part(dn, where, values: dict[str, ColumnElement], source):
        cols = [dn.label("dn"), *(source.c[k] for k in keys)]
        cols += [func.sum(values[name]).label(name) if name in values else _zero().label(name)
                 for name in STEP_COLUMNS]
        return select(*cols).select_from(source).where(where).group_by(dn, *(source.c[k] for k in keys))

    one = lambda cond: case((cond, 1), else_=0)
    finished = part(sf.c.afin_dn, and_(sf.c.afin_dn.between(first_dn, last_dn), sf.c.result.is_not(None)), {
        "finished_early": one(sf.c.result == "early"),
        "finished_on_time": one(sf.c.result == "on_time"),
        "finished_late": one(sf.c.result == "late"),
        "worked_seconds": (sf.c.pos_afin - sf.c.pos_sst) // _int(US),
        "budget_seconds": cast(func.round(sf.c.budget_hours * 3600), BigInteger),
        "overrun_seconds": case(
            (sf.c.pos_afin > sf.c.pos_adue, (sf.c.pos_afin - sf.c.pos_adue) // _int(US)), else_=_zero()
        ),
    }, sf)

    pairs = _open_days(ck, sf, sf.c.case_id, sf.c.st_dn, sf.c.afin_dn, dialect, "open_steps")
    share = bindparam("share", type_=Float)
    paused = pairs.c.paused_since.is_not(None)
    # The step: its own budget, instants compared (RULES.md section 4).
    step_overdue = case((paused, pairs.c.paused_since > pairs.c.adue), else_=pairs.c.t > pairs.c.adue)
    budget = pairs.c.pos_adue - pairs.c.pos_sst
    left = case((pairs.c.t < pairs.c.adue, pairs.c.pos_adue - pairs.c.pos_t), else_=_zero())
    at_risk = and_(~paused, ~step_overdue, budget > 0, left < share * budget)
    # The whole case, as in _case_rows_query.
    case_open = or_(pairs.c.cfin.is_(None), pairs.c.cfin_dn > pairs.c.dn)
    many = and_(pairs.c.supp2.is_not(None), pairs.c.supp2 <= pairs.c.t)
    late_when_paused = case(
        (pairs.c.hours == 1, pairs.c.paused_since > pairs.c.cdue),
        else_=ck.day_number(pairs.c.paused_since) > pairs.c.cdue_dn,
    )
    late_now = case((pairs.c.hours == 1, pairs.c.t > pairs.c.cdue), else_=pairs.c.dn > pairs.c.cdue_dn)
    case_overdue = or_(many, and_(paused, late_when_paused), and_(~paused, late_now))
    stock = part(pairs.c.dn, pairs.c.dn.is_not(None), {
        "open_within": one(~step_overdue),
        "open_overdue": one(step_overdue),
        "open_at_risk": one(at_risk),
        "open_paused": one(paused),
        "held_cases_overdue": one(and_(case_open, case_overdue)),
        "open_overrun_seconds": case(
            (and_(~paused, pairs.c.pos_t > pairs.c.pos_adue), (pairs.c.pos_t - pairs.c.pos_adue) // _int(US)),
            else_=_zero(),
        ),
    }, pairs)
    return _final(union_all(finished, stock).subquery("parts"), keys, STEP_COLUMNS)


@dataclass
class Computed:
    first: date | None
    last: date | None
    case_rows: int = 0
    step_rows: int = 0
    full: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "case_rows": self.case_rows, "step_rows": self.step_rows, "full": self.full,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def _today(calendar: WorkCalendar, now: datetime) -> date:
    return now.astimezone(calendar.zone).date()


def compute_days(
    session: Session, first: date, last: date, *, policy: Policy | None = None,
    calendar: WorkCalendar | None = None,
) -> Computed:
    """Replace the figures of local days [first, last] (days after today are not computed;
    today's open cases are evaluated now). Flushes, does not commit."""
    policy = policy or Policy.from_env()
    calendar = calendar or work_calendar(session)
    now = clock.now()
    last = min(last, _today(calendar, now))
    if last < first:
        return Computed(None, None)
    first_cal, last_cal = _calendar_range(session, calendar, last)
    sync_calendar(session, calendar, min(first_cal, first), last_cal)
    ck = _Clock.of(calendar)
    first_dn, last_dn = day_number(first), day_number(last)
    params = {
        "first_dn": first_dn, "last_dn": last_dn,
        "start_first": _instant_of_day_start(first_dn, ck.offset_us),
        "start_after_last": _instant_of_day_start(last_dn + 1, ck.offset_us),
        "now_us": _to_epoch_us(now), "share": float(policy.at_risk_share),
    }
    counts, seconds = [], {}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # These wide expressions cost PostgreSQL's JIT more to compile than they take to run.
        session.execute(text("SET LOCAL jit = off"))
    for table, query in (
        (CaseDayFigures.__table__, _case_rows_query(ck, dialect)),
        (StepDayFigures.__table__, _step_rows_query(ck, dialect)),
    ):
        started = time.perf_counter()
        session.execute(delete(table).where(table.c.day.between(first, last)))
        names = [col.name for col in query.selected_columns]
        session.execute(table.insert().from_select(names, query), params)
        # (rowcount is not reported for INSERT ... WITH on every driver: count instead)
        counts.append(session.scalar(
            select(func.count()).select_from(table).where(table.c.day.between(first, last))
        ))
        seconds[table.name] = time.perf_counter() - started
    session.flush()
    return Computed(first, last, counts[0], counts[1], seconds=seconds)


def _state(session: Session) -> MetricState:
    """The refresh's state row, taken for update: two refreshes at once run one after the other."""
    table = MetricState.__table__
    insert_ = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert_(table).values(name="metrics").on_conflict_do_nothing(index_elements=["name"]))
    # A no-op write takes the row lock (PostgreSQL) or the write lock (SQLite) before any read.
    session.execute(update(table).where(table.c.name == "metrics").values(name=table.c.name))
    state = session.get(MetricState, "metrics", populate_existing=True)
    assert state is not None
    return state


# Events that write no instant earlier than their own: a day before theirs cannot change.
FORWARD_EVENTS = frozenset({
    "registered", "received", "handed_over", "reassigned", "supplement_requested",
    "payment_requested", "extended", "resolved", "returned", "inspection_finding",
})
# Events that can change the figures of the day the case ended (an abandoned supplement ends a
# case at the request; a complaint or a rating counts on the day of the result).
ENDING_EVENTS = frozenset({"refused", "stopped", "withdrawn", "rated", "complaint_recorded"})


def _earliest_change() -> ColumnElement:
    """The earliest instant a history event can have changed the figures of: its own, the
    case's end for ENDING_EVENTS, and otherwise (a due instant moved, an import, an unknown
    kind) the receipt, since a past day's classification may then differ."""
    e, c = CaseEvent.__table__, Case.__table__
    return case(
        (e.c.kind.in_(FORWARD_EVENTS), e.c.at),
        (and_(e.c.kind.in_(ENDING_EVENTS), c.c.ended_at.is_not(None), c.c.ended_at < e.c.at), c.c.ended_at),
        (e.c.kind.in_(ENDING_EVENTS), e.c.at),
        else_=c.c.received_at,
    )


def refresh_metrics(
    session: Session, *, full: bool = False, policy: Policy | None = None,
) -> Computed:
    """Bring the figures up to now: recompute every day that a change since the last refresh
    can have touched (from the earliest instant a new history event can have changed, see
    `_earliest_change`, and from the day of the last refresh, through today). Everything, if `full`, on the first run, or when the calendar,
    the office hours or the at-risk share changed. Flushes, does not commit."""
    policy = policy or Policy.from_env()
    calendar = work_calendar(session)
    now = clock.now()
    today = _today(calendar, now)
    state = _state(session)
    ck = _Clock.of(calendar)
    first_cal, last_cal = _calendar_range(session, calendar, today)
    calendar_changed = sync_calendar(session, calendar, first_cal, last_cal)
    full = (
        full or calendar_changed or state.computed_to is None
        or state.office_hours != ck.signature or state.at_risk_share != policy.at_risk_share
    )
    last_event = session.scalar(select(func.max(CaseEvent.id))) or 0
    if full:
        earliest = session.scalar(select(func.min(Case.received_at)))
        first = earliest.astimezone(calendar.zone).date() if earliest else None
    else:
        assert state.watermark_at is not None and state.computed_to is not None
        earliest = session.scalar(
            select(func.min(_earliest_change()))
            .select_from(CaseEvent.__table__.join(Case.__table__, Case.id == CaseEvent.case_id))
            .where(
                or_(CaseEvent.id > (state.last_event_id or 0),
                    CaseEvent.at >= state.watermark_at - LOOKBACK),
                Case.received_at.is_not(None),
            )
        )
        candidates = [
            state.watermark_at.astimezone(calendar.zone).date(),
            state.computed_to + timedelta(days=1),
        ]
        if earliest is not None:
            candidates.append(earliest.astimezone(calendar.zone).date())
        first = min(candidates)
    if first is None or first > today:
        result = Computed(None, None, full=full)
    else:
        result = compute_days(session, first, today, policy=policy, calendar=calendar)
        result.full = full
    if full:
        # A full recompute owns every row: none may survive from before the first receipt.
        for table in (CaseDayFigures.__table__, StepDayFigures.__table__):
            stale = delete(table)
            if first is not None:
                stale = stale.where(table.c.day < first)
            session.execute(stale)
    new_day = state.computed_to is None or today > state.computed_to
    if result.first is not None and (full or new_day):
        analyze_snapshots(session)
    state.watermark_at = now
    state.last_event_id = last_event
    if full or state.computed_from is None:
        state.computed_from = first
    state.computed_to = today
    state.office_hours = ck.signature
    state.at_risk_share = policy.at_risk_share
    state.updated_at = now
    session.flush()
    return result


def analyze_snapshots(session: Session) -> None:
    """Fresh planner statistics of the snapshot tables, after a full recompute and once a day
    (the first refresh of a new day). The dashboards read them by day range: with no or stale
    statistics (a first full refresh of a million cases, autovacuum off or behind, a new day
    past the histogram) PostgreSQL guesses a few rows, picks nested loops and sorts on disk.
    ANALYZE samples (about 30,000 rows), so it takes well under a second at 1M cases."""
    for table in (CaseDayFigures.__table__, StepDayFigures.__table__):
        session.execute(text(f"ANALYZE {table.name}"))


# --- rates ------------------------------------------------------------------------------------

def wilson_interval(successes: int, total: int, z: float = WILSON_Z) -> tuple[float, float]:
    """Wilson score interval of a proportion (95 % by default); (0, 1) when nothing was seen."""
    if total < 0 or successes < 0 or successes > total:
        raise ValueError(f"need 0 <= successes <= total, got {successes}/{total}")
    if total == 0:
        return (0.0, 1.0)
    p = successes / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class Figures:
    """The counts of one period (or one day) for some set of cases, and what follows from them."""

    received_online: int = 0
    received_in_person: int = 0
    received_post: int = 0
    carried_over: int = 0
    resolved_early: int = 0
    resolved_on_time: int = 0
    resolved_late: int = 0
    withdrawn: int = 0
    stopped: int = 0
    refused: int = 0
    open_within: int = 0
    open_overdue: int = 0
    open_at_risk: int = 0
    open_paused: int = 0
    resolved_disliked: int = 0
    resolved_working_seconds: int = 0
    hours_per_day: float = 8.0

    def __add__(self, other: Figures) -> Figures:
        merged = Figures(hours_per_day=self.hours_per_day)
        for f in fields(self):
            if f.name != "hours_per_day":
                setattr(merged, f.name, getattr(self, f.name) + getattr(other, f.name))
        return merged

    @property
    def received_total(self) -> int:
        return self.received_online + self.received_in_person + self.received_post + self.carried_over

    @property
    def resolved_total(self) -> int:
        return self.resolved_early + self.resolved_on_time + self.resolved_late

    @property
    def in_progress_total(self) -> int:
        return self.open_within + self.open_overdue

    @property
    def on_time_count(self) -> int:
        """Decision 766, indicator 2.1: resolved early or on time, or still within deadline."""
        return self.resolved_early + self.resolved_on_time + self.open_within

    @property
    def rate_base(self) -> int:
        """Every case resolved in the period or still in progress at its end."""
        return self.resolved_total + self.in_progress_total

    @property
    def on_time_rate(self) -> float | None:
        return _ratio(self.on_time_count, self.rate_base)

    @property
    def score_766(self) -> float | None:
        rate = self.on_time_rate
        return None if rate is None else 20 * rate

    @property
    def satisfaction_ratio(self) -> float | None:
        """766 indicator 5.4: 100 % − (share late + share with a complaint or dislike), over the
        cases resolved in the period; never below 0."""
        if not self.resolved_total:
            return None
        late = self.resolved_late / self.resolved_total
        disliked = self.resolved_disliked / self.resolved_total
        return max(0.0, 1.0 - late - disliked)

    @property
    def satisfaction_score(self) -> float | None:
        ratio = self.satisfaction_ratio
        return None if ratio is None else 6 * min(1.0, ratio / SATISFACTION_TARGET)

    @property
    def average_processing_days(self) -> float | None:
        seconds = _ratio(self.resolved_working_seconds, self.resolved_total)
        return None if seconds is None else seconds / (self.hours_per_day * 3600)

    def check_invariant(self) -> bool:
        """received = resolved + in progress + withdrawn + stopped + refused (RULES.md §5)."""
        return self.received_total == (
            self.resolved_total + self.in_progress_total + self.withdrawn + self.stopped + self.refused
        )

    def to_dict(self) -> dict[str, Any]:
        low, high = wilson_interval(self.on_time_count, self.rate_base)
        resolved = self.resolved_total
        sat_low, sat_high = wilson_interval(
            max(0, resolved - self.resolved_late - self.resolved_disliked) if resolved else 0, resolved
        )
        return {
            "received": {
                "total": self.received_total,
                "online": self.received_online,
                # The form's column: in person or by post.
                "in_person": self.received_in_person + self.received_post,
                "of_which_post": self.received_post,
                "carried_over": self.carried_over,
            },
            "resolved": {
                "total": resolved, "early": self.resolved_early,
                "on_time": self.resolved_on_time, "late": self.resolved_late,
            },
            "in_progress": {
                "total": self.in_progress_total, "within_deadline": self.open_within,
                "overdue": self.open_overdue, "at_risk": self.open_at_risk,
                "paused": self.open_paused,
            },
            "withdrawn": self.withdrawn,
            "stopped": self.stopped,
            "refused": self.refused,
            "on_time_rate": _round(self.on_time_rate),
            "on_time_rate_interval": [_round(low), _round(high)],
            "on_time_cases": self.on_time_count,
            "rate_base": self.rate_base,
            "score_766": _round(self.score_766, 2),
            "satisfaction": {
                "rate": _round(self.satisfaction_ratio),
                "interval": [_round(sat_low), _round(sat_high)],
                "score": _round(self.satisfaction_score, 2),
                "late_share": _round(_ratio(self.resolved_late, resolved)),
                "complaint_or_dislike_share": _round(_ratio(self.resolved_disliked, resolved)),
            },
            "average_processing_days": _round(self.average_processing_days, 2),
        }


# --- reading the snapshots --------------------------------------------------------------------

def units_by_id(session: Session) -> dict[int, tuple[int | None, str, str]]:
    """Every unit's (parent id, code, name), by id."""
    return {
        r.id: (r.parent_id, r.code, r.name)
        for r in session.execute(select(Unit.id, Unit.parent_id, Unit.code, Unit.name))
    }


def unit_tree(units: dict[int, tuple[int | None, str, str]]) -> dict[int | None, list[int]]:
    """The ids of each unit's children (None: the roots), in code order."""
    tree: dict[int | None, list[int]] = defaultdict(list)
    for uid, (parent, code, _name) in sorted(units.items(), key=lambda kv: kv[1][1]):
        tree[parent].append(uid)
    return tree


def descendants(tree: dict[int | None, list[int]], root: int) -> list[int]:
    """`root` and every unit below it in `tree`."""
    out, stack = [], [root]
    while stack:
        out.append(stack.pop())
        stack.extend(tree.get(out[-1], ()))
    return out


def subtree_ids(session: Session, unit: Unit) -> list[int]:
    """The unit and every unit below it."""
    return descendants(unit_tree(units_by_id(session)), unit.id)


def _find_unit(session: Session, code: str) -> Unit:
    from onestop.lifecycle import find_unit

    return find_unit(session, code)


def check_period(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise ValidationError("invalid_period", start=date_from.isoformat(), end=date_to.isoformat())


def period_columns(table, date_from: date, date_to: date, columns: Iterable[str], *, carried: bool):
    """Sums over a period read from daily rows: flows over its days, the open stock on its last
    day, and (for cases) the stock of the day before it as carried over."""
    out = []
    for name in columns:
        col = table.c[name]
        if name.startswith("open_") or name == "held_cases_overdue":
            day = date_to
            out.append(func.sum(case((table.c.day == day, col), else_=0)).label(name))
        else:
            out.append(func.sum(case((table.c.day >= date_from, col), else_=0)).label(name))
    if carried:
        before = date_from - timedelta(days=1)
        out.append(
            func.sum(case((table.c.day == before, table.c.open_within + table.c.open_overdue), else_=0))
            .label("carried_over")
        )
    return out


def clamp_to_today(session: Session, date_to: date) -> date:
    return min(date_to, _today(work_calendar(session), clock.now()))


def case_figures(
    session: Session, unit_ids: Iterable[int], date_from: date, date_to: date,
    group_by: Iterable[ColumnElement] = (), extra_join=None,
) -> list[tuple[tuple, Figures]]:
    """Figures of the cases received by `unit_ids` over a period, optionally grouped."""
    check_period(date_from, date_to)
    date_to = clamp_to_today(session, date_to)
    t = CaseDayFigures.__table__
    keys = list(group_by)
    query = (
        select(*keys, *period_columns(t, date_from, date_to, CASE_COLUMNS, carried=True))
        .select_from(extra_join if extra_join is not None else t)
        .where(t.c.day.between(date_from - timedelta(days=1), date_to), t.c.unit_id.in_(list(unit_ids)))
    )
    if keys:
        query = query.group_by(*keys)
    hours = work_calendar(session).hours_per_day
    out = []
    for row in session.execute(query):
        values = row._mapping
        figures = Figures(
            hours_per_day=hours,
            **{name: int(values[name] or 0) for name in (*CASE_COLUMNS, "carried_over")},
        )
        out.append((tuple(row[: len(keys)]), figures))
    return out


def period_figures(
    session: Session, unit_code: str, date_from: date, date_to: date, *, include_subunits: bool = True
) -> Figures:
    unit = _find_unit(session, unit_code)
    ids = subtree_ids(session, unit) if include_subunits else [unit.id]
    rows = case_figures(session, ids, date_from, date_to)
    return rows[0][1] if rows else Figures(hours_per_day=work_calendar(session).hours_per_day)


def on_time_report(
    session: Session, unit_code: str, date_from: date, date_to: date, *, include_subunits: bool = True
) -> dict[str, Any]:
    """The on-time figures of a unit over [date_from, date_to] (local dates, inclusive), read
    from the snapshots: JSON-ready, with a line per direct sub-unit (each with the units below
    it) when `include_subunits`."""
    unit = _find_unit(session, unit_code)
    units = units_by_id(session)
    tree = unit_tree(units)
    ids = descendants(tree, unit.id) if include_subunits else [unit.id]
    t = CaseDayFigures.__table__
    per_unit = {key[0]: fig for key, fig in case_figures(session, ids, date_from, date_to, [t.c.unit_id])}
    empty = Figures(hours_per_day=work_calendar(session).hours_per_day)

    def total(root: int, deep: bool) -> Figures:
        members = descendants(tree, root) if deep else [root]
        return sum((per_unit.get(uid, empty) for uid in members), empty)

    overall = total(unit.id, include_subunits)
    report = {
        "unit": {"code": unit.code, "name": unit.name},
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "include_subunits": include_subunits,
        **overall.to_dict(),
        "invariant_holds": overall.check_invariant(),
    }
    if include_subunits:
        report["own"] = {"unit": {"code": unit.code, "name": unit.name}, **total(unit.id, False).to_dict()}
        report["subunits"] = [
            {"unit": {"code": units[child][1], "name": units[child][2]}, **total(child, True).to_dict()}
            for child in tree.get(unit.id, ())
        ]
    return report


# --- query functions for dashboards and reports -----------------------------------------------

@dataclass
class RateRow:
    """One line of a ranking: what it is, how many cases (or steps) it rests on, and the rate
    with its Wilson interval, so that small volumes are read with care."""

    key: str
    label: str
    on_time: int
    total: int
    rate: float | None
    low: float
    high: float
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rate_row(key: str, label: str, on_time: int, total: int, counts: dict[str, int]) -> RateRow:
    low, high = wilson_interval(on_time, total)
    return RateRow(key, label, on_time, total, _ratio(on_time, total), low, high, counts)


def rates_by(
    session: Session, by: str, unit_code: str, date_from: date, date_to: date,
    *, include_subunits: bool = True,
) -> list[RateRow]:
    """On-time rates grouped `by` one of: "subunit" (each direct sub-unit with the units below
    it), "unit" (each unit on its own), "procedure", "field" (766 formula over cases), "step",
    "officer" (steps against their own budgets: finished early or on time, or held within
    deadline, over all finished or held). Sorted by rate, worst first."""
    unit = _find_unit(session, unit_code)
    ids = subtree_ids(session, unit) if include_subunits else [unit.id]
    t = CaseDayFigures.__table__
    rows: list[RateRow] = []
    if by in ("subunit", "unit"):
        units = units_by_id(session)
        tree = unit_tree(units)
        per_unit = {
            key[0]: fig for key, fig in case_figures(session, ids, date_from, date_to, [t.c.unit_id])
        }
        if by == "unit":
            groups = {uid: [uid] for uid in ids}
        else:
            groups = {}
            for child in tree.get(unit.id, ()):
                groups[child] = descendants(tree, child)
        for uid, members in groups.items():
            figures = sum((per_unit.get(m, Figures()) for m in members), Figures())
            if figures.rate_base or figures.received_total:
                rows.append(_rate_row(units[uid][1], units[uid][2], figures.on_time_count,
                                      figures.rate_base, _counts(figures)))
    elif by in ("procedure", "field"):
        p = Procedure.__table__
        keys = [p.c.code, p.c.name_vi] if by == "procedure" else [func.coalesce(p.c.field, "")]
        join = t.join(p, p.c.id == t.c.procedure_id)
        for key, figures in case_figures(session, ids, date_from, date_to, keys, join):
            label = key[1] if by == "procedure" else key[0]
            rows.append(_rate_row(key[0], label, figures.on_time_count, figures.rate_base, _counts(figures)))
    elif by in ("step", "officer"):
        s = StepDayFigures.__table__
        if by == "step":
            p, ps = Procedure.__table__, ProcessStep.__table__
            keys = [p.c.code, s.c.step_position, func.max(ps.c.name)]
            join = s.join(p, p.c.id == s.c.procedure_id).outerjoin(
                ps, and_(ps.c.procedure_id == s.c.procedure_id, ps.c.position == s.c.step_position)
            )
            group_keys = keys[:2]
        else:
            o = Officer.__table__
            keys = [o.c.username, o.c.full_name]
            join = s.join(o, o.c.id == s.c.owner_id)
            group_keys = keys
        for key, counts in _step_rows(session, ids, date_from, date_to, keys, group_keys, join):
            on_time = counts["finished_early"] + counts["finished_on_time"] + counts["open_within"]
            total = (counts["finished_early"] + counts["finished_on_time"] + counts["finished_late"]
                     + counts["open_within"] + counts["open_overdue"])
            if by == "step":
                rows.append(_rate_row(f"{key[0]}#{key[1]}", f"{key[0]} – {step_title(key[2]) or key[1]}", on_time, total, counts))
            else:
                rows.append(_rate_row(key[0], key[1], on_time, total, counts))
    else:
        raise ValidationError("invalid_value", field="by", detail="subunit, unit, procedure, field, step, officer")
    rows.sort(key=lambda r: (r.rate if r.rate is not None else 2.0, -r.total, r.key))
    return rows


def _step_rows(session, ids, date_from, date_to, keys, group_keys, join):
    check_period(date_from, date_to)
    date_to = clamp_to_today(session, date_to)
    s = StepDayFigures.__table__
    query = (
        select(*keys, *period_columns(s, date_from, date_to, STEP_COLUMNS, carried=False))
        .select_from(join)
        .where(s.c.day.between(date_from, date_to), s.c.unit_id.in_(ids))
        .group_by(*group_keys)
    )
    return [
        (tuple(row[: len(keys)]), {name: int(row._mapping[name] or 0) for name in STEP_COLUMNS})
        for row in session.execute(query)
    ]


def _counts(figures: Figures) -> dict[str, int]:
    return {
        "received": figures.received_total, "resolved": figures.resolved_total,
        "late": figures.resolved_late, "in_progress": figures.in_progress_total,
        "overdue": figures.open_overdue,
    }


def weekly_trend(
    session: Session, unit_code: str, date_from: date, date_to: date, *, include_subunits: bool = True
) -> list[dict[str, Any]]:
    """The 766 rate week by week (Monday to Sunday; the first and last weeks cut to the period)."""
    check_period(date_from, date_to)
    unit = _find_unit(session, unit_code)
    ids = subtree_ids(session, unit) if include_subunits else [unit.id]
    date_to = clamp_to_today(session, date_to)
    daily = daily_case_sums(session, ids, date_from, date_to)
    return weeks_from_daily(daily, date_from, date_to, work_calendar(session).hours_per_day)


def daily_case_sums(session: Session, ids: list[int], date_from: date, date_to: date) -> dict:
    """The case snapshots of the units summed per day, from the day before the period (whose
    stock is carried over) to its end: what `weeks_from_daily` and `figures_from_daily` cut."""
    t = CaseDayFigures.__table__
    query = (
        select(t.c.day, *(func.sum(t.c[name]).label(name) for name in CASE_COLUMNS))
        .where(t.c.day.between(date_from - timedelta(days=1), date_to), t.c.unit_id.in_(ids))
        .group_by(t.c.day)
    )
    return {row.day: row._mapping for row in session.execute(query)}


_CASE_FLOWS = tuple(name for name in CASE_COLUMNS if not name.startswith("open_"))
_CASE_STOCKS = tuple(name for name in CASE_COLUMNS if name.startswith("open_"))


def figures_from_daily(
    daily: Mapping[date, Mapping[str, Any]], date_from: date, date_to: date, hours_per_day: float
) -> Figures:
    """Per-day sums of the case snapshot columns -> the period's figures, as `case_figures`
    reads them (`date_to` already clamped to today): flows summed over [date_from, date_to],
    open counts of `date_to`, carried over the open count of the day before `date_from`."""
    flows = dict.fromkeys(_CASE_FLOWS, 0)
    for day, values in daily.items():
        if date_from <= day <= date_to:
            for name in _CASE_FLOWS:
                flows[name] += int(values.get(name) or 0)
    last = daily.get(date_to)
    stocks = {name: int(last.get(name) or 0) if last is not None else 0 for name in _CASE_STOCKS}
    figures = Figures(hours_per_day=hours_per_day, **flows, **stocks)
    before = daily.get(date_from - timedelta(days=1))
    if before is not None:
        figures.carried_over = (int(before.get("open_within") or 0)
                                + int(before.get("open_overdue") or 0))
    return figures


def weeks_from_daily(
    daily: Mapping[date, Mapping[str, Any]], date_from: date, date_to: date, hours_per_day: float
) -> list[dict[str, Any]]:
    """Per-day sums of the case snapshot columns -> one row per week (Monday to Sunday, the first
    and last weeks cut to the period): flows are summed, open counts taken at the week's end.
    A column missing from a day's mapping counts as 0 (a caller may sum only what it shows)."""
    weeks = []
    one_day = timedelta(days=1)
    # The flow columns the mappings carry (the heat map sums only those a rate shows).
    sample = next(iter(daily.values()), {})
    present = [name for name in _CASE_FLOWS if name in sample]
    start = date_from
    while start <= date_to:
        end = min(date_to, start + timedelta(days=6 - start.weekday()))
        flows = dict.fromkeys(_CASE_FLOWS, 0)
        day = start
        while day <= end:
            values = daily.get(day)
            if values is not None:
                for name in present:
                    flows[name] += int(values[name] or 0)
            day += one_day
        last = daily.get(end)
        stocks = {name: int(last.get(name) or 0) if last is not None else 0
                  for name in _CASE_STOCKS}
        figures = Figures(hours_per_day=hours_per_day, **flows, **stocks)
        before = daily.get(start - one_day)
        if before is not None:
            figures.carried_over = int(before["open_within"] or 0) + int(before["open_overdue"] or 0)
        low, high = wilson_interval(figures.on_time_count, figures.rate_base)
        weeks.append({
            "week_start": start.isoformat(), "week_end": end.isoformat(),
            "received": figures.received_total - figures.carried_over,
            "resolved": figures.resolved_total, "late": figures.resolved_late,
            "in_progress": figures.in_progress_total, "overdue": figures.open_overdue,
            "on_time_rate": _round(figures.on_time_rate), "low": _round(low), "high": _round(high),
            "score_766": _round(figures.score_766, 2),
        })
        start = end + timedelta(days=1)
    return weeks


def working_days_lost(
    session: Session, unit_code: str, date_from: date, date_to: date, *, include_subunits: bool = True
) -> list[dict[str, Any]]:
    """Per procedure step: steps finished in the period, how many late, the working days used
    against the step budget, and the working days lost past the due (finished steps, plus steps
    still held past their due at the end of the period). Most days lost first."""
    unit = _find_unit(session, unit_code)
    ids = subtree_ids(session, unit) if include_subunits else [unit.id]
    s, p, ps = StepDayFigures.__table__, Procedure.__table__, ProcessStep.__table__
    keys = [p.c.code, s.c.step_position, func.max(ps.c.name), func.max(ps.c.budget_hours)]
    join = s.join(p, p.c.id == s.c.procedure_id).outerjoin(
        ps, and_(ps.c.procedure_id == s.c.procedure_id, ps.c.position == s.c.step_position)
    )
    day_seconds = work_calendar(session).hours_per_day * 3600
    out = []
    for key, c in _step_rows(session, ids, date_from, date_to, keys, keys[:2], join):
        finished = c["finished_early"] + c["finished_on_time"] + c["finished_late"]
        lost = (c["overrun_seconds"] + c["open_overrun_seconds"]) / day_seconds
        out.append({
            "procedure": key[0], "step_position": key[1], "step": step_title(key[2]),
            "budget_days": _round((key[3] or 0) / (day_seconds / 3600), 3),
            "finished": finished, "late": c["finished_late"],
            "average_days_used": _round(_ratio(c["worked_seconds"], finished * day_seconds), 3),
            "days_lost_finished": _round(c["overrun_seconds"] / day_seconds, 3),
            "days_lost_open": _round(c["open_overrun_seconds"] / day_seconds, 3),
            "days_lost": _round(lost, 3),
            "held_overdue": c["open_overdue"],
        })
    out.sort(key=lambda r: (-r["days_lost"], r["procedure"], r["step_position"]))
    return out


def overdue_held(
    session: Session, unit_code: str, day: date | None = None, *, include_subunits: bool = True
) -> list[dict[str, Any]]:
    """Per officer, at the end of `day` (default: now): steps held, of which past their own
    due, and overdue cases held. Officers holding the most overdue cases first."""
    unit = _find_unit(session, unit_code)
    ids = subtree_ids(session, unit) if include_subunits else [unit.id]
    day = clamp_to_today(session, day or date.max)
    s, o = StepDayFigures.__table__, Officer.__table__
    query = (
        select(
            o.c.username, o.c.full_name,
            func.sum(s.c.open_within + s.c.open_overdue).label("held"),
            func.sum(s.c.open_overdue).label("steps_overdue"),
            func.sum(s.c.held_cases_overdue).label("cases_overdue"),
            func.sum(s.c.open_at_risk).label("at_risk"),
        )
        .select_from(s.join(o, o.c.id == s.c.owner_id))
        .where(s.c.day == day, s.c.unit_id.in_(ids))
        .group_by(o.c.username, o.c.full_name)
    )
    out = [
        {"username": r.username, "full_name": r.full_name, "held": int(r.held or 0),
         "steps_overdue": int(r.steps_overdue or 0), "cases_overdue": int(r.cases_overdue or 0),
         "at_risk": int(r.at_risk or 0)}
        for r in session.execute(query)
    ]
    out.sort(key=lambda r: (-r["cases_overdue"], -r["steps_overdue"], r["username"]))
    return out
