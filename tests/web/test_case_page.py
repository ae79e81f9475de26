"""The queues and the case page: what each officer sees, and every action through the page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from onestop.clock import frozen_at
from onestop.models import Case, Complaint, Officer, Rating
from tests.conftest import vn
from tests.web.support import login, seeded_world, text


@pytest.fixture
def world(request, backend, tmp_path):
    return seeded_world(request, backend, tmp_path, {
        "marital": {"procedure_code": "HT-XNHN"},
        "birth": {"procedure_code": "HT-KS", "name": "<script>alert(1)</script> Bình"},
        "land": {"procedure_code": "DD-GCN", "name": "Trịnh Văn Cường"},
    })


def client_for(world, username):
    client = world.client()
    login(client, username)
    return client


def load(world, code) -> Case:
    with world.session() as session:
        case = session.scalar(select(Case).where(Case.receipt_code == code))
        _ = case.events, case.assignments, case.pauses, case.extension
        for assignment in case.assignments:
            _ = assignment.owner
    return case


def version(page: str) -> str:
    return re.search(r'name="expected_version" value="(\d+)"', page).group(1)


def act(client, code, action, at, **data):
    with frozen_at(at):
        page = text(client.get(f"/cases/{code}"))
        return client.post(
            f"/cases/{code}/actions/{action}", data={"expected_version": version(page), **data}
        )


def officer_id(world, username) -> int:
    with world.session() as session:
        return session.scalar(select(Officer.id).where(Officer.username == username))


def flashes(response) -> list[str]:
    return re.findall(r'<p class="flash [a-z]+">([^<]*)</p>', text(response))


# --- what the page shows ------------------------------------------------------------------------

def test_case_page_shows_applicant_procedure_due_instant_and_its_explanation(world):
    code = world.codes["marital"]
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        page = text(client_for(world, "desk").get(f"/cases/{code}"))
    assert "Nguyễn Thị Hoa" in page and "001190012345" in page and "0912345678" in page
    assert "Cấp Giấy xác nhận tình trạng hôn nhân" in page
    assert "<strong>17:00 04/03/2026</strong>" in page  # 3 working days from Monday 08:00
    assert "Vì sao hạn là 17:00 04/03/2026?" in page
    assert "3 ngày làm việc × 8 giờ = 24 giờ làm việc" in page
    assert "Thứ Hai 02/03/2026" in page and "Thứ Tư 04/03/2026" in page
    assert "Trần Văn An tiếp nhận" in page  # the first row of the control slip
    assert "Trong hạn" in page and "còn 2 ngày 7 giờ" in page


def test_steps_read_as_labels_in_the_viewers_language_and_in_vietnamese_on_the_printed_slip(world):
    code = world.codes["marital"]
    desk = client_for(world, "desk")
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        page, queue = text(desk.get(f"/cases/{code}")), text(desk.get("/queue"))
        assert "1. Tiếp nhận hồ sơ" in page and "1. Tiếp nhận hồ sơ" in queue
        assert "1. receive" not in page and "1. receive" not in queue
        assert "Bước 2: Xác minh, thẩm tra" in page  # the hand-over picker names the next step
        desk.get("/lang/en")
        english, slip = text(desk.get(f"/cases/{code}")), text(desk.get(f"/cases/{code}/forms/06"))
    assert "1. Receive the dossier" in english
    assert "1. Tiếp nhận hồ sơ" in slip and "Receive the dossier" not in slip


def test_my_queue_is_sorted_by_working_time_left_with_personal_numbers_masked(world):
    desk = client_for(world, "desk")
    with frozen_at(vn(2026, 3, 2, 8, 15)):
        page = text(desk.get("/queue"))
    order = [page.index(world.codes[name]) for name in ("birth", "marital", "land")]
    assert order == sorted(order)  # same-day step (15 min left) first, then 1 h 45, then 3 h 45
    assert "còn 15 phút" in page and "còn 1 giờ 45 phút" in page
    assert "001190012345" not in page and "0912345678" not in page
    assert "•••••••••345" in page
    with frozen_at(vn(2026, 3, 2, 10, 30)):
        later = text(desk.get("/queue"))
    assert 'class="row-overdue"' in later and "quá 30 phút" in later


def test_queue_of_an_officer_holds_only_their_own_steps(world):
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        page = text(client_for(world, "civ").get("/queue"))
    assert "Không có hồ sơ nào đang chờ." in page
    assert world.codes["marital"] not in page


def test_names_with_script_render_escaped(world):
    code = world.codes["birth"]
    desk = client_for(world, "desk")
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        for path in (f"/cases/{code}", "/queue", f"/cases/{code}/forms/01", f"/cases/{code}/forms/06",
                     "/cases?q=Bình"):
            page = text(desk.get(path))
            assert "<script>alert(1)</script>" not in page, path
            assert "&lt;script&gt;alert(1)&lt;/script&gt; Bình" in page, path


def test_the_owner_sees_actions_and_an_onlooker_sees_none(world):
    code = world.codes["marital"]
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        owner = text(client_for(world, "desk").get(f"/cases/{code}"))
        onlooker = text(client_for(world, "civ").get(f"/cases/{code}"))
    for action in ("hand_over", "request_supplement", "pause_payment", "resolve", "stop", "withdraw"):
        assert f'id="action-{action}"' in owner
    assert 'id="action-extend"' not in owner and 'id="action-reassign"' not in owner
    assert 'id="action-' not in onlooker
    assert "Phạm Minh Châu (civ)" in owner  # an eligible receiver of the next step


def test_reading_with_a_role_in_the_commune_masks_personal_numbers_and_hides_forms_01_to_05(world):
    code = world.codes["marital"]
    vice = client_for(world, "vice")  # vice-chair of the commune: reads its cases, works none
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        page = text(vice.get(f"/cases/{code}"))
        assert "001190012345" not in page and "*********345" in page
        assert vice.get(f"/cases/{code}/forms/01").status_code == 403
        assert vice.get(f"/cases/{code}/forms/06").status_code == 200


def test_an_officer_of_another_commune_can_neither_read_nor_act(world):
    code = world.codes["marital"]
    other = client_for(world, "desk_sd")
    before = load(world, code)
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        assert other.get(f"/cases/{code}").status_code == 403
        assert other.get(f"/cases/{code}/forms/01").status_code == 403
        assert other.get(f"/cases/{code}/forms/06.pdf").status_code == 403
        response = other.post(f"/cases/{code}/actions/withdraw", data={
            "expected_version": str(before.version_id), "reason": "thử",
        })
        assert response.status_code == 403
        assert code not in text(other.get("/cases", query_string={"q": "Nguyễn Thị Hoa"}))
    after = load(world, code)
    assert after.status == "received" and after.last_event_seq == before.last_event_seq


def test_find_goes_straight_to_a_case_by_its_code(world):
    code = world.codes["land"]
    desk = client_for(world, "desk")
    response = desk.get("/cases", query_string={"q": code.lower()})
    assert response.status_code == 303 and response.headers["Location"] == f"/cases/{code}"
    assert code in text(desk.get("/cases", query_string={"q": "Cường"}))


# --- actions ------------------------------------------------------------------------------------

def test_a_case_walks_through_two_handovers_a_supplement_round_resolution_and_return(world):
    code = world.codes["marital"]
    desk, civ, vice = (client_for(world, u) for u in ("desk", "civ", "vice"))
    civ_id, vice_id, desk_id = (officer_id(world, u) for u in ("civ", "vice", "desk"))

    response = act(desk, code, "hand_over", vn(2026, 3, 2, 9, 0), target=f"2:{civ_id}", note="Đủ hồ sơ")
    assert response.status_code == 303
    with frozen_at(vn(2026, 3, 2, 9, 5)):
        assert code in text(civ.get("/queue"))
        assert code not in text(desk.get("/queue"))

    response = act(civ, code, "request_supplement", vn(2026, 3, 2, 10, 0),
                   reason="Thiếu giấy xác nhận cư trú", documents="Giấy xác nhận cư trú | bản sao")
    assert response.status_code == 303
    pause_form = text(civ.get(response.headers["Location"]))
    assert "Giấy xác nhận cư trú" in pause_form and "Phạm Minh Châu" in pause_form
    assert load(world, code).status == "awaiting_supplement"
    with frozen_at(vn(2026, 3, 3, 10, 0)):
        assert "Tạm dừng" in text(civ.get("/queue"))

    act(desk, code, "receive_supplement", vn(2026, 3, 3, 10, 0), note="Đã bổ sung")
    case = load(world, code)
    assert case.status == "in_progress"
    assert case.due_at == vn(2026, 3, 5, 17, 0)  # a working day of pause added

    act(civ, code, "hand_over", vn(2026, 3, 3, 14, 0), target=f"3:{vice_id}")
    response = act(vice, code, "resolve", vn(2026, 3, 4, 9, 0), outcome="approved",
                   to_officer=str(desk_id))
    assert response.status_code == 303
    assert load(world, code).status == "resolved"

    response = act(desk, code, "return", vn(2026, 3, 4, 10, 0), satisfied="yes", comment="Nhanh")
    assert response.status_code == 303
    case = load(world, code)
    assert case.status == "returned"
    assert [a.owner.username for a in case.assignments] == ["desk", "civ", "vice", "desk"]
    with world.session() as session:
        rating = session.scalar(select(Rating).where(Rating.case_id == case.id))
        assert rating.satisfied and rating.source == "desk" and rating.comment == "Nhanh"

    with frozen_at(vn(2026, 3, 4, 11, 0)):
        page = text(desk.get(f"/cases/{code}"))
        slip = text(desk.get(f"/cases/{code}/forms/06"))
    assert "Đã trả kết quả" in page and 'id="action-' not in page.replace('id="action-complaint"', "")
    assert "Trần Văn An giao cho Phạm Minh Châu" in page
    assert "Phạm Minh Châu giao cho Vũ Quang Khải" in page
    assert slip.count("<tr>") >= 5 and "Trước hạn" in slip


def test_a_stale_page_gets_409_and_changes_nothing(world):
    code = world.codes["marital"]
    desk = client_for(world, "desk")
    civ_id, civ2_id = officer_id(world, "civ"), officer_id(world, "civ2")
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        stale = version(text(desk.get(f"/cases/{code}")))
        desk.post(f"/cases/{code}/actions/hand_over", data={"expected_version": stale, "target": f"2:{civ_id}"})
        before = load(world, code)
        response = desk.post(f"/cases/{code}/actions/hand_over", data={
            "expected_version": stale, "target": f"2:{civ2_id}",
        })
    assert response.status_code == 409
    assert "vừa được người khác thay đổi; vui lòng tải lại và thử lại." in text(response)
    after = load(world, code)
    assert after.version_id == before.version_id and after.last_event_seq == before.last_event_seq
    assert after.current_assignment.owner.username == "civ"


def test_an_action_without_the_page_version_is_refused(world):
    code = world.codes["marital"]
    desk = client_for(world, "desk")
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        response = desk.post(f"/cases/{code}/actions/withdraw", data={"reason": "rút"})
    assert response.status_code == 422
    assert load(world, code).status == "received"


def test_domain_refusals_are_translated_with_their_status(world):
    code = world.codes["marital"]
    civ = client_for(world, "civ")  # may read the case, does not own its step: no forms shown
    data = {"expected_version": str(load(world, code).version_id), "reason": "x"}
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        response = civ.post(f"/cases/{code}/actions/request_supplement", data=data)
        assert response.status_code == 403
        assert "Chỉ người đang chịu trách nhiệm bước «Tiếp nhận hồ sơ» (Trần Văn An)" in text(response)
        civ.get("/lang/en")
        response = civ.post(f"/cases/{code}/actions/request_supplement", data=data)
    assert "Only the officer accountable for step “Receive the dossier” (Trần Văn An) may do this." in text(response)
    response = act(client_for(world, "desk"), code, "request_supplement", vn(2026, 3, 2, 9, 0), reason="")
    assert response.status_code == 422 and "Trường «Lý do» là bắt buộc." in text(response)
    assert load(world, code).status == "received"


def test_the_unit_head_sees_the_unit_queue_and_reassigns(world):
    code = world.codes["marital"]
    act(client_for(world, "desk"), code, "hand_over", vn(2026, 3, 2, 9, 0),
        target=f"2:{officer_id(world, 'civ')}")
    head = client_for(world, "head")
    with frozen_at(vn(2026, 3, 2, 10, 0)):
        page = text(head.get("/queue/unit"))
    assert code in page and "Phạm Minh Châu" in page
    assert world.codes["land"] not in page  # still at the desk, not in the head's unit
    assert client_for(world, "civ").get("/queue/unit").status_code == 403
    response = act(head, code, "reassign", vn(2026, 3, 2, 10, 0),
                   to_officer=str(officer_id(world, "civ2")), note="Cân đối công việc")
    assert response.status_code == 303
    case = load(world, code)
    assert case.current_assignment.owner.username == "civ2"
    assert case.events[-1].kind == "reassigned"


def test_extension_by_the_unit_head_prints_form_04(world):
    code = world.codes["marital"]
    act(client_for(world, "desk"), code, "hand_over", vn(2026, 3, 2, 9, 0),
        target=f"2:{officer_id(world, 'civ')}")
    head = client_for(world, "head")
    response = act(head, code, "extend", vn(2026, 3, 2, 10, 0), new_due_at="2026-03-09T17:00",
                   reason="Cần xác minh tại nơi cư trú cũ; Công chức Tư pháp - Hộ tịch chịu trách nhiệm")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/cases/{code}/forms/04"
    form = text(head.get(response.headers["Location"]))
    assert "VĂN BẢN XIN LỖI VÀ ĐỀ NGHỊ GIA HẠN" in form
    assert "17 giờ 00 phút, ngày 09/03/2026" in form and "Đỗ Thị Hạnh" in form
    case = load(world, code)
    assert case.extension.new_due_at == vn(2026, 3, 9, 17, 0)
    assert case.due_at == vn(2026, 3, 4, 17, 0)  # the due instant itself never moves


def test_extension_too_close_to_the_due_instant_is_not_offered_and_is_refused(world):
    code = world.codes["marital"]
    head = client_for(world, "chair")  # chair and head of the commune that received the case
    with frozen_at(vn(2026, 3, 4, 10, 0)):  # 7 working hours before the due instant
        page = text(head.get(f"/cases/{code}"))
    assert 'id="action-extend"' not in page
    assert "Không còn gia hạn được" in page
    response = act(head, code, "extend", vn(2026, 3, 4, 10, 0), new_due_at="2026-03-09T17:00", reason="x")
    assert response.status_code == 409
    assert load(world, code).extension is None


def test_pause_for_financial_obligations_and_resume(world):
    code = world.codes["land"]
    desk = client_for(world, "desk")
    act(desk, code, "pause_payment", vn(2026, 3, 2, 9, 0), note="Chờ nộp lệ phí trước bạ")
    assert load(world, code).status == "awaiting_payment"
    with frozen_at(vn(2026, 3, 2, 9, 30)):
        assert 'id="action-resume_payment"' in text(desk.get(f"/cases/{code}"))
    act(desk, code, "resume_payment", vn(2026, 3, 3, 9, 0))
    case = load(world, code)
    assert case.status == "received" and case.pauses[0].paused_working_hours == 8


def test_stop_prints_form_05_with_its_legal_ground(world):
    code = world.codes["land"]
    desk = client_for(world, "desk")
    response = act(desk, code, "stop", vn(2026, 3, 2, 9, 0), reason="Có tranh chấp",
                   legal_ground="Nghị định 118/2025/NĐ-CP")
    assert response.headers["Location"] == f"/cases/{code}/forms/05"
    form = text(desk.get(response.headers["Location"]))
    assert "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ" in form and "Nghị định 118/2025/NĐ-CP" in form
    assert load(world, code).status == "stopped"


def test_refusal_after_review_and_withdrawal_close_the_case(world):
    desk = client_for(world, "desk")
    act(desk, world.codes["land"], "refuse", vn(2026, 3, 2, 9, 0), reason="Không đủ điều kiện")
    act(desk, world.codes["birth"], "withdraw", vn(2026, 3, 2, 9, 0), reason="Công dân xin rút")
    assert load(world, world.codes["land"]).status == "refused"
    assert load(world, world.codes["birth"]).status == "withdrawn"
    with frozen_at(vn(2026, 3, 2, 9, 5)):
        form = text(desk.get(f"/cases/{world.codes['land']}/forms/03"))
    assert "THÔNG BÁO TỪ CHỐI GIẢI QUYẾT HỒ SƠ" in form and "Không đủ điều kiện" in form


def test_the_desk_records_a_complaint(world):
    code = world.codes["marital"]
    response = act(client_for(world, "desk2"), code, "complaint", vn(2026, 3, 2, 9, 0),
                   text="Cán bộ hẹn sai ngày")
    assert response.status_code == 303
    with world.session() as session:
        assert session.scalar(select(Complaint.text)) == "Cán bộ hẹn sai ngày"
