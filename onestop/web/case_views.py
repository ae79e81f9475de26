"""My queue, the unit's queue, the case page with its actions, and the printable forms 01-06.

Thin views: read the form, call one lifecycle operation, commit at the request boundary.
Every action carries the version of the case the officer saw (`expected_version`), so an action
taken on a stale page is refused (409) and changes nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from sqlalchemy import or_, select

from onestop import clock, forms, lifecycle, satisfaction
from onestop.access import entitled_to_personal_data
from onestop.access import mask as mask_personal
from onestop.calendar_store import work_calendar
from onestop.classification import classify_case
from onestop.errors import Conflict, NotFound, OnestopError, PermissionDenied, ValidationError
from onestop.intake import parse_document_lines
from onestop.models import Case, Officer, Rating
from onestop.queue import (
    allowed_actions,
    headed_units,
    hours_left,
    my_queue,
    officer_can_see_case,
    unit_queue,
)
from onestop.settings import Policy
from onestop.web import VIETNAM, db_session
from onestop.web.auth import login_required, role_required
from onestop.web.shell import current_officer, error_page
from onestop.web.ui_text import error_message, translate

bp = Blueprint("cases", __name__)

FORM_NUMBERS = ("01", "02", "03", "04", "05", "06")


# --- queues -----------------------------------------------------------------------------------

@bp.get("/queue")
@login_required
def queue():
    session = db_session()
    officer = current_officer()
    calendar = work_calendar(session)
    items = my_queue(session, officer, calendar, clock.now())
    return render_template(
        "cases/queue.html", items=items, unit_view=False, hours_per_day=calendar.hours_per_day,
        heads=bool(headed_units(officer)), counts=Counter(i.step_state for i in items),
    )


@bp.get("/queue/unit", endpoint="unit_queue")
@role_required("unit_head", "chair")
def unit_queue_page():
    session = db_session()
    officer = current_officer()
    calendar = work_calendar(session)
    items = unit_queue(session, officer, calendar, clock.now())
    return render_template(
        "cases/queue.html", items=items, unit_view=True, hours_per_day=calendar.hours_per_day,
        units=headed_units(officer), heads=True, counts=Counter(i.step_state for i in items),
    )


@bp.get("/cases")
@login_required
def find():
    """Find a case by receipt code or applicant name, among the cases the officer may see."""
    query = (request.args.get("q") or "").strip()[:200]
    if not query:
        return render_template("cases/find.html", query="", results=[])
    session = db_session()
    officer = current_officer()
    exact = session.scalar(select(Case).where(Case.receipt_code == query.upper()))
    if exact is not None and officer_can_see_case(officer, exact):
        return redirect(url_for("cases.show", code=exact.receipt_code), 303)
    pattern = "%" + query.replace("\\", "").replace("%", "").replace("_", "") + "%"
    candidates = session.scalars(
        select(Case)
        .where(or_(Case.receipt_code.ilike(pattern), Case.applicant_name.ilike(pattern)))
        .order_by(Case.id.desc())
        .limit(500)
    ).all()
    results = [c for c in candidates if officer_can_see_case(officer, c)][:50]
    return render_template("cases/find.html", query=query, results=results)


# --- the case page ----------------------------------------------------------------------------

def _visible_case(code: str) -> Case:
    case = db_session().scalar(select(Case).where(Case.receipt_code == code))
    if case is None:
        raise NotFound("case_not_found", code=code)
    if not officer_can_see_case(current_officer(), case):
        raise PermissionDenied("not_allowed_to_see", code=code)
    return case


def _targets(session, case: Case, officer: Officer) -> dict:
    """The officers the forms offer: per step for a handover, for the return step on
    resolution, and for the current step on reassignment."""
    current = case.current_assignment
    if current is None:
        return {}
    procedure = case.procedure
    steps = procedure.steps
    last = steps[-1] if steps else None
    handover = []
    for step in steps:
        if step.position == current.step_position:
            continue
        if len(steps) > 1 and last is not None and step.position == last.position:
            continue
        people = lifecycle.eligible_owners(session, case, step)
        if people:
            handover.append({
                "step": step, "officers": people,
                "next": step.position == current.step_position + 1,
                "back": step.position < current.step_position,
            })
    handover.sort(key=lambda group: (not group["next"], group["step"].position))
    resolve_to = []
    if last is not None and last.position != current.step_position:
        resolve_to = lifecycle.eligible_owners(session, case, last)
    current_step = procedure.step_at(current.step_position)
    reassign_to = [
        o for o in (lifecycle.eligible_owners(session, case, current_step) if current_step else [])
        if o.id != current.owner_id
    ]
    first_owner = case.assignments[0].owner_id if case.assignments else None
    return {
        "handover": handover, "resolve_to": resolve_to, "reassign_to": reassign_to,
        "resolve_default": first_owner,
    }


def render_case(code: str, status: int = 200, open_action: str | None = None):
    session = db_session()
    case = _visible_case(code)
    officer = current_officer()
    calendar = work_calendar(session)
    now = clock.now()
    policy = Policy.from_env()
    actions = allowed_actions(case, officer, calendar, now, policy)
    if "rate" in actions and session.scalar(
        select(Rating.id).where(Rating.case_id == case.id, Rating.source == "desk")
    ):
        actions.discard("rate")
    pause = case.open_pause
    state = classify_case(case, calendar, now, policy) if case.received_at else None
    left = None
    if case.due_at is not None and case.is_open:
        left = hours_left(calendar, now, case.due_at, pause.started_at if pause else None)
    # Chairs and inspectors read the case, but personal numbers only its workers read in full.
    personal = entitled_to_personal_data(officer, case)
    shown = {
        field: value if personal else mask_personal(value)
        for field, value in (
            ("id_number", case.applicant_id_number), ("phone", case.applicant_phone),
            ("email", case.applicant_email),
        )
    }
    ratings = session.scalars(select(Rating).where(Rating.case_id == case.id).order_by(Rating.id)).all()
    return render_template(
        "cases/case.html",
        case=case,
        actions=actions,
        targets=_targets(session, case, officer) if actions else {},
        state=state,
        hours_left=left,
        hours_per_day=calendar.hours_per_day,
        story=forms.due_story(case, calendar),
        slip=forms.control_slip(case, calendar, now, policy) if case.received_at else None,
        events=case.events,
        available_forms=[n for n in forms.available_forms(case) if personal or n == "06"],
        form_titles=forms.FORM_TITLES,
        ratings=ratings,
        open_action=open_action,
        applicant=shown,
        document_forms=forms.DOCUMENT_FORM_LABELS,
    ), status


@bp.get("/cases/<code>")
@login_required
def show(code: str):
    try:
        return render_case(code)
    except OnestopError as exc:
        return error_page(exc.http_status, error_message(exc))


# --- actions ----------------------------------------------------------------------------------

def _int(value: object, field: str) -> int:
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 12:
        return int(value.strip())
    raise ValidationError("invalid_value", field=field, detail="a whole number")


def _officer(session, value: object, field: str = "to_officer") -> Officer:
    officer = session.get(Officer, _int(value, field))
    if officer is None:
        raise ValidationError("invalid_value", field=field, detail="no such officer")
    return officer


def _new_due(value: object) -> datetime:
    """A local date and time from the form (YYYY-MM-DDTHH:MM), in Vietnamese time."""
    text = (value or "").strip() if isinstance(value, str) else ""
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError("invalid_value", field="new_due_at", detail="a date and time") from None
    if local.tzinfo is not None:
        raise ValidationError("invalid_value", field="new_due_at", detail="a local date and time")
    return local.replace(tzinfo=VIETNAM)


def _satisfied(value: object) -> bool | None:
    if value in (None, ""):
        return None
    if value == "yes":
        return True
    if value == "no":
        return False
    raise ValidationError("invalid_value", field="satisfied", detail="yes or no")


def _perform(session, case: Case, officer: Officer, action: str, data) -> tuple[str, str | None]:
    """Run one action; returns the success message and where to go next (None: the case)."""
    version = _int(data.get("expected_version"), "expected_version")
    note = data.get("note")
    if action == "hand_over":
        target = data.get("target", "")
        step_text, _, officer_text = target.partition(":")
        step, receiver = _int(step_text, "target"), _officer(session, officer_text, "target")
        lifecycle.hand_over(
            session, case, officer, receiver, to_step=step, note=note, expected_version=version,
        )
        return translate("Đã giao hồ sơ cho {name}.", name=receiver.full_name), None
    if action == "reassign":
        receiver = _officer(session, data.get("to_officer"))
        lifecycle.reassign(session, case, officer, receiver, note=note, expected_version=version)
        return translate("Đã giao lại bước hiện tại cho {name}.", name=receiver.full_name), None
    if action == "request_supplement":
        pause = lifecycle.request_supplement(
            session, case, officer, data.get("reason"),
            parse_document_lines(data.get("documents")), expected_version=version,
        )
        return translate("Đã yêu cầu bổ sung hồ sơ; đồng hồ tạm dừng."), url_for(
            "cases.form_html", code=case.receipt_code, number="02", pause=pause.id
        )
    if action == "receive_supplement":
        lifecycle.receive_supplement(session, case, officer, note, expected_version=version)
        return translate("Đã nhận hồ sơ bổ sung; đồng hồ chạy tiếp."), None
    if action == "pause_payment":
        lifecycle.pause_for_financial_obligations(session, case, officer, note, expected_version=version)
        return translate("Hồ sơ chờ thực hiện nghĩa vụ tài chính; đồng hồ tạm dừng."), None
    if action == "resume_payment":
        lifecycle.resume_after_payment(session, case, officer, note, expected_version=version)
        return translate("Đã hoàn thành nghĩa vụ tài chính; đồng hồ chạy tiếp."), None
    if action == "extend":
        lifecycle.extend(
            session, case, officer, data.get("reason"), _new_due(data.get("new_due_at")),
            expected_version=version,
        )
        return translate("Đã ban hành văn bản xin lỗi và gia hạn."), url_for(
            "cases.form_html", code=case.receipt_code, number="04"
        )
    if action == "refuse":
        lifecycle.refuse_after_review(session, case, officer, data.get("reason"), expected_version=version)
        return translate("Đã từ chối giải quyết hồ sơ."), None
    if action == "stop":
        lifecycle.stop(
            session, case, officer, data.get("reason"), data.get("legal_ground"),
            expected_version=version,
        )
        return translate("Đã dừng giải quyết hồ sơ."), url_for(
            "cases.form_html", code=case.receipt_code, number="05"
        )
    if action == "withdraw":
        lifecycle.withdraw(session, case, officer, data.get("reason"), expected_version=version)
        return translate("Đã ghi nhận công dân rút hồ sơ."), None
    if action == "resolve":
        outcome = data.get("outcome") or "approved"
        receiver = _officer(session, data["to_officer"]) if data.get("to_officer") else None
        lifecycle.resolve(
            session, case, officer, outcome=outcome, note=note, to_officer=receiver,
            expected_version=version,
        )
        return translate("Đã có kết quả; hồ sơ chuyển về Bộ phận Một cửa để trả."), None
    if action == "return":
        satisfied = _satisfied(data.get("satisfied"))
        lifecycle.return_result(session, case, officer, note, expected_version=version)
        if satisfied is not None:
            satisfaction.record_rating(session, case, satisfied, data.get("comment"), actor=officer)
        return translate("Đã trả kết quả cho công dân."), None
    if action == "rate":
        satisfied = _satisfied(data.get("satisfied"))
        if satisfied is None:
            raise ValidationError("required", field="satisfied")
        _check_version(case, version)
        satisfaction.record_rating(session, case, satisfied, data.get("comment"), actor=officer)
        return translate("Đã ghi nhận đánh giá của công dân."), None
    if action == "complaint":
        _check_version(case, version)
        if "complaint" not in allowed_actions(case, officer, work_calendar(session), clock.now()):
            raise PermissionDenied("role_required", role="desk", unit=case.unit.code)
        satisfaction.record_complaint(session, case, data.get("text"), actor=officer)
        return translate("Đã ghi nhận phản ánh, kiến nghị."), None
    if action == "accept":
        _check_version(case, version)
        lifecycle.accept_registered(session, case, officer)
        return translate("Đã tiếp nhận hồ sơ."), url_for(
            "cases.form_html", code=case.receipt_code, number="01"
        )
    if action == "guide":
        _check_version(case, version)
        missing = parse_document_lines(data.get("missing"), "missing")
        lifecycle.guide_to_complete(session, officer, missing, data.get("reason"), case=case)
        return translate("Đã hướng dẫn hoàn thiện hồ sơ."), url_for(
            "cases.form_html", code=case.receipt_code, number="02"
        )
    if action == "refuse_at_intake":
        _check_version(case, version)
        lifecycle.refuse_at_intake(session, officer, data.get("reason"), case=case)
        return translate("Đã từ chối tiếp nhận hồ sơ."), url_for(
            "cases.form_html", code=case.receipt_code, number="03"
        )
    abort(404)


def _check_version(case: Case, version: int) -> None:
    """For operations that take no expected version: the page's version must be current."""
    if case.version_id != version:
        raise Conflict("stale_case", code=case.receipt_code)


