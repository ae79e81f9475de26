"""The REST API `/api/v1`: JSON over the case lifecycle, one bearer token per officer.

Each view authenticates the token, validates the body strictly (unknown fields, wrong types and
malformed JSON are refused before anything is touched), checks that the officer's roles cover
the case's unit, calls one lifecycle operation and commits. Every refusal is
`{"error": {"code": ..., "message": ...}}` with the domain error's HTTP status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask_limiter.util import get_remote_address
from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, default_exceptions

from onestop import clock, lifecycle, satisfaction
from onestop.access import entitled_to_personal_data, mask, officer_can_see_case, visible_cases
from onestop.calendar import WorkCalendar
from onestop.calendar_store import work_calendar
from onestop.casebook import subtree, valid_receipt_code
from onestop.classification import DAY_BASED_UNITS, classify_assignment, classify_case
from onestop.errors import NotFound, OnestopError, PermissionDenied, ValidationError
from onestop.i18n import DEFAULT_LANGUAGE, LANGUAGES, STATUS_LABELS, label, translate
from onestop.models import (
    CHANNELS,
    RESULT_RETURNS,
    STATUS_CODES,
    Case,
    Officer,
    OfficerRole,
    Pause,
    Procedure,
    StepAssignment,
    Unit,
)
from onestop.tokens import hash_token, verify_token
from onestop.validation import Applicant, clean_documents, clean_text
from onestop.web import VIETNAM, db_session
from onestop.web.extensions import csrf, limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Bearer tokens, never cookies, authenticate the API: cross-site requests cannot forge them.
csrf.exempt(bp)

MAX_BODY_BYTES = 1024 * 1024
DEFAULT_RATE_LIMIT = "600/minute"
DEFAULT_AUTH_FAILURE_LIMIT = "30/minute"
PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX = 50, 200
APPLICANT_FIELDS = frozenset({"name", "id_number", "phone", "address", "email"})
DOCUMENT_FIELDS = frozenset({"name", "form", "count"})
PUBLIC_ENDPOINTS = frozenset({"api.openapi"})


def _token_key() -> str:
    """Rate-limit bucket: the token (hashed, so no secret sits in the limiter's storage)."""
    token = _bearer()
    return "token:" + hash_token(token)[:24] if token else "ip:" + get_remote_address()


def _rate_limit() -> str:
    return current_app.config.get("API_RATE_LIMIT", DEFAULT_RATE_LIMIT)


def _failure_limit() -> str:
    return current_app.config.get("API_AUTH_FAILURE_LIMIT", DEFAULT_AUTH_FAILURE_LIMIT)


limiter.limit(_rate_limit, key_func=_token_key)(bp)
# Made-up tokens each get a bucket of their own above; refused ones also count per address.
limiter.limit(
    _failure_limit, key_func=lambda: "api-auth-failures:" + get_remote_address(),
    deduct_when=lambda response: response.status_code == 401,
)(bp)


# --- errors -------------------------------------------------------------------------------------

class ApiError(OnestopError):
    """A refusal of the request itself (not of the domain), with its own status."""

    def __init__(self, http_status: int, code: str, /, **params: object) -> None:
        self.http_status = http_status
        super().__init__(code, **params)


def _language() -> str:
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None):
    response = jsonify(error={"code": code, "message": message})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _rollback() -> None:
    session = g.get("db_session")
    if session is not None:
        session.rollback()


@bp.errorhandler(OnestopError)
def _domain_error(exc: OnestopError):
    _rollback()
    headers = {}
    if exc.http_status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="onestop", error="invalid_token"'
    return _error(exc.http_status, exc.code, exc.message(_language()), headers)


HTTP_CODES = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media_type",
    429: "rate_limited", 500: "internal_error",
}


def http_error_json(exc: HTTPException):
    _rollback()
    status = exc.code or 500
    code = HTTP_CODES.get(status, "http_error")
    response = _error(status, code, translate(f"http_{code}", _language()))
    if status == 405 and exc.get_headers():
        allow = dict(exc.get_headers()).get("Allow")
        if allow:
            response.headers["Allow"] = allow
    if status == 429:
        retry = dict(exc.get_headers()).get("Retry-After")
        if retry:
            response.headers["Retry-After"] = retry
    return response


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return http_error_json(exc)


