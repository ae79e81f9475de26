"""Cleaning of what people type: NFC Vietnamese text with no control characters and bounded
length, and dates as they write them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from onestop.errors import ValidationError

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PHONE = re.compile(r"^\+?[0-9]{9,15}$")
_ID_NUMBER = re.compile(r"^(?:[0-9]{9}|[0-9]{12})$")  # old 9-digit CMND or 12-digit CCCD
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def clean_text(
    value: object, field: str, *, max_length: int, required: bool = False, multiline: bool = False
) -> str | None:
    """NFC-normalised, trimmed text; `None` for an empty optional value."""
    if value is None:
        value = ""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError("invalid_value", field=field, detail="not UTF-8 text") from exc
    if not isinstance(value, str):
        raise ValidationError("invalid_value", field=field, detail="expected text")
    if len(value) > max_length * 4:  # refuse absurd input before normalising it
        raise ValidationError("too_long", field=field, max=max_length)
    if any("\ud800" <= ch <= "\udfff" for ch in value):  # lone surrogates: undecodable input
        raise ValidationError("invalid_value", field=field, detail="not UTF-8 text")
    text = unicodedata.normalize("NFC", value).strip()
    if _CONTROL.search(text) or (not multiline and ("\n" in text or "\r" in text)):
        raise ValidationError("invalid_value", field=field, detail="control characters")
    if len(text) > max_length:
        raise ValidationError("too_long", field=field, max=max_length)
    if not text:
        if required:
            raise ValidationError("required", field=field)
        return None
    return text


@dataclass(frozen=True)
class Applicant:
    name: str
    id_number: str | None = None
    phone: str | None = None
    address: str | None = None
    email: str | None = None

    @classmethod
    def parse(cls, data: dict) -> Applicant:
        if not isinstance(data, dict):
            raise ValidationError("invalid_value", field="applicant", detail="expected an object")
        name = clean_text(data.get("name"), "applicant.name", max_length=200, required=True)
        id_number = clean_text(data.get("id_number"), "applicant.id_number", max_length=20)
        if id_number and not _ID_NUMBER.match(id_number):
            raise ValidationError(
                "invalid_value", field="applicant.id_number", detail="9 or 12 digits"
            )
        phone = clean_text(data.get("phone"), "applicant.phone", max_length=20)
        if phone:
            phone = re.sub(r"[\s.\-]", "", phone)
            if not _PHONE.match(phone):
                raise ValidationError(
                    "invalid_value", field="applicant.phone", detail="9 to 15 digits"
                )
        address = clean_text(data.get("address"), "applicant.address", max_length=500)
        email = clean_text(data.get("email"), "applicant.email", max_length=254)
        if email and not _EMAIL.match(email):
            raise ValidationError("invalid_value", field="applicant.email", detail="not an e-mail")
        assert name is not None
        return cls(name=name, id_number=id_number, phone=phone, address=address, email=email)


def clean_documents(documents: object) -> list[dict]:
    """The dossier's document list: name, form (original/copy/certified_copy), count."""
    if documents is None:
        return []
    if not isinstance(documents, list) or len(documents) > 100:
        raise ValidationError("invalid_value", field="documents", detail="a list of at most 100")
    cleaned = []
    for i, item in enumerate(documents, start=1):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            raise ValidationError("invalid_value", field=f"documents[{i}]", detail="expected an object")
        name = clean_text(item.get("name"), f"documents[{i}].name", max_length=300, required=True)
        form = item.get("form", "original")
        if form not in ("original", "copy", "certified_copy"):
            raise ValidationError(
                "invalid_value", field=f"documents[{i}].form", detail="original, copy or certified_copy"
            )
        count = item.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 999:
            raise ValidationError("invalid_value", field=f"documents[{i}].count", detail="1 to 999")
        cleaned.append({"name": name, "form": form, "count": count})
    return cleaned


def parse_local_date(text: str) -> date:
    """A date as written at the desk (DD/MM/YYYY) or as ISO (YYYY-MM-DD); ValueError otherwise."""
    text = text.strip()
    if "/" in text:
        parts = text.split("/")
        if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"{text[:20]!r} is not a date")
        day, month, year = (int(p) for p in parts)
        return date(year, month, day)
    return date.fromisoformat(text)
