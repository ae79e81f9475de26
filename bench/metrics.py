"""Benchmark: the metrics flow's computation against one hand-written SQL aggregate.

Generates N cases straight into a fresh database (SQLAlchemy Core executemany on SQLite, COPY on
PostgreSQL; a realistic mix: most resolved, some late, withdrawn, stopped, refused, supplements,
a few long-stuck cases, open cases at the end), then times, each in a fresh subprocess whose own
peak RSS is reported:

- `domain`: `onestop.metrics.refresh_metrics(full=True)`, exactly what the metrics flow's task runs
  on its first run (both snapshot tables, every day since the first receipt);
- `hand`: hand-written SQL (below) producing the same two tables into scratch tables, checked
  row for row against the domain's;
- `incremental`: after 50 cases change through the lifecycle, the refresh a 15-minute run does.

Targets: domain within 1.5x of hand, peak memory under 300 MB.

    python -m bench metrics -- --cases 100000 --backend postgresql
    python -m bench metrics -- --cases 1000000 --backend postgresql
    python -m bench metrics -- --cases 100000 --backend sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

TARGET_RATIO = 1.5
TARGET_MB = 300
PG_URL = os.environ.get("ONESTOP_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
COMMUNES = 40


# --- generating cases -------------------------------------------------------------------------

def _world(session):
    """A province, COMMUNES communes with a desk and a processing department each, two
    officers per commune, and the bundled catalogue."""
    from onestop.admin import create_officer, create_unit
    from onestop.catalogue import bundled_catalogue, load_catalogue

    create_unit(session, "BENCH", "Tỉnh thử nghiệm", kind="province")
    communes = []
    for n in range(COMMUNES):
        code = f"XA{n:03d}"
        unit = create_unit(session, code, f"Xã thử nghiệm {n}", kind="commune", parent_code="BENCH")
        create_unit(session, f"{code}-MC", f"Một cửa xã {n}", kind="desk", parent_code=code)
        desk = create_officer(session, f"mc{n:03d}", f"Cán bộ một cửa {n}", unit_code=f"{code}-MC", roles=["desk"])
        worker = create_officer(session, f"cc{n:03d}", f"Công chức {n}", unit_code=code,
                                roles=["civil_status_officer", "justice_officer", "economic_officer",
                                       "police_officer", "police_chief", "construction_officer",
                                       "construction_head", "commune_vice_chair", "commune_chair",
                                       "land_officer", "land_registration_office",
                                       "province_land_department", "social_officer",
                                       "social_insurance_office"])
        communes.append((unit.id, desk.id, worker.id))
    load_catalogue(session, bundled_catalogue())
    session.flush()
    return communes


def generate(url: str, count: int, days: int, seed: int) -> dict[str, int]:
    """Write `count` cases received over the last `days` days; returns the row counts."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from onestop.calendar import WorkCalendar
    from onestop.db import make_engine
    from onestop.models import Case, Complaint, Pause, Procedure, Rating, StepAssignment

    rng = random.Random(seed)
    calendar = WorkCalendar.vietnam()
    engine = make_engine(url)
    with Session(engine) as session:
        communes = _world(session)
        procedures = [
            (p.id, p.code, p.duration_unit, p.duration_amount, p.same_day_cutoff,
             [(s.position, s.name, s.role, s.budget_hours) for s in p.steps])
            for p in session.scalars(select(Procedure))
        ]
        session.commit()
    now = datetime.now(UTC).replace(microsecond=0)
    zone = calendar.zone
    today = now.astimezone(zone).date()
    working = [today - timedelta(days=n) for n in range(days, 0, -1)]
    working = [d for d in working if calendar.is_working_day(d)]
    counts = dict.fromkeys(("cases", "step_assignments", "pauses", "ratings", "complaints"), 0)
    writer = _Writer(engine)
    ids = iter(range(1, 10**12))
    batch: dict[str, list] = {k: [] for k in counts}
    for n in range(count):
        case_id = next(ids)
        unit_id, desk_id, worker_id = communes[rng.randrange(COMMUNES)]
        pid, _code, unit, amount, cutoff, steps = procedures[rng.randrange(len(procedures))]
        day = working[rng.randrange(len(working))]
        received = datetime(day.year, day.month, day.day, 8, tzinfo=zone) + timedelta(
            minutes=rng.randrange(0, 525, 5))
        due = calendar.due_at(received, unit, amount, cutoff)
        budget = max(calendar.working_hours_between(received, due), 1.0)
        roll = rng.random()
        used = budget * (rng.uniform(0.1, 0.9) if roll < 0.8 else rng.uniform(0.9, 1.0) if roll < 0.9
                         else rng.uniform(1.0, 2.5))
        if rng.random() < 0.002:  # stuck for months
            used = budget * 200
        pauses = []
        if rng.random() < 0.09:
            requests = 2 if rng.random() < 0.15 else 1
            at = calendar.add_working_hours(received, used * 0.3)
            for _ in range(requests):
                length = rng.choice([4.0, 8.0, 16.0, 24.0])
                end = calendar.add_working_hours(at, length)
                pauses.append([at, end, length])
                at = calendar.add_working_hours(end, 2.0)
            for _start, _end, length in pauses:
                due = calendar.add_working_hours(due, length)
                used += length
        end = calendar.add_working_hours(received, used)
        fate = rng.random()
        status, ended, returned = "in_progress", None, None
        if end <= now:
            ended = end
            status = ("resolved" if fate < 0.94 else "withdrawn" if fate < 0.97
                      else "stopped" if fate < 0.985 else "refused")
            if status == "resolved" and end + timedelta(days=2) < now:
                status, returned = "returned", end + timedelta(days=1)
        open_pause = None
        for pause in pauses:
            if pause[1] > now:  # still waiting for the supplement
                if pause[0] <= now and ended is None:
                    open_pause = pause
                pause[1] = None
        if open_pause is not None:
            status = "awaiting_supplement"
        pauses = [p for p in pauses if p[0] <= now and (p[1] is not None or p is open_pause)]
        batch["cases"].append({
            "id": case_id, "receipt_code": f"B{case_id:09d}", "unit_id": unit_id, "procedure_id": pid,
            "applicant_name": "Người nộp thử nghiệm", "channel": rng.choice(("in_person", "in_person", "online", "post")),
            "documents": [], "status": status, "submitted_at": received, "received_at": received,
            "original_due_at": due, "due_at": due, "ended_at": ended, "returned_at": returned,
            "outcome": "approved" if status in ("resolved", "returned") else None, "imported": True,
            "last_event_seq": 0, "version_id": 1,
        })
        for start, stop, length in pauses:
            batch["pauses"].append({
                "case_id": case_id, "reason": "supplement", "started_at": start, "ended_at": stop,
                "requested_by_id": desk_id, "ended_by_id": desk_id if stop else None, "documents": [],
                "paused_working_hours": length if stop else None,
            })
        # Steps: the working time split by the step budgets; the return step after the end.
        total = sum(s[3] for s in steps[:-1]) or 1.0
        at, spent = received, 0.0
        horizon = min(end, now)
        for position, name, role, step_budget in steps[:-1]:
            spent += used * step_budget / total
            finish = calendar.add_working_hours(received, spent)
            owner = desk_id if role == "desk" else worker_id
            step_due = calendar.add_working_hours(calendar.next_opening(at), step_budget)
            closed = finish if finish <= horizon else None
            batch["step_assignments"].append(_step(case_id, position, name, role, step_budget, owner,
                                                   unit_id, at, step_due, closed, status, closed == end))
            if closed is None:
                break
            at = finish
        else:
            if status in ("resolved", "returned"):
                position, name, role, step_budget = steps[-1]
                step_due = calendar.add_working_hours(calendar.next_opening(end), step_budget)
                batch["step_assignments"].append(_step(case_id, position, name, role, step_budget, desk_id,
                                                       unit_id, end, step_due, returned, status, True))
        if status == "returned" and rng.random() < 0.25:
            batch["ratings"].append({"case_id": case_id, "source": "desk", "satisfied": rng.random() < 0.95,
                                     "recorded_at": returned, "recorded_by_id": desk_id})
        if ended is not None and rng.random() < 0.005:
            batch["complaints"].append({"case_id": case_id, "received_at": ended, "text": "Phản ánh thử nghiệm"})
        if len(batch["cases"]) >= 20_000 or n == count - 1:
            for name, model in (("cases", Case), ("pauses", Pause), ("step_assignments", StepAssignment),
                                ("ratings", Rating), ("complaints", Complaint)):
                writer.write(model.__table__, batch[name])
                counts[name] += len(batch[name])
                batch[name] = []
    writer.close()
    engine.dispose()
    return counts