# Registered per code too: the app's own handlers for a code (an HTML 413 page) would otherwise
# win over a class-wide handler.
for _code in HTTP_CODES:
    bp.register_error_handler(_code, http_error_json)


def _under_api() -> bool:
    return request.path == bp.url_prefix or request.path.startswith(bp.url_prefix + "/")


@bp.record_once
def _json_for_unrouted(state) -> None:
    """Unknown paths and methods under /api/ answer in JSON too (no blueprint handles a request
    that matched no route); elsewhere the app's own page, whoever registered it before."""
    app = state.app
    for code in (404, 405):
        previous = app.error_handler_spec[None][code].get(default_exceptions[code])

        def handler(exc: HTTPException, previous=previous):
            if _under_api():
                return http_error_json(exc)
            return previous(exc) if previous is not None else exc

        app.register_error_handler(code, handler)


@bp.errorhandler(IntegrityError)
@bp.errorhandler(StaleDataError)
def _lost_race(exc: Exception):
    # A commit that lost a race the operation could not see (a concurrent write of the same
    # rows): rolled back, nothing written.
    _rollback()
    current_app.logger.warning("API commit refused: %s", exc)
    return _error(409, "stale_case", translate("stale_case", _language(), code="*"))


@bp.errorhandler(OperationalError)
def _database_unavailable(exc: OperationalError):
    _rollback()
    if "locked" in str(exc.orig):  # SQLite gave up waiting for another writer
        return _lost_race(exc)
    current_app.logger.error("API database error: %s", exc)
    return _error(503, "database_unavailable", translate("database_unavailable", _language()))


# --- authentication -----------------------------------------------------------------------------

def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@bp.before_request
def _authenticate():
    request.max_content_length = current_app.config.get("API_MAX_CONTENT_LENGTH", MAX_BODY_BYTES)
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = _bearer()
    if token is None:
        return _error(
            401, "token_missing", translate("token_missing", _language()),
            {"WWW-Authenticate": 'Bearer realm="onestop"'},
        )
    session = db_session()
    g.api_officer = verify_token(session, token)
    if session.dirty:  # last_used_at moved (once a minute): kept even if the request fails
        session.commit()
    return None


def _officer() -> Officer:
    return g.api_officer


# --- request parsing ----------------------------------------------------------------------------

def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _body() -> dict[str, Any]:
    raw = request.get_data(cache=True)  # over the size limit: 413
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "body_not_utf8") from exc
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "malformed_json") from exc
    if not isinstance(data, dict):
        raise ValidationError("invalid_value", field="body", detail="expected a JSON object")
    return data


def _names(keys: set[str]) -> str:
    shown = sorted(keys)[:5]
    return ", ".join(k[:40] for k in shown) + (", …" if len(keys) > 5 else "")


def _refuse_unknown(data: dict[str, Any], allowed: frozenset[str] | set[str], where: str = "") -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationError("unknown_fields", fields=_names({where + k for k in unknown}))


Parser = Callable[[Any, str], Any]


def text(max_length: int, *, multiline: bool = False) -> Parser:
    def parse(value: Any, field: str) -> str | None:
        return clean_text(value, field, max_length=max_length, multiline=multiline)

    return parse


