"""Administration: units, officers and roles, the catalogue and checklists, the calendar."""

from __future__ import annotations

import io
import unicodedata

import pytest
from sqlalchemy import select

from onestop.clock import frozen_at
from onestop.intake import checklist
from onestop.models import CalendarException, Case, Officer, Procedure, Unit
from tests.conftest import vn
from tests.web.support import login, seeded_world, text

NOW = vn(2026, 3, 2, 9, 0)


@pytest.fixture
def world(request, backend, tmp_path):
    return seeded_world(request, backend, tmp_path, {"open": {}})


def client_for(world, username):
    client = world.client()
    login(client, username)
    return client


def query(world, statement):
    with world.session() as session:
        return session.execute(statement).all()


def flashes(response) -> list[str]:
    import re

    return re.findall(r'<p class="flash [a-z]+">([^<]*)</p>', text(response))


def test_administration_needs_the_admin_role(world):
    desk = client_for(world, "desk")
    for path in ("/admin/", "/admin/units", "/admin/officers", "/admin/procedures", "/admin/calendar"):
        assert desk.get(path).status_code == 403, path
    assert desk.post("/admin/units", data={"code": "X", "name": "X"}).status_code == 403


def test_an_administrator_adds_a_unit_under_one_they_manage(world):
    admin = client_for(world, "admin")
    response = admin.post("/admin/units", data={
        "code": "XA-MP-DC", "name": "Công chức Địa chính xã Minh Phú", "kind": "department",
        "parent_code": "XA-MP",
    })
    assert response.status_code == 303
    assert "Công chức Địa chính xã Minh Phú" in text(admin.get("/admin/units"))
    duplicate = admin.post("/admin/units", data={"code": "XA-MP-DC", "name": "Lặp", "parent_code": "XA-MP"})
    assert duplicate.status_code == 422 and "Đã tồn tại unit «XA-MP-DC»." in text(duplicate)


def test_a_commune_administrator_manages_only_its_own_subtree(world):
    admin = client_for(world, "admin_mp")
    refused = admin.post("/admin/units", data={"code": "XA-SD-X", "name": "X", "parent_code": "XA-SD"})
    assert refused.status_code == 403
    page = text(admin.get("/admin/units"))
    assert "UBND xã Minh Phú" in page and "UBND xã Sóc Đông" not in page
    assert admin.post("/admin/officers", data={
        "username": "moi", "full_name": "Mới", "unit_code": "XA-SD-MC", "role": "desk",
    }).status_code == 403
    assert admin.get("/admin/officers/desk_sd").status_code == 302  # not theirs: back to the list
    assert query(world, select(Unit.id).where(Unit.code == "XA-SD-X")) == []


def test_an_administrator_adds_an_officer_who_can_then_sign_in(world):
    admin = client_for(world, "admin")
    response = admin.post("/admin/officers", data={
        "username": "MC.New", "full_name": "Phan Thị Ngọc", "unit_code": "XA-MP-MC", "role": "desk",
        "password": "mat-khau-moi-1",
    })
    assert response.status_code == 303 and response.headers["Location"] == "/admin/officers/mc.new"
    client = world.client()
    assert login(client, "mc.new", "mat-khau-moi-1").status_code == 303
    assert client.get("/desk/intake").status_code == 200


def test_officer_form_refuses_bad_input_and_changes_nothing(world):
    admin = client_for(world, "admin")
    for data, message in [
        ({"username": "bad name", "full_name": "X", "unit_code": "XA-MP", "role": "desk"}, "Tên đăng nhập"),
        ({"username": "ok", "full_name": "", "unit_code": "XA-MP", "role": "desk"}, "Tên"),
        ({"username": "ok", "full_name": "X", "unit_code": "NOPE", "role": "desk"}, "NOPE"),
        ({"username": "ok", "full_name": "X", "unit_code": "XA-MP", "role": "Desk!"}, "Vai trò"),
        ({"username": "ok", "full_name": "X", "unit_code": "XA-MP", "role": "desk", "password": "short"},
         "Mật khẩu"),
    ]:
        response = admin.post("/admin/officers", data=data)
        assert response.status_code in (404, 422), data
        assert any(message in f for f in flashes(response)), (data, flashes(response))
    assert query(world, select(Officer.id).where(Officer.username == "ok")) == []