def _step(case_id, position, name, role, budget, owner, unit_id, start, due, end, status, last):
    result = None
    kind = None
    if end is not None:
        kind = "handover" if not last else ("resolved" if status in ("resolved", "returned") else status)
        result = "early" if end < due else "on_time" if end == due else "late"
    return {
        "case_id": case_id, "step_position": position, "step_name": name, "step_role": role,
        "budget_hours": budget, "owner_id": owner, "unit_id": unit_id, "started_at": start,
        "step_started_at": start, "due_at": due, "ended_at": end, "end_kind": kind, "result": result,
    }


class _Writer:
    """COPY on PostgreSQL (through the psycopg connection), executemany elsewhere."""

    def __init__(self, engine):
        self.engine = engine
        self.connection = engine.raw_connection() if engine.dialect.name == "postgresql" else engine.connect()

    def write(self, table, rows):
        if not rows:
            return
        if self.engine.dialect.name != "postgresql":
            self.connection.execute(table.insert(), rows)
            self.connection.commit()
            return
        columns = list(rows[0])
        types = {c.name: c.type for c in table.columns}
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        with self.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([
                    json.dumps(row[c]) if types[c].__class__.__name__ == "JSON" else row[c]
                    for c in columns
                ])
        self.connection.commit()

    def close(self):
        if self.engine.dialect.name == "postgresql":
            with self.connection.cursor() as cursor:
                for table in ("cases", "pauses", "step_assignments", "ratings", "complaints"):
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
                for table in ("cases", "pauses", "step_assignments", "ratings", "complaints",
                              "procedures", "units", "officers"):
                    cursor.execute(f"ANALYZE {table}")  # this schema's, not the whole server
            self.connection.commit()
        else:
            from sqlalchemy import text

            self.connection.execute(text("ANALYZE"))
            self.connection.commit()
        self.connection.close()


