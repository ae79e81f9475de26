"""What the dashboards read: SQL aggregates over the on-time snapshots (`onestop.metrics`) and
over escalations, signs and findings, returned as plain dataclasses for the figure builders.

Classification is never redone here: case and step figures come from the snapshot tables that
`onestop.metrics` fills, and open cases are classified by `onestop.classification`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    cast,
    column,
    func,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session, selectinload

from onestop import clock
from onestop.calendar_store import work_calendar
from onestop.classification import classify_assignment, classify_case, classify_open_case_at
from onestop.escalation import Escalation
from onestop.i18n import step_title
from onestop.inspections import InspectionFinding
from onestop.metrics import (
    CASE_COLUMNS,
    STEP_COLUMNS,
    CaseDayFigures,
    Figures,
    RateRow,
    StepDayFigures,
    case_figures,
    check_period,
    clamp_to_today,  # the snapshots stop at today; a later "to" reads today's stock
    daily_case_sums,
    descendants,
    figures_from_daily,
    period_columns,  # flows over the period, stock at its end: the one rule, kept in metrics
    subtree_ids,
    unit_tree,
    units_by_id,
    weeks_from_daily,
    wilson_interval,
)
from onestop.models import (
    OPEN_STATUSES,
    PAUSED_STATUSES,
    Case,
    CaseEvent,
    Extension,
    Officer,
    Pause,
    Procedure,
    ProcessStep,
    StepAssignment,
    Unit,
)
from onestop.settings import Policy
from onestop.signals import Signal

OVERDUE_LIST_LIMIT = 100
CASE_LIST_LIMIT = 200
AGE_BUCKETS = ((1, "< 1"), (3, "1–3"), (7, "3–7"), (None, "> 7"))  # days since the escalation


def roomy_aggregates(session: Session) -> None:
    """PostgreSQL only, for the rest of the caller's transaction (SET LOCAL): room for a period
    aggregate's hash table in memory, and no JIT. With the default 4 MB of work_mem the
    planner sorted the step days of a month (94,000 rows, 6,300 groups at 1M cases) on disk
    instead of hashing them (78 ms -> 40 ms); compiling these wide sums costs the JIT more
    than running them (as in `metrics.compute_days`)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT set_config('work_mem', '32MB', true), "
                             "set_config('jit', 'off', true)"))


# --- who sees what ----------------------------------------------------------------------------

def dashboard_units(session: Session, officer: Officer) -> list[Unit]:
    """Units whose dashboards the officer may open: a chair, or a `dashboard_viewer` (the role
    an administrator grants to let someone read the dashboards), their unit and every unit below
    it; a unit head their own unit. Sorted by code."""
    if not officer.active:
        return []
    found: dict[int, Unit] = {}
    for held in officer.roles:
        if held.role in ("chair", "dashboard_viewer"):
            ids = subtree_ids(session, held.unit)
            for unit in session.scalars(select(Unit).where(Unit.id.in_(ids))):
                found[unit.id] = unit
        elif held.role == "unit_head":
            found[held.unit.id] = held.unit
    return sorted(found.values(), key=lambda u: u.code)


def may_see_officer(session: Session, viewer: Officer, subject: Officer) -> bool:
    """An officer's own scorecard, or one of an officer holding a role in a unit the viewer's
    dashboards cover."""
    if viewer.id == subject.id:
        return viewer.active
    covered = {u.id for u in dashboard_units(session, viewer)}
    return any(r.unit_id in covered for r in subject.roles)


# --- overview ---------------------------------------------------------------------------------

@dataclass
class Overview:
    figures: Figures
    weeks: list[dict]
    overdue: list[OverdueCase]


@dataclass
class OverdueCase:
    receipt_code: str
    procedure: str
    unit: str
    holder: str
    due_at: datetime
    days_over: float  # working days past the due instant


def overview(session: Session, unit: Unit, date_from: date, date_to: date) -> Overview:
    """The period's figures and its weeks from one read of the case days (per day, summed over
    the units): what `case_figures` and `weekly_trend` give, which read the same rows twice."""
    check_period(date_from, date_to)
    ids = subtree_ids(session, unit)
    calendar = work_calendar(session)
    end = min(date_to, clock.now().astimezone(calendar.zone).date())  # clamp_to_today
    roomy_aggregates(session)
    daily = daily_case_sums(session, ids, date_from, end)
    figures = figures_from_daily(daily, date_from, end, calendar.hours_per_day)
    weeks = weeks_from_daily(daily, date_from, end, calendar.hours_per_day)
    return Overview(figures, weeks, open_overdue_cases(session, ids, calendar=calendar))


