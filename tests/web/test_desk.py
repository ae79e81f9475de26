"""Intake at the desk: finding the procedure, the applicant's details, the three outcomes."""

from __future__ import annotations

import unicodedata

import pytest
from sqlalchemy import select

from onestop import lifecycle
from onestop.clock import frozen_at
from onestop.intake import fold, parse_document_lines
from onestop.models import Case
from tests.conftest import vn
from tests.factories import APPLICANT
from tests.web.support import login, seeded_world, text

AT = vn(2026, 3, 2, 9, 0)  # Monday, office hours


@pytest.fixture
def world(request, backend, tmp_path):
    return seeded_world(request, backend, tmp_path)


@pytest.fixture
def desk(world):
    client = world.client()
    login(client, "desk")
    return client


def _cases(world) -> list[Case]:
    with world.session() as session:
        cases = list(session.scalars(select(Case).order_by(Case.id)))
        for case in cases:
            _ = case.events, case.procedure
    return cases


def _intake(**fields) -> dict:
    data = {
        "name": "Lê Văn Tâm", "id_number": "001090001234", "phone": "0987 654 321",
        "address": "Thôn Đông, xã Minh Phú", "email": "tam@example.vn", "channel": "in_person",
        "unit_code": "XA-MP", "doc_1": "1", "doc_1_form": "original", "doc_1_count": "1",
        "doc_2": "1", "doc_2_form": "copy", "doc_2_count": "2", "outcome": "receive",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def test_fold_strips_marks_and_maps_d_with_stroke():
    assert fold("Đăng ký KHAI SINH") == "dang ky khai sinh"
    assert fold("Chứng  thực\tbản sao") == "chung thuc ban sao"
    assert fold(unicodedata.normalize("NFD", "Kết hôn")) == "ket hon"


def test_document_lines_take_forms_in_vietnamese_or_english():
    assert parse_document_lines("Tờ khai\nSổ hộ khẩu | bản sao | 2\nBằng | certified_copy") == [
        {"name": "Tờ khai"},
        {"name": "Sổ hộ khẩu", "form": "copy", "count": 2},
        {"name": "Bằng", "form": "certified_copy"},
    ]


def test_procedure_search_finds_with_or_without_diacritics(desk):
    for query in ("kết hôn", "ket hon", "KET HON", "ht-kh", "HT-KH"):
        page = text(desk.get("/desk/intake", query_string={"q": query}))
        assert "/desk/intake/HT-KH" in page, query
        assert "/desk/intake/DD-GCN" not in page, query


def test_procedure_search_says_when_nothing_matches(desk):
    page = text(desk.get("/desk/intake", query_string={"q": "<i>zzz</i>"}))
    assert "Không có thủ tục nào khớp với «&lt;i&gt;zzz&lt;/i&gt;»." in page


def test_intake_form_lists_the_procedure_checklist(desk):
    page = text(desk.get("/desk/intake/HT-XNHN"))
    assert "Tờ khai cấp Giấy xác nhận tình trạng hôn nhân" in page
    assert "Bản sao Căn cước" in page
    assert 'name="outcome" value="receive"' in page


def test_intake_offers_the_result_return_and_the_checklist_counts(desk):
    page = text(desk.get("/desk/intake/XD-GPXD"))  # the bundled catalogue's checklist
    assert '<select name="result_return">' in page
    assert "Qua dịch vụ bưu chính công ích" in page
    assert "Bản vẽ thiết kế xây dựng" in page and 'name="doc_3_count" type="number" min="1" max="999" value="2"' in page
    assert "Phí, lệ phí" not in page  # no fees in the catalogue: nothing to show
    assert "Phí, lệ phí: 10.000 đồng/trường hợp" in text(desk.get("/desk/intake/CT-CK"))


def test_the_desk_chooses_how_the_result_is_returned_and_form_01_says_so(desk, world):
    with frozen_at(AT):
        by_post = desk.post("/desk/intake/HT-XNHN", data=_intake(result_return="post"))
        by_channel = desk.post("/desk/intake/HT-XNHN", data=_intake(channel="online", result_return=""))
    assert by_post.status_code == by_channel.status_code == 303
    first, second = _cases(world)
    assert (first.result_return, second.result_return) == ("post", "online")
    assert first.events[0].data["result_return"] == "post"
    receipt = text(desk.get(by_post.headers["Location"]))
    assert "Qua dịch vụ bưu chính công ích" in receipt
    with frozen_at(AT):
        refused = desk.post("/desk/intake/HT-XNHN", data=_intake(result_return="pigeon"))
    assert refused.status_code == 422 and len(_cases(world)) == 2


def test_receiving_starts_the_clock_and_prints_the_receipt(desk, world):
    with frozen_at(AT):
        response = desk.post("/desk/intake/HT-XNHN", data=_intake())
    assert response.status_code == 303
    (case,) = _cases(world)
    assert response.headers["Location"] == f"/cases/{case.receipt_code}/forms/01"
    assert case.status == "received"
    assert case.applicant_phone == "0987654321"
    assert case.documents == [
        {"name": "Tờ khai cấp Giấy xác nhận tình trạng hôn nhân", "form": "original", "count": 1},
        {"name": "Bản sao Căn cước", "form": "copy", "count": 2},
    ]
    receipt = text(desk.get(response.headers["Location"]))
    assert f'<div class="big code" id="receipt-code">{case.receipt_code}</div>' in receipt
    assert "<svg" in receipt and "<path" in receipt  # the QR code, inline
    assert "09 giờ 00 phút, ngày 05/03/2026" in receipt  # 24 working hours from Monday 09:00
    assert "Bản sao" in receipt and "Lê Văn Tâm" in receipt


def test_applicant_details_are_stored_nfc(desk, world):
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Hoà")
    with frozen_at(AT):
        desk.post("/desk/intake/HT-XNHN", data=_intake(name=decomposed))
    (case,) = _cases(world)
    assert case.applicant_name == unicodedata.normalize("NFC", "Nguyễn Thị Hoà")


def test_guiding_to_complete_lists_every_missing_document_once(desk, world):
    with frozen_at(AT):
        response = desk.post("/desk/intake/HT-XNHN", data=_intake(
            outcome="guide", doc_2=None, missing="Giấy xác nhận cư trú | bản sao",
            reason="Thiếu giấy tờ",
        ))
    (case,) = _cases(world)
    assert case.status == "guided" and case.received_at is None
    assert response.headers["Location"] == f"/cases/{case.receipt_code}/forms/02"
    slip = text(desk.get(response.headers["Location"]))
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in slip
    assert "Bản sao Căn cước" in slip and "Giấy xác nhận cư trú" in slip
    assert "Tờ khai cấp Giấy xác nhận tình trạng hôn nhân" not in slip  # handed in


def test_refusing_needs_a_reason_and_prints_form_03(desk, world):
    with frozen_at(AT):
        refused = desk.post("/desk/intake/HT-XNHN", data=_intake(outcome="refuse", reason=""))
        assert refused.status_code == 422
        assert "Trường «Lý do» là bắt buộc." in text(refused)
        assert _cases(world) == []
        response = desk.post("/desk/intake/HT-XNHN", data=_intake(
            outcome="refuse", reason="Không thuộc thẩm quyền của xã",
        ))
    (case,) = _cases(world)
    assert case.status == "refused_at_intake"
    form = text(desk.get(response.headers["Location"]))
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in form
    assert "Không thuộc thẩm quyền của xã" in form


BAD_INPUT = [
    ({"name": ""}, 422, "Trường «Họ và tên» là bắt buộc."),
    ({"id_number": "12345"}, 422, "Giá trị không hợp lệ cho «Số định danh cá nhân»: 9 or 12 digits"),
    ({"phone": "call me"}, 422, "Giá trị không hợp lệ cho «Điện thoại»"),
    ({"email": "not-an-email"}, 422, "Giá trị không hợp lệ cho «Thư điện tử»"),
    ({"doc_2_count": "0"}, 422, "Giá trị không hợp lệ cho «doc_2_count»: 1 to 999"),
    ({"channel": "fax"}, 422, "Giá trị không hợp lệ cho «Hình thức nộp»"),
    ({"outcome": "maybe"}, 422, "Giá trị không hợp lệ cho «Kết quả»"),
    ({"address": "Thôn\x1bĐông"}, 422, "control characters"),
    ({"name": "A\x00B"}, 400, "NUL"),  # refused at the door, before any view
]


def test_bad_applicant_details_are_refused_and_nothing_is_created(desk, world):
    for fields, status, message in BAD_INPUT:
        with frozen_at(AT):
            response = desk.post("/desk/intake/HT-XNHN", data=_intake(**fields))
        assert response.status_code == status, fields
        assert message in text(response), fields
        if status == 422 and "name" not in fields:  # the officer's input is kept for correction
            assert 'value="Lê Văn Tâm"' in text(response), fields
    assert _cases(world) == []


def test_a_ten_megabyte_field_is_refused_and_nothing_is_created(desk, world):
    response = desk.post("/desk/intake/HT-XNHN", data=_intake(address="x" * 10_000_000))
    assert response.status_code == 422
    assert "Trường «Địa chỉ» dài quá 500 ký tự." in text(response)
    assert len(text(response)) < 100_000  # not echoed back whole either
    assert _cases(world) == []


def test_script_in_a_name_is_stored_as_text_and_rendered_escaped(desk, world):
    with frozen_at(AT):
        response = desk.post("/desk/intake/HT-XNHN", data=_intake(name="<script>alert(1)</script>"))
    receipt = text(desk.get(response.headers["Location"]))
    assert "<script>alert(1)</script>" not in receipt
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in receipt
    queue = text(desk.get("/queue"))
    assert "<script>alert" not in queue and "&lt;script&gt;" in queue


def test_a_desk_cannot_receive_for_another_commune(world):
    client = world.client()
    login(client, "desk_sd")
    with frozen_at(AT):
        response = client.post("/desk/intake/HT-XNHN", data=_intake(unit_code="XA-MP"))
    assert response.status_code == 422
    assert _cases(world) == []


def test_unknown_procedure_is_a_clear_404(desk):
    response = desk.get("/desk/intake/NOPE")
    assert response.status_code == 404
    assert "Không tìm thấy thủ tục có mã NOPE." in text(response)


def test_only_desk_officers_take_intake(world):
    client = world.client()
    login(client, "civ")
    with frozen_at(AT):
        assert client.post("/desk/intake/HT-XNHN", data=_intake()).status_code == 403
    assert _cases(world) == []


def test_a_dossier_submitted_online_waits_at_the_desk_and_is_accepted_there(desk, world):
    with frozen_at(AT), world.session() as session:
        code = lifecycle.register_online(
            session, unit_code="XA-MP", procedure_code="HT-XNHN", applicant=APPLICANT,
        ).receipt_code
        session.commit()
    assert code in text(desk.get("/desk/intake"))
    page = text(desk.get(f"/cases/{code}"))
    assert 'id="action-accept"' in page
    version = page.split('name="expected_version" value="')[1].split('"')[0]
    with frozen_at(vn(2026, 3, 2, 10, 0)):
        response = desk.post(f"/cases/{code}/actions/accept", data={"expected_version": version})
    assert response.headers["Location"] == f"/cases/{code}/forms/01"
    (case,) = _cases(world)
    assert case.status == "received" and case.channel == "online"

