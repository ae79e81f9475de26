"""Surprise inspections: a weekly, reproducible random sample of cases per unit.

Each unit's sample is drawn from its cases with any history in the week before `week_start`
that were never sampled before, with a random generator seeded by (seed, week, unit): the same
inputs always draw the same cases. The sample is stratified by procedure (each procedure gets
its proportional share, largest remainders first) and, inside a stratum, weighted toward late,
extended and multi-supplement cases (weighted sampling without replacement, Efraimidis-Spirakis).
Cases go to officers holding the `inspector` role in the unit or a unit above it, in turn,
never to an inspector who acted on the case. Inspectors record one finding per case (in order /
irregular, with a note): an event in the case's history; irregular findings feed the signals.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, selectinload

from onestop import clock
from onestop.calendar_store import work_calendar
from onestop.classification import classify_case
from onestop.db import Base, UTCDateTime
from onestop.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from onestop.escalation import notify
from onestop.i18n import translate
from onestop.lifecycle import _claim, _flush, _record
from onestop.models import Case, CaseEvent, Officer, OfficerRole, Unit
from onestop.settings import Policy
from onestop.validation import clean_text

VERDICTS = ("in_order", "irregular")
SAMPLE_SIZE = 5
# Weights: a plain case counts 1; each trait adds its weight.
WEIGHT_LATE = 3.0
WEIGHT_EXTENDED = 2.0
WEIGHT_SUPPLEMENTS = 2.0


class InspectionSample(Base):
    """One case drawn for inspection in one week, assigned to one inspector."""

    __tablename__ = "inspection_samples"

    id: Mapped[int] = mapped_column(primary_key=True)
    week_start: Mapped[date] = mapped_column(Date)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), index=True)
    stratum: Mapped[str] = mapped_column(String(32))
    weight: Mapped[float] = mapped_column(Float)
    draw_rank: Mapped[int] = mapped_column(Integer)
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship()
    unit: Mapped[Unit] = relationship()
    inspector: Mapped[Officer | None] = relationship()
    finding: Mapped[InspectionFinding | None] = relationship(back_populates="sample", uselist=False)

    __table_args__ = (
        UniqueConstraint("week_start", "case_id"),
        Index("ix_inspection_samples_week_unit", "week_start", "unit_id"),
    )


class InspectionFinding(Base):
    """An inspector's finding on a sampled case; recorded once, as an event of its history."""

    __tablename__ = "inspection_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("inspection_samples.id"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("officers.id"))
    verdict: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    event_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("case_events.id")
    )

    sample: Mapped[InspectionSample] = relationship(back_populates="finding")
    inspector: Mapped[Officer] = relationship()

    __table_args__ = (
        CheckConstraint(
            "verdict IN ('in_order', 'irregular')", name="ck_inspection_findings_verdict"
        ),
    )


@dataclass
class InspectionDraw:
    week_start: date
    drawn: dict[str, int] = field(default_factory=dict)  # unit code -> cases drawn
    skipped_units: list[str] = field(default_factory=list)  # already drawn this week
    unassigned: int = 0  # no inspector covers the unit
    samples: list[InspectionSample] = field(default_factory=list)


def week_of(day: date) -> date:
    """The Monday of the week containing `day`."""
    return day - timedelta(days=day.weekday())