# --- the hand-written aggregate ---------------------------------------------------------------

EPOCH = {
    "postgresql": "CAST(floor(EXTRACT(EPOCH FROM {x}) * 1000000) AS BIGINT)",
    "sqlite": "(CAST(strftime('%s', {x}) AS INTEGER) * 1000000 + CAST(substr({x}, 21, 6) AS INTEGER))",
}

HAND_CASES = """
INSERT INTO bench_case_days
WITH pstat AS (
  SELECT case_id, sum(CASE WHEN reason = 'supplement' THEN 1 ELSE 0 END) AS n_supp,
         sum(CAST(round(coalesce(paused_working_hours, 0) * 3600) AS BIGINT)) AS paused_s
  FROM pauses GROUP BY case_id),
supp2 AS (
  SELECT case_id, {e_started} AS at_us FROM (
    SELECT case_id, started_at, row_number() OVER (PARTITION BY case_id ORDER BY started_at, id) AS rn
    FROM pauses WHERE reason = 'supplement') ranked WHERE rn = 2),
unhappy AS (SELECT case_id FROM ratings WHERE NOT satisfied UNION SELECT case_id FROM complaints),
c0 AS MATERIALIZED (
  SELECT c.id, c.unit_id, c.procedure_id, c.channel, c.status,
         {e_rec} AS rec, {e_due} AS due, {e_fin} AS fin,
         CASE WHEN p.duration_unit = 'working_hours' THEN 1 ELSE 0 END AS hours,
         coalesce(ps.n_supp, 0) AS n_supp, coalesce(ps.paused_s, 0) AS paused_s,
         s2.at_us AS supp2, u.case_id IS NOT NULL AS unhappy
  FROM cases c JOIN procedures p ON p.id = c.procedure_id
  LEFT JOIN pstat ps ON ps.case_id = c.id LEFT JOIN supp2 s2 ON s2.case_id = c.id
  LEFT JOIN unhappy u ON u.case_id = c.id
  WHERE c.received_at IS NOT NULL),
c1 AS (
  SELECT c0.*, (rec + {off}) / {day} AS rec_dn, (due + {off}) / {day} AS due_dn, (fin + {off}) / {day} AS fin_dn
  FROM c0),
c AS MATERIALIZED (
  SELECT c1.*,
    r.cum * {wd} + CASE WHEN r.working = 1 THEN {ob_rec} ELSE 0 END AS pos_rec,
    d.cum * {wd} + CASE WHEN d.working = 1 THEN {ob_due} ELSE 0 END AS pos_due,
    f.cum * {wd} + CASE WHEN f.working = 1 THEN {ob_fin} ELSE 0 END AS pos_fin
  FROM c1 JOIN metric_calendar_days r ON r.dn = c1.rec_dn JOIN metric_calendar_days d ON d.dn = c1.due_dn
  LEFT JOIN metric_calendar_days f ON f.dn = c1.fin_dn),
verdicts AS (
  SELECT c.*, CASE WHEN n_supp > 1 THEN 'late'
    WHEN hours = 1 THEN CASE WHEN fin < due THEN 'early' WHEN fin = due THEN 'on_time' ELSE 'late' END
    ELSE CASE WHEN fin_dn < due_dn THEN 'early' WHEN fin_dn = due_dn THEN 'on_time' ELSE 'late' END END AS verdict,
    status IN ('resolved', 'returned') AS resolved
  FROM c WHERE fin IS NOT NULL),
days AS (
  SELECT dn, working, cum,
    CASE WHEN (dn + 1) * {day} - {off} - 1 < {now} THEN (dn + 1) * {day} - {off} - 1 ELSE {now} END AS t
  FROM metric_calendar_days WHERE dn BETWEEN {first} AND {last}),
pairs AS (
  SELECT c.*, days.dn, days.t,
    days.cum * {wd} + CASE WHEN days.working = 1 THEN {ob_t} ELSE 0 END AS pos_t,
    {e_pstart} AS paused_since
  FROM c {expand_c}
  LEFT JOIN pauses p ON p.case_id = c.id AND {e_pstart} <= days.t AND (p.ended_at IS NULL OR {e_pend} > days.t)),
states AS (
  SELECT pairs.*,
    (supp2 IS NOT NULL AND supp2 <= t)
    OR (paused_since IS NOT NULL AND CASE WHEN hours = 1 THEN paused_since > due
                                          ELSE (paused_since + {off}) / {day} > due_dn END)
    OR (paused_since IS NULL AND CASE WHEN hours = 1 THEN t > due ELSE dn > due_dn END) AS overdue
  FROM pairs),
parts AS (
  SELECT rec_dn AS dn, unit_id, procedure_id,
    sum(CASE WHEN channel = 'online' THEN 1 ELSE 0 END) AS ro, sum(CASE WHEN channel = 'in_person' THEN 1 ELSE 0 END) AS rp,
    sum(CASE WHEN channel = 'post' THEN 1 ELSE 0 END) AS rb,
    0 AS re, 0 AS rt, 0 AS rl, 0 AS wd, 0 AS st, 0 AS rf, 0 AS ow, 0 AS oo, 0 AS orisk, 0 AS op, 0 AS dis, 0 AS ws
  FROM c WHERE rec_dn BETWEEN {first} AND {last} GROUP BY rec_dn, unit_id, procedure_id
  UNION ALL
  SELECT fin_dn, unit_id, procedure_id, 0, 0, 0,
    sum(CASE WHEN resolved AND verdict = 'early' THEN 1 ELSE 0 END),
    sum(CASE WHEN resolved AND verdict = 'on_time' THEN 1 ELSE 0 END),
    sum(CASE WHEN resolved AND verdict = 'late' THEN 1 ELSE 0 END),
    sum(CASE WHEN status = 'withdrawn' THEN 1 ELSE 0 END), sum(CASE WHEN status = 'stopped' THEN 1 ELSE 0 END),
    sum(CASE WHEN status = 'refused' THEN 1 ELSE 0 END), 0, 0, 0, 0,
    sum(CASE WHEN resolved AND unhappy THEN 1 ELSE 0 END),
    sum(CASE WHEN resolved THEN (pos_fin - pos_rec) / 1000000 - paused_s ELSE 0 END)
  FROM verdicts WHERE fin_dn BETWEEN {first} AND {last} GROUP BY fin_dn, unit_id, procedure_id
  UNION ALL
  SELECT dn, unit_id, procedure_id, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    sum(CASE WHEN overdue THEN 0 ELSE 1 END), sum(CASE WHEN overdue THEN 1 ELSE 0 END),
    sum(CASE WHEN paused_since IS NULL AND NOT overdue AND pos_due > pos_rec
             AND (CASE WHEN t < due THEN pos_due - pos_t ELSE 0 END) < {share} * (pos_due - pos_rec)
        THEN 1 ELSE 0 END),
    sum(CASE WHEN paused_since IS NOT NULL THEN 1 ELSE 0 END), 0, 0
  FROM states GROUP BY dn, unit_id, procedure_id)
SELECT cal.day, unit_id, procedure_id, sum(ro), sum(rp), sum(rb), sum(re), sum(rt), sum(rl), sum(wd),
  sum(st), sum(rf), sum(ow), sum(oo), sum(orisk), sum(op), sum(dis), sum(ws)
FROM parts JOIN metric_calendar_days cal ON cal.dn = parts.dn
GROUP BY cal.day, unit_id, procedure_id
"""

