"""Benchmark (the calendar's second figure): re-projecting open cases after a calendar change.

For each size, a fresh database gets a synthetic backlog of N open cases (`seed_synthetic(...,
all_open=True)`: received over the last month, each stopped somewhere inside its allowed time,
some paused, some with finished pauses), then an administrator's day off is added on the working
day that the most open cases' clocks span (the heaviest single change), and
`deadlines.reproject_open_cases` runs and commits. A second pass with nothing to change (the
nightly check) is timed too. Growth: time per case at the largest size over the smallest.

Reference, measured in the same run: the case-by-case ORM path that lifecycle used before the
bulk path (load each open case with its pauses, project, claim, record, flush), on the first
REFERENCE_CASES open cases of the same database, in a transaction rolled back afterwards.

Checks: a sample of changed cases is re-projected through `lifecycle.project_due` and must
agree, and one commune's history chains must verify.

Target: 1M open cases re-projected in under 30 s (PostgreSQL).

    python -m bench reprojection                          # 100k and 1M on PostgreSQL, 100k SQLite
    python -m bench reprojection -- --sizes 100000 --sqlite-sizes ''
"""

from __future__ import annotations

import argparse
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bench.seed import load, machine, postgres_database, sqlite_database

TARGET_SECONDS = 30
TARGET_CASES = 1_000_000
REFERENCE_CASES = 20_000
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def _backlog(url: str, cases: int, communes: int) -> float:
    from sqlalchemy.orm import Session

    from onestop.db import make_engine
    from onestop.synthetic import seed_synthetic

    engine = make_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        seed_synthetic(session, cases=cases, communes=communes, months=1, seed=7, now=NOW,
                       all_open=True)
        session.commit()
    engine.dispose()
    return time.perf_counter() - started


def _heaviest_day(session) -> date:
    """The working day inside the most open cases' [receipt, due] spans."""
    from sqlalchemy import select

    from onestop.calendar_store import work_calendar
    from onestop.models import OPEN_STATUSES, Case

    calendar = work_calendar(session)
    starts, ends = {}, {}
    rows = session.execute(
        select(Case.received_at, Case.due_at).where(Case.status.in_(OPEN_STATUSES))
    )
    for received, due in rows:
        a = received.astimezone(calendar.zone).date() + timedelta(days=1)
        b = due.astimezone(calendar.zone).date()
        starts[a] = starts.get(a, 0) + 1
        ends[b] = ends.get(b, 0) + 1
    day, best, running = None, -1, 0
    first, last = min(starts), max(ends)
    d = first
    while d <= last:
        running += starts.get(d, 0)
        if calendar.is_working_day(d) and running > best:
            day, best = d, running
        running -= ends.get(d, 0)
        d += timedelta(days=1)
    return day