def open_overdue_cases(
    session: Session, unit_ids: list[int], now: datetime | None = None,
    limit: int = OVERDUE_LIST_LIMIT, calendar=None,
) -> list[OverdueCase]:
    """Open cases of the units that are overdue now, most overdue first. SQL narrows to open,
    running cases past their due (or with a second supplement request); the classification
    itself is `classify_case`'s."""
    now = now or clock.now()
    calendar = calendar or work_calendar(session)
    running = [s for s in OPEN_STATUSES if s not in PAUSED_STATUSES]
    # A second supplement request makes a case overdue whatever its due instant (766). Counted
    # per candidate case (an index look-up each), not grouped over every pause ever recorded.
    supplements = (
        select(func.count()).select_from(Pause)
        .where(Pause.case_id == Case.id, Pause.reason == "supplement")
        .correlate(Case).scalar_subquery()
    )
    query = (
        select(Case)
        .where(
            Case.unit_id.in_(unit_ids), Case.status.in_(running),
            or_(Case.due_at < now, supplements > 1),
        )
        .options(selectinload(Case.procedure), selectinload(Case.unit), selectinload(Case.pauses))
        .order_by(Case.due_at)
        .limit(limit * 2)
    )
    overdue = [item for item in session.scalars(query)
               if classify_case(item, calendar, now) == "overdue"]
    # Who holds each now: its one open step (not every step of every case as ORM objects).
    holders = dict(session.execute(
        select(StepAssignment.case_id, Officer.full_name)
        .join(Officer, Officer.id == StepAssignment.owner_id)
        .where(StepAssignment.case_id.in_([item.id for item in overdue]),
               StepAssignment.ended_at.is_(None))
    ).all()) if overdue else {}
    out = []
    for item in overdue:
        over = calendar.working_hours_between(item.due_at, now) if item.due_at < now else 0.0
        out.append(OverdueCase(
            item.receipt_code, item.procedure.code, item.unit.code,
            holders.get(item.id, ""), item.due_at, round(over / calendar.hours_per_day, 2),
        ))
    out.sort(key=lambda c: (-c.days_over, c.receipt_code))
    return out[:limit]


# --- drill-down: unit -> procedure -> step -> officer -> cases ------------------------------------

def procedure_rates(
    session: Session, unit_ids: list[int], date_from: date, date_to: date,
) -> list[RateRow]:
    """The 766 rate per procedure of the cases received by the units, worst first."""
    t, p = CaseDayFigures.__table__, Procedure.__table__
    join = t.join(p, p.c.id == t.c.procedure_id)
    rows = []
    for (code, name), fig in case_figures(
        session, unit_ids, date_from, date_to, [p.c.code, p.c.name_vi], join
    ):
        if fig.rate_base or fig.received_total:
            rows.append(rate_row(code, name, fig.on_time_count, fig.rate_base, {
                "received": fig.received_total, "resolved": fig.resolved_total,
                "late": fig.resolved_late, "overdue": fig.open_overdue,
            }))
    return ranked(rows)


def step_rates(
    session: Session, unit_ids: list[int], date_from: date, date_to: date, *,
    by: str, procedure: str | None = None, step: int | None = None, owner: str | None = None,
) -> list[RateRow]:
    """Steps against their own budgets, grouped `by` "step" or "officer", optionally narrowed
    to one procedure, step and owner: finished early or on time, or held within deadline, over
    all finished or held. Worst first."""
    s, p, o = StepDayFigures.__table__, Procedure.__table__, Officer.__table__
    ps = ProcessStep.__table__
    date_to = clamp_to_today(session, date_to)
    join = s.join(p, p.c.id == s.c.procedure_id).join(o, o.c.id == s.c.owner_id)
    if by == "step":
        join = join.outerjoin(
            ps, and_(ps.c.procedure_id == s.c.procedure_id, ps.c.position == s.c.step_position)
        )
        keys = [p.c.code, s.c.step_position]
        label = func.max(ps.c.name)
    elif by == "officer":
        keys = [o.c.username]
        label = func.max(o.c.full_name)
    else:
        raise ValueError(f"by step or officer, not {by!r}")
    query = (
        select(*keys, label.label("label"),
               *period_columns(s, date_from, date_to, STEP_COLUMNS, carried=False))
        .select_from(join)
        .where(s.c.day.between(date_from, date_to), s.c.unit_id.in_(unit_ids))
        .group_by(*keys)
    )
    if procedure is not None:
        query = query.where(p.c.code == procedure)
    if step is not None:
        query = query.where(s.c.step_position == step)
    if owner is not None:
        query = query.where(o.c.username == owner)
    rows = []
    for row in session.execute(query):
        c = {name: int(row._mapping[name] or 0) for name in STEP_COLUMNS}
        on_time = c["finished_early"] + c["finished_on_time"] + c["open_within"]
        total = on_time + c["finished_late"] + c["open_overdue"]
        if not total:
            continue
        counts = {"finished": c["finished_early"] + c["finished_on_time"] + c["finished_late"],
                  "late": c["finished_late"], "held": c["open_within"] + c["open_overdue"],
                  "overdue": c["open_overdue"]}
        if by == "step":
            key = f"{row[0]}#{row[1]}"
            name = f"{row[0]} – {step_title(row.label) or row[1]}"
        else:
            key, name = row[0], row.label
        rows.append(rate_row(key, name, on_time, total, counts))
    return ranked(rows)


