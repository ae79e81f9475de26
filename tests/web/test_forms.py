"""The official forms 01-06: their fields as data (onestop.forms), as HTML and as PDF."""

from __future__ import annotations

import re
import zlib

import pytest
from sqlalchemy import select

from onestop import forms, lifecycle
from onestop.calendar_store import work_calendar
from onestop.clock import frozen_at
from onestop.errors import NotFound
from onestop.models import Case, Officer
from tests.conftest import vn
from tests.factories import build_world
from tests.web.pdf import A4_LANDSCAPE, A4_PORTRAIT, A5_PORTRAIT, has_text, page_sizes
from tests.web.support import login, seeded_world, text


@pytest.fixture
def world(session):
    with frozen_at(vn(2026, 3, 2, 8, 0)):
        return build_world(session)


def _received(world):
    with frozen_at(vn(2026, 3, 2, 8, 0)):
        return world.receive("HT-XNHN")


def test_receipt_carries_the_fields_of_form_01(world):
    case = _received(world)
    receipt = forms.receipt(case)
    assert receipt.header.unit_name == "UBND xã Minh Phú"
    assert receipt.header.parent_name == "Thành phố Hà Nội"
    assert receipt.header.receipt_code == case.receipt_code
    assert receipt.header.applicant.name == "Nguyễn Thị Hoa"
    assert receipt.header.applicant.id_number == "001190012345"
    assert receipt.header.applicant.phone == "0912345678"
    assert receipt.header.applicant.email == "hoa@example.vn"
    assert receipt.header.procedure_name == "Cấp Giấy xác nhận tình trạng hôn nhân"
    assert receipt.documents == (forms.DocumentLine("Tờ khai", "original", 1),)
    assert receipt.header.received_at == vn(2026, 3, 2, 8, 0)
    assert receipt.appointment == vn(2026, 3, 4, 17, 0)
    assert receipt.return_method == "Trực tiếp tại Bộ phận Một cửa"
    assert receipt.fees is None  # HT-XNHN's fees are the province's: the line is left to fill in
    assert receipt.case_book_entry == case.receipt_code
    assert receipt.received_by == "Trần Văn An"


def test_receipt_prints_the_chosen_return_and_the_catalogues_fees(world):
    with frozen_at(vn(2026, 3, 2, 8, 0)):
        case = lifecycle.receive(
            world.session, world.desk, unit_code="XA-MP", procedure_code="CT-CK",
            applicant={"name": "Lê Thị Lan"}, channel="in_person", result_return="post",
        )
    receipt = forms.receipt(case)
    assert receipt.return_method == "Qua dịch vụ bưu chính công ích"
    assert receipt.fees == "10.000 đồng/trường hợp (Thông tư 226/2016/TT-BTC)"
    case.result_return = None  # a case received before the choice existed: the channel's way
    assert forms.receipt(case).return_method == "Trực tiếp tại Bộ phận Một cửa"


def test_supplement_request_at_intake_lists_the_missing_documents(world):
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        case = lifecycle.guide_to_complete(
            world.session, world.desk, [{"name": "Bản sao Căn cước", "form": "copy"}], "Thiếu giấy tờ",
            unit_code="XA-MP", procedure_code="HT-XNHN", applicant={"name": "Lê Thị Lan"},
            channel="in_person", documents=[],
        )
    request = forms.supplement_request(case)
    assert request.at_intake and request.reason == "Thiếu giấy tờ"
    assert request.documents == (forms.DocumentLine("Bản sao Căn cước", "copy", 1),)
    assert request.contact_officer == "Trần Văn An"
    assert forms.available_forms(case) == ["02"]


def test_supplement_request_during_processing_names_the_requesting_officer(world):
    case = _received(world)
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        lifecycle.hand_over(world.session, case, world.desk, world.civ)
        lifecycle.request_supplement(
            world.session, case, world.civ, "Ảnh mờ", [{"name": "Ảnh 4x6", "form": "original", "count": 2}]
        )
    request = forms.supplement_request(case)
    assert not request.at_intake
    assert request.contact_officer == "Phạm Minh Châu"
    assert request.contact_unit == "Công chức Tư pháp - Hộ tịch xã Minh Phú"
    assert request.documents == (forms.DocumentLine("Ảnh 4x6", "original", 2),)
    assert request.requested_at == vn(2026, 3, 2, 9, 0)


