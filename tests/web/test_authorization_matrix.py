"""Who may do what: every page and API endpoint × every role × same unit / parent unit / other
unit, with the expected allow or deny.

The table below is generated against `app.url_map`: a route (or a method of a route) without a
probe fails `test_every_route_has_an_entry_in_the_matrix`, and a probe for a route that no longer
exists fails too. Each probe is then played for all 19 actors: six roles (desk, unit_head, chair,
admin, inspector, and the process role civil_status_officer) in three places relative to the
case or unit the probe touches (the commune XA-MP, or its sub-units: "same"; the province HN
above it: "parent"; the other commune XA-SD: "other") and an anonymous visitor. Officers sign in
through the real log-in form with CSRF on; the API is called with each officer's bearer token.

Every probe sends a valid request, so an allowed actor must succeed (2xx or a redirect other
than to the log-in page); a denied one must get 403 or 404; an anonymous one the log-in page (or
401 from the API). Each request runs in a transaction that is rolled back afterwards, so every
probe starts from the same world.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from dashboards.views import PLOTLY_JS
from onestop import lifecycle as lc
from onestop.admin import create_officer
from onestop.calendar_store import add_calendar_exception
from onestop.clock import frozen_at
from onestop.db import make_engine
from onestop.intake import set_checklist
from onestop.models import Officer
from onestop.tokens import create_token
from onestop.web import create_app
from tests.conftest import vn
from tests.factories import APPLICANT, build_world
from tests.web.support import CHECKLIST, PASSWORD, csrf_token, password_hash

SEEDED_AT = vn(2026, 3, 2, 8, 0)  # a Monday
PROBED_AT = vn(2026, 3, 2, 10, 0)

ROLES = ("desk", "unit_head", "chair", "admin", "inspector", "civil_status_officer")
SCOPES = ("same", "parent", "other")
ANON = "anonymous"
ACTORS = [f"{role}@{scope}" for role in ROLES for scope in SCOPES] + [ANON]

# The officer playing each actor. "same" is the commune XA-MP of every case or one of its
# units: its desk, its civil status department (whose officer `civ` holds the cases' open
# step and whose head is `head`), or the commune itself.
CAST = {
    "desk@same": ("desk", None, None),  # from build_world: desk of XA-MP-MC
    "desk@parent": ("m_desk_hn", "HN", "desk"),
    "desk@other": ("desk_sd", None, None),  # build_world: desk of XA-SD-MC
    "unit_head@same": ("head", None, None),  # build_world: head of XA-MP-TP
    "unit_head@parent": ("m_head_hn", "HN", "unit_head"),
    "unit_head@other": ("m_head_sd", "XA-SD", "unit_head"),
    "chair@same": ("m_chair_mp", "XA-MP", "chair"),
    "chair@parent": ("m_chair_hn", "HN", "chair"),
    "chair@other": ("m_chair_sd", "XA-SD", "chair"),
    "admin@same": ("m_admin_mp", "XA-MP", "admin"),
    "admin@parent": ("m_admin_hn", "HN", "admin"),
    "admin@other": ("m_admin_sd", "XA-SD", "admin"),
    "inspector@same": ("m_insp_mp", "XA-MP", "inspector"),
    "inspector@parent": ("m_insp_hn", "HN", "inspector"),
    "inspector@other": ("m_insp_sd", "XA-SD", "inspector"),
    "civil_status_officer@same": ("civ", None, None),  # build_world: owns the open steps
    "civil_status_officer@parent": ("m_civ_hn", "HN", "civil_status_officer"),
    "civil_status_officer@other": ("civ_sd", None, None),  # build_world: XA-SD
}


# --- who: the sets of actors a probe allows ---------------------------------------------------------

def _at(*roles: str, scopes: tuple[str, ...] = SCOPES) -> frozenset[str]:
    return frozenset(f"{role}@{scope}" for role in roles for scope in scopes)


PUBLIC = frozenset(ACTORS)
OFFICERS = _at(*ROLES)
# Reading a case: a role in its unit, a unit above it or a unit below it.
VIEWERS = _at(*ROLES, scopes=("same", "parent"))
OWNER = frozenset({"civil_status_officer@same"})
DESK_FOR_UNIT = _at("desk", scopes=("same", "parent"))
HEAD_OF_STEP = _at("unit_head", scopes=("same", "parent"))
ADMIN_IN_SCOPE = _at("admin", scopes=("same", "parent"))
TOP_ADMIN = frozenset({"admin@parent"})  # an administrator of the root unit (the province)
# The head of the case's own unit (the commune XA-MP): here, a head of the province above it.
HEAD_OF_CASE_UNIT = frozenset({"unit_head@parent"})
# Forms 01-05 print personal numbers in full: the case's step owners, its desk, heads.
PERSONAL_DATA = OWNER | {"desk@same"} | DESK_FOR_UNIT | HEAD_OF_STEP
CHAIRS = _at("chair", scopes=("same", "parent"))


@dataclass(frozen=True)
class Probe:
    """One request against one route, and who may make it."""

    name: str
    endpoint: str
    method: str
    path: str  # formatted with the world's case codes and officer ids
    allow: frozenset[str]
    form: dict[str, Any] | None = None
    json: dict[str, Any] | None = None
    upload: tuple[str, str, bytes] | None = None  # (field, file name, content)
    version_of: str | None = None  # add expected_version of this case to the form
    api: bool = False
    fresh_client: bool = False  # the probe changes who is signed in
    lands_on_login: bool = False  # success is a redirect to the log-in page (log out)
    # Where the view sends a refused officer instead of answering 403 (the admin pages send
    # an officer outside their scope back to the list, with the error flashed).
    refused_to: str | None = None


def web(name, endpoint, method, path, allow, **kw) -> Probe:
    return Probe(name, endpoint, method, path, allow, **kw)


def api(name, endpoint, method, path, allow, **kw) -> Probe:
    return Probe(name, endpoint, method, path, allow, api=True, **kw)


BOOK = (
    'STT,Mã hồ sơ,Tên thủ tục hành chính,"Tên tổ chức, cá nhân","Địa chỉ, số điện thoại",'
    "Cơ quan chủ trì giải quyết,Ngày nhận hồ sơ,Ngày hẹn trả kết quả,Ngày trả kết quả,Ký nhận,Ghi chú\n"
    "1,MP-OLD-1,HT-XNHN,Lê Văn Tám,,,03/02/2026,06/02/2026,05/02/2026,,\n"
).encode()
CATALOGUE = (
    "code,name_vi,name_en,field,level,duration_unit,duration_amount,same_day_cutoff,legal_basis,steps_hours\n"
    "HT-MATRIX,Thủ tục thử,Test procedure,Hộ tịch,commune,working_days,3,,Decree 123/2015,"
    "receive:desk:2;verify:civil_status_officer:16;return:desk:2\n"
).encode()
NEW_APPLICANT = {**APPLICANT, "name": "Đặng Thị Thu", "id_number": "001190099999"}
INTAKE_FORM = {
    "outcome": "receive", **NEW_APPLICANT, "doc_1": "on", "doc_2": "on", "channel": "in_person",
}

PROBES: list[Probe] = [
    # public pages
    web("home", "public.index", "GET", "/", PUBLIC),
    web("health", "public.health", "GET", "/healthz", PUBLIC),
    web("static", "static", "GET", "/static/app.css", PUBLIC),
    web("lookup page", "public.lookup", "GET", "/lookup?code={progress}", PUBLIC),
    web("lookup verified", "public.lookup_verified", "POST", "/lookup", PUBLIC,
        form={"code": "{progress}", "phone4": "5678"}),
    web("lookup rate", "public.rate", "POST", "/lookup/rate", PUBLIC,
        form={"code": "{returned}", "phone4": "5678", "satisfied": "yes"}),
    web("lookup complaint", "public.complain", "POST", "/lookup/complaint", PUBLIC,
        form={"code": "{progress}", "phone4": "5678", "text": "Chậm quá"}),
    web("language", "auth.set_language", "GET", "/lang/en", PUBLIC, fresh_client=True),
    web("log-in page", "auth.login", "GET", "/login", PUBLIC),
    web("log in", "auth.login", "POST", "/login", PUBLIC,
        form={"username": "desk2", "password": PASSWORD}, fresh_client=True),
    web("log out", "auth.logout", "POST", "/logout", PUBLIC, fresh_client=True,
        lands_on_login=True),
    # officers' queues and search
    web("my queue", "cases.queue", "GET", "/queue", OFFICERS),
    web("unit queue", "cases.unit_queue", "GET", "/queue/unit", _at("unit_head", "chair")),
    web("find", "cases.find", "GET", "/cases?q=Hoa", OFFICERS),
    # the case page and its printable forms
    web("case page", "cases.show", "GET", "/cases/{progress}", VIEWERS),
    web("control slip 06", "cases.form_html", "GET", "/cases/{progress}/forms/06", VIEWERS),
    web("receipt 01 (personal data)", "cases.form_html", "GET", "/cases/{progress}/forms/01",
        PERSONAL_DATA),
    web("receipt 01 as PDF", "cases.form_pdf", "GET", "/cases/{progress}/forms/01.pdf",
        PERSONAL_DATA),
    # actions on a case, from the case page
    web("hand over", "cases.act", "POST", "/cases/{progress}/actions/hand_over", OWNER,
        form={"target": "3:{vice_id}"}, version_of="progress"),
    web("reassign", "cases.act", "POST", "/cases/{progress}/actions/reassign", HEAD_OF_STEP,
        form={"to_officer": "{civ2_id}"}, version_of="progress"),
    web("request supplement", "cases.act", "POST", "/cases/{progress}/actions/request_supplement",
        OWNER, form={"reason": "Thiếu bản sao", "documents": "Bản sao Căn cước"},
        version_of="progress"),
    web("receive supplement", "cases.act", "POST",
        "/cases/{supplement}/actions/receive_supplement", OWNER | DESK_FOR_UNIT,
        version_of="supplement"),
    web("pause for payment", "cases.act", "POST", "/cases/{progress}/actions/pause_payment",
        OWNER, version_of="progress"),
    web("resume after payment", "cases.act", "POST", "/cases/{payment}/actions/resume_payment",
        OWNER | DESK_FOR_UNIT, version_of="payment"),
    web("extend (form 04)", "cases.act", "POST", "/cases/{progress}/actions/extend",
        HEAD_OF_STEP, form={"reason": "Chờ xác minh", "new_due_at": "2026-03-12T17:00"},
        version_of="progress"),
    web("refuse after review", "cases.act", "POST", "/cases/{progress}/actions/refuse", OWNER,
        form={"reason": "Không đủ điều kiện"}, version_of="progress"),
    web("stop (form 05)", "cases.act", "POST", "/cases/{progress}/actions/stop",
        OWNER | HEAD_OF_STEP, form={"reason": "Người yêu cầu đã chết"}, version_of="progress"),
    web("withdraw", "cases.act", "POST", "/cases/{progress}/actions/withdraw",
        OWNER | DESK_FOR_UNIT, form={"reason": "Công dân rút"}, version_of="progress"),
    web("resolve", "cases.act", "POST", "/cases/{progress}/actions/resolve", OWNER,
        form={"outcome": "approved"}, version_of="progress"),
    web("return", "cases.act", "POST", "/cases/{resolved}/actions/return",
        frozenset({"desk@same"}), version_of="resolved"),
    web("rate at the desk", "cases.act", "POST", "/cases/{returned}/actions/rate",
        DESK_FOR_UNIT, form={"satisfied": "yes"}, version_of="returned"),
    web("complaint at the desk", "cases.act", "POST", "/cases/{progress}/actions/complaint",
        DESK_FOR_UNIT | HEAD_OF_CASE_UNIT, form={"text": "Phản ánh"}, version_of="progress"),
    web("accept online dossier", "cases.act", "POST", "/cases/{submitted}/actions/accept",
        DESK_FOR_UNIT, version_of="submitted"),
    web("guide online dossier", "cases.act", "POST", "/cases/{submitted}/actions/guide",
        DESK_FOR_UNIT, form={"missing": "Bản sao Căn cước", "reason": "Thiếu"},
        version_of="submitted"),
    web("refuse online dossier", "cases.act", "POST",
        "/cases/{submitted}/actions/refuse_at_intake", DESK_FOR_UNIT,
        form={"reason": "Không thuộc thẩm quyền"}, version_of="submitted"),
    # the desk
    web("desk home", "desk.index", "GET", "/desk/", _at("desk")),
    web("intake picker", "desk.intake", "GET", "/desk/intake", _at("desk")),
    web("intake form", "desk.intake_form", "GET", "/desk/intake/HT-XNHN", _at("desk")),
    web("receive at the desk", "desk.intake_submit", "POST", "/desk/intake/HT-XNHN", _at("desk"),
        form=INTAKE_FORM),
    # the case book (form 07) of the commune XA-MP
    web("case book", "casebook.index", "GET", "/casebook?unit=XA-MP&from=2026-03-01",
        _at("desk", "unit_head", "chair", "admin", "inspector", scopes=("same", "parent"))),
    web("case book as Excel", "casebook.export", "GET", "/casebook/export.xlsx?unit=XA-MP",
        _at("desk", "unit_head", "chair", "admin", "inspector", scopes=("same", "parent"))),
    web("case book as PDF", "casebook.export_pdf", "GET", "/casebook/export.pdf?unit=XA-MP",
        _at("desk", "unit_head", "chair", "admin", "inspector", scopes=("same", "parent"))),
    web("case book import page", "casebook.import_book", "GET", "/casebook/import?unit=XA-MP",
        _at("desk")),
    web("case book import", "casebook.import_book", "POST", "/casebook/import", DESK_FOR_UNIT,
        form={"unit": "XA-MP"}, upload=("book", "so-cu.csv", BOOK)),
    # administration, of the commune XA-MP and its officers
    web("admin home", "admin.index", "GET", "/admin/", _at("admin")),
    web("units", "admin.units", "GET", "/admin/units", _at("admin")),
    web("add a unit under XA-MP", "admin.units_add", "POST", "/admin/units", ADMIN_IN_SCOPE,
        form={"code": "XA-MP-VH", "name": "Văn hóa - Xã hội", "kind": "department",
              "parent_code": "XA-MP"}),
    web("a unit of XA-MP", "admin.unit", "GET", "/admin/units/XA-MP-MC", ADMIN_IN_SCOPE,
        refused_to="/admin/units"),
    web("rename a unit of XA-MP", "admin.unit_change", "POST", "/admin/units/XA-MP-MC/rename",
        ADMIN_IN_SCOPE, form={"name": "Bộ phận Một cửa xã Minh Phú (mới)"}),
    web("officers", "admin.officers", "GET", "/admin/officers", _at("admin")),
    web("add an officer in XA-MP", "admin.officers_add", "POST", "/admin/officers",
        ADMIN_IN_SCOPE, form={"username": "moi", "full_name": "Cán Bộ Mới",
                              "unit_code": "XA-MP-MC", "role": "desk",
                              "password": "mật-khẩu-mới-123"}),
    web("an officer of XA-MP", "admin.officer", "GET", "/admin/officers/desk2", ADMIN_IN_SCOPE,
        refused_to="/admin/officers"),
    web("switch off an officer of XA-MP", "admin.officer_change", "POST",
        "/admin/officers/desk2/active", ADMIN_IN_SCOPE, form={"active": "0"},
        refused_to="/admin/officers"),
    web("procedures", "admin.procedures", "GET", "/admin/procedures", _at("admin")),
    web("load the catalogue", "admin.procedures_upload", "POST", "/admin/procedures", TOP_ADMIN,
        upload=("catalogue", "procedures.csv", CATALOGUE)),
    web("a procedure", "admin.procedure", "GET", "/admin/procedures/HT-XNHN", _at("admin")),
    web("set a checklist", "admin.procedure_checklist", "POST",
        "/admin/procedures/HT-XNHN/checklist", TOP_ADMIN,
        form={"documents": "Tờ khai | original\nBản sao Căn cước | copy"}),
    web("change a process", "admin.procedure_steps", "POST", "/admin/procedures/HT-XNHN/steps",
        TOP_ADMIN, form={"steps": "receive | desk | | 2\nverify | civil_status_officer | | 12\n"
                                  "sign | commune_vice_chair | | 4\nreturn | desk | | 2"}),
    web("calendar", "admin.calendar", "GET", "/admin/calendar", _at("admin")),
    web("add a day off", "admin.calendar_add", "POST", "/admin/calendar", TOP_ADMIN,
        form={"day": "2026-12-31", "kind": "day_off", "legal_reference": "Thông báo 1/TB-BNV"}),
    web("remove a day off", "admin.calendar_remove", "POST", "/admin/calendar/2026-12-29/remove",
        TOP_ADMIN, form={"reason": "Ghi nhầm ngày"}),
    # inspections: the sample belongs to the province's inspector
    web("inspections", "inspections.index", "GET", "/inspections", _at("inspector")),
    web("an inspection sample", "inspections.show", "GET", "/inspections/{sample_id}",
        frozenset({"inspector@parent"})),
    web("record a finding", "inspections.record", "POST", "/inspections/{sample_id}",
        frozenset({"inspector@parent"}), form={"verdict": "in_order", "note": "Đúng quy trình"}),
    # the inbox: every officer has one; a notice is its addressee's only
    web("inbox", "notifications.index", "GET", "/notifications", OFFICERS),
    web("mark a notice read", "notifications.read", "POST", "/notifications/{notification_id}/read",
        OWNER),
    web("mark all read", "notifications.read_all", "POST", "/notifications/read-all", OFFICERS),
    # the chairs' dashboards of the commune XA-MP: its chair and the province's (a unit head
    # sees only their own unit); a scorecard: the officer, their unit's head and chairs above
    *(web(f"dashboard {name}", f"dashboards.{name}", "GET", f"{path}?unit=XA-MP", CHAIRS)
      for name, path in (("overview", "/dashboards/"), ("laggards", "/dashboards/laggards"),
                         ("heatmap", "/dashboards/heatmap"), ("drill", "/dashboards/drill"),
                         ("escalations", "/dashboards/escalations"))),
    web("dashboard export", "dashboards.export", "GET",
        "/dashboards/export.xlsx?page=overview&table=overdue&unit=XA-MP", CHAIRS),
    web("officer scorecard", "dashboards.officer", "GET", "/dashboards/officers/civ",
        OWNER | CHAIRS | {"unit_head@same"}),
    web("my scorecard", "dashboards.my_scorecard", "GET", "/dashboards/my-scorecard", OFFICERS),
    web("plotly.js", "dashboards.plotly_js", "GET", f"/dashboards/plotly/{PLOTLY_JS}", PUBLIC),
    web("dashboard script", "dashboards.static", "GET", "/dashboards/static/dashboards.js", PUBLIC),
    # the REST API
    api("OpenAPI document", "api.openapi", "GET", "/api/v1/openapi.json", PUBLIC),
    api("list cases", "api.list_cases", "GET", "/api/v1/cases", OFFICERS),
    api("receive a case", "api.receive_case", "POST", "/api/v1/cases", _at("desk"),
        json={"procedure_code": "HT-XNHN", "applicant": NEW_APPLICANT,
              "documents": [{"name": "Tờ khai", "form": "original", "count": 1}]}),
    api("read a case", "api.get_case", "GET", "/api/v1/cases/{progress}", VIEWERS),
    api("API hand over", "api.handover", "POST", "/api/v1/cases/{progress}/handover", OWNER,
        json={"to_officer": "vice", "to_step": 3}),
    api("API request supplement", "api.supplement_request", "POST",
        "/api/v1/cases/{progress}/supplement-request", OWNER, json={"reason": "Thiếu bản sao"}),
    api("API receive supplement", "api.supplement_received", "POST",
        "/api/v1/cases/{supplement}/supplement-received", OWNER | DESK_FOR_UNIT, json={}),
    api("API pause for payment", "api.pause", "POST", "/api/v1/cases/{progress}/pause", OWNER,
        json={}),
    api("API resume after payment", "api.resume", "POST", "/api/v1/cases/{payment}/resume",
        OWNER | DESK_FOR_UNIT, json={}),
    api("API extend", "api.extension", "POST", "/api/v1/cases/{progress}/extension",
        HEAD_OF_STEP, json={"reason": "Chờ xác minh", "new_due_at": "2026-03-12"}),
    api("API refuse", "api.refuse", "POST", "/api/v1/cases/{progress}/refuse", OWNER,
        json={"reason": "Không đủ điều kiện"}),
    api("API stop", "api.stop", "POST", "/api/v1/cases/{progress}/stop", OWNER | HEAD_OF_STEP,
        json={"reason": "Dừng"}),
    api("API withdraw", "api.withdraw", "POST", "/api/v1/cases/{progress}/withdraw",
        OWNER | DESK_FOR_UNIT, json={"reason": "Công dân rút"}),
    api("API resolve", "api.resolve", "POST", "/api/v1/cases/{progress}/resolve", OWNER,
        json={"outcome": "approved"}),
    api("API return", "api.return", "POST", "/api/v1/cases/{resolved}/return",
        frozenset({"desk@same"}), json={}),
]


# --- the world ----------------------------------------------------------------------------------

@dataclass
class MatrixWorld:
    url: str
    values: dict[str, str]  # case codes and officer ids for the probes' paths and forms
    versions: dict[str, int]
    tokens: dict[str, str]  # actor -> bearer token


def _seed(url: str) -> MatrixWorld:
    engine = make_engine(url)
    with frozen_at(SEEDED_AT) as clock, Session(engine) as session:
        world = build_world(session)
        for actor, (username, unit, role) in CAST.items():
            if unit is not None:
                create_officer(session, username, f"Cán bộ {actor}", unit_code=unit, roles=[role])
        for officer in session.scalars(sa.select(Officer)):
            officer.password_hash = password_hash()
        set_checklist(session, "HT-XNHN", CHECKLIST)
        add_calendar_exception(session, date(2026, 12, 29), "day_off", "Thông báo 2/TB-BNV")
        cases = {name: world.receive() for name in ("progress", "supplement", "payment", "resolved", "returned")}
        submitted = lc.register_online(
            session, unit_code="XA-MP", procedure_code="HT-XNHN", applicant=APPLICANT,
            documents=[{"name": "Tờ khai", "form": "original", "count": 1}],
        )
        clock.set(vn(2026, 3, 2, 9, 0))
        for case in cases.values():
            lc.hand_over(session, case, world.desk, world.civ)
        lc.request_supplement(session, cases["supplement"], world.civ, "Thiếu bản sao")
        lc.pause_for_financial_obligations(session, cases["payment"], world.civ, "Nộp lệ phí")
        for name in ("resolved", "returned"):
            lc.resolve(session, cases[name], world.civ)
        lc.return_result(session, cases["returned"], world.desk)
        cases["submitted"] = submitted
        # An inspection sample drawn for the province's inspector, and a notice in civ's inbox.
        from onestop.escalation import Notification, notify
        from onestop.inspections import InspectionSample

        inspector = session.scalar(sa.select(Officer).where(Officer.username == CAST["inspector@parent"][0]))
        sample = InspectionSample(
            week_start=date(2026, 3, 2), unit_id=world.units["XA-MP"].id, case_id=cases["returned"].id,
            inspector_id=inspector.id, stratum="returned", weight=1.0, draw_rank=1, drawn_at=SEEDED_AT,
        )
        session.add(sample)
        notify(session, officer_id=world.civ.id, key="matrix-1", kind="reminder", title="Nhắc việc",
               body="Hồ sơ sắp đến hạn", case_id=cases["progress"].id, now=SEEDED_AT)
        session.flush()
        notification_id = session.scalar(sa.select(Notification.id).where(Notification.key == "matrix-1"))
        tokens = {
            actor: create_token(session, username, "matrix")[1]
            for actor, (username, _, _) in CAST.items()
        }
        session.commit()
        values = {name: case.receipt_code for name, case in cases.items()}
        values.update(vice_id=str(world.vice.id), civ2_id=str(world.civ2.id),
                      sample_id=str(sample.id), notification_id=str(notification_id))
        versions = {name: case.version_id for name, case in cases.items()}
    engine.dispose()
    return MatrixWorld(url, values, versions, tokens)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def matrix_world(request, tmp_path_factory) -> MatrixWorld:
    if request.param == "sqlite":
        import shutil

        path = tmp_path_factory.mktemp("matrix") / "onestop.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_schema_factory")()
    return _seed(url)


class RolledBack:
    """Runs each request in a transaction that is rolled back afterwards: every probe sees the
    world as seeded, whatever the previous probe changed."""

    def __init__(self, app, url: str) -> None:
        self.app = app
        self.active: sa.Connection | None = None
        self.engine = make_engine(url)
        if self.engine.dialect.name == "sqlite":
            # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN.
            @event.listens_for(self.engine, "connect")
            def _autocommit_driver(dbapi_connection, _record):
                dbapi_connection.isolation_level = None

            @event.listens_for(self.engine, "begin")
            def _begin(connection):
                connection.exec_driver_sql("BEGIN")

    @contextmanager
    def request(self) -> Iterator[sa.Connection]:
        if self.active is not None:  # nested: the requests share the outer transaction
            yield self.active
            return
        connection = self.engine.connect()
        outer = connection.begin()
        self.app.extensions["onestop.sessions"] = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        self.active = connection
        try:
            yield connection
        finally:
            self.active = None
            outer.rollback()
            connection.close()

    def close(self) -> None:
        self.engine.dispose()


@dataclass
class Harness:
    world: MatrixWorld
    app: Any
    db: RolledBack
    clients: dict[str, Any] = field(default_factory=dict)
    csrf: dict[int, str] = field(default_factory=dict)  # id(client) -> its session's token

    def _send(self, client, method: str, path: str, **kwargs):
        with self.db.request():
            return client.open(path, method=method, **kwargs)

    def signed_in(self, actor: str, fresh: bool = False):
        if not fresh and actor in self.clients:
            return self.clients[actor]
        client = self.app.test_client()
        if actor != ANON:
            username = CAST[actor][0]
            token = csrf_token(self._send(client, "GET", "/login").get_data(as_text=True))
            response = self._send(client, "POST", "/login", data={
                "username": username, "password": PASSWORD, "csrf_token": token,
            })
            assert response.status_code == 303, (actor, response.status_code)
        if not fresh:
            self.clients[actor] = client
        return client

    def play(self, probe: Probe, actor: str):
        fill: Callable[[str], str] = lambda text: text.format(**self.world.values)
        path = fill(probe.path)
        if probe.api:
            client = self.app.test_client()
            headers = {"Authorization": f"Bearer {self.world.tokens[actor]}"} if actor != ANON else {}
            body = None if probe.json is None else _filled(probe.json, fill)
            return self._send(client, probe.method, path, headers=headers, json=body)
        client = self.signed_in(actor, fresh=probe.fresh_client)
        if probe.method == "GET":
            return self._send(client, "GET", path)
        token = self.csrf.get(id(client))
        if token is None:  # one per session; the log-in page carries it for everyone
            token = csrf_token(self._send(client, "GET", "/login").get_data(as_text=True))
            if token is None:  # signed in: /login redirects; the queue has the log-out form
                token = csrf_token(self._send(client, "GET", "/queue").get_data(as_text=True))
            if not probe.fresh_client:
                self.csrf[id(client)] = token
        data: dict[str, Any] = {k: fill(v) for k, v in (probe.form or {}).items()}
        data["csrf_token"] = token
        if probe.version_of:
            data["expected_version"] = str(self.world.versions[probe.version_of])
        if probe.upload:
            name, filename, content = probe.upload
            data[name] = (io.BytesIO(content), filename)
            return self._send(client, "POST", path, data=data, content_type="multipart/form-data")
        return self._send(client, "POST", path, data=data)


def _filled(value: Any, fill: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fill(value)
    if isinstance(value, dict):
        return {k: _filled(v, fill) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, fill) for v in value]
    return value


@pytest.fixture(scope="module")
def harness(matrix_world) -> Iterator[Harness]:
    app = create_app({
        "DATABASE_URL": matrix_world.url, "TESTING": True, "WTF_CSRF_ENABLED": True,
        "RATELIMIT_ENABLED": False,
    })
    db = RolledBack(app, matrix_world.url)
    with frozen_at(PROBED_AT):
        yield Harness(matrix_world, app, db)
    db.close()


def outcome(response, probe: Probe) -> str:
    status = response.status_code
    location = response.headers.get("Location", "")
    to_login = status in (301, 302, 303, 307, 308) and location.split("?")[0].endswith("/login")
    if to_login and not probe.lands_on_login:
        return "login"
    if probe.refused_to and status in (302, 303) and location.split("?")[0] == probe.refused_to:
        return "deny"
    if probe.api and status == 401:
        return "login"
    if status < 400:
        return "allow"
    if status in (403, 404):
        return "deny"
    return f"error {status}"


def expected(probe: Probe, actor: str) -> str:
    if actor in probe.allow:
        return "allow"
    return "login" if actor == ANON else "deny"


# --- the tests -----------------------------------------------------------------------------------

def _routes(app) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def test_every_route_has_an_entry_in_the_matrix():
    app = create_app({"DATABASE_URL": "sqlite://", "TESTING": True})
    routes = _routes(app)
    covered = {(p.endpoint, p.method) for p in PROBES}
    assert sorted(routes - covered) == [], "routes without an entry in the authorization matrix"
    assert sorted(covered - routes) == [], "matrix entries for routes that no longer exist"
    assert len({p.name for p in PROBES}) == len(PROBES)


def test_the_cast_plays_every_role_in_every_place():
    assert set(CAST) | {ANON} == set(ACTORS) and len(ACTORS) == 19
    for probe in PROBES:
        assert probe.allow <= set(ACTORS), probe.name


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_authorization(harness, probe):
    results = {}
    for actor in ACTORS:
        response = harness.play(probe, actor)
        results[actor] = outcome(response, probe)
    wrong = {
        actor: f"expected {expected(probe, actor)}, got {got}"
        for actor, got in results.items() if got != expected(probe, actor)
    }
    assert wrong == {}, f"{probe.method} {probe.path}: " + "; ".join(
        f"{actor} {text}" for actor, text in wrong.items()
    )
