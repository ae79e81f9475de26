"""The weekly report (RULES.md section 5): the official statistics table per unit as Excel, with
the units, procedures and officers furthest behind, stored for download and mailed to chairs.

The table follows Circular 01/2020/TT-VPCP form 06 (tình hình, kết quả giải quyết TTHC): a line
per unit of the organisation tree and, under it, per field (lĩnh vực), with the columns received
(total; carried over; new online; new in person or by post), resolved (total; early; on time;
late), in progress (total; within deadline; overdue), then withdrawn, stopped and refused after
review apart, so that each line's received equals the sum of the others. Figures come from the
daily snapshots of `onestop.metrics`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from onestop import clock
from onestop.db import Base, UTCDateTime
from onestop.lifecycle import find_unit
from onestop.metrics import (
    CaseDayFigures,
    Figures,
    RateRow,
    case_figures,
    rates_by,
    subtree_ids,
)
from onestop.models import Officer, OfficerRole, Procedure, Unit

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WEEKLY = "weekly"


class StoredReport(Base):
    """One generated report file, kept for download; a rerun for the same unit and period
    replaces it."""

    __tablename__ = "stored_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (UniqueConstraint("kind", "unit_id", "period_start", "period_end"),)


def previous_week(day: date) -> tuple[date, date]:
    """Monday to Sunday of the last full week before `day`'s week."""
    monday = day - timedelta(days=day.weekday() + 7)
    return monday, monday + timedelta(days=6)


# --- the statistics table ---------------------------------------------------------------------

@dataclass
class StatisticsLine:
    level: int  # 0: grand total, 1: a unit, 2: a field within the unit
    number: str
    label: str
    unit_code: str | None
    field: str | None
    figures: Figures

    def values(self) -> list[int]:
        f = self.figures
        return [
            f.received_total, f.carried_over, f.received_online, f.received_in_person + f.received_post,
            f.resolved_total, f.resolved_early, f.resolved_on_time, f.resolved_late,
            f.in_progress_total, f.open_within, f.open_overdue,
            f.withdrawn, f.stopped, f.refused,
        ]


def statistics_table(
    session: Session, unit_code: str, date_from: date, date_to: date
) -> list[StatisticsLine]:
    """Form 06: the grand total of the unit and the units below it, then each unit that had
    cases (its own cases, tree order) with a line per field under it."""
    root = find_unit(session, unit_code)
    ids = subtree_ids(session, root)
    t, p = CaseDayFigures.__table__, Procedure.__table__
    field = func.coalesce(p.c.field, "")
    rows = case_figures(
        session, ids, date_from, date_to, [t.c.unit_id, field], t.join(p, p.c.id == t.c.procedure_id)
    )
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(ids)))}
    depth = {root.id: 0}
    for uid in ids:  # parents come before children in subtree_ids
        unit = units[uid]
        if uid != root.id:
            depth[uid] = depth.get(unit.parent_id, 0) + 1
    by_unit: dict[int, dict[str, Figures]] = {}
    for (uid, field_name), figures in rows:
        if figures.received_total:
            by_unit.setdefault(uid, {})[field_name] = figures
    total = sum((f for fields in by_unit.values() for f in fields.values()), Figures())
    lines = [StatisticsLine(0, "", "TỔNG CỘNG", None, None, total)]
    order = sorted(by_unit, key=lambda uid: (depth[uid], units[uid].code))
    for n, uid in enumerate(order, start=1):
        unit = units[uid]
        fields = by_unit[uid]
        lines.append(StatisticsLine(
            1, str(n), unit.name, unit.code, None, sum(fields.values(), Figures())
        ))
        for m, name in enumerate(sorted(fields), start=1):
            lines.append(StatisticsLine(2, f"{n}.{m}", name or "(chưa phân lĩnh vực)", unit.code, name, fields[name]))
    return lines


