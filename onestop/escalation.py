"""Escalation (RULES.md section 7): the ladder, fired exactly once per (case, step, level).

Levels, from the first to the last:
- `step_at_risk`: a step has less than its at-risk share left: remind the owner;
- `step_overdue`: a step is past its budget: the owner's unit head;
- `extension_prompt`: the case is within one working day of the last instant form 04 may be
  issued (its due instant minus the notice the rules demand), has no result and no extension
  yet: prompt the unit head to issue it. With a notice of 0 days this is exactly "less than one
  working day before the due instant"; with the default notice of 1 day, prompting inside the
  last day would come too late to act on (lifecycle.extend would refuse);
- `case_overdue`: the case is overdue: the chair of the responsible (receiving) unit.

A step is keyed by the assignment that began it, so a reassignment (which keeps the step's clock)
does not fire the same level again, while a step sent back and begun anew does.

Recipients are read from the organisation chart when a level fires: active holders of the post
(acting heads count); a vacant post passes to the unit above; nobody is escalated to about their
own step (a head holding an overdue step goes to the head above); where no unit head exists up
the tree, the chair of the first unit up that has one stands in.

How exactly-once holds: `claim_escalations` finds candidates with SQL, reads the recipients, and
inserts claim rows with INSERT .. ON CONFLICT DO NOTHING against a unique key,
committing them before anything is sent. `deliver_escalations` (office hours only) takes each
claim with a guarded UPDATE, writes the in-app notifications (unique key) and queues one e-mail
(unique Message-ID) in the same transaction. `mail.deliver_outbox` sends the e-mail.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import case as sql_case
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column, sessionmaker

from onestop import clock, mail
from onestop.bulk import insert_ignoring_conflicts
from onestop.calendar import WorkCalendar
from onestop.calendar_store import work_calendar
from onestop.classification import classify_assignment, classify_case
from onestop.db import Base, UTCDateTime
from onestop.errors import NotFound
from onestop.i18n import translate
from onestop.models import (
    OPEN_STATUSES,
    PAUSED_STATUSES,
    Case,
    Extension,
    Officer,
    OfficerRole,
    Pause,
    Procedure,
    StepAssignment,
    Unit,
)
from onestop.settings import Policy

LEVELS = ("step_at_risk", "step_overdue", "extension_prompt", "case_overdue")
CASE_LEVELS = ("extension_prompt", "case_overdue")
KEY = ("case_id", "step_key", "level")
# The prompt for form 04 opens this many working days before its last possible instant.
PROMPT_LEAD_WORKING_DAYS = 1.0
BATCH = 5000


class Escalation(Base):
    """One level of escalation of one case step (or of the case), claimed once."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    # The id of the assignment that began the step; 0 for the case levels.
    step_key: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(32))
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("step_assignments.id"))
    step_position: Mapped[int | None] = mapped_column(Integer)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    # Where the ladder found its recipients (after walking up past vacant posts).
    recipient_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    recipient_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("case_id", "step_key", "level", name="uq_escalations_key"),
        CheckConstraint(
            "level IN ('step_at_risk', 'step_overdue', 'extension_prompt', 'case_overdue')",
            name="ck_escalations_level",
        ),
        Index("ix_escalations_assignment_level", "assignment_id", "level"),
        Index(
            "ix_escalations_undelivered",
            "id",
            sqlite_where=text("delivered_at IS NULL"),
            postgresql_where=text("delivered_at IS NULL"),
        ),
    )

    @property
    def message_id(self) -> str:
        return escalation_message_id(self.id, self.level)


