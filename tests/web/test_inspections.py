"""The inspectors' pages and the notification inbox, through the real sign-in form."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from onestop import lifecycle as lc
from onestop.admin import create_officer
from onestop.clock import frozen_at
from onestop.escalation import Notification, run_escalation
from onestop.inspections import InspectionFinding, InspectionSample, run_inspections
from onestop.models import CaseEvent
from onestop.passwords import hash_password
from tests.conftest import vn
from tests.web.support import PASSWORD, login, seeded_world, text

WEEK = date(2026, 3, 9)


@pytest.fixture
def world(request, backend, tmp_path):
    world = seeded_world(
        request,
        backend,
        tmp_path,
        {
            "marital": {"procedure_code": "HT-XNHN"},
            "birth": {"procedure_code": "HT-KS", "name": "<b>Lò Văn Mạnh</b>"},
        },
    )
    with frozen_at(vn(2026, 3, 1, 9, 0)), world.session() as session:
        for username, name in (("thanhtra", "Mai Thanh Tra"), ("thanhtra2", "Đào Văn Soát")):
            officer = create_officer(session, username, name, unit_code="HN", roles=["inspector"])
            officer.password_hash = hash_password(PASSWORD)
        session.commit()
    with frozen_at(vn(2026, 3, 9, 6, 0)), world.session() as session:
        run_inspections(session, WEEK, "bí mật", size=5)
        session.commit()
    return world


def samples(world):
    with world.session() as session:
        rows = session.scalars(select(InspectionSample).order_by(InspectionSample.id)).all()
        return [(s.id, s.inspector.username, s.case.receipt_code) for s in rows]


def signed_in(world, username):
    client = world.client()
    assert login(client, username).status_code == 303
    return client


def test_an_inspector_sees_their_sample_and_no_one_else_does(world):
    drawn = samples(world)
    assert sorted(code for _, _, code in drawn) == sorted(world.codes.values())
    mine = [(i, code) for i, who, code in drawn if who == "thanhtra"]
    theirs = [(i, code) for i, who, code in drawn if who == "thanhtra2"]
    client = signed_in(world, "thanhtra")
    page = text(client.get("/inspections"))
    assert "Tuần bắt đầu 09/03/2026" in page
    for _, code in mine:
        assert code in page
    for sample_id, code in theirs:
        assert code not in page
        refused = client.get(f"/inspections/{sample_id}")
        assert refused.status_code == 403
        assert "không được phân công cho đồng chí kiểm tra" in refused.get_data(as_text=True)
    client.get("/lang/en")
    for sample_id, _code in theirs:
        refused = client.get(f"/inspections/{sample_id}")
        assert "not assigned to you for inspection" in refused.get_data(as_text=True)
    assert signed_in(world, "civ").get("/inspections").status_code == 403
    assert world.client().get("/inspections").status_code == 303  # to the sign-in page


def test_recording_a_finding_through_the_page(world):
    sample_id, who, code = samples(world)[0]
    client = signed_in(world, who)
    page = text(client.get(f"/inspections/{sample_id}"))
    assert code in page and "Đã tiếp nhận hồ sơ" in page  # the case's history is shown
    assert "<b>Lò Văn Mạnh</b>" not in page  # text from the applicant is escaped
    refused = client.post(f"/inspections/{sample_id}", data={"verdict": "irregular", "note": " "})
    assert refused.status_code == 422 and "bắt buộc" in text(refused)
    done = client.post(
        f"/inspections/{sample_id}",
        data={"verdict": "irregular", "note": "Phiếu kiểm soát thiếu chữ ký người nhận"},
    )
    assert done.status_code == 303
    listing = text(client.get("/inspections"))
    assert f"Đã ghi nhận kết quả kiểm tra hồ sơ {code}." in listing and "Có sai phạm" in listing
    again = client.post(f"/inspections/{sample_id}", data={"verdict": "in_order"})
    assert "Có sai phạm" in text(client.get(f"/inspections/{sample_id}"))
    assert again.status_code == 409 and "đã được ghi nhận" in text(again)
    with world.session() as session:
        finding = session.scalar(select(InspectionFinding))
        event = session.get(CaseEvent, finding.event_id)
        assert (finding.verdict, event.kind, event.reason) == (
            "irregular",
            "inspection_finding",
            "Phiếu kiểm soát thiếu chữ ký người nhận",
        )
        assert (
            session.scalar(select(InspectionFinding.id).where(InspectionFinding.id != finding.id))
            is None
        )


def test_the_inbox_lists_notifications_and_marks_them_read(world):
    # An escalation for the commune's chair: the marital status case is overdue by Thursday.
    factory = world.client().application.extensions["onestop.sessions"]
    with frozen_at(vn(2026, 3, 5, 9, 0)):
        run_escalation(factory, vn(2026, 3, 5, 9, 0), settings=None)
    client = signed_in(world, "chair")
    page = text(client.get("/notifications"))
    code = world.codes["marital"]
    assert f"Hồ sơ quá hạn: {code}" in page and f"/cases/{code}" in page
    assert "Chưa đọc: " in page
    with world.session() as session:
        mine = session.scalars(
            select(Notification).where(
                Notification.officer_id == lc.find_officer(session, "chair").id
            )
        ).all()
    assert mine and all(n.read_at is None for n in mine)
    first = mine[0].id
    assert client.post(f"/notifications/{first}/read").status_code == 303
    # Nobody reads another officer's notice.
    assert signed_in(world, "head").post(f"/notifications/{first}/read").status_code == 404
    assert client.post("/notifications/read-all").status_code == 303
    with world.session() as session:
        assert all(
            n.read_at is not None
            for n in session.scalars(
                select(Notification).where(Notification.id.in_([n.id for n in mine]))
            )
        )
    assert re.search(r"Chưa đọc: 0", text(client.get("/notifications")))
    inspector_inbox = text(signed_in(world, "thanhtra").get("/notifications"))
    assert "Kiểm tra đột xuất tuần 09/03/2026" in inspector_inbox