@dataclass
class StepCase:
    receipt_code: str
    procedure: str
    step_position: int
    step: str
    owner: str
    started_at: datetime
    due_at: datetime
    ended_at: datetime | None
    state: str


def step_cases(
    session: Session, unit_ids: list[int], date_from: date, date_to: date, *,
    procedure: str | None = None, step: int | None = None, owner: str | None = None,
    limit: int = CASE_LIST_LIMIT,
) -> list[StepCase]:
    """The steps behind a drill-down view: held in the units over the period (begun before its
    end, not finished before its start), classified by `classify_assignment`; late and overdue
    first."""
    calendar = work_calendar(session)
    start, end = _day_bounds(calendar, date_from, date_to)
    now = clock.now()
    query = (
        select(StepAssignment)
        .join(Case, Case.id == StepAssignment.case_id)
        .join(Procedure, Procedure.id == Case.procedure_id)
        .join(Officer, Officer.id == StepAssignment.owner_id)
        .where(
            StepAssignment.unit_id.in_(unit_ids), StepAssignment.started_at < end,
            or_(StepAssignment.ended_at.is_(None), StepAssignment.ended_at >= start),
        )
        .options(selectinload(StepAssignment.case).selectinload(Case.procedure),
                 selectinload(StepAssignment.owner))
        .order_by(StepAssignment.started_at.desc())
        .limit(limit)
    )
    if procedure is not None:
        query = query.where(Procedure.code == procedure)
    if step is not None:
        query = query.where(StepAssignment.step_position == step)
    if owner is not None:
        query = query.where(Officer.username == owner)
    out = []
    for a in session.scalars(query):
        state = classify_assignment(a, calendar, min(now, end))
        out.append(StepCase(a.case.receipt_code, a.case.procedure.code, a.step_position,
                            step_title(a.step_name), a.owner.full_name, a.started_at, a.due_at, a.ended_at,
                            state))
    order = {"overdue": 0, "late": 1, "at_risk": 2, "paused": 3}
    out.sort(key=lambda c: (order.get(c.state, 4), c.due_at))
    return out


# The bars of the overview's classification chart (figures.CLASSES): resolved in the period
# with a verdict, or open at its end in a state.
CASE_CLASSES = {
    "resolved_early": "early", "resolved_on_time": "on_time", "resolved_late": "late",
    "open_within": "within_deadline", "open_at_risk": "at_risk", "open_overdue": "overdue",
}


@dataclass
class ClassifiedCase:
    receipt_code: str
    procedure: str
    unit: str
    received_at: datetime
    due_at: datetime
    ended_at: datetime | None
    classification: str  # a CASE_CLASSES key