HAND_STEPS = """
INSERT INTO bench_step_days
WITH supp2 AS (
  SELECT case_id, {e_started} AS at_us FROM (
    SELECT case_id, started_at, row_number() OVER (PARTITION BY case_id ORDER BY started_at, id) AS rn
    FROM pauses WHERE reason = 'supplement') ranked WHERE rn = 2),
a0 AS MATERIALIZED (
  SELECT a.unit_id, c.procedure_id, a.step_position, a.owner_id, a.result, a.budget_hours, a.case_id,
    {e_st} AS st, {e_sst} AS sst, {e_adue} AS adue, {e_afin} AS afin, {e_cdue} AS cdue, {e_cfin} AS cfin,
    CASE WHEN p.duration_unit = 'working_hours' THEN 1 ELSE 0 END AS hours, s2.at_us AS supp2
  FROM step_assignments a JOIN cases c ON c.id = a.case_id JOIN procedures p ON p.id = c.procedure_id
  LEFT JOIN supp2 s2 ON s2.case_id = c.id),
a1 AS (
  SELECT a0.*, (st + {off}) / {day} AS st_dn, (afin + {off}) / {day} AS afin_dn,
    (cdue + {off}) / {day} AS cdue_dn, (cfin + {off}) / {day} AS cfin_dn FROM a0),
a AS MATERIALIZED (
  SELECT a1.*,
    s.cum * {wd} + CASE WHEN s.working = 1 THEN {ob_sst} ELSE 0 END AS pos_sst,
    d.cum * {wd} + CASE WHEN d.working = 1 THEN {ob_adue} ELSE 0 END AS pos_adue,
    f.cum * {wd} + CASE WHEN f.working = 1 THEN {ob_afin} ELSE 0 END AS pos_afin
  FROM a1 JOIN metric_calendar_days s ON s.dn = (a1.sst + {off}) / {day}
  JOIN metric_calendar_days d ON d.dn = (a1.adue + {off}) / {day}
  LEFT JOIN metric_calendar_days f ON f.dn = a1.afin_dn),
days AS (
  SELECT dn, working, cum,
    CASE WHEN (dn + 1) * {day} - {off} - 1 < {now} THEN (dn + 1) * {day} - {off} - 1 ELSE {now} END AS t
  FROM metric_calendar_days WHERE dn BETWEEN {first} AND {last}),
pairs AS (
  SELECT a.*, days.dn, days.t,
    days.cum * {wd} + CASE WHEN days.working = 1 THEN {ob_t} ELSE 0 END AS pos_t,
    {e_pstart} AS paused_since
  FROM a {expand_a}
  LEFT JOIN pauses p ON p.case_id = a.case_id AND {e_pstart} <= days.t AND (p.ended_at IS NULL OR {e_pend} > days.t)),
states AS (
  SELECT pairs.*,
    CASE WHEN paused_since IS NOT NULL THEN paused_since > adue ELSE t > adue END AS late_step,
    (cfin IS NULL OR cfin_dn > dn) AND (
      (supp2 IS NOT NULL AND supp2 <= t)
      OR (paused_since IS NOT NULL AND CASE WHEN hours = 1 THEN paused_since > cdue
                                            ELSE (paused_since + {off}) / {day} > cdue_dn END)
      OR (paused_since IS NULL AND CASE WHEN hours = 1 THEN t > cdue ELSE dn > cdue_dn END)) AS late_case
  FROM pairs),
parts AS (
  SELECT afin_dn AS dn, unit_id, procedure_id, step_position, owner_id,
    sum(CASE WHEN result = 'early' THEN 1 ELSE 0 END) AS fe, sum(CASE WHEN result = 'on_time' THEN 1 ELSE 0 END) AS ft,
    sum(CASE WHEN result = 'late' THEN 1 ELSE 0 END) AS fl, 0 AS ow, 0 AS oo, 0 AS orisk, 0 AS op, 0 AS hc,
    sum((pos_afin - pos_sst) / 1000000) AS wk, sum(CAST(round(budget_hours * 3600) AS BIGINT)) AS bd,
    sum(CASE WHEN pos_afin > pos_adue THEN (pos_afin - pos_adue) / 1000000 ELSE 0 END) AS ov, 0 AS oov
  FROM a WHERE afin_dn BETWEEN {first} AND {last} AND result IS NOT NULL
  GROUP BY afin_dn, unit_id, procedure_id, step_position, owner_id
  UNION ALL
  SELECT dn, unit_id, procedure_id, step_position, owner_id, 0, 0, 0,
    sum(CASE WHEN late_step THEN 0 ELSE 1 END), sum(CASE WHEN late_step THEN 1 ELSE 0 END),
    sum(CASE WHEN paused_since IS NULL AND NOT late_step AND pos_adue > pos_sst
             AND (CASE WHEN t < adue THEN pos_adue - pos_t ELSE 0 END) < {share} * (pos_adue - pos_sst)
        THEN 1 ELSE 0 END),
    sum(CASE WHEN paused_since IS NOT NULL THEN 1 ELSE 0 END), sum(CASE WHEN late_case THEN 1 ELSE 0 END),
    0, 0, 0, sum(CASE WHEN paused_since IS NULL AND pos_t > pos_adue THEN (pos_t - pos_adue) / 1000000 ELSE 0 END)
  FROM states GROUP BY dn, unit_id, procedure_id, step_position, owner_id)
SELECT cal.day, unit_id, procedure_id, step_position, owner_id, sum(fe), sum(ft), sum(fl), sum(ow), sum(oo),
  sum(orisk), sum(op), sum(hc), sum(wk), sum(bd), sum(ov), sum(oov)
FROM parts JOIN metric_calendar_days cal ON cal.dn = parts.dn
GROUP BY cal.day, unit_id, procedure_id, step_position, owner_id
"""