class Notification(Base):
    """An entry of an officer's in-app inbox; `key` makes each one exactly once."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    # Not indexed: the inbox is read by officer; fewer indexes keep a large pass's inserts cheap.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def escalation_message_id(escalation_id: int, level: str) -> str:
    return mail.make_message_id("escalation", escalation_id, level)


@dataclass
class EscalationRun:
    """What one pass did."""

    now: datetime
    in_office_hours: bool
    candidates: int = 0
    fired: int = 0
    delivered: int = 0
    notifications: int = 0
    emails_queued: int = 0
    emails_sent: int = 0
    emails_pending: int = 0
    smtp_configured: bool = False
    fired_by_level: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items()}
        out["now"] = self.now.isoformat()
        return out


# --- the organisation chart -------------------------------------------------------------------


@dataclass(frozen=True)
class _Holder:
    officer_id: int
    acting: bool


class OrgChart:
    """Unit tree and the holders of head and chair posts, read once per pass."""

    def __init__(self, session: Session) -> None:
        self.parent: dict[int, int | None] = dict(
            session.execute(select(Unit.id, Unit.parent_id)).all()
        )
        self.posts: dict[tuple[str, int], list[_Holder]] = defaultdict(list)
        rows = session.execute(
            select(
                OfficerRole.role, OfficerRole.unit_id, OfficerRole.officer_id, OfficerRole.acting
            )
            .join(Officer, Officer.id == OfficerRole.officer_id)
            .where(OfficerRole.role.in_(("unit_head", "chair")), Officer.active.is_(True))
            .order_by(OfficerRole.acting, OfficerRole.officer_id)  # substantive holders first
        )
        for role, unit_id, officer_id, acting in rows:
            self.posts[(role, unit_id)].append(_Holder(officer_id, bool(acting)))

    def holders(
        self, role: str, unit_id: int, exclude: Iterable[int] = ()
    ) -> tuple[int | None, list[int]]:
        """The first unit, from `unit_id` up, whose `role` post has an active holder (acting
        holders count), and those holders. A post held only by an excluded officer is vacant
        for this purpose (nobody is escalated to about their own step)."""
        skip = set(exclude)
        node: int | None = unit_id
        seen: set[int] = set()
        while node is not None and node not in seen:
            seen.add(node)
            found = [
                h.officer_id for h in self.posts.get((role, node), ()) if h.officer_id not in skip
            ]
            if found:
                return node, found
            node = self.parent.get(node)
        return None, []


# --- which levels fire ------------------------------------------------------------------------


@dataclass
class _ProcedureView:
    duration_unit: str


@dataclass
class _CaseView:
    """Just what `classify_case` reads, so the classification stays the one source of truth."""

    status: str
    received_at: datetime | None
    due_at: datetime | None
    procedure: _ProcedureView
    supplement_requests: int
    ended_at: datetime | None = None


@dataclass
class _StepView:
    step_started_at: datetime
    due_at: datetime
    case: _CaseView
    ended_at: datetime | None = None


@dataclass(frozen=True)
class Candidate:
    """A level that should fire now for one case."""

    case_id: int
    step_key: int
    level: str
    assignment_id: int
    step_position: int
    owner_id: int
    unit_id: int  # the owner's unit
    case_unit_id: int
    due_at: datetime


def step_level(
    step: _StepView, *, now: datetime, calendar: WorkCalendar, policy: Policy
) -> str | None:
    """The step level whose condition holds for this open step at `now`, if any."""
    if step.case.status in PAUSED_STATUSES:
        return None
    state = classify_assignment(step, calendar, now, policy)  # type: ignore[arg-type]
    return {"at_risk": "step_at_risk", "overdue": "step_overdue"}.get(state)


def case_level(
    case: _CaseView,
    *,
    has_extension: bool,
    now: datetime,
    calendar: WorkCalendar,
    policy: Policy,
) -> str | None:
    """The case level whose condition holds for this open case at `now`, if any."""
    if case.status not in OPEN_STATUSES or case.status in PAUSED_STATUSES or case.due_at is None:
        return None
    if classify_case(case, calendar, now, policy) == "overdue":  # type: ignore[arg-type]
        return "case_overdue"
    if has_extension or now >= case.due_at:
        return None
    notice = policy.extension_notice_working_days * calendar.hours_per_day
    lead = PROMPT_LEAD_WORKING_DAYS * calendar.hours_per_day
    left = calendar.working_hours_between(now, case.due_at)
    return "extension_prompt" if notice <= left < notice + lead else None


def _any(session: Session, column, ids: Sequence[int]):
    """`column IN ids`: one array parameter on PostgreSQL (no long placeholder list)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
    return column.in_(list(ids))


def _step_keys(session: Session, assignment_ids: list[int]) -> dict[int, int]:
    """For each open assignment, the id of the assignment that began its step (a reassignment
    keeps the step's start)."""
    this, first = aliased(StepAssignment), aliased(StepAssignment)
    keys: dict[int, int] = {}
    for chunk in _chunks(assignment_ids, 5000):
        rows = session.execute(
            select(this.id, func.min(first.id))
            .join(
                first,
                and_(
                    first.case_id == this.case_id,
                    first.step_position == this.step_position,
                    first.step_started_at == this.step_started_at,
                ),
            )
            .where(_any(session, this.id, chunk))
            .group_by(this.id)
        )
        keys.update((assignment, key) for assignment, key in rows)
    return keys


