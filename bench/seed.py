"""Benchmark: bulk-loading a synthetic province (`onestop seed --synthetic --cases N`).

Each load runs `onestop seed --synthetic` in a fresh subprocess against a fresh, migrated
database (a dedicated PostgreSQL database, created and dropped here, or a SQLite file), and
reports its wall time, its own peak RSS, and the rows it wrote per second. Growth: the time
per case at the largest size over the time per case at the smallest (1.0 is linear).

Reference, measured in the same run: the lifecycle path, i.e. the same kind of cases driven
one by one through the lifecycle operations (what `onestop seed --demo` does), timed on a few
hundred cases; the ratio says how much faster the bulk path writes the same history.

Target: 1M cases with their steps and history in under 3 minutes on PostgreSQL, with bounded
memory (peak RSS flat in N).

    python -m bench seed                                  # 100k and 1M on PostgreSQL, 100k on SQLite
    python -m bench seed -- --sizes 100000 --sqlite-sizes 20000
    python -m bench seed -- --row-checks                  # keep PostgreSQL's per-row triggers
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

TARGET_SECONDS = 180
TARGET_CASES = 1_000_000
ADMIN_URL = os.environ.get(
    "ONESTOP_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
AS_OF = "2026-11-20T10:00:00+07:00"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> str:
    return f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}"


@contextmanager
def postgres_database(prefix: str, keep: bool = False):
    """A fresh PostgreSQL database on the server of ADMIN_URL, migrated; dropped afterwards."""
    import sqlalchemy as sa

    from onestop.migrate import upgrade

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def sqlite_database():
    from onestop.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="onestop-bench-") as folder:
        url = f"sqlite:///{folder}/onestop.db"
        upgrade(url)
        yield url


def run_child(args: list[str], url: str) -> tuple[float, int, str]:
    """Run `python -m onestop.cli ARGS` against `url`: (wall seconds, peak RSS in MB, output)."""
    env = {**os.environ, "ONESTOP_DATABASE_URL": url, "ONESTOP_LANG": "en"}
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "onestop.cli", *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode:
        raise RuntimeError(f"onestop {' '.join(args)} failed ({child.returncode}):\n{output}")
    return seconds, usage.ru_maxrss // 1024, output


def rows_written(url: str) -> int:
    import sqlalchemy as sa

    from onestop.db import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        total = sum(
            connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("cases", "step_assignments", "pauses", "extensions", "case_events")
        )
    engine.dispose()
    return total


def lifecycle_reference(cases: int = 300) -> float:
    """Seconds per case through the lifecycle operations (the demo seeder), on SQLite."""
    from sqlalchemy.orm import Session

    from onestop.db import make_engine
    from onestop.demo import seed_demo

    with sqlite_database() as url:
        engine = make_engine(url)
        with Session(engine) as session:
            now = datetime(2026, 11, 20, 10, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
            started = time.perf_counter()
            seed_demo(session, seed=1, months=1, now=now, cases_per_month=0)
            world = time.perf_counter() - started
            session.rollback()
            started = time.perf_counter()
            seed_demo(session, seed=1, months=1, now=now, cases_per_month=cases)
            seconds = time.perf_counter() - started - world
            session.commit()
        engine.dispose()
    return seconds / cases


def seed_args(cases: int, opts) -> list[str]:
    args = ["seed", "--synthetic", "--cases", str(cases), "--communes", str(opts.communes),
            "--months", str(opts.months), "--seed", str(opts.seed), "--as-of", AS_OF]
    return args + (["--row-checks"] if opts.row_checks else [])


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench seed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000",
                        help="case counts on PostgreSQL, comma-separated ('' for none)")
    parser.add_argument("--sqlite-sizes", default="100000", help="case counts on SQLite")
    parser.add_argument("--communes", type=int, default=100)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--row-checks", action="store_true",
                        help="keep PostgreSQL's per-row triggers during the load")
    parser.add_argument("--reference-cases", type=int, default=300)
    parser.add_argument("--strict", action="store_true", help="exit 1 if the target is missed")
    opts = parser.parse_args(argv)
    sizes = {
        "postgresql": [int(s) for s in opts.sizes.split(",") if s],
        "sqlite": [int(s) for s in opts.sqlite_sizes.split(",") if s],
    }
    print(f"{machine()}; {load()}")
    reference = lifecycle_reference(opts.reference_cases)
    print(f"reference: lifecycle operations (demo seeder) {reference * 1e3:.1f} ms/case "
          f"({opts.reference_cases} cases, SQLite; {load()})")
    met = True
    for backend, counts in sizes.items():
        per_case = {}
        for cases in counts:
            database = postgres_database("onestop_bench_seed") if backend == "postgresql" else sqlite_database()
            with database as url:
                seconds, rss, output = run_child(seed_args(cases, opts), url)
                rows = rows_written(url)
            per_case[cases] = seconds / cases
            line = (f"seed {backend} {cases:>9,} cases: {seconds:7.1f} s, {rows:,} rows "
                    f"({rows / seconds:,.0f} rows/s), peak RSS {rss} MB, "
                    f"{reference / per_case[cases]:,.0f}x the lifecycle path; {load()}")
            if backend == "postgresql" and cases == TARGET_CASES:
                ok = seconds < TARGET_SECONDS
                met = met and ok
                line += f"; target < {TARGET_SECONDS} s: {'MET' if ok else 'NOT MET'}"
            print(line, flush=True)
            print("   " + output.strip().splitlines()[0], flush=True)
        if len(per_case) >= 2:
            small, large = min(per_case), max(per_case)
            print(f"seed {backend} growth: time per case at {large:,} / at {small:,} = "
                  f"{per_case[large] / per_case[small]:.2f} (1.00 = linear)")
    return 1 if (opts.strict and not met) else 0
