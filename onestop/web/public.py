"""Public pages: the overview, and the citizen look-up by receipt code.

The look-up tells anyone with the receipt code where the case stands, in plain Vietnamese: its
status, the appointment (the new date if it was extended) and which unit holds it now, never
an officer's name or note. The last four digits of the applicant's phone number unlock the
personal details, the one rating an applicant may give and the complaint form.
"""

from __future__ import annotations

import hmac
import re

from flask import Blueprint, current_app, jsonify, render_template, request
from sqlalchemy import case as when
from sqlalchemy import func, select

from onestop import clock
from onestop.calendar_store import work_calendar
from onestop.casebook import valid_receipt_code
from onestop.classification import classify_case
from onestop.errors import NotFound, OnestopError, ValidationError
from onestop.i18n import CLASSIFICATION_LABELS, STATUS_LABELS, label, translate
from onestop.lifecycle import find_case
from onestop.models import OPEN_STATUSES, Case, Rating, Unit
from onestop.satisfaction import record_complaint, record_rating
from onestop.web import db_session, ui_text
from onestop.web.extensions import limiter
from onestop.web.ui_text import current_language

bp = Blueprint("public", __name__)

DEFAULT_LOOKUP_LIMIT = "20/minute"
_DIGITS = re.compile(r"^[0-9]{4}$")


def _lookup_limit() -> str:
    return current_app.config.get("LOOKUP_RATE_LIMIT", DEFAULT_LOOKUP_LIMIT)


# One budget per address for every look-up action, so guessing phone digits stays slow.
lookup_limit = limiter.shared_limit(
    _lookup_limit, scope="lookup", exempt_when=lambda: not request.values.get("code")
)

ui_text.EN.update({
    "Tra cứu hồ sơ": "Case look-up",
    "Mã hồ sơ": "Receipt code",
    "Bốn số cuối điện thoại (để xem thông tin cá nhân)": "Last four digits of the phone number (to see personal details)",
    "Tra cứu": "Look up",
    "(mã {n})": "(code {n})",
    "Thủ tục": "Procedure",
    "Trạng thái": "Status",
    "Tình hình giải quyết": "Where the case stands",
    "Ngày nhận": "Received",
    "Hẹn trả kết quả": "Appointment",
    "Hẹn trả kết quả (đã gia hạn)": "Appointment (extended)",
    "hẹn ban đầu": "first appointment",
    "Người nộp": "Applicant",
    "Giấy tờ cần bổ sung": "Documents to supplement",
    "Đánh giá mức độ hài lòng": "Rate the service",
    "Hài lòng": "Satisfied",
    "Không hài lòng": "Not satisfied",
    "Ý kiến (không bắt buộc)": "Comment (optional)",
    "Gửi đánh giá": "Send the rating",
    "Ông/bà đã đánh giá hồ sơ này. Cảm ơn ông/bà.": "You have rated this case. Thank you.",
    "Cảm ơn ông/bà đã đánh giá.": "Thank you for your rating.",
    "Phản ánh, kiến nghị": "Complaint",
    "Nội dung phản ánh": "Your complaint",
    "Gửi phản ánh": "Send the complaint",
    "Đã ghi nhận phản ánh của ông/bà.": "Your complaint has been recorded.",
    "Hồ sơ theo đơn vị tiếp nhận": "Cases by receiving unit",
    "Mã": "Code",
    "Đơn vị": "Unit",
    "Tổng số hồ sơ": "All cases",
    "Đang giải quyết": "Open",
    "Quá hạn": "Overdue",
    "Tổng quan": "Overview",
    "Chưa có hồ sơ nào.": "No cases yet.",
    "Nhập mã hồ sơ in trên giấy tiếp nhận.": "Enter the receipt code printed on your receipt.",
})