def classified_cases(
    session: Session, unit_ids: list[int], date_from: date, date_to: date, classification: str,
    *, procedure: str | None = None, limit: int = CASE_LIST_LIMIT,
) -> list[ClassifiedCase]:
    """The cases behind one bar of the classification chart, counted as the snapshots count
    them: resolved in the period with that verdict, or open at its end (the end of its last
    day, or now) in that state. SQL narrows to the period and to what the class needs (a late
    case ended after its due or had a second supplement request); the verdict itself is
    `onestop.classification`'s. Earliest due first, at most `limit`."""
    verdict = CASE_CLASSES[classification]
    calendar = work_calendar(session)
    start, end = _day_bounds(calendar, date_from, date_to)
    at = min(clock.now(), end - timedelta(microseconds=1))
    policy = Policy.from_env()
    twice = (
        select(Pause.case_id).where(Pause.reason == "supplement")
        .group_by(Pause.case_id).having(func.count() > 1)
    )
    query = (
        select(Case).join(Procedure, Procedure.id == Case.procedure_id)
        .where(Case.unit_id.in_(unit_ids), Case.received_at.is_not(None),
               Case.due_at.is_not(None))
        .options(selectinload(Case.procedure), selectinload(Case.unit),
                 selectinload(Case.pauses))
        .order_by(Case.due_at, Case.id)
    )
    if procedure is not None:
        query = query.where(Procedure.code == procedure)
    resolved = classification.startswith("resolved_")
    if resolved:
        query = query.where(Case.status.in_(("resolved", "returned")),
                            Case.ended_at >= start, Case.ended_at < end)
        if verdict == "early":
            query = query.where(Case.ended_at < Case.due_at, Case.id.not_in(twice))
        elif verdict == "late":
            query = query.where(or_(Case.ended_at > Case.due_at, Case.id.in_(twice)))
    else:
        query = query.where(Case.received_at <= at,
                            or_(Case.ended_at.is_(None), Case.ended_at >= end))
        if verdict == "overdue":
            query = query.where(or_(Case.due_at < at, Case.id.in_(twice)))
        else:
            query = query.where(Case.id.not_in(twice))
    out = []
    for item in session.scalars(query.execution_options(yield_per=500)):
        state = (classify_case(item, calendar) if resolved
                 else classify_open_case_at(item, calendar, at, policy))
        if state != verdict:
            continue
        out.append(ClassifiedCase(item.receipt_code, item.procedure.code, item.unit.code,
                                  item.received_at, item.due_at, item.ended_at, classification))
        if len(out) >= limit:
            break
    return out


def _day_bounds(calendar, date_from: date, date_to: date) -> tuple[datetime, datetime]:
    zone = calendar.zone
    start = datetime.combine(date_from, datetime.min.time(), zone)
    end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), zone)
    return start, end


# --- laggards ---------------------------------------------------------------------------------

STEP_FLOWS = tuple(n for n in STEP_COLUMNS
                   if not (n.startswith("open_") or n == "held_cases_overdue"))
STEP_STOCKS = tuple(n for n in STEP_COLUMNS if n not in STEP_FLOWS)


@dataclass
class Laggards:
    """Everything the laggards page ranks, from two reads of the snapshots (one of the case
    days, one of the step days, plus the step stock of the last day) instead of one per
    ranking. Each list equals what `onestop.metrics` gives for it: `rates_by(by)` ranked for
    subunits, procedures, steps and officers, `working_days_lost` and `overdue_held` at the
    period's end."""

    subunits: list[RateRow]
    procedures: list[RateRow]
    steps: list[RateRow]
    officers: list[RateRow]
    days_lost: list[dict]
    overdue_held: list[dict]


def laggards(session: Session, unit: Unit, date_from: date, date_to: date) -> Laggards:
    check_period(date_from, date_to)
    calendar = work_calendar(session)
    end = min(date_to, clock.now().astimezone(calendar.zone).date())  # clamp_to_today
    hours = calendar.hours_per_day
    units = units_by_id(session)
    below = unit_tree(units)
    ids = descendants(below, unit.id)
    procedures = {r.id: (r.code, r.name_vi) for r in session.execute(
        select(Procedure.id, Procedure.code, Procedure.name_vi))}
    roomy_aggregates(session)
    subunits, by_procedure = _case_rankings(session, ids, date_from, end, hours, units, below,
                                            unit.id, procedures)
    steps, officers, lost, held = _step_rankings(session, ids, date_from, end, hours,
                                                 procedures)
    return Laggards(subunits, by_procedure, steps, officers, lost, held)


def _add(into: list[int], values) -> None:
    for index, value in enumerate(values):
        into[index] += int(value or 0)


def _case_rankings(session, ids, date_from, end, hours, units, below, root, procedures):
    """rates_by "subunit" and "procedure", from one aggregate per (unit, procedure)."""
    t = CaseDayFigures.__table__
    names = (*CASE_COLUMNS, "carried_over")
    query = (
        select(t.c.unit_id, t.c.procedure_id,
               *period_columns(t, date_from, end, CASE_COLUMNS, carried=True))
        .where(t.c.day.between(date_from - timedelta(days=1), end), t.c.unit_id.in_(ids))
        .group_by(t.c.unit_id, t.c.procedure_id)
    )
    per_unit: dict[int, list[int]] = {}
    per_procedure: dict[tuple[str, str], list[int]] = {}
    for row in session.execute(query):
        values = row[2:]
        _add(per_unit.setdefault(row[0], [0] * len(names)), values)
        if row[1] in procedures:  # (rates_by joins the procedures)
            _add(per_procedure.setdefault(procedures[row[1]], [0] * len(names)), values)

    def figures(values: list[int] | None) -> Figures:
        return Figures(hours_per_day=hours, **dict(zip(names, values or [0] * len(names),
                                                       strict=True)))

    subunits = []
    for child in below.get(root, ()):
        total = [0] * len(names)
        for member in descendants(below, child):
            if member in per_unit:
                _add(total, per_unit[member])
        fig = figures(total)
        if fig.rate_base or fig.received_total:
            subunits.append(rate_row(units[child][1], units[child][2], fig.on_time_count,
                                     fig.rate_base, _case_counts(fig)))
    rows = []
    for (code, name), values in per_procedure.items():
        fig = figures(values)
        rows.append(rate_row(code, name, fig.on_time_count, fig.rate_base, _case_counts(fig)))
    return ranked(subunits), ranked(rows)


