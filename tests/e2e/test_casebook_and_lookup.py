"""The case book (form 07) and the citizen look-up, in a real browser."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from onestop.casebook import COLUMNS
from tests.e2e.conftest import screenshot, sign_in


def test_the_desk_reads_prints_and_downloads_its_case_book(page, e2e_world):
    sign_in(page, "desk")
    page.goto(f"{page.base_url}/casebook")
    assert page.inner_text("h1") == "Sổ theo dõi hồ sơ"
    headers = page.locator("table.book thead th").all_inner_texts()
    assert headers == [c.header for c in COLUMNS]
    table = page.inner_text("table.book")
    assert e2e_world.codes["waiting"] in table and e2e_world.codes["land"] in table
    assert e2e_world.codes["other_commune"] not in table
    screenshot(page, "20-casebook")

    with page.expect_download() as download:
        page.click("text=Tải Excel")
    path = download.value.path()
    assert download.value.suggested_filename.startswith("so-theo-doi-XA-MP-")
    sheet = load_workbook(io.BytesIO(path.read_bytes())).active
    assert [c.value for c in sheet[4]] == [c.header for c in COLUMNS]
    codes = {sheet.cell(row=r, column=2).value for r in range(5, sheet.max_row + 1)}
    assert {e2e_world.codes["waiting"], e2e_world.codes["land"]} <= codes

    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.locator("form.no-print").is_visible()
    assert page.locator("table.book").is_visible()
    screenshot(page, "21-casebook-print")


def test_a_citizen_looks_up_a_case_unlocks_details_and_rates_it(page, e2e_world):
    code = e2e_world.codes["other_commune"]
    page.goto(f"{page.base_url}/lookup")
    page.fill("input[name=code]", code)
    page.click("form.lookup button[type=submit]")
    result = page.inner_text("dl.lookup-result")
    assert "Đã tiếp nhận (mã 2)" in result
    assert "Bộ phận Một cửa đã tiếp nhận hồ sơ" in result
    assert "Mạc Thị Yến" not in result and "Đinh Văn Nam" not in result
    screenshot(page, "22-lookup")

    page.fill("input[name=code]", code)
    page.fill("input[name=phone4]", "5678")
    page.click("form.lookup button[type=submit]")
    assert "Mạc Thị Yến" in page.inner_text("dl.lookup-result")
    page.check("input[name=satisfied][value=yes]")
    page.fill("textarea[name=comment]", "Cán bộ hướng dẫn tận tình")
    page.click("section.rate button[type=submit]")
    assert "Cảm ơn ông/bà đã đánh giá." in page.inner_text("main")
    assert page.locator("section.rate").count() == 0
    screenshot(page, "23-lookup-rated")