def test_roles_are_granted_and_revoked_but_never_the_last_one(world):
    admin = client_for(world, "admin")
    granted = admin.post("/admin/officers/civ/grant", data={"unit_code": "XA-MP-TP", "role": "unit_head", "acting": "1"})
    assert granted.status_code == 303
    head_client = client_for(world, "civ")
    assert head_client.get("/queue/unit").status_code == 200
    revoked = admin.post("/admin/officers/civ/revoke", data={"unit_code": "XA-MP-TP", "role": "unit_head"})
    assert revoked.status_code == 303
    last = admin.post("/admin/officers/civ/revoke", data={"unit_code": "XA-MP-TP", "role": "civil_status_officer"})
    assert last.status_code == 409
    assert "phải giữ ít nhất một vai trò" in text(last)


def test_a_new_password_and_a_disabled_account_take_effect_at_once(world):
    admin = client_for(world, "admin")
    desk = client_for(world, "desk")
    assert admin.post("/admin/officers/desk/password", data={"password": "doi-mat-khau-9"}).status_code == 303
    assert desk.get("/queue").status_code == 303  # the old session ended
    assert login(world.client(), "desk", "doi-mat-khau-9").status_code == 303
    assert admin.post("/admin/officers/desk/active", data={"active": "0"}).status_code == 303
    assert login(world.client(), "desk", "doi-mat-khau-9").status_code == 401
    own = admin.post("/admin/officers/admin/active", data={"active": "0"})
    assert own.status_code == 422  # not your own account


def test_catalogue_upload_loads_all_or_nothing_with_line_and_column(world):
    admin = client_for(world, "admin")
    header = "code,name_vi,name_en,field,level,duration_unit,duration_amount,same_day_cutoff,legal_basis,steps_hours\n"
    good = header + "TT-MOI,Thủ tục mới,New procedure,Khác,commune,working_days,2,,QĐ 1,receive:desk:2;xử lý:civil_status_officer:12;return:desk:2\n"
    bad = good + "TT-HONG,Thủ tục hỏng,,Khác,commune,working_days,abc,,,receive:desk:1\n"
    refused = admin.post("/admin/procedures", data={"catalogue": (io.BytesIO(bad.encode()), "c.csv")},
                         content_type="multipart/form-data")
    assert refused.status_code == 422
    assert "Dòng 3, cột «duration_amount»" in text(refused)
    assert query(world, select(Procedure.id).where(Procedure.code == "TT-MOI")) == []
    loaded = admin.post("/admin/procedures", data={"catalogue": (io.BytesIO(good.encode()), "c.csv")},
                        content_type="multipart/form-data")
    assert loaded.status_code == 303
    page = text(admin.get("/admin/procedures/TT-MOI"))
    assert "Thủ tục mới" in page and "xử lý" in page and "civil_status_officer" in page


def test_a_non_utf8_catalogue_is_refused_clearly(world):
    admin = client_for(world, "admin")
    data = unicodedata.normalize("NFD", "code,name_vi\nX,Thủ tục\n").encode("cp1258")  # TCVN-era Windows
    response = admin.post("/admin/procedures", data={"catalogue": (io.BytesIO(data), "c.csv")},
                          content_type="multipart/form-data")
    assert response.status_code == 422 and "UTF-8" in text(response)


def test_checklist_is_edited_one_document_per_line(world):
    admin = client_for(world, "admin")
    response = admin.post("/admin/procedures/HT-KS/checklist", data={
        "documents": "Tờ khai đăng ký khai sinh | bản chính\nGiấy chứng sinh | bản sao chứng thực",
    })
    assert response.status_code == 303
    with world.session() as session:
        assert [(d.name, d.form) for d in checklist(session, "HT-KS")] == [
            ("Tờ khai đăng ký khai sinh", "original"), ("Giấy chứng sinh", "certified_copy"),
        ]
    bad = admin.post("/admin/procedures/HT-KS/checklist", data={"documents": "Tờ khai | photo"})
    assert bad.status_code == 422
    commune_admin = client_for(world, "admin_mp")
    assert commune_admin.post("/admin/procedures/HT-KS/checklist", data={"documents": "X"}).status_code == 403


def test_the_checklist_page_writes_counts_out_so_saving_it_keeps_them(world):
    admin = client_for(world, "admin")
    admin.post("/admin/procedures/HT-KS/checklist", data={
        "documents": "Tờ khai đăng ký khai sinh | bản chính\nGiấy chứng sinh | bản sao | 2",
    })
    page = text(admin.get("/admin/procedures/HT-KS"))
    written = page.split('<textarea name="documents" rows="8">')[1].split("</textarea>")[0]
    assert written == "Tờ khai đăng ký khai sinh | bản chính\nGiấy chứng sinh | bản sao | 2"
    assert admin.post("/admin/procedures/HT-KS/checklist", data={"documents": written}).status_code == 303
    with world.session() as session:
        assert [d.count for d in checklist(session, "HT-KS")] == [1, 2]


