"""The REST API /api/v1: every endpoint's success and refusal paths, role and unit boundaries,
tokens, stale versions and a corpus of bad input. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onestop.clock import frozen_at
from onestop.db import make_engine
from onestop.models import Case, CaseEvent, Officer, Rating
from onestop.tokens import create_token, revoke_token
from onestop.web import create_app
from tests.conftest import vn
from tests.factories import APPLICANT, build_world

MONDAY = vn(2026, 3, 2, 8, 0)


@dataclass
class Api:
    client: FlaskClient
    tokens: dict[str, str]
    database_url: str

    def call(self, method: str, path: str, user: str | None = "desk", *, json=None, data=None,
             headers: dict | None = None):
        sent = dict(headers or {})
        if user is not None:
            sent.setdefault("Authorization", f"Bearer {self.tokens[user]}")
        return self.client.open(
            "/api/v1" + path, method=method, json=json, data=data, headers=sent
        )

    def get(self, path: str, user: str | None = "desk", **kw):
        return self.call("GET", path, user, **kw)

    def post(self, path: str, user: str | None = "desk", **kw):
        return self.call("POST", path, user, **kw)

    def receive(self, user: str = "desk", **applicant) -> dict:
        response = self.post("/cases", user, json={
            "procedure_code": "HT-XNHN",
            "applicant": {**APPLICANT, **applicant},
            "channel": "in_person",
            "documents": [{"name": "Tờ khai", "form": "original", "count": 1}, "Bản sao CCCD"],
        })
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def count(self, model) -> int:
        engine = make_engine(self.database_url)
        with Session(engine) as session:
            total = session.scalar(select(func.count()).select_from(model))
        engine.dispose()
        return total


@pytest.fixture
def api(database_url):
    engine = make_engine(database_url)
    with frozen_at(MONDAY - timedelta(days=3)), Session(engine, expire_on_commit=False) as session:
        world = build_world(session)
        tokens = {name: create_token(session, officer)[1] for name, officer in world.officers.items()}
        revoked, tokens["revoked"] = create_token(session, world.desk)
        revoke_token(session, revoked.prefix)
        session.commit()
    engine.dispose()
    app = create_app({"DATABASE_URL": database_url, "TESTING": True})
    return Api(app.test_client(), tokens, database_url)


@pytest.fixture
def clock():
    with frozen_at(MONDAY) as clock:
        yield clock


def error_code(response) -> str:
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"]
    return body["error"]["code"]


# --- receive and read -------------------------------------------------------------------------

def test_receive_returns_the_new_case_with_its_appointment_and_first_step(api, clock):
    response = api.post("/cases", json={
        "procedure_code": "HT-XNHN", "applicant": APPLICANT, "channel": "in_person",
        "documents": ["Tờ khai"],
    })
    assert response.status_code == 201
    case = response.get_json()
    assert case["receipt_code"] == "XA-MP-260302-0001"
    assert response.headers["Location"].endswith("/api/v1/cases/XA-MP-260302-0001")
    assert response.headers["ETag"] == f'"{case["version"]}"'
    assert (case["status"], case["status_code"], case["unit"]) == ("received", 2, "XA-MP")
    assert case["received_at"] == "2026-03-02T08:00:00+07:00"
    assert case["due_at"] == case["original_due_at"] == "2026-03-04T17:00:00+07:00"
    assert case["deadline_state"] == "within_deadline"
    step = case["current_step"]
    assert (step["name"], step["position"], step["owner"]) == ("receive", 1, "desk")
    assert step["due_at"] == "2026-03-02T10:00:00+07:00"
    assert case["applicant"]["id_number"] == "001190012345"  # the desk works the case
    assert case["documents"] == [{"name": "Tờ khai", "form": "original", "count": 1}]


def test_receive_takes_how_the_result_is_returned_by_default_the_channels_way(api, clock):
    chosen = api.post("/cases", json={**RECEIVE, "result_return": "post"})
    default = api.post("/cases", json={**RECEIVE, "channel": "online"})
    assert chosen.status_code == default.status_code == 201
    assert (chosen.get_json()["result_return"], default.get_json()["result_return"]) == ("post", "online")
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        ways = session.scalars(select(Case.result_return).order_by(Case.id)).all()
    engine.dispose()
    assert ways == ["post", "online"]


def test_get_returns_the_case_and_masks_personal_numbers_for_readers_who_do_not_work_it(api, clock):
    code = api.receive()["receipt_code"]
    mine = api.get(f"/cases/{code}").get_json()
    assert mine["applicant"]["phone"] == "0912345678"
    chair_view = api.get(f"/cases/{code}", "vice")  # commune vice chair: may read, does not work it
    assert chair_view.status_code == 200
    applicant = chair_view.get_json()["applicant"]
    assert applicant["name"] == APPLICANT["name"]
    assert applicant["id_number"] == "*********345"
    assert applicant["phone"] == "*******678"
    assert applicant["email"] == "h***@example.vn"


def test_another_units_officer_can_neither_read_nor_act_on_a_case(api, clock):
    code = api.receive()["receipt_code"]
    read = api.get(f"/cases/{code}", "desk_sd")
    assert read.status_code == 403 and error_code(read) == "not_allowed_to_see"
    act = api.post(f"/cases/{code}/withdraw", "desk_sd", json={"reason": "rút"})
    assert act.status_code == 403
    assert api.get(f"/cases/{code}").get_json()["status"] == "received"


def test_only_a_desk_officer_may_receive_and_only_for_the_units_the_desk_serves(api, clock):
    refused = api.post("/cases", "civ", json={"procedure_code": "HT-XNHN", "applicant": APPLICANT})
    assert refused.status_code == 403 and error_code(refused) == "role_required"
    elsewhere = api.post("/cases", json={
        "procedure_code": "HT-XNHN", "applicant": APPLICANT, "unit": "XA-SD",
    })
    assert elsewhere.status_code == 403
    assert api.count(Case) == 0


def test_unknown_case_procedure_and_unit_are_404(api, clock):
    assert error_code(api.get("/cases/XA-MP-260302-9999")) == "case_not_found"
    missing = api.post("/cases", json={"procedure_code": "NOPE", "applicant": APPLICANT})
    assert missing.status_code == 404 and error_code(missing) == "procedure_not_found"
    no_unit = api.post("/cases", json={"procedure_code": "HT-XNHN", "applicant": APPLICANT, "unit": "ZZ"})
    assert no_unit.status_code == 404 and error_code(no_unit) == "unit_not_found"


# --- the actions ------------------------------------------------------------------------------

def test_a_case_walks_from_receipt_through_two_handovers_to_return(api, clock):
    code = api.receive()["receipt_code"]
    first = api.post(f"/cases/{code}/handover", json={"to_officer": "civ", "note": "Đủ hồ sơ"})
    assert first.status_code == 200
    body = first.get_json()
    assert body["status"] == "in_progress" and body["status_code"] == 4
    assert (body["current_step"]["name"], body["current_step"]["owner"]) == ("verify", "civ")
    clock.set(MONDAY + timedelta(hours=3))
    second = api.post(f"/cases/{code}/handover", "civ", json={"to_officer": "vice"})
    assert second.get_json()["current_step"]["position"] == 3
    resolved = api.post(f"/cases/{code}/resolve", "vice", json={"outcome": "approved"})
    assert resolved.status_code == 200
    body = resolved.get_json()
    assert (body["status"], body["status_code"], body["outcome"]) == ("resolved", 9, "approved")
    assert body["current_step"]["owner"] == "desk" and body["deadline_state"] == "early"
    returned = api.post(f"/cases/{code}/return", json={})
    assert returned.get_json()["status"] == "returned" and returned.get_json()["status_code"] == 10
    assert returned.get_json()["current_step"] is None


def test_handover_back_to_a_named_earlier_step(api, clock):
    code = api.receive()["receipt_code"]
    api.post(f"/cases/{code}/handover", json={"to_officer": "civ"})
    back = api.post(f"/cases/{code}/handover", "civ", json={"to_officer": "desk2", "to_step": "receive"})
    assert back.status_code == 200
    assert back.get_json()["current_step"]["position"] == 1
    bad = api.post(f"/cases/{code}/handover", "desk2", json={"to_officer": "civ", "to_step": "no such"})
    assert bad.status_code == 422 and error_code(bad) == "step_not_found"


def test_handover_refusals_not_owner_unknown_receiver_and_wrong_role(api, clock):
    code = api.receive()["receipt_code"]
    not_owner = api.post(f"/cases/{code}/handover", "desk2", json={"to_officer": "civ"})
    assert not_owner.status_code == 403 and error_code(not_owner) == "not_owner"
    nobody = api.post(f"/cases/{code}/handover", json={"to_officer": "ghost"})
    assert nobody.status_code == 404 and error_code(nobody) == "officer_not_found"
    wrong = api.post(f"/cases/{code}/handover", json={"to_officer": "civ_sd"})
    assert wrong.status_code == 403 and error_code(wrong) == "receiver_lacks_role"
    assert api.get(f"/cases/{code}").get_json()["current_step"]["owner"] == "desk"


def test_supplement_round_pauses_and_resumes_the_clock(api, clock):
    code = api.receive()["receipt_code"]
    api.post(f"/cases/{code}/handover", json={"to_officer": "civ"})
    asked = api.post(f"/cases/{code}/supplement-request", "civ", json={
        "reason": "Thiếu bản sao", "documents": [{"name": "Bản sao sổ hộ khẩu", "form": "copy"}],
    })
    assert asked.status_code == 200
    assert (asked.get_json()["status"], asked.get_json()["status_code"]) == ("awaiting_supplement", 5)
    assert asked.get_json()["deadline_state"] == "paused"
    clock.set(vn(2026, 3, 3, 8, 0))  # a whole working day later
    back = api.post(f"/cases/{code}/supplement-received", "civ", json={"note": "Đã đủ"})
    assert back.status_code == 200
    assert back.get_json()["due_at"] == "2026-03-05T17:00:00+07:00"
    assert back.get_json()["original_due_at"] == "2026-03-04T17:00:00+07:00"
    again = api.post(f"/cases/{code}/supplement-received", "civ", json={})
    assert again.status_code == 409 and error_code(again) == "not_paused"


def test_pause_for_payment_and_resume(api, clock):
    code = api.receive()["receipt_code"]
    paused = api.post(f"/cases/{code}/pause", json={"note": "Chờ nộp lệ phí"})
    assert (paused.get_json()["status"], paused.get_json()["status_code"]) == ("awaiting_payment", 6)
    clock.set(MONDAY + timedelta(hours=1))
    resumed = api.post(f"/cases/{code}/resume", json={})
    assert resumed.get_json()["status"] == "received"
    # One working hour paused moves the appointment one working hour: Wednesday 17:00 -> Thursday 09:00.
    assert resumed.get_json()["due_at"] == "2026-03-05T09:00:00+07:00"
    assert api.post(f"/cases/{code}/resume", json={}).status_code == 409


def test_extension_by_the_unit_head_with_an_instant_or_a_date(api, clock):
    code = api.receive()["receipt_code"]
    api.post(f"/cases/{code}/handover", json={"to_officer": "civ"})
    by_owner = api.post(f"/cases/{code}/extension", "civ", json={
        "reason": "Cần xác minh", "new_due_at": "2026-03-10",
    })
    assert by_owner.status_code == 403 and error_code(by_owner) == "role_required"
    naive = api.post(f"/cases/{code}/extension", "head", json={
        "reason": "Cần xác minh", "new_due_at": "2026-03-10T17:00:00",
    })
    assert naive.status_code == 422 and error_code(naive) == "new_due_naive"
    extended = api.post(f"/cases/{code}/extension", "head", json={
        "reason": "Cần xác minh thêm tại nơi cư trú cũ", "new_due_at": "2026-03-10",
    })
    assert extended.status_code == 200
    body = extended.get_json()
    assert body["extension"]["new_due_at"] == "2026-03-10T17:00:00+07:00"
    assert body["original_due_at"] == "2026-03-04T17:00:00+07:00"
    twice = api.post(f"/cases/{code}/extension", "head", json={
        "reason": "Lần hai", "new_due_at": "2026-03-12T17:00:00+07:00",
    })
    assert twice.status_code == 409 and error_code(twice) == "already_extended"


def test_extension_too_close_to_the_due_instant_is_refused(api, clock):
    code = api.receive()["receipt_code"]
    clock.set(vn(2026, 3, 4, 9, 0))
    late = api.post(f"/cases/{code}/extension", "chair", json={
        "reason": "Muộn", "new_due_at": "2026-03-10T17:00:00+07:00",
    })
    assert late.status_code == 409 and error_code(late) == "extension_too_late"


@pytest.mark.parametrize(("action", "user", "status", "code"), [
    ("refuse", "civ", "refused", 8),
    ("stop", "head", "stopped", 8),
    ("withdraw", "desk2", "withdrawn", 7),
])
def test_terminal_actions_end_the_case_with_their_reason(api, clock, action, user, status, code):
    receipt = api.receive()["receipt_code"]
    api.post(f"/cases/{receipt}/handover", json={"to_officer": "civ"})
    done = api.post(f"/cases/{receipt}/{action}", user, json={"reason": "Lý do đầy đủ"})
    assert done.status_code == 200, done.get_json()
    assert (done.get_json()["status"], done.get_json()["status_code"]) == (status, code)
    after = api.post(f"/cases/{receipt}/withdraw", "civ", json={"reason": "x"})
    assert after.status_code == 409 and error_code(after) == "case_closed"


@pytest.mark.parametrize("action", ["refuse", "stop", "withdraw", "supplement-request"])
def test_actions_that_need_a_reason_refuse_an_empty_one(api, clock, action):
    code = api.receive()["receipt_code"]
    response = api.post(f"/cases/{code}/{action}", json={"reason": "  "})
    assert response.status_code == 422 and error_code(response) == "required"
    assert api.get(f"/cases/{code}").get_json()["status"] == "received"


def test_return_before_resolution_is_an_invalid_transition(api, clock):
    code = api.receive()["receipt_code"]
    response = api.post(f"/cases/{code}/return", json={})
    assert response.status_code == 409 and error_code(response) == "invalid_transition"


def _resolved(api) -> str:
    code = api.receive()["receipt_code"]
    api.post(f"/cases/{code}/handover", json={"to_officer": "civ"})
    api.post(f"/cases/{code}/handover", "civ", json={"to_officer": "vice"})
    assert api.post(f"/cases/{code}/resolve", "vice", json={}).get_json()["status"] == "resolved"
    return code


def test_return_records_the_applicants_satisfaction_and_comment(api, clock):
    code = _resolved(api)
    response = api.post(f"/cases/{code}/return", json={
        "note": "Đã ký nhận", "satisfied": False, "comment": "Chờ lâu ở quầy",
    })
    assert response.status_code == 200 and response.get_json()["status"] == "returned"
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        rating = session.scalars(select(Rating)).one()
        kinds = session.scalars(select(CaseEvent.kind).order_by(CaseEvent.id)).all()
        recorder = session.get(Officer, rating.recorded_by_id).username
    engine.dispose()
    assert (rating.source, rating.satisfied, rating.comment, recorder) == (
        "desk", False, "Chờ lâu ở quầy", "desk",
    )
    assert kinds[-2:] == ["returned", "rated"]


def test_return_without_a_rating_records_none(api, clock):
    code = _resolved(api)
    assert api.post(f"/cases/{code}/return", json={"satisfied": None}).status_code == 200
    assert api.count(Rating) == 0


@pytest.mark.parametrize("body", [
    {"satisfied": "yes"},
    {"satisfied": 1},
    {"satisfied": True, "comment": 5},
    {"satisfied": True, "comment": "x" * 2001},
    {"comment": "Tốt"},  # a comment needs the rating it explains
    {"satisfied": True, "stars": 5},
])
def test_return_with_a_bad_rating_is_422_and_changes_nothing(api, clock, body):
    code = _resolved(api)
    events = api.count(CaseEvent)
    response = api.post(f"/cases/{code}/return", json=body)
    assert response.status_code == 422, response.get_json()
    error_code(response)
    assert api.get(f"/cases/{code}").get_json()["status"] == "resolved"
    assert api.count(Rating) == 0 and api.count(CaseEvent) == events


def test_resolve_with_an_unknown_outcome_is_refused(api, clock):
    code = api.receive()["receipt_code"]
    response = api.post(f"/cases/{code}/resolve", json={"outcome": "maybe"})
    assert response.status_code == 422


# --- stale versions -------------------------------------------------------------------------

def test_a_stale_expected_version_gets_409_and_changes_nothing(api, clock):
    case = api.receive()
    code, seen = case["receipt_code"], case["version"]
    api.post(f"/cases/{code}/handover", json={"to_officer": "civ", "expected_version": seen})
    before = api.get(f"/cases/{code}", "civ").get_json()
    stale = api.post(f"/cases/{code}/supplement-request", "civ", json={
        "reason": "Thiếu giấy", "expected_version": seen,
    })
    assert stale.status_code == 409 and error_code(stale) == "stale_case"
    after = api.get(f"/cases/{code}", "civ").get_json()
    assert after == before


def test_of_two_simultaneous_actions_on_one_version_exactly_one_wins(api, clock):
    case = api.receive()
    code, version = case["receipt_code"], case["version"]
    app = api.client.application
    start = threading.Barrier(2)
    statuses = []

    def act(receiver):
        client = app.test_client()
        start.wait()
        with frozen_at(MONDAY):
            response = client.post(
                f"/api/v1/cases/{code}/handover",
                json={"to_officer": receiver, "expected_version": version},
                headers={"Authorization": f"Bearer {api.tokens['desk']}"},
            )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=act, args=(name,)) for name in ("civ", "civ2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    assert api.count(CaseEvent) == 2  # received, and one handover


def test_if_match_header_carries_the_expected_version(api, clock):
    case = api.receive()
    code = case["receipt_code"]
    stale = api.post(f"/cases/{code}/handover", json={"to_officer": "civ"},
                     headers={"If-Match": f'"{case["version"] - 1}"'})
    assert stale.status_code == 409
    fresh = api.post(f"/cases/{code}/handover", json={"to_officer": "civ"},
                     headers={"If-Match": f'"{case["version"]}"'})
    assert fresh.status_code == 200
    both = api.post(f"/cases/{code}/handover", "civ", json={"to_officer": "vice", "expected_version": 1},
                    headers={"If-Match": '"2"'})
    assert both.status_code == 422
    garbage = api.post(f"/cases/{code}/handover", "civ", json={"to_officer": "vice"},
                       headers={"If-Match": "yesterday"})
    assert garbage.status_code == 422


# --- list -------------------------------------------------------------------------------------

def test_list_filters_by_status_unit_owner_and_overdue_and_pages(api, clock):
    codes = [api.receive()["receipt_code"] for _ in range(3)]
    api.receive("desk_sd")
    api.post(f"/cases/{codes[0]}/handover", json={"to_officer": "civ"})
    everything = api.get("/cases").get_json()
    assert everything["total"] == 3  # the desk does not see Sóc Đông's case
    assert [c["receipt_code"] for c in everything["items"]] == codes[::-1]
    assert api.get("/cases?status=in_progress").get_json()["total"] == 1
    assert api.get("/cases?status=received,in_progress").get_json()["total"] == 3
    assert api.get("/cases?owner=civ").get_json()["items"][0]["receipt_code"] == codes[0]
    assert api.get("/cases?owner=me", "civ").get_json()["total"] == 1
    assert api.get("/cases?unit=XA-MP").get_json()["total"] == 3
    assert api.get("/cases?unit=XA-SD").get_json()["total"] == 0
    assert api.get("/cases?unit=HN", "desk_sd").get_json()["total"] == 1
    page = api.get("/cases?limit=2&offset=0").get_json()
    assert (len(page["items"]), page["next_offset"]) == (2, 2)
    last = api.get("/cases?limit=2&offset=2").get_json()
    assert (len(last["items"]), last["next_offset"]) == (1, None)
    assert api.get("/cases?overdue=true").get_json()["total"] == 0
    clock.set(vn(2026, 3, 4, 18, 0))  # the due day's evening: day-based, not yet overdue
    assert api.get("/cases?overdue=true").get_json()["total"] == 0
    clock.set(vn(2026, 3, 5, 8, 0))
    overdue = api.get("/cases?overdue=true").get_json()
    assert overdue["total"] == 3
    assert {c["deadline_state"] for c in overdue["items"]} == {"overdue"}
    assert api.get("/cases?overdue=false").get_json()["total"] == 0


@pytest.mark.parametrize("query", [
    "status=lost", "limit=0", "limit=1000", "offset=-1", "overdue=perhaps", "colour=red",
])
def test_list_refuses_bad_filters(api, clock, query):
    response = api.get(f"/cases?{query}")
    assert response.status_code == 422, query


def test_list_with_an_unknown_unit_or_owner_is_404(api, clock):
    assert api.get("/cases?unit=NOPE").status_code == 404
    assert api.get("/cases?owner=ghost").status_code == 404


# --- authentication and limits -----------------------------------------------------------------

def test_requests_without_a_token_get_401_with_a_bearer_challenge(api, clock):
    response = api.get("/cases", None)
    assert response.status_code == 401 and error_code(response) == "token_missing"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    basic = api.get("/cases", None, headers={"Authorization": "Basic ZGVzazpwdw=="})
    assert basic.status_code == 401


def test_unknown_and_revoked_tokens_get_401(api, clock):
    unknown = api.get("/cases", None, headers={"Authorization": "Bearer not-a-real-token"})
    assert unknown.status_code == 401 and error_code(unknown) == "token_invalid"
    revoked = api.post("/cases", "revoked", json={"procedure_code": "HT-XNHN", "applicant": APPLICANT})
    assert revoked.status_code == 401 and error_code(revoked) == "token_revoked"
    assert api.count(Case) == 0


def test_the_rate_limit_is_per_token(database_url, api, clock):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "API_RATE_LIMIT": "3/minute"})
    limited = Api(app.test_client(), api.tokens, database_url)
    assert [limited.get("/cases").status_code for _ in range(3)] == [200, 200, 200]
    blocked = limited.get("/cases")
    assert blocked.status_code == 429 and error_code(blocked) == "rate_limited"
    assert limited.get("/cases", "civ").status_code == 200


def test_refused_tokens_are_rate_limited_per_address(database_url, api, clock):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "API_AUTH_FAILURE_LIMIT": "3/minute"})
    limited = Api(app.test_client(), api.tokens, database_url)
    for n in range(3):
        made_up = {"Authorization": f"Bearer guess-{n}"}
        assert limited.get("/cases", None, headers=made_up).status_code == 401
    assert limited.get("/cases", None, headers={"Authorization": "Bearer guess-4"}).status_code == 429


def test_messages_follow_accept_language(api, clock):
    vi = api.get("/cases/XA-MP-260302-0404")
    en = api.get("/cases/XA-MP-260302-0404", headers={"Accept-Language": "en"})
    assert vi.get_json()["error"]["message"].startswith("Không tìm thấy hồ sơ")
    assert en.get_json()["error"]["message"] == "No case with receipt code XA-MP-260302-0404."


def test_unknown_paths_and_methods_under_the_api_answer_in_json(api, clock):
    missing = api.get("/nowhere")
    assert missing.status_code == 404 and error_code(missing) == "not_found"
    wrong = api.call("DELETE", "/cases")
    assert wrong.status_code == 405 and error_code(wrong) == "method_not_allowed"
    assert api.client.get("/no-such-page").status_code == 404
    assert api.client.get("/no-such-page").mimetype == "text/html"


# --- bad input --------------------------------------------------------------------------------

RECEIVE = {"procedure_code": "HT-XNHN", "applicant": APPLICANT}


@pytest.mark.parametrize(("body", "status", "code"), [
    (b'{"procedure_code": "HT-XNHN", ', 400, "malformed_json"),
    (b"\xff\xfe{\x00}", 400, "body_not_utf8"),
    (b'{"procedure_code": "\xc3\x28"}', 400, "body_not_utf8"),
    (b'{"a": NaN}', 400, "malformed_json"),
    (b'{"a": 1, "a": 2}', 400, "malformed_json"),
    (b"[" * 100_000 + b"]" * 100_000, 400, "malformed_json"),
    (b"[1, 2]", 422, "invalid_value"),
    (b'"text"', 422, "invalid_value"),
    (b"", 422, "required"),
])
def test_malformed_bodies_are_refused_clearly(api, clock, body, status, code):
    response = api.post("/cases", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status and error_code(response) == code
    assert api.count(Case) == 0


@pytest.mark.parametrize(("change", "code"), [
    ({"colour": "red"}, "unknown_fields"),
    ({"applicant": {**APPLICANT, "nickname": "Hoa"}}, "unknown_fields"),
    ({"documents": [{"name": "Tờ khai", "copies": 2}]}, "unknown_fields"),
    ({"procedure_code": 42}, "invalid_value"),
    ({"applicant": "Nguyễn Thị Hoa"}, "invalid_value"),
    ({"applicant": {**APPLICANT, "name": ["a"]}}, "invalid_value"),
    ({"applicant": {**APPLICANT, "id_number": "12ab"}}, "invalid_value"),
    ({"applicant": {**APPLICANT, "phone": "call me"}}, "invalid_value"),
    ({"applicant": {**APPLICANT, "name": "x" * 201}}, "too_long"),
    ({"applicant": {**APPLICANT, "name": "Hoa\x00"}}, "invalid_value"),
    ({"applicant": {**APPLICANT, "name": "Hoa\ud800"}}, "invalid_value"),
    ({"applicant": {**APPLICANT, "name": "x" * 900_000}}, "too_long"),
    ({"channel": "pigeon"}, "invalid_value"),
    ({"result_return": "pigeon"}, "invalid_value"),
    ({"result_return": True}, "invalid_value"),
    ({"documents": "Tờ khai"}, "invalid_value"),
    ({"documents": [{"name": "Tờ khai", "count": True}]}, "invalid_value"),
    ({"procedure_code": "HT\u0000XNHN"}, "invalid_value"),
    ({"expected_version": 3}, "unknown_fields"),  # a new case has no version to expect
])
def test_wrong_fields_and_types_are_422_and_change_nothing(api, clock, change, code):
    response = api.post("/cases", json={**RECEIVE, **change})
    assert response.status_code == 422 and error_code(response) == code, response.get_json()
    assert api.count(Case) == 0


def test_a_ten_megabyte_body_is_413_json(api, clock):
    name = "A" * (10 * 1024 * 1024)
    response = api.post("/cases", json={**RECEIVE, "applicant": {**APPLICANT, "name": name}})
    assert response.status_code == 413 and error_code(response) == "body_too_large"
    assert api.count(Case) == 0


def test_a_path_with_nul_or_odd_characters_is_a_clean_json_refusal(api, clock):
    for path in ("/cases/%00", "/cases/%00/handover", "/cases/%FF%FE", "/cases/" + "A" * 300,
                 "/cases/a%20b/handover"):
        response = api.post(path, json={"to_officer": "civ"}) if path.endswith("handover") else api.get(path)
        assert response.status_code in (400, 404), path  # NUL is refused at the door (400)
        error_code(response)


def test_action_bodies_refuse_unknown_fields_and_wrong_types(api, clock):
    code = api.receive()["receipt_code"]
    for body in ({"to_officer": "civ", "urgent": True}, {"to_officer": 7}, {"to_officer": "civ", "to_step": 0},
                 {"to_officer": "civ", "to_step": [2]}, {"to_officer": "civ", "note": {"x": 1}},
                 {"to_officer": "civ", "expected_version": "3"},
                 {"to_officer": "civ", "expected_version": True}):
        response = api.post(f"/cases/{code}/handover", json=body)
        assert response.status_code == 422, body
    missing = api.post(f"/cases/{code}/handover", json={})
    assert missing.status_code == 422 and error_code(missing) == "required"
    assert api.get(f"/cases/{code}").get_json()["status"] == "received"


def test_scripts_in_names_are_stored_as_typed_and_escaped_in_html(api, clock):
    name = '<script>alert("x")</script> Hoa'
    case = api.receive(name=name)
    assert case["applicant"]["name"] == name
    assert api.get(f"/cases/{case['receipt_code']}").get_json()["applicant"]["name"] == name
    assert api.get(f"/cases/{case['receipt_code']}").mimetype == "application/json"
    app = api.client.application
    app.config["WTF_CSRF_ENABLED"] = False
    page = api.client.post("/lookup", data={"code": case["receipt_code"], "phone4": "5678"})
    html = page.get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Hoa" in html
    assert "<script>alert" not in html


def test_every_write_appends_exactly_one_history_event(api, clock):
    code = api.receive()["receipt_code"]
    api.post(f"/cases/{code}/handover", json={"to_officer": "civ"})
    api.post(f"/cases/{code}/handover", json={"to_officer": "civ"})  # refused: not the owner now
    assert api.count(CaseEvent) == 2


def test_openapi_document_is_served_without_a_token(api):
    response = api.client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert json.loads(response.get_data())["openapi"] == "3.1.0"


def test_responses_match_the_schemas_of_the_openapi_document(api, clock):
    from jsonschema import Draft202012Validator

    from onestop.web.openapi import OPENAPI

    def validator(name):
        return Draft202012Validator({**OPENAPI, "$ref": f"#/components/schemas/{name}"})

    code = api.receive()["receipt_code"]
    api.post(f"/cases/{code}/handover", json={"to_officer": "civ"})
    api.post(f"/cases/{code}/extension", "head", json={"reason": "Xác minh", "new_due_at": "2026-03-10"})
    case_schema = validator("Case")
    for body in (api.get(f"/cases/{code}").get_json(), api.get(f"/cases/{code}", "vice").get_json()):
        case_schema.validate(body)
    for item in api.get("/cases").get_json()["items"]:
        case_schema.validate(item)
    validator("Error").validate(api.get("/cases/NOPE-1").get_json())