STEP_TEXT = {
    "submitted": "Hồ sơ đã đăng ký trực tuyến, đang chờ Bộ phận Một cửa tiếp nhận.",
    "guided": "Hồ sơ chưa đủ thành phần; ông/bà đã được hướng dẫn hoàn thiện trước khi nộp lại.",
    "refused_at_intake": "Hồ sơ không được tiếp nhận; lý do ghi trong phiếu từ chối tiếp nhận.",
    "awaiting_supplement": (
        "Đang chờ ông/bà bổ sung, hoàn thiện hồ sơ theo phiếu yêu cầu bổ sung. "
        "Thời gian chờ không tính vào thời hạn giải quyết."
    ),
    "awaiting_payment": (
        "Đang chờ ông/bà thực hiện nghĩa vụ tài chính (thuế, phí, lệ phí). "
        "Thời gian chờ không tính vào thời hạn giải quyết."
    ),
    "resolved": "Đã có kết quả. Mời ông/bà đến Bộ phận Một cửa nhận kết quả.",
    "returned": "Đã trả kết quả cho ông/bà.",
    "refused": "Hồ sơ bị từ chối giải quyết; lý do ghi trong văn bản trả lời gửi ông/bà.",
    "stopped": "Hồ sơ đã dừng giải quyết; lý do ghi trong thông báo gửi ông/bà.",
    "withdrawn": "Ông/bà đã rút hồ sơ.",
}
ui_text.EN.update({
    STEP_TEXT["submitted"]: "Registered online, waiting for the one-stop desk to receive it.",
    STEP_TEXT["guided"]: "The dossier was incomplete; you were told what to add before submitting again.",
    STEP_TEXT["refused_at_intake"]: "The dossier was not received; the reason is on the refusal slip.",
    STEP_TEXT["awaiting_supplement"]: "Waiting for you to supplement the dossier as the request lists. The wait does not count against the deadline.",
    STEP_TEXT["awaiting_payment"]: "Waiting for you to pay the tax, fees or charges. The wait does not count against the deadline.",
    STEP_TEXT["resolved"]: "The result is ready. Please collect it at the one-stop desk.",
    STEP_TEXT["returned"]: "The result has been returned to you.",
    STEP_TEXT["refused"]: "The case was refused; the reason is in the reply sent to you.",
    STEP_TEXT["stopped"]: "Processing was stopped; the reason is in the notice sent to you.",
    STEP_TEXT["withdrawn"]: "You withdrew the dossier.",
    "Bộ phận Một cửa đã tiếp nhận hồ sơ và đang chuyển đến nơi giải quyết.":
        "The one-stop desk has received the dossier and is passing it on for processing.",
    "Hồ sơ đang được giải quyết tại {unit} (bước {position}/{steps}).":
        "The case is being processed by {unit} (step {position} of {steps}).",
})


def plain_step(case: Case) -> str:
    """Where the case stands, for the applicant: never an officer's name or note."""
    lang = current_language()
    current = case.current_assignment
    if case.status in ("received", "in_progress") and current is not None:
        if current.step_position == 1:
            return ui_text.translate(
                "Bộ phận Một cửa đã tiếp nhận hồ sơ và đang chuyển đến nơi giải quyết.", lang
            )
        return ui_text.translate(
            "Hồ sơ đang được giải quyết tại {unit} (bước {position}/{steps}).", lang,
            unit=current.unit.name, position=current.step_position,
            steps=len(case.procedure.steps) or current.step_position,
        )
    text = STEP_TEXT.get(case.status)
    return ui_text.translate(text, lang) if text else label(STATUS_LABELS, case.status, lang)


@bp.errorhandler(429)
def _too_many(_error):
    code = (request.values.get("code") or "").strip()[:40]
    message = translate("http_rate_limited", current_language())
    return render_template("lookup.html", code=code, result=None, error=message, notice=None), 429


@bp.get("/healthz")
def health():
    db_session().execute(select(1))
    return jsonify(status="ok")


@bp.get("/")
def index():
    session = db_session()
    now = clock.now()
    is_open = Case.status.in_(OPEN_STATUSES)
    rows = session.execute(
        select(
            Unit.code,
            Unit.name,
            func.count(Case.id),
            func.sum(when((is_open, 1), else_=0)),
            func.sum(when((is_open & (Case.due_at < now), 1), else_=0)),
        )
        .join(Case, Case.unit_id == Unit.id)
        .group_by(Unit.code, Unit.name)
        .order_by(Unit.code)
    ).all()
    return render_template("index.html", rows=rows)


