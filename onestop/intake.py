"""What the desk needs at intake: finding the procedure, its document checklist, and the unit
that receives the dossier."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import CheckConstraint, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from onestop.db import Base
from onestop.errors import ValidationError
from onestop.lifecycle import find_procedure
from onestop.models import Officer, Procedure, Unit
from onestop.validation import clean_documents, clean_text

DOCUMENT_FORMS = ("original", "copy", "certified_copy")


class ProcedureDocument(Base):
    """One document of a procedure's checklist (thành phần hồ sơ).

    Keyed by the procedure's code, not its version, so that a new catalogue version keeps the
    checklist the administrators maintain (choice).
    """

    __tablename__ = "procedure_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_code: Mapped[str] = mapped_column(String(32), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    form: Mapped[str] = mapped_column(String(16), default="original")
    # How many the applicant usually hands in; the desk can change it at intake.
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __table_args__ = (
        UniqueConstraint("procedure_code", "position"),
        CheckConstraint(
            "form IN ('original', 'copy', 'certified_copy')", name="ck_procedure_documents_form"
        ),
    )


# --- finding a procedure ----------------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def fold(text: str | None) -> str:
    """Lower-case text without diacritics, for matching: "Đăng ký khai sinh" -> "dang ky khai sinh".

    đ is a letter of its own, not d with a mark, so it is mapped by hand.
    """
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return _SPACES.sub(" ", bare).casefold().strip()


def active_procedures(session: Session) -> list[Procedure]:
    """The newest active version of each procedure, by field then name."""
    rows = session.scalars(
        select(Procedure).where(Procedure.active.is_(True)).order_by(Procedure.code, Procedure.version.desc())
    ).all()
    newest: dict[str, Procedure] = {}
    for procedure in rows:
        newest.setdefault(procedure.code, procedure)
    return sorted(newest.values(), key=lambda p: (fold(p.field), fold(p.name_vi)))


def search_procedures(session: Session, query: str | None, limit: int = 50) -> list[Procedure]:
    """Active procedures matching every word of `query` in their code or names, with or without
    diacritics. An exact code comes first, then codes and names that start with the query."""
    procedures = active_procedures(session)
    wanted = fold((query or "")[:200])
    if not wanted:
        return procedures[:limit]
    words = wanted.split(" ")
    scored = []
    for procedure in procedures:
        code = fold(procedure.code)
        name = fold(procedure.name_vi)
        haystack = " ".join((code, name, fold(procedure.name_en), fold(procedure.field)))
        if not all(word in haystack for word in words):
            continue
        if code == wanted:
            rank = 0
        elif code.startswith(wanted):
            rank = 1
        elif name.startswith(wanted):
            rank = 2
        else:
            rank = 3
        scored.append((rank, name, procedure))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [procedure for _, _, procedure in scored[:limit]]


# --- checklists -------------------------------------------------------------------------------

def checklist(session: Session, procedure_code: str) -> list[ProcedureDocument]:
    return list(
        session.scalars(
            select(ProcedureDocument)
            .where(ProcedureDocument.procedure_code == procedure_code)
            .order_by(ProcedureDocument.position)
        )
    )


def set_checklist(session: Session, procedure_code: str, documents: object) -> list[ProcedureDocument]:
    """Replace a procedure's checklist: names, forms and the usual counts."""
    find_procedure(session, procedure_code)
    items = clean_documents(documents)
    session.execute(delete(ProcedureDocument).where(ProcedureDocument.procedure_code == procedure_code))
    rows = [
        ProcedureDocument(
            procedure_code=procedure_code, position=i, name=item["name"], form=item["form"],
            count=item["count"],
        )
        for i, item in enumerate(items, start=1)
    ]
    session.add_all(rows)
    session.flush()
    return rows


_FORM_WORDS = {
    "original": "original", "ban chinh": "original",
    "copy": "copy", "ban sao": "copy",
    "certified_copy": "certified_copy", "certified copy": "certified_copy",
    "ban sao chung thuc": "certified_copy",
}


def parse_document_lines(text: object, field: str = "documents") -> list[dict]:
    """Documents typed one per line, optionally `name | form` (bản chính, bản sao, bản sao
    chứng thực, or original, copy, certified_copy) and `| count`."""
    raw = clean_text(text, field, max_length=20000, multiline=True) or ""
    documents = []
    for number, line in enumerate(raw.splitlines(), start=1):
        parts = [part.strip() for part in line.split("|")]
        if not parts[0]:
            if any(parts):
                raise ValidationError("invalid_value", field=f"{field}[{number}]", detail="no name")
            continue
        item: dict[str, object] = {"name": parts[0]}
        if len(parts) > 1 and parts[1]:
            form = _FORM_WORDS.get(fold(parts[1]).replace("_", " ").strip()) or _FORM_WORDS.get(parts[1])
            if form is None:
                raise ValidationError(
                    "invalid_value", field=f"{field}[{number}]",
                    detail="bản chính, bản sao or bản sao chứng thực",
                )
            item["form"] = form
        if len(parts) > 2 and parts[2]:
            if not parts[2].isdigit():
                raise ValidationError("invalid_value", field=f"{field}[{number}]", detail="1 to 999")
            item["count"] = int(parts[2])
        if len(parts) > 3:
            raise ValidationError("invalid_value", field=f"{field}[{number}]", detail="name | form | count")
        documents.append(item)
    return documents


# --- the receiving unit -----------------------------------------------------------------------

def receiving_units(officer: Officer) -> list[Unit]:
    """Units a desk officer receives dossiers for: a desk (Bộ phận Một cửa) receives for the
    commune or centre above it; a desk role held elsewhere receives for that unit itself."""
    units: dict[int, Unit] = {}
    for held in officer.roles:
        if held.role != "desk":
            continue
        unit = held.unit
        if unit.kind == "desk" and unit.parent is not None:
            unit = unit.parent
        units.setdefault(unit.id, unit)
    return sorted(units.values(), key=lambda u: u.code)
