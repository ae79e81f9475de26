"""Benchmark: the REST API's receive and handover under gunicorn, beside a bare Flask insert.

For each backend (a fresh SQLite file, and a fresh PostgreSQL schema if the server answers):
migrate, seed a province with communes, desk officers, their tokens and civil status officers,
then start gunicorn (same settings for both apps) and drive it with concurrent clients, each on
its own keep-alive connection, for a bounded time:

- onestop: each client loops POST /api/v1/cases (receive) then POST /cases/{code}/handover to a
  civil status officer of its commune; every request is a real lifecycle operation (version
  claim, receipt counter, history event, commit).
- bare: a Flask app with one endpoint doing one INSERT into a scratch table and a commit, on the
  same database, engine settings and gunicorn settings.

A third app, the floor, does the least any receive must do, with no domain logic and no ORM
(token, rate limits, one transaction of five Core writes): how close any receive can get.

Reports throughput (requests per second, both operations counted), p50/p99 latency of each
operation, and the server's CPU time per request (gunicorn master and workers, from /proc), which
is what the throughput ratio comes down to when client and server share the cores. Targets:
onestop at least half the bare throughput; p99 under 100 ms at 50 clients. Timing is wall-clock
from the clients' side (time.perf_counter around each request).

The clients above run in a closed loop (each sends its next request as soon as the last one is
answered), so at saturation their latency is mostly queueing. A last run (`--paced`) offers a
steady load with the same 50 clients (open loop) and reports the latency a desk sees below
saturation.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

PG_URL = os.environ.get(
    "ONESTOP_BENCH_POSTGRES_URL",
    os.environ.get("ONESTOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
TARGET_RATIO = 0.5
TARGET_P99_MS = 100.0
APPLICANT = {
    "name": "Nguyễn Thị Hoa", "id_number": "001190012345", "phone": "0912345678",
    "address": "Số 5 ngõ 12, thôn Đông", "email": "hoa@example.vn",
}


# --- the two WSGI apps (gunicorn imports them through these factories) --------------------------

def onestop_app():
    """The real app, with a rate limit high enough not to refuse the benchmark's own load."""
    from onestop.web import create_app

    return create_app({
        "API_RATE_LIMIT": "1000000/minute", "API_AUTH_FAILURE_LIMIT": "1000000/minute",
        "LOOKUP_RATE_LIMIT": "1000000/minute",
    })


def bare_app():
    """One endpoint, one INSERT, one commit: the floor a Flask + SQLAlchemy request costs."""
    from flask import Flask, jsonify
    from sqlalchemy import text

    from onestop.db import make_engine

    engine = make_engine(os.environ["ONESTOP_DATABASE_URL"])
    app = Flask(__name__)

    @app.post("/insert")
    def insert():
        with engine.begin() as connection:
            new_id = connection.execute(
                text("INSERT INTO bench_scratch (payload) VALUES (:p) RETURNING id"), {"p": "x" * 64}
            ).scalar_one()
        return jsonify(id=new_id), 201

    @app.get("/healthz")
    def health():
        return jsonify(status="ok")

    return app


