"""A case from intake to returned result, through the officers' pages in a real browser."""

from __future__ import annotations

import re

from tests.e2e.conftest import screenshot, sign_in, sign_out


def _open_action(page, name: str) -> None:
    page.click(f"#action-{name} > summary")


def _flash(page) -> str:
    return page.inner_text(".flashes")


def test_a_case_from_intake_through_two_handovers_a_supplement_round_to_return(page, e2e_world):
    base = page.base_url

    # The desk officer signs in and lands on the queue.
    sign_in(page, "desk")
    assert page.inner_text("h1") == "Hồ sơ của tôi"
    assert "Trần Văn An" in page.inner_text("header")
    screenshot(page, "01-queue")

    # Intake: the procedure found without diacritics, the applicant, the checklist.
    page.goto(f"{base}/desk/intake")
    page.fill("main input[name=q]", "xac nhan tinh trang hon nhan")
    page.press("main input[name=q]", "Enter")
    page.click("a[href='/desk/intake/HT-XNHN']")
    screenshot(page, "02-intake-form")
    page.fill("input[name=name]", "Nguyễn Thị Hoa")
    page.fill("input[name=id_number]", "001190012345")
    page.fill("input[name=phone]", "0912 345 678")
    page.fill("input[name=address]", "Số 5 ngõ 12, thôn Đông, xã Minh Phú")
    page.check("#doc_1")
    page.check("#doc_2")
    page.click("button[value=receive]")

    # Form 01: the receipt code as text and as a QR code, and the appointment.
    page.wait_for_url(re.compile(r".*/forms/01$"))
    code = page.inner_text("#receipt-code").strip()
    assert re.fullmatch(r"XA-MP-\d{6}-\d{4}", code)
    assert page.locator("figure.qr svg path").count() >= 1
    assert re.search(r"\d\d giờ \d\d phút, ngày \d\d/\d\d/\d{4}", page.inner_text(".appointment"))
    assert "Nguyễn Thị Hoa" in page.inner_text(".sheet")
    screenshot(page, "03-form-01-receipt")

    # First handover: desk -> civil status officer.
    page.click("text=Về hồ sơ")
    page.wait_for_url(f"{base}/cases/{code}")
    _open_action(page, "hand_over")
    page.select_option("#action-hand_over select[name=target]", label="Phạm Minh Châu (civ)")
    page.click("#action-hand_over button[type=submit]")
    assert "Đã giao hồ sơ cho Phạm Minh Châu." in _flash(page)
    screenshot(page, "04-case-after-handover")
    sign_out(page)

    # The civil status officer finds it in the queue and asks for a supplement (form 02).
    sign_in(page, "civ")
    page.click(f"a:has-text('{code}')")
    _open_action(page, "request_supplement")
    page.fill("#action-request_supplement textarea[name=documents]", "Giấy xác nhận thông tin cư trú | bản sao")
    page.fill("#action-request_supplement textarea[name=reason]", "Thiếu giấy tờ chứng minh nơi cư trú")
    page.click("#action-request_supplement button[type=submit]")
    page.wait_for_url(re.compile(r".*/forms/02\?pause=\d+$"))
    assert "Giấy xác nhận thông tin cư trú" in page.inner_text(".sheet")
    screenshot(page, "05-form-02-supplement")

    # The supplement arrives; second handover: civil status officer -> vice-chair.
    page.goto(f"{base}/cases/{code}")
    assert "Chờ bổ sung hồ sơ" in page.inner_text(".case-head")
    _open_action(page, "receive_supplement")
    page.click("#action-receive_supplement button[type=submit]")
    assert "Đã nhận hồ sơ bổ sung" in _flash(page)
    _open_action(page, "hand_over")
    page.select_option("#action-hand_over select[name=target]", label="Vũ Quang Khải (vice)")
    page.click("#action-hand_over button[type=submit]")
    assert "Đã giao hồ sơ cho Vũ Quang Khải." in _flash(page)
    sign_out(page)

    # The vice-chair signs: resolved, the result goes back to the desk officer who received it.
    sign_in(page, "vice")
    page.goto(f"{base}/cases/{code}")
    _open_action(page, "resolve")
    page.select_option("#action-resolve select[name=to_officer]", label="Trần Văn An (desk)")
    page.click("#action-resolve button[type=submit]")
    assert "Đã có kết quả" in _flash(page)
    sign_out(page)

    # The desk returns the result and records the applicant's rating.
    sign_in(page, "desk")
    page.goto(f"{base}/cases/{code}")
    _open_action(page, "return")
    page.check("#action-return input[name=satisfied][value=yes]")
    page.fill("#action-return textarea[name=comment]", "Cán bộ hướng dẫn tận tình")
    page.click("#action-return button[type=submit]")
    assert "Đã trả kết quả cho công dân." in _flash(page)
    head = page.inner_text(".case-head")
    assert "Đã trả kết quả" in head and "mã 10" in head
    page.click("#explain > summary")
    screenshot(page, "06-case-returned")

    # The control slip (form 06): four holdings, each handover with giver and receiver.
    page.goto(f"{base}/cases/{code}/forms/06")
    rows = page.locator("table.slip tbody tr")
    assert rows.count() == 4
    slip = page.inner_text("table.slip")
    for name in ("Trần Văn An", "Phạm Minh Châu", "Vũ Quang Khải"):
        assert name in slip
    assert page.locator("table.slip tbody tr").nth(1).locator("td").nth(2).inner_text() == "Trần Văn An"
    screenshot(page, "07-form-06-control-slip")


def test_english_switch_keyboard_search_and_another_communes_case(page, e2e_world):
    base = page.base_url
    sign_in(page, "desk")
    page.click("a[hreflang=en]")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "My cases"
    page.keyboard.press("/")  # jumps to the search field
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.type(e2e_world.codes["land"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/cases/{e2e_world.codes['land']}")
    screenshot(page, "08-case-english")
    response = page.goto(f"{base}/cases/{e2e_world.codes['other_commune']}")
    assert response.status == 403
    page.click("a[hreflang=vi]")
    assert "Bạn không có quyền xem hồ sơ" in page.inner_text("main")