def _case_counts(fig: Figures) -> dict[str, int]:
    return {"received": fig.received_total, "resolved": fig.resolved_total,
            "late": fig.resolved_late, "in_progress": fig.in_progress_total,
            "overdue": fig.open_overdue}


def _step_rankings(session, ids, date_from, end, hours, procedures):
    """rates_by "step" and "officer", working_days_lost and overdue_held: the step flows over
    the period and the stock of its last day, each one statement that sums per (procedure,
    step, owner) on integer keys once and then per step and per owner from that."""
    s, o, ps = StepDayFigures.__table__, Officer.__table__, ProcessStep.__table__

    def read(columns, where) -> tuple[dict, dict]:
        keys = (s.c.procedure_id, s.c.step_position, s.c.owner_id)
        agg = (select(*keys, *(cast(func.sum(s.c[n]), BigInteger).label(n) for n in columns))
               .where(where, s.c.unit_id.in_(ids)).group_by(*keys).cte("agg"))
        sums = [cast(func.sum(agg.c[n]), BigInteger).label(n) for n in columns]
        per_step = (select(literal(0).label("kind"), agg.c.procedure_id, agg.c.step_position,
                           null().label("username"), null().label("full_name"), *sums)
                    .group_by(agg.c.procedure_id, agg.c.step_position))
        per_owner = (select(literal(1).label("kind"), null(), null(), o.c.username,
                            o.c.full_name, *sums)
                     .select_from(agg.join(o, o.c.id == agg.c.owner_id))
                     .group_by(o.c.username, o.c.full_name))
        steps, owners = {}, {}
        for row in session.execute(union_all(per_step, per_owner)):
            values = [int(v or 0) for v in row[5:]]
            if row[0] == 0:
                steps[(row[1], row[2])] = values
            else:
                owners[(row[3], row[4])] = values
        return steps, owners

    step_flows, owner_flows = read(STEP_FLOWS, s.c.day.between(date_from, end))
    step_stocks, owner_stocks = read(STEP_STOCKS, s.c.day == end)
    none = [0] * len(STEP_STOCKS)
    meta = {(r.procedure_id, r.position): (r.name, r.budget_hours) for r in session.execute(
        select(ps.c.procedure_id, ps.c.position, ps.c.name, ps.c.budget_hours))}

    def counts(flows: list[int], stocks: list[int]) -> dict[str, int]:
        return {**dict(zip(STEP_FLOWS, flows, strict=True)),
                **dict(zip(STEP_STOCKS, stocks, strict=True))}

    def step_rate(key: str, label: str, c: dict[str, int]) -> RateRow:
        on_time = c["finished_early"] + c["finished_on_time"] + c["open_within"]
        total = on_time + c["finished_late"] + c["open_overdue"]
        return rate_row(key, label, on_time, total, c)

    # Versions of one procedure share its code: steps are keyed by code and position.
    by_step: dict[tuple[str, int], dict[str, int]] = {}
    step_meta: dict[tuple[str, int], list] = {}
    for (procedure_id, position), flows in step_flows.items():
        if procedure_id not in procedures:  # (the step rankings join the procedures)
            continue
        key = (procedures[procedure_id][0], position)
        c = counts(flows, step_stocks.get((procedure_id, position), none))
        into = by_step.setdefault(key, dict.fromkeys(STEP_COLUMNS, 0))
        for name, value in c.items():
            into[name] += value
        name, budget = meta.get((procedure_id, position), (None, None))
        seen = step_meta.setdefault(key, [None, None])
        if name is not None and (seen[0] is None or name > seen[0]):
            seen[0] = name
        if budget is not None and (seen[1] is None or budget > seen[1]):
            seen[1] = budget

    steps, lost = [], []
    day_seconds = hours * 3600
    for (code, position), c in by_step.items():
        c = {name: c[name] for name in STEP_COLUMNS}
        name, budget = step_meta[(code, position)]
        name = step_title(name)
        steps.append(step_rate(f"{code}#{position}", f"{code} – {name or position}", c))
        finished = c["finished_early"] + c["finished_on_time"] + c["finished_late"]
        days = (c["overrun_seconds"] + c["open_overrun_seconds"]) / day_seconds
        lost.append({
            "procedure": code, "step_position": position, "step": name,
            "budget_days": round((budget or 0) / (day_seconds / 3600), 3),
            "finished": finished, "late": c["finished_late"],
            "average_days_used": (round(c["worked_seconds"] / (finished * day_seconds), 3)
                                  if finished * day_seconds else None),
            "days_lost_finished": round(c["overrun_seconds"] / day_seconds, 3),
            "days_lost_open": round(c["open_overrun_seconds"] / day_seconds, 3),
            "days_lost": round(days, 3),
            "held_overdue": c["open_overdue"],
        })
    lost.sort(key=lambda r: (-r["days_lost"], r["procedure"], r["step_position"]))
    officers = []
    for (username, full_name), flows in owner_flows.items():
        c = counts(flows, owner_stocks.get((username, full_name), none))
        officers.append(step_rate(username, full_name, {n: c[n] for n in STEP_COLUMNS}))
    held = []
    for (username, full_name), v in owner_stocks.items():
        c = dict(zip(STEP_STOCKS, v, strict=True))
        held.append({
            "username": username, "full_name": full_name,
            "held": c["open_within"] + c["open_overdue"], "steps_overdue": c["open_overdue"],
            "cases_overdue": c["held_cases_overdue"], "at_risk": c["open_at_risk"],
        })
    held.sort(key=lambda r: (-r["cases_overdue"], -r["steps_overdue"], r["username"]))
    return ranked(steps), ranked(officers), lost, held


