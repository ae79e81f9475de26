"""The escalation, signals, inspections and deadlines flows end to end under the Prefect harness,
on SQLite and PostgreSQL, with a real SMTP server; and the escalation flow killed mid-way."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from flows.deadlines import deadlines_flow
from flows.escalation import escalation_flow
from flows.inspections import inspections_flow
from flows.signals import signals_flow
from onestop import escalation as esc
from onestop import lifecycle as lc
from onestop import mail
from onestop.admin import create_officer
from onestop.calendar_store import add_calendar_exception
from onestop.clock import frozen_at
from onestop.db import make_engine, make_session_factory
from onestop.escalation import Escalation, Notification
from onestop.inspections import InspectionSample
from onestop.models import CaseEvent, Officer
from onestop.signals import Signal
from tests.conftest import vn
from tests.factories import build_world
from tests.smtp_server import smtp_server

MONDAY = vn(2026, 3, 2, 8, 0)
THURSDAY = vn(2026, 3, 5, 9, 0)  # the Monday cases are overdue: step and case levels fire


@pytest.fixture
def factory(database_url):
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def server(monkeypatch):
    with smtp_server() as running:
        for name, value in running.env().items():
            monkeypatch.setenv(name, value)
        yield running


def seed(factory, cases: int = 3) -> list[str]:
    with frozen_at(vn(2026, 3, 1, 10, 0)), factory() as session:
        build_world(session)
        create_officer(session, "thanhtra", "Mai Thanh Tra", unit_code="HN", roles=["inspector"])
        for officer in session.scalars(sa.select(Officer)):
            officer.email = f"{officer.username}@hanoi.gov.vn"
        session.commit()
    codes = []
    with frozen_at(MONDAY) as clock, factory() as session:
        desk, civ = lc.find_officer(session, "desk"), lc.find_officer(session, "civ")
        for index in range(cases):
            clock.set(MONDAY)
            case = lc.receive(
                session,
                desk,
                unit_code="XA-MP",
                procedure_code="HT-XNHN",
                applicant={"name": "Nguyễn Thị Hoa"},
            )
            clock.set(MONDAY + timedelta(hours=1, minutes=index))
            lc.hand_over(session, case, desk, civ)
            codes.append(case.receipt_code)
        session.commit()
    return codes


def claims(factory) -> list[Escalation]:
    with factory() as session:
        return session.scalars(sa.select(Escalation).order_by(Escalation.id)).all()


def inbox(factory) -> list[tuple[int, int]]:
    with factory() as session:
        return [
            tuple(r)
            for r in session.execute(sa.select(Notification.escalation_id, Notification.officer_id))
        ]


def test_escalation_flow_delivers_by_inbox_and_mail_once(factory, database_url, server):
    seed(factory)
    summary = escalation_flow(now=THURSDAY.isoformat(), database_url=database_url)
    assert summary["fired_by_level"] == {"step_overdue": 3, "case_overdue": 3}
    assert (summary["delivered"], summary["emails_sent"], summary["emails_pending"]) == (6, 6, 0)
    again = escalation_flow(
        now=(THURSDAY + timedelta(minutes=15)).isoformat(), database_url=database_url
    )
    assert (again["fired"], again["delivered"], again["emails_sent"]) == (0, 0, 0)
    assert len(inbox(factory)) == 6
    ids = sorted(m.message_id for m in server.messages)
    assert ids == sorted(e.message_id for e in claims(factory))
    subjects = {m.message["Subject"] for m in server.messages}
    assert any(s.startswith("[Một cửa] Hồ sơ quá hạn: XA-MP-") for s in subjects)


def test_escalation_flow_outside_office_hours_only_claims(factory, database_url, server):
    seed(factory, cases=1)
    saturday = vn(2026, 3, 7, 9, 0)
    summary = escalation_flow(now=saturday.isoformat(), database_url=database_url)
    assert (summary["in_office_hours"], summary["fired"], summary["delivered"]) == (False, 2, 0)
    assert inbox(factory) == [] and server.messages == []
    monday = escalation_flow(now=vn(2026, 3, 9, 8, 0).isoformat(), database_url=database_url)
    assert (monday["fired"], monday["delivered"], monday["emails_sent"]) == (0, 2, 2)


def test_escalation_flow_killed_between_claim_and_send_and_between_send_and_commit(
    factory, database_url, server, monkeypatch
):
    seed(factory)
    real_deliver, real_mark_sent = esc.deliver_escalations, mail._mark_sent

    def killed(*args, **kwargs):
        raise RuntimeError("killed")

    # 1. Killed after the claims are committed, before anything is sent.
    monkeypatch.setattr(esc, "deliver_escalations", killed)
    state = escalation_flow(now=THURSDAY.isoformat(), database_url=database_url, return_state=True)
    assert state.is_failed()
    assert len(claims(factory)) == 6 and inbox(factory) == [] and server.messages == []
    # 2. The rerun delivers; killed after the first e-mail is sent, before it is recorded.
    monkeypatch.setattr(esc, "deliver_escalations", real_deliver)
    monkeypatch.setattr(mail, "_mark_sent", killed)
    state = escalation_flow(
        now=(THURSDAY + timedelta(minutes=15)).isoformat(),
        database_url=database_url,
        return_state=True,
    )
    assert state.is_failed() and len(server.messages) == 1
    # 3. The next run sends everything left, the unrecorded one again under the same Message-ID.
    monkeypatch.setattr(mail, "_mark_sent", real_mark_sent)
    summary = escalation_flow(
        now=(THURSDAY + timedelta(minutes=30)).isoformat(), database_url=database_url
    )
    assert (summary["fired"], summary["emails_sent"], summary["emails_pending"]) == (0, 6, 0)

    rows = claims(factory)
    assert len(rows) == 6 and all(e.delivered_at is not None for e in rows)
    assert sorted(inbox(factory)) == sorted(
        (e.id, r) for e in rows for r in e.recipient_ids
    )  # none twice
    received = [m.message_id for m in server.messages]
    assert set(received) == {e.message_id for e in rows}  # every escalation arrived
    assert len(received) == 7  # one twice, with one Message-ID: never two distinct e-mails
    per_escalation = {e.id: {m for m in received if m == e.message_id} for e in rows}
    assert all(len(ids) == 1 for ids in per_escalation.values())


def test_signals_flow_replaces_its_day(factory, database_url):
    seed(factory)
    first = signals_flow(day="2026-03-06", database_url=database_url)
    assert first["by_kind"] == {"over_budget": 3, "idle": 3}
    second = signals_flow(day="2026-03-06", database_url=database_url)
    assert second == first
    with factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Signal)) == 6


def test_inspections_flow_draws_once_a_week(factory, database_url, monkeypatch):
    codes = seed(factory)
    monkeypatch.setenv("ONESTOP_INSPECTION_SEED", "bí mật")
    first = inspections_flow(week="2026-03-11", database_url=database_url)
    assert (first["week_start"], first["drawn"], first["unassigned"]) == (
        "2026-03-09",
        {"XA-MP": 3},
        0,
    )
    again = inspections_flow(week="2026-03-09", database_url=database_url)
    assert again["skipped_units"] == ["XA-MP"] and again["drawn"] == {}
    with factory() as session:
        drawn = session.scalars(sa.select(InspectionSample)).all()
        assert sorted(s.case.receipt_code for s in drawn) == sorted(codes)
        assert {s.inspector.username for s in drawn} == {"thanhtra"}


def test_deadlines_flow_records_the_calendar_change_in_each_case(factory, database_url):
    codes = seed(factory, cases=2)
    with factory() as session:
        add_calendar_exception(session, date(2026, 3, 3), "day_off", "Thông báo 123/TB-UBND")
        session.commit()
    summary = deadlines_flow(database_url=database_url)
    assert summary["changed"] == 2
    assert (
        summary["reason"] == "Lịch làm việc thay đổi: nghỉ ngày 03/03/2026 (Thông báo 123/TB-UBND)"
    )
    with factory() as session:
        for code in codes:
            case = lc.find_case(session, code)
            assert case.due_at == vn(2026, 3, 5, 17, 0)
            event = session.scalar(
                sa.select(CaseEvent).where(
                    CaseEvent.case_id == case.id, CaseEvent.kind == "due_recomputed"
                )
            )
            assert event.reason == summary["reason"]
    assert deadlines_flow(reason="Kiểm tra lại", database_url=database_url)["changed"] == 0


def test_escalation_flow_retries_database_and_smtp_errors(
    factory, database_url, server, monkeypatch
):
    seed(factory, cases=1)
    real_claim, real_connect = esc.claim_escalations, mail._connect
    failures = {"claim": 1, "connect": 1}

    def flaky_claim(*args, **kwargs):
        if failures["claim"]:
            failures["claim"] -= 1
            raise sa.exc.OperationalError(
                "SELECT 1", {}, Exception("the server closed the connection")
            )
        return real_claim(*args, **kwargs)

    def flaky_connect(settings):
        if failures["connect"]:
            failures["connect"] -= 1
            raise ConnectionRefusedError("mail server restarting")
        return real_connect(settings)

    monkeypatch.setattr(esc, "claim_escalations", flaky_claim)
    monkeypatch.setattr(mail, "_connect", flaky_connect)
    summary = escalation_flow(now=THURSDAY.isoformat(), database_url=database_url)
    assert failures == {"claim": 0, "connect": 0}
    assert (summary["fired"], summary["emails_sent"]) == (2, 2)
    assert len(server.messages) == 2