def floor_app():
    """For scale, the least a receive can cost in this stack: no domain logic and no ORM, only
    what any receive must do. The bearer token is looked up by its hash, the API's two rate
    limits are counted in the same store, the JSON body is parsed, and one transaction takes a
    receipt number and writes three rows (case, first step, history event) and one update with
    Core statements, before a JSON answer."""
    import hashlib

    from flask import Flask, jsonify, request
    from flask_limiter import Limiter
    from sqlalchemy import text

    from onestop.db import make_engine

    engine = make_engine(os.environ["ONESTOP_DATABASE_URL"])
    app = Flask(__name__)
    limiter = Limiter(
        key_func=lambda: request.headers.get("Authorization", "")[-24:], app=app,
        storage_uri=os.environ.get("ONESTOP_RATELIMIT_STORAGE_URI", "memory://"),
    )
    unlimited = "1000000/minute"

    @app.post("/floor")
    @limiter.limit(unlimited)
    @limiter.limit(unlimited, key_func=lambda: f"failures:{request.remote_addr}",
                   deduct_when=lambda response: response.status_code == 401)
    def floor():
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        payload = json.dumps(request.get_json(), ensure_ascii=False)
        with engine.begin() as connection:
            officer = connection.execute(text(
                "SELECT officer_id FROM api_tokens WHERE token_hash = :h AND revoked_at IS NULL"
            ), {"h": hashlib.sha256(token.encode()).hexdigest()}).scalar()
            if officer is None:
                return jsonify(error="token"), 401
            number = connection.execute(text(
                "INSERT INTO bench_counter (unit, last) VALUES (:u, 1) ON CONFLICT (unit) "
                "DO UPDATE SET last = bench_counter.last + 1 RETURNING last"
            ), {"u": officer}).scalar_one()
            ids = [connection.execute(text(
                "INSERT INTO bench_scratch (payload) VALUES (:p) RETURNING id"
            ), {"p": payload}).scalar_one() for _ in range(3)]
            connection.execute(text("UPDATE bench_scratch SET payload = :p WHERE id = :id"),
                               {"p": payload, "id": ids[0]})
        return jsonify(id=ids[0], number=number, body=json.loads(payload)), 201

    @app.get("/healthz")
    def health():
        return jsonify(status="ok")

    return app


# --- set-up -------------------------------------------------------------------------------------

@dataclass
class Client:
    token: str
    receiver: str


def _seed(url: str, communes: int, desks_per_commune: int) -> list[Client]:
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from onestop.admin import create_officer, create_unit
    from onestop.catalogue import bundled_catalogue, load_catalogue
    from onestop.db import make_engine
    from onestop.migrate import upgrade
    from onestop.tokens import create_token

    upgrade(url)
    engine = make_engine(url)
    clients = []
    with Session(engine) as session:
        create_unit(session, "HN", "Thành phố Hà Nội", kind="province")
        load_catalogue(session, bundled_catalogue())
        for c in range(1, communes + 1):
            code = f"XA{c:02d}"
            create_unit(session, code, f"UBND xã Số {c}", kind="commune", parent_code="HN")
            create_unit(session, f"{code}-MC", f"Bộ phận Một cửa xã Số {c}", kind="desk", parent_code=code)
            create_unit(session, f"{code}-TP", f"Tư pháp xã Số {c}", kind="department", parent_code=code)
            receivers = []
            for r in range(1, 3):
                name = f"civ{r}.{code.lower()}"
                create_officer(session, name, f"Cán bộ tư pháp {r}", unit_code=f"{code}-TP",
                               roles=["civil_status_officer"])
                receivers.append(name)
            for d in range(1, desks_per_commune + 1):
                desk = create_officer(session, f"mc{d}.{code.lower()}", f"Cán bộ một cửa {d}",
                                      unit_code=f"{code}-MC", roles=["desk"])
                clients.append(Client(create_token(session, desk, "bench")[1], receivers[d % 2]))
        session.commit()
    with engine.begin() as connection:
        id_type = "INTEGER PRIMARY KEY AUTOINCREMENT" if engine.dialect.name == "sqlite" else "SERIAL PRIMARY KEY"
        connection.execute(text(f"CREATE TABLE bench_scratch (id {id_type}, payload TEXT NOT NULL)"))
        connection.execute(text(
            "CREATE TABLE bench_counter (unit INTEGER PRIMARY KEY, last INTEGER NOT NULL)"
        ))
    engine.dispose()
    return clients


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn serving one of the factories above, on a free local port."""

    def __init__(self, factory: str, url: str, opts, folder: Path) -> None:
        self.port = _free_port()
        env = {
            **os.environ, "ONESTOP_DATABASE_URL": url, "ONESTOP_INSTANCE": str(folder),
            "ONESTOP_SECRET_KEY": uuid.uuid4().hex, "PYTHONUNBUFFERED": "1",
        }
        self.log = open(folder / f"gunicorn-{factory}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(opts.workers), "--worker-class", "gthread",
             "--threads", str(opts.threads), "--keep-alive", "30", "--backlog", "2048",
             f"bench.intake:{factory}()"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[1],
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log.name}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    connection.close()
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not come up in 60 s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the gunicorn master and its live workers."""
        tick = os.sysconf("SC_CLK_TCK")
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        total = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # a worker that exited meanwhile
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


