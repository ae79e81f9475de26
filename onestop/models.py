"""The one-stop domain as tables: units, officers, procedures, cases and their history.

Names follow the glossary of the design card (`Case` is a hồ sơ, `StepAssignment` one step held
by one accountable owner, `CaseEvent` an entry of the append-only history).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onestop.db import Base, UTCDateTime

UNIT_KINDS = ("province", "commune", "ward", "special_zone", "centre", "department", "desk", "district", "agency")
# dashboard_viewer: reads the dashboards of its unit and below (granted, read-only).
BUILTIN_ROLES = ("desk", "unit_head", "chair", "admin", "inspector", "dashboard_viewer")
CHANNELS = ("in_person", "online", "post")
# How the result goes back to the applicant (form 01): at the desk, by post, or online.
RESULT_RETURNS = ("in_person", "post", "online")
DURATION_UNITS = ("working_days", "working_hours", "same_day", "calendar_days")
PAUSE_POLICIES = ("extend", "restart")
PAUSE_REASONS = ("supplement", "financial_obligation")

# Internal status -> national status code (1-10) for exchange with the public service portal.
# Refusal after review is reported to the portal as stopped (8): it ends processing with a
# reasoned notice and is not a result (choice).
STATUS_CODES: dict[str, int] = {
    "submitted": 1,
    "received": 2,
    "guided": 3,
    "refused_at_intake": 3,
    "in_progress": 4,
    "awaiting_supplement": 5,
    "awaiting_payment": 6,
    "withdrawn": 7,
    "stopped": 8,
    "refused": 8,
    "resolved": 9,
    "returned": 10,
}
OPEN_STATUSES = ("received", "in_progress", "awaiting_supplement", "awaiting_payment")
PAUSED_STATUSES = ("awaiting_supplement", "awaiting_payment")
NOT_STARTED_STATUSES = ("submitted", "guided", "refused_at_intake")
TERMINAL_STATUSES = ("refused", "withdrawn", "stopped", "returned", "guided", "refused_at_intake")
OPEN_PREDICATE = "status IN (" + ", ".join(f"'{s}'" for s in OPEN_STATUSES) + ")"


class Unit(Base):
    """A node of the organisation tree; districts keep their effective dates for old data."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32), default="department")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    effective_from: Mapped[date | None] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)

    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent")

    __table_args__ = (
        CheckConstraint(
            "effective_to IS NULL OR effective_from IS NULL OR effective_to >= effective_from",
            name="ck_units_effective_range",
        ),
    )

    def ancestors(self) -> list[Unit]:
        """Parent first, root last."""
        chain, node = [], self.parent
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    def is_within(self, other: Unit) -> bool:
        """True for the unit itself and any unit below it."""
        return self.id == other.id or any(a.id == other.id for a in self.ancestors())

    def __repr__(self) -> str:
        return f"<Unit {self.code}>"


class Officer(Base):
    __tablename__ = "officers"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    roles: Mapped[list[OfficerRole]] = relationship(
        back_populates="officer", cascade="all, delete-orphan"
    )

    def role_units(self, role: str) -> list[Unit]:
        return [r.unit for r in self.roles if r.role == role]

    def has_role(self, role: str, unit: Unit | None = None, *, inherited: bool = True) -> bool:
        """Holds `role` in `unit`, or (with `inherited`) in a unit above it."""
        for r in self.roles:
            if r.role != role:
                continue
            if unit is None or r.unit_id == unit.id:
                return True
            if inherited and unit.is_within(r.unit):
                return True
        return False

    def __repr__(self) -> str:
        return f"<Officer {self.username}>"


class OfficerRole(Base):
    """A role held in a unit. Built-in roles carry permissions; other names qualify step owners."""

    __tablename__ = "officer_roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(String(64))
    acting: Mapped[bool] = mapped_column(Boolean, default=False)

    officer: Mapped[Officer] = relationship(back_populates="roles")
    unit: Mapped[Unit] = relationship()

    __table_args__ = (UniqueConstraint("officer_id", "unit_id", "role"),)