# --- heat map ---------------------------------------------------------------------------------

@dataclass
class HeatRow:
    code: str
    name: str
    include_subunits: bool
    weeks: list[dict]  # weekly_trend rows


HEAT_COLUMNS = ("received_online", "received_in_person", "received_post", "resolved_early",
                "resolved_on_time", "resolved_late", "open_within", "open_overdue")


def heat_rows(session: Session, unit: Unit, date_from: date, date_to: date) -> list[HeatRow]:
    """Week-by-week 766 rates of the unit's own cases and of each direct sub-unit (with the
    units below it); rows without any case in the period are left out. One aggregate per
    (unit, day), composed here, instead of one `weekly_trend` query per sub-unit (the same
    rule: flows summed over the week, open stock at its last day, the day before carried)."""
    check_period(date_from, date_to)
    date_to = clamp_to_today(session, date_to)
    children = list(session.scalars(
        select(Unit).where(Unit.parent_id == unit.id).order_by(Unit.code)))
    below = unit_tree(units_by_id(session))
    groups = [(unit, [unit.id], False)]
    groups += [(child, descendants(below, child.id), True) for child in children]
    roomy_aggregates(session)
    t = CaseDayFigures.__table__
    # Each unit counted in its row's group: SQL sums the subtrees, Python only cuts weeks. The
    # unit -> group map is joined as a VALUES list written out here (integers only): a CASE of
    # hundreds of branches per row cost more than the sums, and hundreds of bound parameters
    # (or SQLAlchemy's literal rendering of them) a round of parsing per request. Only the
    # columns a week's rate shows are summed (weeks_from_daily reads a missing one as 0).
    pairs = ", ".join(f"({int(uid)}, {int(index)})"
                      for index, (_, ids, _) in enumerate(groups) for uid in ids)
    group_of = (text(f"SELECT column1 AS unit_id, column2 AS g FROM (VALUES {pairs}) AS v")
                .columns(column("unit_id", Integer), column("g", Integer))
                .subquery("heat_groups"))
    query = (
        select(group_of.c.g, t.c.day, *(func.sum(t.c[name]).label(name) for name in HEAT_COLUMNS))
        .select_from(t.join(group_of, group_of.c.unit_id == t.c.unit_id))
        .where(t.c.day.between(date_from - timedelta(days=1), date_to))
        .group_by(group_of.c.g, t.c.day)
    )
    by_group: dict[int, dict[date, dict[str, int]]] = {}
    for row in session.execute(query):
        by_group.setdefault(row[0], {})[row[1]] = dict(zip(HEAT_COLUMNS, row[2:], strict=True))
    hours = work_calendar(session).hours_per_day
    rows = []
    for index, (member, _, deep) in enumerate(groups):
        weeks = weeks_from_daily(by_group.get(index, {}), date_from, date_to, hours)
        if any(w["received"] or w["resolved"] or w["in_progress"] for w in weeks):
            rows.append(HeatRow(member.code, member.name, deep, weeks))
    return rows


