"""Demonstration: onestop beyond one process, on this machine (docs/deploy.md).

Starts three gunicorn instances of the app and two flow processes on one PostgreSQL database
(created here and dropped afterwards) and one Redis, then:

1. sessions: signs in on instance 1 and uses the cookie on instances 2 and 3;
2. rate limits: sends failed sign-ins for one user name to the three instances in turn, and
   expects the per-user limit (10 a minute) to be counted once, in Redis, across all of them;
3. load: concurrent API clients, each request to the next instance in turn, receive cases and
   hand them over; every tenth case is handed over by two clients at once through two
   instances, with the same expected version, and exactly one of them must win;
4. meanwhile both flow processes run the escalation and deadline flows over and over, on the
   same database, at the same time;
5. checks, once everything has stopped: every case a client was told was created exists once
   and no other; each case's history holds exactly the events of the operations that
   succeeded, and every chain verifies; no escalation was claimed twice, and a last escalation
   pass finds nothing left to claim; no request failed with a 5xx.

    python -m bench cluster                      # 30 s of load, 12 clients
    python -m bench cluster -- --seconds 60 --clients 24

Needs PostgreSQL (ONESTOP_BENCH_POSTGRES_URL, default the local server) and Redis at
127.0.0.1:6379. Exit status 0 when every check holds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
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
from pathlib import Path
from urllib.parse import urlencode

from bench.seed import load, machine, postgres_database

ROOT = Path(__file__).resolve().parents[1]
REDIS_URI = os.environ.get("ONESTOP_BENCH_REDIS_URI", "redis://127.0.0.1:6379/15")
PASSWORD = "cluster-demo-password"
APPLICANT = {"name": "Trần Thị Lan", "phone": "0912345678", "address": "Số 3, thôn Đông"}
USERNAME_LIMIT = 10  # onestop.web.auth.LOGIN_LIMIT_PER_USERNAME: failed sign-ins a minute


def onestop_app():
    """The real app; the API's per-token budget raised so that the load itself is not refused
    (the sign-in limits stay as shipped: step 2 checks them). Its limiter keys carry a prefix
    of this run, so that other users of the same Redis are left alone."""
    from onestop.web import create_app

    return create_app({
        "API_RATE_LIMIT": "1000000/minute",
        "RATELIMIT_KEY_PREFIX": os.environ["ONESTOP_CLUSTER_RUN"],
    })


# --- the world --------------------------------------------------------------------------------

@dataclass
class Client:
    token: str
    desk: str
    receivers: list[str]


def _world(url: str, communes: int, cases: int, clients: int) -> tuple[list[Client], str]:
    """A synthetic province ending now (so that the flows find work), a password for one
    officer, and API tokens for desk officers."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from onestop.db import make_engine
    from onestop.models import Officer, OfficerRole, Unit
    from onestop.passwords import hash_password
    from onestop.synthetic import seed_synthetic
    from onestop.tokens import create_token

    engine = make_engine(url)
    out = []
    with Session(engine) as session:
        seed_synthetic(session, cases=cases, communes=communes, months=2, seed=11)
        holders: dict[tuple[int, str], list[str]] = {}
        for username, role, parent in session.execute(
            select(Officer.username, OfficerRole.role, Unit.parent_id)
            .join(OfficerRole.officer).join(OfficerRole.unit)
            .where(OfficerRole.role.in_(("desk", "civil_status_officer")))
            .order_by(Officer.username)
        ):
            holders.setdefault((parent, role), []).append(username)
        desks = [(parent, name) for (parent, role), names in holders.items() if role == "desk"
                 for name in names]
        for n in range(clients):
            parent, desk = desks[n % len(desks)]
            token = create_token(session, desk, "cluster demonstration")[1]
            out.append(Client(token, desk, holders[(parent, "civil_status_officer")]))
        signer = session.scalar(select(Officer).where(Officer.username == out[0].desk))
        signer.password_hash = hash_password(PASSWORD)
        session.commit()
    engine.dispose()
    return out, out[0].desk


