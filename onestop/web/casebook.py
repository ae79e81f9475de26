"""The case book page (form 07): a unit's book for a period, printable, as Excel, and the
import of an existing book with its per-line problem report."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from onestop import clock
from onestop.access import visible_unit_ids
from onestop.calendar_store import work_calendar
from onestop.casebook import COLUMNS, CaseBookRejected, book_rows, export_xlsx, import_case_book
from onestop.errors import OnestopError
from onestop.i18n import translate as translate_message
from onestop.lifecycle import is_desk_for
from onestop.models import Unit
from onestop.validation import parse_local_date
from onestop.web import db_session, ui_text
from onestop.web.auth import current_officer, role_required
from onestop.web.case_views import render_pdf
from onestop.web.shell import error_page
from onestop.web.ui_text import current_language, translate

bp = Blueprint("casebook", __name__, url_prefix="/casebook")

BOOK_ROLES = ("desk", "unit_head", "chair", "admin", "inspector")
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

ui_text.NAV_LINKS.append(("casebook.index", "Sổ theo dõi hồ sơ", BOOK_ROLES, "b"))
ui_text.EN.update({
    "Sổ theo dõi hồ sơ": "Case book",
    "Đơn vị": "Unit",
    "Từ ngày": "From",
    "Đến ngày": "To",
    "Xem": "Show",
    "Tải Excel": "Download Excel",
    "In sổ": "Print",
    "Nhập sổ cũ": "Import a book",
    "Không có hồ sơ nào được tiếp nhận trong kỳ này.": "No case was received in this period.",
    "{n} hồ sơ": "{n} case(s)",
    "Nhập sổ theo dõi hồ sơ": "Import a case book",
    "Tệp sổ (.xlsx hoặc CSV UTF-8)": "Book file (.xlsx or UTF-8 CSV)",
    "Nhập": "Import",
    "Nhập vào đơn vị": "Import into unit",
    "Ngày không hợp lệ: {value}": "Not a date: {value}",
    "Chọn tệp sổ cần nhập.": "Choose the book file to import.",
    "Tệp quá lớn (tối đa {mb} MB).": "The file is too large (at most {mb} MB).",
    "Bạn không được xem sổ của đơn vị này.": "You may not see this unit's book.",
    "Chỉ cán bộ một cửa của đơn vị mới nhập được sổ.": "Only a desk officer of the unit can import its book.",
    "Các cột của sổ": "Columns of the book",
    "Mỗi dòng một hồ sơ. Dòng có «Ngày trả kết quả» là hồ sơ đã trả; dòng không có ngày trả tiếp tục giải quyết, do bạn giữ ở bước đầu. Ngày viết dd/mm/yyyy hoặc yyyy-mm-dd, có thể kèm giờ HH:MM. Sổ có lỗi thì không dòng nào được nhập.":
        "One case per row. A row with a return date is a returned case; a row without one stays open, held by you at the first step. Dates as dd/mm/yyyy or yyyy-mm-dd, optionally with HH:MM. If any row is wrong, nothing is imported.",
})


def _parse_day(raw: str | None, default: date) -> date:
    text = (raw or "").strip()
    if not text:
        return default
    try:
        return parse_local_date(text)
    except ValueError:
        raise ValueError(text[:20]) from None


def _units(officer) -> list[Unit]:
    session = db_session()
    ids = visible_unit_ids(session, officer)
    if not ids:
        return []
    return list(session.scalars(select(Unit).where(Unit.id.in_(ids)).order_by(Unit.code)))


def _default_unit(officer, units: list[Unit]) -> Unit | None:
    """The unit of the officer's first role (the commune for a desk officer), if they see it."""
    visible = {u.id: u for u in units}
    for held in officer.roles:
        unit = held.unit.parent if held.unit.kind == "desk" and held.unit.parent else held.unit
        if unit.id in visible:
            return unit
    return units[0] if units else None


def _selection():
    """The unit and period asked for, checked against what the officer may see."""
    officer = current_officer()
    units = _units(officer)
    code = (request.args.get("unit") or "").strip()[:32]
    unit = next((u for u in units if u.code == code), None) if code else _default_unit(officer, units)
    if unit is None:
        return None, error_page(403, translate("Bạn không được xem sổ của đơn vị này."))
    today = clock.now().astimezone(work_calendar(db_session()).zone).date()
    try:
        start = _parse_day(request.args.get("from"), today.replace(day=1))
        end = _parse_day(request.args.get("to"), today)
    except ValueError as exc:
        return None, error_page(422, translate("Ngày không hợp lệ: {value}", value=str(exc)))
    return (officer, units, unit, start, end), None