@bp.post("/cases/<code>/actions/<action>")
@login_required
def act(code: str, action: str):
    session = db_session()
    officer = current_officer()
    try:
        case = _visible_case(code)
        message, go_to = _perform(session, case, officer, action, request.form)
        session.commit()
    except OnestopError as exc:
        session.rollback()
        flash(error_message(exc), "error")
        try:
            return render_case(code, exc.http_status, open_action=action)
        except OnestopError as again:  # the case itself cannot be shown
            return error_page(again.http_status, error_message(again))
    flash(message, "success")
    return redirect(go_to or url_for("cases.show", code=code), 303)


# --- printable forms --------------------------------------------------------------------------

def _form_context(code: str, number: str) -> dict:
    if number not in FORM_NUMBERS:
        raise NotFound("form_not_available", form=number, code=code)
    session = db_session()
    case = _visible_case(code)
    if number != "06" and not entitled_to_personal_data(current_officer(), case):
        # Forms 01-05 print the applicant's personal numbers in full.
        raise PermissionDenied("personal_data_restricted", form=number)
    calendar = work_calendar(session)
    now = clock.now()
    if number == "02" and request.args.get("pause", "").isdigit():
        data = forms.supplement_request(case, int(request.args["pause"]))
    else:
        data = forms.build(number, case, calendar, now)
    return {
        "case": case, "form": data, "number": number, "title": forms.FORM_TITLES[number],
        "document_forms": forms.DOCUMENT_FORM_LABELS, "printed_at": now,
        "qr": _qr(case.receipt_code) if number == "01" else None,
    }