def _rng(seed: int | str, week_start: date, unit_code: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{week_start.isoformat()}:{unit_code}".encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def case_weight(case: Case, at: datetime, calendar, policy: Policy) -> float:
    """1, plus a weight for each trait an inspection should look at more often."""
    weight = 1.0
    if classify_case(case, calendar, at, policy) in ("late", "overdue"):
        weight += WEIGHT_LATE
    if case.extension is not None:
        weight += WEIGHT_EXTENDED
    if case.supplement_requests > 1:
        weight += WEIGHT_SUPPLEMENTS
    return weight


def allocate(strata: dict[str, int], size: int) -> dict[str, int]:
    """Proportional allocation of `size` over strata (largest remainder; ties by name)."""
    total = sum(strata.values())
    if total <= size:
        return dict(strata)
    quotas = {name: size * count / total for name, count in strata.items()}
    shares = {name: math.floor(q) for name, q in quotas.items()}
    left = size - sum(shares.values())
    for name in sorted(strata, key=lambda n: (-(quotas[n] - shares[n]), n))[:left]:
        shares[name] += 1
    return shares


def weighted_draw(rng: random.Random, items: list[tuple[int, float]], k: int) -> list[int]:
    """k ids drawn without replacement with probability proportional to weight."""
    keyed = sorted(((rng.random() ** (1.0 / w), i) for i, w in items), reverse=True)
    return [i for _, i in keyed[:k]]


def _inspectors_for(session: Session, unit: Unit) -> list[Officer]:
    holders = session.scalars(
        select(Officer)
        .join(OfficerRole, OfficerRole.officer_id == Officer.id)
        .where(OfficerRole.role == "inspector", Officer.active.is_(True))
        .distinct()
        .order_by(Officer.username)
    ).all()
    return [o for o in holders if o.has_role("inspector", unit)]


def _involved(case: Case) -> set[int]:
    people = {a.owner_id for a in case.assignments}
    people.update(a.given_by_id for a in case.assignments if a.given_by_id)
    return people


def run_inspections(
    session: Session,
    week_start: date,
    seed: int | str = 0,
    *,
    size: int = SAMPLE_SIZE,
    policy: Policy | None = None,
) -> InspectionDraw:
    """Draw this week's sample for every unit with eligible cases (flushes, never commits).

    Idempotent: a unit already drawn for the week is left as it is.
    """
    week_start = week_of(week_start)
    policy = policy or Policy.from_env()
    calendar = work_calendar(session)
    now = clock.now()
    start = datetime.combine(week_start - timedelta(days=7), time(0), tzinfo=calendar.zone)
    end = datetime.combine(week_start, time(0), tzinfo=calendar.zone)
    draw = InspectionDraw(week_start=week_start)

    active = select(CaseEvent.case_id).where(CaseEvent.at >= start, CaseEvent.at < end)
    sampled_before = select(InspectionSample.case_id).where(
        InspectionSample.week_start < week_start
    )
    population = session.scalars(
        select(Case)
        .where(Case.id.in_(active), Case.received_at.is_not(None), Case.id.not_in(sampled_before))
        .options(
            selectinload(Case.procedure),
            selectinload(Case.pauses),
            selectinload(Case.extension),
            selectinload(Case.assignments),
        )
        .order_by(Case.id)
    ).all()
    by_unit: dict[int, list[Case]] = defaultdict(list)
    for case in population:
        by_unit[case.unit_id].append(case)
    already = set(
        session.scalars(
            select(InspectionSample.unit_id).where(InspectionSample.week_start == week_start)
        )
    )
    per_inspector: dict[int, int] = defaultdict(int)
    for unit_id in sorted(by_unit):
        unit = session.get(Unit, unit_id)
        assert unit is not None
        if unit_id in already:
            draw.skipped_units.append(unit.code)
            continue
        rng = _rng(seed, week_start, unit.code)
        cases = {c.id: c for c in by_unit[unit_id]}
        strata: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for case in by_unit[unit_id]:
            strata[case.procedure.code].append((case.id, case_weight(case, end, calendar, policy)))
        shares = allocate({name: len(items) for name, items in strata.items()}, size)
        chosen: list[tuple[str, int, float]] = []
        for name in sorted(strata):
            weights = dict(strata[name])
            for case_id in weighted_draw(rng, strata[name], shares[name]):
                chosen.append((name, case_id, weights[case_id]))
        inspectors = _inspectors_for(session, unit)
        turn = rng.randrange(len(inspectors)) if inspectors else 0
        for rank, (stratum, case_id, weight) in enumerate(chosen, start=1):
            case = cases[case_id]
            involved = _involved(case)
            inspector = None
            for offset in range(len(inspectors)):
                candidate = inspectors[(turn + offset) % len(inspectors)]
                if candidate.id not in involved:
                    inspector = candidate
                    turn = (turn + offset + 1) % len(inspectors)
                    break
            if inspector is None:
                draw.unassigned += 1
            else:
                per_inspector[inspector.id] += 1
            sample = InspectionSample(
                week_start=week_start,
                unit_id=unit_id,
                case_id=case_id,
                inspector_id=inspector.id if inspector else None,
                stratum=stratum,
                weight=weight,
                draw_rank=rank,
                drawn_at=now,
            )
            session.add(sample)
            draw.samples.append(sample)
        draw.drawn[unit.code] = len(chosen)
    session.flush()
    week = f"{week_start:%d/%m/%Y}"
    for officer_id, count in sorted(per_inspector.items()):
        notify(
            session,
            officer_id=officer_id,
            key=f"inspection:{week_start.isoformat()}:{officer_id}",
            kind="inspection",
            title=translate("inspection_sample_title", week=week, count=count),
            body=translate("inspection_sample_body", week=week, count=count),
            now=now,
        )
    return draw


def samples_for(
    session: Session, inspector: Officer, *, week_start: date | None = None
) -> list[InspectionSample]:
    """An inspector's sampled cases, newest week first (one week if given)."""
    query = select(InspectionSample).where(InspectionSample.inspector_id == inspector.id)
    if week_start is not None:
        query = query.where(InspectionSample.week_start == week_of(week_start))
    return list(
        session.scalars(
            query.options(
                selectinload(InspectionSample.case).selectinload(Case.procedure),
                selectinload(InspectionSample.finding),
                selectinload(InspectionSample.unit),
            ).order_by(InspectionSample.week_start.desc(), InspectionSample.draw_rank)
        )
    )


def get_sample(session: Session, sample_id: int) -> InspectionSample:
    sample = session.get(InspectionSample, sample_id)
    if sample is None:
        raise NotFound("sample_not_found", id=sample_id)
    return sample


def record_finding(
    session: Session,
    sample: InspectionSample,
    inspector: Officer,
    verdict: str,
    note: str | None = None,
) -> InspectionFinding:
    """The assigned inspector's finding on a sampled case, recorded once and written to the
    case's history. An irregular finding needs a note saying what was wrong."""
    if sample.inspector_id != inspector.id or not inspector.has_role("inspector", sample.unit):
        raise PermissionDenied("not_your_sample")
    if verdict not in VERDICTS:
        raise ValidationError("invalid_value", field="verdict", detail="in_order or irregular")
    note = clean_text(
        note, "note", max_length=2000, required=verdict == "irregular", multiline=True
    )
    case = sample.case
    if sample.finding is not None:
        raise InvalidTransition("finding_already_recorded", code=case.receipt_code)
    _claim(session, case)
    event = _record(
        session,
        case,
        "inspection_finding",
        inspector,
        from_status=case.status,
        reason=note,
        verdict=verdict,
        sample_id=sample.id,
        week_start=sample.week_start.isoformat(),
    )
    _flush(session, case)
    finding = InspectionFinding(
        sample_id=sample.id,
        case_id=case.id,
        inspector_id=inspector.id,
        verdict=verdict,
        note=note,
        recorded_at=event.at,
        event_id=event.id,
    )
    sample.finding = finding
    session.add(finding)
    _flush(session, case)  # a second finding racing this one fails the unique key: Conflict
    return finding