def test_a_day_off_re_projects_open_cases_and_records_why(world):
    admin = client_for(world, "admin")
    with frozen_at(NOW):
        response = admin.post("/admin/calendar", data={
            "day": "03/03/2026", "kind": "day_off", "legal_reference": "Thông báo 99/TB-BNV",
        })
    assert response.status_code == 303
    with frozen_at(NOW):
        page = text(admin.get("/admin/calendar"))
    assert "03/03/2026" in page and "Thông báo 99/TB-BNV" in page
    assert "1 hồ sơ đang giải quyết có hạn mới" in page
    with world.session() as session:
        case = session.scalar(select(Case))
        assert case.due_at == vn(2026, 3, 5, 17, 0)
        assert case.events[-1].kind == "due_recomputed"
        assert "Thông báo 99/TB-BNV" in case.events[-1].reason


def test_calendar_refuses_bad_dates_duplicates_and_commune_administrators(world):
    admin = client_for(world, "admin")
    bad = admin.post("/admin/calendar", data={"day": "31/02/2026", "kind": "day_off", "legal_reference": "x"})
    assert bad.status_code == 422 and "Ngày" in text(bad)
    no_reference = admin.post("/admin/calendar", data={"day": "2026-03-03", "kind": "day_off", "legal_reference": ""})
    assert no_reference.status_code == 422
    assert query(world, select(CalendarException.id)) == []
    commune = client_for(world, "admin_mp")
    assert commune.post("/admin/calendar", data={
        "day": "2026-03-03", "kind": "day_off", "legal_reference": "x",
    }).status_code == 403


# --- a procedure's internal process -----------------------------------------------------------

NEW_PROCESS = (
    "receive | desk |  | 2\n"
    "verify | civil_status_officer | XA-MP-TP | 12\n"
    "check | unit_head | XA-MP-TP | 4\n"
    "sign | commune_vice_chair |  | 4\n"
    "return | desk |  | 2"
)


def versions(world, code):
    return query(world, select(Procedure.version, Procedure.active).where(Procedure.code == code)
                 .order_by(Procedure.version))


def test_changing_the_process_makes_a_new_version_and_open_cases_keep_theirs(world):
    from onestop.audit import AdminAction

    admin = client_for(world, "admin")
    with world.session() as session:
        before = session.scalar(select(Case))
        frozen_version, frozen_steps = before.procedure.version, [s.name for s in before.procedure.steps]
    response = admin.post("/admin/procedures/HT-XNHN/steps", data={"steps": NEW_PROCESS})
    assert response.status_code == 303
    assert "phiên bản 2" in " ".join(flashes(admin.get("/admin/procedures/HT-XNHN")))
    page = text(admin.get("/admin/procedures/HT-XNHN"))
    # The keys an administrator types, each with the name people read beside it.
    assert "verify <span class=\"muted\">· Xác minh, thẩm tra</span>" in page
    assert "civil_status_officer <span class=\"muted\">· Công chức Tư pháp – Hộ tịch</span>" in page
    assert versions(world, "HT-XNHN") == [(1, False), (2, True)]
    with world.session() as session:
        current = session.scalar(select(Procedure).where(Procedure.code == "HT-XNHN", Procedure.active))
        assert [(s.position, s.name, s.role, s.unit_code, s.budget_hours) for s in current.steps] == [
            (1, "receive", "desk", None, 2), (2, "verify", "civil_status_officer", "XA-MP-TP", 12),
            (3, "check", "unit_head", "XA-MP-TP", 4), (4, "sign", "commune_vice_chair", None, 4),
            (5, "return", "desk", None, 2),
        ]
        assert (current.duration_unit, current.duration_amount, current.legal_basis) == (
            "working_days", 3, "Decree 123/2015 art. 22")
        case = session.scalar(select(Case))
        assert case.procedure.version == frozen_version
        assert [s.name for s in case.procedure.steps] == frozen_steps  # untouched under the open case
        trail = session.scalars(select(AdminAction).where(AdminAction.action == "process_changed")).all()
        assert [(t.target, t.details["from_version"], t.details["to_version"]) for t in trail] == [
            ("HT-XNHN", 1, 2)]
        assert trail[0].actor_id == session.scalar(select(Officer.id).where(Officer.username == "admin"))
    page = text(admin.get("/admin/procedures/HT-XNHN"))
    assert "v2" in page and "check" in page