def test_refusal_at_intake_and_after_review_carry_their_reasons(world):
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        at_intake = lifecycle.refuse_at_intake(
            world.session, world.desk, "Không thuộc thẩm quyền", unit_code="XA-MP",
            procedure_code="HT-XNHN", applicant={"name": "Lê Thị Lan"}, channel="in_person",
        )
    refusal = forms.refusal(at_intake)
    assert refusal.at_intake and refusal.reason == "Không thuộc thẩm quyền" and refusal.officer == "Trần Văn An"
    case = _received(world)
    with frozen_at(vn(2026, 3, 2, 10, 0)):
        lifecycle.refuse_after_review(world.session, case, world.desk, "Không đủ điều kiện")
    refusal = forms.refusal(case)
    assert not refusal.at_intake and refusal.refused_at == vn(2026, 3, 2, 10, 0)


def test_extension_notice_keeps_the_original_due_and_names_the_signer(world):
    case = _received(world)
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        lifecycle.hand_over(world.session, case, world.desk, world.civ)
        lifecycle.extend(world.session, case, world.head, "Chờ xác minh", vn(2026, 3, 10, 17, 0))
    notice = forms.extension_notice(case)
    assert notice.original_due_at == notice.previous_due_at == vn(2026, 3, 4, 17, 0)
    assert notice.new_due_at == vn(2026, 3, 10, 17, 0)
    assert notice.signed_by == "Đỗ Thị Hạnh"
    assert notice.responsible_unit == "Công chức Tư pháp - Hộ tịch xã Minh Phú"


def test_stop_notice_carries_the_legal_ground(world):
    case = _received(world)
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        lifecycle.stop(world.session, case, world.desk, "Tranh chấp", "Nghị định 118/2025/NĐ-CP")
    notice = forms.stop_notice(case)
    assert notice.reason == "Tranh chấp" and notice.legal_ground == "Nghị định 118/2025/NĐ-CP"
    assert "05" in forms.available_forms(case)


def test_control_slip_has_one_row_per_handover_with_giver_receiver_times_and_result(world):
    case = _received(world)
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        lifecycle.hand_over(world.session, case, world.desk, world.civ)
    with frozen_at(vn(2026, 3, 4, 10, 0)):  # the civil status step had 16 h, due at 09:00
        lifecycle.hand_over(world.session, case, world.civ, world.vice, note="Trình ký")
    calendar = work_calendar(world.session)
    slip = forms.control_slip(case, calendar, vn(2026, 3, 4, 10, 30))
    assert [(r.given_by, r.received_by) for r in slip.rows] == [
        (None, "Trần Văn An"), ("Trần Văn An", "Phạm Minh Châu"), ("Phạm Minh Châu", "Vũ Quang Khải"),
    ]
    assert [r.handed_at for r in slip.rows] == [
        vn(2026, 3, 2, 8, 0), vn(2026, 3, 2, 9, 0), vn(2026, 3, 4, 10, 0),
    ]
    assert [r.result for r in slip.rows] == ["early", "late", None]
    assert slip.rows[2].state == "within_deadline" and slip.rows[2].note == "Trình ký"
    assert slip.due_at == vn(2026, 3, 4, 17, 0) and slip.lead_agency == "UBND xã Minh Phú"


def test_due_story_explains_days_pauses_and_the_due_instant(world):
    case = _received(world)
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        lifecycle.request_supplement(world.session, case, world.desk, "Thiếu ảnh")
    with frozen_at(vn(2026, 3, 3, 9, 0)):
        lifecycle.receive_supplement(world.session, case, world.desk)
    story = forms.due_story(case, work_calendar(world.session))
    assert story.explanation.due_at == vn(2026, 3, 4, 17, 0)
    assert [(d.day.day.day, d.counted_hours) for d in story.days] == [(2, 8), (3, 8), (4, 8)]
    assert story.pauses[0].working_hours == 8
    assert story.due_at == vn(2026, 3, 5, 17, 0)


def test_forms_a_case_does_not_have_are_not_found(world):
    case = _received(world)
    for number in ("02", "03", "04", "05", "07"):
        with pytest.raises(NotFound):
            forms.build(number, case, work_calendar(world.session), vn(2026, 3, 2, 9, 0))
    assert forms.available_forms(case) == ["01", "06"]


# --- HTML and PDF ---------------------------------------------------------------------------------

