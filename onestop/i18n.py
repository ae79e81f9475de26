"""Message catalogue: Vietnamese first, English available.

Domain errors carry a code and parameters; the text is looked up here in the reader's language.
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "vi"
LANGUAGES = ("vi", "en")

MESSAGES: dict[str, dict[str, str]] = {
    # lookups
    "unit_not_found": {
        "vi": "Không tìm thấy đơn vị có mã {code}.",
        "en": "No unit with code {code}.",
    },
    "officer_not_found": {
        "vi": "Không tìm thấy cán bộ {username}.",
        "en": "No officer {username}.",
    },
    "procedure_not_found": {
        "vi": "Không tìm thấy thủ tục có mã {code}.",
        "en": "No procedure with code {code}.",
    },
    "case_not_found": {
        "vi": "Không tìm thấy hồ sơ có mã {code}.",
        "en": "No case with receipt code {code}.",
    },
    "step_not_found": {
        "vi": "Quy trình không có bước {step}.",
        "en": "The process has no step {step}.",
    },
    # permissions
    "not_owner": {
        "vi": "Chỉ người đang chịu trách nhiệm bước «{step}» ({owner}) mới được thực hiện việc này.",
        "en": "Only the officer accountable for step “{step}” ({owner}) may do this.",
    },
    "role_required": {
        "vi": "Việc này cần vai trò {role} tại đơn vị {unit}.",
        "en": "This needs the role {role} in unit {unit}.",
    },
    "receiver_lacks_role": {
        "vi": "Cán bộ {username} không có vai trò {role} để nhận bước «{step}».",
        "en": "Officer {username} does not hold the role {role} needed for step “{step}”.",
    },
    "officer_inactive": {
        "vi": "Tài khoản cán bộ {username} đã bị khóa.",
        "en": "Officer account {username} is disabled.",
    },
    # state machine
    "invalid_transition": {
        "vi": "Không thể {action} khi hồ sơ đang ở trạng thái «{status}».",
        "en": "Cannot {action} while the case is “{status}”.",
    },
    "case_closed": {
        "vi": "Hồ sơ {code} đã kết thúc ({status}); không thể thay đổi.",
        "en": "Case {code} is closed ({status}); it cannot change.",
    },
    "no_next_step": {
        "vi": "Bước «{step}» là bước cuối của quy trình; hãy trả kết quả.",
        "en": "Step “{step}” is the last step of the process; return the result instead.",
    },
    "handover_to_self": {
        "vi": "Không thể giao hồ sơ cho chính mình ở cùng bước.",
        "en": "Cannot hand a case to yourself at the same step.",
    },
    "already_extended": {
        "vi": "Hồ sơ đã được gia hạn một lần; chỉ được gia hạn một lần.",
        "en": "The case has already been extended once; only one extension is allowed.",
    },
    "extension_too_late": {
        "vi": "Văn bản xin lỗi, gia hạn phải ban hành trước hạn ít nhất {days} ngày làm việc.",
        "en": "The apology and extension must be issued at least {days} working day(s) before the due instant.",
    },
    "extension_not_later": {
        "vi": "Ngày hẹn mới phải sau ngày hẹn hiện tại.",
        "en": "The new due date must be after the current due instant.",
    },
    "extension_too_far": {
        "vi": "Ngày hẹn mới không được quá {days} ngày sau ngày hẹn hiện tại.",
        "en": "The new due date may be at most {days} days after the current due instant.",
    },
    "not_paused": {
        "vi": "Hồ sơ không ở trạng thái tạm dừng «{reason}».",
        "en": "The case is not paused for “{reason}”.",
    },
    # concurrency
    "stale_case": {
        "vi": "Hồ sơ {code} vừa được người khác thay đổi; vui lòng tải lại và thử lại.",
        "en": "Case {code} was just changed by someone else; reload and try again.",
    },
    # validation
    "required": {
        "vi": "Trường «{field}» là bắt buộc.",
        "en": "The field “{field}” is required.",
    },
    "too_long": {
        "vi": "Trường «{field}» dài quá {max} ký tự.",
        "en": "The field “{field}” is longer than {max} characters.",
    },
    "invalid_value": {
        "vi": "Giá trị không hợp lệ cho «{field}»: {detail}",
        "en": "Invalid value for “{field}”: {detail}",
    },
    "duplicate": {
        "vi": "Đã tồn tại {what} «{value}».",
        "en": "{what} “{value}” already exists.",
    },
    "resolve_instead": {
        "vi": "Bước «{step}» là bước trả kết quả; hãy ghi nhận kết quả giải quyết để chuyển về Bộ phận Một cửa.",
        "en": "Step “{step}” is the return step; record the resolution to hand the result to the desk.",
    },
    "same_step": {
        "vi": "Hồ sơ đang ở bước «{step}»; hãy chọn bước khác hoặc đề nghị lãnh đạo giao lại.",
        "en": "The case is already at step “{step}”; pick another step or ask the unit head to reassign.",
    },
    "new_due_naive": {
        "vi": "Ngày hẹn mới phải có múi giờ.",
        "en": "The new due instant must carry its time zone.",
    },
    "form_not_available": {
        "vi": "Hồ sơ {code} không có mẫu phiếu {form}.",
        "en": "Case {code} has no form {form}.",
    },
    "last_role": {
        "vi": "Cán bộ {username} phải giữ ít nhất một vai trò; hãy khóa tài khoản thay vì thu hồi.",
        "en": "Officer {username} must keep at least one role; disable the account instead.",
    },
    "personal_data_restricted": {
        "vi": "Mẫu {form} có thông tin cá nhân của người nộp; chỉ cán bộ giải quyết hồ sơ, Bộ phận Một cửa và lãnh đạo đơn vị được xem, in.",
        "en": "Form {form} carries the applicant's personal data; only the case's officers, its desk and unit heads may view or print it.",
    },
    "not_allowed_to_see": {
        "vi": "Bạn không có quyền xem hồ sơ {code}.",
        "en": "You may not see case {code}.",
    },
    "invalid_period": {
        "vi": "Kỳ báo cáo không hợp lệ: ngày kết thúc {end} trước ngày bắt đầu {start}.",
        "en": "Invalid period: the end {end} is before the start {start}.",
    },
    "unit_still_in_use": {
        "vi": "Không thể đóng đơn vị {code}: còn {cases} hồ sơ đang giải quyết, {roles} vai trò của "
              "cán bộ đang hoạt động và {units} đơn vị trực thuộc còn hiệu lực. Chuyển hoặc kết thúc "
              "chúng trước.",
        "en": "Unit {code} cannot be closed: it still has {cases} open case(s), {roles} role(s) of "
              "active officers and {units} unit(s) below it in force. Move or end them first.",
    },
    "process_unchanged": {
        "vi": "Quy trình của thủ tục {code} không thay đổi; không tạo phiên bản mới.",
        "en": "The process of procedure {code} is unchanged; no new version was made.",
    },
    "step_line": {
        "vi": "Bước {line}: {detail}",
        "en": "Step {line}: {detail}",
    },
    "calendar_exception_not_found": {
        "vi": "Lịch không có ngày ngoại lệ {day}.",
        "en": "The calendar has no exception on {day}.",
    },
    "csv_error": {
        "vi": "Dòng {line}, cột «{column}»: {detail}",
        "en": "Line {line}, column “{column}”: {detail}",
    },
    # API and tokens
    "token_missing": {
        "vi": "Cần mã truy cập: gửi tiêu đề «Authorization: Bearer <mã>».",
        "en": "A token is needed: send the header “Authorization: Bearer <token>”.",
    },
    "token_invalid": {
        "vi": "Mã truy cập không hợp lệ.",
        "en": "The token is not valid.",
    },
    "token_revoked": {
        "vi": "Mã truy cập đã bị thu hồi.",
        "en": "The token has been revoked.",
    },
    "token_not_found": {
        "vi": "Không có mã truy cập nào bắt đầu bằng «{prefix}».",
        "en": "No token starts with “{prefix}”.",
    },
    "token_already_revoked": {
        "vi": "Mã truy cập «{prefix}» đã bị thu hồi trước đó.",
        "en": "Token “{prefix}” was already revoked.",
    },
    "unknown_fields": {
        "vi": "Trường không được hỗ trợ: {fields}.",
        "en": "Unknown field(s): {fields}.",
    },
    "body_not_utf8": {
        "vi": "Nội dung yêu cầu không phải văn bản UTF-8.",
        "en": "The request body is not UTF-8 text.",
    },
    "malformed_json": {
        "vi": "Nội dung yêu cầu không phải JSON hợp lệ.",
        "en": "The request body is not valid JSON.",
    },
    "http_bad_request": {"vi": "Yêu cầu không hợp lệ.", "en": "Bad request."},
    "http_unauthenticated": {"vi": "Cần đăng nhập.", "en": "Authentication is needed."},
    "http_forbidden": {"vi": "Không có quyền.", "en": "Forbidden."},
    "http_not_found": {"vi": "Không tìm thấy địa chỉ này.", "en": "No such address."},
    "http_method_not_allowed": {
        "vi": "Địa chỉ này không nhận phương thức này.",
        "en": "This address does not accept that method.",
    },
    "http_body_too_large": {
        "vi": "Nội dung yêu cầu quá lớn.",
        "en": "The request body is too large.",
    },
    "http_unsupported_media_type": {
        "vi": "Định dạng nội dung không được hỗ trợ.",
        "en": "Unsupported content type.",
    },
    "http_rate_limited": {
        "vi": "Quá nhiều yêu cầu; vui lòng thử lại sau ít phút.",
        "en": "Too many requests; try again in a little while.",
    },
    "http_internal_error": {
        "vi": "Lỗi máy chủ; yêu cầu chưa được thực hiện.",
        "en": "Server error; the request was not carried out.",
    },
    "http_http_error": {"vi": "Yêu cầu không thực hiện được.", "en": "The request failed."},
    "database_unavailable": {
        "vi": "Cơ sở dữ liệu tạm thời không phản hồi; yêu cầu chưa được thực hiện.",
        "en": "The database is not answering; the request was not carried out.",
    },
    # case book (form 07) import
    "book_rejected": {
        "vi": "Sổ có {count} lỗi; chưa nhập dòng nào. Sửa các dòng sau rồi nhập lại:",
        "en": "The book has {count} problem(s); nothing was imported. Fix these lines and try again:",
    },
    "book_problem": {
        "vi": "Dòng {line}, cột «{column}»: {detail}",
        "en": "Line {line}, column “{column}”: {detail}",
    },
    "book_imported": {
        "vi": "Đã nhập {total} hồ sơ ({finished} đã trả kết quả, {open} đang giải quyết).",
        "en": "{total} case(s) imported ({finished} returned, {open} open).",
    },
    "book_empty": {"vi": "Sổ không có dòng dữ liệu nào.", "en": "The book has no rows."},
    "book_no_header": {
        "vi": "Không tìm thấy dòng tiêu đề có cột «Mã hồ sơ».",
        "en": "No header row naming the column “Mã hồ sơ”.",
    },
    "book_unknown_column": {
        "vi": "Cột không thuộc mẫu sổ theo dõi hồ sơ.",
        "en": "Not a column of the case book.",
    },
    "book_duplicate_column": {"vi": "Cột bị lặp lại.", "en": "The column appears twice."},
    "book_missing_column": {"vi": "Thiếu cột bắt buộc.", "en": "A required column is missing."},
    "book_cell_without_header": {
        "vi": "Ô có dữ liệu nhưng cột không có tiêu đề.",
        "en": "A value in a column without a header.",
    },
    "book_old_excel": {
        "vi": "Tệp Excel 97-2003 (.xls) không được hỗ trợ; hãy lưu thành .xlsx hoặc CSV UTF-8.",
        "en": "Excel 97-2003 files (.xls) are not supported; save as .xlsx or UTF-8 CSV.",
    },
    "book_unreadable": {
        "vi": "Không đọc được tệp: cần tệp .xlsx hoặc CSV.",
        "en": "The file cannot be read: an .xlsx or CSV file is needed.",
    },
    "book_not_utf8": {
        "vi": "Tệp CSV không phải mã UTF-8; hãy lưu lại với «CSV UTF-8».",
        "en": "The CSV file is not UTF-8; save it again as “CSV UTF-8”.",
    },
    "book_too_many_rows": {
        "vi": "Sổ dài quá {max} dòng; hãy chia thành nhiều tệp.",
        "en": "The book has more than {max} rows; split it into several files.",
    },
    "book_required": {"vi": "Thiếu giá trị bắt buộc.", "en": "A value is required."},
    "book_bad_text": {
        "vi": "Có ký tự điều khiển hoặc không phải văn bản.",
        "en": "Control characters, or not text.",
    },
    "book_too_long": {"vi": "Dài quá {max} ký tự.", "en": "Longer than {max} characters."},
    "book_bad_date": {
        "vi": "«{value}» không phải ngày (dd/mm/yyyy hoặc yyyy-mm-dd, có thể kèm giờ HH:MM).",
        "en": "“{value}” is not a date (dd/mm/yyyy or yyyy-mm-dd, optionally with HH:MM).",
    },
    "book_bad_code": {
        "vi": "Mã hồ sơ «{value}» chỉ được gồm chữ, số, dấu chấm, gạch dưới, gạch ngang (tối đa 40).",
        "en": "Receipt code “{value}” may hold only letters, digits, '.', '_' and '-' (at most 40).",
    },
    "book_duplicate_code": {
        "vi": "Mã hồ sơ «{value}» đã có ở dòng {first}.",
        "en": "Receipt code “{value}” already appears on line {first}.",
    },
    "book_code_exists": {
        "vi": "Mã hồ sơ «{value}» đã có trong hệ thống.",
        "en": "Receipt code “{value}” is already in the system.",
    },
    "book_unknown_procedure": {
        "vi": "Không tìm thấy thủ tục «{value}» (theo mã hoặc tên).",
        "en": "No procedure “{value}” (by code or name).",
    },
    "book_bad_phone": {
        "vi": "Số điện thoại «{value}» không hợp lệ (9 đến 15 chữ số).",
        "en": "Phone number “{value}” is not valid (9 to 15 digits).",
    },
    "book_future_date": {
        "vi": "Ngày ở tương lai.",
        "en": "The date is in the future.",
    },
    "book_due_before_received": {
        "vi": "Ngày hẹn trả trước ngày nhận hồ sơ.",
        "en": "The appointment is before the receipt.",
    },
    "book_returned_before_received": {
        "vi": "Ngày trả kết quả trước ngày nhận hồ sơ.",
        "en": "The return is before the receipt.",
    },
    "book_open_needs_officer": {
        "vi": "Hồ sơ chưa trả kết quả sẽ tiếp tục giải quyết: cần chỉ định cán bộ một cửa nhận hồ sơ.",
        "en": "A case without a return date stays open: name the desk officer who takes it.",
    },
    "book_procedure_without_steps": {
        "vi": "Thủ tục chưa có quy trình nội bộ.",
        "en": "The procedure has no internal process.",
    },
    "book_officer_cannot_own": {
        "vi": "Cán bộ {username} không có vai trò {role} để nhận bước đầu của thủ tục.",
        "en": "Officer {username} lacks the role {role} for the procedure's first step.",
    },
    # citizen look-up
    "lookup_phone_mismatch": {
        "vi": "Bốn số cuối điện thoại không khớp với hồ sơ.",
        "en": "The last four digits of the phone number do not match the case.",
    },
    "lookup_phone_format": {
        "vi": "Nhập đúng bốn chữ số cuối của số điện thoại.",
        "en": "Enter the last four digits of the phone number.",
    },
    # escalation (RULES.md section 7), inbox and inspections
    "escalation_step_at_risk_title": {
        "vi": "Sắp đến hạn: hồ sơ {code}, bước «{step}»",
        "en": "At risk: case {code}, step “{step}”",
    },
    "escalation_step_at_risk_body": {
        "vi": "Hồ sơ {code} ({procedure}) đang ở bước «{step}» do {owner} xử lý; hạn của bước là {due}, còn dưới {share}% thời gian của bước.",
        "en": "Case {code} ({procedure}) is at step “{step}”, held by {owner}; the step is due {due} and less than {share}% of its time is left.",
    },
    "escalation_step_overdue_title": {
        "vi": "Quá hạn bước: hồ sơ {code}, bước «{step}» ({owner})",
        "en": "Step overdue: case {code}, step “{step}” ({owner})",
    },
    "escalation_step_overdue_body": {
        "vi": "Bước «{step}» của hồ sơ {code} ({procedure}) do {owner} ({unit}) xử lý đã quá hạn bước {due} (ghi nhận lúc {fired}). Đề nghị đồng chí chỉ đạo xử lý.",
        "en": "Step “{step}” of case {code} ({procedure}), held by {owner} ({unit}), passed its due instant {due} (noted at {fired}). Please see to it.",
    },
    "escalation_extension_prompt_title": {
        "vi": "Đề nghị xem xét văn bản xin lỗi, gia hạn (Mẫu 04): hồ sơ {code}",
        "en": "Consider an apology and extension (form 04): case {code}",
    },
    "escalation_extension_prompt_body": {
        "vi": "Hồ sơ {code} ({procedure}) của {applicant} chưa có kết quả, hạn trả là {due}. Nếu không kịp, văn bản xin lỗi và gia hạn (Mẫu 04) phải ban hành chậm nhất {deadline}. Bước hiện tại: «{step}» do {owner} xử lý.",
        "en": "Case {code} ({procedure}) of {applicant} has no result yet and is due {due}. If it cannot be met, the apology and extension (form 04) must be issued by {deadline}. Current step: “{step}”, held by {owner}.",
    },
    "escalation_case_overdue_title": {
        "vi": "Hồ sơ quá hạn: {code}",
        "en": "Case overdue: {code}",
    },
    "escalation_case_overdue_body": {
        "vi": "Hồ sơ {code} ({procedure}) của {applicant} đã quá hạn trả kết quả {due} (ghi nhận lúc {fired}). Bước hiện tại: «{step}» do {owner} ({unit}) xử lý.",
        "en": "Case {code} ({procedure}) of {applicant} passed its due instant {due} (noted at {fired}). Current step: “{step}”, held by {owner} ({unit}).",
    },
    "escalation_mail_footer": {
        "vi": "Thư gửi tự động từ hệ thống Một cửa; cảnh báo chỉ để tham khảo, người có thẩm quyền quyết định.",
        "en": "Sent automatically by the one-stop system; a warning is advice, a person decides.",
    },
    "notification_not_found": {
        "vi": "Không tìm thấy thông báo số {id}.",
        "en": "No notification {id}.",
    },
    "inspection_sample_title": {
        "vi": "Kiểm tra đột xuất tuần {week}: {count} hồ sơ",
        "en": "Surprise inspection, week of {week}: {count} case(s)",
    },
    "inspection_sample_body": {
        "vi": "Đồng chí được phân công kiểm tra {count} hồ sơ trong tuần bắt đầu {week}. Ghi nhận kết quả kiểm tra từng hồ sơ tại mục Kiểm tra.",
        "en": "You are assigned {count} case(s) to inspect in the week starting {week}. Record a finding for each under Inspections.",
    },
    "sample_not_found": {
        "vi": "Không tìm thấy hồ sơ kiểm tra số {id}.",
        "en": "No inspection sample {id}.",
    },
    "not_your_sample": {
        "vi": "Hồ sơ này không được phân công cho đồng chí kiểm tra.",
        "en": "This case is not assigned to you for inspection.",
    },
    "finding_already_recorded": {
        "vi": "Kết quả kiểm tra hồ sơ {code} đã được ghi nhận.",
        "en": "A finding on case {code} has already been recorded.",
    },
    # backup and restore
    "backup_tool_missing": {
        "vi": "Không tìm thấy chương trình {tool}: hãy cài gói PostgreSQL client (postgresql-client) cùng phiên bản với máy chủ.",
        "en": "{tool} was not found: install the PostgreSQL client (postgresql-client) of the server's version.",
    },
    "backup_tool_failed": {
        "vi": "{tool} thất bại, cơ sở dữ liệu không thay đổi: {detail}",
        "en": "{tool} failed; the database was not changed: {detail}",
    },
    "backup_manifest_missing": {
        "vi": "Thiếu tệp mô tả bản sao lưu {path}; không thể kiểm tra nên không khôi phục.",
        "en": "The backup's manifest {path} is missing; without it the backup cannot be checked, so it is not restored.",
    },
    "backup_manifest_invalid": {
        "vi": "Tệp mô tả bản sao lưu {path} không đọc được: {detail}",
        "en": "The backup's manifest {path} cannot be read: {detail}",
    },
    "backup_file_missing": {
        "vi": "Không có tệp sao lưu {path}.",
        "en": "No backup file {path}.",
    },
    "backup_checksum_mismatch": {
        "vi": "Tệp sao lưu {path} đã bị thay đổi hoặc hỏng (mã băm SHA-256 không khớp); không khôi phục.",
        "en": "The backup file {path} was changed or damaged (its SHA-256 does not match the manifest); not restored.",
    },
    "backup_file_corrupt": {
        "vi": "Tệp sao lưu {path} bị hỏng: {detail}",
        "en": "The backup file {path} is damaged: {detail}",
    },
    "backup_backend_mismatch": {
        "vi": "Bản sao lưu của {found} không khôi phục được vào cơ sở dữ liệu {expected}.",
        "en": "A {found} backup cannot be restored into a {expected} database.",
    },
    "backup_schema_mismatch": {
        "vi": "Bản sao lưu của schema «{found}», còn cơ sở dữ liệu đích dùng schema «{expected}».",
        "en": "The backup is of schema “{found}”; the target database works in schema “{expected}”.",
    },
    "backup_schema_missing": {
        "vi": "Schema «{schema}» không tồn tại; chưa có gì để sao lưu.",
        "en": "Schema “{schema}” does not exist; there is nothing to back up.",
    },
    "backup_database_missing": {
        "vi": "Không có cơ sở dữ liệu {path}; chưa có gì để sao lưu.",
        "en": "No database at {path}; there is nothing to back up.",
    },
    "backup_output_unwritable": {
        "vi": "Không ghi được tệp sao lưu {path}: {detail}",
        "en": "The backup cannot be written to {path}: {detail}",
    },
    "backup_output_is_folder": {
        "vi": "{path} là thư mục; hãy ghi tên tệp sao lưu.",
        "en": "{path} is a folder; name the backup file.",
    },
    "backup_sqlite_needs_file": {
        "vi": "Chỉ sao lưu và khôi phục được cơ sở dữ liệu SQLite nằm trong tệp ({url}).",
        "en": "Only a SQLite database in a file can be backed up or restored ({url}).",
    },
}

STATUS_LABELS: dict[str, dict[str, str]] = {
    "submitted": {"vi": "Đã đăng ký trực tuyến", "en": "Registered online"},
    "guided": {"vi": "Hướng dẫn hoàn thiện", "en": "Guided to complete"},
    "refused_at_intake": {"vi": "Từ chối tiếp nhận", "en": "Refused at intake"},
    "received": {"vi": "Đã tiếp nhận", "en": "Received"},
    "in_progress": {"vi": "Đang giải quyết", "en": "In progress"},
    "awaiting_supplement": {"vi": "Chờ bổ sung hồ sơ", "en": "Awaiting supplement"},
    "awaiting_payment": {"vi": "Chờ thực hiện nghĩa vụ tài chính", "en": "Awaiting payment"},
    "refused": {"vi": "Từ chối giải quyết", "en": "Refused after review"},
    "withdrawn": {"vi": "Công dân rút hồ sơ", "en": "Withdrawn"},
    "stopped": {"vi": "Dừng giải quyết", "en": "Stopped"},
    "resolved": {"vi": "Đã có kết quả", "en": "Resolved"},
    "returned": {"vi": "Đã trả kết quả", "en": "Returned"},
}

CLASSIFICATION_LABELS: dict[str, dict[str, str]] = {
    "early": {"vi": "Trước hạn", "en": "Early"},
    "on_time": {"vi": "Đúng hạn", "en": "On time"},
    "late": {"vi": "Quá hạn", "en": "Late"},
    "within_deadline": {"vi": "Trong hạn", "en": "Within deadline"},
    "at_risk": {"vi": "Sắp đến hạn", "en": "At risk"},
    "overdue": {"vi": "Quá hạn", "en": "Overdue"},
    "paused": {"vi": "Tạm dừng", "en": "Paused"},
}


# The bundled catalogue names its process steps and roles with short English keys (stable in
# data, tests and the API); people read these labels. A name an administrator gives that is not
# here is shown as it was entered.
STEP_LABELS: dict[str, dict[str, str]] = {
    "receive": {"vi": "Tiếp nhận hồ sơ", "en": "Receive the dossier"},
    "return": {"vi": "Trả kết quả", "en": "Return the result"},
    "review": {"vi": "Thẩm định", "en": "Review"},
    "verify": {"vi": "Xác minh, thẩm tra", "en": "Verify"},
    "review and record": {"vi": "Thẩm định và ghi sổ", "en": "Review and record"},
    "sign": {"vi": "Ký duyệt", "en": "Sign"},
    "approve": {"vi": "Phê duyệt", "en": "Approve"},
    "certify": {"vi": "Chứng thực", "en": "Certify"},
    "decision": {"vi": "Ra quyết định", "en": "Decision"},
    "birth registration": {"vi": "Đăng ký khai sinh", "en": "Birth registration"},
    "residence registration": {"vi": "Đăng ký cư trú", "en": "Residence registration"},
    "health insurance card": {"vi": "Cấp thẻ bảo hiểm y tế", "en": "Health insurance card"},
    "commune verification": {"vi": "Xã xác minh", "en": "Commune verification"},
    "council review": {"vi": "Hội đồng xét duyệt", "en": "Council review"},
    "site check and appraisal": {"vi": "Kiểm tra thực địa, thẩm định", "en": "Site check and appraisal"},
    "land registration office review": {
        "vi": "Văn phòng đăng ký đất đai thẩm định", "en": "Land registration office review",
    },
}

ROLE_LABELS: dict[str, dict[str, str]] = {
    "desk": {"vi": "Công chức Bộ phận Một cửa", "en": "Desk officer"},
    "unit_head": {"vi": "Trưởng đơn vị", "en": "Unit head"},
    "chair": {"vi": "Chủ tịch", "en": "Chair"},
    "admin": {"vi": "Quản trị hệ thống", "en": "Administrator"},
    "inspector": {"vi": "Thanh tra", "en": "Inspector"},
    "dashboard_viewer": {"vi": "Xem bảng điều hành", "en": "Dashboard viewer"},
    "civil_status_officer": {"vi": "Công chức Tư pháp – Hộ tịch", "en": "Civil status officer"},
    "justice_officer": {"vi": "Công chức Tư pháp", "en": "Justice officer"},
    "land_officer": {"vi": "Công chức Địa chính", "en": "Land officer"},
    "social_officer": {"vi": "Công chức Văn hóa – Xã hội", "en": "Social affairs officer"},
    "economic_officer": {"vi": "Công chức Kinh tế", "en": "Economic officer"},
    "construction_officer": {"vi": "Công chức Xây dựng", "en": "Construction officer"},
    "construction_head": {"vi": "Trưởng phòng Kinh tế – Hạ tầng", "en": "Head of construction"},
    "police_officer": {"vi": "Công an xã", "en": "Police officer"},
    "police_chief": {"vi": "Trưởng Công an xã", "en": "Police chief"},
    "commune_chair": {"vi": "Chủ tịch UBND xã", "en": "Commune chair"},
    "commune_vice_chair": {"vi": "Phó Chủ tịch UBND xã", "en": "Commune vice-chair"},
    "land_registration_office": {"vi": "Văn phòng Đăng ký đất đai", "en": "Land registration office"},
    "province_land_department": {"vi": "Sở Nông nghiệp và Môi trường", "en": "Provincial land department"},
    "social_insurance_office": {"vi": "Cơ quan Bảo hiểm xã hội", "en": "Social insurance office"},
}


def translate(key: str, language: str = DEFAULT_LANGUAGE, **params: object) -> str:
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    template = entry.get(language) or entry[DEFAULT_LANGUAGE]
    return template.format(**params)


def label(table: dict[str, dict[str, str]], key: str, language: str = DEFAULT_LANGUAGE) -> str:
    entry = table.get(key, {})
    return entry.get(language) or entry.get(DEFAULT_LANGUAGE) or key


def step_title(name: str | None, language: str = DEFAULT_LANGUAGE) -> str | None:
    """A process step's name as people read it (figures and reports are Vietnamese)."""
    return label(STEP_LABELS, name, language) if name else name
