"""The official forms of Circular 03/2025/TT-VPCP, Appendix I (RULES.md section 6), as data.

Pure functions: each builds the fields one form prints from a case and its history. The web
layer lays them out as print-ready HTML and PDF. The forms are legal documents and always read
in Vietnamese, whatever the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from onestop.calendar import DayInfo, DueExplanation, WorkCalendar
from onestop.classification import classify_assignment
from onestop.errors import NotFound
from onestop.models import Case, CaseEvent, Pause, StepAssignment
from onestop.settings import Policy

FORM_TITLES: dict[str, str] = {
    "01": "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
    "02": "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ",
    "03": "Phiếu từ chối tiếp nhận giải quyết hồ sơ",
    "04": "Văn bản xin lỗi và đề nghị gia hạn",
    "05": "Thông báo dừng giải quyết hồ sơ",
    "06": "Phiếu kiểm soát quá trình giải quyết hồ sơ",
}
DOCUMENT_FORM_LABELS = {
    "original": "Bản chính",
    "copy": "Bản sao",
    "certified_copy": "Bản sao chứng thực",
}
RETURN_METHODS = {  # by RESULT_RETURNS; a case without one returns the channel's way
    "in_person": "Trực tiếp tại Bộ phận Một cửa",
    "post": "Qua dịch vụ bưu chính công ích",
    "online": "Trực tuyến (bản điện tử) và tại Bộ phận Một cửa",
}
PAUSE_REASONS = {
    "supplement": "Chờ bổ sung, hoàn thiện hồ sơ",
    "financial_obligation": "Chờ thực hiện nghĩa vụ tài chính",
}


@dataclass(frozen=True)
class Applicant:
    name: str
    id_number: str | None
    address: str | None
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class DocumentLine:
    name: str
    form: str
    count: int


@dataclass(frozen=True)
class Header:
    """What every form prints on top: the unit, its parent, the case and its applicant."""

    unit_name: str
    parent_name: str | None
    receipt_code: str
    procedure_code: str
    procedure_name: str
    applicant: Applicant
    received_at: datetime | None


@dataclass(frozen=True)
class Receipt:
    """Form 01."""

    header: Header
    documents: tuple[DocumentLine, ...]
    appointment: datetime
    return_method: str
    fees: str | None
    case_book_entry: str
    received_by: str


@dataclass(frozen=True)
class SupplementRequest:
    """Form 02: at intake (guided) or during processing (a supplement pause)."""

    header: Header
    at_intake: bool
    requested_at: datetime
    documents: tuple[DocumentLine, ...]
    reason: str | None
    contact_officer: str | None
    contact_unit: str | None


@dataclass(frozen=True)
class Refusal:
    """Form 03 (at intake), or the reasoned notice of a refusal after review."""

    header: Header
    at_intake: bool
    refused_at: datetime
    reason: str | None
    officer: str | None


@dataclass(frozen=True)
class ExtensionNotice:
    """Form 04: signed by the unit head."""

    header: Header
    issued_at: datetime
    original_due_at: datetime | None
    previous_due_at: datetime
    new_due_at: datetime
    reason: str
    responsible_unit: str
    signed_by: str


@dataclass(frozen=True)
class StopNotice:
    """Form 05."""

    header: Header
    stopped_at: datetime
    reason: str | None
    legal_ground: str | None
    officer: str | None


@dataclass(frozen=True)
class SlipRow:
    """One row of the control slip: a handover from the giver to the receiver, and the step's
    result against its own budget (early / on time / late), or its state while open."""

    number: int
    step_position: int
    step_name: str
    unit_name: str
    given_by: str | None
    received_by: str
    handed_at: datetime
    due_at: datetime
    ended_at: datetime | None
    end_kind: str | None
    result: str | None
    state: str | None
    note: str | None


@dataclass(frozen=True)
class PauseLine:
    reason: str
    reason_label: str
    started_at: datetime
    ended_at: datetime | None
    working_hours: float | None
    note: str | None
    requested_by: str | None


@dataclass(frozen=True)
class ControlSlip:
    """Form 06."""

    header: Header
    due_at: datetime | None
    original_due_at: datetime | None
    lead_agency: str
    rows: tuple[SlipRow, ...]
    pauses: tuple[PauseLine, ...]
    extension: ExtensionNotice | None
    ended_at: datetime | None
    returned_at: datetime | None


def header(case: Case) -> Header:
    unit = case.unit
    return Header(
        unit_name=unit.name,
        parent_name=unit.parent.name if unit.parent is not None else None,
        receipt_code=case.receipt_code,
        procedure_code=case.procedure.code,
        procedure_name=case.procedure.name_vi,
        applicant=Applicant(
            name=case.applicant_name,
            id_number=case.applicant_id_number,
            address=case.applicant_address,
            phone=case.applicant_phone,
            email=case.applicant_email,
        ),
        received_at=case.received_at,
    )


def _documents(items: object) -> tuple[DocumentLine, ...]:
    lines = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("name"):
            lines.append(
                DocumentLine(str(item["name"]), str(item.get("form") or "original"), int(item.get("count") or 1))
            )
    return tuple(lines)


def _last_event(case: Case, *kinds: str) -> CaseEvent | None:
    return next((e for e in reversed(case.events) if e.kind in kinds), None)


def _name(event: CaseEvent | None) -> str | None:
    return event.actor.full_name if event is not None and event.actor is not None else None


def available_forms(case: Case) -> list[str]:
    """The forms that exist for the case as it stands."""
    forms = []
    if case.received_at is not None:
        forms.append("01")
    if case.status == "guided" or any(p.reason == "supplement" for p in case.pauses):
        forms.append("02")
    if case.status in ("refused_at_intake", "refused"):
        forms.append("03")
    if case.extension is not None:
        forms.append("04")
    if case.status == "stopped":
        forms.append("05")
    if case.received_at is not None:
        forms.append("06")
    return forms


def _unavailable(case: Case, number: str) -> NotFound:
    return NotFound("form_not_available", form=number, code=case.receipt_code)


def receipt(case: Case) -> Receipt:
    """Form 01: what was received, when, and the appointment to return the result."""
    if case.received_at is None or case.original_due_at is None:
        raise _unavailable(case, "01")
    first = case.assignments[0] if case.assignments else None
    return Receipt(
        header=header(case),
        documents=_documents(case.documents),
        appointment=case.original_due_at,
        return_method=RETURN_METHODS.get(case.result_return or case.channel, RETURN_METHODS["in_person"]),
        fees=case.procedure.fees,  # None: the form leaves the line to fill in
        case_book_entry=case.receipt_code,
        received_by=first.owner.full_name if first is not None else "",
    )


def supplement_request(case: Case, pause_id: int | None = None) -> SupplementRequest:
    """Form 02: the one full list of what to add or fix. Without `pause_id`, the latest."""
    if case.status == "guided":
        event = _last_event(case, "guided")
        if event is None:
            raise _unavailable(case, "02")
        officer = event.actor
        return SupplementRequest(
            header=header(case), at_intake=True, requested_at=event.at,
            documents=_documents(event.data.get("missing")), reason=event.reason,
            contact_officer=officer.full_name if officer else None,
            contact_unit=case.unit.name,
        )
    pauses = [p for p in case.pauses if p.reason == "supplement"]
    if pause_id is not None:
        pauses = [p for p in pauses if p.id == pause_id]
    if not pauses:
        raise _unavailable(case, "02")
    pause: Pause = pauses[-1]
    requester = next((a for a in case.assignments if a.owner_id == pause.requested_by_id), None)
    return SupplementRequest(
        header=header(case), at_intake=False, requested_at=pause.started_at,
        documents=_documents(pause.documents), reason=pause.note,
        contact_officer=requester.owner.full_name if requester else None,
        contact_unit=requester.unit.name if requester else case.unit.name,
    )


def refusal(case: Case) -> Refusal:
    """Form 03 for a refusal at intake; the same notice, reasoned, for a refusal after review."""
    if case.status not in ("refused_at_intake", "refused"):
        raise _unavailable(case, "03")
    event = _last_event(case, case.status)
    return Refusal(
        header=header(case), at_intake=case.status == "refused_at_intake",
        refused_at=event.at if event else case.submitted_at,
        reason=event.reason if event else None, officer=_name(event),
    )


def extension_notice(case: Case) -> ExtensionNotice:
    """Form 04: the apology, the reason naming the responsible unit, the new date."""
    extension = case.extension
    if extension is None:
        raise _unavailable(case, "04")
    return ExtensionNotice(
        header=header(case), issued_at=extension.issued_at,
        original_due_at=case.original_due_at, previous_due_at=extension.previous_due_at,
        new_due_at=extension.new_due_at, reason=extension.reason,
        responsible_unit=extension.responsible_unit.name, signed_by=extension.issued_by.full_name,
    )


def stop_notice(case: Case) -> StopNotice:
    """Form 05: the reason and its legal ground."""
    if case.status != "stopped":
        raise _unavailable(case, "05")
    event = _last_event(case, "stopped")
    return StopNotice(
        header=header(case), stopped_at=event.at if event else case.ended_at or case.submitted_at,
        reason=event.reason if event else None,
        legal_ground=(event.data or {}).get("legal_ground") if event else None,
        officer=_name(event),
    )


def slip_row(number: int, assignment: StepAssignment, calendar: WorkCalendar, now: datetime,
             policy: Policy) -> SlipRow:
    state = None
    if assignment.ended_at is None:
        state = classify_assignment(assignment, calendar, now, policy)
    return SlipRow(
        number=number,
        step_position=assignment.step_position,
        step_name=assignment.step_name,
        unit_name=assignment.unit.name,
        given_by=assignment.given_by.full_name if assignment.given_by else None,
        received_by=assignment.owner.full_name,
        handed_at=assignment.started_at,
        due_at=assignment.due_at,
        ended_at=assignment.ended_at,
        end_kind=assignment.end_kind,
        result=assignment.result,
        state=state,
        note=assignment.note,
    )


def pause_lines(case: Case) -> tuple[PauseLine, ...]:
    lines = []
    for pause in case.pauses:
        requester = next((a.owner for a in case.assignments if a.owner_id == pause.requested_by_id), None)
        lines.append(PauseLine(
            reason=pause.reason, reason_label=PAUSE_REASONS.get(pause.reason, pause.reason),
            started_at=pause.started_at, ended_at=pause.ended_at,
            working_hours=pause.paused_working_hours, note=pause.note,
            requested_by=requester.full_name if requester else None,
        ))
    return tuple(lines)


def control_slip(
    case: Case, calendar: WorkCalendar, now: datetime, policy: Policy | None = None
) -> ControlSlip:
    """Form 06: one row per handover, with giver, receiver, times and each step's result."""
    if case.received_at is None:
        raise _unavailable(case, "06")
    policy = policy or Policy.from_env()
    return ControlSlip(
        header=header(case),
        due_at=case.due_at,
        original_due_at=case.original_due_at,
        lead_agency=case.unit.name,
        rows=tuple(
            slip_row(i, a, calendar, now, policy) for i, a in enumerate(case.assignments, start=1)
        ),
        pauses=pause_lines(case),
        extension=extension_notice(case) if case.extension is not None else None,
        ended_at=case.ended_at,
        returned_at=case.returned_at,
    )


