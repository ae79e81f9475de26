"""The case book (form 07, Sổ theo dõi hồ sơ): its rows for a unit and a period, the Excel
export in the official column layout, and the import of an existing book (Excel or CSV).

An import is all or nothing: every row is checked first and every problem is reported with
its line number; only a clean book writes anything. Imported rows become cases marked
`imported`, each with an `imported` history event that keeps the book's own values.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case as when
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload

from onestop import clock, lifecycle
from onestop.calendar import WorkCalendar
from onestop.calendar_store import work_calendar
from onestop.errors import Conflict, PermissionDenied, ValidationError
from onestop.i18n import DEFAULT_LANGUAGE, STATUS_LABELS, label, translate
from onestop.models import Case, CaseEvent, Procedure, ReceiptCounter, StepAssignment, Unit
from onestop.validation import clean_text

_RECEIPT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,39}$")
MAX_ROWS = 20_000
MAX_PERIOD_DAYS = 3660
HEADER_SCAN_ROWS = 15
DATE_DISPLAY = "%d/%m/%Y %H:%M"


def valid_receipt_code(code: object) -> bool:
    """Receipt codes are letters, digits, '.', '_' and '-' (at most 40): safe in URLs and files."""
    return isinstance(code, str) and bool(_RECEIPT_CODE.match(code))


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    width: float


# The official layout of form 07 (RULES.md section 6), in order.
COLUMNS: tuple[Column, ...] = (
    Column("no", "STT", 6),
    Column("receipt_code", "Mã hồ sơ", 22),
    Column("procedure", "Tên thủ tục hành chính", 40),
    Column("applicant", "Tên tổ chức, cá nhân", 26),
    Column("address_phone", "Địa chỉ, số điện thoại", 36),
    Column("lead_agency", "Cơ quan chủ trì giải quyết", 30),
    Column("received_at", "Ngày nhận hồ sơ", 17),
    Column("due_at", "Ngày hẹn trả kết quả", 17),
    Column("returned_at", "Ngày trả kết quả", 17),
    Column("signature", "Ký nhận", 14),
    Column("note", "Ghi chú", 32),
)
HEADERS = {c.key: c.header for c in COLUMNS}
DATE_KEYS = ("received_at", "due_at", "returned_at")


# --- the book's rows ----------------------------------------------------------------------------

@dataclass(frozen=True)
class BookRow:
    no: int
    receipt_code: str
    procedure: str
    applicant: str
    address_phone: str
    lead_agency: str
    received_at: datetime | None
    due_at: datetime | None
    returned_at: datetime | None
    signature: str
    note: str

    def cells(self, zone) -> list[str]:
        """Display values in column order (dates as dd/mm/yyyy HH:MM, local time)."""
        values = []
        for column in COLUMNS:
            value = getattr(self, column.key)
            if isinstance(value, datetime):
                value = value.astimezone(zone).strftime(DATE_DISPLAY)
            values.append("" if value is None else str(value))
        return values


def address_and_phone(address: str | None, phone: str | None) -> str:
    parts = [address] if address else []
    if phone:
        parts.append(f"ĐT: {phone}")
    return "; ".join(parts)


def period_bounds(start: date, end: date, calendar: WorkCalendar) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in local time; refuses reversed or absurd periods."""
    if end < start:
        raise ValidationError("invalid_value", field="period", detail="the end is before the start")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ValidationError("invalid_value", field="period", detail="at most ten years")
    zone = calendar.zone
    return (
        datetime.combine(start, time(0), tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone),
    )


def subtree(session: Session, root: Unit) -> list[Unit]:
    return [u for u in session.scalars(select(Unit)).all() if u.is_within(root)]


def _lead_agency(case: Case) -> str:
    """The unit that held the longest step of the process (the substantive review: the land
    registration office for a land case), or the receiving unit while none has."""
    held = [a for a in case.assignments if a.step_position != 1]
    if not held:
        return case.unit.name
    longest = max(held, key=lambda a: (a.budget_hours, -a.id))
    return longest.unit.name