def laggards(
    session: Session, unit_code: str, date_from: date, date_to: date, limit: int = 5
) -> dict[str, list[RateRow]]:
    """The units, procedures and officers furthest behind. Ranked by the upper bound of the
    Wilson interval, lowest first: a unit is listed only when even the most favourable reading
    of its record is poor, so one late case out of one does not top the list."""
    out = {}
    for key, by in (("units", "unit"), ("procedures", "procedure"), ("officers", "officer")):
        rows = [r for r in rates_by(session, by, unit_code, date_from, date_to) if r.total and r.rate is not None and r.rate < 1]
        rows.sort(key=lambda r: (r.high, r.rate, -r.total, r.key))
        out[key] = rows[:limit]
    return out


# --- Excel ------------------------------------------------------------------------------------

HEADER_GROUPS = [
    ("Số hồ sơ nhận giải quyết", ["Tổng số", "Kỳ trước chuyển qua", "Mới tiếp nhận trực tuyến",
                                  "Mới tiếp nhận trực tiếp, bưu chính"]),
    ("Số hồ sơ đã giải quyết", ["Tổng số", "Trước hạn", "Đúng hạn", "Quá hạn"]),
    ("Số hồ sơ đang giải quyết", ["Tổng số", "Trong hạn", "Quá hạn"]),
    ("Số hồ sơ rút, dừng, từ chối", ["Công dân rút hồ sơ", "Dừng giải quyết", "Từ chối giải quyết"]),
    ("Đánh giá (Quyết định 766)", ["Tỷ lệ đúng hạn (%)", "Điểm (/20)"]),
]
THIN = Side(style="thin", color="999999")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
BOLD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _write_statistics(ws, unit: Unit, lines: list[StatisticsLine], date_from: date, date_to: date) -> None:
    width = 2 + sum(len(cols) for _, cols in HEADER_GROUPS)
    ws.append(["TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"])
    ws.append([f"Đơn vị: {unit.name}"])
    ws.append([f"Kỳ báo cáo: từ ngày {date_from:%d/%m/%Y} đến ngày {date_to:%d/%m/%Y}"])
    ws.append(["(Mẫu số 06, Thông tư 01/2020/TT-VPCP; số liệu tính theo giờ Việt Nam)"])
    for row in range(1, 5):
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        ws.cell(row, 1).alignment = Alignment(horizontal="center")
    ws.cell(1, 1).font = Font(bold=True, size=13)
    top, sub = 6, 7
    ws.cell(top, 1, "STT")
    ws.cell(top, 2, "Đơn vị / Lĩnh vực giải quyết")
    ws.merge_cells(start_row=top, start_column=1, end_row=sub, end_column=1)
    ws.merge_cells(start_row=top, start_column=2, end_row=sub, end_column=2)
    column = 3
    for title, columns in HEADER_GROUPS:
        ws.cell(top, column, title)
        ws.merge_cells(start_row=top, start_column=column, end_row=top, end_column=column + len(columns) - 1)
        for offset, name in enumerate(columns):
            ws.cell(sub, column + offset, name)
        column += len(columns)
    for row in (top, sub):
        for col in range(1, width + 1):
            cell = ws.cell(row, col)
            cell.font, cell.fill, cell.alignment, cell.border = BOLD, HEAD_FILL, CENTRE, BOX
    ws.append([f"({n})" for n in range(1, width + 1)])
    for col in range(1, width + 1):
        ws.cell(sub + 1, col).alignment = CENTRE
    for line in lines:
        f = line.figures
        label = ("    " if line.level == 2 else "") + line.label
        ws.append([line.number, label, *line.values(), _percent(f.on_time_rate),
                   None if f.score_766 is None else round(f.score_766, 2)])
        row = ws.max_row
        for col in range(1, width + 1):
            cell = ws.cell(row, col)
            cell.border = BOX
            if line.level < 2:
                cell.font = BOLD
    ws.column_dimensions["A"].width = 6
    ws.column_dimensions["B"].width = 46
    for col in range(3, width + 1):
        ws.column_dimensions[get_column_letter(col)].width = 12
    ws.row_dimensions[sub].height = 48
    ws.freeze_panes = ws.cell(sub + 2, 3)