def _hand_sql(dialect: str, clock, first: int, last: int, now_us: int, share: float) -> tuple[str, str]:
    from onestop.metrics import DAY_US

    def e(column: str) -> str:
        return EPOCH[dialect].format(x=column)

    def ob(us: str) -> str:
        tod = f"(({us} + {clock.offset_us}) % {DAY_US})"
        return " + ".join(
            f"(CASE WHEN {tod} <= {s} THEN 0 WHEN {tod} >= {t} THEN {t - s} ELSE {tod} - {s} END)"
            for s, t in clock.sessions
        )

    common = {"off": clock.offset_us, "day": DAY_US, "wd": clock.day_us, "first": first, "last": last,
              "now": now_us, "share": repr(share), "ob_t": ob("days.t"), "e_started": e("started_at"),
              "e_pstart": e("p.started_at"), "e_pend": e("p.ended_at")}
    def expand(alias: str, start: str, end: str) -> str:
        if dialect == "postgresql":
            return (f"CROSS JOIN LATERAL generate_series(greatest({alias}.{start}, {first}), "
                    f"least(coalesce({alias}.{end} - 1, {last}), {last})) AS g(dn) "
                    "JOIN days ON days.dn = g.dn")
        return (f"JOIN days ON days.dn >= {alias}.{start} "
                f"AND ({alias}.{end} IS NULL OR days.dn < {alias}.{end})")

    cases = HAND_CASES.format(
        e_rec=e("c.received_at"), e_due=e("c.due_at"), e_fin=e("c.ended_at"),
        ob_rec=ob("c1.rec"), ob_due=ob("c1.due"), ob_fin=ob("c1.fin"),
        expand_c=expand("c", "rec_dn", "fin_dn"), **common)
    steps = HAND_STEPS.format(
        e_st=e("a.started_at"), e_sst=e("a.step_started_at"), e_adue=e("a.due_at"), e_afin=e("a.ended_at"),
        e_cdue=e("c.due_at"), e_cfin=e("c.ended_at"),
        ob_sst=ob("a1.sst"), ob_adue=ob("a1.adue"), ob_afin=ob("a1.afin"),
        expand_a=expand("a", "st_dn", "afin_dn"), **common)
    return cases, steps