def _note(case: Case, zone) -> str:
    notes = []
    if case.status != "returned":
        notes.append(label(STATUS_LABELS, case.status))
    if case.extension is not None:
        notes.append(
            "Xin lỗi, gia hạn đến " + case.extension.new_due_at.astimezone(zone).strftime(DATE_DISPLAY)
        )
    if case.original_due_at and case.due_at and case.due_at != case.original_due_at:
        notes.append(
            "Hẹn ban đầu " + case.original_due_at.astimezone(zone).strftime(DATE_DISPLAY)
        )
    return "; ".join(notes)


def book_rows(session: Session, unit: Unit | str, start: date, end: date) -> list[BookRow]:
    """The book of `unit` and the units below it: cases received from `start` to `end`
    (local dates, inclusive), oldest first, numbered."""
    if isinstance(unit, str):
        unit = lifecycle.find_unit(session, unit)
    calendar = work_calendar(session)
    low, high = period_bounds(start, end, calendar)
    ids = [u.id for u in subtree(session, unit)]
    cases = session.scalars(
        select(Case)
        .where(Case.unit_id.in_(ids), Case.received_at >= low, Case.received_at < high)
        .options(
            selectinload(Case.assignments).selectinload(StepAssignment.unit),
            selectinload(Case.extension),
            selectinload(Case.procedure),
            selectinload(Case.unit),
        )
        .order_by(Case.received_at, Case.id)
    ).all()
    imported = _imported_data(session, [c.id for c in cases if c.imported])
    rows = []
    for number, case in enumerate(cases, start=1):
        book = imported.get(case.id, {})
        note = _note(case, calendar.zone)
        if case.imported:
            note = "; ".join(n for n in (book.get("note"), note, "Nhập từ sổ cũ") if n)
        rows.append(BookRow(
            no=number,
            receipt_code=case.receipt_code,
            procedure=case.procedure.name_vi,
            applicant=case.applicant_name,
            address_phone=address_and_phone(case.applicant_address, case.applicant_phone),
            lead_agency=book.get("lead_agency") or _lead_agency(case),
            received_at=case.received_at,
            due_at=case.due_at,
            returned_at=case.returned_at,
            signature=book.get("signature") or "",
            note=note,
        ))
    return rows