def _integer(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**31:
        raise ValidationError("invalid_value", field=field, detail="a positive whole number")
    return value


def _step_ref(value: Any, field: str) -> int | str:
    if isinstance(value, str):
        name = clean_text(value, field, max_length=200, required=True)
        assert name is not None
        return name
    return _integer(value, field)


def _choice(*allowed: str) -> Parser:
    def parse(value: Any, field: str) -> str:
        if value not in allowed:
            raise ValidationError("invalid_value", field=field, detail=", ".join(allowed))
        return value

    return parse


def _documents(value: Any, field: str) -> list[dict]:
    if not isinstance(value, list):
        raise ValidationError("invalid_value", field=field, detail="a list")
    for i, item in enumerate(value, start=1):
        if isinstance(item, dict):
            _refuse_unknown(item, DOCUMENT_FIELDS, f"{field}[{i}].")
    return clean_documents(value)


def _applicant(value: Any, field: str) -> Applicant:
    if not isinstance(value, dict):
        raise ValidationError("invalid_value", field=field, detail="expected an object")
    _refuse_unknown(value, APPLICANT_FIELDS, f"{field}.")
    return Applicant.parse(value)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _instant(value: Any, field: str) -> datetime | date:
    """An ISO 8601 instant with its offset, or a date (meaning the close of that day)."""
    if not isinstance(value, str) or len(value) > 40:
        raise ValidationError("invalid_value", field=field, detail="an ISO 8601 date or instant")
    try:
        if _ISO_DATE.match(value):
            return date.fromisoformat(value)
        instant = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(
            "invalid_value", field=field, detail="an ISO 8601 date or instant"
        ) from exc
    if instant.tzinfo is None:
        raise ValidationError("new_due_naive")
    return instant


def _fields(
    data: dict[str, Any], spec: dict[str, Parser], required: tuple[str, ...] = (),
    *, versioned: bool = True,
) -> dict:
    _refuse_unknown(data, set(spec) | ({"expected_version"} if versioned else set()))
    parsed: dict[str, Any] = {}
    for name, parse in spec.items():
        value = data.get(name)
        if value is None:
            if name in required:
                raise ValidationError("required", field=name)
            parsed[name] = None
        else:
            parsed[name] = parse(value, name)
    return parsed


def _expected_version(data: dict[str, Any]) -> int | None:
    """From the body's `expected_version` and/or an `If-Match: "<version>"` header."""
    in_body = data.get("expected_version")
    if in_body is not None:
        in_body = _integer(in_body, "expected_version")
    header = request.headers.get("If-Match")
    in_header = None
    if header and header.strip() != "*":
        tag = header.strip().removeprefix("W/").strip('"')
        if not tag.isdigit() or len(tag) > 9:
            raise ValidationError("invalid_value", field="If-Match", detail='"<version>"')
        in_header = int(tag)
    if in_body is not None and in_header is not None and in_body != in_header:
        raise ValidationError("invalid_value", field="If-Match", detail="differs from expected_version")
    return in_body if in_body is not None else in_header


# --- representation -----------------------------------------------------------------------------

def _iso(instant: datetime | None) -> str | None:
    return instant.astimezone(VIETNAM).isoformat() if instant else None


def case_json(case: Case, viewer: Officer, calendar: WorkCalendar, now: datetime) -> dict[str, Any]:
    """The case as the API shows it; ID number, phone and e-mail masked unless the viewer works
    the case (step owner, its desk, the head of its unit)."""
    entitled = entitled_to_personal_data(viewer, case)
    current = case.current_assignment
    step = None
    if current is not None:
        step = {
            "name": current.step_name,
            "position": current.step_position,
            "owner": current.owner.username,
            "owner_name": current.owner.full_name,
            "unit": current.unit.code,
            "started_at": _iso(current.started_at),
            "due_at": _iso(current.due_at),
            "deadline_state": classify_assignment(current, calendar, now),
        }
    extension = case.extension
    return {
        "receipt_code": case.receipt_code,
        "status": case.status,
        "status_label": label(STATUS_LABELS, case.status, _language()),
        "status_code": case.status_code,
        "unit": case.unit.code,
        "procedure": {
            "code": case.procedure.code, "version": case.procedure.version,
            "name": case.procedure.name_vi,
        },
        "channel": case.channel,
        "result_return": case.result_return,
        "applicant": {
            "name": case.applicant_name,
            "id_number": case.applicant_id_number if entitled else mask(case.applicant_id_number),
            "phone": case.applicant_phone if entitled else mask(case.applicant_phone),
            "address": case.applicant_address,
            "email": case.applicant_email if entitled else mask(case.applicant_email),
        },
        "documents": case.documents or [],
        "submitted_at": _iso(case.submitted_at),
        "received_at": _iso(case.received_at),
        "due_at": _iso(case.due_at),
        "original_due_at": _iso(case.original_due_at),
        "extension": {
            "new_due_at": _iso(extension.new_due_at), "reason": extension.reason,
            "issued_at": _iso(extension.issued_at),
        } if extension else None,
        "ended_at": _iso(case.ended_at),
        "returned_at": _iso(case.returned_at),
        "outcome": case.outcome,
        "supplement_requests": case.supplement_requests,
        "imported": bool(case.imported),
        "version": case.version_id,
        "deadline_state": classify_case(case, calendar, now),
        "current_step": step,
    }


def _case_response(case: Case, status: int = 200):
    session = db_session()
    response = jsonify(case_json(case, _officer(), work_calendar(session), clock.now()))
    response.status_code = status
    response.headers["ETag"] = f'"{case.version_id}"'
    return response


def _commit() -> None:
    db_session().commit()


# What an action and the response read, loaded up front: fewer round trips, and none while the
# operation holds the case's write lock.
# One joined query: a case has a handful of steps, holdings and pauses, and one round trip
# costs less than the separate loads.
CASE_LOADING = (
    joinedload(Case.assignments).joinedload(StepAssignment.owner),
    joinedload(Case.assignments).joinedload(StepAssignment.unit),
    joinedload(Case.procedure).joinedload(Procedure.steps),
    joinedload(Case.unit),
    joinedload(Case.pauses),
    joinedload(Case.extension),
)


def _find_officer(username: str) -> Officer:
    officer = db_session().execute(
        select(Officer).where(Officer.username == username)
        .options(
            joinedload(Officer.roles).joinedload(OfficerRole.unit)
            .joinedload(Unit.parent).joinedload(Unit.parent)
        )
    ).unique().scalar_one_or_none()
    if officer is None:
        raise NotFound("officer_not_found", username=username)
    return officer


def _visible_case(code: str) -> Case:
    if not valid_receipt_code(code):
        raise NotFound("case_not_found", code=code[:60])
    case = db_session().execute(
        select(Case).where(Case.receipt_code == code).options(*CASE_LOADING)
    ).unique().scalar_one_or_none()
    if case is None:
        raise NotFound("case_not_found", code=code)
    if not officer_can_see_case(_officer(), case):
        raise PermissionDenied("not_allowed_to_see", code=code)
    return case


# --- endpoints ----------------------------------------------------------------------------------

RECEIVE_FIELDS: dict[str, Parser] = {
    "procedure_code": text(32),
    "applicant": _applicant,
    "channel": _choice(*CHANNELS),
    "result_return": _choice(*RESULT_RETURNS),
    "documents": _documents,
    "unit": text(32),
}


def _receiving_unit_code(officer: Officer) -> str:
    """Without `unit`, the unit the officer's desk serves: the desk's parent for a one-stop
    desk unit (the commune that receives), the unit itself otherwise."""
    units = {}
    for held in officer.roles:
        if held.role == "desk":
            unit = held.unit.parent if held.unit.kind == "desk" and held.unit.parent else held.unit
            units[unit.code] = unit
    if not units:
        where = officer.roles[0].unit.code if officer.roles else "-"
        raise PermissionDenied("role_required", role="desk", unit=where)
    if len(units) > 1:
        raise ValidationError("required", field="unit")
    return next(iter(units))


@bp.post("/cases")
def receive_case():
    data = _body()
    body = _fields(data, RECEIVE_FIELDS, required=("procedure_code", "applicant"), versioned=False)
    officer = _officer()
    case = lifecycle.receive(
        db_session(), officer,
        unit_code=body["unit"] or _receiving_unit_code(officer),
        procedure_code=body["procedure_code"],
        applicant=body["applicant"],
        channel=body["channel"] or "in_person",
        documents=body["documents"],
        result_return=body["result_return"],
    )
    _commit()
    response = _case_response(case, 201)
    response.headers["Location"] = url_for("api.get_case", code=case.receipt_code)
    return response


@bp.get("/cases/<code>")
def get_case(code: str):
    return _case_response(_visible_case(code))


LIST_PARAMETERS = frozenset({"status", "unit", "owner", "overdue", "limit", "offset"})
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _query_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValidationError("invalid_value", field=name, detail=f"{low} to {high}")
    return int(raw)


def _overdue_clause(now: datetime, calendar: WorkCalendar):
    """What `classify_case` calls overdue, as SQL: open, not paused, and past its due date (the
    local date for day-based durations, the instant for working hours), or asked for more
    than one supplement."""
    midnight = datetime.combine(now.astimezone(calendar.zone).date(), time(0), tzinfo=calendar.zone)
    supplements = (
        select(func.count(Pause.id))
        .where(Pause.case_id == Case.id, Pause.reason == "supplement")
        .scalar_subquery()
    )
    day_based = Procedure.duration_unit.in_(sorted(DAY_BASED_UNITS))
    return and_(
        Case.status.in_(("received", "in_progress")),
        or_(
            supplements > 1,
            and_(day_based, Case.due_at < midnight),
            and_(not_(day_based), Case.due_at < now),
        ),
    )


@bp.get("/cases")
def list_cases():
    args = request.args
    _refuse_unknown(dict(args), LIST_PARAMETERS)
    session = db_session()
    officer = _officer()
    limit = _query_int("limit", PAGE_LIMIT_DEFAULT, 1, PAGE_LIMIT_MAX)
    offset = _query_int("offset", 0, 0, 10_000_000)
    query = (
        select(Case)
        .join(Procedure, Case.procedure_id == Procedure.id)
        .where(visible_cases(session, officer))
    )
    if args.get("status"):
        statuses = [s.strip() for s in args["status"].split(",") if s.strip()]
        bad = [s for s in statuses if s not in STATUS_CODES]
        if bad or not statuses:
            raise ValidationError("invalid_value", field="status", detail=", ".join(STATUS_CODES))
        query = query.where(Case.status.in_(statuses))
    if args.get("unit"):
        code = clean_text(args["unit"], "unit", max_length=32)
        unit = lifecycle.find_unit(session, code or "")
        below = [u.id for u in subtree(session, unit)]
        query = query.where(Case.unit_id.in_(below))
    if args.get("owner"):
        name = clean_text(args["owner"], "owner", max_length=64) or ""
        owner = officer if name == "me" else lifecycle.find_officer(session, name)
        query = query.where(
            Case.id.in_(
                select(StepAssignment.case_id).where(
                    StepAssignment.owner_id == owner.id, StepAssignment.ended_at.is_(None)
                )
            )
        )
    calendar = work_calendar(session)
    now = clock.now()
    if args.get("overdue"):
        flag = _BOOLEANS.get(args["overdue"].lower())
        if flag is None:
            raise ValidationError("invalid_value", field="overdue", detail="true or false")
        clause = _overdue_clause(now, calendar)
        query = query.where(clause if flag else not_(clause))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    cases = session.scalars(
        query.options(
            selectinload(Case.assignments).selectinload(StepAssignment.owner),
            selectinload(Case.assignments).selectinload(StepAssignment.unit),
            selectinload(Case.pauses),
            selectinload(Case.extension),
        )
        .order_by(Case.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    more = offset + len(cases) < total
    return jsonify(
        items=[case_json(case, officer, calendar, now) for case in cases],
        total=total, limit=limit, offset=offset,
        next_offset=offset + len(cases) if more else None,
    )


# --- actions ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Action:
    """One action endpoint: the body it takes and the lifecycle operation it calls."""

    fields: dict[str, Parser]
    required: tuple[str, ...]
    run: Callable[[Any, Case, Officer, dict[str, Any], int | None], Any]


def _handover(session, case, officer, body, version):
    receiver = _find_officer(body["to_officer"])
    to_step = body["to_step"]
    if isinstance(to_step, str):
        step = next((s for s in case.procedure.steps if s.name == to_step), None)
        if step is None:
            raise ValidationError("step_not_found", step=to_step)
        to_step = step.position
    return lifecycle.hand_over(
        session, case, officer, receiver, to_step=to_step, note=body["note"],
        expected_version=version,
    )


def _extension(session, case, officer, body, version):
    new_due = body["new_due_at"]
    if not isinstance(new_due, datetime):
        new_due = work_calendar(session).close_of_day(new_due)
    return lifecycle.extend(
        session, case, officer, body["reason"], new_due, expected_version=version
    )


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("invalid_value", field=field, detail="true or false")
    return value


def _return(session, case, officer, body, version):
    """Return the result and, when the applicant gave one, record their rating at the desk, as
    the web page does: both in one transaction."""
    if body["comment"] is not None and body["satisfied"] is None:
        raise ValidationError("required", field="satisfied")
    lifecycle.return_result(session, case, officer, body["note"], expected_version=version)
    if body["satisfied"] is not None:
        satisfaction.record_rating(session, case, body["satisfied"], body["comment"], actor=officer)
    return case


def _resolve(session, case, officer, body, version):
    receiver = _find_officer(body["to_officer"]) if body["to_officer"] else None
    return lifecycle.resolve(
        session, case, officer, outcome=body["outcome"] or "approved", note=body["note"],
        to_officer=receiver, expected_version=version,
    )


REASON = text(2000, multiline=True)
NOTE = text(2000, multiline=True)
ACTIONS: dict[str, Action] = {
    "handover": Action(
        {"to_officer": text(64), "note": NOTE, "to_step": _step_ref}, ("to_officer",), _handover
    ),
    "supplement-request": Action(
        {"reason": REASON, "documents": _documents}, ("reason",),
        lambda s, c, o, b, v: lifecycle.request_supplement(
            s, c, o, b["reason"], b["documents"], expected_version=v
        ),
    ),
    "supplement-received": Action(
        {"note": NOTE}, (),
        lambda s, c, o, b, v: lifecycle.receive_supplement(s, c, o, b["note"], expected_version=v),
    ),
    "pause": Action(
        {"note": NOTE}, (),
        lambda s, c, o, b, v: lifecycle.pause_for_financial_obligations(
            s, c, o, b["note"], expected_version=v
        ),
    ),
    "resume": Action(
        {"note": NOTE}, (),
        lambda s, c, o, b, v: lifecycle.resume_after_payment(s, c, o, b["note"], expected_version=v),
    ),
    "extension": Action({"reason": REASON, "new_due_at": _instant}, ("reason", "new_due_at"), _extension),
    "refuse": Action(
        {"reason": REASON}, ("reason",),
        lambda s, c, o, b, v: lifecycle.refuse_after_review(s, c, o, b["reason"], expected_version=v),
    ),
    "stop": Action(
        {"reason": REASON, "legal_ground": text(500)}, ("reason",),
        lambda s, c, o, b, v: lifecycle.stop(
            s, c, o, b["reason"], b["legal_ground"], expected_version=v
        ),
    ),
    "withdraw": Action(
        {"reason": REASON}, ("reason",),
        lambda s, c, o, b, v: lifecycle.withdraw(s, c, o, b["reason"], expected_version=v),
    ),
    "resolve": Action(
        {"outcome": _choice("approved", "refused"), "note": NOTE, "to_officer": text(64)}, (),
        _resolve,
    ),
    "return": Action({"note": NOTE, "satisfied": _boolean, "comment": NOTE}, (), _return),
}


def _action_view(name: str, action: Action) -> Callable[[str], Any]:
    def view(code: str):
        data = _body()
        body = _fields(data, action.fields, action.required)
        version = _expected_version(data)
        case = _visible_case(code)
        action.run(db_session(), case, _officer(), body, version)
        _commit()
        return _case_response(case)

    view.__name__ = "action_" + name.replace("-", "_")
    view.__doc__ = f"POST /cases/<code>/{name}"
    return view


for _name, _action in ACTIONS.items():
    bp.add_url_rule(
        f"/cases/<code>/{_name}", endpoint=_name.replace("-", "_"),
        view_func=_action_view(_name, _action), methods=["POST"],
    )


@bp.get("/openapi.json")
def openapi():
    from onestop.web.openapi import OPENAPI

    return jsonify(OPENAPI)