def _qr(text: str) -> Markup:
    import segno

    # Inline SVG: prints crisply, needs no image request, and passes a strict CSP.
    return Markup(segno.make(text, error="m").svg_inline(scale=3, title=text))


@bp.get("/cases/<code>/forms/<number>")
@login_required
def form_html(code: str, number: str):
    try:
        context = _form_context(code, number)
    except OnestopError as exc:
        return error_page(exc.http_status, error_message(exc))
    return render_template(f"forms/form_{number}.html", pdf=False, **context)


@bp.get("/cases/<code>/forms/<number>.pdf")
@login_required
def form_pdf(code: str, number: str):
    try:
        context = _form_context(code, number)
    except OnestopError as exc:
        return error_page(exc.http_status, error_message(exc))
    html = render_template(f"forms/form_{number}.html", pdf=True, **context)
    return Response(
        render_pdf(html),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{code}-mau-{number}.pdf"'},
    )


def render_pdf(html: str, stylesheet: str = "forms.css") -> bytes:
    """HTML to PDF with a print stylesheet of the app (the forms' by default); nothing is
    fetched from anywhere."""
    from pathlib import Path

    import weasyprint
    from weasyprint.urls import URLFetcher

    class Offline(URLFetcher):
        def fetch(self, url, headers=None):
            raise ValueError(f"no fetching while printing: {url}")

    css = Path(current_app.static_folder or "", stylesheet)
    return weasyprint.HTML(string=html, url_fetcher=Offline()).write_pdf(
        stylesheets=[weasyprint.CSS(filename=str(css), url_fetcher=Offline())]
    )

