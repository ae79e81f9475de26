"""EXPLAIN (ANALYZE, BUFFERS) of the hot queries, on a PostgreSQL database with a synthetic
province in it (`onestop seed --synthetic --cases 1000000`). Not a timed benchmark: the plans
and their timings go into docs/queries.md, before and after an index change.

    python -m bench.queries postgresql+psycopg://postgres@127.0.0.1:5432/onestop_province1m
    python -m bench.queries postgresql+psycopg://...  --history    # the history's growth figures

Each query is the SQL the application issues (or its core, where the application adds
columns), with parameters picked from the data so that they hit typical rows: the officer and
the unit with the most open steps, a case in the middle of the table, the busiest commune's
last month.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import sqlalchemy as sa

OPEN = "('received', 'in_progress', 'awaiting_supplement', 'awaiting_payment')"

QUERIES = {
    "owner queue (open steps of an officer, least time left first)": """
        SELECT id, case_id, step_position, due_at FROM step_assignments
        WHERE ended_at IS NULL AND owner_id = :owner ORDER BY due_at LIMIT 200""",
    "unit queue (open steps held in a unit, for its head)": """
        SELECT id, case_id, owner_id, due_at FROM step_assignments
        WHERE ended_at IS NULL AND unit_id = ANY(:units) ORDER BY due_at LIMIT 200""",
    "case look-up by receipt code": """
        SELECT id, status, due_at FROM cases WHERE receipt_code = :code""",
    "escalation candidates: open cases due within the horizon": f"""
        SELECT id, unit_id, due_at FROM cases
        WHERE status IN {OPEN} AND due_at <= :horizon ORDER BY due_at""",
    "escalation candidates: open steps due within the horizon": f"""
        SELECT s.id, s.case_id, s.due_at, c.status FROM step_assignments s
        JOIN cases c ON c.id = s.case_id
        WHERE s.ended_at IS NULL AND s.due_at <= :horizon AND c.status IN {OPEN}""",
    "overdue open cases of a commune (API ?overdue=1&unit=)": """
        SELECT id, receipt_code, due_at FROM cases
        WHERE status IN ('received', 'in_progress') AND due_at < :now AND unit_id = ANY(:units)
        ORDER BY id LIMIT 50""",
    "case book: a commune's cases received in a month": """
        SELECT id, receipt_code, received_at FROM cases
        WHERE unit_id = ANY(:units) AND received_at >= :low AND received_at < :high
        ORDER BY received_at, id""",
    "period report: a commune's cases ended in a month": """
        SELECT status, count(*) FROM cases
        WHERE unit_id = ANY(:units) AND ended_at >= :low AND ended_at < :high GROUP BY status""",
    "a case's history": """
        SELECT seq, kind, at, hash FROM case_events WHERE case_id = :case_id ORDER BY seq""",
    "re-projection scan: the next batch of open cases": f"""
        SELECT id, procedure_id, received_at, due_at FROM cases
        WHERE status IN {OPEN} AND received_at IS NOT NULL AND id > :after ORDER BY id LIMIT 20000""",
    "a day's history events (audit by period)": """
        SELECT count(*) FROM case_events WHERE at >= :low AND at < :low + interval '1 day'""",
}


def parameters(connection) -> dict:
    def q(sql: str):
        return connection.execute(sa.text(sql)).one()

    owner, = q("SELECT owner_id FROM step_assignments WHERE ended_at IS NULL "
               "GROUP BY owner_id ORDER BY count(*) DESC LIMIT 1")
    unit, = q("SELECT unit_id FROM step_assignments WHERE ended_at IS NULL "
              "GROUP BY unit_id ORDER BY count(*) DESC LIMIT 1")
    commune, = q("SELECT unit_id FROM cases GROUP BY unit_id ORDER BY count(*) DESC LIMIT 1")
    below = [r[0] for r in connection.execute(
        sa.text("SELECT id FROM units WHERE id = :c OR parent_id = :c"), {"c": commune}
    )]
    middle, code = q("SELECT id, receipt_code FROM cases ORDER BY id OFFSET "
                     "(SELECT count(*) / 2 FROM cases) LIMIT 1")
    last, = q("SELECT max(received_at) FROM cases")
    first_open, = q(f"SELECT coalesce(min(id), 0) FROM cases WHERE status IN {OPEN}")
    return {
        "owner": owner, "units": [unit], "code": code, "case_id": middle,
        "horizon": last + timedelta(days=3), "now": last,
        "low": last - timedelta(days=30), "high": last,
        "after": first_open + 1000,
        "_communes": below,
    }


def explain(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        params = parameters(connection)
        communes = params.pop("_communes")
        print(f"-- {url.rsplit('/', 1)[-1]} at {datetime.now():%Y-%m-%d %H:%M}; "
              f"parameters {params}")
        for title, sql in QUERIES.items():
            values = dict(params)
            if "commune" in title or "case book" in title or "report" in title:
                values["units"] = communes
            rows = connection.execute(
                sa.text("EXPLAIN (ANALYZE, BUFFERS, COSTS) " + sql), values
            ).scalars().all()
            print(f"\n### {title}\n```sql{sql}\n```\n```")
            print("\n".join(rows))
            print("```")
    engine.dispose()


def history_growth(url: str, lookups: int = 2000, inserts: int = 20_000) -> None:
    """How the history behaves at this database's size: its size on disk, the time to read one
    case's history (a round trip each, random cases), and the time to append events (one per
    recent case, every trigger firing, in a transaction rolled back afterwards)."""
    import random
    import time

    engine = sa.create_engine(url)
    with engine.connect() as c:
        events = c.execute(sa.text("SELECT count(*) FROM case_events")).scalar_one()
        sizes = dict(c.execute(sa.text(
            "SELECT relname, pg_relation_size(oid) FROM pg_class WHERE relname IN "
            "('case_events', 'case_events_pkey', 'case_events_case_id_seq_key', 'ix_case_events_at')"
        )).all())
        low, high = c.execute(sa.text("SELECT min(id), max(id) FROM cases")).one()
        rng = random.Random(1)
        ids = [rng.randint(low, high) for _ in range(lookups)]
        statement = sa.text("SELECT seq, kind, at, hash FROM case_events WHERE case_id = :id ORDER BY seq")
        for case_id in ids[:200]:  # warm the connection and the plan
            c.execute(statement, {"id": case_id}).all()
        started = time.perf_counter()
        for case_id in ids:
            c.execute(statement, {"id": case_id}).all()
        lookup = (time.perf_counter() - started) / len(ids)
        # New events go to recent cases: the last 100,000 received.
        recent = max(low, high - 100_000)
        sample = sorted(rng.sample(range(recent, high + 1), min(inserts, high - recent + 1)))
        c.rollback()
        started = time.perf_counter()
        c.execute(sa.text(
            "INSERT INTO case_events (case_id, seq, kind, at, data, prev_hash, hash) "
            "SELECT id, last_event_seq + 1, 'bench', now(), '{}', last_event_hash, "
            "md5(id::text) || md5(id::text) FROM cases WHERE id = ANY(:ids)"
        ), {"ids": sample})
        append = (time.perf_counter() - started) / len(sample)
        c.rollback()
    engine.dispose()
    mb = {k: v / 2**20 for k, v in sizes.items()}
    print(f"{events:,} events: table {mb.get('case_events', 0):.0f} MB, indexes pkey "
          f"{mb.get('case_events_pkey', 0):.0f} MB, (case_id, seq) "
          f"{mb.get('case_events_case_id_seq_key', 0):.0f} MB, at {mb.get('ix_case_events_at', 0):.0f} MB; "
          f"a case's history {lookup * 1e3:.2f} ms (round trip, {lookups} random cases); "
          f"appending an event {append * 1e6:.0f} us ({len(sample):,} recent cases, one statement, "
          f"triggers on)")


if __name__ == "__main__":
    if "--history" in sys.argv:
        history_growth(sys.argv[1])
    else:
        explain(sys.argv[1])
