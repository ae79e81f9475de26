"""The words of the officers' pages: Vietnamese first, English on request.

Templates write Vietnamese and wrap it in `_()`: `{{ _("Tiếp nhận hồ sơ") }}`; the English
reading is looked up in `EN` below (a missing entry falls back to the Vietnamese). Parameters
are filled after the look-up: `_("Còn {n} hồ sơ", n=3)`. The reader's language is the `lang`
cookie set by `/lang/<code>`; domain errors translate themselves (`OnestopError.message`).
"""

from __future__ import annotations

from flask import has_request_context, request
from markupsafe import Markup, escape

from onestop.i18n import (
    CLASSIFICATION_LABELS,
    DEFAULT_LANGUAGE,
    LANGUAGES,
    ROLE_LABELS,
    STATUS_LABELS,
    STEP_LABELS,
    label,
)
from onestop.queue import split_working_time

LANG_COOKIE = "lang"

# Links of the navigation bar: (endpoint, Vietnamese label, roles that see it or None for every
# signed-in officer, access key). Other areas append their own; links whose endpoint is not
# registered in the app are left out.
NAV_LINKS: list[tuple[str, str, tuple[str, ...] | None, str | None]] = [
    ("cases.queue", "Hồ sơ của tôi", None, "q"),
    ("desk.intake", "Tiếp nhận", ("desk",), "n"),
    ("cases.unit_queue", "Hồ sơ của đơn vị", ("unit_head", "chair"), "u"),
    ("admin.index", "Quản trị", ("admin",), None),
]


