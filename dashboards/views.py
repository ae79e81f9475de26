"""The dashboard pages: thin views that read `dashboards.queries`, draw with
`dashboards.figures` and render one generic page of figures and tables.

Every view's state is in its URL (unit, period, procedure, step, officer), so a view can be
bookmarked and shared, and each table downloads as Excel with the same arguments. plotly.js is
served from the installed plotly package, never from a CDN, cached for a year under a versioned
URL. Access: a chair sees their unit and every unit below it, a unit head their unit
(`queries.dashboard_units`); an officer sees their own scorecard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from typing import Any
from urllib.parse import quote

import plotly
import plotly.io as pio
from flask import Blueprint, Response, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from dashboards import figures as fg
from dashboards import queries as q
from dashboards.tables import Table, percent, rate_table, xlsx
from onestop import clock
from onestop.calendar_store import work_calendar
from onestop.errors import OnestopError
from onestop.models import Officer, Procedure, ProcessStep, Unit
from onestop.web import db_session, ui_text
from onestop.web.auth import login_required, role_required
from onestop.web.shell import current_officer, error_page
from onestop.web.ui_text import current_language, translate

bp = Blueprint(
    "dashboards", __name__, url_prefix="/dashboards",
    template_folder="templates", static_folder="static", static_url_path="/static",
)

# dashboard_viewer: granted by an administrator to read (only) the dashboards of a unit and below.
DASHBOARD_ROLES = ("chair", "unit_head", "dashboard_viewer")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PLOTLY_JS = f"plotly-{plotly.__version__}.min.js"
YEAR = 365 * 24 * 3600
# plotly.js injects its own small style sheet and styles its SVG through style attributes; the
# dashboard pages (and only they) allow inline styles. Scripts stay 'self' only.
DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# Filters that narrow a view below the unit and period (query-string names).
NARROWING = ("procedure", "step", "officer", "class", "level", "age", "sign")
# Dates outside these are typing mistakes; a period spans at most MAX_PERIOD_DAYS (about 3 years).
FIRST_DAY, LAST_DAY = date(1990, 1, 1), date(2100, 12, 31)
MAX_PERIOD_DAYS = 3 * 366
PERIOD_TOO_LONG = ("Khoảng thời gian dài nhất có thể xem là {days} ngày (khoảng 3 năm); khoảng "
                   "đã chọn dài {asked} ngày. Hãy chọn khoảng ngắn hơn.")
PERIOD_BACKWARDS = "Ngày bắt đầu ({start}) sau ngày kết thúc ({end}): hãy đổi lại hai ngày."
# Pages show the worst rows; the Excel export has them all.
FIGURE_ROWS = 25
PAGE_ROWS = 50
PAGES = ("overview", "laggards", "heatmap", "drill", "escalations", "officer")

if not any(link[0] == "dashboards.overview" for link in ui_text.NAV_LINKS):
    ui_text.NAV_LINKS.append(("dashboards.overview", "Bảng điều hành", DASHBOARD_ROLES, "d"))
if not any(link[0] == "dashboards.my_scorecard" for link in ui_text.NAV_LINKS):
    ui_text.NAV_LINKS.append(("dashboards.my_scorecard", "Phiếu đánh giá của tôi", None, None))

LEVELS = {
    "step_at_risk": "Bước sắp đến hạn", "step_overdue": "Bước quá hạn",
    "extension_prompt": "Nhắc gia hạn", "case_overdue": "Hồ sơ quá hạn",
}
SIGNS = {
    "passing_ball": "Đùn đẩy", "dragging": "Kéo dài, cầm chừng",
    "supplements": "Bổ sung quá quy định", "apologies": "Xin lỗi, gia hạn",
    "avoiding_decisions": "Né tránh quyết định", "delegating_down": "Giao xuống cấp phó",
    "tampering": "Sửa thời gian đã ghi", "inspection": "Kiểm tra có sai phạm",
}
# Evidence facts worth reading (RULES.md section 8), by their key in the stored evidence; ids
# (holders, inspector, case) are internal and left out.
EVIDENCE_FIELDS = {
    "step": "Bước", "position": "Thứ tự bước", "due_at": "Hạn", "ended_at": "Kết thúc",
    "issued_at": "Ngày xin lỗi, gia hạn", "count": "Số lần", "handovers": "Số lần chuyển",
    "steps": "Số bước của quy trình", "working_hours": "Số giờ làm việc",
    "open": "Chưa kết thúc", "shares": "Phần thời hạn đã dùng", "note": "Ghi chú",
    "code": "Mã hồ sơ",
}
EVIDENCE_FIELDS_EN = {
    "Bước": "Step", "Thứ tự bước": "Step number", "Hạn": "Due", "Kết thúc": "Ended",
    "Ngày xin lỗi, gia hạn": "Apology issued", "Số lần": "Times",
    "Số lần chuyển": "Handovers", "Số bước của quy trình": "Steps in the process",
    "Số giờ làm việc": "Working hours", "Chưa kết thúc": "Still open",
    "Phần thời hạn đã dùng": "Share of the budget used", "Ghi chú": "Note",
    "Mã hồ sơ": "Case code",
}
EVIDENCE_EVENTS = 12  # events shown per sign; the case page has them all
SIGN_KINDS = {
    "sent_back": "Chuyển đi rồi trả lại (A→B→A)", "excess_handovers": "Chuyển nhiều hơn số bước",
    "over_budget": "Giữ bước quá định mức", "idle": "Không xử lý trong thời gian dài",
    "repeated_supplement": "Yêu cầu bổ sung nhiều lần", "late_supplement": "Yêu cầu bổ sung muộn",
    "late_apology": "Xin lỗi sau khi quá hạn", "repeated_apologies": "Xin lỗi nhiều lần",
    "late_refusal": "Từ chối sau khi hết thời hạn", "delegating_down": "Giao xuống cấp phó",
    "history_altered": "Tác động vào thời gian đã ghi",
    "irregular_finding": "Kiểm tra phát hiện sai phạm",
}
SIGN_KINDS_EN = (
    "Sent back (A→B→A)", "More handovers than steps", "Step held past its budget",
    "No action for a long time", "Repeated supplement requests", "Late supplement request",
    "Apology after the due date", "Repeated apologies", "Refusal after the full time",
    "Delegated down to a deputy", "Attempt to alter a recorded time", "Irregular inspection",
)
RANKING_NOTE = ("Xếp hạng theo cận trên của khoảng tin cậy 95 % (Wilson): đơn vị ít hồ sơ không "
                "bị xếp cuối chỉ vì ngẫu nhiên.")
ADVISORY = "Chỉ để tham khảo: dấu hiệu là gợi ý xem xét, không phải căn cứ xử lý tự động."
EVIDENCE = ("Dùng làm tài liệu tham khảo cho đánh giá hằng năm; cán bộ được xem phiếu "
            "của mình.")
ui_text.EN.update({
    "Bảng điều hành": "Dashboards",
    "Tổng quan": "Overview",
    "Đơn vị chậm": "Laggards",
    "Bản đồ nhiệt": "Heat map",
    "Chi tiết": "Drill-down",
    "Cảnh báo và dấu hiệu": "Escalations and signs",
    "Phiếu đánh giá cán bộ": "Officer scorecard",
    "Phiếu đánh giá của tôi": "My scorecard",
    "Đơn vị": "Unit", "Từ ngày": "From", "Đến ngày": "To", "Xem": "Show",
    "Tải Excel": "Download Excel", "In": "Print",
    "Tỷ lệ đúng hạn (chỉ tiêu 100 %)": "On-time rate (target 100 %)",
    "Chưa có hồ sơ trong kỳ": "No case in the period",
    "Điểm 766: {score} / 20": "766 score: {score} / 20",
    "Hồ sơ theo phân loại": "Cases by classification",
    "Trước hạn": "Early", "Đúng hạn": "On time", "Quá hạn (đã trả)": "Late (resolved)",
    "Trong hạn": "Within deadline", "Sắp đến hạn": "At risk",
    "Quá hạn (đang giải quyết)": "Overdue (open)",
    "Tỷ lệ đúng hạn theo tuần": "On-time rate by week",
    "Đã tiếp nhận": "Received", "Đã giải quyết": "Resolved", "Quá hạn": "Overdue",
    "Hồ sơ đang quá hạn": "Open overdue cases",
    "Thủ tục": "Procedure", "Người đang giữ": "Held by",
    "Hạn trả": "Due", "Số ngày quá hạn": "Working days overdue",
    "Tên": "Name", "Tổng": "Total", "Tỷ lệ": "Rate",
    "Cận dưới 95 %": "95 % low", "Cận trên 95 %": "95 % high",
    "Đơn vị trực thuộc": "Sub-units", "Thủ tục hành chính": "Procedures",
    "Bước xử lý": "Steps", "Cán bộ": "Officers",
    RANKING_NOTE:
        "Ranked by the upper end of the 95 % (Wilson) interval: a unit with few cases is not "
        "ranked last by chance.",
    "Thời gian theo bước so với định mức": "Time per step against its budget",
    "Trung bình đã dùng (ngày)": "Average used (days)", "Định mức (ngày)": "Budget (days)",
    "Ngày làm việc bị chậm": "Working days lost",
    "Hồ sơ quá hạn theo cán bộ": "Overdue cases per officer",
    "Hồ sơ quá hạn đang giữ": "Overdue cases held", "Bước quá hạn": "Overdue steps",
    "Bước đang giữ": "Steps held", "Sắp đến hạn (bước)": "Steps at risk",
    "Bước": "Step", "Đã xong": "Finished", "Chậm": "Late",
    "Tỷ lệ đúng hạn theo đơn vị và tuần": "On-time rate by unit and week",
    "Tuần": "Week", "Bấm vào một ô để xem đơn vị và tuần đó.":
        "Click a cell to open that unit and week.",
    "Cảnh báo đang mở theo cấp và tuổi": "Open escalations by level and age",
    "{age} ngày": "{age} days", "Cấp": "Level", "Tuổi (ngày)": "Age (days)", "Số lượng": "Count",
    "Dấu hiệu đùn đẩy, né tránh (tham khảo)": "Signs of pushing work around (advisory)",
    "Ngày": "Day", "Dấu hiệu": "Sign", "Loại": "Kind", "Bằng chứng": "Evidence",
    ADVISORY:
        "Advisory only: a sign is a prompt to look, never grounds for an automatic sanction.",
    "Theo thủ tục": "By procedure", "Theo bước": "By step", "Theo cán bộ": "By officer",
    "Hồ sơ": "Cases", "Bắt đầu": "Started", "Kết thúc": "Ended", "Phân loại": "Classification",
    "Bấm vào một cột để xem chi tiết hơn.": "Click a bar for the narrower view.",
    "Tóm tắt": "Summary", "Chỉ số": "Indicator", "Giá trị": "Value",
    "Tỷ lệ bước đúng hạn": "Steps on time", "Khoảng tin cậy 95 %": "95 % interval",
    "Ngày làm việc bị chậm (cộng dồn)": "Working days lost (total)",
    "Số lần gia hạn (mẫu 04)": "Extensions (form 04)",
    "Kết quả kiểm tra: đúng quy định": "Inspections: in order",
    "Kết quả kiểm tra: có sai phạm": "Inspections: irregular",
    "Bạn không được xem bảng điều hành của đơn vị này.":
        "You may not see this unit's dashboards.",
    "Bạn không được xem phiếu đánh giá của cán bộ này.":
        "You may not see this officer's scorecard.",
    "Không có cán bộ này.": "No such officer.",
    "Hồ sơ có cảnh báo đang mở": "Cases with open escalations",
    "Thời điểm cảnh báo": "Escalated at", "Tiếp nhận": "Received",
    "Sự kiện": "Events", "bước": "step", "có": "yes", "không": "no",
    "… và {n} sự kiện nữa": "… and {n} more events",
    **{vi: en for vi, en in EVIDENCE_FIELDS_EN.items()},
    **{vi: en for vi, en in zip(SIGN_KINDS.values(), SIGN_KINDS_EN, strict=True)},
    "Không có cán bộ này: {value}": "No such officer: {value}",
    "Không có thủ tục này: {value}": "No such procedure: {value}",
    "Không có bước này: {value}": "No such step: {value}",
    PERIOD_TOO_LONG: "The longest period that can be shown is {days} days (about 3 years); the "
                     "chosen one is {asked} days. Please choose a shorter one.",
    PERIOD_BACKWARDS: "The start date ({start}) is after the end date ({end}): please swap "
                      "them.",
    "Ngày không hợp lệ: {value}": "Not a date: {value}",
    "Giá trị không hợp lệ: {value}": "Not a valid value: {value}",
    "Không có bảng này.": "No such table.",
    "Không có dữ liệu trong kỳ.": "No data in the period.",
    "Còn {n} dòng nữa trong tệp Excel.": "{n} more rows in the Excel file.",
    EVIDENCE:
        "Advisory evidence for the yearly evaluation; officers see their own.",
    **{vi: en for vi, en in zip(LEVELS.values(), (
        "Step at risk", "Step overdue", "Extension prompt", "Case overdue"), strict=True)},
    **{vi: en for vi, en in zip(SIGNS.values(), (
        "Passing the ball", "Dragging", "Supplements beyond the rules", "Formal apologies",
        "Avoiding decisions", "Delegating down", "Tampering", "Irregular inspection"),
        strict=True)},
})


@dataclass
class Block:
    """One part of a page: a figure (its JSON), a table, or both, and a note."""

    figure: str | None = None
    table: Table | None = None
    note: str | None = None
    wide: bool = False


@dataclass
class Selection:
    units: list[Unit]
    unit: Unit
    start: date
    end: date
    procedure: str | None = None
    step: int | None = None
    officer: str | None = None
    classification: str | None = None  # a queries.CASE_CLASSES key: that class's cases
    level: str | None = None  # an escalation level (LEVELS) and age: those escalated cases
    age: str | None = None
    sign: str | None = None  # a sign (SIGNS): its occurrences
    args: dict[str, str] = field(default_factory=dict)

    def url(self, endpoint: str, **changes: Any) -> str:
        """This view's URL with some filters changed (None drops one)."""
        args = {**self.args, **changes}
        return url_for(endpoint, **{k: v for k, v in args.items() if v is not None})

    def top(self, endpoint: str) -> str:
        """`endpoint` for this unit and period, without the narrowing filters."""
        return self.url(endpoint, **dict.fromkeys(NARROWING))


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.text = status, message


