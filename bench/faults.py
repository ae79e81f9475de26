"""Faults under load: lose nothing, half-write nothing, escalate nothing twice.

    python -m bench.faults                      # 30 s of load, every fault
    python -m bench.faults --quick              # the CI variant: 8 s, no PostgreSQL restart
    python -m bench.faults --seconds 60 --clients 6 --json faults.json

What it does, on PostgreSQL (ONESTOP_FAULTS_POSTGRES_URL, default the test server at
127.0.0.1:5432, in a schema of its own that it drops at the end):

1. Seeds a commune, its desk officers (one API token per client thread), a civil status
   officer, heads and a chair, and `--overdue` cases received 40 days ago (so the escalation
   ladder has work to do).
2. Starts gunicorn (`--workers`, 127.0.0.1, a free port) and `--clients` threads that receive a
   case and hand it over, again and again, through the REST API. Every 2xx answer is an
   acknowledged action, remembered with its receipt code.
3. Meanwhile: SIGKILLs one gunicorn worker; restarts PostgreSQL (`pg_ctlcluster ... restart`,
   unless `--no-restart-postgres`); starts the escalation run (`run_escalation`) in a process of
   its own and SIGKILLs it mid-run, several times.
4. After the load: runs the escalation to completion twice, then races `--racers` clients
   handing over the same step of each of `--races` cases at once.
5. Checks: every acknowledged action is in the database; no case was created twice; every open
   case has exactly one open step; `audit verify` finds no broken link; no escalation, inbox
   entry or e-mail exists twice; each race has exactly one winner and only 409s besides.

Prints a summary (and writes it as JSON with --json); exits 1 if anything was lost, duplicated
or half-written. Bounded in time: the load stops after --seconds, every request has a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
OPEN_STATUSES = ("received", "in_progress", "awaiting_supplement", "awaiting_payment")
APPLICANT = {"id_number": "001190012345", "phone": "0912345678", "address": "Thôn Đông, xã Minh Phú"}
DOCUMENTS = [{"name": "Tờ khai", "form": "original", "count": 1}]


# --- the world -------------------------------------------------------------------------------------

def create_schema(base_url: str) -> tuple[str, str]:
    schema = f"onestop_faults_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    separator = "&" if "?" in base_url else "?"
    return schema, f"{base_url}{separator}options=-csearch_path%3D{schema}"


def drop_schema(base_url: str, schema: str) -> None:
    admin = sa.create_engine(base_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def seed(url: str, clients: int, overdue: int) -> dict[str, str]:
    """Units, officers, the catalogue, overdue cases; returns username -> API token."""
    from sqlalchemy.orm import Session

    from onestop import clock, lifecycle
    from onestop.admin import create_officer, create_unit
    from onestop.catalogue import bundled_catalogue, load_catalogue
    from onestop.db import make_engine
    from onestop.migrate import upgrade
    from onestop.tokens import create_token

    upgrade(url)
    engine = make_engine(url)
    tokens: dict[str, str] = {}
    with clock.frozen_at(clock.now() - timedelta(days=40)), Session(engine) as session:
        for code, name, kind, parent in [
            ("HN", "Thành phố Hà Nội", "province", None),
            ("XA-MP", "UBND xã Minh Phú", "commune", "HN"),
            ("XA-MP-MC", "Bộ phận Một cửa xã Minh Phú", "desk", "XA-MP"),
            ("XA-MP-TP", "Tư pháp - Hộ tịch xã Minh Phú", "department", "XA-MP"),
        ]:
            create_unit(session, code, name, kind=kind, parent_code=parent)
        desks = [
            create_officer(session, f"desk{n}", f"Cán bộ một cửa {n}", unit_code="XA-MP-MC", roles=["desk"],
                           email=f"desk{n}@example.vn")
            for n in range(clients + 1)
        ]
        civ = create_officer(session, "civ", "Phạm Minh Châu", unit_code="XA-MP-TP",
                             roles=["civil_status_officer"], email="civ@example.vn")
        create_officer(session, "head", "Đỗ Thị Hạnh", unit_code="XA-MP-TP", roles=["unit_head"],
                       email="head@example.vn")
        create_officer(session, "chair", "Ngô Văn Long", unit_code="XA-MP", roles=["chair"],
                       email="chair@example.vn")
        load_catalogue(session, bundled_catalogue())
        for n in range(overdue):
            case = lifecycle.receive(
                session, desks[0], unit_code="XA-MP", procedure_code="HT-XNHN",
                applicant={**APPLICANT, "name": f"Người quá hạn {n}"}, documents=DOCUMENTS,
            )
            lifecycle.hand_over(session, case, desks[0], civ)
        for officer in [*desks, civ]:
            tokens[officer.username] = create_token(session, officer, "faults")[1]
        session.commit()
    engine.dispose()
    return tokens


# --- gunicorn --------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(url: str, port: int, workers: int, instance: Path) -> subprocess.Popen:
    env = {
        **os.environ, "ONESTOP_DATABASE_URL": url, "ONESTOP_INSTANCE": str(instance),
        "ONESTOP_SECRET_KEY": uuid.uuid4().hex, "ONESTOP_RATELIMIT_STORAGE_URI": "memory://",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--timeout", "30", "--graceful-timeout", "5", "onestop.wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=open(instance / "gunicorn.log", "wb"),  # noqa: SIM115 (kept open for gunicorn's life)
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except requests.RequestException:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {(instance / 'gunicorn.log').read_text()[-2000:]}")
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not answer within 60 s")


def worker_pids(master: int) -> list[int]:
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return []
    return [int(pid) for pid in children]


# --- the load ----------------------------------------------------------------------------------------

@dataclass
class Tally:
    acknowledged_receipts: list[str] = field(default_factory=list)
    acknowledged_handovers: list[str] = field(default_factory=list)
    applicants: list[str] = field(default_factory=list)  # names of acknowledged receipts
    statuses: Counter = field(default_factory=Counter)
    transport_errors: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, key: Any) -> None:
        with self.lock:
            self.statuses[key] += 1


def client_loop(base: str, token: str, stop: threading.Event, tally: Tally, name: str) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    n = 0
    while not stop.is_set():
        n += 1
        applicant = f"Khách {name}-{n}-{uuid.uuid4().hex[:6]}"
        try:
            response = session.post(f"{base}/api/v1/cases", timeout=10, json={
                "procedure_code": "HT-XNHN", "applicant": {**APPLICANT, "name": applicant},
                "documents": DOCUMENTS,
            })
        except requests.RequestException as exc:
            with tally.lock:
                tally.transport_errors[type(exc).__name__] += 1
            time.sleep(0.05)
            continue
        tally.count(("receive", response.status_code))
        if response.status_code != 201:
            time.sleep(0.05)
            continue
        code = response.json()["receipt_code"]
        with tally.lock:
            tally.acknowledged_receipts.append(code)
            tally.applicants.append(applicant)
        try:
            response = session.post(f"{base}/api/v1/cases/{code}/handover", timeout=10,
                                    json={"to_officer": "civ", "to_step": 2})
        except requests.RequestException as exc:
            with tally.lock:
                tally.transport_errors[type(exc).__name__] += 1
            continue
        tally.count(("handover", response.status_code))
        if response.status_code == 200:
            with tally.lock:
                tally.acknowledged_handovers.append(code)


# --- escalation, killed mid-run ----------------------------------------------------------------------

ESCALATION = """
import sys
from datetime import datetime
from zoneinfo import ZoneInfo
from onestop.db import make_engine, make_session_factory
from onestop.escalation import run_escalation
now = datetime.fromisoformat(sys.argv[2])
factory = make_session_factory(make_engine(sys.argv[1]))
print("ready", flush=True)
run = run_escalation(factory, now, settings=None)
print(run.fired, run.delivered if hasattr(run, "delivered") else "")
"""


def office_hours_now() -> str:
    """The next working-day 10:00 in Vietnam at or after now, so delivery runs too."""
    from onestop.calendar import WorkCalendar

    calendar = WorkCalendar()
    day = calendar.zone and __import__("datetime").datetime.now(calendar.zone).date()
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return f"{day.isoformat()}T10:00:00+07:00"


def run_escalation_process(url: str, now: str, kill_after: float | None) -> str:
    """Run one escalation pass in a process of its own; with `kill_after`, SIGKILL it that
    long after it has started working (imports done), and say how far it had got."""
    process = subprocess.Popen(
        [sys.executable, "-c", ESCALATION, url, now], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    if kill_after is None:
        began = time.monotonic()
        out, err = process.communicate(timeout=300)
        took = time.monotonic() - began
        if process.returncode != 0:
            raise RuntimeError(f"escalation run failed: {err.decode()[-2000:]}")
        fired, delivered = (out.decode().split() + ["?", "?"])[1:3]
        return f"completed in {took:.1f} s with start-up: {fired} claimed, {delivered} delivered"
    process.stdout.readline()  # "ready"
    time.sleep(kill_after)
    if process.poll() is not None:
        return "finished before the kill"
    process.send_signal(signal.SIGKILL)
    process.wait()
    claimed, delivered = escalation_counts(url)
    return f"SIGKILL {kill_after:.2f} s into the run: {claimed} claimed, {delivered} delivered so far"


def escalation_counts(url: str) -> tuple[int, int]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection:
        row = connection.execute(sa.text(
            "SELECT count(*), count(delivered_at) FROM escalations"
        )).one()
    engine.dispose()
    return int(row[0]), int(row[1])


# --- races -----------------------------------------------------------------------------------------

def race(base: str, tokens: dict[str, str], cases: int, racers: int) -> list[Counter]:
    """`racers` clients hand over the same step of each case at once: one may win."""
    desk = requests.Session()
    desk.headers["Authorization"] = f"Bearer {tokens['desk0']}"
    results = []
    for n in range(cases):
        made = desk.post(f"{base}/api/v1/cases", timeout=10, json={
            "procedure_code": "HT-XNHN", "applicant": {**APPLICANT, "name": f"Cuộc đua {n}"},
            "documents": DOCUMENTS,
        })
        made.raise_for_status()
        code, version = made.json()["receipt_code"], made.json()["version"]
        barrier = threading.Barrier(racers)
        outcome: Counter = Counter()
        lock = threading.Lock()

        def one(barrier=barrier, code=code, version=version, lock=lock, outcome=outcome) -> None:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {tokens['desk0']}"
            barrier.wait()
            try:
                status = session.post(f"{base}/api/v1/cases/{code}/handover", timeout=20, json={
                    "to_officer": "civ", "to_step": 2, "expected_version": version,
                }).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            with lock:
                outcome[status] += 1

        threads = [threading.Thread(target=one) for _ in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results.append(outcome)
    return results


# --- checks ----------------------------------------------------------------------------------------

def check(url: str, tally: Tally) -> dict[str, Any]:
    from sqlalchemy.orm import Session

    from onestop.audit import verify_chains
    from onestop.db import make_engine

    engine = make_engine(url)
    found: dict[str, Any] = {}
    with engine.connect() as connection:
        codes = set(connection.scalars(sa.text("SELECT receipt_code FROM cases")))
        found["lost_receipts"] = sorted(set(tally.acknowledged_receipts) - codes)
        handed = set(connection.scalars(sa.text(
            "SELECT c.receipt_code FROM cases c JOIN case_events e ON e.case_id = c.id "
            "WHERE e.kind = 'handed_over'"
        )))
        found["lost_handovers"] = sorted(set(tally.acknowledged_handovers) - handed)
        found["duplicated_cases"] = connection.execute(sa.text(
            "SELECT applicant_name, count(*) FROM cases GROUP BY applicant_name HAVING count(*) > 1"
        )).all()
        found["unacknowledged_but_stored"] = connection.scalar(sa.text(
            "SELECT count(*) FROM cases WHERE applicant_name LIKE 'Khách %'"
        )) - len(tally.acknowledged_receipts)
        statuses = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
        found["open_cases_without_exactly_one_open_step"] = connection.execute(sa.text(
            f"SELECT c.receipt_code, count(a.id) FROM cases c LEFT JOIN step_assignments a "
            f"ON a.case_id = c.id AND a.ended_at IS NULL WHERE c.status IN ({statuses}) "
            f"GROUP BY c.receipt_code HAVING count(a.id) <> 1"
        )).all()
        found["duplicated_escalations"] = connection.execute(sa.text(
            "SELECT case_id, step_key, level, count(*) FROM escalations "
            "GROUP BY case_id, step_key, level HAVING count(*) > 1"
        )).all()
        found["duplicated_notifications"] = connection.execute(sa.text(
            "SELECT key, count(*) FROM notifications GROUP BY key HAVING count(*) > 1"
        )).all()
        found["duplicated_emails"] = connection.execute(sa.text(
            "SELECT message_id, count(*) FROM outbox_messages GROUP BY message_id HAVING count(*) > 1"
        )).all()
        found["escalations"] = connection.scalar(sa.text("SELECT count(*) FROM escalations"))
        found["undelivered_escalations"] = connection.scalar(sa.text(
            "SELECT count(*) FROM escalations WHERE delivered_at IS NULL"
        ))
        found["notifications"] = connection.scalar(sa.text("SELECT count(*) FROM notifications"))
        found["emails_queued"] = connection.scalar(sa.text("SELECT count(*) FROM outbox_messages"))
        with Session(bind=connection) as session:
            checked, broken = verify_chains(session)
        found["events_checked"] = checked
        found["broken_links"] = [str(link) for link in broken]
    engine.dispose()
    for key in ("duplicated_cases", "open_cases_without_exactly_one_open_step", "duplicated_escalations",
                "duplicated_notifications", "duplicated_emails"):
        found[key] = [list(map(str, row)) for row in found[key]]
    return found


def restart_postgres() -> str:
    versions = sorted(os.listdir("/etc/postgresql"))
    if not versions or shutil.which("pg_ctlcluster") is None:
        return "skipped: no pg_ctlcluster"
    started = time.monotonic()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"],
                   check=True, capture_output=True, timeout=120)
    return f"restarted in {time.monotonic() - started:.1f} s"


# --- main --------------------------------------------------------------------------------------------

def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the CI variant: short, no PostgreSQL restart")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--overdue", type=int, default=None, help="overdue cases for the escalation")
    parser.add_argument("--races", type=int, default=None)
    parser.add_argument("--racers", type=int, default=8)
    parser.add_argument("--no-restart-postgres", action="store_true")
    parser.add_argument("--json", default=None, help="write the summary here")
    args = parser.parse_args(argv)
    seconds = args.seconds or (8 if args.quick else 30)
    clients = args.clients or (2 if args.quick else 4)
    overdue = args.overdue if args.overdue is not None else (60 if args.quick else 300)
    races = args.races or (2 if args.quick else 5)
    restart = not (args.quick or args.no_restart_postgres)

    base_url = os.environ.get("ONESTOP_FAULTS_POSTGRES_URL", DEFAULT_URL)
    schema, url = create_schema(base_url)
    instance = Path(tempfile.mkdtemp(prefix="onestop-faults-"))
    server: subprocess.Popen | None = None
    summary: dict[str, Any] = {"seconds": seconds, "clients": clients, "workers": args.workers,
                               "faults": []}
    try:
        started = time.monotonic()
        tokens = seed(url, clients, overdue)
        summary["seed_seconds"] = round(time.monotonic() - started, 1)
        port = free_port()
        server = start_gunicorn(url, port, args.workers, instance)
        base = f"http://127.0.0.1:{port}"
        tally = Tally()
        stop = threading.Event()
        threads = [
            threading.Thread(target=client_loop, args=(base, tokens[f"desk{n + 1}"], stop, tally, str(n)))
            for n in range(clients)
        ]
        load_started = time.monotonic()
        for thread in threads:
            thread.start()
        now = office_hours_now()

        def at(fraction: float) -> None:
            time.sleep(max(0.0, load_started + seconds * fraction - time.monotonic()))

        def escalation_kills() -> None:
            for kill_after in (0.5, 1.0, 2.0):
                summary["faults"].append(f"escalation run: {run_escalation_process(url, now, kill_after)}")

        at(0.1)
        killer = threading.Thread(target=escalation_kills)
        killer.start()
        at(0.35)
        workers = worker_pids(server.pid)
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            summary["faults"].append(f"SIGKILL gunicorn worker {workers[0]} of {len(workers)}")
        at(0.6)
        if restart:
            summary["faults"].append(f"PostgreSQL {restart_postgres()}")
        at(1.0)
        killer.join(timeout=120)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        load_seconds = time.monotonic() - load_started
        for attempt in range(2):
            summary["faults"].append(
                f"escalation run to the end ({attempt + 1}): {run_escalation_process(url, now, None)}"
            )
        summary["races"] = [dict(outcome) for outcome in race(base, tokens, races, args.racers)]
        summary["requests"] = {f"{kind} {status}": n for (kind, status), n in sorted(tally.statuses.items(), key=str)}
        summary["transport_errors"] = dict(tally.transport_errors)
        summary["acknowledged"] = {"receipts": len(tally.acknowledged_receipts),
                                   "handovers": len(tally.acknowledged_handovers)}
        summary["load_seconds"] = round(load_seconds, 1)
        summary["acknowledged_per_second"] = round(
            (len(tally.acknowledged_receipts) + len(tally.acknowledged_handovers)) / load_seconds, 1
        )
        summary["checks"] = check(url, tally)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        try:
            drop_schema(base_url, schema)
        except Exception as exc:  # the summary matters more than the clean-up
            print(f"could not drop schema {schema}: {exc}", file=sys.stderr)
        shutil.rmtree(instance, ignore_errors=True)

    checks = summary["checks"]
    races_ok = all(
        outcome.get(200, 0) == 1 and outcome.get(409, 0) == args.racers - 1 for outcome in summary["races"]
    )
    bad = {
        "lost": len(checks["lost_receipts"]) + len(checks["lost_handovers"]),
        "duplicated": sum(len(checks[k]) for k in (
            "duplicated_cases", "duplicated_escalations", "duplicated_notifications", "duplicated_emails")),
        "half_written": len(checks["open_cases_without_exactly_one_open_step"]),
        "broken_links": len(checks["broken_links"]),
        "races_not_one_winner": 0 if races_ok else 1,
    }
    summary["verdict"] = bad
    text = json.dumps(summary, indent=1, ensure_ascii=False, default=str)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", "utf-8")
    return 1 if any(bad.values()) else 0


if __name__ == "__main__":
    sys.exit(run())
