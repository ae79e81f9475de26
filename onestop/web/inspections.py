"""Surprise inspections for inspectors: this week's sample, and a finding on each case."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from onestop import clock, lifecycle
from onestop.calendar_store import work_calendar
from onestop.classification import classify_case
from onestop.errors import OnestopError
from onestop.i18n import translate
from onestop.inspections import get_sample, record_finding, samples_for
from onestop.web import db_session, ui_text
from onestop.web.auth import role_required
from onestop.web.shell import current_officer, error_page

bp = Blueprint("inspections", __name__)

if not any(link[0] == "inspections.index" for link in ui_text.NAV_LINKS):
    ui_text.NAV_LINKS.append(("inspections.index", "Kiểm tra đột xuất", ("inspector",), None))
for vi, en in {
    "Kiểm tra đột xuất": "Surprise inspections",
    "Hồ sơ được phân công kiểm tra": "Cases assigned to you for inspection",
    "Tuần bắt đầu {week}": "Week starting {week}",
    "Chưa có hồ sơ nào được phân công.": "No case has been assigned to you yet.",
    "Đúng quy định": "In order",
    "Có sai phạm": "Irregular",
    "Chưa kiểm tra": "Not inspected yet",
    "Kết quả kiểm tra": "Finding",
    "Ghi chú (bắt buộc khi có sai phạm)": "Note (required when irregular)",
    "Ghi nhận kết quả": "Record the finding",
    "Đã ghi nhận kết quả kiểm tra hồ sơ {code}.": "The finding on case {code} was recorded.",
    "Nhật ký xử lý": "History",
    "Kết quả": "Result",
    "Nhóm thủ tục": "Stratum",
    "Kết quả kiểm tra đột xuất": "Surprise inspection finding",
}.items():
    ui_text.EN.setdefault(vi, en)

ui_text.EVENT_LABELS.setdefault("inspection_finding", "Kết quả kiểm tra đột xuất")

VERDICT_LABELS = {"in_order": "Đúng quy định", "irregular": "Có sai phạm"}


@bp.get("/inspections")
@role_required("inspector")
def index():
    samples = samples_for(db_session(), current_officer())
    weeks: dict = {}
    for sample in samples:
        weeks.setdefault(sample.week_start, []).append(sample)
    return render_template("inspections/index.html", weeks=weeks, verdicts=VERDICT_LABELS)


def _own_sample(sample_id: int):
    session = db_session()
    try:
        sample = get_sample(session, sample_id)
    except OnestopError as exc:
        return None, error_page(exc.http_status, exc.message(ui_text.current_language()))
    if sample.inspector_id != current_officer().id:
        return None, error_page(403, translate("not_your_sample", ui_text.current_language()))
    return sample, None


@bp.get("/inspections/<int:sample_id>")
@role_required("inspector")
def show(sample_id: int):
    sample, refused = _own_sample(sample_id)
    if refused:
        return refused
    return _page(sample)


def _page(sample, status: int = 200, error: str | None = None, note: str = ""):
    session = db_session()
    case = sample.case
    calendar = work_calendar(session)
    state = classify_case(case, calendar, clock.now())
    events = lifecycle.history(session, case)
    return render_template(
        "inspections/sample.html",
        sample=sample,
        case=case,
        state=state,
        events=events,
        verdicts=VERDICT_LABELS,
        error=error,
        note=note,
    ), status


@bp.post("/inspections/<int:sample_id>")
@role_required("inspector")
def record(sample_id: int):
    sample, refused = _own_sample(sample_id)
    if refused:
        return refused
    session = db_session()
    note = request.form.get("note", "")
    try:
        record_finding(session, sample, current_officer(), request.form.get("verdict", ""), note)
    except OnestopError as exc:
        session.rollback()
        sample = get_sample(session, sample_id)
        return _page(sample, exc.http_status, exc.message(ui_text.current_language()), note)
    session.commit()
    flash(
        ui_text.translate(
            "Đã ghi nhận kết quả kiểm tra hồ sơ {code}.", code=sample.case.receipt_code
        ),
        "info",
    )
    return redirect(url_for("inspections.index"), 303)