def find_candidates(
    session: Session,
    now: datetime,
    *,
    calendar: WorkCalendar | None = None,
    policy: Policy | None = None,
) -> list[Candidate]:
    """The levels that should fire now, less those this very holding or case already claimed.

    SQL narrows the open steps and cases to those whose due instants are near or past (for
    each step budget, the instants with less than the at-risk share of it left; for cases, the
    overdue ones and those inside the form 04 prompt window), plus the few whose budget grew
    with a pause or that had several supplement requests; the classification then decides
    exactly. A step that changed hands after a claim is still returned: the claim's unique key
    (the step's first holding) sorts it out.
    """
    calendar = calendar or work_calendar(session)
    policy = policy or Policy.from_env()
    sa, c, p = StepAssignment.__table__, Case.__table__, Procedure.__table__
    active = [s for s in (*OPEN_STATUSES, "resolved") if s not in PAUSED_STATUSES]

    budgets = list(
        session.scalars(select(sa.c.budget_hours).where(sa.c.ended_at.is_(None)).distinct())
    )
    if not budgets:
        return []
    opening = calendar.next_opening(now)
    # A step is at risk once less than a share of its budget is left: for each budget, the
    # due instants close enough for that (a completed pause lengthens a step's budget, so such
    # steps are always looked at).
    paused_during = (
        select(Pause.id)
        .where(Pause.case_id == sa.c.case_id, Pause.ended_at > sa.c.step_started_at)
        .exists()
    )
    step_near = or_(
        paused_during,
        *(
            and_(
                sa.c.budget_hours == budget,
                sa.c.due_at <= calendar.add_working_hours(opening, policy.at_risk_share * budget),
            )
            for budget in budgets
        ),
    )
    # A case may be overdue once its due instant has passed (or with several supplement
    # requests), and due for the form 04 prompt while [notice, notice + lead) working hours are
    # left before it.
    notice = policy.extension_notice_working_days * calendar.hours_per_day
    prompt_from = calendar.add_working_hours(opening, notice)
    prompt_to = calendar.add_working_hours(
        opening, notice + PROMPT_LEAD_WORKING_DAYS * calendar.hours_per_day
    )
    many_supplements = c.c.id.in_(
        select(Pause.case_id)
        .where(Pause.reason == "supplement")
        .group_by(Pause.case_id)
        .having(func.count() > 1)
    )
    extended = c.c.id.in_(select(Extension.case_id))
    claims = Escalation.__table__

    def case_claimed(level: str):
        return (
            select(claims.c.id)
            .where(
                claims.c.case_id == c.c.id,
                claims.c.step_key == 0,
                claims.c.level == level,
            )
            .exists()
        )

    # Skip what is already claimed: the level a step would fire now (overdue once its due
    # instant has passed, else at risk) for this very holding, and each case level. A holding
    # that took over a claimed step is looked at, and its claim found by its step key below.
    step_claimed = (
        select(claims.c.id)
        .where(
            claims.c.assignment_id == sa.c.id,
            claims.c.level == sql_case((sa.c.due_at < now, "step_overdue"), else_="step_at_risk"),
        )
        .exists()
    )
    check_case = and_(
        c.c.status.in_(OPEN_STATUSES),
        or_(
            and_(or_(c.c.due_at < now, many_supplements), ~case_claimed("case_overdue")),
            and_(
                c.c.due_at >= prompt_from,
                c.c.due_at < prompt_to,
                ~extended,
                ~case_claimed("extension_prompt"),
            ),
        ),
    )
    check_step = and_(step_near, ~step_claimed)
    query = (
        select(
            sa.c.id,
            sa.c.case_id,
            sa.c.step_position,
            sa.c.owner_id,
            sa.c.unit_id,
            sa.c.step_started_at,
            sa.c.due_at,
            c.c.status,
            c.c.received_at,
            c.c.due_at.label("case_due_at"),
            c.c.unit_id.label("case_unit_id"),
            p.c.duration_unit,
            many_supplements.label("many_supplements"),
            extended.label("extended"),
            check_step.label("check_step"),
            check_case.label("check_case"),
        )
        .join(c, c.c.id == sa.c.case_id)
        .join(p, p.c.id == c.c.procedure_id)
        .where(sa.c.ended_at.is_(None), c.c.status.in_(active), or_(check_step, check_case))
    )
    if session.get_bind().dialect.name == "postgresql":
        # The correlated look-ups make the planner's estimate large enough for JIT compilation,
        # which costs seconds and saves nothing on a query that runs in a fraction of one.
        session.execute(text("SET LOCAL jit = off"))
    found: list[Candidate] = []
    for row in session.execute(query):
        case = _CaseView(
            status=row.status,
            received_at=row.received_at,
            due_at=row.case_due_at,
            procedure=_ProcedureView(row.duration_unit),
            # classify_case only asks whether there was more than one request
            supplement_requests=2 if row.many_supplements else 0,
        )
        levels = []
        if row.check_step:
            step = _StepView(step_started_at=row.step_started_at, due_at=row.due_at, case=case)
            levels.append(step_level(step, now=now, calendar=calendar, policy=policy))
        if row.check_case:
            levels.append(
                case_level(
                    case,
                    has_extension=bool(row.extended),
                    now=now,
                    calendar=calendar,
                    policy=policy,
                )
            )
        for level in levels:
            if level is None:
                continue
            case_wide = level in CASE_LEVELS
            found.append(
                Candidate(
                    case_id=row.case_id,
                    step_key=0 if case_wide else row.id,
                    level=level,
                    assignment_id=row.id,
                    step_position=row.step_position,
                    owner_id=row.owner_id,
                    unit_id=row.unit_id,
                    case_unit_id=row.case_unit_id,
                    due_at=row.case_due_at if case_wide else row.due_at,
                )
            )
    keys = _step_keys(session, sorted({c.assignment_id for c in found if c.step_key}))
    found = [
        replace(c, step_key=keys.get(c.assignment_id, c.assignment_id)) if c.step_key else c
        for c in found
    ]
    found.sort(key=lambda c: (c.case_id, LEVELS.index(c.level)))
    return found