def _write_laggards(ws, found: dict[str, list[RateRow]]) -> None:
    titles = {"units": "Đơn vị", "procedures": "Thủ tục hành chính", "officers": "Cán bộ, công chức"}
    ws.append(["CHẬM NHẤT TRONG KỲ (xếp theo cận trên khoảng tin cậy 95% của tỷ lệ đúng hạn)"])
    ws.cell(1, 1).font = Font(bold=True, size=13)
    for key, rows in found.items():
        ws.append([])
        ws.append([titles[key]])
        ws.cell(ws.max_row, 1).font = BOLD
        ws.append(["Hạng", "Mã", "Tên", "Số hồ sơ (bước)", "Đúng hạn", "Tỷ lệ đúng hạn (%)",
                   "Cận dưới (%)", "Cận trên (%)"])
        for col in range(1, 9):
            cell = ws.cell(ws.max_row, col)
            cell.font, cell.fill, cell.alignment, cell.border = BOLD, HEAD_FILL, CENTRE, BOX
        if not rows:
            ws.append(["", "", "Không có"])
        for rank, r in enumerate(rows, start=1):
            ws.append([rank, r.key, r.label, r.total, r.on_time, _percent(r.rate), _percent(r.low), _percent(r.high)])
            for col in range(1, 9):
                ws.cell(ws.max_row, col).border = BOX
    for col, width in zip("ABCDEFGH", (7, 16, 48, 14, 10, 14, 12, 12), strict=True):
        ws.column_dimensions[col].width = width


def statistics_workbook(
    unit: Unit, lines: list[StatisticsLine], found: dict[str, list[RateRow]] | None,
    date_from: date, date_to: date,
) -> bytes:
    """The report as an .xlsx file: form 06 on the first sheet, the laggards on the second."""
    book = Workbook()
    ws = book.active
    ws.title = "Biểu 06"
    _write_statistics(ws, unit, lines, date_from, date_to)
    if found is not None:
        _write_laggards(book.create_sheet("Chậm nhất"), found)
    book.properties.title = f"Tình hình giải quyết TTHC {unit.code} {date_from:%d/%m/%Y}–{date_to:%d/%m/%Y}"
    book.properties.creator = "onestop"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def on_time_workbook(session: Session, unit_code: str, date_from: date, date_to: date) -> bytes:
    """Form 06 and the laggards for any period (the CLI's `report on-time --format xlsx`)."""
    unit = find_unit(session, unit_code)
    lines = statistics_table(session, unit_code, date_from, date_to)
    return statistics_workbook(unit, lines, laggards(session, unit_code, date_from, date_to), date_from, date_to)


# --- the weekly report ------------------------------------------------------------------------

def _summary(lines: list[StatisticsLine], found: dict[str, list[RateRow]]) -> dict[str, Any]:
    return {
        "figures": lines[0].figures.to_dict(),
        "laggards": {key: [r.to_dict() for r in rows] for key, rows in found.items()},
    }


def store_weekly_report(session: Session, unit: Unit, date_from: date, date_to: date) -> StoredReport:
    """Build and keep the weekly report of `unit` (with the units below it); a second run for
    the same unit and week replaces the file. Flushes, does not commit."""
    lines = statistics_table(session, unit.code, date_from, date_to)
    found = laggards(session, unit.code, date_from, date_to)
    content = statistics_workbook(unit, lines, found, date_from, date_to)
    report = session.scalar(
        select(StoredReport).where(
            StoredReport.kind == WEEKLY, StoredReport.unit_id == unit.id,
            StoredReport.period_start == date_from, StoredReport.period_end == date_to,
        )
    )
    if report is None:
        report = StoredReport(kind=WEEKLY, unit_id=unit.id, period_start=date_from, period_end=date_to)
        session.add(report)
    report.created_at = clock.now()
    report.filename = f"bao-cao-tuan-{unit.code}-{date_from:%Y%m%d}-{date_to:%Y%m%d}.xlsx"
    report.content_type = XLSX
    report.content = content
    report.size = len(content)
    report.summary = _summary(lines, found)
    session.flush()
    return report


