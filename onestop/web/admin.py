"""Administration: units, officers and their roles, procedures with their internal process and
document checklist, and the calendar's exceptions.

An administrator manages the units at and below the unit where the `admin` role is held; the
procedure catalogue and the calendar are shared by everyone, so they need an `admin` role held
at the top of the tree.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from onestop import accounts, lifecycle
from onestop import admin as admin_ops
from onestop.calendar_store import (
    add_calendar_exception,
    calendar_change_reason,
    remove_calendar_exception,
    work_calendar,
)
from onestop.catalogue import load_catalogue
from onestop.errors import OnestopError, PermissionDenied, ValidationError
from onestop.forms import DOCUMENT_FORM_LABELS
from onestop.intake import active_procedures, checklist, parse_document_lines, set_checklist
from onestop.models import UNIT_KINDS, CalendarException, Officer, OfficerRole, Unit
from onestop.queue import unit_ids_below
from onestop.validation import parse_local_date
from onestop.web import db_session
from onestop.web.auth import role_required
from onestop.web.shell import current_officer, error_page
from onestop.web.ui_text import error_message, translate

bp = Blueprint("admin", __name__, url_prefix="/admin")

MAX_CATALOGUE_BYTES = 5 * 1024 * 1024


def _admin_units(officer: Officer) -> list[Unit]:
    return [r.unit for r in officer.roles if r.role == "admin"]


def _scope(session) -> set[int]:
    return unit_ids_below(session, _admin_units(current_officer()))


def _is_top_admin(officer: Officer) -> bool:
    return any(unit.parent_id is None for unit in _admin_units(officer))


def _require_top_admin() -> None:
    if not _is_top_admin(current_officer()):
        raise PermissionDenied("role_required", role="admin", unit="*")


def _require_in_scope(session, unit: Unit) -> None:
    if unit.id not in _scope(session):
        raise PermissionDenied("role_required", role="admin", unit=unit.code)


def _date(value: object, field: str, required: bool = False) -> date | None:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise ValidationError("required", field=field)
        return None
    try:
        return parse_local_date(text)
    except ValueError:
        raise ValidationError("invalid_value", field=field, detail="YYYY-MM-DD or DD/MM/YYYY") from None


def _done(message: str, endpoint: str, **values):
    db_session().commit()
    flash(message, "success")
    return redirect(url_for(endpoint, **values), 303)


def _refused(exc: OnestopError, page, *args):
    db_session().rollback()
    flash(error_message(exc), "error")
    body = page(*args)
    return body, exc.http_status


# --- overview ---------------------------------------------------------------------------------

@bp.get("/")
@role_required("admin")
def index():
    return render_template("admin/index.html", top=_is_top_admin(current_officer()))


# --- units ------------------------------------------------------------------------------------

def _units_page() -> str:
    session = db_session()
    scope = _scope(session)
    units = [u for u in session.scalars(select(Unit).order_by(Unit.code)) if u.id in scope]
    by_parent: dict[int | None, list[Unit]] = {}
    for unit in units:
        parent = unit.parent_id if unit.parent_id in scope else None
        by_parent.setdefault(parent, []).append(unit)
    rows: list[tuple[int, Unit]] = []

    def walk(parent: int | None, depth: int) -> None:
        for unit in by_parent.get(parent, []):
            rows.append((depth, unit))
            walk(unit.id, depth + 1)

    walk(None, 0)
    return render_template(
        "admin/units.html", rows=rows, kinds=UNIT_KINDS, values=request.form,
        top=_is_top_admin(current_officer()),
    )


@bp.get("/units")
@role_required("admin")
def units():
    return _units_page()


@bp.post("/units")
@role_required("admin")
def units_add():
    session = db_session()
    form = request.form
    try:
        parent_code = (form.get("parent_code") or "").strip() or None
        if parent_code is None:
            _require_top_admin()
        else:
            _require_in_scope(session, lifecycle.find_unit(session, parent_code))
        unit = admin_ops.create_unit(
            session, (form.get("code") or "").strip(), form.get("name"),
            kind=form.get("kind") or "department", parent_code=parent_code,
            effective_from=_date(form.get("effective_from"), "effective_from"),
            effective_to=_date(form.get("effective_to"), "effective_to"),
        )
    except OnestopError as exc:
        return _refused(exc, _units_page)
    return _done(translate("Đã thêm đơn vị {code}.", code=unit.code), "admin.units")


def _managed_unit(session, code: str) -> Unit:
    unit = lifecycle.find_unit(session, code)
    _require_in_scope(session, unit)
    return unit


def _unit_page(code: str) -> str:
    session = db_session()
    unit = _managed_unit(session, code)
    cases, roles, below = admin_ops.unit_open_work(session, unit)
    return render_template(
        "admin/unit.html", unit=unit, values=request.form, open_cases=cases, active_roles=roles,
        units_below=below,
    )


@bp.get("/units/<code>")
@role_required("admin")
def unit(code: str):
    try:
        return _unit_page(code)
    except OnestopError as exc:
        flash(error_message(exc), "error")
        return redirect(url_for("admin.units"))


@bp.post("/units/<code>/<change>")
@role_required("admin")
def unit_change(code: str, change: str):
    session = db_session()
    try:
        unit = _managed_unit(session, code)
        if change == "rename":
            admin_ops.rename_unit(session, unit.code, request.form.get("name"), by=current_officer())
            message = translate("Đã đổi tên đơn vị {code}.", code=unit.code)
        elif change == "close":
            day = _date(request.form.get("effective_to"), "effective_to", required=True)
            admin_ops.close_unit(session, unit.code, day, by=current_officer())
            message = translate("Đã đóng đơn vị {code}; hiệu lực đến ngày {day}.", code=unit.code,
                                day=f"{day:%d/%m/%Y}")
        else:
            return translate("Không có thao tác này."), 404
    except OnestopError as exc:
        try:
            return _refused(exc, _unit_page, code)
        except OnestopError:  # not a unit this administrator manages: no page to show
            return error_page(exc.http_status, error_message(exc))
    return _done(message, "admin.unit", code=code)


# --- officers ---------------------------------------------------------------------------------

def _officers_in_scope(session, scope: set[int]) -> list[Officer]:
    officers = session.scalars(
        select(Officer).join(OfficerRole).where(OfficerRole.unit_id.in_(scope)).distinct()
    ).all()
    return sorted(officers, key=lambda o: o.username)


def _scoped_units(session) -> list[Unit]:
    scope = _scope(session)
    return [u for u in session.scalars(select(Unit).order_by(Unit.code)) if u.id in scope]


def _officers_page() -> str:
    session = db_session()
    return render_template(
        "admin/officers.html", officers=_officers_in_scope(session, _scope(session)),
        units=_scoped_units(session), values=request.form,
    )


@bp.get("/officers")
@role_required("admin")
def officers():
    return _officers_page()


@bp.post("/officers")
@role_required("admin")
def officers_add():
    session = db_session()
    form = request.form
    try:
        unit = lifecycle.find_unit(session, (form.get("unit_code") or "").strip())
        _require_in_scope(session, unit)
        officer = admin_ops.create_officer(
            session, form.get("username") or "", form.get("full_name"), unit_code=unit.code,
            roles=[(form.get("role") or "").strip()], password=form.get("password") or None,
            email=form.get("email"), acting=bool(form.get("acting")),
        )
    except OnestopError as exc:
        return _refused(exc, _officers_page)
    return _done(translate("Đã thêm cán bộ {username}.", username=officer.username),
                 "admin.officer", username=officer.username)


def _managed_officer(session, username: str) -> Officer:
    officer = lifecycle.find_officer(session, username)
    scope = _scope(session)
    if officer.roles and not any(r.unit_id in scope for r in officer.roles):
        raise PermissionDenied("role_required", role="admin", unit=officer.roles[0].unit.code)
    return officer


def _officer_page(username: str) -> str:
    session = db_session()
    officer = _managed_officer(session, username)
    return render_template(
        "admin/officer.html", officer=officer, units=_scoped_units(session), values=request.form,
    )


@bp.get("/officers/<username>")
@role_required("admin")
def officer(username: str):
    try:
        return _officer_page(username)
    except OnestopError as exc:
        flash(error_message(exc), "error")
        return redirect(url_for("admin.officers"))


@bp.post("/officers/<username>/<change>")
@role_required("admin")
def officer_change(username: str, change: str):
    session = db_session()
    form = request.form
    try:
        officer = _managed_officer(session, username)
        if change == "grant":
            unit = lifecycle.find_unit(session, (form.get("unit_code") or "").strip())
            _require_in_scope(session, unit)
            role = (form.get("role") or "").strip()
            admin_ops.grant_role(officer, unit, role, acting=bool(form.get("acting")))
            session.flush()
            message = translate("Đã giao vai trò {role} tại {unit}.", role=role, unit=unit.code)
        elif change == "revoke":
            unit = lifecycle.find_unit(session, (form.get("unit_code") or "").strip())
            _require_in_scope(session, unit)
            accounts.revoke_role(session, officer, unit, (form.get("role") or "").strip())
            message = translate("Đã thu hồi vai trò.")
        elif change == "password":
            accounts.set_password(officer, form.get("password"))
            message = translate("Đã đặt mật khẩu mới; các phiên đăng nhập cũ đã kết thúc.")
        elif change == "active":
            if officer.id == current_officer().id:
                raise ValidationError("invalid_value", field="active", detail="not your own account")
            accounts.set_active(officer, form.get("active") == "1")
            message = translate("Đã mở tài khoản.") if officer.active else translate("Đã khóa tài khoản.")
        else:
            return translate("Không có thao tác này."), 404
        session.flush()
    except OnestopError as exc:
        try:
            return _refused(exc, _officer_page, username)
        except OnestopError:
            return redirect(url_for("admin.officers"))
    return _done(message, "admin.officer", username=username)


# --- procedures -------------------------------------------------------------------------------

def _procedures_page() -> str:
    return render_template(
        "admin/procedures.html", procedures=active_procedures(db_session()),
        top=_is_top_admin(current_officer()),
    )


@bp.get("/procedures")
@role_required("admin")
def procedures():
    return _procedures_page()


@bp.post("/procedures")
@role_required("admin")
def procedures_upload():
    session = db_session()
    try:
        _require_top_admin()
        upload = request.files.get("catalogue")
        if upload is None or not upload.filename:
            raise ValidationError("required", field="catalogue")
        data = upload.read(MAX_CATALOGUE_BYTES + 1)
        if len(data) > MAX_CATALOGUE_BYTES:
            raise ValidationError("too_long", field="catalogue", max=MAX_CATALOGUE_BYTES)
        report = load_catalogue(session, data)
    except OnestopError as exc:
        return _refused(exc, _procedures_page)
    return _done(
        translate(
            "Đã nạp danh mục: {created} thủ tục mới, {versions} phiên bản mới, {same} không đổi.",
            created=len(report.created), versions=len(report.new_versions), same=len(report.unchanged),
        ),
        "admin.procedures",
    )


def _procedure_page(code: str) -> str:
    session = db_session()
    procedure = lifecycle.find_procedure(session, code)
    items = checklist(session, code)
    # The count is written out when it is not 1, so that saving the page keeps it.
    text = "\n".join(
        f"{i.name} | {DOCUMENT_FORM_LABELS[i.form].lower()}" + (f" | {i.count}" if i.count != 1 else "")
        for i in items
    )
    steps_text = "\n".join(
        f"{s.name} | {s.role} | {s.unit_code or ''} | {s.budget_hours:g}" for s in procedure.steps
    )
    return render_template(
        "admin/procedure.html", procedure=procedure, checklist=items,
        checklist_text=request.form.get("documents", text), document_forms=DOCUMENT_FORM_LABELS,
        steps_text=request.form.get("steps", steps_text), top=_is_top_admin(current_officer()),
    )


@bp.get("/procedures/<code>")
@role_required("admin")
def procedure(code: str):
    try:
        return _procedure_page(code)
    except OnestopError as exc:
        flash(error_message(exc), "error")
        return redirect(url_for("admin.procedures"))


@bp.post("/procedures/<code>/checklist")
@role_required("admin")
def procedure_checklist(code: str):
    session = db_session()
    try:
        _require_top_admin()
        documents = parse_document_lines(request.form.get("documents"))
        set_checklist(session, code, documents)
    except OnestopError as exc:
        try:
            return _refused(exc, _procedure_page, code)
        except OnestopError:
            return redirect(url_for("admin.procedures"))
    return _done(translate("Đã lưu danh mục giấy tờ."), "admin.procedure", code=code)


@bp.post("/procedures/<code>/steps")
@role_required("admin")
def procedure_steps(code: str):
    session = db_session()
    try:
        _require_top_admin()
        steps = admin_ops.parse_step_lines(request.form.get("steps"))
        procedure = admin_ops.change_process(session, code, steps, by=current_officer())
    except OnestopError as exc:
        try:
            return _refused(exc, _procedure_page, code)
        except OnestopError:
            return redirect(url_for("admin.procedures"))
    return _done(
        translate("Đã lưu quy trình nội bộ: phiên bản {version}; hồ sơ đã tiếp nhận giữ quy trình cũ.",
                  version=procedure.version),
        "admin.procedure", code=code,
    )


# --- calendar ---------------------------------------------------------------------------------

def _calendar_page() -> str:
    session = db_session()
    rows = session.scalars(select(CalendarException).order_by(CalendarException.day.desc())).all()
    calendar = work_calendar(session)
    return render_template(
        "admin/calendar.html", rows=rows, values=request.form, top=_is_top_admin(current_officer()),
        describe=calendar.describe_day,
    )


@bp.get("/calendar")
@role_required("admin")
def calendar():
    return _calendar_page()


@bp.post("/calendar")
@role_required("admin")
def calendar_add():
    session = db_session()
    form = request.form
    try:
        _require_top_admin()
        day = _date(form.get("day"), "day", required=True)
        kind = form.get("kind") or ""
        row = add_calendar_exception(session, day, kind, form.get("legal_reference"), by=current_officer())
        changed = lifecycle.recompute_due_instants(
            session, calendar_change_reason(day, kind, row.legal_reference)
        )
    except OnestopError as exc:
        return _refused(exc, _calendar_page)
    return _done(
        translate("Đã ghi nhận ngày {day}; {n} hồ sơ đang giải quyết có hạn mới.",
                  day=f"{day:%d/%m/%Y}", n=len(changed)),
        "admin.calendar",
    )


@bp.post("/calendar/<day>/remove")
@role_required("admin")
def calendar_remove(day: str):
    session = db_session()
    try:
        _require_top_admin()
        parsed = _date(day, "day", required=True)
        reason = request.form.get("reason")
        row = remove_calendar_exception(session, parsed, reason, by=current_officer())
        changed = lifecycle.recompute_due_instants(
            session, calendar_change_reason(parsed, row.kind, (reason or "").strip(), removed=True)
        )
    except OnestopError as exc:
        return _refused(exc, _calendar_page)
    return _done(
        translate("Đã bỏ ngày {day} khỏi lịch; {n} hồ sơ đang giải quyết có hạn mới.",
                  day=f"{parsed:%d/%m/%Y}", n=len(changed)),
        "admin.calendar",
    )
