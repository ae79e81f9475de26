"""The procedure catalogue in CSV (the format of the bundled `data/procedures.csv`).

Loading is all-or-nothing: every row is checked first, and any error names its line and column.
A procedure whose terms changed (fees included) gets a new version; cases keep the version
they were received under. The optional `documents` column is the procedure's document checklist,
items separated by ";", each `name | form | count` (form: bản chính, bản sao, bản sao chứng thực);
a filled cell replaces the checklist, an empty one leaves the administrators' checklist alone.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import time
from importlib import resources
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from onestop import clock
from onestop.errors import ValidationError
from onestop.intake import ProcedureDocument, parse_document_lines
from onestop.models import DURATION_UNITS, PAUSE_POLICIES, Procedure, ProcessStep
from onestop.validation import clean_documents, clean_text

COLUMNS = (
    "code", "name_vi", "name_en", "field", "level", "duration_unit", "duration_amount",
    "same_day_cutoff", "legal_basis", "steps_hours",
)
OPTIONAL_COLUMNS = ("pause_policy", "pause_policy_basis", "fees", "documents")
HOURS_PER_DAY = 8  # the catalogue's convention: step budgets sum to at most the duration


@dataclass(frozen=True)
class StepSpec:
    name: str
    role: str
    budget_hours: float


@dataclass(frozen=True)
class DocumentSpec:
    name: str
    form: str
    count: int


@dataclass(frozen=True)
class ProcedureSpec:
    code: str
    name_vi: str
    name_en: str | None
    field: str | None
    level: str | None
    duration_unit: str
    duration_amount: float
    same_day_cutoff: time | None
    legal_basis: str | None
    pause_policy: str
    pause_policy_basis: str | None
    steps: tuple[StepSpec, ...]
    fees: str | None = None
    documents: tuple[DocumentSpec, ...] = ()  # empty: the checklist is not the file's to set

    def differs_from(self, procedure: Procedure) -> bool:
        mine = (
            self.name_vi, self.name_en, self.field, self.level, self.duration_unit,
            float(self.duration_amount), self.same_day_cutoff, self.legal_basis,
            self.pause_policy, self.pause_policy_basis, self.fees,
            tuple((s.name, s.role, float(s.budget_hours)) for s in self.steps),
        )
        theirs = (
            procedure.name_vi, procedure.name_en, procedure.field, procedure.level,
            procedure.duration_unit, float(procedure.duration_amount), procedure.same_day_cutoff,
            procedure.legal_basis, procedure.pause_policy, procedure.pause_policy_basis,
            procedure.fees,
            tuple((s.name, s.role, float(s.budget_hours)) for s in procedure.steps),
        )
        return mine != theirs


# Far above any legal procedure (the longest run to months), far below what hangs the calendar.
MAX_DURATION = {"working_days": 1000, "working_hours": 8000, "calendar_days": 3660}


def _error(line: int, column: str, detail: str) -> ValidationError:
    return ValidationError("csv_error", line=line, column=column, detail=detail)


def _number(raw: str, line: int, column: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise _error(line, column, f"not a number: {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise _error(line, column, f"must be a non-negative number: {raw!r}")
    return value


def _parse_steps(raw: str, line: int) -> tuple[StepSpec, ...]:
    steps = []
    for i, item in enumerate(raw.split(";"), start=1):
        parts = item.strip().rsplit(":", 2)
        if len(parts) != 3 or not parts[0].strip() or not parts[1].strip():
            raise _error(line, "steps_hours", f"step {i} is not name:role:hours: {item!r}")
        name, role, hours = (p.strip() for p in parts)
        steps.append(StepSpec(name, role, _number(hours, line, "steps_hours")))
    return tuple(steps)


def steps_over_duration(duration_unit: str, duration_amount: float, budgets: list[float]) -> str | None:
    """Why step budgets (working hours) do not fit in the procedure's duration, or None if they
    do (RULES.md section 3: they sum to at most the duration)."""
    if duration_unit == "working_days":
        limit = duration_amount * HOURS_PER_DAY
    elif duration_unit == "working_hours":
        limit = duration_amount
    elif duration_unit == "calendar_days":
        limit = duration_amount * HOURS_PER_DAY  # an upper bound: calendar days include days off
    else:
        limit = HOURS_PER_DAY
    total = sum(budgets)
    if total > limit + 1e-9:
        return f"step budgets sum to {total:g} h, more than the duration ({limit:g} h)"
    return None


def _parse_documents(raw: str, line: int) -> tuple[DocumentSpec, ...]:
    try:
        items = clean_documents(parse_document_lines("\n".join(raw.split(";")), "documents"))
    except ValidationError as exc:
        raise _error(line, "documents", exc.message("en")) from None
    return tuple(DocumentSpec(item["name"], item["form"], item["count"]) for item in items)


def _parse_row(row: dict[str, str | None], line: int) -> ProcedureSpec:
    def text(column: str, *, required: bool = False, max_length: int = 500) -> str | None:
        try:
            return clean_text(row.get(column), column, max_length=max_length, required=required)
        except ValidationError as exc:
            raise _error(line, column, exc.message("en")) from None

    unit = text("duration_unit", required=True)
    if unit not in DURATION_UNITS:
        raise _error(line, "duration_unit", f"{unit!r} is not one of {', '.join(DURATION_UNITS)}")
    amount = _number(text("duration_amount", required=True) or "", line, "duration_amount")
    if unit == "same_day" and amount != 0:
        raise _error(line, "duration_amount", "a same_day procedure has amount 0")
    if unit == "calendar_days" and (amount < 1 or amount != int(amount)):
        raise _error(line, "duration_amount", "calendar_days needs a whole number of days ≥ 1")
    if unit in ("working_days", "working_hours") and amount <= 0:
        raise _error(line, "duration_amount", "must be more than 0")
    if amount > MAX_DURATION.get(unit, 0) and unit != "same_day":
        # A typo such as 99999999999 would make every due-instant computation run for ever.
        raise _error(line, "duration_amount", f"at most {MAX_DURATION[unit]:g} {unit}")
    cutoff_raw = text("same_day_cutoff")
    cutoff = None
    if cutoff_raw:
        try:
            cutoff = time.fromisoformat(cutoff_raw)
        except ValueError:
            raise _error(line, "same_day_cutoff", f"not a time HH:MM: {cutoff_raw!r}") from None
        if unit != "same_day":
            raise _error(line, "same_day_cutoff", "only same_day procedures have a cut-off")
    steps = _parse_steps(text("steps_hours", required=True, max_length=4000) or "", line)
    problem = steps_over_duration(unit, amount, [s.budget_hours for s in steps])
    if problem:
        raise _error(line, "steps_hours", problem)
    policy = text("pause_policy") or "extend"
    if policy not in PAUSE_POLICIES:
        raise _error(line, "pause_policy", f"{policy!r} is not one of {', '.join(PAUSE_POLICIES)}")
    code = text("code", required=True, max_length=32)
    assert code is not None
    return ProcedureSpec(
        code=code,
        name_vi=text("name_vi", required=True) or "",
        name_en=text("name_en"),
        field=text("field", max_length=200),
        level=text("level", max_length=32),
        duration_unit=unit,
        duration_amount=amount,
        same_day_cutoff=cutoff,
        legal_basis=text("legal_basis", max_length=2000),
        pause_policy=policy,
        pause_policy_basis=text("pause_policy_basis", max_length=2000),
        steps=steps,
        fees=text("fees", max_length=500),
        documents=_parse_documents(text("documents", max_length=20000) or "", line),
    )


def parse_catalogue(data: bytes | str) -> list[ProcedureSpec]:
    """Every row checked; the first error raises with its line (as a spreadsheet numbers it)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _error(1, "*", f"the file is not UTF-8 (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(data, newline=""))
    try:
        return _parse_rows(reader)
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise _error(reader.line_num or 1, "*", str(exc)) from None


def _parse_rows(reader: csv.DictReader) -> list[ProcedureSpec]:
    header = reader.fieldnames or []
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise _error(1, ", ".join(missing), "missing column(s)")
    unknown = [c for c in header if c not in COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise _error(1, ", ".join(unknown), "unknown column(s)")
    specs: list[ProcedureSpec] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            raise _error(line, "*", "more fields than the header has columns")
        spec = _parse_row(row, line)
        if spec.code in seen:
            raise _error(line, "code", f"{spec.code} repeats line {seen[spec.code]}")
        seen[spec.code] = line
        specs.append(spec)
    if not specs:
        raise _error(2, "*", "the catalogue has no procedures")
    return specs


@dataclass(frozen=True)
class LoadReport:
    created: tuple[str, ...]
    new_versions: tuple[str, ...]
    unchanged: tuple[str, ...]
    checklists: tuple[str, ...] = ()  # codes whose document checklist the file set or changed


def load_catalogue(session: Session, data: bytes | str) -> LoadReport:
    specs = parse_catalogue(data)
    created, versioned, unchanged, checklists = [], [], [], []
    for spec in specs:
        if spec.documents and _set_checklist(session, spec):
            checklists.append(spec.code)
        current = session.scalar(
            select(Procedure)
            .where(Procedure.code == spec.code)
            .order_by(Procedure.version.desc())
            .limit(1)
        )
        if current is not None and not spec.differs_from(current) and current.active:
            unchanged.append(spec.code)
            continue
        if current is not None:
            for older in session.scalars(select(Procedure).where(Procedure.code == spec.code)):
                older.active = False
            versioned.append(spec.code)
        else:
            created.append(spec.code)
        # The file has no column for a step's unit: a step that stays the same keeps the unit an
        # administrator gave it in the process editor.
        units = {(s.position, s.name, s.role): s.unit_code for s in current.steps} if current else {}
        session.add(
            Procedure(
                code=spec.code,
                version=(current.version + 1) if current else 1,
                name_vi=spec.name_vi,
                name_en=spec.name_en,
                field=spec.field,
                level=spec.level,
                duration_unit=spec.duration_unit,
                duration_amount=spec.duration_amount,
                same_day_cutoff=spec.same_day_cutoff,
                legal_basis=spec.legal_basis,
                pause_policy=spec.pause_policy,
                pause_policy_basis=spec.pause_policy_basis,
                fees=spec.fees,
                active=True,
                created_at=clock.now(),
                steps=[
                    ProcessStep(position=i, name=s.name, role=s.role, budget_hours=s.budget_hours,
                                unit_code=units.get((i, s.name, s.role)))
                    for i, s in enumerate(spec.steps, start=1)
                ],
            )
        )
    session.flush()
    return LoadReport(tuple(created), tuple(versioned), tuple(unchanged), tuple(checklists))


def _set_checklist(session: Session, spec: ProcedureSpec) -> bool:
    """Replace the code's checklist by the file's, unless it is that already (then an
    administrator's unchanged checklist is not rewritten at every load)."""
    current = session.scalars(
        select(ProcedureDocument)
        .where(ProcedureDocument.procedure_code == spec.code)
        .order_by(ProcedureDocument.position)
    ).all()
    if [(d.name, d.form, d.count) for d in current] == [(d.name, d.form, d.count) for d in spec.documents]:
        return False
    session.execute(delete(ProcedureDocument).where(ProcedureDocument.procedure_code == spec.code))
    session.add_all(
        ProcedureDocument(procedure_code=spec.code, position=i, name=d.name, form=d.form, count=d.count)
        for i, d in enumerate(spec.documents, start=1)
    )
    return True


def load_catalogue_file(session: Session, path: str | Path) -> LoadReport:
    return load_catalogue(session, Path(path).read_bytes())


def bundled_catalogue() -> bytes:
    """The illustrative commune-level catalogue shipped with onestop."""
    return resources.files("onestop").joinpath("data/procedures.csv").read_bytes()
