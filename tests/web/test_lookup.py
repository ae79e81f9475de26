"""The citizen look-up: status, appointment and the current step in plain Vietnamese; personal
details, the applicant's one rating and complaints behind the phone number's last digits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from onestop import lifecycle as lc
from onestop.clock import frozen_at
from onestop.db import make_engine
from onestop.models import Complaint, Rating
from onestop.web import create_app
from tests.conftest import vn
from tests.factories import build_world

MONDAY = vn(2026, 3, 2, 8, 0)
SECRET_NOTE = "Ghi chú nội bộ: gọi anh Châu kiểm tra"


@pytest.fixture
def codes(database_url):
    """`fresh`: just received; `working`: at step 2 with an internal note and an extension;
    `waiting`: awaiting a supplement; `no_phone`: an applicant without a phone."""
    engine = make_engine(database_url)
    with frozen_at(MONDAY) as clock, Session(engine) as session:
        world = build_world(session)
        fresh = world.receive(name="<script>alert(1)</script> Hoa")
        working = world.receive(name="Trần Văn Bình", phone="0988 111 222")
        lc.hand_over(session, working, world.desk, world.civ, note=SECRET_NOTE)
        lc.extend(session, working, world.head, "Cần xác minh", vn(2026, 3, 9, 17, 0))
        waiting = world.receive()
        lc.hand_over(session, waiting, world.desk, world.civ)
        lc.request_supplement(session, waiting, world.civ, "Thiếu giấy",
                              [{"name": "Bản sao Giấy khai sinh", "form": "copy"}])
        no_phone = world.receive(phone=None)
        clock.set(MONDAY + timedelta(hours=1))
        session.commit()
        result = {
            "fresh": fresh.receipt_code, "working": working.receipt_code,
            "waiting": waiting.receipt_code, "no_phone": no_phone.receipt_code,
        }
    engine.dispose()
    return result


def client_for(database_url, **config):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "WTF_CSRF_ENABLED": False,
                      **config})
    return app.test_client()


@pytest.fixture
def client(database_url, codes):
    with frozen_at(MONDAY + timedelta(hours=2)):
        yield client_for(database_url)


def page(response) -> str:
    return response.get_data(as_text=True)


def rows(database_url, model):
    engine = make_engine(database_url)
    with Session(engine) as session:
        found = list(session.scalars(select(model)))
    engine.dispose()
    return found


def test_lookup_shows_status_appointment_and_where_the_case_stands(client, codes):
    html = page(client.get(f"/lookup?code={codes['fresh']}"))
    assert "Đã tiếp nhận (mã 2)" in html
    assert "17:00 04/03/2026" in html
    assert "Cấp Giấy xác nhận tình trạng hôn nhân" in html
    assert "Bộ phận Một cửa đã tiếp nhận hồ sơ và đang chuyển đến nơi giải quyết." in html


def test_lookup_names_the_unit_at_work_but_never_an_officer_or_a_note(client, codes):
    html = page(client.get(f"/lookup?code={codes['working']}"))
    assert "Hồ sơ đang được giải quyết tại Công chức Tư pháp - Hộ tịch xã Minh Phú (bước 2/4)." in html
    for secret in (SECRET_NOTE, "Phạm Minh Châu", "Trần Văn An", "Cần xác minh", "civ"):
        assert secret not in html
    assert "Trần Văn Bình" not in html  # personal details need the phone digits


def test_an_extended_case_shows_the_new_appointment_and_the_first_one(client, codes):
    html = page(client.get(f"/lookup?code={codes['working']}"))
    assert "Hẹn trả kết quả (đã gia hạn)" in html
    assert "17:00 09/03/2026" in html and "hẹn ban đầu 17:00 04/03/2026" in html


def test_the_phone_digits_unlock_personal_details_and_what_to_supplement(client, codes):
    public = page(client.get(f"/lookup?code={codes['waiting']}"))
    assert "Đang chờ ông/bà bổ sung" in public and "Bản sao Giấy khai sinh" not in public
    verified = client.post("/lookup", data={"code": codes["waiting"], "phone4": "5678"})
    html = page(verified)
    assert verified.status_code == 200
    assert "Nguyễn Thị Hoa" in html and "Bản sao Giấy khai sinh" in html
    assert "Thiếu giấy" not in html  # the officer's wording stays on the paper form


@pytest.mark.parametrize(("digits", "message"), [
    ("1234", "Bốn số cuối điện thoại không khớp với hồ sơ."),
    ("56789", "Nhập đúng bốn chữ số cuối của số điện thoại."),
    ("abcd", "Nhập đúng bốn chữ số cuối của số điện thoại."),
])
def test_wrong_or_malformed_digits_show_only_public_details(client, codes, digits, message):
    response = client.post("/lookup", data={"code": codes["waiting"], "phone4": digits})
    html = page(response)
    assert response.status_code == 422 and message in html
    assert "Nguyễn Thị Hoa" not in html and "Chờ bổ sung hồ sơ" in html


def test_a_case_without_a_phone_never_shows_personal_details(client, codes):
    response = client.post("/lookup", data={"code": codes["no_phone"], "phone4": "0000"})
    assert response.status_code == 422 and "Nguyễn Thị Hoa" not in page(response)


def test_unknown_and_malformed_codes_are_a_clean_not_found(client, codes):
    for code in ("XA-MP-260302-9999", "<b>NOPE</b>", "Ω" * 40, "x" * 5000):
        response = client.get("/lookup", query_string={"code": code})
        assert response.status_code == 404, code
        assert "Không tìm thấy hồ sơ" in page(response)
    assert "&lt;b&gt;NOPE&lt;/b&gt;" in page(client.get("/lookup?code=<b>NOPE</b>"))
    for data in ({"code": "A\x00B", "phone4": "5678"}, {"code": codes["fresh"], "phone4": "56\x0078"}):
        assert client.post("/lookup", data=data).status_code in (400, 404, 422)


def test_the_applicant_rates_once_with_the_phone_digits(client, codes, database_url):
    refused = client.post("/lookup/rate", data={"code": codes["fresh"], "phone4": "0000", "satisfied": "yes"})
    assert refused.status_code == 422 and rows(database_url, Rating) == []
    done = client.post("/lookup/rate", data={
        "code": codes["fresh"], "phone4": "5678", "satisfied": "no", "comment": "Chờ lâu",
    })
    assert done.status_code == 200 and "Cảm ơn ông/bà đã đánh giá." in page(done)
    assert "Ông/bà đã đánh giá hồ sơ này." in page(done)
    (rating,) = rows(database_url, Rating)
    assert (rating.source, rating.satisfied, rating.comment, rating.recorded_by_id) == (
        "applicant", False, "Chờ lâu", None,
    )
    again = client.post("/lookup/rate", data={"code": codes["fresh"], "phone4": "5678", "satisfied": "yes"})
    assert again.status_code == 422 and len(rows(database_url, Rating)) == 1
    odd = client.post("/lookup/rate", data={"code": codes["working"], "phone4": "1222", "satisfied": "maybe"})
    assert odd.status_code == 422 and len(rows(database_url, Rating)) == 1


def test_the_rating_form_shows_only_to_a_verified_applicant(client, codes):
    assert 'name="satisfied"' not in page(client.get(f"/lookup?code={codes['fresh']}"))
    verified = page(client.post("/lookup", data={"code": codes["fresh"], "phone4": "5678"}))
    assert 'name="satisfied"' in verified and 'name="text"' in verified


def test_a_complaint_is_recorded_against_the_case(client, codes, database_url):
    refused = client.post("/lookup/complaint", data={"code": codes["fresh"], "phone4": "9999", "text": "x"})
    assert refused.status_code == 422 and rows(database_url, Complaint) == []
    empty = client.post("/lookup/complaint", data={"code": codes["fresh"], "phone4": "5678", "text": " "})
    assert empty.status_code == 422 and rows(database_url, Complaint) == []
    done = client.post("/lookup/complaint", data={
        "code": codes["fresh"], "phone4": "5678", "text": "Cán bộ hẹn sai <ngày>",
    })
    assert done.status_code == 200 and "Đã ghi nhận phản ánh của ông/bà." in page(done)
    (complaint,) = rows(database_url, Complaint)
    assert complaint.text == "Cán bộ hẹn sai <ngày>" and complaint.recorded_by_id is None


def test_lookups_are_rate_limited_per_address(database_url, codes):
    with frozen_at(MONDAY + timedelta(hours=2)):
        limited = client_for(database_url, LOOKUP_RATE_LIMIT="3/minute")
        statuses = [limited.get(f"/lookup?code={codes['fresh']}").status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        refused = limited.post("/lookup", data={"code": codes["fresh"], "phone4": "1111"})
        assert refused.status_code == 429
        assert "Quá nhiều yêu cầu; vui lòng thử lại sau ít phút." in page(refused)
        assert limited.get("/lookup").status_code == 200  # the empty form costs nothing


def test_lookup_posts_need_the_forms_csrf_token(database_url, codes):
    with frozen_at(MONDAY + timedelta(hours=2)):
        protected = create_app({"DATABASE_URL": database_url, "TESTING": True}).test_client()
        forged = protected.post("/lookup/rate", data={"code": codes["fresh"], "phone4": "5678", "satisfied": "no"})
        assert forged.status_code == 400
        assert rows(database_url, Rating) == []


def test_lookup_reads_in_english_on_request(client, codes):
    client.set_cookie("lang", "en")
    html = page(client.get(f"/lookup?code={codes['working']}"))
    assert "Case look-up" in html and "Appointment (extended)" in html
    assert "The case is being processed by Công chức Tư pháp - Hộ tịch xã Minh Phú (step 2 of 4)." in html


def test_behind_a_trusted_proxy_each_client_address_has_its_own_limit(database_url, codes):
    """The proxy's address is the same for everyone: with TRUSTED_PROXIES the limit keys on the
    client's address from X-Forwarded-For; without it, that header is ignored (it could be forged)."""
    url = f"/lookup?code={codes['fresh']}"
    proxy = {"REMOTE_ADDR": "10.0.0.2"}

    def statuses(client, addresses):
        return [client.get(url, headers={"X-Forwarded-For": a}, environ_base=proxy).status_code
                for a in addresses]

    with frozen_at(MONDAY + timedelta(hours=2)):
        behind = client_for(database_url, LOOKUP_RATE_LIMIT="2/minute", TRUSTED_PROXIES=1)
        assert statuses(behind, ["203.0.113.7"] * 3) == [200, 200, 429]
        assert statuses(behind, ["203.0.113.8"] * 2) == [200, 200]  # another citizen
        direct = client_for(database_url, LOOKUP_RATE_LIMIT="2/minute")
        assert statuses(direct, ["198.51.100.1", "198.51.100.2", "198.51.100.3"]) == [200, 200, 429]
    with pytest.raises(ValueError, match="ONESTOP_TRUSTED_PROXIES"):
        client_for(database_url, TRUSTED_PROXIES="one")