# --- the measured runs (each in its own process) ----------------------------------------------

def _child(mode: str, url: str) -> dict:
    from sqlalchemy import text

    from onestop.db import make_engine, make_session_factory, session_scope
    from onestop.metrics import refresh_metrics

    factory = make_session_factory(make_engine(url))
    started = time.perf_counter()
    out: dict = {"mode": mode}
    with session_scope(factory) as session:
        if mode == "domain":
            result = refresh_metrics(session, full=True)
            out.update(result.to_dict())
        elif mode == "incremental":
            result = refresh_metrics(session)
            out.update(result.to_dict())
        else:
            from onestop.calendar_store import work_calendar
            from onestop.metrics import _Clock, _to_epoch_us, day_number
            from onestop.settings import Policy

            state = session.execute(text("SELECT computed_from, computed_to FROM metric_state")).one()
            first, last = (day_number(d if not isinstance(d, str) else datetime.fromisoformat(d).date())
                           for d in state)
            clock = _Clock.of(work_calendar(session))
            cases, steps = _hand_sql(session.get_bind().dialect.name, clock, first, last,
                                     _to_epoch_us(datetime.fromisoformat(os.environ["BENCH_NOW"])),
                                     Policy.from_env().at_risk_share)
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SET LOCAL jit = off"))  # as the domain does
            for table, statement in (("bench_case_days", cases), ("bench_step_days", steps)):
                session.execute(text(f"DELETE FROM {table}"))
                begun = time.perf_counter()
                session.execute(text(statement))
                out.setdefault("seconds", {})[table] = round(time.perf_counter() - begun, 3)
    out["elapsed"] = time.perf_counter() - started
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _measure(mode: str, url: str, now: datetime) -> dict:
    code = (
        "import json, sys; from datetime import datetime; from onestop.clock import frozen_at; "
        "from bench.metrics import _child; "
        f"clock = frozen_at(datetime.fromisoformat({now.isoformat()!r})); clock.__enter__(); "
        f"print(json.dumps(_child({mode!r}, {url!r})))"
    )
    env = {**os.environ, "BENCH_NOW": now.isoformat()}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _compare(url: str) -> tuple[int, int]:
    """Rows that differ between the domain's tables and the hand-written ones (both ways)."""
    from sqlalchemy import text

    from onestop.db import make_engine

    engine = make_engine(url)
    differ = []
    with engine.connect() as connection:
        for mine, theirs in (("metric_case_days", "bench_case_days"), ("metric_step_days", "bench_step_days")):
            n = 0
            for a, b in ((mine, theirs), (theirs, mine)):
                n += connection.execute(text(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT SELECT * FROM {b}) x")).scalar()
            differ.append(n)
    engine.dispose()
    return differ[0], differ[1]


def _touch(url: str, now: datetime, count: int = 50) -> int:
    """Change open cases through the lifecycle as a quarter of an hour might: `count` results,
    and a fifth as many supplements received (which move due instants, so every day since
    those cases' receipt is recomputed)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from onestop import lifecycle
    from onestop.clock import frozen_at
    from onestop.db import make_engine
    from onestop.models import Case

    engine = make_engine(url)
    changed = 0
    with Session(engine) as session, frozen_at(now):
        recent = Case.received_at.desc()
        for case in session.scalars(select(Case).where(Case.status == "in_progress").order_by(recent).limit(count)):
            lifecycle.resolve(session, case, case.current_assignment.owner)
            changed += 1
        waiting = select(Case).where(Case.status == "awaiting_supplement").order_by(recent).limit(count // 5)
        for case in session.scalars(waiting):
            lifecycle.receive_supplement(session, case, case.current_assignment.owner)
            changed += 1
        session.commit()
    engine.dispose()
    return changed


def _prepare(backend: str, folder: str) -> tuple[str, callable]:
    from sqlalchemy import create_engine, text

    from onestop.migrate import upgrade

    if backend == "sqlite":
        url = f"sqlite:///{folder}/bench.db"

        def drop() -> None:
            pass
    else:
        schema = f"bench_metrics_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"

        def drop() -> None:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    upgrade(url)
    from onestop.db import make_engine

    engine = make_engine(url)
    with engine.begin() as connection:
        for name, source in (("bench_case_days", "metric_case_days"), ("bench_step_days", "metric_step_days")):
            connection.execute(text(f"CREATE TABLE {name} AS SELECT * FROM {source} WHERE 1 = 0"))
    engine.dispose()
    return url, drop


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench metrics", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365, help="receipts spread over this many days")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--keep", action="store_true", help="keep the generated database")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    opts = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        url, drop = _prepare(opts.backend, folder)
        try:
            began = time.perf_counter()
            counts = generate(url, opts.cases, opts.days, opts.seed)
            generated = time.perf_counter() - began
            print(f"{opts.backend}: generated {counts} in {generated:.1f} s", flush=True)
            now = datetime.now(UTC)
            domain = _measure("domain", url, now)
            print(f"domain:      {domain['elapsed']:.2f} s, peak {domain['peak_mb']:.0f} MB, "
                  f"{domain['case_rows']} case rows + {domain['step_rows']} step rows, {domain['seconds']}", flush=True)
            hand = _measure("hand", url, now)
            print(f"hand SQL:    {hand['elapsed']:.2f} s, peak {hand['peak_mb']:.0f} MB, {hand['seconds']}", flush=True)
            case_diff, step_diff = _compare(url)
            print(f"identical:   {'yes' if case_diff == step_diff == 0 else 'NO'} "
                  f"({case_diff} case rows, {step_diff} step rows differ)", flush=True)
            changed = _touch(url, now + timedelta(minutes=15))
            incremental = _measure("incremental", url, now + timedelta(minutes=15))
            print(f"incremental: {incremental['elapsed']:.2f} s after {changed} cases changed "
                  f"({incremental['first']} to {incremental['last']}), peak {incremental['peak_mb']:.0f} MB", flush=True)
            ratio = domain["elapsed"] / hand["elapsed"]
            peak = max(domain["peak_mb"], incremental["peak_mb"])
            met = ratio <= TARGET_RATIO and peak < TARGET_MB and case_diff == step_diff == 0
            print(f"{opts.backend} N={opts.cases}: domain/hand = {ratio:.2f} (target <= {TARGET_RATIO}), "
                  f"peak {peak:.0f} MB (target < {TARGET_MB}): {'met' if met else 'MISSED'}", flush=True)
        finally:
            if opts.keep:
                print(f"kept: {url}")
            else:
                drop()
    return 1 if opts.strict and not met else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