def _inflated(pdf: bytes) -> bytes:
    """The PDF with its compressed streams expanded, to look for the embedded font's name."""
    parts = [pdf]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        try:
            parts.append(zlib.decompress(stream))
        except zlib.error:
            continue
    return b"".join(parts)


@pytest.fixture
def desk_client(request, backend, tmp_path):
    seeded = seeded_world(request, backend, tmp_path, {"case": {}})
    client = seeded.client()
    login(client, "desk")
    return client, seeded.codes["case"]


@pytest.fixture
def forms_client(request, backend, tmp_path):
    """A desk officer's client and, for each of forms 01-06, a case that has it: one received,
    handed over, extended and asked for a supplement (01, 02, 04, 06), one refused after review
    (03) and one stopped (05)."""
    seeded = seeded_world(request, backend, tmp_path, {"case": {}, "refused": {}, "stopped": {}})
    with seeded.session() as session:
        officers = {o.username: o for o in session.scalars(select(Officer))}
        cases = {name: session.scalars(select(Case).where(Case.receipt_code == code)).one()
                 for name, code in seeded.codes.items()}
        with frozen_at(vn(2026, 3, 2, 9, 0)):
            lifecycle.hand_over(session, cases["case"], officers["desk"], officers["civ"])
            lifecycle.extend(session, cases["case"], officers["head"], "Chờ xác minh", vn(2026, 3, 10, 17, 0))
            lifecycle.request_supplement(session, cases["case"], officers["civ"], "Ảnh mờ", ["Ảnh 4x6"])
            lifecycle.refuse_after_review(session, cases["refused"], officers["desk"], "Không đủ điều kiện")
            lifecycle.stop(session, cases["stopped"], officers["desk"], "Tranh chấp", "Nghị định 118/2025/NĐ-CP")
        session.commit()
    client = seeded.client()
    login(client, "desk")
    return client, seeded.codes


FORM_CASES = {"01": "case", "02": "case", "03": "refused", "04": "case", "05": "stopped", "06": "case"}
PAGE_SIZES = {"01": A5_PORTRAIT, "06": A4_LANDSCAPE}


@pytest.mark.parametrize("number", sorted(FORM_CASES))
def test_each_form_prints_as_a_real_pdf_of_its_page_size(forms_client, number):
    client, codes = forms_client
    code = codes[FORM_CASES[number]]
    response = client.get(f"/cases/{code}/forms/{number}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = response.data
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    sizes = [(round(w), round(h)) for w, h in page_sizes(pdf)]
    assert sizes and set(sizes) == {PAGE_SIZES.get(number, A4_PORTRAIT)}
    assert has_text(pdf, code) and has_text(pdf, "Độc lập - Tự do - Hạnh phúc")
    assert f"{code}-mau-{number}.pdf" in response.headers["Content-Disposition"]


def test_printable_receipt_is_a5_html_with_code_qr_and_appointment(desk_client):
    client, code = desk_client
    page = text(client.get(f"/cases/{code}/forms/01"))
    assert 'class="form form-01"' in page and "forms.css" in page
    css = text(client.get("/static/forms.css"))
    assert re.search(r"@page receipt\s*{\s*size:\s*A5 portrait", css)
    assert re.search(r"body\.form-01\s*{\s*page:\s*receipt", css)
    sizes = page_sizes(client.get(f"/cases/{code}/forms/01.pdf").data)
    assert sizes and all(abs(w - 419.5) < 1 and abs(h - 595.3) < 1 for w, h in sizes)
    assert f'id="receipt-code">{code}<' in page and "<svg" in page
    assert "17 giờ 00 phút, ngày 04/03/2026" in page
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in page
    assert "<script>" not in page


def test_pdf_of_a_form_embeds_a_font_with_vietnamese_glyphs(desk_client):
    client, code = desk_client
    response = client.get(f"/cases/{code}/forms/06.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert b"DejaVu" in _inflated(response.data)  # the font that has every Vietnamese glyph
    assert f"{code}-mau-06.pdf" in response.headers["Content-Disposition"]


def test_a_form_the_case_does_not_have_is_a_404_page(desk_client):
    client, code = desk_client
    response = client.get(f"/cases/{code}/forms/04")
    assert response.status_code == 404
    assert f"Hồ sơ {code} không có mẫu phiếu 04." in text(response)
    assert client.get(f"/cases/{code}/forms/09").status_code == 404