def _book():
    """The selection and the book's rows for it, or the page refusing them."""
    selection, refusal = _selection()
    if refusal:
        return None, refusal
    _, _, unit, start, end = selection
    try:
        rows = book_rows(db_session(), unit, start, end)
    except OnestopError as exc:
        return None, error_page(exc.http_status, exc.message(current_language()))
    return (selection, rows), None


@bp.get("")
@role_required(*BOOK_ROLES)
def index():
    found, refusal = _book()
    if refusal:
        return refusal
    (officer, units, unit, start, end), rows = found
    zone = work_calendar(db_session()).zone
    return render_template(
        "casebook/index.html", units=units, unit=unit, start=start, end=end, columns=COLUMNS,
        rows=[row.cells(zone) for row in rows], can_import=is_desk_for(officer, unit),
    )


@bp.get("/export.xlsx")
@role_required(*BOOK_ROLES)
def export():
    found, refusal = _book()
    if refusal:
        return refusal
    (_, _, unit, start, end), rows = found
    data = export_xlsx(rows, unit, start, end, work_calendar(db_session()).zone)
    name = f"so-theo-doi-{unit.code}-{start:%Y%m%d}-{end:%Y%m%d}.xlsx"
    return Response(
        data, mimetype=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@bp.get("/export.pdf")
@role_required(*BOOK_ROLES)
def export_pdf():
    """The printed book as a PDF on A4 landscape, laid out as the page prints it."""
    found, refusal = _book()
    if refusal:
        return refusal
    (_, _, unit, start, end), rows = found
    zone = work_calendar(db_session()).zone
    html = render_template(
        "casebook/book_pdf.html", unit=unit, start=start, end=end, columns=COLUMNS,
        rows=[row.cells(zone) for row in rows],
    )
    name = f"so-theo-doi-{unit.code}-{start:%Y%m%d}-{end:%Y%m%d}.pdf"
    return Response(
        render_pdf(html, "casebook.css"), mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@bp.route("/import", methods=["GET", "POST"])
@role_required("desk")
def import_book():
    officer = current_officer()
    units = [u for u in _units(officer) if is_desk_for(officer, u)]
    chosen = (request.values.get("unit") or "").strip()[:32]
    unit = next((u for u in units if u.code == chosen), None) if chosen else _default_unit(officer, units)
    context = {"units": units, "unit": unit, "problems": None, "error": None}
    if request.method == "GET":
        return render_template("casebook/import.html", **context)
    if unit is None:
        context["error"] = translate("Chỉ cán bộ một cửa của đơn vị mới nhập được sổ.")
        return render_template("casebook/import.html", **context), 403
    if (request.content_length or 0) > MAX_UPLOAD_BYTES:
        context["error"] = translate("Tệp quá lớn (tối đa {mb} MB).", mb=MAX_UPLOAD_BYTES // 2**20)
        return render_template("casebook/import.html", **context), 413
    upload = request.files.get("book")
    if upload is None or not upload.filename:
        context["error"] = translate("Chọn tệp sổ cần nhập.")
        return render_template("casebook/import.html", **context), 422
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        context["error"] = translate("Tệp quá lớn (tối đa {mb} MB).", mb=MAX_UPLOAD_BYTES // 2**20)
        return render_template("casebook/import.html", **context), 413
    session = db_session()
    lang = current_language()
    try:
        report = import_case_book(
            session, data, unit_code=unit.code, officer=officer, filename=upload.filename,
        )
        session.commit()
    except CaseBookRejected as exc:
        session.rollback()
        context["error"] = translate_message("book_rejected", lang, count=len(exc.problems))
        context["problems"] = [p.message(lang) for p in exc.problems]
        return render_template("casebook/import.html", **context), 422
    except OnestopError as exc:
        session.rollback()
        context["error"] = exc.message(lang)
        return render_template("casebook/import.html", **context), exc.http_status
    flash(translate_message(
        "book_imported", lang, total=report.total, finished=report.finished, open=report.open
    ), "info")
    return redirect(url_for("casebook.index", unit=unit.code, **_period(report)), 303)


def _period(report) -> dict[str, str]:
    """Show the book over the imported rows' receipt dates."""
    if not report.cases:
        return {}
    zone = work_calendar(db_session()).zone
    days = [c.received_at.astimezone(zone).date() for c in report.cases]
    return {"from": min(days).isoformat(), "to": max(days).isoformat()}