# --- escalations and signs --------------------------------------------------------------------

@dataclass
class EscalationCount:
    level: str
    age: str
    count: int


def open_escalations(
    session: Session, unit_ids: list[int], now: datetime | None = None,
) -> list[EscalationCount]:
    """Escalations fired on cases of the units that are still open, by level and age."""
    now = now or clock.now()
    query = (
        select(Escalation.level, Escalation.fired_at)
        .join(Case, Case.id == Escalation.case_id)
        .where(Case.unit_id.in_(unit_ids), Case.status.in_(OPEN_STATUSES))
    )
    counts: dict[tuple[str, str], int] = {}
    for level, fired_at in session.execute(query):
        label = _age_bucket(now, fired_at)
        counts[(level, label)] = counts.get((level, label), 0) + 1
    return [EscalationCount(level, age, n) for (level, age), n in sorted(counts.items())]


def _age_bucket(now: datetime, fired_at: datetime) -> str:
    age_days = (now - fired_at).total_seconds() / 86400
    return next(lbl for limit, lbl in AGE_BUCKETS if limit is None or age_days < limit)


@dataclass
class EscalatedCase:
    receipt_code: str
    level: str
    age: str  # an AGE_BUCKETS label
    fired_at: datetime
    step_position: int | None
    owner: str


def escalated_cases(
    session: Session, unit_ids: list[int], *, level: str | None = None, age: str | None = None,
    now: datetime | None = None, limit: int = CASE_LIST_LIMIT,
) -> list[EscalatedCase]:
    """The open escalations behind `open_escalations`' counts, one row each, optionally of one
    level and one age bucket; oldest first."""
    now = now or clock.now()
    query = (
        select(Escalation, Case.receipt_code, Officer.full_name)
        .join(Case, Case.id == Escalation.case_id)
        .outerjoin(Officer, Officer.id == Escalation.owner_id)
        .where(Case.unit_id.in_(unit_ids), Case.status.in_(OPEN_STATUSES))
        .order_by(Escalation.fired_at, Escalation.id)
        .limit(limit)
    )
    if level is not None:
        query = query.where(Escalation.level == level)
    if age is not None:
        lower = 0
        for upper, label in AGE_BUCKETS:  # age in [lower, upper) days
            if label == age:
                query = query.where(Escalation.fired_at <= now - timedelta(days=lower))
                if upper is not None:
                    query = query.where(Escalation.fired_at > now - timedelta(days=upper))
                break
            lower = upper or lower
        else:
            raise ValueError(f"not an age bucket: {age!r}")
    return [
        EscalatedCase(code, e.level, _age_bucket(now, e.fired_at), e.fired_at, e.step_position,
                      owner or "")
        for e, code, owner in session.execute(query)
    ]


@dataclass
class SignRow:
    day: date
    sign: str
    kind: str
    subject: str
    receipt_code: str | None
    officer: str | None
    evidence: dict = field(default_factory=dict)


def signs(
    session: Session, unit_ids: list[int], date_from: date, date_to: date,
    officer_id: int | None = None, limit: int = CASE_LIST_LIMIT, sign: str | None = None,
) -> list[SignRow]:
    """Stored signs (RULES.md section 8; advisory) of the units' cases or officers over the
    period (optionally of one `sign`), latest first. Each evidence event also carries who
    and which step it moved the case from and to (`_event_details`)."""
    query = (
        select(Signal, Case.receipt_code, Officer.full_name)
        .outerjoin(Case, Case.id == Signal.case_id)
        .outerjoin(Officer, Officer.id == Signal.officer_id)
        .where(Signal.day.between(date_from, date_to))
        .order_by(Signal.day.desc(), Signal.kind, Signal.subject)
        .limit(limit)
    )
    if officer_id is not None:
        query = query.where(Signal.officer_id == officer_id)
    else:
        query = query.where(or_(Signal.unit_id.in_(unit_ids), Case.unit_id.in_(unit_ids)))
    if sign is not None:
        query = query.where(Signal.sign == sign)
    rows = [
        SignRow(sig.day, sig.sign, sig.kind, sig.subject, code, name, dict(sig.evidence or {}))
        for sig, code, name in session.execute(query)
    ]
    _event_details(session, rows)
    return rows


