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
