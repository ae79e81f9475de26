"""Benchmark: one escalation pass over 100k open cases on PostgreSQL (target: under 20 s).

Builds a throwaway schema, the test world (units, officers, the bundled catalogue), then
bulk-inserts the open cases and their open step assignments with SQLAlchemy Core. Each case is
at a random point of its processing time, at the step its elapsed time has reached (so about a
quarter of the steps are at risk and some cases are due for form 04); a share of them (10% by
default, `--late-share`) is past its processing time, stuck in its second step. Then times
`run_escalation` inside office hours (claims, inbox entries and queued e-mails; no SMTP server,
so the e-mails stay in the outbox), and a second pass, when everything is already claimed.
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

PG_URL = os.environ.get(
    "ONESTOP_BENCH_POSTGRES_URL",
    os.environ.get(
        "ONESTOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
)
TARGET_SECONDS = 20.0
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 3, 13, 10, 0, tzinfo=ZONE)  # a Friday morning
PROCEDURES = ("HT-XNHN", "HT-CC", "KD-HKD", "CA-TTR", "XH-MT", "CA-TT", "XD-GPXD")


def _schema_url(schema: str) -> str:
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}"


def _hours_before(calendar, instant: datetime, hours: float) -> datetime:
    """The instant `hours` working hours before `instant` (an office-hours instant)."""
    from onestop.escalation import last_extension_instant

    return last_extension_instant(calendar, instant, hours)


def _populate(url: str, count: int, seed: int, late_share: float) -> None:
    from onestop.calendar import WorkCalendar
    from onestop.clock import frozen_at
    from onestop.db import make_engine, make_session_factory
    from onestop.escalation import Escalation  # noqa: F401 (tables registered)
    from onestop.models import Case, Officer, Procedure, StepAssignment, Unit
    from tests.factories import build_world

    engine = make_engine(url)
    with frozen_at(NOW - timedelta(days=30)), make_session_factory(engine)() as session:
        build_world(session)
        for officer in session.scalars(sa.select(Officer)):
            officer.email = f"{officer.username}@hanoi.gov.vn"
        session.commit()
        unit = session.scalar(sa.select(Unit).where(Unit.code == "XA-MP"))
        desk_unit = session.scalar(sa.select(Unit).where(Unit.code == "XA-MP-MC"))
        civ_unit = session.scalar(sa.select(Unit).where(Unit.code == "XA-MP-TP"))
        officers = {o.username: o.id for o in session.scalars(sa.select(Officer))}
        procedures = {
            p.code: p
            for p in session.scalars(sa.select(Procedure).where(Procedure.code.in_(PROCEDURES)))
        }
        terms = {
            code: (
                p.id,
                p.duration_unit,
                p.duration_amount,
                [(s.position, s.name, s.role, s.budget_hours) for s in p.steps],
            )
            for code, p in procedures.items()
        }
    calendar = WorkCalendar.vietnam()
    rng = random.Random(seed)
    now_position = calendar.next_opening(NOW)
    cases, steps = [], []
    for number in range(1, count + 1):
        code = rng.choice(PROCEDURES)
        procedure_id, unit_name, amount, process = terms[code]
        total = sum(budget for *_, budget in process[:-1])
        late = rng.random() < late_share
        # Working hours since receipt: within the processing budget, or past it for late cases.
        elapsed = total + rng.uniform(1, 40) if late else rng.uniform(0, total)
        received = _hours_before(calendar, now_position, elapsed)
        due = calendar.due_at(received, unit_name, amount)
        # The step the case has reached; a late case is stuck in its second step.
        index, spent = 0, 0.0
        if late:
            index, spent = 1, process[0][3]
        else:
            while index < len(process) - 2 and spent + process[index][3] <= elapsed:
                spent += process[index][3]
                index += 1
        position, name, role, budget = process[index]
        held_from = calendar.add_working_hours(received, spent)
        owner = "desk" if role == "desk" else rng.choice(("civ", "civ2"))
        cases.append(
            {
                "id": number,
                "receipt_code": f"XA-MP-B{number:07d}",
                "unit_id": unit.id,
                "procedure_id": procedure_id,
                "applicant_name": "Nguyễn Văn Bình",
                "channel": "in_person",
                "documents": [],
                "status": "received" if position == 1 else "in_progress",
                "submitted_at": received,
                "received_at": received,
                "original_due_at": due,
                "due_at": due,
                "imported": False,
                "last_event_seq": 0,
                "version_id": 1,
            }
        )
        steps.append(
            {
                "case_id": number,
                "step_position": position,
                "step_name": name,
                "step_role": role,
                "budget_hours": budget,
                "owner_id": officers[owner],
                "unit_id": desk_unit.id if owner == "desk" else civ_unit.id,
                "given_by_id": None,
                "started_at": held_from,
                "step_started_at": held_from,
                "due_at": calendar.add_working_hours(calendar.next_opening(held_from), budget),
            }
        )
    with engine.begin() as connection:
        for index in range(0, count, 10_000):
            connection.execute(sa.insert(Case.__table__), cases[index : index + 10_000])
            connection.execute(sa.insert(StepAssignment.__table__), steps[index : index + 10_000])
        connection.execute(sa.text("ANALYZE cases, step_assignments"))
    engine.dispose()


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench escalation", description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000, help="open cases")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument(
        "--late-share",
        type=float,
        default=0.1,
        help="share of cases past their processing time (1 = a backlog where all are late)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    parser.add_argument("--strict", action="store_true", help="exit 1 if the target is missed")
    opts = parser.parse_args(argv)

    from onestop.db import make_engine, make_session_factory
    from onestop.escalation import Escalation, Notification, run_escalation
    from onestop.mail import OutboxMessage
    from onestop.migrate import upgrade
    from onestop.settings import Policy

    try:
        admin = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with admin.begin() as connection:
            schema = f"onestop_bench_{uuid.uuid4().hex[:10]}"
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        print(f"escalation: PostgreSQL at {PG_URL} is unreachable: {exc}")
        return 1
    url = _schema_url(schema)
    try:
        t0 = time.perf_counter()
        upgrade(url)
        _populate(url, opts.cases, opts.seed, opts.late_share)
        print(
            f"setup: {opts.cases} open cases ({opts.late_share:.0%} past their processing time) "
            f"inserted in {time.perf_counter() - t0:.1f} s"
        )
        engine = make_engine(url)
        factory = make_session_factory(engine)
        t0, c0 = time.perf_counter(), time.process_time()
        first = run_escalation(factory, NOW, policy=Policy(), settings=None)
        first_s, first_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        second = run_escalation(
            factory, NOW + timedelta(minutes=15), policy=Policy(), settings=None
        )
        second_s, second_cpu = time.perf_counter() - t0, time.process_time() - c0
        with factory() as session:

            def count(model):
                return session.scalar(sa.select(sa.func.count()).select_from(model))

            rows, inbox, outbox = count(Escalation), count(Notification), count(OutboxMessage)
        engine.dispose()
    finally:
        if not opts.keep:
            with admin.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    print(
        f"first pass: {first.candidates} candidates, {first.fired} fired {first.fired_by_level}, "
        f"{first.delivered} delivered, {first.notifications} inbox entries, "
        f"{first.emails_queued} e-mails queued in {first_s:.2f} s ({first_cpu:.2f} s CPU here)"
    )
    print(
        f"second pass, 15 minutes later: {second.candidates} candidates, "
        f"{second.fired} fired in {second_s:.2f} s ({second_cpu:.2f} s CPU here)"
    )
    print(f"stored: {rows} escalations, {inbox} inbox entries, {outbox} outbox messages")
    met = first_s < TARGET_SECONDS
    print(
        f"escalation: one pass over {opts.cases} open cases on PostgreSQL took {first_s:.2f} s "
        f"(target < {TARGET_SECONDS:g} s): {'MET' if met else 'NOT MET'}"
    )
    return 1 if (opts.strict and not met) else 0