@pytest.mark.parametrize(("steps", "message"), [
    ("", "Quy trình"),
    ("receive | desk | 2", "Bước 1"),
    ("receive | desk |  | hai", "Bước 1"),
    ("receive | desk |  | -1", "Bước 1"),
    ("receive | desk |  | nan", "Bước 1"),
    ("receive | desk |  | 2\n | desk |  | 2", "Bước 2"),
    ("receive | Desk! |  | 2", "Bước 1"),
    ("receive | desk | NOPE | 2", "NOPE"),
    ("receive | desk |  | 20\nverify | civil_status_officer |  | 5", "more than the duration (24 h)"),
    ("receive | desk |  | 2\nverify | civil_status_officer |  | 16\nsign | commune_vice_chair |  | 4\n"
     "return | desk |  | 2", "không thay đổi"),
    ("<script>alert(1)</script> | desk |  | 2\n" * 51, "at most 50"),
])
def test_a_bad_process_is_refused_clearly_and_changes_nothing(world, steps, message):
    from onestop.audit import AdminAction

    admin = client_for(world, "admin")
    response = admin.post("/admin/procedures/HT-XNHN/steps", data={"steps": steps})
    assert response.status_code in (404, 422)
    assert any(message in f for f in flashes(response)), flashes(response)
    assert "<script>alert" not in text(response)
    assert versions(world, "HT-XNHN") == [(1, True)]
    assert query(world, select(AdminAction.id)) == []


def test_only_a_top_administrator_changes_a_process(world):
    assert client_for(world, "desk").post(
        "/admin/procedures/HT-XNHN/steps", data={"steps": NEW_PROCESS}).status_code == 403
    assert client_for(world, "admin_mp").post(
        "/admin/procedures/HT-XNHN/steps", data={"steps": NEW_PROCESS}).status_code == 403
    assert versions(world, "HT-XNHN") == [(1, True)]


def test_new_cases_follow_the_new_process(world):
    admin = client_for(world, "admin")
    assert admin.post("/admin/procedures/HT-XNHN/steps", data={"steps": NEW_PROCESS}).status_code == 303
    world.add_cases({"later": {}})
    with world.session() as session:
        case = session.scalar(select(Case).where(Case.receipt_code == world.codes["later"]))
        assert case.procedure.version == 2 and len(case.procedure.steps) == 5


# --- units ------------------------------------------------------------------------------------

def test_a_unit_is_renamed_and_the_change_recorded(world):
    from onestop.audit import AdminAction

    admin = client_for(world, "admin")
    assert "Đóng đơn vị" in text(admin.get("/admin/units/XA-SD-MC"))
    response = admin.post("/admin/units/XA-SD-MC/rename", data={"name": "  Bộ phận Một cửa Sóc Đông "})
    assert response.status_code == 303
    assert query(world, select(Unit.name).where(Unit.code == "XA-SD-MC")) == [("Bộ phận Một cửa Sóc Đông",)]
    assert query(world, select(AdminAction.action, AdminAction.target)) == [("unit_renamed", "XA-SD-MC")]
    blank = admin.post("/admin/units/XA-SD-MC/rename", data={"name": "  "})
    assert blank.status_code == 422
    assert query(world, select(Unit.name).where(Unit.code == "XA-SD-MC")) == [("Bộ phận Một cửa Sóc Đông",)]


def test_a_unit_with_nothing_left_on_it_is_closed(world):
    from onestop.audit import AdminAction

    admin = client_for(world, "admin")
    assert admin.post("/admin/officers/desk_sd/active", data={"active": "0"}).status_code == 303
    response = admin.post("/admin/units/XA-SD-MC/close", data={"effective_to": "31/03/2026"})
    assert response.status_code == 303
    with world.session() as session:
        unit = session.scalar(select(Unit).where(Unit.code == "XA-SD-MC"))
        assert str(unit.effective_to) == "2026-03-31"
        entry = session.scalar(select(AdminAction).where(AdminAction.action == "unit_closed"))
        assert entry.details == {"before": None, "after": "2026-03-31"}


def test_closing_a_unit_with_open_cases_or_active_roles_is_refused(world):
    admin = client_for(world, "admin")
    with_case = admin.post("/admin/units/XA-MP/close", data={"effective_to": "2026-03-31"})
    assert with_case.status_code == 422
    assert any("còn 1 hồ sơ đang giải quyết" in f for f in flashes(with_case)), flashes(with_case)
    with_roles = admin.post("/admin/units/XA-SD-MC/close", data={"effective_to": "2026-03-31"})
    assert with_roles.status_code == 422
    assert any("1 vai trò của cán bộ đang hoạt động" in f for f in flashes(with_roles))
    with_children = admin.post("/admin/units/XA-SD/close", data={"effective_to": "2026-03-31"})
    assert any("1 đơn vị trực thuộc" in f for f in flashes(with_children))
    assert query(world, select(Unit.code).where(Unit.effective_to.is_not(None))) == []