def figure_json(fig) -> str:
    """The figure as JSON safe inside a <script type="application/json"> element."""
    text = pio.to_json(fig, validate=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _t(text: str) -> str:
    return translate(text)


def _day(raw: str | None, default: date) -> date:
    text = (raw or "").strip()[:10]
    if not text:
        return default
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Refused(422, translate("Ngày không hợp lệ: {value}", value=text)) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise Refused(422, translate("Ngày không hợp lệ: {value}", value=text))
    return day


def _period(start: date, end: date) -> None:
    """A period runs forwards and spans at most MAX_PERIOD_DAYS: every figure reads one row per
    day and unit, so an unbounded range would let one request load the server for minutes."""
    if end < start:
        raise Refused(422, translate(PERIOD_BACKWARDS, start=f"{start:%d/%m/%Y}",
                                     end=f"{end:%d/%m/%Y}"))
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise Refused(422, translate(PERIOD_TOO_LONG, days=MAX_PERIOD_DAYS,
                                     asked=(end - start).days + 1))


def _choice(name: str, allowed) -> str | None:
    """A filter that must be one of `allowed` (absent: None)."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    if raw not in allowed:
        raise Refused(422, translate("Giá trị không hợp lệ: {value}", value=raw[:40]))
    return raw


def _check_known(session, sel: Selection) -> None:
    """A drill-down names a procedure, step and officer that exist: an unknown one is refused
    with its name, not shown as an empty view."""
    if sel.procedure is not None and session.scalar(
        select(Procedure.id).where(Procedure.code == sel.procedure).limit(1)
    ) is None:
        raise Refused(404, translate("Không có thủ tục này: {value}", value=sel.procedure))
    if sel.step is not None:
        steps = select(ProcessStep.id).join(Procedure).where(ProcessStep.position == sel.step)
        if sel.procedure is not None:
            steps = steps.where(Procedure.code == sel.procedure)
        if session.scalar(steps.limit(1)) is None:
            raise Refused(404, translate("Không có bước này: {value}", value=sel.step))
    if sel.officer is not None and session.scalar(
        select(Officer.id).where(Officer.username == sel.officer)
    ) is None:
        raise Refused(404, translate("Không có cán bộ này: {value}", value=sel.officer))


def _today() -> date:
    return clock.now().astimezone(work_calendar(db_session()).zone).date()


def _selection(default_start: date | None = None) -> Selection:
    officer = current_officer()
    session = db_session()
    units = q.dashboard_units(session, officer)
    code = (request.args.get("unit") or "").strip()[:32]
    if code:
        unit = next((u for u in units if u.code == code), None)
    else:
        # The unit the officer chairs or heads, not the first code of the tree below it.
        held = {r.unit_id for r in officer.roles if r.role in DASHBOARD_ROLES}
        unit = next((u for u in units if u.id in held), units[0] if units else None)
    if unit is None:
        raise Refused(403, translate("Bạn không được xem bảng điều hành của đơn vị này."))
    today = _today()
    start = _day(request.args.get("from"), default_start or today.replace(day=1))
    end = _day(request.args.get("to"), today)
    _period(start, end)
    step_raw = (request.args.get("step") or "").strip()
    if step_raw and not (step_raw.isdigit() and len(step_raw) <= 4):
        raise Refused(422, translate("Giá trị không hợp lệ: {value}", value=step_raw[:10]))
    sel = Selection(
        units, unit, start, end,
        procedure=(request.args.get("procedure") or "").strip()[:32] or None,
        step=int(step_raw) if step_raw else None,
        officer=(request.args.get("officer") or "").strip()[:64] or None,
        classification=_choice("class", q.CASE_CLASSES), level=_choice("level", LEVELS),
        age=_choice("age", [label for _, label in q.AGE_BUCKETS]), sign=_choice("sign", SIGNS),
    )
    _check_known(session, sel)
    sel.args = {"unit": unit.code, "from": start.isoformat(), "to": end.isoformat(),
                "procedure": sel.procedure, "step": sel.step, "officer": sel.officer,
                "class": sel.classification, "level": sel.level, "age": sel.age,
                "sign": sel.sign}
    return sel


# --- pages ------------------------------------------------------------------------------------

def _overview(sel: Selection) -> list[Block]:
    session = db_session()
    data = q.overview(session, sel.unit, sel.start, sel.end)
    zone = work_calendar(session).zone
    overdue = Table(
        "overdue", _t("Hồ sơ đang quá hạn"),
        [_t("Mã hồ sơ"), _t("Thủ tục"), _t("Đơn vị"), _t("Người đang giữ"), _t("Hạn trả"),
         _t("Số ngày quá hạn")],
        [[c.receipt_code, c.procedure, c.unit, c.holder, c.due_at.astimezone(zone), c.days_over]
         for c in data.overdue],
        [url_for("cases.show", code=c.receipt_code) for c in data.overdue],
    )
    weeks = Table(
        "weeks", _t("Tỷ lệ đúng hạn theo tuần"),
        [_t("Tuần"), _t("Đã tiếp nhận"), _t("Đã giải quyết"), _t("Quá hạn"), _t("Tỷ lệ"),
         _t("Cận dưới 95 %"), _t("Cận trên 95 %")],
        [[w["week_start"], w["received"], w["resolved"], w["late"] + w["overdue"],
          w["on_time_rate"], w["low"], w["high"]] for w in data.weeks],
        percent=(4, 5, 6),
    )
    counts = fg.classification_counts(data.figures)
    class_links = {key: sel.url("dashboards.drill", **{**dict.fromkeys(NARROWING), "class": key})
                   for key, *_ in counts}
    classes = Table("classes", _t("Hồ sơ theo phân loại"), [_t("Phân loại"), _t("Số lượng")],
                    [[_t(label), n] for _, label, n, _ in counts],
                    [class_links[key] for key, *_ in counts])
    # A week opens this same overview narrowed to that week.
    week_links = [sel.url("dashboards.overview", **{"from": w["week_start"], "to": w["week_end"]})
                  for w in data.weeks]
    weeks.links = week_links
    return [
        Block(figure_json(fg.gauge_figure(data.figures.on_time_rate, data.figures.score_766, _t))),
        Block(figure_json(fg.classification_figure(data.figures, _t, class_links)), classes),
        Block(figure_json(fg.trend_figure(data.weeks, _t, week_links)), weeks, wide=True),
        Block(None, overdue, wide=True),
    ]


def _laggards(sel: Selection) -> list[Block]:
    session = db_session()
    blocks = [Block(note=_t(RANKING_NOTE), wide=True)]
    headers = [_t("Tên"), _t("Đúng hạn"), _t("Tổng"), _t("Tỷ lệ"), _t("Cận dưới 95 %"),
               _t("Cận trên 95 %")]
    drill = "dashboards.drill"
    data = q.laggards(session, sel.unit, sel.start, sel.end)
    for by, title, rows in (("subunit", "Đơn vị trực thuộc", data.subunits),
                            ("procedure", "Thủ tục hành chính", data.procedures),
                            ("step", "Bước xử lý", data.steps),
                            ("officer", "Cán bộ", data.officers)):
        shown = rows[:PAGE_ROWS]  # url_for is not free: links only for the rows on the page
        if by == "subunit":
            links = [sel.url(drill, unit=r.key, procedure=None, step=None, officer=None)
                     for r in shown]
        elif by == "procedure":
            links = [sel.url(drill, procedure=r.key, step=None, officer=None) for r in shown]
        elif by == "step":
            links = [sel.url(drill, procedure=r.key.split("#")[0], step=r.key.split("#")[1],
                             officer=None) for r in shown]
        else:
            links = [_scorecard_url(sel, r.key) for r in shown]
        table = rate_table(by, _t(title), rows, headers, links)
        figure = figure_json(fg.ranking_figure(
            rows[:FIGURE_ROWS], _t(title), links[:FIGURE_ROWS], _t)) if rows else None
        blocks.append(Block(figure, table))
    lost = data.days_lost
    lost_links = [sel.url(drill, **{**dict.fromkeys(NARROWING), "procedure": r["procedure"],
                                    "step": r["step_position"]}) for r in lost[:PAGE_ROWS]]
    blocks.append(Block(
        figure_json(fg.days_lost_figure(lost, _t, links=lost_links)) if lost else None,
        Table("days-lost", _t("Thời gian theo bước so với định mức"),
              [_t("Thủ tục"), _t("Bước"), _t("Định mức (ngày)"), _t("Đã xong"), _t("Chậm"),
               _t("Trung bình đã dùng (ngày)"), _t("Ngày làm việc bị chậm"), _t("Bước quá hạn")],
              [[r["procedure"], r["step"] or r["step_position"], r["budget_days"], r["finished"],
                r["late"], r["average_days_used"], r["days_lost"], r["held_overdue"]]
               for r in lost], lost_links),
        wide=True,
    ))
    held = data.overdue_held
    links = [_scorecard_url(sel, r["username"]) for r in held[:PAGE_ROWS]]
    blocks.append(Block(
        figure_json(fg.overdue_held_figure(held[:FIGURE_ROWS], [
            link for r, link in zip(held[:FIGURE_ROWS], links[:FIGURE_ROWS], strict=True)
            if r["cases_overdue"] or r["steps_overdue"]
        ], _t)) if any(r["cases_overdue"] or r["steps_overdue"] for r in held) else None,
        Table("overdue-held", _t("Hồ sơ quá hạn theo cán bộ"),
              [_t("Cán bộ"), _t("Bước đang giữ"), _t("Bước quá hạn"), _t("Hồ sơ quá hạn đang giữ"),
               _t("Sắp đến hạn (bước)")],
              [[r["full_name"], r["held"], r["steps_overdue"], r["cases_overdue"], r["at_risk"]]
               for r in held], links),
    ))
    return blocks


def _heatmap(sel: Selection) -> list[Block]:
    rows = q.heat_rows(db_session(), sel.unit, sel.start, sel.end)
    # One url_for, then plain substitution: a province has hundreds of cells.
    pattern = sel.url("dashboards.drill", unit="UNIT", procedure=None, step=None, officer=None,
                      **{"from": "0000-00-01", "to": "0000-00-02"})
    links = [[pattern.replace("UNIT", quote(r.code)).replace("0000-00-01", w["week_start"])
              .replace("0000-00-02", w["week_end"]) for w in r.weeks] for r in rows]
    weeks = [w["week_start"] for w in rows[0].weeks] if rows else []
    table = Table(
        "heatmap", _t("Tỷ lệ đúng hạn theo đơn vị và tuần"), [_t("Đơn vị"), *weeks],
        [[r.name, *(w["on_time_rate"] for w in r.weeks)] for r in rows],
        [sel.url("dashboards.drill", unit=r.code) for r in rows],
        percent=tuple(range(1, len(weeks) + 1)),
    )
    figure = figure_json(fg.heatmap_figure(rows, links, _t)) if rows else None
    return [Block(figure, table, note=_t("Bấm vào một ô để xem đơn vị và tuần đó."), wide=True)]


def _drill(sel: Selection) -> list[Block]:
    session = db_session()
    ids = q.subtree_ids(session, sel.unit)
    headers = [_t("Tên"), _t("Đúng hạn"), _t("Tổng"), _t("Tỷ lệ"), _t("Cận dưới 95 %"),
               _t("Cận trên 95 %")]
    note = _t("Bấm vào một cột để xem chi tiết hơn.")
    if sel.classification is not None:
        return [_class_cases(sel, ids)]
    if sel.officer is not None:
        rows = q.step_rates(session, ids, sel.start, sel.end, by="step", procedure=sel.procedure,
                            step=sel.step, owner=sel.officer)
        links = [sel.url("dashboards.drill", procedure=r.key.split("#")[0],
                         step=r.key.split("#")[1]) for r in rows[:PAGE_ROWS]]
        title = _t("Theo bước")
    elif sel.step is not None:
        rows = q.step_rates(session, ids, sel.start, sel.end, by="officer",
                            procedure=sel.procedure, step=sel.step)
        links = [sel.url("dashboards.drill", officer=r.key) for r in rows[:PAGE_ROWS]]
        title = _t("Theo cán bộ")
    elif sel.procedure is not None:
        rows = q.step_rates(session, ids, sel.start, sel.end, by="step", procedure=sel.procedure)
        links = [sel.url("dashboards.drill", step=r.key.split("#")[1]) for r in rows[:PAGE_ROWS]]
        title = _t("Theo bước")
    else:
        rows = q.procedure_rates(session, ids, sel.start, sel.end)
        links = [sel.url("dashboards.drill", procedure=r.key) for r in rows[:PAGE_ROWS]]
        title = _t("Theo thủ tục")
    figure = fg.ranking_figure(rows[:FIGURE_ROWS], title, links[:FIGURE_ROWS], _t)
    blocks = [Block(figure_json(figure) if rows else None,
                    rate_table("ranking", title, rows, headers, links), note=note, wide=True)]
    if sel.officer is not None or sel.step is not None:
        zone = work_calendar(session).zone
        cases = q.step_cases(session, ids, sel.start, sel.end, procedure=sel.procedure,
                             step=sel.step, owner=sel.officer)

        def local(instant):
            return instant.astimezone(zone) if instant else None

        blocks.append(Block(None, Table(
            "cases", _t("Hồ sơ"),
            [_t("Mã hồ sơ"), _t("Thủ tục"), _t("Bước"), _t("Cán bộ"), _t("Bắt đầu"), _t("Hạn trả"),
             _t("Kết thúc"), _t("Phân loại")],
            [[c.receipt_code, c.procedure, f"{c.step_position}. {c.step}", c.owner,
              local(c.started_at), local(c.due_at), local(c.ended_at), ui_text.state_label(c.state)]
             for c in cases],
            [url_for("cases.show", code=c.receipt_code) for c in cases],
        ), wide=True))
    return blocks


def _class_cases(sel: Selection, ids: list[int]) -> Block:
    """The cases behind one bar of the overview's classification chart."""
    session = db_session()
    zone = work_calendar(session).zone
    label = next(label for key, label, _ in fg.CLASSES if key == sel.classification)
    cases = q.classified_cases(session, ids, sel.start, sel.end, sel.classification,
                               procedure=sel.procedure)

    def local(instant):
        return instant.astimezone(zone) if instant else None

    return Block(None, Table(
        "cases", f"{_t('Hồ sơ')}: {_t(label)}",
        [_t("Mã hồ sơ"), _t("Thủ tục"), _t("Đơn vị"), _t("Tiếp nhận"), _t("Hạn trả"),
         _t("Kết thúc"), _t("Phân loại")],
        [[c.receipt_code, c.procedure, c.unit, local(c.received_at), local(c.due_at),
          local(c.ended_at), _t(label)] for c in cases],
        [url_for("cases.show", code=c.receipt_code) for c in cases],
    ), wide=True)


def _escalations(sel: Selection) -> list[Block]:
    session = db_session()
    zone = work_calendar(session).zone
    ids = q.subtree_ids(session, sel.unit)
    counts = q.open_escalations(session, ids)
    found = q.signs(session, ids, sel.start, sel.end)
    # A bar or row leads to the escalated cases, or the signs, it counts.
    level_links = {(c.level, c.age): sel.url("dashboards.escalations", level=c.level, age=c.age,
                                             sign=None) for c in counts}
    sign_links = {s: sel.url("dashboards.escalations", sign=s, level=None, age=None)
                  for s in {r.sign for r in found}}
    escalated = q.escalated_cases(session, ids, level=sel.level, age=sel.age)
    listed = found if sel.sign is None else q.signs(session, ids, sel.start, sel.end,
                                                    sign=sel.sign)
    return [
        Block(figure_json(fg.escalation_figure(counts, lambda lv: _t(LEVELS.get(lv, lv)), _t,
                                               level_links))
              if counts else None,
              Table("escalations", _t("Cảnh báo đang mở theo cấp và tuổi"),
                    [_t("Cấp"), _t("Tuổi (ngày)"), _t("Số lượng")],
                    [[_t(LEVELS.get(c.level, c.level)), c.age, c.count] for c in counts],
                    [level_links[(c.level, c.age)] for c in counts])),
        Block(None, Table(
            "escalated-cases", _t("Hồ sơ có cảnh báo đang mở"),
            [_t("Mã hồ sơ"), _t("Cấp"), _t("Tuổi (ngày)"), _t("Thời điểm cảnh báo"), _t("Bước"),
             _t("Người đang giữ")],
            [[e.receipt_code, _t(LEVELS.get(e.level, e.level)), e.age, e.fired_at.astimezone(zone),
              e.step_position, e.owner] for e in escalated],
            [url_for("cases.show", code=e.receipt_code) for e in escalated],
        )),
        Block(figure_json(fg.signs_figure(found, lambda s: _t(SIGNS.get(s, s)), _t, sign_links))
              if found else None,
              _signs_table(listed),
              note=_t(ADVISORY),
              wide=True),
    ]


def _signs_table(found: list[q.SignRow]) -> Table:
    zone = work_calendar(db_session()).zone
    return Table(
        "signs", _t("Dấu hiệu đùn đẩy, né tránh (tham khảo)"),
        [_t("Mã hồ sơ"), _t("Ngày"), _t("Dấu hiệu"), _t("Loại"), _t("Cán bộ"), _t("Bằng chứng")],
        [[s.receipt_code or s.subject, s.day, _t(SIGNS.get(s.sign, s.sign)),
          _t(SIGN_KINDS.get(s.kind, s.kind)), s.officer or "", _evidence(s.evidence, zone)]
         for s in found],
        [url_for("cases.show", code=s.receipt_code) if s.receipt_code else None for s in found],
    )


def _evidence(evidence: dict, zone) -> str:
    """A sign's evidence in words: its facts with their labels, then the case events that
    show it (what, when, from whom to whom, between which steps). Internal ids are left out."""

    def value(key: str, raw: Any) -> str:
        if isinstance(raw, bool):
            return _t("có") if raw else _t("không")
        if key == "shares" and isinstance(raw, list):
            return ", ".join(percent(x) for x in raw if isinstance(x, (int, float)))
        if isinstance(raw, str) and key.endswith("_at"):
            return _when(raw, zone)
        if isinstance(raw, list):
            return ", ".join(str(x) for x in raw)
        return str(raw)

    parts = [f"{_t(EVIDENCE_FIELDS[key])}: {value(key, raw)}"
             for key, raw in evidence.items()
             if key in EVIDENCE_FIELDS and raw is not None and raw != []]
    if isinstance(evidence.get("kind"), str):  # one event, stored flat
        parts.append(_event_text(evidence, zone))
    events = [e for e in evidence.get("events") or () if isinstance(e, dict)]
    if events:
        shown = [_event_text(e, zone) for e in events[:EVIDENCE_EVENTS]]
        if len(events) > EVIDENCE_EVENTS:
            shown.append(_t("… và {n} sự kiện nữa").format(n=len(events) - EVIDENCE_EVENTS))
        parts.append(f"{_t('Sự kiện')}: " + "; ".join(shown))
    return " · ".join(parts)


def _event_text(event: dict, zone) -> str:
    """"Chuyển hồ sơ 03/03/2026 09:00, Trần Văn An → Phạm Minh Châu (bước 1 → 2)"."""
    kind = str(event.get("kind") or "")
    text = _t(ui_text.EVENT_LABELS.get(kind, kind))
    if event.get("at"):
        text += " " + _when(str(event["at"]), zone)
    if event.get("from") or event.get("to"):
        text += f", {event.get('from') or '?'} → {event.get('to') or '?'}"
    if event.get("from_step") is not None or event.get("to_step") is not None:
        steps = f"{event.get('from_step') or '–'} → {event.get('to_step') or '–'}"
        text += f" ({_t('bước')} {steps})"
    return text


def _when(iso: str, zone) -> str:
    try:
        instant = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if instant.tzinfo is not None:
        instant = instant.astimezone(zone)
    return instant.strftime("%d/%m/%Y %H:%M")


def _scorecard(sel: Selection, subject: Officer) -> list[Block]:
    card = q.scorecard(db_session(), subject, sel.start, sel.end)
    summary = Table(
        "summary", _t("Tóm tắt"), [_t("Chỉ số"), _t("Giá trị")],
        [
            [_t("Tỷ lệ bước đúng hạn"),
             f"{percent(card.overall.rate)} ({card.overall.on_time}/{card.overall.total})"],
            [_t("Khoảng tin cậy 95 %"),
             f"{percent(card.overall.low)} – {percent(card.overall.high)}"],
            [_t("Ngày làm việc bị chậm (cộng dồn)"), card.days_lost],
            [_t("Hồ sơ quá hạn đang giữ"), card.overdue_held],
            [_t("Số lần gia hạn (mẫu 04)"), card.extensions],
            [_t("Dấu hiệu đùn đẩy, né tránh (tham khảo)"), len(card.signs)],
            [_t("Kết quả kiểm tra: đúng quy định"), card.findings.get("in_order", 0)],
            [_t("Kết quả kiểm tra: có sai phạm"), card.findings.get("irregular", 0)],
        ],
    )
    headers = [_t("Bước"), _t("Đúng hạn"), _t("Tổng"), _t("Tỷ lệ"), _t("Cận dưới 95 %"),
               _t("Cận trên 95 %")]
    links = None
    if sel.unit is not None and sel.unit in sel.units:
        # A viewer with dashboards drills into the step's cases held by this officer; an
        # officer without them reads their own card only.
        links = [sel.url("dashboards.drill", procedure=r.key.split("#")[0],
                         step=r.key.split("#")[1], officer=subject.username)
                 for r in card.steps]
    return [
        Block(None, summary,
              note=_t(EVIDENCE)),
        Block(figure_json(fg.ranking_figure(card.steps, _t("Theo bước"), links, _t))
              if card.steps else None,
              rate_table("steps", _t("Theo bước"), card.steps, headers, links)),
        Block(None, _signs_table(card.signs), wide=True),
    ]


def _scorecard_url(sel: Selection, username: str) -> str:
    return url_for("dashboards.officer", username=username, unit=sel.unit.code,
                   **{"from": sel.start.isoformat(), "to": sel.end.isoformat()})


BUILDERS = {"overview": _overview, "laggards": _laggards, "heatmap": _heatmap, "drill": _drill,
            "escalations": _escalations}
TITLES = {"overview": "Tổng quan", "laggards": "Đơn vị chậm", "heatmap": "Bản đồ nhiệt",
          "drill": "Chi tiết", "escalations": "Cảnh báo và dấu hiệu",
          "officer": "Phiếu đánh giá cán bộ"}


def _render(page: str, sel: Selection, blocks: list[Block], subject: Officer | None = None):
    crumbs = []
    if page == "drill":
        crumbs.append((sel.unit.name, sel.url("dashboards.drill", procedure=None, step=None,
                                              officer=None)))
        if sel.procedure:
            crumbs.append((sel.procedure, sel.url("dashboards.drill", step=None, officer=None)))
        if sel.step is not None:
            crumbs.append((f"{_t('Bước')} {sel.step}", sel.url("dashboards.drill", officer=None)))
        if sel.officer:
            crumbs.append((sel.officer, sel.url("dashboards.drill", **{"class": None})))
        if sel.classification:
            label = next(label for key, label, _ in fg.CLASSES if key == sel.classification)
            crumbs.append((_t(label), sel.url("dashboards.drill")))
    export_args = {k: v for k, v in sel.args.items() if v is not None}
    if subject is not None:
        export_args["officer"] = subject.username
    html = render_template(
        "dashboards/page.html", page=page, title=_t(TITLES[page]), sel=sel, blocks=blocks,
        subject=subject, crumbs=crumbs, pages=[p for p in PAGES if p not in ("drill", "officer")],
        titles=TITLES, export_args=export_args, page_rows=PAGE_ROWS, narrowing=NARROWING,
        plotly_js=url_for("dashboards.plotly_js", version=PLOTLY_JS),
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = DASHBOARD_CSP
    return response


def _page(page: str):
    try:
        sel = _selection()
        return _render(page, sel, BUILDERS[page](sel))
    except Refused as refused:
        return error_page(refused.status, refused.text)
    except OnestopError as exc:
        return error_page(exc.http_status, exc.message(current_language()))


@bp.get("/")
@role_required(*DASHBOARD_ROLES)
def overview():
    return _page("overview")


@bp.get("/laggards")
@role_required(*DASHBOARD_ROLES)
def laggards():
    return _page("laggards")


@bp.get("/heatmap")
@role_required(*DASHBOARD_ROLES)
def heatmap():
    return _page("heatmap")


@bp.get("/drill")
@role_required(*DASHBOARD_ROLES)
def drill():
    return _page("drill")


@bp.get("/escalations")
@role_required(*DASHBOARD_ROLES)
def escalations():
    return _page("escalations")


def _officer_selection(username: str) -> tuple[Selection, Officer]:
    session = db_session()
    viewer = current_officer()
    subject = session.scalar(select(Officer).where(Officer.username == username[:64]))
    if subject is None:
        raise Refused(404, translate("Không có cán bộ này."))
    if not q.may_see_officer(session, viewer, subject):
        raise Refused(403, translate("Bạn không được xem phiếu đánh giá của cán bộ này."))
    year_start = _today().replace(month=1, day=1)
    units = q.dashboard_units(session, viewer)
    code = (request.args.get("unit") or "").strip()[:32]
    unit = next((u for u in units if u.code == code), None) or (units[0] if units else None)
    unit = unit or next((r.unit for r in subject.roles), None)
    start = _day(request.args.get("from"), year_start)
    end = _day(request.args.get("to"), _today())
    _period(start, end)
    sel = Selection(units, unit, start, end, officer=subject.username)
    sel.args = {"unit": unit.code if unit else None, "from": start.isoformat(),
                "to": end.isoformat()}
    return sel, subject


@bp.get("/my-scorecard")
@login_required
def my_scorecard():
    """The signed-in officer's own scorecard (the navigation bar's link)."""
    return redirect(url_for("dashboards.officer", username=current_officer().username))


@bp.get("/officers/<username>")
@login_required
def officer(username: str):
    try:
        sel, subject = _officer_selection(username)
        return _render("officer", sel, _scorecard(sel, subject), subject)
    except Refused as refused:
        return error_page(refused.status, refused.text)


@bp.get("/export.xlsx")
@login_required
def export():
    """One table of one page as Excel: ?page=…&table=… plus the page's own arguments."""
    page = request.args.get("page", "")
    name = request.args.get("table", "")
    try:
        if page == "officer":
            sel, subject = _officer_selection(request.args.get("officer") or "")
            blocks = _scorecard(sel, subject)
            about = f"{subject.full_name} ({subject.username})"
        elif page in BUILDERS:
            if current_officer() is None or not any(
                r.role in DASHBOARD_ROLES for r in current_officer().roles
            ):
                raise Refused(403, translate("Bạn không được xem bảng điều hành của đơn vị này."))
            sel = _selection()
            blocks = BUILDERS[page](sel)
            about = f"{sel.unit.name} ({sel.unit.code})"
        else:
            raise Refused(404, translate("Không có bảng này."))
    except Refused as refused:
        return error_page(refused.status, refused.text)
    table = next((b.table for b in blocks if b.table is not None and b.table.name == name), None)
    if table is None:
        return error_page(404, translate("Không có bảng này."))
    subtitle = f"{about}: {sel.start:%d/%m/%Y} – {sel.end:%d/%m/%Y}"
    filename = f"{page}-{table.name}-{sel.start:%Y%m%d}-{sel.end:%Y%m%d}.xlsx"
    return Response(xlsx(table, subtitle), mimetype=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/plotly/<version>")
def plotly_js(version: str):
    """plotly.js from the installed package. The file name carries the version, so a year of
    private caching is safe: an upgrade changes the URL."""
    if version != PLOTLY_JS:
        return error_page(404, translate("Không có bảng này."))
    path = resources.files("plotly") / "package_data" / "plotly.min.js"
    response = send_file(str(path), mimetype="text/javascript", max_age=YEAR, conditional=True)
    # Private: a signed-in request may carry a refreshed session cookie.
    response.headers["Cache-Control"] = f"private, max-age={YEAR}, immutable"
    return response