def build(number: str, case: Case, calendar: WorkCalendar, now: datetime) -> object:
    """The data of form `number` (01-06) for `case`; NotFound if the case has no such form."""
    builders = {
        "01": receipt,
        "02": supplement_request,
        "03": refusal,
        "04": extension_notice,
        "05": stop_notice,
    }
    if number == "06":
        return control_slip(case, calendar, now)
    if number not in builders:
        raise NotFound("form_not_available", form=number, code=case.receipt_code)
    return builders[number](case)


# --- the due instant, explained ---------------------------------------------------------------

@dataclass(frozen=True)
class ExplainedDay:
    day: DayInfo
    counted_hours: float
    skipped: bool


@dataclass(frozen=True)
class DueStory:
    """How the case's due instant came about: the duration counted through working days from
    receipt, then each pause added (or a restart), then an extension if one was granted."""

    explanation: DueExplanation | None
    days: tuple[ExplainedDay, ...]
    pauses: tuple[PauseLine, ...]
    pause_policy: str
    recomputed: tuple[CaseEvent, ...]
    original_due_at: datetime | None
    due_at: datetime | None
    extended_to: datetime | None


def due_story(case: Case, calendar: WorkCalendar) -> DueStory | None:
    if case.received_at is None:
        return None
    procedure = case.procedure
    try:
        explanation = calendar.explain_due(
            case.received_at, procedure.duration_unit, procedure.duration_amount,
            procedure.same_day_cutoff,
        )
    except ValueError:  # an imported case whose record the calendar cannot replay
        explanation = None
    days = tuple(
        ExplainedDay(calendar.describe_day(line.day), line.counted_hours, line.skipped)
        for line in (explanation.days if explanation else ())
    )
    return DueStory(
        explanation=explanation,
        days=days,
        pauses=pause_lines(case),
        pause_policy=procedure.pause_policy,
        recomputed=tuple(e for e in case.events if e.kind == "due_recomputed"),
        original_due_at=case.original_due_at,
        due_at=case.due_at,
        extended_to=case.extension.new_due_at if case.extension else None,
    )
