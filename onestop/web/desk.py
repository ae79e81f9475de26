"""Intake at the one-stop desk: pick the procedure, take the applicant's details and the
documents, then receive (form 01), guide to complete (form 02) or refuse (form 03)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from onestop import lifecycle
from onestop.errors import OnestopError, ValidationError
from onestop.forms import DOCUMENT_FORM_LABELS, RETURN_METHODS
from onestop.intake import (
    DOCUMENT_FORMS,
    checklist,
    parse_document_lines,
    receiving_units,
    search_procedures,
)
from onestop.models import CHANNELS, RESULT_RETURNS, Case
from onestop.validation import Applicant
from onestop.web import db_session
from onestop.web.auth import role_required
from onestop.web.shell import current_officer, error_page
from onestop.web.ui_text import error_message, translate

bp = Blueprint("desk", __name__, url_prefix="/desk")

OUTCOMES = ("receive", "guide", "refuse")
APPLICANT_FIELDS = ("name", "id_number", "phone", "address", "email")
ECHO_LIMIT = 2000


@bp.get("/")
@role_required("desk")
def index():
    return redirect(url_for("desk.intake"))


@bp.get("/intake")
@role_required("desk")
def intake():
    """The procedure picker, and the dossiers registered online that wait to be accepted."""
    session = db_session()
    officer = current_officer()
    query = (request.args.get("q") or "").strip()[:200]
    procedures = search_procedures(session, query)
    units = receiving_units(officer)
    waiting = []
    if units:
        waiting = session.scalars(
            select(Case)
            .where(Case.status == "submitted", Case.unit_id.in_([u.id for u in units]))
            .order_by(Case.submitted_at)
            .limit(100)
        ).all()
    return render_template("desk/intake.html", query=query, procedures=procedures, waiting=waiting)


def _form_page(procedure, values: dict, status: int = 200):
    session = db_session()
    officer = current_officer()
    return render_template(
        "desk/intake_form.html",
        procedure=procedure,
        checklist=checklist(session, procedure.code),
        units=receiving_units(officer),
        channels=CHANNELS,
        result_returns=RESULT_RETURNS,
        result_return_labels=RETURN_METHODS,
        document_forms=DOCUMENT_FORMS,
        document_form_labels=DOCUMENT_FORM_LABELS,
        values=values,
    ), status


@bp.get("/intake/<procedure_code>")
@role_required("desk")
def intake_form(procedure_code: str):
    try:
        procedure = lifecycle.find_procedure(db_session(), procedure_code)
    except OnestopError as exc:
        return error_page(exc.http_status, error_message(exc))
    return _form_page(procedure, {"channel": "in_person"})[0]


def _count(value: object, field: str) -> int:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return 1
    if not text.isdigit() or not 1 <= int(text) <= 999:
        raise ValidationError("invalid_value", field=field, detail="1 to 999")
    return int(text)


def _documents(session, procedure_code: str, form) -> tuple[list[dict], list[dict]]:
    """The documents handed in (ticked checklist items and extra lines) and, for a guide to
    complete, the missing ones (unticked items and the lines typed as missing)."""
    received, missing = [], []
    for item in checklist(session, procedure_code):
        key = f"doc_{item.position}"
        doc_form = form.get(f"{key}_form") or item.form
        if doc_form not in DOCUMENT_FORMS:
            raise ValidationError("invalid_value", field=f"{key}_form", detail=", ".join(DOCUMENT_FORMS))
        entry = {"name": item.name, "form": doc_form, "count": _count(form.get(f"{key}_count"), f"{key}_count")}
        (received if form.get(key) else missing).append(entry)
    received += parse_document_lines(form.get("extra_documents"), "extra_documents")
    missing += parse_document_lines(form.get("missing"), "missing")
    return received, missing


@bp.post("/intake/<procedure_code>")
@role_required("desk")
def intake_submit(procedure_code: str):
    session = db_session()
    officer = current_officer()
    form = request.form
    # Echoed back for correction, but never an absurd amount of it.
    values = {key: form.get(key, "")[:ECHO_LIMIT] for key in list(form)[:200]}
    try:
        procedure = lifecycle.find_procedure(session, procedure_code)
    except OnestopError as exc:
        return error_page(exc.http_status, error_message(exc))
    try:
        outcome = form.get("outcome")
        if outcome not in OUTCOMES:
            raise ValidationError("invalid_value", field="outcome", detail=", ".join(OUTCOMES))
        units = receiving_units(officer)
        unit_code = form.get("unit_code") or (units[0].code if units else "")
        if unit_code not in {u.code for u in units}:
            raise ValidationError("invalid_value", field="unit_code", detail="not a unit you receive for")
        applicant = Applicant.parse({field: form.get(field) for field in APPLICANT_FIELDS})
        received, missing = _documents(session, procedure.code, form)
        intake = {
            "unit_code": unit_code, "procedure_code": procedure.code, "applicant": applicant,
            "channel": form.get("channel") or "in_person", "documents": received,
        }
        if outcome == "receive":
            # Empty: the result goes back the way the dossier came (the channel).
            result_return = form.get("result_return") or None
            case = lifecycle.receive(session, officer, result_return=result_return, **intake)
            number, message = "01", translate("Đã tiếp nhận hồ sơ {code}.", code=case.receipt_code)
        elif outcome == "guide":
            case = lifecycle.guide_to_complete(session, officer, missing, form.get("reason"), **intake)
            number, message = "02", translate("Đã hướng dẫn hoàn thiện hồ sơ.")
        else:
            case = lifecycle.refuse_at_intake(session, officer, form.get("reason"), **intake)
            number, message = "03", translate("Đã từ chối tiếp nhận hồ sơ.")
        session.commit()
    except OnestopError as exc:
        session.rollback()
        flash(error_message(exc), "error")
        procedure = lifecycle.find_procedure(session, procedure_code)
        return _form_page(procedure, values, exc.http_status)
    flash(message, "success")
    return redirect(url_for("cases.form_html", code=case.receipt_code, number=number), 303)