def _recipients(chart: OrgChart, candidate: Candidate) -> tuple[int | None, list[int]]:
    if candidate.level == "step_at_risk":
        return candidate.unit_id, [candidate.owner_id]
    if candidate.level == "case_overdue":
        return chart.holders("chair", candidate.case_unit_id)
    exclude = [candidate.owner_id] if candidate.level == "step_overdue" else []
    found = chart.holders("unit_head", candidate.unit_id, exclude=exclude)
    if not found[1]:  # no head anywhere up the tree: the chair heads the unit
        found = chart.holders("chair", candidate.unit_id, exclude=exclude)
    return found


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def claim_escalations(
    session_factory: sessionmaker[Session],
    now: datetime | None = None,
    *,
    policy: Policy | None = None,
    batch: int = BATCH,
) -> tuple[int, list[Candidate], dict[str, int]]:
    """Claim every level that fires now and is not yet claimed; each batch is committed.

    Returns (candidates seen, candidates newly claimed, new claims per level). A claim that
    another run made first is skipped by the unique key, never duplicated.
    """
    now = now or clock.now()
    with session_factory() as session:
        candidates = find_candidates(session, now, policy=policy)
        claimed: list[Candidate] = []
        by_level: dict[str, int] = {}
        if not candidates:
            return 0, claimed, by_level
        existing: set[tuple[int, int, str]] = set()
        case_ids = sorted({c.case_id for c in candidates})
        size = 50_000 if session.get_bind().dialect.name == "postgresql" else 900
        for chunk in _chunks(case_ids, size):
            existing.update(
                tuple(row)
                for row in session.execute(
                    select(Escalation.case_id, Escalation.step_key, Escalation.level).where(
                        _any(session, Escalation.case_id, chunk)
                    )
                )
            )
        new = [c for c in candidates if (c.case_id, c.step_key, c.level) not in existing]
        session.rollback()  # end the read transaction before the writes
        if not new:
            return len(candidates), claimed, by_level
        chart = OrgChart(session)
        for chunk in _chunks(new, batch):
            rows = []
            for candidate in chunk:
                unit_id, recipients = _recipients(chart, candidate)
                rows.append(
                    {
                        "case_id": candidate.case_id,
                        "step_key": candidate.step_key,
                        "level": candidate.level,
                        "assignment_id": candidate.assignment_id,
                        "step_position": candidate.step_position,
                        "owner_id": candidate.owner_id,
                        "recipient_unit_id": unit_id,
                        "recipient_ids": recipients,
                        "due_at": candidate.due_at,
                        "fired_at": now,
                    }
                )
            inserted = {
                tuple(row)
                for row in insert_ignoring_conflicts(
                    session,
                    Escalation.__table__,
                    rows,
                    conflict=KEY,
                    returning=KEY,
                )
            }
            session.commit()
            for candidate in chunk:
                if (candidate.case_id, candidate.step_key, candidate.level) in inserted:
                    claimed.append(candidate)
                    by_level[candidate.level] = by_level.get(candidate.level, 0) + 1
        return len(candidates), claimed, by_level