@pytest.mark.parametrize("day", ["", "31/02/2026", "2026-13-01", "x" * 10000, "<script>"])
def test_closing_a_unit_refuses_bad_dates(world, day):
    admin = client_for(world, "admin")
    admin.post("/admin/officers/desk_sd/active", data={"active": "0"})
    response = admin.post("/admin/units/XA-SD-MC/close", data={"effective_to": day})
    assert response.status_code == 422 and flashes(response)
    assert query(world, select(Unit.code).where(Unit.effective_to.is_not(None))) == []


def test_unit_changes_need_an_administrator_of_that_unit(world):
    assert client_for(world, "desk").post("/admin/units/XA-MP-MC/rename", data={"name": "X"}).status_code == 403
    assert client_for(world, "desk").get("/admin/units/XA-MP-MC").status_code == 403
    commune = client_for(world, "admin_mp")
    assert commune.post("/admin/units/XA-SD-MC/rename", data={"name": "X"}).status_code == 403
    assert commune.post("/admin/units/XA-SD-MC/close", data={"effective_to": "2026-03-31"}).status_code == 403
    assert commune.post("/admin/units/XA-MP-MC/undo", data={}).status_code == 404
    assert query(world, select(Unit.name).where(Unit.name == "X")) == []


# --- removing a calendar exception ------------------------------------------------------------

def test_removing_a_day_off_re_projects_open_cases_and_records_who_and_why(world):
    from onestop.audit import AdminAction

    admin = client_for(world, "admin")
    with frozen_at(NOW):
        admin.post("/admin/calendar", data={
            "day": "03/03/2026", "kind": "day_off", "legal_reference": "Thông báo 99/TB-BNV"})
        response = admin.post("/admin/calendar/2026-03-03/remove", data={"reason": "Thông báo bị thu hồi"})
        assert response.status_code == 303
        page = text(admin.get("/admin/calendar"))
    assert "Đã bỏ ngày 03/03/2026 khỏi lịch; 1 hồ sơ đang giải quyết có hạn mới." in page
    assert query(world, select(CalendarException.id)) == []
    with world.session() as session:
        case = session.scalar(select(Case))
        assert case.due_at == vn(2026, 3, 4, 17, 0)  # back to the original three working days
        assert case.events[-1].kind == "due_recomputed"
        assert "removed" in case.events[-1].reason and "Thông báo bị thu hồi" in case.events[-1].reason
        entry = session.scalar(select(AdminAction).where(AdminAction.action == "calendar_day_off_removed"))
        assert entry.target == "2026-03-03" and entry.reason == "Thông báo bị thu hồi"
        assert entry.details["legal_reference"] == "Thông báo 99/TB-BNV"
        assert entry.actor_id == session.scalar(select(Officer.id).where(Officer.username == "admin"))


@pytest.mark.parametrize(("day", "reason", "status"), [
    ("2026-03-03", "", 422),
    ("2026-03-03", "   ", 422),
    ("2026-03-04", "nhầm", 404),
    ("31-02-2026", "nhầm", 422),
    ("2026-03-03", "x" * 501, 422),
])
def test_removal_refuses_bad_input_and_changes_nothing(world, day, reason, status):
    admin = client_for(world, "admin")
    with frozen_at(NOW):
        admin.post("/admin/calendar", data={"day": "2026-03-03", "kind": "day_off", "legal_reference": "TB 1"})
        with world.session() as session:
            due = session.scalar(select(Case)).due_at
        response = admin.post(f"/admin/calendar/{day}/remove", data={"reason": reason})
    assert response.status_code == status and flashes(response)
    assert query(world, select(CalendarException.day)) != []
    with world.session() as session:
        assert session.scalar(select(Case)).due_at == due


def test_only_a_top_administrator_removes_calendar_days(world):
    admin = client_for(world, "admin")
    with frozen_at(NOW):
        admin.post("/admin/calendar", data={"day": "2026-03-03", "kind": "day_off", "legal_reference": "TB 1"})
    for username in ("desk", "admin_mp"):
        refused = client_for(world, username).post("/admin/calendar/2026-03-03/remove", data={"reason": "x"})
        assert refused.status_code == 403, username
    assert len(query(world, select(CalendarException.id))) == 1
