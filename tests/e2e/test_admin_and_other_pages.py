"""The pages no walk-through reaches: log-in, the unit head's queue, administration and the case
book import, each opened in the browser by the officer it is for, checked and photographed."""

from __future__ import annotations

from tests.e2e.conftest import screenshot, sign_in


def assert_no_error(page) -> None:
    assert page.locator("p.flash.error").count() == 0
    assert "Internal Server Error" not in page.content()


def test_the_log_in_page(page):
    page.goto(f"{page.base_url}/login")
    assert page.inner_text("h1") == "Đăng nhập"
    assert page.locator("input[name=username]").is_visible()
    assert page.locator("input[name=password][type=password]").is_visible()
    assert_no_error(page)
    screenshot(page, "09-login")


def test_the_unit_heads_queue(page, e2e_world):
    sign_in(page, "chair")  # unit head of the commune XA-MP
    page.goto(f"{page.base_url}/queue/unit")
    assert page.inner_text("h1") == "Hồ sơ của đơn vị"
    queue = page.inner_text("main")
    assert e2e_world.codes["waiting"] in queue and e2e_world.codes["land"] in queue
    assert e2e_world.codes["other_commune"] not in queue
    assert_no_error(page)
    screenshot(page, "10-unit-queue")


def test_the_administration_pages(page):
    sign_in(page, "admin")
    pages = [
        ("/admin/", "Quản trị", "a[href='/admin/units']", "30-admin"),
        ("/admin/units", "Đơn vị", "table tbody tr >> text=XA-MP-MC", "31-admin-units"),
        ("/admin/units/XA-MP-TP", "Công chức Tư pháp - Hộ tịch xã Minh Phú", "form[action$='/close']",
         "32-admin-unit"),
        ("/admin/officers", "Cán bộ và vai trò", "table tbody a[href='/admin/officers/desk']",
         "33-admin-officers"),
        ("/admin/officers/desk", "Trần Văn An", "form[action$='/grant']", "34-admin-officer"),
        ("/admin/procedures", "Thủ tục và quy trình nội bộ", "table tbody tr >> text=HT-XNHN",
         "35-admin-procedures"),
        ("/admin/procedures/HT-XNHN", "Cấp Giấy xác nhận tình trạng hôn nhân", "textarea[name=steps]",
         "36-admin-procedure"),
        ("/admin/calendar", "Lịch làm việc", "form[action='/admin/calendar'] input[name=legal_reference]",
         "37-admin-calendar"),
    ]
    for path, heading, present, name in pages:
        response = page.goto(f"{page.base_url}{path}")
        assert response is not None and response.status == 200, path
        assert heading in page.inner_text("h1"), path
        assert page.locator(present).first.is_visible(), (path, present)
        assert_no_error(page)
        screenshot(page, name)


def test_the_case_book_import_page(page):
    sign_in(page, "desk")
    response = page.goto(f"{page.base_url}/casebook/import")
    assert response is not None and response.status == 200
    assert page.inner_text("h1") == "Nhập sổ theo dõi hồ sơ"
    assert page.locator("input[type=file]").count() == 1
    assert_no_error(page)
    screenshot(page, "24-casebook-import")