def _imported_data(session: Session, case_ids: list[int]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for chunk in range(0, len(case_ids), 500):
        ids = case_ids[chunk:chunk + 500]
        for case_id, data in session.execute(
            select(CaseEvent.case_id, CaseEvent.data)
            .where(CaseEvent.case_id.in_(ids), CaseEvent.kind == "imported")
        ):
            found[case_id] = data or {}
    return found


# --- Excel export -------------------------------------------------------------------------------

def export_xlsx(rows: list[BookRow], unit: Unit, start: date, end: date, zone) -> bytes:
    """The book as an .xlsx: title, Vietnamese headers, dates as real dd/mm/yyyy HH:MM cells,
    column widths, frozen header, A4 landscape print set-up."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Sổ theo dõi hồ sơ"
    last = get_column_letter(len(COLUMNS))
    sheet["A1"] = "SỔ THEO DÕI HỒ SƠ"
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A2"] = f"{unit.name}: từ ngày {start:%d/%m/%Y} đến ngày {end:%d/%m/%Y}"
    sheet.merge_cells(f"A1:{last}1")
    sheet.merge_cells(f"A2:{last}2")
    for cell in (sheet["A1"], sheet["A2"]):
        cell.alignment = Alignment(horizontal="center")
    header_row = 4
    thin = Side(style="thin", color="808080")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=header_row, column=index, value=column.header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDE2EA")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = border
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    for offset, row in enumerate(rows, start=1):
        for index, column in enumerate(COLUMNS, start=1):
            value = getattr(row, column.key)
            cell = sheet.cell(row=header_row + offset, column=index)
            if isinstance(value, datetime):
                # Excel has no time zones: the local wall time is what the desk reads.
                cell.value = value.astimezone(zone).replace(tzinfo=None)
                cell.number_format = "dd/mm/yyyy hh:mm"
            else:
                cell.value = value
                if isinstance(value, str):
                    cell.data_type = "s"  # a name typed as "=..." stays text, never a formula
            cell.alignment = Alignment(vertical="top", wrap_text=column.key not in DATE_KEYS)
            cell.border = border
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- import: reading ----------------------------------------------------------------------------

def _norm(header: object) -> str:
    text = unicodedata.normalize("NFC", str(header or "")).casefold()
    text = re.sub(r"\(.*?\)", " ", text)
    return " ".join(text.split()).strip(" :.*")


_ALIASES: dict[str, tuple[str, ...]] = {
    "no": ("stt", "số tt", "số thứ tự", "tt", "no"),
    "receipt_code": ("mã hồ sơ", "mã số hồ sơ", "số hồ sơ", "receipt_code"),
    "procedure": (
        "tên thủ tục hành chính", "thủ tục hành chính", "tên thủ tục", "thủ tục", "tên tthc",
        "procedure", "procedure_code",
    ),
    "applicant": (
        "tên tổ chức, cá nhân", "tên cá nhân, tổ chức", "tổ chức, cá nhân", "cá nhân, tổ chức",
        "người nộp hồ sơ", "người nộp", "họ và tên", "applicant",
    ),
    "address_phone": (
        "địa chỉ, số điện thoại", "địa chỉ, điện thoại", "địa chỉ - số điện thoại", "địa chỉ",
        "address",
    ),
    "phone": ("số điện thoại", "điện thoại", "phone"),
    "lead_agency": (
        "cơ quan chủ trì giải quyết", "cơ quan chủ trì", "cơ quan giải quyết", "lead_agency",
    ),
    "received_at": ("ngày nhận hồ sơ", "nhận hồ sơ", "ngày nhận", "received_at"),
    "due_at": ("ngày hẹn trả kết quả", "hẹn trả kết quả", "ngày hẹn trả", "due_at"),
    "returned_at": ("ngày trả kết quả", "trả kết quả", "ngày trả", "returned_at"),
    "signature": ("ký nhận", "chữ ký", "ký nhận kết quả", "signature"),
    "note": ("ghi chú", "note"),
    # Columns of the older (2018) layout, read and ignored.
    "ignored": ("số lượng hồ sơ", "chuyển hồ sơ đến cơ quan giải quyết"),
}
_HEADER_KEYS = {alias: key for key, aliases in _ALIASES.items() for alias in aliases}
REQUIRED_KEYS = ("receipt_code", "procedure", "applicant", "received_at", "due_at")


@dataclass(frozen=True)
class Problem:
    """One rejected line of a book: where, and why (a message key and its parameters)."""

    line: int
    column: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def message(self, language: str = DEFAULT_LANGUAGE) -> str:
        return translate(
            "book_problem", language, line=self.line, column=self.column,
            detail=translate(self.code, language, **self.params),
        )


class CaseBookRejected(ValidationError):
    """The book was refused as a whole; `problems` lists every rejected line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.column))
        super().__init__("book_rejected", count=len(self.problems))

    def message(self, language: str = DEFAULT_LANGUAGE) -> str:
        lines = [super().message(language)]
        lines += [p.message(language) for p in self.problems[:200]]
        if len(self.problems) > 200:
            lines.append("…")
        return "\n".join(lines)


@dataclass
class RawBook:
    header_line: int
    columns: dict[int, str]  # cell index -> column key
    rows: list[tuple[int, dict[str, Any]]]


def _header_columns(cells: list[Any], line: int, problems: list[Problem]) -> dict[int, str] | None:
    keys: dict[int, str] = {}
    for index, cell in enumerate(cells):
        name = _norm(cell)
        if not name:
            continue
        key = _HEADER_KEYS.get(name)
        if key is None:
            problems.append(Problem(line, str(cell)[:60], "book_unknown_column"))
        elif key != "ignored":
            if key in keys.values():
                problems.append(Problem(line, str(cell)[:60], "book_duplicate_column"))
            keys[index] = key
    for key in REQUIRED_KEYS:
        if key not in keys.values():
            problems.append(Problem(line, HEADERS[key], "book_missing_column"))
    return keys


def _find_header(rows: list[tuple[int, list[Any]]]) -> tuple[int, list[Any]] | None:
    """Books often carry a title above the table: the header is the first row naming the
    receipt-code column."""
    for line, cells in rows[:HEADER_SCAN_ROWS]:
        if any(_HEADER_KEYS.get(_norm(c)) == "receipt_code" for c in cells):
            return line, cells
    return None