def chairs_of(session: Session, unit: Unit) -> list[Officer]:
    """Active officers holding the chair role in `unit` itself."""
    return list(session.scalars(
        select(Officer)
        .join(OfficerRole, OfficerRole.officer_id == Officer.id)
        .where(OfficerRole.unit_id == unit.id, OfficerRole.role == "chair", Officer.active.is_(True))
        .order_by(Officer.username)
    ))


def _mail_body(unit: Unit, report: StoredReport) -> str:
    figures = report.summary["figures"]
    rate = figures["on_time_rate"]
    lines = [
        f"Kính gửi đồng chí Chủ tịch {unit.name},",
        "",
        (f"Báo cáo tình hình giải quyết thủ tục hành chính tuần từ {report.period_start:%d/%m/%Y} "
         f"đến {report.period_end:%d/%m/%Y} (đính kèm, Mẫu số 06):"),
        (f"- Tiếp nhận: {figures['received']['total']} hồ sơ "
         f"(kỳ trước chuyển qua {figures['received']['carried_over']});"),
        f"- Đã giải quyết: {figures['resolved']['total']} (quá hạn {figures['resolved']['late']});",
        f"- Đang giải quyết: {figures['in_progress']['total']} (quá hạn {figures['in_progress']['overdue']});",
        "- Tỷ lệ đúng hạn (Quyết định 766): "
        + ("chưa có hồ sơ" if rate is None else f"{100 * rate:.1f}%, điểm {figures['score_766']:.2f}/20"),
    ]
    behind = report.summary["laggards"]["units"]
    if behind:
        lines.append("- Đơn vị chậm nhất: " + "; ".join(
            f"{r['label']} ({100 * r['rate']:.0f}% trên {r['total']} hồ sơ)" for r in behind[:3]
        ))
    lines += ["", "Hệ thống onestop (thư tự động, không trả lời)."]
    return "\n".join(lines)


@dataclass
class WeeklyResult:
    period_start: date
    period_end: date
    reports: list[StoredReport]
    mailed: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "period_start": self.period_start.isoformat(), "period_end": self.period_end.isoformat(),
            "reports": [r.filename for r in self.reports], "mailed": self.mailed,
        }


def weekly_reports(session: Session, day: date | None = None) -> WeeklyResult:
    """The weekly report of the previous week for every unit with a chair, stored and put in
    the outbox to its chairs (once per unit and week: the Message-ID names both)."""
    from onestop.calendar_store import work_calendar
    from onestop.mail import enqueue_mail, make_message_id

    if day is None:
        day = clock.now().astimezone(work_calendar(session).zone).date()
    date_from, date_to = previous_week(day)
    units = session.scalars(
        select(Unit)
        .where(Unit.id.in_(select(OfficerRole.unit_id).where(OfficerRole.role == "chair")))
        .order_by(Unit.code)
    ).all()
    stored, mailed = [], []
    for unit in units:
        report = store_weekly_report(session, unit, date_from, date_to)
        stored.append(report)
        addresses = [o.email for o in chairs_of(session, unit) if o.email]
        if not addresses:
            continue
        message = enqueue_mail(
            session,
            to=addresses,
            subject=f"Báo cáo tuần {date_from:%d/%m}–{date_to:%d/%m/%Y}: giải quyết TTHC {unit.name}",
            body=_mail_body(unit, report),
            message_id=make_message_id("weekly-report", unit.code, date_from.isoformat()),
            attachments=[(report.filename, report.content, XLSX)],
        )
        mailed.append(message.message_id)
    session.flush()
    return WeeklyResult(date_from, date_to, stored, mailed)