def _event_details(session: Session, rows: list[SignRow]) -> None:
    """Adds to each evidence event (stored as id, seq, kind, at) the officers and steps it
    moved the case between ("from", "to", "from_step", "to_step"); "from" is the officer who
    acted unless the event names the previous owner. Copies: the stored evidence is kept."""
    events = [e for r in rows for e in r.evidence.get("events") or ()
              if isinstance(e, dict) and isinstance(e.get("id"), int)]
    if not events:
        return
    found = {ev.id: ev for ev in session.scalars(
        select(CaseEvent).where(CaseEvent.id.in_({e["id"] for e in events}))
        .options(selectinload(CaseEvent.actor)))}
    usernames = {ev.data.get(k) for ev in found.values() if isinstance(ev.data, dict)
                 for k in ("from_owner", "to_owner")} - {None}
    names = dict(session.execute(
        select(Officer.username, Officer.full_name).where(Officer.username.in_(usernames))
    ).all()) if usernames else {}
    for row in rows:
        if not isinstance(row.evidence.get("events"), list):
            continue
        detailed = []
        for item in row.evidence["events"]:
            ev = found.get(item.get("id")) if isinstance(item, dict) else None
            if ev is not None:
                data = ev.data if isinstance(ev.data, dict) else {}
                item = {**item, "from_step": ev.from_step, "to_step": ev.to_step,
                        "from": names.get(data.get("from_owner"), data.get("from_owner"))
                        or (ev.actor.full_name if ev.actor else None),
                        "to": names.get(data.get("to_owner"), data.get("to_owner"))}
            detailed.append(item)
        row.evidence["events"] = detailed


# --- officer scorecard ------------------------------------------------------------------------

@dataclass
class Scorecard:
    username: str
    full_name: str
    steps: list[RateRow]  # per procedure step
    overall: RateRow
    days_lost: float
    overdue_held: int
    extensions: int
    signs: list[SignRow]
    findings: dict[str, int]


def scorecard(session: Session, officer: Officer, date_from: date, date_to: date) -> Scorecard:
    """One officer's steps over a period (any unit they held them in), with what they rest on."""
    s = StepDayFigures.__table__
    units = list(session.scalars(select(s.c.unit_id).where(s.c.owner_id == officer.id).distinct()))
    steps = (step_rates(session, units, date_from, date_to, by="step", owner=officer.username)
             if units else [])
    on_time = sum(r.on_time for r in steps)
    total = sum(r.total for r in steps)
    overall = rate_row(officer.username, officer.full_name, on_time, total, {})
    day_seconds = work_calendar(session).hours_per_day * 3600
    end = clamp_to_today(session, date_to)
    lost = session.execute(
        select(
            func.sum(s.c.overrun_seconds).filter(s.c.day.between(date_from, end)),
            func.sum(s.c.open_overrun_seconds).filter(s.c.day == end),
            func.sum(s.c.held_cases_overdue).filter(s.c.day == end),
        ).where(s.c.owner_id == officer.id)
    ).one()
    start, stop = _day_bounds(work_calendar(session), date_from, date_to)
    # Extensions issued while the officer held a step of the case: the delay was theirs to explain.
    extensions = session.scalar(
        select(func.count(func.distinct(Extension.id)))
        .join(StepAssignment, StepAssignment.case_id == Extension.case_id)
        .where(
            StepAssignment.owner_id == officer.id, Extension.issued_at.between(start, stop),
            StepAssignment.started_at <= Extension.issued_at,
            or_(StepAssignment.ended_at.is_(None), StepAssignment.ended_at >= Extension.issued_at),
        )
    ) or 0
    findings = dict(session.execute(
        select(InspectionFinding.verdict, func.count(func.distinct(InspectionFinding.id)))
        .join(StepAssignment, StepAssignment.case_id == InspectionFinding.case_id)
        .where(StepAssignment.owner_id == officer.id,
               InspectionFinding.recorded_at.between(start, stop))
        .group_by(InspectionFinding.verdict)
    ).all())
    return Scorecard(
        officer.username, officer.full_name, steps, overall,
        round(int((lost[0] or 0) + (lost[1] or 0)) / day_seconds, 2), int(lost[2] or 0),
        int(extensions), signs(session, [], date_from, date_to, officer_id=officer.id), findings,
    )


# --- helpers ----------------------------------------------------------------------------------

def rate_row(key: str, label: str, on_time: int, total: int, counts: dict[str, int]) -> RateRow:
    low, high = wilson_interval(on_time, total)
    rate = on_time / total if total else None
    return RateRow(key, label, on_time, total, rate, low, high, counts)


def ranked(rows: list[RateRow]) -> list[RateRow]:
    """Worst first by the upper end of the interval, so that a unit with two late cases is not
    ranked worse than one with forty on a bare rate; ties by volume, then key."""
    return sorted(
        rows, key=lambda r: (r.high, r.rate if r.rate is not None else 2.0, -r.total, r.key)
    )
