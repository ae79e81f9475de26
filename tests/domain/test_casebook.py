"""The case book (form 07): rows, Excel export, and the all-or-nothing import of a book."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from onestop import lifecycle as lc
from onestop.audit import verify_chains
from onestop.calendar_store import work_calendar
from onestop.casebook import (
    COLUMNS,
    CaseBookRejected,
    book_rows,
    export_xlsx,
    import_case_book,
    parse_book_instant,
    read_book,
    split_address_phone,
)
from onestop.classification import classify_case
from onestop.clock import frozen_at
from onestop.errors import PermissionDenied, ValidationError
from onestop.models import Case, CaseEvent
from tests.conftest import VN, vn
from tests.factories import build_world

MONDAY = vn(2026, 3, 2, 8, 0)
IMPORT_TIME = vn(2026, 3, 10, 9, 30)
HEADER = ("STT,Mã hồ sơ,Tên thủ tục hành chính,Tên tổ chức, cá nhân,Địa chỉ, số điện thoại,"
          "Cơ quan chủ trì giải quyết,Ngày nhận hồ sơ,Ngày hẹn trả kết quả,Ngày trả kết quả,"
          "Ký nhận,Ghi chú")
CSV_HEADER = ('STT,Mã hồ sơ,Tên thủ tục hành chính,"Tên tổ chức, cá nhân","Địa chỉ, số điện thoại",'
              'Cơ quan chủ trì giải quyết,Ngày nhận hồ sơ,Ngày hẹn trả kết quả,Ngày trả kết quả,'
              'Ký nhận,Ghi chú')


@pytest.fixture
def world(session):
    with frozen_at(MONDAY - timedelta(days=7)):
        return build_world(session)


def csv_book(*rows: str) -> bytes:
    return ("\n".join([CSV_HEADER, *rows]) + "\n").encode("utf-8")


def import_csv(session, world, data: bytes, officer="desk"):
    with frozen_at(IMPORT_TIME):
        return import_case_book(
            session, data, unit_code="XA-MP", officer=world.officers.get(officer) if officer else None,
            filename="so-cu.csv",
        )


def case_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Case))


# --- rows and export ----------------------------------------------------------------------------

@pytest.fixture
def book_world(session, world):
    """Three Minh Phú cases (returned, open with an extension, received the next day) and one
    of Sóc Đông."""
    with frozen_at(MONDAY) as clock:
        done = world.receive(name="Nguyễn Văn Mạnh", phone="0987654321", address="Thôn Đông")
        lc.hand_over(session, done, world.desk, world.civ)
        clock.set(MONDAY + timedelta(hours=3))
        lc.hand_over(session, done, world.civ, world.vice)
        lc.resolve(session, done, world.vice)
        clock.set(vn(2026, 3, 3, 10, 0))
        lc.return_result(session, done, world.desk)
        clock.set(MONDAY + timedelta(minutes=5))
        extended = world.receive(name="=HYPERLINK(\"http://x\")", phone=None, address="Xóm Bãi")
        lc.hand_over(session, extended, world.desk, world.civ)
        lc.extend(session, extended, world.head, "Cần xác minh", vn(2026, 3, 9, 17, 0))
        world.receive(desk="desk_sd", unit="XA-SD")
        clock.set(vn(2026, 3, 3, 9, 0))
        later = world.receive(name="Trần Thị Lan")
    return done, extended, later


def test_rows_follow_the_official_columns_for_the_unit_and_period(session, book_world):
    done, extended, _later = book_world  # the third was received the next day
    rows = book_rows(session, "XA-MP", date(2026, 3, 2), date(2026, 3, 2))
    assert [r.receipt_code for r in rows] == [done.receipt_code, extended.receipt_code]
    first = rows[0]
    assert first.no == 1
    assert first.procedure == "Cấp Giấy xác nhận tình trạng hôn nhân"
    assert first.applicant == "Nguyễn Văn Mạnh"
    assert first.address_phone == "Thôn Đông; ĐT: 0987654321"
    assert first.lead_agency == "Công chức Tư pháp - Hộ tịch xã Minh Phú"  # held the longest step
    assert (first.received_at, first.due_at) == (MONDAY, vn(2026, 3, 4, 17, 0))
    assert first.returned_at == vn(2026, 3, 3, 10, 0)
    assert first.note == ""
    second = rows[1]
    assert second.address_phone == "Xóm Bãi" and second.returned_at is None
    assert second.note == "Đang giải quyết; Xin lỗi, gia hạn đến 09/03/2026 17:00"
    assert first.cells(VN)[6:9] == ["02/03/2026 08:00", "04/03/2026 17:00", "03/03/2026 10:00"]


def test_the_book_of_a_parent_unit_includes_the_units_below(session, book_world):
    rows = book_rows(session, "HN", date(2026, 3, 1), date(2026, 3, 31))
    assert len(rows) == 4
    assert [r.no for r in rows] == [1, 2, 3, 4]


def test_a_reversed_period_is_refused(session, book_world):
    with pytest.raises(ValidationError):
        book_rows(session, "XA-MP", date(2026, 3, 3), date(2026, 3, 2))


def test_excel_export_has_vietnamese_headers_real_dates_widths_and_a_frozen_header(session, book_world):
    unit = lc.find_unit(session, "XA-MP")
    rows = book_rows(session, unit, date(2026, 3, 1), date(2026, 3, 31))
    data = export_xlsx(rows, unit, date(2026, 3, 1), date(2026, 3, 31), VN)
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet["A1"].value == "SỔ THEO DÕI HỒ SƠ"
    assert "UBND xã Minh Phú" in sheet["A2"].value and "01/03/2026" in sheet["A2"].value
    assert [c.value for c in sheet[4]] == [c.header for c in COLUMNS]
    assert sheet.freeze_panes == "A5"
    assert sheet.column_dimensions["C"].width == 40
    assert sheet.page_setup.orientation == "landscape"
    received = sheet["G5"]
    assert received.value == datetime(2026, 3, 2, 8, 0)
    assert received.number_format == "dd/mm/yyyy hh:mm"
    assert sheet["I5"].value == datetime(2026, 3, 3, 10, 0)
    assert sheet["I6"].value is None
    assert sheet.max_row == 4 + 3
    # A name that looks like a formula stays text.
    assert sheet["D6"].value == '=HYPERLINK("http://x")' and sheet["D6"].data_type == "s"


def test_our_own_export_reads_back_and_its_codes_are_reported_as_existing(session, world, book_world):
    unit = lc.find_unit(session, "XA-MP")
    rows = book_rows(session, unit, date(2026, 3, 1), date(2026, 3, 31))
    data = export_xlsx(rows, unit, date(2026, 3, 1), date(2026, 3, 31), VN)
    book, problems = read_book(data, "so.xlsx")
    assert problems == [] and book.header_line == 4
    assert [line for line, _ in book.rows] == [5, 6, 7]
    calendar = work_calendar(session)
    values = book.rows[0][1]
    assert parse_book_instant(values["received_at"], calendar, end_of_day=False) == MONDAY
    with pytest.raises(CaseBookRejected) as rejected:
        import_csv(session, world, data)
    assert [(p.line, p.code) for p in rejected.value.problems] == [
        (5, "book_code_exists"), (6, "book_code_exists"), (7, "book_code_exists"),
    ]


# --- import -------------------------------------------------------------------------------------

def test_a_csv_book_imports_finished_and_open_cases_with_dates_in_both_formats(session, world):
    data = csv_book(
        '1,MP-2025-0001,Cấp Giấy xác nhận tình trạng hôn nhân,Lê Văn Tám,"Thôn Nam; ĐT: 0912 000 111",'
        'Tư pháp xã,03/02/2026 09:15,06/02/2026,05/02/2026 16:40,đã ký,',
        "2,MP-2025-0002,HT-XNHN,Phạm Thị Chín,Thôn Bắc,,2026-03-05T14:00,2026-03-10,,,Đang xác minh",
        "3,MP-2025-0003,đăng ký khai sinh,Đỗ Văn Mười,,,2026-02-20,20/02/2026 17:00,2026-02-20,,",
    )
    report = import_csv(session, world, data)
    assert (report.total, report.finished, report.open) == (3, 2, 1)
    done = lc.find_case(session, "MP-2025-0001")
    assert done.imported and done.status == "returned" and done.status_code == 10
    assert done.received_at == vn(2026, 2, 3, 9, 15)
    assert done.due_at == done.original_due_at == vn(2026, 2, 6, 17, 0)  # a bare date: its close
    assert done.ended_at == done.returned_at == vn(2026, 2, 5, 16, 40)
    assert (done.applicant_address, done.applicant_phone) == ("Thôn Nam", "0912000111")
    assert done.current_assignment is None
    calendar = work_calendar(session)
    assert classify_case(done, calendar) == "early"
    open_case = lc.find_case(session, "MP-2025-0002")
    assert (open_case.status, open_case.imported) == ("in_progress", True)
    assert open_case.received_at == vn(2026, 3, 5, 14, 0)
    assert open_case.due_at == vn(2026, 3, 10, 17, 0)  # from the book, not recomputed
    step = open_case.current_assignment
    assert (step.step_position, step.owner.username, step.started_at) == (1, "desk", IMPORT_TIME)
    birth = lc.find_case(session, "MP-2025-0003")
    assert birth.procedure.code == "HT-KS"  # by name, any case
    assert birth.received_at == vn(2026, 2, 20, 8, 0)  # a bare receipt date: the opening


def test_each_imported_case_gets_one_imported_event_keeping_the_books_values(session, world):
    data = csv_book(
        "1,MP-1,HT-XNHN,Lê Văn Tám,,Tư pháp xã,03/02/2026 09:15,06/02/2026,05/02/2026,Tám,Ghi chú cũ",
    )
    import_csv(session, world, data)
    case = lc.find_case(session, "MP-1")
    events = lc.history(session, case)
    assert [e.kind for e in events] == ["imported"]
    event = events[0]
    assert event.at == IMPORT_TIME and event.actor_id == world.desk.id
    assert event.data["original"] == {
        "received_at": "03/02/2026 09:15", "due_at": "06/02/2026", "returned_at": "05/02/2026",
    }
    assert event.data["lead_agency"] == "Tư pháp xã" and event.data["line"] == 2
    assert event.data["source"] == "so-cu.csv"
    checked, broken = verify_chains(session)
    assert checked == 1 and broken == []
    row = book_rows(session, "XA-MP", date(2026, 2, 1), date(2026, 2, 28))[0]
    assert (row.lead_agency, row.signature) == ("Tư pháp xã", "Tám")
    assert row.note == "Ghi chú cũ; Nhập từ sổ cũ"


def test_a_bad_book_imports_nothing_and_names_every_bad_line(session, world):
    data = csv_book(
        "1,MP-1,HT-XNHN,Lê Văn Tám,,,03/02/2026,06/02/2026,,,",
        "2,MP-2,HT-XNHN,Lê Văn Tám,,,31/02/2026,06/02/2026,,,",
        "3,MP-3,HT-XNHN,Lê Văn Tám,,,03/02/2026,06/02/2026,,,",
        "4,MP-4,KHÔNG-CÓ,Lê Văn Tám,,,03/02/2026,06/02/2026,,,",
        "5,MP-1,HT-XNHN,,,,03/02/2026,01/02/2026,,,",
        "6,MP 6,HT-XNHN,Lê Văn Tám,,,2026-13-01,06/02/2026,2027-01-01,,",
    )
    with pytest.raises(CaseBookRejected) as rejected:
        import_csv(session, world, data)
    problems = {(p.line, p.column, p.code) for p in rejected.value.problems}
    assert problems == {
        (3, "Ngày nhận hồ sơ", "book_bad_date"),
        (5, "Tên thủ tục hành chính", "book_unknown_procedure"),
        (6, "Mã hồ sơ", "book_duplicate_code"),
        (6, "Tên tổ chức, cá nhân", "book_required"),
        (6, "Ngày hẹn trả kết quả", "book_due_before_received"),
        (7, "Mã hồ sơ", "book_bad_code"),
        (7, "Ngày nhận hồ sơ", "book_bad_date"),
        (7, "Ngày trả kết quả", "book_future_date"),
    }
    assert case_count(session) == 0
    message = rejected.value.message("vi")
    assert "Dòng 3, cột «Ngày nhận hồ sơ»: «31/02/2026» không phải ngày" in message
    assert "Mã hồ sơ «MP-1» đã có ở dòng 2." in message


def test_line_numbers_count_physical_lines_of_multi_line_cells(session, world):
    data = csv_book(
        '1,MP-1,HT-XNHN,Lê Văn Tám,"Thôn Nam\nxã Minh Phú",,03/02/2026,06/02/2026,,,',
        "2,MP-2,HT-XNHN,Lê Văn Tám,,,hôm qua,06/02/2026,,,",
    )
    with pytest.raises(CaseBookRejected) as rejected:
        import_csv(session, world, data)
    assert [p.line for p in rejected.value.problems] == [4]


def test_missing_and_unknown_columns_are_reported_on_the_header_line(session, world):
    data = "Mã hồ sơ;Người nộp hồ sơ;Màu sắc\nMP-1;Lê Văn Tám;đỏ\n".encode()
    with pytest.raises(CaseBookRejected) as rejected:
        import_csv(session, world, data)
    problems = {(p.line, p.column, p.code) for p in rejected.value.problems}
    assert (1, "Màu sắc", "book_unknown_column") in problems
    assert {p[1] for p in problems if p[2] == "book_missing_column"} == {
        "Tên thủ tục hành chính", "Ngày nhận hồ sơ", "Ngày hẹn trả kết quả",
    }


def test_a_csv_that_is_not_utf8_is_refused_with_its_line(session, world):
    data = csv_book("1,MP-1,HT-XNHN,Lê Văn Tám,,,03/02/2026,06/02/2026,,,").decode().replace(
        "Lê Văn Tám", "Le Van Tam"
    ).encode() + "2,MP-2,HT-XNHN,Lê Văn Tám,,,03/02/2026,06/02/2026,,,\n".encode("cp1258")
    with pytest.raises(CaseBookRejected) as rejected:
        import_csv(session, world, data)
    assert [(p.line, p.code) for p in rejected.value.problems] == [(3, "book_not_utf8")]


@pytest.mark.parametrize(("data", "code"), [
    (b"", "book_empty"),
    (CSV_HEADER.encode() + b"\n\n\n", "book_empty"),
    (b"just,some,text\n1,2,3\n", "book_no_header"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "book_old_excel"),
    (b"PK\x03\x04 damaged zip", "book_unreadable"),
])
def test_files_that_are_not_books_are_refused_clearly(session, world, data, code):
    with pytest.raises(CaseBookRejected) as rejected:
        import_csv(session, world, data)
    assert [p.code for p in rejected.value.problems] == [code]


def test_an_xlsx_book_with_a_title_above_the_header_and_excel_dates_imports(session, world):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["SỔ THEO DÕI HỒ SƠ"])
    sheet.append([])
    sheet.append([c.header for c in COLUMNS])
    sheet.append([1, "MP-X1", "HT-XNHN", "Lê Văn Tám", "Thôn Nam - 0912000111", "Tư pháp",
                  datetime(2026, 2, 3, 9, 15), date(2026, 2, 6), datetime(2026, 2, 5, 10, 0), None, None])
    sheet.append([2, "MP-X2", "HT-XNHN", "Lê Văn Tám", None, None, "03/02/2026 10:00",
                  "2026-02-06", None, None, None])
    sheet.append([3, "MP-X3", "HT-XNHN", "Lê Văn Tám", None, None, 46056.5, 46059, None, None, None])
    out = io.BytesIO()
    workbook.save(out)
    with frozen_at(IMPORT_TIME):
        report = import_case_book(session, out.getvalue(), unit_code="XA-MP", officer=world.desk,
                                  filename="so.xlsx")
    assert (report.finished, report.open) == (1, 2)
    first = lc.find_case(session, "MP-X1")
    assert (first.received_at, first.due_at) == (vn(2026, 2, 3, 9, 15), vn(2026, 2, 6, 17, 0))
    assert first.applicant_phone == "0912000111" and first.applicant_address == "Thôn Nam"
    assert lc.find_case(session, "MP-X2").received_at == vn(2026, 2, 3, 10, 0)
    serial = lc.find_case(session, "MP-X3")  # Excel serial numbers: 46056.5 is 03/02/2026 12:00
    assert serial.received_at == vn(2026, 2, 3, 12, 0) and serial.due_at == vn(2026, 2, 6, 17, 0)


def test_an_xlsx_with_a_bad_row_reports_its_sheet_row_number(session, world):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Sổ"])
    sheet.append([c.header for c in COLUMNS])
    sheet.append([1, "MP-Y1", "HT-XNHN", "Lê Văn Tám", None, None, "03/02/2026", "06/02/2026"])
    sheet.append([2, "MP-Y2", "HT-XNHN", "Lê Văn Tám", None, None, "ba tháng hai", "06/02/2026"])
    out = io.BytesIO()
    workbook.save(out)
    with pytest.raises(CaseBookRejected) as rejected:
        import_csv(session, world, out.getvalue())
    assert [(p.line, p.code) for p in rejected.value.problems] == [(4, "book_bad_date")]
    assert case_count(session) == 0


def test_a_receipt_code_already_in_the_system_is_a_row_error(session, world):
    with frozen_at(MONDAY):
        existing = world.receive()
    data = csv_book(f"1,{existing.receipt_code},HT-XNHN,Lê Văn Tám,,,01/03/2026,03/03/2026,02/03/2026,,")
    with pytest.raises(CaseBookRejected) as rejected:
        import_csv(session, world, data)
    assert [(p.line, p.code) for p in rejected.value.problems] == [(2, "book_code_exists")]


def test_open_rows_need_a_desk_officer_of_the_unit(session, world):
    data = csv_book("1,MP-1,HT-XNHN,Lê Văn Tám,,,01/03/2026,03/03/2026,,,")
    with pytest.raises(CaseBookRejected) as rejected:
        import_csv(session, world, data, officer=None)
    assert [p.code for p in rejected.value.problems] == ["book_open_needs_officer"]
    with pytest.raises(PermissionDenied):
        import_csv(session, world, data, officer="civ")
    with pytest.raises(PermissionDenied):
        import_csv(session, world, data, officer="desk_sd")
    assert case_count(session) == 0


def test_finished_rows_import_without_an_officer(session, world):
    data = csv_book("1,MP-1,HT-XNHN,Lê Văn Tám,,,01/03/2026,03/03/2026,02/03/2026,,")
    report = import_csv(session, world, data, officer=None)
    assert report.finished == 1
    assert lc.history(session, report.cases[0])[0].actor_id is None


def test_imported_codes_in_the_apps_format_move_that_units_receipt_counter(session, world):
    data = csv_book(
        "1,XA-MP-260310-0007,HT-XNHN,Lê Văn Tám,,,10/03/2026 08:00,12/03/2026,,,",
        "2,XA-SD-260310-0003,HT-XNHN,Lê Văn Tám,,,10/03/2026 08:10,12/03/2026,,,",
        "3,XA-MP-260310-0002,HT-XNHN,Lê Văn Tám,,,10/03/2026 08:20,12/03/2026,,,",
    )
    import_csv(session, world, data)
    with frozen_at(IMPORT_TIME + timedelta(minutes=5)):
        assert world.receive().receipt_code == "XA-MP-260310-0008"
        assert world.receive(desk="desk_sd", unit="XA-SD").receipt_code == "XA-SD-260310-0004"


def test_an_imported_open_case_can_be_worked_like_any_other(session, world):
    import_csv(session, world, csv_book("1,MP-1,HT-XNHN,Lê Văn Tám,,,09/03/2026,12/03/2026,,,"))
    case = lc.find_case(session, "MP-1")
    with frozen_at(IMPORT_TIME + timedelta(hours=1)):
        lc.hand_over(session, case, world.desk, world.civ)
    assert [e.kind for e in lc.history(session, case)] == ["imported", "handed_over"]
    assert verify_chains(session)[1] == []
    assert session.scalar(select(func.count()).select_from(CaseEvent)) == 2


@pytest.mark.parametrize(("text", "expected"), [
    ("Số 5 thôn Đông; ĐT: 0912 345 678", ("Số 5 thôn Đông", "0912345678")),
    ("Thôn Nam - 0912.000.111", ("Thôn Nam", "0912000111")),
    ("Số 12 ngõ 34", ("Số 12 ngõ 34", None)),
    ("0912345678", (None, "0912345678")),
    ("", (None, None)),
])
def test_address_and_phone_are_split(text, expected):
    assert split_address_phone(text) == expected


@pytest.mark.parametrize(("raw", "end", "expected"), [
    ("02/03/2026", False, vn(2026, 3, 2, 8, 0)),
    ("02/03/2026", True, vn(2026, 3, 2, 17, 0)),
    ("2/3/2026 9:05", False, vn(2026, 3, 2, 9, 5)),
    ("02-03-2026 09:05:30", False, vn(2026, 3, 2, 9, 5, 30)),
    ("09:05 02/03/2026", False, vn(2026, 3, 2, 9, 5)),
    ("2026-03-02", True, vn(2026, 3, 2, 17, 0)),
    ("2026-03-02 09:05", False, vn(2026, 3, 2, 9, 5)),
    ("2026-03-02T02:05:00+00:00", False, vn(2026, 3, 2, 9, 5)),
])
def test_book_dates_parse_in_vietnamese_and_iso_forms(session, world, raw, end, expected):
    assert parse_book_instant(raw, work_calendar(session), end_of_day=end) == expected


@pytest.mark.parametrize("raw", ["31/02/2026", "2026/03/02", "02/03/26", "tomorrow", "", "2026-03-02T25:00"])
def test_malformed_book_dates_are_refused(session, world, raw):
    with pytest.raises(ValueError):
        parse_book_instant(raw, work_calendar(session), end_of_day=False)