class Procedure(Base):
    """One version of a legal procedure; a case freezes the version it was received under."""

    __tablename__ = "procedures"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    name_vi: Mapped[str] = mapped_column(String(500))
    name_en: Mapped[str | None] = mapped_column(String(500))
    field: Mapped[str | None] = mapped_column(String(200))
    level: Mapped[str | None] = mapped_column(String(32))
    duration_unit: Mapped[str] = mapped_column(String(16))
    duration_amount: Mapped[float] = mapped_column(Float)
    same_day_cutoff: Mapped[time | None] = mapped_column(Time)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    pause_policy: Mapped[str] = mapped_column(String(16), default="extend")
    pause_policy_basis: Mapped[str | None] = mapped_column(Text)
    # Fees and charges as the published procedure words them ("Miễn phí", "8.000 đồng/bản").
    fees: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    steps: Mapped[list[ProcessStep]] = relationship(
        back_populates="procedure", order_by="ProcessStep.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint("duration_amount >= 0", name="ck_procedures_duration_nonnegative"),
    )

    def step_at(self, position: int) -> ProcessStep | None:
        return next((s for s in self.steps if s.position == position), None)

    def __repr__(self) -> str:
        return f"<Procedure {self.code} v{self.version}>"


class ProcessStep(Base):
    """A step of the internal process: who (role, unit) and how long (working hours)."""

    __tablename__ = "process_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(64))
    # None: the receiving unit of the case (or a unit under it) carries the step.
    unit_code: Mapped[str | None] = mapped_column(String(32))
    budget_hours: Mapped[float] = mapped_column(Float)

    procedure: Mapped[Procedure] = relationship(back_populates="steps")

    __table_args__ = (
        UniqueConstraint("procedure_id", "position"),
        CheckConstraint("budget_hours >= 0", name="ck_process_steps_budget_nonnegative"),
    )


class CalendarException(Base):
    """An administrator's day off or working day, with the announcement that decided it."""

    __tablename__ = "calendar_exceptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    legal_reference: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))

    __table_args__ = (
        CheckConstraint("kind IN ('day_off', 'working_day')", name="ck_calendar_exceptions_kind"),
    )