# --- delivery ---------------------------------------------------------------------------------


def in_office_hours(calendar: WorkCalendar, now: datetime) -> bool:
    return calendar.next_opening(now) == now


def _local(calendar: WorkCalendar, instant: datetime | None) -> str:
    return instant.astimezone(calendar.zone).strftime("%H:%M %d/%m/%Y") if instant else ""


def _texts(level: str, language: str, params: dict[str, Any]) -> tuple[str, str]:
    return (
        translate(f"escalation_{level}_title", language, **params),
        translate(f"escalation_{level}_body", language, **params),
    )


def notify(
    session: Session,
    *,
    officer_id: int,
    key: str,
    kind: str,
    title: str,
    body: str,
    case_id: int | None = None,
    escalation_id: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Put one entry in an officer's inbox unless `key` is already there; True if added."""
    statement = (
        _insert(session)(Notification)
        .values(
            key=key,
            officer_id=officer_id,
            kind=kind,
            title=title[:300],
            body=body,
            case_id=case_id,
            escalation_id=escalation_id,
            created_at=now or clock.now(),
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Notification.id)
    )
    return session.execute(statement).first() is not None


def _messages(
    session: Session,
    taken: Sequence[Any],
    calendar: WorkCalendar,
    now: datetime,
    policy: Policy,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Inbox rows and e-mails of the taken escalations (rows of the claim table), read with
    plain look-ups by primary key: a join here would scan whole tables for every batch."""
    cases = {
        row.id: row
        for row in session.execute(
            select(
                Case.id, Case.receipt_code, Case.applicant_name, Case.due_at, Case.procedure_id
            ).where(_any(session, Case.id, sorted({e.case_id for e in taken})))
        )
    }
    steps = {
        row.id: row
        for row in session.execute(
            select(StepAssignment.id, StepAssignment.step_name, StepAssignment.unit_id).where(
                _any(
                    session,
                    StepAssignment.id,
                    sorted({e.assignment_id for e in taken if e.assignment_id}),
                )
            )
        )
    }
    people = {i for e in taken for i in (e.recipient_ids or [])} | {
        e.owner_id for e in taken if e.owner_id
    }
    officers = (
        {
            row.id: row
            for row in session.execute(
                select(Officer.id, Officer.full_name, Officer.email).where(
                    _any(session, Officer.id, sorted(people))
                )
            )
        }
        if people
        else {}
    )
    units = dict(session.execute(select(Unit.id, Unit.name)).all())
    procedures = dict(session.execute(select(Procedure.id, Procedure.name_vi)).all())
    notice = policy.extension_notice_working_days * calendar.hours_per_day
    footer = translate("escalation_mail_footer", "vi")
    inbox, outbox = [], []
    for row in taken:
        case = cases[row.case_id]
        step = steps.get(row.assignment_id)
        owner = officers.get(row.owner_id)
        deadline = None
        if row.level == "extension_prompt" and case.due_at is not None:
            deadline = last_extension_instant(calendar, case.due_at, notice)
        title, body = _texts(
            row.level,
            "vi",
            {
                "code": case.receipt_code,
                "procedure": procedures.get(case.procedure_id, ""),
                "applicant": case.applicant_name,
                "step": step.step_name if step else "",
                "owner": owner.full_name if owner else "",
                "unit": units.get(step.unit_id, "") if step else "",
                "due": _local(calendar, row.due_at),
                "fired": _local(calendar, row.fired_at),
                "share": f"{policy.at_risk_share * 100:g}",
                "deadline": _local(calendar, deadline),
            },
        )
        recipients = list(row.recipient_ids or [])
        inbox.extend(
            {
                "key": f"escalation:{row.id}:{officer_id}",
                "officer_id": officer_id,
                "kind": row.level,
                "case_id": row.case_id,
                "escalation_id": row.id,
                "title": title[:300],
                "body": body,
                "created_at": now,
            }
            for officer_id in recipients
        )
        addresses = [
            officers[i].email for i in sorted(recipients) if i in officers and officers[i].email
        ]
        if addresses:
            outbox.append(
                {
                    "to": addresses,
                    "subject": f"[Một cửa] {title}",
                    "body": f"{body}\n\n{footer}\n",
                    "message_id": escalation_message_id(row.id, row.level),
                }
            )
    return inbox, outbox


def _queue_mails(session: Session, messages: list[dict[str, Any]], now: datetime) -> int:
    return mail.enqueue_many(session, messages, now=now)


def last_extension_instant(calendar: WorkCalendar, due: datetime, notice_hours: float) -> datetime:
    """The last instant form 04 may be issued: `notice_hours` working hours before `due`."""
    probe = due
    while calendar.working_hours_between(probe, due) < notice_hours:
        probe -= timedelta(days=1)
    return calendar.add_working_hours(
        probe, calendar.working_hours_between(probe, due) - notice_hours
    )


def deliver_escalations(
    session_factory: sessionmaker[Session],
    now: datetime | None = None,
    *,
    policy: Policy | None = None,
    batch: int = BATCH,
) -> tuple[int, int, int]:
    """Deliver claimed escalations: inbox entries and a queued e-mail, one transaction per
    batch, each escalation taken by a guarded UPDATE so a concurrent run skips it.
    Returns (escalations delivered, notifications added, e-mails queued)."""
    now = now or clock.now()
    policy = policy or Policy.from_env()
    delivered = notifications = emails = 0
    table = Escalation.__table__
    while True:
        with session_factory() as session, session.begin():
            calendar = work_calendar(session)
            ids = list(
                session.scalars(
                    select(table.c.id)
                    .where(table.c.delivered_at.is_(None))
                    .order_by(table.c.id)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return delivered, notifications, emails
            taken = session.execute(
                update(table)
                .where(_any(session, table.c.id, ids), table.c.delivered_at.is_(None))
                .values(delivered_at=now)
                .returning(
                    table.c.id,
                    table.c.level,
                    table.c.case_id,
                    table.c.assignment_id,
                    table.c.owner_id,
                    table.c.recipient_ids,
                    table.c.due_at,
                    table.c.fired_at,
                )
            ).all()
            if not taken:
                continue
            inbox, outbox = _messages(session, taken, calendar, now, policy)
            if inbox:
                notifications += len(
                    insert_ignoring_conflicts(
                        session,
                        Notification.__table__,
                        inbox,
                        conflict=["key"],
                        returning=["id"],
                    )
                )
            emails += _queue_mails(session, outbox, now)
            delivered += len(taken)


def run_escalation(
    session_factory: sessionmaker[Session],
    now: datetime | None = None,
    *,
    policy: Policy | None = None,
    settings: mail.SmtpSettings | None = None,
) -> EscalationRun:
    """One escalation pass: claim what fires now; in office hours, deliver and send.

    Outside office hours the claims wait; the first pass inside them delivers them.
    """
    now = now or clock.now()
    policy = policy or Policy.from_env()
    settings = settings or mail.SmtpSettings.from_env()
    with session_factory() as session:
        calendar = work_calendar(session)
    run = EscalationRun(now=now, in_office_hours=in_office_hours(calendar, now))
    run.candidates, claimed, run.fired_by_level = claim_escalations(
        session_factory, now, policy=policy
    )
    run.fired = len(claimed)
    run.smtp_configured = settings is not None
    if run.in_office_hours:
        run.delivered, run.notifications, run.emails_queued = deliver_escalations(
            session_factory, now, policy=policy
        )
        run.emails_sent = mail.deliver_outbox(session_factory, settings, now=now)
    with session_factory() as session:
        run.emails_pending = mail.pending_count(session)
    return run


# --- the inbox --------------------------------------------------------------------------------


def inbox(
    session: Session, officer: Officer, *, unread_only: bool = False, limit: int = 100
) -> list[Notification]:
    query = select(Notification).where(Notification.officer_id == officer.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))


def unread_count(session: Session, officer: Officer) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.officer_id == officer.id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, officer: Officer, notification_id: int) -> Notification:
    """Mark one of the officer's own notifications read (flushes)."""
    entry = session.get(Notification, notification_id)
    if entry is None or entry.officer_id != officer.id:
        raise NotFound("notification_not_found", id=notification_id)
    if entry.read_at is None:
        entry.read_at = clock.now()
        session.flush()
    return entry