# --- processes --------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Instance:
    def __init__(self, number: int, url: str, env: dict, folder: Path, workers: int) -> None:
        self.number, self.port = number, _free_port()
        self.log = open(folder / f"instance{number}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--worker-class", "gthread", "--threads", "4",
             "bench.cluster:onestop_app()"],
            env={**env, "ONESTOP_DATABASE_URL": url, "ONESTOP_INSTANCE": str(folder / f"i{number}")},
            stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"instance {self.number} exited; see {self.log.name}")
            try:
                status, _, _ = request(self.port, "GET", "/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"instance {self.number} did not come up")

    def stop(self) -> None:
        _terminate(self.process)
        self.log.close()


FLOW_LOOP = """
import os, sys, time
from flows.common import run_once
url, stop = sys.argv[1], sys.argv[2]
runs = 0
while not os.path.exists(stop):
    for name in ("escalation", "deadlines"):
        run_once(name, database_url=url)
    runs += 1
print(f"flow process {os.getpid()}: {runs} rounds", flush=True)
"""


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def request(port: int, method: str, path: str, body: dict | None = None,
            headers: dict | None = None, form: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(), response
    finally:
        connection.close()


# --- the checks on the running instances ------------------------------------------------------

def _cookie(response) -> str:
    jar = {}
    for header, value in response.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            jar[name] = rest.split(";", 1)[0]
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def check_sessions(instances: list[Instance], username: str) -> tuple[bool, str]:
    first = instances[0].port
    status, page, response = request(first, "GET", "/login")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    if status != 200 or token is None:
        return False, f"sign-in page answered {status}"
    cookie = _cookie(response)
    status, _, response = request(
        first, "POST", "/login", headers={"Cookie": cookie},
        form={"csrf_token": token.group(1).decode(), "username": username, "password": PASSWORD},
    )
    if status != 303:
        return False, f"sign-in on instance 1 answered {status}"
    cookie = _cookie(response) or cookie
    answers = [request(i.port, "GET", "/queue", headers={"Cookie": cookie})[0] for i in instances]
    ok = all(a == 200 for a in answers)
    return ok, f"signed in on instance 1; the queue page on instances 1-3 answered {answers}"


def check_rate_limit(instances: list[Instance]) -> tuple[bool, str]:
    victim = f"nobody-{uuid.uuid4().hex[:6]}"
    answers = []
    for n in range(USERNAME_LIMIT + 2):
        port = instances[n % len(instances)].port
        _, page, response = request(port, "GET", "/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        answers.append(request(
            port, "POST", "/login", headers={"Cookie": _cookie(response)},
            form={"csrf_token": token, "username": victim, "password": "wrong-password"},
        )[0])
    ok = answers[:USERNAME_LIMIT] == [401] * USERNAME_LIMIT and set(answers[USERNAME_LIMIT:]) == {429}
    return ok, (f"{len(answers)} failed sign-ins for one name, spread over the instances: "
                f"{Counter(answers)} (the limit is {USERNAME_LIMIT} a minute, counted once)")


@dataclass
class Ledger:
    """What the clients were told: the cases created and the operations that succeeded."""

    created: list[str] = field(default_factory=list)
    succeeded: Counter = field(default_factory=Counter)  # receipt code -> successful operations
    statuses: Counter = field(default_factory=Counter)
    races: list[tuple[int, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, op: str, status: int, code: str | None = None) -> None:
        with self.lock:
            self.statuses[(op, status)] += 1
            if code and 200 <= status < 300:
                self.succeeded[code] += 1
                if op == "receive":
                    self.created.append(code)


def drive(instances: list[Instance], clients: list[Client], seconds: float) -> Ledger:
    ledger = Ledger()
    stop_at = time.monotonic() + seconds
    turn = iter(range(10**9))
    turn_lock = threading.Lock()

    def next_port() -> int:
        with turn_lock:
            return instances[next(turn) % len(instances)].port

    def race(code: str, version: int, client: Client) -> None:
        """Two hand-overs of one case, through two instances, with the same version."""
        answers: list[int] = []
        barrier = threading.Barrier(2)

        def one(port: int, receiver: str) -> None:
            barrier.wait()
            status, _, _ = request(
                port, "POST", f"/api/v1/cases/{code}/handover",
                {"to_officer": receiver, "expected_version": version},
                {"Authorization": f"Bearer {client.token}"},
            )
            ledger.note("race", status, code)
            answers.append(status)

        pair = [threading.Thread(target=one, args=(next_port(), r))
                for r in (client.receivers * 2)[:2]]
        for t in pair:
            t.start()
        for t in pair:
            t.join()
        with ledger.lock:
            ledger.races.append(tuple(sorted(answers)))

    def work(client: Client) -> None:
        auth = {"Authorization": f"Bearer {client.token}"}
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            status, payload, _ = request(next_port(), "POST", "/api/v1/cases", {
                "procedure_code": "HT-XNHN", "applicant": APPLICANT, "channel": "in_person",
                "documents": [{"name": "Tờ khai", "form": "original", "count": 1}],
            }, auth)
            code = json.loads(payload)["receipt_code"] if status == 201 else None
            ledger.note("receive", status, code)
            if code is None:
                continue
            if n % 10 == 0:
                race(code, json.loads(payload)["version"], client)
                continue
            status, _, _ = request(
                next_port(), "POST", f"/api/v1/cases/{code}/handover",
                {"to_officer": client.receivers[n % len(client.receivers)]}, auth,
            )
            ledger.note("handover", status, code)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ledger


def check_database(url: str, ledger: Ledger, seeded: int) -> list[tuple[bool, str]]:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from onestop.audit import verify_chains
    from onestop.db import make_engine, make_session_factory
    from onestop.escalation import claim_escalations

    engine = make_engine(url)
    results = []
    with engine.connect() as c:
        codes = set(ledger.created)
        rows = c.execute(sa.text("SELECT receipt_code FROM cases WHERE id > :n"), {"n": seeded}).scalars().all()
        extra, lost = set(rows) - codes, codes - set(rows)
        same = not extra and not lost and len(rows) == len(codes) == len(ledger.created)
        results.append((same, (
            f"cases: {len(ledger.created)} created by the clients, {len(rows)} in the database; "
            f"lost {len(lost)}, unexpected {len(extra)}, duplicated {len(ledger.created) - len(codes)}"
        )))
        counts = dict(c.execute(sa.text(
            "SELECT c.receipt_code, count(e.id) FROM cases c JOIN case_events e ON e.case_id = c.id "
            "WHERE c.id > :n AND e.kind IN ('received', 'handed_over') GROUP BY c.receipt_code"
        ), {"n": seeded}).all())
        wrong = [k for k in codes if counts.get(k, 0) != ledger.succeeded[k]]
        results.append((not wrong, (
            f"events: {sum(counts.values())} recorded for the {sum(ledger.succeeded.values())} "
            f"operations that succeeded; {len(wrong)} case(s) differ"
        )))
        twice = c.execute(sa.text(
            "SELECT count(*) FROM (SELECT case_id, step_key, level FROM escalations "
            "GROUP BY case_id, step_key, level HAVING count(*) > 1) d"
        )).scalar_one()
        fired = c.execute(sa.text("SELECT count(*) FROM escalations")).scalar_one()
    with Session(engine) as session:
        checked, broken = verify_chains(session)
    results.append((not broken, f"history: {checked} events checked, {len(broken)} broken link(s)"))
    _, claimed, _ = claim_escalations(make_session_factory(engine), _now())
    results.append((twice == 0 and not claimed, (
        f"escalations: {fired} claimed by the flow processes, {twice} claimed twice; "
        f"a last pass finds {len(claimed)} more"
    )))
    engine.dispose()
    return results


def _now():
    from onestop import clock

    return clock.now()


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--flow-processes", type=int, default=2)
    parser.add_argument("--communes", type=int, default=4)
    parser.add_argument("--seed-cases", type=int, default=3000)
    opts = parser.parse_args(argv)
    try:
        import redis

        redis.Redis.from_url(REDIS_URI, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - no Redis: nothing to demonstrate
        print(f"cluster: Redis at {REDIS_URI} does not answer ({exc}); not run")
        return 1
    print(f"{machine()}; {load()}")
    run_id = f"cluster-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ, "ONESTOP_SECRET_KEY": uuid.uuid4().hex, "ONESTOP_LANG": "en",
        "ONESTOP_RATELIMIT_STORAGE_URI": REDIS_URI, "ONESTOP_CLUSTER_RUN": run_id,
        "PYTHONUNBUFFERED": "1",
    }
    ok = True
    with postgres_database("onestop_bench_cluster") as url, \
            tempfile.TemporaryDirectory(prefix="onestop-cluster-") as tmp:
        folder = Path(tmp)
        clients, signer = _world(url, opts.communes, opts.seed_cases, opts.clients)
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        with engine.connect() as c:
            seeded = c.execute(sa.text("SELECT coalesce(max(id), 0) FROM cases")).scalar_one()
        engine.dispose()
        instances = [Instance(n, url, env, folder, opts.workers) for n in range(1, opts.instances + 1)]
        stop_file = folder / "stop"
        flows = [
            subprocess.Popen([sys.executable, "-c", FLOW_LOOP, url, str(stop_file)], cwd=ROOT,
                             env={**env, "ONESTOP_DATABASE_URL": url},
                             stdout=open(folder / f"flow{n}.log", "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
            for n in range(opts.flow_processes)
        ]
        try:
            for instance in instances:
                instance.wait_ready()
            print(f"{len(instances)} instances (gunicorn, {opts.workers} workers each), "
                  f"{len(flows)} flow processes, PostgreSQL {url.rsplit('/', 1)[-1]}, Redis {REDIS_URI}")
            for check in (check_sessions(instances, signer), check_rate_limit(instances)):
                ok &= check[0]
                print(f"{'OK ' if check[0] else 'BAD'} {check[1]}", flush=True)
            started = time.monotonic()
            ledger = drive(instances, clients, opts.seconds)
            elapsed = time.monotonic() - started
            stop_file.touch()
            for process in flows:
                process.wait(300)
            requests = sum(ledger.statuses.values())
            errors = sum(n for (_, status), n in ledger.statuses.items() if status >= 500)
            by_status: Counter = Counter()
            for (_, status), n in ledger.statuses.items():
                by_status[status] += n
            races = Counter(ledger.races)
            print(f"load: {opts.clients} clients, {requests} requests in {elapsed:.0f} s "
                  f"({requests / elapsed:.0f}/s) over {len(instances)} instances; "
                  f"answers {dict(sorted(by_status.items()))}; "
                  f"{load()}")
            race_ok = all(pair == (200, 409) for pair in ledger.races)
            ok &= race_ok and errors == 0
            print(f"{'OK ' if race_ok else 'BAD'} races: {len(ledger.races)} cases handed over twice "
                  f"at once through two instances: {dict(races)} (one wins, one gets 409)")
            print(f"{'OK ' if errors == 0 else 'BAD'} {errors} request(s) answered 5xx")
            for log in sorted(folder.glob("flow*.log")):
                print("   " + (log.read_text().strip().splitlines() or ["(no output)"])[-1])
        finally:
            stop_file.touch()
            for process in flows:
                _terminate(process)
            for instance in instances:
                instance.stop()
        for passed, line in check_database(url, ledger, seeded):
            ok &= passed
            print(f"{'OK ' if passed else 'BAD'} {line}", flush=True)
    print(f"cluster: {'every check holds' if ok else 'A CHECK FAILED'}")
    return 0 if ok else 1