def _blank(cells: list[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _read_rows(data: bytes, filename: str | None, problems: list[Problem]) -> list[tuple[int, list[Any]]] | None:
    name = (filename or "").lower()
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(data, problems)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or name.endswith(".xls"):
        problems.append(Problem(1, "", "book_old_excel"))
        return None
    return _read_csv(data, problems)


def _read_xlsx(data: bytes, problems: list[Problem]) -> list[tuple[int, list[Any]]] | None:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        rows = []
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if len(rows) > MAX_ROWS + HEADER_SCAN_ROWS:
                problems.append(Problem(line, "", "book_too_many_rows", {"max": MAX_ROWS}))
                break
            rows.append((line, list(values)))
        workbook.close()
    except Exception:  # noqa: BLE001 (openpyxl raises many kinds on a damaged or foreign file)
        problems.append(Problem(1, "", "book_unreadable"))
        return None
    return rows


def _read_csv(data: bytes, problems: list[Problem]) -> list[tuple[int, list[Any]]] | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(data[: exc.start].count(b"\n") + 1, "", "book_not_utf8"))
        return None
    if "\x00" in text:
        problems.append(Problem(text[: text.index("\x00")].count("\n") + 1, "", "book_unreadable"))
        return None
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    start = 1
    try:
        for cells in reader:
            if len(rows) > MAX_ROWS + HEADER_SCAN_ROWS:
                problems.append(Problem(start, "", "book_too_many_rows", {"max": MAX_ROWS}))
                break
            rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error:
        problems.append(Problem(start, "", "book_unreadable"))
        return None
    return rows


def read_book(data: bytes, filename: str | None = None) -> tuple[RawBook | None, list[Problem]]:
    """The header and the non-blank rows of a book (.xlsx or CSV in UTF-8), keyed by column."""
    problems: list[Problem] = []
    if not data:
        return None, [Problem(1, "", "book_empty")]
    rows = _read_rows(data, filename, problems)
    if rows is None:
        return None, problems
    found = _find_header(rows)
    if found is None:
        problems.append(Problem(1, HEADERS["receipt_code"], "book_no_header"))
        return None, problems
    header_line, header_cells = found
    columns = _header_columns(header_cells, header_line, problems)
    book = RawBook(header_line, columns or {}, [])
    for line, cells in rows:
        if line <= header_line or _blank(cells):
            continue
        values: dict[str, Any] = {}
        for index, cell in enumerate(cells):
            key = book.columns.get(index)
            if key is not None:
                values[key] = cell
            elif not _blank([cell]) and (index >= len(header_cells) or not _norm(header_cells[index])):
                problems.append(Problem(line, f"#{index + 1}", "book_cell_without_header"))
        book.rows.append((line, values))
    if not book.rows and not problems:
        problems.append(Problem(header_line, "", "book_empty"))
    return book, problems


# --- import: checking ---------------------------------------------------------------------------

_DMY = re.compile(
    r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T,]+(\d{1,2})[:hH](\d{2})(?::(\d{2}))?)?$"
)
_HM_DMY = re.compile(r"^(\d{1,2})[:hH](\d{2})(?::(\d{2}))?[ ,]+(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_book_instant(value: Any, calendar: WorkCalendar, *, end_of_day: bool) -> datetime:
    """A date of the book as an instant. Text as dd/mm/yyyy or ISO, with or without a time;
    Excel dates and serial numbers. Local time unless an offset is given. A bare date means the
    opening of that day for a receipt, its close for an appointment or a return."""
    zone = calendar.zone

    def day_only(day: date) -> datetime:
        if end_of_day:
            return calendar.close_of_day(day)
        hour, minute = calendar.office_hours[0][:2]
        return datetime.combine(day, time(hour, minute), tzinfo=zone)

    def local(instant: datetime) -> datetime:
        return instant.replace(tzinfo=zone) if instant.tzinfo is None else instant

    if isinstance(value, datetime):
        # Excel stores a date as a datetime at midnight: read it as the bare date it is.
        if value.tzinfo is None and value.time() == time(0):
            return day_only(value.date())
        return local(value)
    if isinstance(value, date):
        return day_only(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        from openpyxl.utils.datetime import from_excel

        if not 1 <= value < 2958466:
            raise ValueError("out of range")
        converted = from_excel(value)
        return day_only(converted.date()) if float(value).is_integer() else local(converted)
    if not isinstance(value, str):
        raise ValueError("not a date")  # noqa: TRY004 (callers treat every bad date alike)
    text = value.strip()
    match = _DMY.match(text)
    if match:
        d, m, y, hh, mm, ss = match.groups()
        day = date(int(y), int(m), int(d))
        if hh is None:
            return day_only(day)
        return datetime.combine(day, time(int(hh), int(mm), int(ss or 0)), tzinfo=zone)
    match = _HM_DMY.match(text)
    if match:
        hh, mm, ss, d, m, y = match.groups()
        return datetime(int(y), int(m), int(d), int(hh), int(mm), int(ss or 0), tzinfo=zone)
    if _ISO_DAY.match(text):
        return day_only(date.fromisoformat(text))
    if re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", text):
        return local(datetime.fromisoformat(text))
    raise ValueError("not a date")


_PHONE_TAIL = re.compile(
    r"(?:[;,\-–]\s*)?(?:(?:S?ĐT|Điện thoại|Tel|DĐ|Phone)\s*[:.]?\s*)?(\+?[0-9][0-9 .\-]{7,18}[0-9])\s*$",
    re.IGNORECASE,
)


def split_address_phone(text: str | None) -> tuple[str | None, str | None]:
    """'Số 5 thôn Đông; ĐT: 0912 345 678' -> ('Số 5 thôn Đông', '0912345678')."""
    if not text:
        return None, None
    match = _PHONE_TAIL.search(text)
    if not match:
        return text, None
    digits = re.sub(r"[\s.\-]", "", match.group(1))
    if not 9 <= len(digits.lstrip("+")) <= 15:
        return text, None
    address = text[: match.start()].strip(" ;,-–") or None
    return address, digits


@dataclass
class BookEntry:
    """One checked row, ready to become a case."""

    line: int
    receipt_code: str
    procedure: Procedure
    applicant: str
    address: str | None
    phone: str | None
    lead_agency: str | None
    received_at: datetime
    due_at: datetime
    returned_at: datetime | None
    signature: str | None
    note: str | None
    original: dict[str, Any]


class _Procedures:
    """Procedures named in a book by code or by name (any case, NFC), newest active version."""

    def __init__(self, session: Session) -> None:
        self.by_code: dict[str, Procedure] = {}
        self.by_name: dict[str, Procedure] = {}
        for procedure in session.scalars(
            select(Procedure).where(Procedure.active.is_(True)).order_by(Procedure.version)
        ):
            self.by_code[procedure.code.casefold()] = procedure
            self.by_name[_norm(procedure.name_vi)] = procedure

    def find(self, text: str) -> Procedure | None:
        return self.by_code.get(text.casefold()) or self.by_name.get(_norm(text))


def _original(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


class _Cells:
    """Reads one row's cells, recording a problem for each bad one."""

    def __init__(self, line: int, values: dict[str, Any], problems: list[Problem],
                 calendar: WorkCalendar) -> None:
        self.line, self.values, self.problems, self.calendar = line, values, problems, calendar

    def problem(self, key: str, code: str, **params: Any) -> None:
        self.problems.append(Problem(self.line, HEADERS.get(key, key), code, params))

    def text(self, key: str, max_length: int, *, required: bool = False,
             multiline: bool = False) -> str | None:
        raw = self.values.get(key)
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            raw = str(int(raw)) if float(raw).is_integer() else str(raw)
        elif isinstance(raw, (datetime, date)):
            raw = raw.isoformat()
        if isinstance(raw, str) and not multiline:
            raw = " ".join(raw.split())  # a cell wrapped with Alt+Enter is still one line
        try:
            return clean_text(raw, key, max_length=max_length, required=required, multiline=multiline)
        except ValidationError as exc:
            if exc.code == "required":
                self.problem(key, "book_required")
            elif exc.code == "too_long":
                self.problem(key, "book_too_long", max=exc.params.get("max"))
            else:
                self.problem(key, "book_bad_text")
            return None

    def instant(self, key: str, *, required: bool, end_of_day: bool) -> datetime | None:
        raw = self.values.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                self.problem(key, "book_required")
            return None
        try:
            return parse_book_instant(raw, self.calendar, end_of_day=end_of_day)
        except (ValueError, OverflowError, TypeError):
            self.problem(key, "book_bad_date", value=str(raw)[:40])
            return None


def _check_rows(
    session: Session, book: RawBook, unit: Unit, officer, calendar: WorkCalendar,
    problems: list[Problem],
) -> list[BookEntry]:
    procedures = _Procedures(session)
    now = clock.now()
    seen: dict[str, int] = {}
    entries: list[BookEntry] = []
    for line, values in book.rows:
        before = len(problems)
        cells = _Cells(line, values, problems, calendar)
        problem, text, instant = cells.problem, cells.text, cells.instant

        code = text("receipt_code", 40, required=True)
        if code is not None:
            if not valid_receipt_code(code):
                problem("receipt_code", "book_bad_code", value=code)
            elif code.casefold() in seen:
                problem("receipt_code", "book_duplicate_code", value=code, first=seen[code.casefold()])
            else:
                seen[code.casefold()] = line
        procedure_text = text("procedure", 500, required=True)
        procedure = procedures.find(procedure_text) if procedure_text else None
        if procedure_text and procedure is None:
            problem("procedure", "book_unknown_procedure", value=procedure_text[:80])
        applicant = text("applicant", 200, required=True)
        address, phone = split_address_phone(text("address_phone", 520))
        if "phone" in values:
            phone = text("phone", 20) or phone
            if phone:
                phone = re.sub(r"[\s.\-]", "", phone)
        if address and len(address) > 500:
            problem("address_phone", "book_too_long", max=500)
        if phone and not re.fullmatch(r"\+?[0-9]{9,15}", phone):
            problem("address_phone", "book_bad_phone", value=phone[:20])
        lead_agency = text("lead_agency", 300)
        received = instant("received_at", required=True, end_of_day=False)
        due = instant("due_at", required=True, end_of_day=True)
        returned = instant("returned_at", required=False, end_of_day=True)
        signature = text("signature", 200)
        note = text("note", 2000, multiline=True)
        if received and received > now:
            problem("received_at", "book_future_date")
        if received and due and due < received:
            problem("due_at", "book_due_before_received")
        if received and returned and returned < received:
            problem("returned_at", "book_returned_before_received")
        if returned and returned > now:
            problem("returned_at", "book_future_date")
        if procedure is not None and _blank([values.get("returned_at")]):
            _check_owner(session, procedure, unit, officer, problem)
        if len(problems) == before:
            assert code and procedure and applicant and received and due
            entries.append(BookEntry(
                line=line, receipt_code=code, procedure=procedure, applicant=applicant,
                address=address, phone=phone, lead_agency=lead_agency, received_at=received,
                due_at=due, returned_at=returned, signature=signature, note=note,
                original={k: _original(values.get(k)) for k in DATE_KEYS if values.get(k) is not None},
            ))
    _check_existing_codes(session, entries, problems)
    return entries


def _check_owner(session: Session, procedure: Procedure, unit: Unit, officer, problem) -> None:
    """An open row is held at step 1 by the importing officer: they must be able to own it."""
    if officer is None:
        problem("returned_at", "book_open_needs_officer")
        return
    if not procedure.steps:
        problem("procedure", "book_procedure_without_steps")
        return
    step = procedure.step_at(1) or procedure.steps[0]
    target = lifecycle.find_unit(session, step.unit_code) if step.unit_code else unit
    if lifecycle.owner_unit(officer, step.role, target) is None:
        problem("procedure", "book_officer_cannot_own", username=officer.username, role=step.role)


def _check_existing_codes(session: Session, entries: list[BookEntry], problems: list[Problem]) -> None:
    by_code = {e.receipt_code: e for e in entries}
    codes = list(by_code)
    for chunk in range(0, len(codes), 500):
        for existing in session.scalars(
            select(Case.receipt_code).where(Case.receipt_code.in_(codes[chunk:chunk + 500]))
        ):
            problems.append(Problem(
                by_code[existing].line, HEADERS["receipt_code"], "book_code_exists", {"value": existing}
            ))


# --- import: writing ----------------------------------------------------------------------------

@dataclass
class ImportReport:
    cases: list[Case]
    finished: int
    open: int

    @property
    def total(self) -> int:
        return len(self.cases)


def import_case_book(
    session: Session, data: bytes, *, unit_code: str, officer=None, filename: str | None = None,
) -> ImportReport:
    """Import a case book into `unit_code`, all or nothing.

    A row with a return date becomes a returned case whose end and return instants are that
    date; a row without one stays open, in progress at step 1 and owned by `officer` (a desk
    officer of the unit) from now. Due instants are the book's appointments, not recomputed.
    Every case gets one `imported` event, at the server's time, keeping the book's values.
    Raises `CaseBookRejected` listing every problem; then nothing has been written.
    """
    unit = lifecycle.find_unit(session, clean_text(unit_code, "unit", max_length=32, required=True))
    if officer is not None and not lifecycle.is_desk_for(officer, unit):
        raise PermissionDenied("role_required", role="desk", unit=unit.code)
    calendar = work_calendar(session)
    book, problems = read_book(data, filename)
    entries = _check_rows(session, book, unit, officer, calendar, problems) if book else []
    if problems:
        raise CaseBookRejected(problems)
    now = clock.now()
    source = clean_text(filename, "filename", max_length=200) if filename else None
    cases: list[Case] = []
    for entry in entries:
        finished = entry.returned_at is not None
        case = Case(
            receipt_code=entry.receipt_code, unit=unit, procedure=entry.procedure,
            applicant_name=entry.applicant, applicant_phone=entry.phone,
            applicant_address=entry.address, channel="in_person", documents=[],
            status="returned" if finished else "in_progress",
            submitted_at=entry.received_at, received_at=entry.received_at,
            original_due_at=entry.due_at, due_at=entry.due_at,
            ended_at=entry.returned_at, returned_at=entry.returned_at,
            imported=True, last_event_seq=0,
        )
        session.add(case)
        if not finished:
            step = entry.procedure.step_at(1) or entry.procedure.steps[0]
            owner_unit = lifecycle._receiving_unit(session, case, step, officer)
            lifecycle._open_assignment(case, step, officer, owner_unit, None, now, calendar)
        cases.append(case)
    _flush(session)
    for case, entry in zip(cases, entries, strict=True):
        lifecycle._record(
            session, case, "imported", officer, reason="Nhập từ sổ theo dõi hồ sơ",
            source=source, line=entry.line, received_at=entry.received_at, due_at=entry.due_at,
            returned_at=entry.returned_at, lead_agency=entry.lead_agency,
            signature=entry.signature, note=entry.note, original=entry.original,
        )
    _flush(session)
    _advance_receipt_counters(session, [e.receipt_code for e in entries])
    finished = sum(1 for e in entries if e.returned_at is not None)
    return ImportReport(cases, finished, len(entries) - finished)


def _flush(session: Session) -> None:
    try:
        session.flush()
    except (IntegrityError, OperationalError) as exc:  # a case received meanwhile took a code
        raise Conflict("stale_case", code="*") from exc


def _advance_receipt_counters(session: Session, codes: list[str]) -> None:
    """Imported codes in the app's own format (UNIT-YYMMDD-NNNN) move that unit's counter for
    that day past them, so a case received later never draws a code the book already holds."""
    pattern = re.compile(r"^(.+)-(\d{6})-(\d{4,6})$")
    highest: dict[tuple[str, date], int] = {}
    for code in codes:
        match = pattern.match(code)
        if not match:
            continue
        try:
            day = datetime.strptime(match.group(2), "%y%m%d").date()
        except ValueError:
            continue
        key = (match.group(1), day)
        highest[key] = max(highest.get(key, 0), int(match.group(3)))
    if not highest:
        return
    units = dict(session.execute(
        select(Unit.code, Unit.id).where(Unit.code.in_({code for code, _ in highest}))
    ).all())
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for (code, day), number in highest.items():
        if code not in units:
            continue
        statement = insert(ReceiptCounter).values(unit_id=units[code], day=day, last=number)
        statement = statement.on_conflict_do_update(
            index_elements=["unit_id", "day"],
            set_={"last": when(
                (statement.excluded.last > ReceiptCounter.last, statement.excluded.last),
                else_=ReceiptCounter.last,
            )},
        )
        session.execute(statement)