def _phone_matches(case: Case, digits: str) -> bool:
    phone = re.sub(r"\D", "", case.applicant_phone or "")
    return len(phone) >= 4 and hmac.compare_digest(phone[-4:], digits)


def _view(case: Case, verified: bool) -> dict:
    session = db_session()
    lang = current_language()
    state = classify_case(case, work_calendar(session), clock.now())
    extension = case.extension
    view = {
        "code": case.receipt_code,
        "procedure": case.procedure.name_vi,
        "status": label(STATUS_LABELS, case.status, lang),
        "status_code": case.status_code,
        "state": label(CLASSIFICATION_LABELS, state, lang) if state else None,
        "step": plain_step(case),
        "received_at": case.received_at,
        "due_at": extension.new_due_at if extension else case.due_at,
        "extended": extension is not None,
        "original_due_at": case.due_at if extension else None,
        "verified": verified,
    }
    if verified:
        pause = case.open_pause
        view.update(
            applicant=case.applicant_name,
            documents=[d.get("name") for d in (pause.documents or [])] if pause and pause.reason == "supplement" else [],
            can_rate=case.received_at is not None and session.scalar(
                select(Rating.id).where(Rating.case_id == case.id, Rating.source == "applicant")
            ) is None,
            can_complain=case.received_at is not None,
        )
    return view


def _find(code: str) -> Case | None:
    if not valid_receipt_code(code):
        return None
    try:
        return find_case(db_session(), code)
    except NotFound:
        return None


def _render(code: str, case: Case | None, *, verified: bool = False, error: str | None = None,
            notice: str | None = None, status: int = 200):
    lang = current_language()
    if code and case is None:
        error = translate("case_not_found", lang, code=code)
        status = 404
    result = _view(case, verified) if case is not None else None
    return render_template(
        "lookup.html", code=code, result=result, error=error, notice=notice,
    ), status


def _read_form() -> tuple[str, Case | None, str, str | None]:
    """The code and phone digits of a look-up form; an error if the digits are malformed or do
    not match (then only public details show)."""
    code = (request.form.get("code") or "").strip()[:40]
    digits = (request.form.get("phone4") or "").strip()
    case = _find(code) if code else None
    error = None
    if case is not None:
        if not _DIGITS.match(digits):
            error = translate("lookup_phone_format", current_language())
        elif not _phone_matches(case, digits):
            error = translate("lookup_phone_mismatch", current_language())
    return code, case, digits, error


@bp.get("/lookup")
@lookup_limit
def lookup():
    code = (request.args.get("code") or "").strip()[:40]
    return _render(code, _find(code) if code else None)


@bp.post("/lookup")
@lookup_limit
def lookup_verified():
    code, case, digits, error = _read_form()
    if case is not None and not digits:
        return _render(code, case)
    return _render(code, case, verified=case is not None and error is None, error=error,
                   status=422 if error else 200)


@bp.post("/lookup/rate")
@lookup_limit
def rate():
    code, case, _digits, error = _read_form()
    if case is None or error:
        return _render(code, case, error=error, status=422 if case is not None else 404)
    answer = request.form.get("satisfied")
    session = db_session()
    lang = current_language()
    try:
        if answer not in ("yes", "no"):
            raise ValidationError("invalid_value", field="satisfied", detail="yes / no")
        record_rating(session, case, answer == "yes", request.form.get("comment"))
        session.commit()
    except OnestopError as exc:
        session.rollback()
        return _render(code, case, verified=True, error=exc.message(lang), status=exc.http_status)
    return _render(code, case, verified=True, notice=ui_text.translate("Cảm ơn ông/bà đã đánh giá.", lang))


@bp.post("/lookup/complaint")
@lookup_limit
def complain():
    code, case, _digits, error = _read_form()
    if case is None or error:
        return _render(code, case, error=error, status=422 if case is not None else 404)
    session = db_session()
    lang = current_language()
    try:
        record_complaint(session, case, request.form.get("text"))
        session.commit()
    except OnestopError as exc:
        session.rollback()
        return _render(code, case, verified=True, error=exc.message(lang), status=exc.http_status)
    return _render(
        code, case, verified=True, notice=ui_text.translate("Đã ghi nhận phản ánh của ông/bà.", lang)
    )
