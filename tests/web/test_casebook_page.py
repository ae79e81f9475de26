"""The case book page (form 07): the table, the Excel download and the import form."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onestop.casebook import COLUMNS
from onestop.clock import frozen_at
from onestop.db import make_engine
from onestop.models import Case
from tests.conftest import vn
from tests.web.pdf import A4_LANDSCAPE, has_text, page_sizes
from tests.web.support import csrf_token, login, make_client, seed, text

NOW = vn(2026, 3, 20, 10, 0)
HEADER = ('STT,Mã hồ sơ,Tên thủ tục hành chính,"Tên tổ chức, cá nhân","Địa chỉ, số điện thoại",'
          'Cơ quan chủ trì giải quyết,Ngày nhận hồ sơ,Ngày hẹn trả kết quả,Ngày trả kết quả,Ký nhận,Ghi chú')


@pytest.fixture
def seeded(database_url):
    return seed(database_url, {
        "script": {"name": "<script>alert(1)</script> Hoa"},
        "other": {"desk": "desk_sd", "unit": "XA-SD", "name": "Người Sóc Đông"},
    })


@pytest.fixture
def clock():
    with frozen_at(NOW) as clock:
        yield clock


def signed_in(database_url, username, **config):
    client = make_client(database_url, **config)
    assert login(client, username).status_code in (302, 303)
    return client


def count_cases(database_url) -> int:
    engine = make_engine(database_url)
    with Session(engine) as session:
        total = session.scalar(select(func.count()).select_from(Case))
    engine.dispose()
    return total


def test_the_book_needs_a_signed_in_officer_with_a_book_role(seeded, clock):
    anonymous = make_client(seeded.url).get("/casebook")
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["Location"]
    civ = signed_in(seeded.url, "civ").get("/casebook")
    assert civ.status_code == 403


def test_the_desk_sees_its_communes_book_with_the_official_columns_escaped(seeded, clock):
    client = signed_in(seeded.url, "desk")
    page = text(client.get("/casebook?from=2026-03-01&to=2026-03-31"))
    for column in COLUMNS:
        assert f">{column.header}</th>" in page
    assert seeded.codes["script"] in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Hoa" in page and "<script>alert(1)" not in page
    assert "02/03/2026 08:00" in page and "04/03/2026 17:00" in page
    assert seeded.codes["other"] not in page  # Sóc Đông's case is not in Minh Phú's book
    assert "casebook.css" in page


def test_a_period_without_cases_says_so_and_bad_dates_are_refused(seeded, clock):
    client = signed_in(seeded.url, "desk")
    empty = text(client.get("/casebook?from=01/02/2026&to=28/02/2026"))
    assert "Không có hồ sơ nào được tiếp nhận trong kỳ này." in empty
    assert client.get("/casebook?from=2026-02-30").status_code == 422
    assert client.get("/casebook?from=2026-03-31&to=2026-03-01").status_code == 422


def test_another_units_book_is_refused(seeded, clock):
    client = signed_in(seeded.url, "desk")
    assert client.get("/casebook?unit=XA-SD").status_code == 403
    assert signed_in(seeded.url, "desk_sd").get("/casebook?unit=XA-SD").status_code == 200


def test_the_excel_download_has_the_rows_of_the_page(seeded, clock):
    client = signed_in(seeded.url, "desk")
    response = client.get("/casebook/export.xlsx?unit=XA-MP&from=2026-03-01&to=2026-03-31")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "so-theo-doi-XA-MP-20260301-20260331.xlsx" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert [c.value for c in sheet[4]] == [c.header for c in COLUMNS]
    assert sheet["B5"].value == seeded.codes["script"]
    assert sheet["D5"].value == "<script>alert(1)</script> Hoa"


def test_the_book_prints_as_a_pdf_on_a4_landscape_with_its_rows(seeded, clock):
    client = signed_in(seeded.url, "desk")
    page = text(client.get("/casebook?unit=XA-MP&from=2026-03-01&to=2026-03-31"))
    assert "data-print" in page and "In sổ" in page
    link = "/casebook/export.pdf?unit=XA-MP&amp;from=2026-03-01&amp;to=2026-03-31"
    assert link in page
    response = client.get(link.replace("&amp;", "&"))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "so-theo-doi-XA-MP-20260301-20260331.pdf" in response.headers["Content-Disposition"]
    pdf = response.data
    assert pdf.startswith(b"%PDF")
    assert [(round(w), round(h)) for w, h in page_sizes(pdf)] == [A4_LANDSCAPE]
    assert has_text(pdf, "SỔ THEO DÕI HỒ SƠ") and has_text(pdf, "UBND xã Minh Phú")
    assert has_text(pdf, seeded.codes["script"]) and has_text(pdf, "<script>alert(1)</script> Hoa")
    assert not has_text(pdf, seeded.codes["other"])
    assert client.get("/casebook/export.pdf?unit=XA-SD").status_code == 403
    assert client.get("/casebook/export.pdf?from=2026-02-30").status_code == 422


def test_a_desk_officer_imports_a_book_and_sees_it(seeded, clock):
    client = signed_in(seeded.url, "desk")
    form = text(client.get("/casebook/import"))
    assert 'enctype="multipart/form-data"' in form
    book = (HEADER + "\n1,MP-OLD-1,HT-XNHN,Lê Văn Tám,,,03/02/2026,06/02/2026,05/02/2026,,\n"
            "2,MP-OLD-2,HT-XNHN,Lê Văn Chín,,,10/02/2026,13/02/2026,,,\n").encode()
    response = client.post("/casebook/import", data={
        "unit": "XA-MP", "book": (io.BytesIO(book), "so-cu.csv"),
    }, content_type="multipart/form-data")
    assert response.status_code == 303
    assert "from=2026-02-03" in response.headers["Location"]
    page = text(client.get(response.headers["Location"]))
    assert "Đã nhập 2 hồ sơ (1 đã trả kết quả, 1 đang giải quyết)." in page
    assert "MP-OLD-1" in page and "MP-OLD-2" in page and "Nhập từ sổ cũ" in page
    assert count_cases(seeded.url) == 4


def test_a_bad_book_lists_every_bad_line_and_imports_nothing(seeded, clock):
    client = signed_in(seeded.url, "desk")
    book = (HEADER + "\n1,MP-A,HT-XNHN,Lê Văn Tám,,,32/01/2026,06/02/2026,05/02/2026,,\n"
            "2,MP-B,HT-XNHN,Lê Văn Chín,,,10/02/2026,13/02/2026,,,\n"
            f"3,{seeded.codes['script']},HT-XNHN,<b>Mười</b>,,,10/02/2026,13/02/2026,,,\n").encode()
    response = client.post("/casebook/import", data={
        "unit": "XA-MP", "book": (io.BytesIO(book), "so.csv"),
    }, content_type="multipart/form-data")
    assert response.status_code == 422
    page = text(response)
    assert "Sổ có 2 lỗi; chưa nhập dòng nào." in page
    assert "Dòng 2, cột «Ngày nhận hồ sơ»" in page
    assert f"Dòng 4, cột «Mã hồ sơ»: Mã hồ sơ «{seeded.codes['script']}» đã có trong hệ thống." in page
    assert count_cases(seeded.url) == 2


def test_an_import_without_a_file_or_too_large_is_refused(seeded, clock):
    client = signed_in(seeded.url, "desk")
    none = client.post("/casebook/import", data={"unit": "XA-MP"}, content_type="multipart/form-data")
    assert none.status_code == 422
    big = client.post("/casebook/import", data={
        "unit": "XA-MP", "book": (io.BytesIO(b"x" * (6 * 1024 * 1024)), "big.csv"),
    }, content_type="multipart/form-data")
    assert big.status_code == 413
    assert count_cases(seeded.url) == 2


def test_only_desk_officers_import_and_only_into_units_they_serve(seeded, clock):
    head = signed_in(seeded.url, "head")
    assert head.get("/casebook").status_code == 200  # a unit head reads the book
    assert head.get("/casebook/import").status_code == 403
    desk = signed_in(seeded.url, "desk")
    refused = desk.post("/casebook/import", data={
        "unit": "XA-SD", "book": (io.BytesIO(b"x"), "so.csv"),
    }, content_type="multipart/form-data")
    assert refused.status_code in (403, 422)
    assert count_cases(seeded.url) == 2


def test_the_import_form_is_protected_against_cross_site_posts(seeded, clock):
    client = signed_in(seeded.url, "desk", csrf=True)
    forged = client.post("/casebook/import", data={
        "unit": "XA-MP", "book": (io.BytesIO(b"x"), "so.csv"),
    }, content_type="multipart/form-data")
    assert forged.status_code == 400
    token = csrf_token(text(client.get("/casebook/import")))
    assert token


def test_the_print_stylesheet_prints_the_book_on_a4_landscape(seeded):
    css = make_client(seeded.url).get("/static/casebook.css")
    assert css.status_code == 200
    assert "size: A4 landscape" in css.get_data(as_text=True)