# --- load ---------------------------------------------------------------------------------------

@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, op: str, seconds: float, ok: bool) -> None:
        with self.lock:
            if ok:
                self.latencies.setdefault(op, []).append(seconds)
            else:
                self.errors[op] = self.errors.get(op, 0) + 1


def _post(connection: http.client.HTTPConnection, path: str, body: dict, headers: dict):
    data = json.dumps(body).encode()
    started = time.perf_counter()
    connection.request("POST", path, body=data, headers={**headers, "Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    return response.status, payload, time.perf_counter() - started


def _drive(
    port: int, clients: list, seconds: float, work, pace: float | None = None
) -> tuple[Results, float]:
    """Each client thread runs `work(connection, client, results, measure)` until the deadline;
    a warm-up round per client comes first and is not measured. With `pace` (seconds), each
    client starts a round every `pace` seconds (an open loop: the offered load does not fall
    when the server slows down); a round that could not start on time is counted as late."""
    results = Results()
    start = threading.Barrier(len(clients) + 1)
    stop_at = [0.0]

    def run(client) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            work(connection, client, Results(), warmup=True)
            start.wait()
            due = time.perf_counter() + (random.uniform(0, pace) if pace else 0.0)
            while time.perf_counter() < stop_at[0]:
                if pace:
                    wait = due - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                    elif wait < -pace / 10:
                        results.add("late", 0.0, False)
                    due += pace
                work(connection, client, results, warmup=False)
        except Exception as exc:  # noqa: BLE001 (a dropped connection ends this client; counted)
            results.add("connection", 0.0, False)
            print(f"client stopped: {exc!r}", file=sys.stderr)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + 3600  # set for real once everyone is warm
    start.wait()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - began


def _onestop_work(connection, client: Client, results: Results, warmup: bool) -> None:
    auth = {"Authorization": f"Bearer {client.token}"}
    status, payload, took = _post(connection, "/api/v1/cases", {
        "procedure_code": "HT-XNHN", "applicant": APPLICANT, "channel": "in_person",
        "documents": [{"name": "Tờ khai", "form": "original", "count": 1}],
    }, auth)
    results.add("receive", took, status == 201)
    if status != 201:
        return
    code = json.loads(payload)["receipt_code"]
    status, _payload, took = _post(
        connection, f"/api/v1/cases/{code}/handover", {"to_officer": client.receiver}, auth
    )
    results.add("handover", took, status == 200)


def _floor_work(connection, client: Client, results: Results, warmup: bool) -> None:
    status, _payload, took = _post(connection, "/floor", {
        "procedure_code": "HT-XNHN", "applicant": APPLICANT, "channel": "in_person",
        "documents": [{"name": "Tờ khai", "form": "original", "count": 1}],
    }, {"Authorization": f"Bearer {client.token}"})
    results.add("floor", took, status == 201)


def _bare_work(connection, _client, results: Results, warmup: bool) -> None:
    status, _payload, took = _post(connection, "/insert", {}, {})
    results.add("insert", took, status == 201)


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] * 1000


def _report(label: str, results: Results, elapsed: float, cpu: float | None = None) -> float:
    total = sum(len(v) for v in results.latencies.values())
    rate = total / elapsed
    print(f"  {label}: {total} requests in {elapsed:.1f} s = {rate:.0f} req/s", end="")
    if cpu is not None and total:
        print(f", server CPU {cpu / total * 1000:.2f} ms/request", end="")
    print(f"; errors {results.errors}" if results.errors else "")
    for op, values in results.latencies.items():
        print(f"    {op:<9} n={len(values):<6} p50 {_percentile(values, 0.5):6.1f} ms   "
              f"p99 {_percentile(values, 0.99):6.1f} ms   mean {statistics.fmean(values) * 1000:6.1f} ms")
    return rate


def _run_backend(name: str, url: str, opts, folder: Path) -> bool:
    print(f"{name}: seeding {opts.communes} communes x {opts.desks} desk officers", flush=True)
    clients = _seed(url, opts.communes, opts.desks)
    drivers = [clients[i % len(clients)] for i in range(opts.clients)]
    def measured(factory: str, work, pace: float | None = None):
        server = Server(factory, url, opts, folder)
        try:
            before = server.cpu_seconds()
            results, elapsed = _drive(server.port, drivers, opts.seconds, work, pace)
            return results, elapsed, server.cpu_seconds() - before
        finally:
            server.stop()

    bare, bare_elapsed, bare_cpu = measured("bare_app", _bare_work)
    ours, ours_elapsed, our_cpu = measured("onestop_app", _onestop_work)
    print(f"{name}: {opts.clients} clients, {opts.seconds:g} s, gunicorn {opts.workers} workers "
          f"x {opts.threads} threads (gthread); load average {_load()}")
    bare_rate = _report("bare insert", bare, bare_elapsed, bare_cpu)
    our_rate = _report("onestop receive+handover", ours, ours_elapsed, our_cpu)
    ratio = our_rate / bare_rate if bare_rate else float("nan")
    if opts.floor:
        floor, floor_elapsed, floor_cpu = measured("floor_app", _floor_work)
        floor_rate = _report("floor (token, rate limits, 5 Core writes)", floor, floor_elapsed,
                             floor_cpu)
        print(f"{name}: the floor is {floor_rate / bare_rate:.2f}x the bare throughput: no "
              f"receive in this stack does better")
    p99 = max(_percentile(ours.latencies.get(op, []), 0.99) for op in ("receive", "handover"))
    met = ratio >= TARGET_RATIO and p99 < TARGET_P99_MS and not ours.errors
    print(f"{name}: onestop {ratio:.2f}x the bare throughput (target >= {TARGET_RATIO}), "
          f"worst p99 {p99:.0f} ms (target < {TARGET_P99_MS:g}): {'MET' if met else 'NOT MET'}",
          flush=True)
    if opts.paced:
        # The same clients at a steady offered load, for the latency a desk sees below saturation.
        pace = 2 * opts.clients / opts.paced  # two requests a round
        paced, paced_elapsed, paced_cpu = measured("onestop_app", _onestop_work, pace)
        print(f"{name}: paced, {opts.clients} clients offering {opts.paced:g} req/s in all "
              f"(a receive and a handover every {pace:.1f} s each); load average {_load()}")
        _report("onestop receive+handover, paced", paced, paced_elapsed, paced_cpu)
    return met


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _postgres_schema() -> tuple[str, object] | None:
    import sqlalchemy as sa

    try:
        admin = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with admin.connect():
            pass
    except Exception as exc:  # noqa: BLE001 (unreachable server: that half is skipped)
        print(f"postgresql: skipped ({exc.__class__.__name__}: unreachable at {PG_URL})")
        return None
    schema = f"onestop_bench_{uuid.uuid4().hex[:10]}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}", (admin, schema)


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench intake", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time per app")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--communes", type=int, default=10)
    parser.add_argument("--desks", type=int, default=5, help="desk officers (tokens) per commune")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--floor", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure the floor app (a receive's least work, no ORM)")
    parser.add_argument("--paced", type=float, default=50.0, metavar="REQ_PER_S",
                        help="then offer this steady load with the same clients (0: skip)")
    opts = parser.parse_args(argv)

    if "ONESTOP_RATELIMIT_STORAGE_URI" not in os.environ and _redis_answers():
        # Several workers need one shared rate-limit store, as in production (README).
        os.environ["ONESTOP_RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:6379/15"
    print(f"rate-limit storage: {os.environ.get('ONESTOP_RATELIMIT_STORAGE_URI', 'memory:// (per worker)')}")
    folder = Path(tempfile.mkdtemp(prefix="onestop-bench-"))
    met = True
    try:
        if opts.backend in ("sqlite", "both"):
            met &= _run_backend("sqlite", f"sqlite:///{folder / 'bench.db'}", opts, folder)
        if opts.backend in ("postgresql", "both"):
            found = _postgres_schema()
            if found is not None:
                url, (admin, schema) = found
                try:
                    met &= _run_backend("postgresql", url, opts, folder)
                finally:
                    import sqlalchemy as sa

                    with admin.begin() as connection:
                        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                    admin.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if (opts.strict and not met) else 0