def current_language() -> str:
    if not has_request_context():
        return DEFAULT_LANGUAGE
    lang = request.cookies.get(LANG_COOKIE, DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def translate(text: str, lang: str | None = None, **params: object) -> str:
    lang = lang or current_language()
    template = EN.get(text, text) if lang == "en" else text
    return template.format(**params) if params else template


def gettext(text: str, **params: object) -> str:
    """`_()` in templates. Parameters are escaped before they are put into the text."""
    safe = {k: escape(v) if isinstance(v, str) else v for k, v in params.items()}
    result = translate(text, **safe)
    return Markup(result) if params else result


def status_label(status: str | None) -> str:
    return label(STATUS_LABELS, status, current_language()) if status else ""


def state_label(state: str | None) -> str:
    return label(CLASSIFICATION_LABELS, state, current_language()) if state else ""


def step_label(name: str | None) -> str:
    return label(STEP_LABELS, name, current_language()) if name else ""


def role_label(role: str | None) -> str:
    return label(ROLE_LABELS, role, current_language()) if role else ""


def working_time(hours: float | None, hours_per_day: float = 8.0) -> str:
    """Working time as working days and hours ("2 ngày 3 giờ làm việc"), never calendar time."""
    if hours is None:
        return ""
    days, whole, minutes = split_working_time(hours, hours_per_day)
    lang = current_language()
    parts = []
    if days:
        parts.append(translate("{n} ngày", lang, n=days))
    if whole:
        parts.append(translate("{n} giờ", lang, n=whole))
    if minutes:
        parts.append(translate("{n} phút", lang, n=minutes))
    if not parts:
        return translate("0 giờ", lang)
    return " ".join(parts)


def mask(value: str | None, keep_start: int = 0, keep_end: int = 3) -> str:
    """A personal number for lists: only its first and last few digits show."""
    if not value:
        return ""
    if len(value) <= keep_start + keep_end:
        return "•" * len(value)
    hidden = len(value) - keep_start - keep_end
    return value[:keep_start] + "•" * hidden + value[len(value) - keep_end:]


# Vietnamese words for codes the domain stores; English readings are in EN like any other text.
EVENT_LABELS = {
    "registered": "Đăng ký trực tuyến",
    "received": "Đã tiếp nhận hồ sơ",
    "refused_at_intake": "Đã từ chối tiếp nhận",
    "guided": "Hướng dẫn hoàn thiện hồ sơ",
    "handed_over": "Chuyển hồ sơ",
    "reassigned": "Giao lại cho cán bộ khác",
    "supplement_requested": "Yêu cầu bổ sung hồ sơ",
    "supplement_received": "Nhận hồ sơ bổ sung",
    "payment_requested": "Chờ thực hiện nghĩa vụ tài chính",
    "payment_received": "Đã thực hiện nghĩa vụ tài chính",
    "extended": "Xin lỗi và gia hạn",
    "refused": "Từ chối giải quyết",
    "stopped": "Dừng giải quyết",
    "withdrawn": "Công dân rút hồ sơ",
    "resolved": "Có kết quả giải quyết",
    "returned": "Trả kết quả",
    "due_recomputed": "Tính lại hạn do thay đổi lịch làm việc",
    "rated": "Đánh giá mức độ hài lòng",
    "complaint_recorded": "Phản ánh, kiến nghị",
    "imported": "Nhập từ sổ theo dõi",
}
CHANNEL_LABELS = {
    "in_person": "Trực tiếp",
    "online": "Trực tuyến",
    "post": "Bưu chính",
}
END_KIND_LABELS = {
    "handover": "Đã chuyển",
    "reassigned": "Giao lại",
    "resolved": "Có kết quả",
    "returned": "Đã trả",
    "refused": "Từ chối",
    "stopped": "Dừng",
    "withdrawn": "Rút hồ sơ",
}
DAY_KINDS = {
    "working": "Ngày làm việc",
    "weekend": "Nghỉ cuối tuần",
    "holiday": "Nghỉ lễ, tết",
    "exchange_workday": "Ngày làm bù",
    "extra_day_off": "Ngày nghỉ theo thông báo",
    "extra_working_day": "Ngày làm việc theo thông báo",
}
WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
DURATION_UNITS = {
    "working_days": "ngày làm việc",
    "working_hours": "giờ làm việc",
    "same_day": "trong ngày",
    "calendar_days": "ngày theo lịch",
}


FIELD_LABELS = {
    "reason": "Lý do",
    "note": "Ghi chú",
    "name": "Tên",
    "applicant.name": "Họ và tên",
    "applicant.id_number": "Số định danh cá nhân",
    "applicant.phone": "Điện thoại",
    "applicant.address": "Địa chỉ",
    "applicant.email": "Thư điện tử",
    "expected_version": "Phiên bản hồ sơ",
    "new_due_at": "Ngày hẹn mới",
    "to_officer": "Cán bộ nhận",
    "target": "Người nhận",
    "missing": "Giấy tờ còn thiếu",
    "documents": "Giấy tờ",
    "extra_documents": "Giấy tờ khác",
    "legal_ground": "Căn cứ pháp lý",
    "text": "Nội dung phản ánh",
    "comment": "Ý kiến",
    "satisfied": "Đánh giá",
    "outcome": "Kết quả",
    "channel": "Hình thức nộp",
    "unit_code": "Đơn vị tiếp nhận",
    "code": "Mã",
    "username": "Tên đăng nhập",
    "password": "Mật khẩu",
    "role": "Vai trò",
    "kind": "Loại",
    "day": "Ngày",
    "legal_reference": "Căn cứ",
    "catalogue": "Tệp danh mục",
    "effective_from": "Hiệu lực từ",
    "effective_to": "Hiệu lực đến",
    "active": "Tài khoản",
    "steps": "Quy trình nội bộ",
}


def field_label(field: str) -> str:
    """The reader's name for a form field in an error message: "documents[2].name" reads
    "Giấy tờ[2].name"."""
    base, bracket, rest = field.partition("[")
    if field in FIELD_LABELS:
        return translate(FIELD_LABELS[field])
    if base in FIELD_LABELS:
        return translate(FIELD_LABELS[base]) + bracket + rest
    return field


def error_message(exc) -> str:
    """A domain error in the reader's language, with field names as the form shows them."""
    field = exc.params.get("field")
    shown = {"field": field_label(field)} if isinstance(field, str) else {}
    return exc.message(current_language(), **shown)


def word(table: dict[str, str], code: str | None) -> str:
    """The reader's word for a stored code (event kind, channel, ...); the code if unknown."""
    if not code:
        return ""
    return translate(table[code]) if code in table else code


def weekday(day) -> str:
    return translate(WEEKDAYS[day.weekday()])


EN: dict[str, str] = {
    # navigation and layout
    "Một cửa": "One-stop desk",
    "Bỏ qua, đến nội dung chính": "Skip to the main content",
    "Điều hướng": "Navigation",
    "Tổng quan": "Overview",
    "Tra cứu hồ sơ": "Case look-up",
    "Tìm hồ sơ": "Find a case",
    "Mã hồ sơ, tên người nộp": "Receipt code, applicant's name",
    "Đăng nhập": "Log in",
    "Đăng xuất": "Log out",
    "Ngôn ngữ": "Language",
    "Hồ sơ của tôi": "My cases",
    "Tiếp nhận": "Intake",
    "Hồ sơ của đơn vị": "Unit's cases",
    "Quản trị": "Administration",
    "Không thực hiện được": "Could not be done",
    "Về trang chính": "Back to the main page",
    # signing in
    "Tên đăng nhập": "Username",
    "Mật khẩu": "Password",
    "Tên đăng nhập hoặc mật khẩu không đúng.": "Wrong username or password.",
    "Quá nhiều lần đăng nhập không thành công. Vui lòng thử lại sau ít phút.":
        "Too many failed log-ins. Please try again in a few minutes.",
    "Bạn đã đăng xuất.": "You have logged out.",
    "Dữ liệu gửi lên quá lớn.": "What was sent is too large.",
    "Không có ngôn ngữ này.": "No such language.",
    "Trang này cần vai trò: {roles}.": "This page needs the role: {roles}.",
    "Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ. Vui lòng tải lại trang và thử lại.":
        "Your session expired or the form was not valid. Please reload the page and try again.",
    # working time
    "{n} ngày": "{n} working day(s)",
    "{n} giờ": "{n} h",
    "{n} phút": "{n} min",
    "0 giờ": "0 h",
    "tạm dừng, còn {t}": "paused, {t} left",
    "quá {t}": "{t} overdue",
    "còn {t}": "{t} left",
    # queues and search
    "{n} hồ sơ": "{n} case(s)",
    "Các bước đang mở tại: {units}": "Open steps in: {units}",
    "Xem hồ sơ của đơn vị": "See the unit's cases",
    "Mã hồ sơ": "Receipt code",
    "Thủ tục": "Procedure",
    "Người nộp": "Applicant",
    "Bước": "Step",
    "Người chịu trách nhiệm": "Accountable officer",
    "Hạn của bước": "Step due",
    "Hạn trả kết quả": "Due",
    "Không có hồ sơ nào đang chờ.": "No cases waiting.",
    "Mã hồ sơ hoặc tên người nộp": "Receipt code or applicant's name",
    "Tìm": "Find",
    "Trạng thái": "Status",
    "Không tìm thấy hồ sơ nào mà bạn được xem.": "No case you may see was found.",
    # the case page
    "mã {n}": "code {n}",
    "Nhập từ sổ": "Imported from a case book",
    "Bước hiện tại": "Current step",
    "hạn bước": "step due",
    "Người nộp hồ sơ": "Applicant",
    "Họ và tên": "Full name",
    "Số định danh": "ID number",
    "Điện thoại": "Phone",
    "Địa chỉ": "Address",
    "Thư điện tử": "E-mail",
    "Hình thức nộp": "Channel",
    "Tên thủ tục": "Procedure",
    "Thời hạn": "Duration",
    "trong ngày": "same day",
    "nhận sau {t} hẹn ngày làm việc tiếp theo": "received after {t}: due the next working day",
    "Đơn vị tiếp nhận": "Receiving unit",
    "Căn cứ pháp lý": "Legal basis",
    "Thành phần hồ sơ": "Documents",
    "Thời hạn giải quyết": "Deadline",
    "Ngày nhận": "Received",
    "hẹn ban đầu {t}": "first appointment {t}",
    "Hẹn lại (gia hạn)": "New date (extension)",
    "tính đúng hạn vẫn theo hạn gốc": "on time is still judged against the original due instant",
    "Thời điểm kết thúc": "End time",
    "Ngày trả kết quả": "Returned",
    "Vì sao hạn là {t}?": "Why is it due {t}?",
    "Nhận ngoài giờ làm việc: tính từ {t}.": "Received outside office hours: counted from {t}.",
    "{n} ngày làm việc × {h} giờ = {total} giờ làm việc, chỉ tính trong giờ hành chính.":
        "{n} working day(s) × {h} h = {total} working hours, counted through office hours only.",
    "{n} giờ làm việc, chỉ tính trong giờ hành chính.":
        "{n} working hours, counted through office hours only.",
    "Giải quyết trong ngày: hạn là cuối giờ làm việc của ngày nhận; nhận sau giờ chốt thì hạn là ngày làm việc tiếp theo.":
        "Same-day procedure: due at the close of the day of receipt; after the cut-off, at the close of the next working day.",
    "{n} ngày theo lịch kể từ ngày nhận; nếu ngày cuối là ngày nghỉ thì hạn là ngày làm việc tiếp theo.":
        "{n} calendar day(s) from receipt; if the last one is a day off, due the next working day.",
    "Hạn tính từ ngày nhận: {t}.": "Due counted from receipt: {t}.",
    "Tạm dừng «{reason}» từ {a} đến {b}: cộng thêm {t}.": "Paused “{reason}” from {a} to {b}: {t} added.",
    "(thủ tục này tính lại toàn bộ thời hạn từ khi nhận đủ hồ sơ bổ sung)":
        "(this procedure restarts the full duration from the complete supplement)",
    "Đang tạm dừng từ {a}: đồng hồ đứng yên.": "Paused since {a}: the clock stands still.",
    "Tính lại ngày {t}: {reason}": "Recomputed on {t}: {reason}",
    "Ngày": "Day",
    "Giờ tính": "Hours counted",
    "Nhận sau giờ làm việc: không tính": "Received after closing time: not counted",
    "Ghi chú": "Note",
    "Không diễn giải được hạn của hồ sơ này.": "The due instant of this case cannot be explained.",
    "Xử lý hồ sơ": "Actions",
    "Phiếu kiểm soát quá trình giải quyết (mẫu 06)": "Process control slip (form 06)",
    "{giver} giao cho {receiver}": "{giver} handed to {receiver}",
    "{receiver} tiếp nhận": "received by {receiver}",
    "hạn bước {t}": "step due {t}",
    "Đang xử lý": "In progress",
    "Tạm dừng": "Pause",
    "Lý do": "Reason",
    "Từ": "From",
    "Đến": "To",
    "Thời gian làm việc": "Working time",
    "đang tạm dừng": "still paused",
    "Gia hạn": "Extension",
    "{who} gia hạn ngày {at}: hạn mới {new} (hạn trước {old}). Lý do: {reason}":
        "{who} extended on {at}: new date {new} (before: {old}). Reason: {reason}",
    "Phiếu, mẫu in": "Printable forms",
    "Mẫu {n}": "Form {n}",
    "Xem, in": "View, print",
    "Đánh giá của công dân": "Applicant's rating",
    "Hài lòng": "Satisfied",
    "Không hài lòng": "Not satisfied",
    "tại Bộ phận Một cửa": "at the desk",
    "qua trang tra cứu": "from the look-up page",
    "Nhật ký xử lý": "History",
    "Thời điểm": "When",
    "Việc": "What",
    "Người thực hiện": "Who",
    "Lý do, ghi chú": "Reason, note",
    "Hệ thống": "System",
    # actions
    "Tiếp nhận hồ sơ nộp trực tuyến": "Accept the dossier submitted online",
    "Hồ sơ đủ thành phần: tiếp nhận, bắt đầu tính thời hạn và in giấy tiếp nhận (mẫu 01).":
        "The dossier is complete: receive it, start the clock and print the receipt (form 01).",
    "Hướng dẫn hoàn thiện hồ sơ (mẫu 02)": "Guide to complete the dossier (form 02)",
    "Giấy tờ cần bổ sung, hoàn thiện (mỗi dòng một giấy tờ; có thể ghi «tên | bản sao»)":
        "Documents to add or fix (one per line; “name | bản sao” for a copy)",
    "Hướng dẫn hoàn thiện": "Guide to complete",
    "Từ chối tiếp nhận (mẫu 03)": "Refuse to receive (form 03)",
    "Từ chối tiếp nhận hồ sơ này?": "Refuse to receive this dossier?",
    "Lý do từ chối": "Reason for refusal",
    "Từ chối tiếp nhận": "Refuse to receive",
    "Chuyển hồ sơ": "Hand over",
    "Người nhận": "Receiver",
    "Bước {n}: {name}": "Step {n}: {name}",
    "trả lại bước trước": "back to an earlier step",
    "Chuyển": "Hand over",
    "Không có cán bộ nào nhận được bước khác của quy trình; bước tiếp theo là trả kết quả: hãy ghi nhận kết quả giải quyết.":
        "No officer can take another step of the process; the next step is the return: record the resolution.",
    "Ghi nhận kết quả giải quyết": "Record the resolution",
    "Kết quả": "Outcome",
    "Giải quyết (cấp kết quả)": "Approved (result issued)",
    "Văn bản trả lời không giải quyết": "Refused (reasoned answer)",
    "Chuyển kết quả về Bộ phận Một cửa cho": "Send the result back to the desk, to",
    "Ghi nhận kết quả": "Record the result",
    "Trả kết quả cho công dân": "Return the result to the applicant",
    "Công dân đánh giá": "Applicant's rating",
    "Không đánh giá": "No rating",
    "Ý kiến của công dân": "Applicant's comment",
    "Trả kết quả": "Return the result",
    "Yêu cầu bổ sung hồ sơ (mẫu 02)": "Request a supplement (form 02)",
    "Yêu cầu một lần, đầy đủ: từ lần yêu cầu thứ hai hồ sơ bị tính là quá hạn.":
        "Ask once, for everything: from the second request on, the case counts as late.",
    "Hồ sơ đã được yêu cầu bổ sung {n} lần.": "A supplement has already been requested {n} time(s).",
    "Giấy tờ cần bổ sung, hoàn thiện (mỗi dòng một giấy tờ)": "Documents to add or fix (one per line)",
    "Yêu cầu bổ sung": "Request the supplement",
    "Nhận hồ sơ bổ sung": "Record the supplement",
    "Đã nhận đủ hồ sơ bổ sung": "The supplement is complete",
    "Tạm dừng chờ thực hiện nghĩa vụ tài chính": "Pause for financial obligations",
    "Đã thực hiện nghĩa vụ tài chính": "Financial obligations paid",
    "Tiếp tục giải quyết": "Resume processing",
    "Giao lại bước hiện tại cho cán bộ khác": "Reassign the current step",
    "Cán bộ nhận": "New owner",
    "Giao lại": "Reassign",
    "Không có cán bộ nào khác nhận được bước này.": "No other officer can take this step.",
    "Xin lỗi và gia hạn (mẫu 04)": "Apology and extension (form 04)",
    "Ngày hẹn mới": "New due date",
    "Lý do (nêu rõ đơn vị chịu trách nhiệm)": "Reason (name the responsible unit)",
    "Ban hành văn bản xin lỗi": "Issue the apology",
    "Không còn gia hạn được: văn bản xin lỗi, gia hạn phải ban hành trước hạn ít nhất 1 ngày làm việc.":
        "Too late to extend: the apology and extension must come at least 1 working day before the due instant.",
    "Từ chối giải quyết": "Refuse after review",
    "Từ chối giải quyết hồ sơ này?": "Refuse this case after review?",
    "Dừng giải quyết (mẫu 05)": "Stop processing (form 05)",
    "Dừng giải quyết hồ sơ này?": "Stop processing this case?",
    "Dừng giải quyết": "Stop processing",
    "Công dân rút hồ sơ": "Applicant withdraws",
    "Ghi nhận công dân rút hồ sơ?": "Record the withdrawal?",
    "Ghi nhận rút hồ sơ": "Record the withdrawal",
    "Ghi nhận đánh giá của công dân": "Record the applicant's rating",
    "Ghi nhận đánh giá": "Record the rating",
    "Ghi nhận phản ánh, kiến nghị": "Record a complaint",
    "Nội dung phản ánh": "Complaint",
    "Ghi nhận phản ánh": "Record the complaint",
    # intake
    "Tiếp nhận hồ sơ": "Intake",
    "Tìm thủ tục theo tên hoặc mã (gõ có dấu hay không dấu đều được)":
        "Find the procedure by name or code (with or without diacritics)",
    "Mã": "Code",
    "Lĩnh vực": "Field",
    "Không có thủ tục nào khớp với «{q}».": "No procedure matches “{q}”.",
    "Hồ sơ nộp trực tuyến, qua bưu chính chờ tiếp nhận": "Dossiers submitted online or by post, waiting to be accepted",
    "Ngày nộp": "Submitted",
    "Chọn thủ tục khác": "Pick another procedure",
    "Thời hạn: trong ngày": "Duration: same day",
    "Số định danh cá nhân (CCCD)": "Personal ID number (CCCD)",
    "Đánh dấu giấy tờ công dân đã nộp. Khi hướng dẫn hoàn thiện, các giấy tờ chưa đánh dấu được ghi vào phiếu (mẫu 02).":
        "Tick the documents handed in. When guiding to complete, the unticked ones go on the slip (form 02).",
    "Đã nộp": "Handed in",
    "Giấy tờ": "Document",
    "Loại": "Kind",
    "Số lượng": "Count",
    "Thủ tục này chưa có danh mục giấy tờ; ghi các giấy tờ đã nộp vào ô dưới.":
        "This procedure has no document checklist yet; list the documents handed in below.",
    "Giấy tờ khác đã nộp (mỗi dòng một giấy tờ; có thể ghi «tên | bản sao | 2»)":
        "Other documents handed in (one per line; “name | bản sao | 2” for two copies)",
    "Khi hướng dẫn hoàn thiện hoặc từ chối": "When guiding to complete or refusing",
    "Giấy tờ còn thiếu ngoài danh mục (mỗi dòng một giấy tờ)": "Missing documents beyond the checklist (one per line)",
    "Lý do (bắt buộc khi từ chối)": "Reason (required to refuse)",
    "Tiếp nhận, in giấy hẹn (mẫu 01)": "Receive, print the receipt (form 01)",
    "Hướng dẫn hoàn thiện (mẫu 02)": "Guide to complete (form 02)",
    # forms toolbar
    "Thao tác": "Actions",
    "Về hồ sơ": "Back to case",
    "In": "Print",
    "Tải PDF": "Download PDF",
    "Tiếp nhận hồ sơ mới": "Receive a new dossier",
    # outcomes
    "Đã tiếp nhận hồ sơ {code}.": "Case {code} received.",
    "Đã hướng dẫn hoàn thiện hồ sơ.": "The applicant was guided to complete the dossier.",
    "Đã từ chối tiếp nhận hồ sơ.": "The dossier was refused at intake.",
    "Đã giao hồ sơ cho {name}.": "Case handed over to {name}.",
    "Đã giao lại bước hiện tại cho {name}.": "The current step was reassigned to {name}.",
    "Đã yêu cầu bổ sung hồ sơ; đồng hồ tạm dừng.": "Supplement requested; the clock is paused.",
    "Đã nhận hồ sơ bổ sung; đồng hồ chạy tiếp.": "Supplement received; the clock runs again.",
    "Hồ sơ chờ thực hiện nghĩa vụ tài chính; đồng hồ tạm dừng.":
        "The case awaits payment of financial obligations; the clock is paused.",
    "Đã hoàn thành nghĩa vụ tài chính; đồng hồ chạy tiếp.": "Financial obligations paid; the clock runs again.",
    "Đã ban hành văn bản xin lỗi và gia hạn.": "The apology and extension were issued.",
    "Đã từ chối giải quyết hồ sơ.": "The case was refused after review.",
    "Đã dừng giải quyết hồ sơ.": "Processing was stopped.",
    "Đã ghi nhận công dân rút hồ sơ.": "The withdrawal was recorded.",
    "Đã có kết quả; hồ sơ chuyển về Bộ phận Một cửa để trả.": "Resolved; the result goes back to the desk to be returned.",
    "Đã trả kết quả cho công dân.": "The result was returned to the applicant.",
    "Đã ghi nhận đánh giá của công dân.": "The applicant's rating was recorded.",
    "Đã ghi nhận phản ánh, kiến nghị.": "The complaint was recorded.",
    "Đã tiếp nhận hồ sơ.": "The dossier was received.",
    # administration
    "Đơn vị": "Units",
    "cây tổ chức: tỉnh, xã, phòng ban, Bộ phận Một cửa": "the organisation tree: province, communes, departments, desks",
    "Cán bộ và vai trò": "Officers and roles",
    "Thủ tục, quy trình nội bộ, danh mục giấy tờ": "Procedures, internal processes, document checklists",
    "Lịch làm việc: ngày nghỉ, ngày làm bù": "Working calendar: days off, working days in exchange",
    "Danh mục thủ tục và lịch làm việc dùng chung; chỉ quản trị cấp tỉnh được thay đổi.":
        "The procedure catalogue and the calendar are shared; only a provincial administrator may change them.",
    "Tên đơn vị": "Unit name",
    "Hiệu lực": "In force",
    "Thêm đơn vị": "Add a unit",
    "Đơn vị cấp trên (mã)": "Parent unit (code)",
    "Hiệu lực từ": "In force from",
    "Hiệu lực đến": "In force until",
    "Vai trò": "Role",
    "Tài khoản": "Account",
    "Đang hoạt động": "Active",
    "Đã khóa": "Disabled",
    "quyền": "acting",
    "Thêm cán bộ": "Add an officer",
    "Giữ vai trò với tư cách quyền (tạm thời)": "Holds the role as acting (temporary)",
    "Mật khẩu ban đầu": "Initial password",
    "Thu hồi vai trò này?": "Revoke this role?",
    "Thu hồi": "Revoke",
    "Giao vai trò": "Grant a role",
    "Mật khẩu mới (ít nhất 8 ký tự)": "New password (at least 8 characters)",
    "Đặt mật khẩu": "Set the password",
    "Khóa hoặc mở tài khoản": "Disable or enable the account",
    "Khóa tài khoản": "Disable the account",
    "Mở tài khoản": "Enable the account",
    "Thủ tục và quy trình nội bộ": "Procedures and internal processes",
    "Phiên bản": "Version",
    "Các bước": "Steps",
    "Nạp danh mục thủ tục (CSV)": "Load the procedure catalogue (CSV)",
    "Cùng định dạng với tệp procedures.csv: nạp tất cả hoặc không nạp gì; lỗi ghi rõ dòng và cột. Thủ tục thay đổi được tạo phiên bản mới; hồ sơ cũ giữ phiên bản đã tiếp nhận.":
        "Same format as procedures.csv: all or nothing; errors name the line and column. A changed procedure gets a new version; existing cases keep theirs.",
    "Tệp CSV (UTF-8)": "CSV file (UTF-8)",
    "Nạp danh mục": "Load the catalogue",
    "giờ chốt": "cut-off",
    "Khi bổ sung hồ sơ": "After a supplement",
    "cộng thời gian tạm dừng vào hạn": "the paused time is added to the due instant",
    "tính lại toàn bộ thời hạn": "the full duration counts again",
    "Quy trình nội bộ": "Internal process",
    "Thời gian (giờ làm việc)": "Budget (working hours)",
    "đơn vị tiếp nhận": "receiving unit",
    "Danh mục giấy tờ": "Document checklist",
    "Mỗi dòng một giấy tờ: «tên | bản chính» hoặc «tên | bản sao» hoặc «tên | bản sao chứng thực», thêm «| số bản» nếu nhiều hơn 1":
        "One document per line: “name | bản chính” (original), “name | bản sao” (copy) or “name | bản sao chứng thực” (certified copy), then “| copies” if more than 1",
    "Lưu danh mục": "Save the checklist",
    "Lịch làm việc": "Working calendar",
    "Ngày nghỉ lễ, tết và ngày làm bù theo quy định có sẵn. Ghi thêm ở đây các ngày nghỉ hoặc ngày làm việc được thông báo muộn; hạn của các hồ sơ đang giải quyết được tính lại và ghi vào nhật ký của từng hồ sơ.":
        "Public holidays and working days in exchange are built in. Record here the days off or working days announced late; open cases get their due instants recomputed, noted in each case's history.",
    "Căn cứ": "Reference",
    "Ghi nhận lúc": "Recorded",
    "Ngày nghỉ": "Day off",
    "Ngày làm việc": "Working day",
    "Chưa có ngày nào.": "No days yet.",
    "Thêm ngày": "Add a day",
    "Ngày làm việc (làm bù)": "Working day (in exchange)",
    "Căn cứ (số, ngày văn bản thông báo)": "Reference (number and date of the announcement)",
    "Hạn của mọi hồ sơ đang giải quyết sẽ được tính lại. Tiếp tục?": "Every open case's due instant will be recomputed. Go on?",
    "Ghi nhận và tính lại hạn": "Record and recompute",
    "Đã thêm đơn vị {code}.": "Unit {code} added.",
    "Đã thêm cán bộ {username}.": "Officer {username} added.",
    "Đã giao vai trò {role} tại {unit}.": "Role {role} granted in {unit}.",
    "Đã thu hồi vai trò.": "Role revoked.",
    "Đã đặt mật khẩu mới; các phiên đăng nhập cũ đã kết thúc.": "New password set; the old sessions have ended.",
    "Đã mở tài khoản.": "Account enabled.",
    "Đã khóa tài khoản.": "Account disabled.",
    "Không có thao tác này.": "No such operation.",
    "Đã nạp danh mục: {created} thủ tục mới, {versions} phiên bản mới, {same} không đổi.":
        "Catalogue loaded: {created} new procedure(s), {versions} new version(s), {same} unchanged.",
    "Đã lưu danh mục giấy tờ.": "Checklist saved.",
    "Đã ghi nhận ngày {day}; {n} hồ sơ đang giải quyết có hạn mới.": "Day {day} recorded; {n} open case(s) got a new due instant.",
    "Bỏ": "Remove",
    "Bỏ ngày này": "Remove this day",
    "Bỏ ngày này khỏi lịch? Hạn của mọi hồ sơ đang giải quyết sẽ được tính lại.":
        "Remove this day from the calendar? Every open case's due instant will be recomputed.",
    "Đã bỏ ngày {day} khỏi lịch; {n} hồ sơ đang giải quyết có hạn mới.":
        "Day {day} removed from the calendar; {n} open case(s) got a new due instant.",
    "Mỗi dòng một bước: «tên bước | vai trò | mã đơn vị (để trống: đơn vị tiếp nhận) | số giờ làm việc»":
        "One step a line: “step name | role | unit code (empty: the receiving unit) | working hours”",
    "Lưu tạo một phiên bản mới của thủ tục; hồ sơ đã tiếp nhận giữ quy trình của phiên bản cũ. Tổng thời gian các bước không vượt quá thời hạn giải quyết.":
        "Saving makes a new version of the procedure; cases already received keep the old version's process. The steps' hours may not exceed the procedure's duration.",
    "Tạo phiên bản mới của thủ tục với quy trình này?": "Make a new version of the procedure with this process?",
    "Lưu quy trình": "Save the process",
    "Đã lưu quy trình nội bộ: phiên bản {version}; hồ sơ đã tiếp nhận giữ quy trình cũ.":
        "Internal process saved as version {version}; cases already received keep the old process.",
    "Hồ sơ đang giải quyết": "Open cases",
    "Vai trò của cán bộ đang hoạt động": "Roles of active officers",
    "Đơn vị trực thuộc còn hiệu lực": "Units below still in force",
    "Đơn vị cấp trên": "Parent unit",
    "Đổi tên": "Rename",
    "Lưu tên": "Save the name",
    "Đã đổi tên đơn vị {code}.": "Unit {code} renamed.",
    "Đóng đơn vị": "Close the unit",
    "Đóng đơn vị này?": "Close this unit?",
    "Đã đóng đơn vị {code}; hiệu lực đến ngày {day}.": "Unit {code} closed; in force until {day}.",
    "Đơn vị đã đóng vẫn giữ hồ sơ và lịch sử. Chỉ đóng được khi không còn hồ sơ đang giải quyết, vai trò của cán bộ đang hoạt động hay đơn vị trực thuộc còn hiệu lực.":
        "A closed unit keeps its cases and history. It can be closed only when no open case, role of an active officer or unit below in force remains.",
    # stored codes
    "Đăng ký trực tuyến": "Registered online",
    "Đã tiếp nhận hồ sơ": "Received",
    "Đã từ chối tiếp nhận": "Refused at intake",
    "Hướng dẫn hoàn thiện hồ sơ": "Guided to complete",
    "Giao lại cho cán bộ khác": "Reassigned",
    "Yêu cầu bổ sung hồ sơ": "Supplement requested",
    "Chờ thực hiện nghĩa vụ tài chính": "Awaiting payment of financial obligations",
    "Xin lỗi và gia hạn": "Apology and extension",
    "Có kết quả giải quyết": "Resolved",
    "Tính lại hạn do thay đổi lịch làm việc": "Due instant recomputed after a calendar change",
    "Đánh giá mức độ hài lòng": "Satisfaction rating",
    "Phản ánh, kiến nghị": "Complaint",
    "Nhập từ sổ theo dõi": "Imported from a case book",
    "Trực tiếp": "In person",
    "Trực tuyến": "Online",
    "Bưu chính": "By post",
    "Hình thức trả kết quả": "How the result is returned",
    "Theo hình thức nộp hồ sơ": "The way the dossier came in",
    "Trực tiếp tại Bộ phận Một cửa": "In person at the one-stop desk",
    "Qua dịch vụ bưu chính công ích": "By public postal service",
    "Trực tuyến (bản điện tử) và tại Bộ phận Một cửa": "Online (electronic copy) and at the desk",
    "Phí, lệ phí": "Fees",
    "Đã chuyển": "Handed over",
    "Có kết quả": "Resolved",
    "Đã trả": "Returned",
    "Từ chối": "Refused",
    "Dừng": "Stopped",
    "Rút hồ sơ": "Withdrawn",
    "Nghỉ cuối tuần": "Weekend",
    "Nghỉ lễ, tết": "Public holiday",
    "Ngày làm bù": "Working day in exchange",
    "Ngày nghỉ theo thông báo": "Announced day off",
    "Ngày làm việc theo thông báo": "Announced working day",
    "ngày làm việc": "working days",
    "giờ làm việc": "working hours",
    "ngày theo lịch": "calendar days",
    "Tên": "Name",
    "Số định danh cá nhân": "ID number",
    "Phiên bản hồ sơ": "Case version",
    "Giấy tờ còn thiếu": "Missing documents",
    "Giấy tờ khác": "Other documents",
    "Ý kiến": "Comment",
    "Đánh giá": "Rating",
    "Tệp danh mục": "Catalogue file",
    "Bản chính": "Original",
    "Bản sao": "Copy",
    "Bản sao chứng thực": "Certified copy",
    "Chờ bổ sung, hoàn thiện hồ sơ": "Awaiting a supplement",
    "Thứ Hai": "Monday",
    "Thứ Ba": "Tuesday",
    "Thứ Tư": "Wednesday",
    "Thứ Năm": "Thursday",
    "Thứ Sáu": "Friday",
    "Thứ Bảy": "Saturday",
    "Chủ nhật": "Sunday",
}