def _orm_reference(session, reason: str, limit: int) -> float:
    """Seconds per case of the case-by-case ORM path, on the first `limit` open cases."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from onestop import lifecycle
    from onestop.calendar_store import work_calendar
    from onestop.models import OPEN_STATUSES, Case

    calendar = work_calendar(session)
    started = time.perf_counter()
    cases = session.scalars(
        select(Case).where(Case.status.in_(OPEN_STATUSES)).order_by(Case.id).limit(limit)
        .options(selectinload(Case.pauses), selectinload(Case.procedure),
                 selectinload(Case.assignments))
    ).all()
    for case in cases:
        new_due = lifecycle.project_due(case, calendar)
        if new_due == case.due_at:
            continue
        lifecycle._claim(session, case)
        previous, case.due_at = case.due_at, new_due
        case.original_due_at = calendar.due_at(
            case.received_at, case.procedure.duration_unit, case.procedure.duration_amount,
            case.procedure.same_day_cutoff,
        )
        lifecycle._record(
            session, case, "due_recomputed", None, from_status=case.status,
            from_step=case.current_assignment.step_position if case.current_assignment else None,
            reason=reason, previous_due_at=previous, due_at=new_due,
        )
    session.flush()
    seconds = time.perf_counter() - started
    session.rollback()
    session.expunge_all()
    return seconds / max(1, len(cases))


def _check(session, sample: list[int]) -> str:
    from sqlalchemy import select

    from onestop import lifecycle
    from onestop.audit import verify_chains
    from onestop.calendar_store import work_calendar
    from onestop.models import Case, Unit

    calendar = work_calendar(session)
    wrong = sum(
        1 for case in session.scalars(select(Case).where(Case.id.in_(sample)))
        if lifecycle.project_due(case, calendar) != case.due_at
    )
    unit = session.scalar(select(Unit.code).where(Unit.kind.in_(("commune", "ward"))).limit(1))
    checked, broken = verify_chains(session, unit)
    if wrong or broken:
        raise AssertionError(f"{wrong} wrong due instants, {len(broken)} broken links")
    return f"{len(sample)} sampled due instants agree with project_due; {checked} events of {unit} verify"


def _measure(url: str, cases: int, opts) -> tuple[float, str]:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from onestop import clock
    from onestop.calendar_store import add_calendar_exception
    from onestop.db import make_engine
    from onestop.deadlines import reproject_open_cases, reprojected_case_ids
    from onestop.models import OPEN_STATUSES, Case

    backend = url.split(":", 1)[0].split("+")[0]
    built = _backlog(url, cases, opts.communes)
    engine = make_engine(url)
    with Session(engine) as session, clock.frozen_at(NOW):
        open_cases = session.scalar(select(func.count()).where(Case.status.in_(OPEN_STATUSES)))
        day = _heaviest_day(session)
        reason = f"Nghỉ ngày {day:%d/%m/%Y} theo thông báo (benchmark)"
        add_calendar_exception(session, day, "day_off", "Thông báo (benchmark)")
        session.commit()
        reference = _orm_reference(session, reason, min(REFERENCE_CASES, open_cases))
        started = time.perf_counter()
        sample: list[int] = []
        changed = 0
        for ids in reprojected_case_ids(session, reason, batch_size=opts.batch_size):
            changed += len(ids)
            sample.extend(ids[:: max(1, len(ids) // 50)][:50])
        session.commit()
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = reproject_open_cases(session, "Đối chiếu hằng đêm (benchmark)")
        session.commit()
        nightly = time.perf_counter() - started
        checks = _check(session, sample[:2000])
    engine.dispose()
    per_case = seconds / open_cases
    line = (
        f"reprojection {backend} {open_cases:>9,} open cases (backlog built in {built:.0f} s): "
        f"day off {day:%d/%m/%Y} moves {changed:,} ({changed / open_cases:.0%}) in {seconds:.1f} s "
        f"({per_case * 1e6:.1f} us/case), {reference / per_case:.1f}x the ORM path "
        f"({reference * 1e6:.0f} us/case on {min(REFERENCE_CASES, open_cases):,}); "
        f"nothing to move: {nightly:.1f} s ({again} moved); {load()}"
    )
    if backend == "postgresql" and open_cases >= TARGET_CASES:
        line += f"; target < {TARGET_SECONDS} s: {'MET' if seconds < TARGET_SECONDS else 'NOT MET'}"
    return per_case, line + "\n   " + checks


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench reprojection", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="open cases on PostgreSQL")
    parser.add_argument("--sqlite-sizes", default="100000", help="open cases on SQLite")
    parser.add_argument("--communes", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL databases")
    opts = parser.parse_args(argv)
    print(f"{machine()}; {load()}")
    for backend, sizes in (("postgresql", opts.sizes), ("sqlite", opts.sqlite_sizes)):
        per_case = {}
        for cases in [int(s) for s in sizes.split(",") if s]:
            database = (
                postgres_database("onestop_bench_reproject", opts.keep)
                if backend == "postgresql" else sqlite_database()
            )
            with database as url:
                per_case[cases], line = _measure(url, cases, opts)
            print(line, flush=True)
        if len(per_case) >= 2:
            small, large = min(per_case), max(per_case)
            print(f"reprojection {backend} growth: time per case at {large:,} / at {small:,} = "
                  f"{per_case[large] / per_case[small]:.2f} (1.00 = linear)")
    return 0
