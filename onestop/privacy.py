"""Applicants' personal data: masked in lists, kept out of logs.

`mask_id_number` and `mask_phone` are for any list or export that does not need the full value
(the case page shows it in full to the officers entitled to it, `onestop.access`).
`RedactingFilter` rewrites log records so that 9- and 12-digit ID numbers (CMND, CCCD) and
Vietnamese phone numbers never reach a log file, whatever logger or handler wrote them;
`install_log_redaction()` applies it to every record of the process.
"""

from __future__ import annotations

import logging
import re
import threading

KEEP = 3  # trailing digits left visible: enough to tell two applicants apart at the desk

# 9 digits (old CMND) or 12 digits (CCCD / personal ID number), not inside a longer number.
ID_NUMBER = re.compile(r"(?<![\d.,])(?:\d{12}|\d{9})(?![\d])")
# A Vietnamese phone number: 0 or +84/84, then 9 digits, with optional spaces, dots or dashes
# between digits (0912 345 678, 0912.345.678, +84 912 345 678), not inside a longer number.
PHONE = re.compile(r"(?<![\d.,+])(?:\+84|84|0)(?:[ .\-]?\d){9}(?![\d])")


def mask_id_number(value: str | None) -> str | None:
    """001190012345 -> *********345; None and "" stay as they are."""
    if not value:
        return value
    digits = re.sub(r"\D", "", value)
    if len(digits) <= KEEP:
        return "*" * len(digits)
    return "*" * (len(digits) - KEEP) + digits[-KEEP:]


def mask_phone(value: str | None) -> str | None:
    """0912 345 678 -> 0*******678: the leading 0 or +84 says it is a phone, the rest is hidden."""
    if not value:
        return value
    digits = re.sub(r"\D", "", value)
    if len(digits) <= KEEP:
        return "*" * len(digits)
    if value.strip().startswith("+") or (digits.startswith("84") and len(digits) == 11):
        head, rest = "+84", digits[2:]
    elif digits.startswith("0"):
        head, rest = "0", digits[1:]
    else:
        head, rest = "", digits
    return head + "*" * max(len(rest) - KEEP, 0) + rest[-KEEP:]


def redact(text: str) -> str:
    """The text with every phone number and ID number in it masked."""
    if not text or not any(ch.isdigit() for ch in text):
        return text
    text = PHONE.sub(lambda m: "[phone " + (mask_phone(m.group(0)) or "") + "]", text)
    return ID_NUMBER.sub(lambda m: "[id " + (mask_id_number(m.group(0)) or "") + "]", text)


class RedactingFilter(logging.Filter):
    """Formats the record's message (and its traceback) now and masks personal data in it.

    SQLAlchemy errors carry the statement's parameters, access logs carry query strings, and a
    careless `log.info("%s", applicant)` carries everything: all of it is masked here.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    if getattr(record, "_onestop_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a malformed format string: keep the raw template, masked
        message = str(record.msg)
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._onestop_redacted = True
    return record


_installed = threading.Lock()
_factory_installed = False


def install_log_redaction() -> None:
    """Mask personal data in every log record of this process, from any logger (the app's,
    SQLAlchemy's, gunicorn's access log). Safe to call more than once."""
    global _factory_installed
    with _installed:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:
            return redact_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _factory_installed = True