class ReceiptCounter(Base):
    """Next sequence number of receipt codes per unit and day."""

    __tablename__ = "receipt_counters"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    """A dossier (hồ sơ): one applicant, one procedure version, one owner per step."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_code: Mapped[str] = mapped_column(String(40), unique=True)
    # Indexed with received_at and with ended_at (below): by unit and period.
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id"), index=True)
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_id_number: Mapped[str | None] = mapped_column(String(20))
    applicant_phone: Mapped[str | None] = mapped_column(String(20))
    applicant_address: Mapped[str | None] = mapped_column(String(500))
    applicant_email: Mapped[str | None] = mapped_column(String(254))
    channel: Mapped[str] = mapped_column(String(16))
    # Chosen at intake (RESULT_RETURNS); None on older cases: the channel's own way.
    result_return: Mapped[str | None] = mapped_column(String(16))
    documents: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(32), index=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The clock: received_at starts it; original_due_at never changes; due_at adds pauses.
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    original_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Not indexed on purpose: re-projection rewrites it for many open cases at once, and an
    # update that touches no indexed column stays on its page (HOT). Open cases are found by
    # ix_cases_open instead.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # End time for on-time classification (resolution, or the request of an abandoned supplement).
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    imported: Mapped[bool] = mapped_column(Boolean, default=False)
    last_event_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_event_hash: Mapped[str | None] = mapped_column(String(64))
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    unit: Mapped[Unit] = relationship()
    procedure: Mapped[Procedure] = relationship()
    assignments: Mapped[list[StepAssignment]] = relationship(
        back_populates="case", order_by="StepAssignment.id", cascade="all, delete-orphan"
    )
    pauses: Mapped[list[Pause]] = relationship(
        back_populates="case", order_by="Pause.id", cascade="all, delete-orphan"
    )
    extension: Mapped[Extension | None] = relationship(back_populates="case", uselist=False)
    events: Mapped[list[CaseEvent]] = relationship(order_by="CaseEvent.seq", viewonly=True)

    __mapper_args__ = {"version_id_col": version_id}
    __table_args__ = (
        CheckConstraint(
            "original_due_at IS NULL OR received_at IS NOT NULL", name="ck_cases_due_needs_receipt"
        ),
        # The case book and the period reports: one unit's cases received, or ended, in a period.
        Index("ix_cases_unit_received", "unit_id", "received_at"),
        Index("ix_cases_unit_ended", "unit_id", "ended_at"),
        # Open cases only (a few percent of the table): escalation, re-projection, overdue lists.
        Index(
            "ix_cases_open",
            "id",
            sqlite_where=text(OPEN_PREDICATE),
            postgresql_where=text(OPEN_PREDICATE),
        ),
        # Room on each page for a new version of a row whose clock moved (see due_at).
        {"postgresql_with": {"fillfactor": 90}},
    )

    @property
    def status_code(self) -> int:
        return STATUS_CODES[self.status]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def current_assignment(self) -> StepAssignment | None:
        return next((a for a in reversed(self.assignments) if a.ended_at is None), None)

    @property
    def open_pause(self) -> Pause | None:
        return next((p for p in reversed(self.pauses) if p.ended_at is None), None)

    @property
    def supplement_requests(self) -> int:
        return sum(1 for p in self.pauses if p.reason == "supplement")

    def __repr__(self) -> str:
        return f"<Case {self.receipt_code} {self.status}>"


class StepAssignment(Base):
    """One holding of one step by one accountable owner (a row of the control slip, form 06)."""

    __tablename__ = "step_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    step_position: Mapped[int] = mapped_column(Integer)
    step_name: Mapped[str] = mapped_column(String(200))
    step_role: Mapped[str] = mapped_column(String(64))
    budget_hours: Mapped[float] = mapped_column(Float)
    owner_id: Mapped[int] = mapped_column(ForeignKey("officers.id"), index=True)
    # The unit in which the owner holds the step's role: its head may reassign the step.
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    given_by_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the step itself began (a reassignment keeps the step's clock running).
    step_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_kind: Mapped[str | None] = mapped_column(String(16))
    result: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="assignments")
    owner: Mapped[Officer] = relationship(foreign_keys=[owner_id])
    unit: Mapped[Unit] = relationship()
    given_by: Mapped[Officer | None] = relationship(foreign_keys=[given_by_id])

    __table_args__ = (
        # The database itself guarantees a case is never held by two owners at once.
        Index(
            "uq_step_assignments_one_open_per_case",
            "case_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
        Index(
            "ix_step_assignments_open_by_owner",
            "owner_id",
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
        # A unit head's queue: the open steps held in the units they head, by due instant.
        Index(
            "ix_step_assignments_open_by_unit",
            "unit_id",
            "due_at",
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )


class Pause(Base):
    """The clock stopped: awaiting a supplement or payment of financial obligations."""

    __tablename__ = "pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("officers.id"))
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    note: Mapped[str | None] = mapped_column(Text)
    documents: Mapped[list[Any]] = mapped_column(JSON, default=list)
    paused_working_hours: Mapped[float | None] = mapped_column(Float)

    case: Mapped[Case] = relationship(back_populates="pauses")

    __table_args__ = (
        Index(
            "uq_pauses_one_open_per_case",
            "case_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
        CheckConstraint(
            "reason IN ('supplement', 'financial_obligation')", name="ck_pauses_reason"
        ),
    )


class Extension(Base):
    """The apology and new date (form 04); at most one per case, enforced by the database."""

    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("officers.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    responsible_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    previous_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    new_due_at: Mapped[datetime] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(back_populates="extension")
    issued_by: Mapped[Officer] = relationship()
    responsible_unit: Mapped[Unit] = relationship()


class CaseEvent(Base):
    """An entry of the append-only history. The database refuses UPDATE and DELETE on it."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # (case_id, seq) is unique, which also serves every look-up of a case's history.
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    from_step: Mapped[int | None] = mapped_column(Integer)
    to_step: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    corrects_event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))
    # Tamper evidence: each event's hash covers its content and the previous event's hash.
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    actor: Mapped[Officer | None] = relationship()

    __table_args__ = (UniqueConstraint("case_id", "seq"),)


class Rating(Base):
    """The applicant's satisfaction with a case: recorded by the desk at return, or given once
    by the applicant from the look-up page (one of each source at most)."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    satisfied: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))

    __table_args__ = (
        UniqueConstraint("case_id", "source"),
        CheckConstraint("source IN ('desk', 'applicant')", name="ck_ratings_source"),
    )


class Complaint(Base):
    """A complaint (phản ánh, kiến nghị) recorded against a case."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
