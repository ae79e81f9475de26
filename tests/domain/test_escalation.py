"""Escalation (RULES.md section 7): each level at its moment, to the right person, exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from onestop import escalation as esc
from onestop import lifecycle as lc
from onestop import mail
from onestop.admin import create_officer
from onestop.calendar_store import work_calendar
from onestop.classification import classify_assignment, classify_case
from onestop.clock import frozen_at
from onestop.db import make_engine, make_session_factory
from onestop.escalation import Escalation, Notification, find_candidates, run_escalation
from onestop.mail import OutboxMessage
from onestop.models import Officer
from onestop.settings import Policy
from tests.conftest import vn
from tests.factories import build_world
from tests.smtp_server import smtp_server

SUNDAY = vn(2026, 3, 1, 10, 0)
MONDAY = vn(2026, 3, 2, 8, 0)
# HT-XNHN (3 working days) received Monday 08:00 is due Wednesday 17:00; handed to the civil
# status officer at 09:00, its 16-hour review step is due Wednesday 09:00.
PROMPT_TIME = vn(2026, 3, 3, 9, 0)  # 15 working hours left: inside [notice, notice + 1 day)
AT_RISK_TIME = vn(2026, 3, 3, 14, 30)  # 3.5 of the step's 16 hours left (< 25%)
STEP_OVERDUE_TIME = vn(2026, 3, 4, 9, 30)
CASE_OVERDUE_TIME = vn(2026, 3, 5, 8, 0)


@pytest.fixture
def factory(database_url):
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def server():
    with smtp_server() as running:
        yield running


def _world(factory, emails: bool = True) -> None:
    with frozen_at(SUNDAY), factory() as session:
        world = build_world(session)
        create_officer(session, "chutich.hn", "Trần Sỹ Thanh", unit_code="HN", roles=["chair"])
        if emails:
            for officer in session.scalars(sa.select(Officer)):
                officer.email = f"{officer.username}@hanoi.gov.vn"
        del world
        session.commit()


def _officer(session, username):
    return lc.find_officer(session, username)


def _receive(factory, at=MONDAY, hand_to: str | None = "civ", procedure="HT-XNHN") -> str:
    with frozen_at(at) as clock, factory() as session:
        case = lc.receive(
            session,
            _officer(session, "desk"),
            unit_code="XA-MP",
            procedure_code=procedure,
            applicant={"name": "Nguyễn Thị Hoa"},
        )
        if hand_to:
            clock.set(at + timedelta(hours=1))
            lc.hand_over(session, case, _officer(session, "desk"), _officer(session, hand_to))
        session.commit()
        return case.receipt_code


def _run(factory, at, **kwargs):
    with frozen_at(at):
        return run_escalation(factory, at, **kwargs)


def _escalations(factory):
    with factory() as session:
        return session.scalars(sa.select(Escalation).order_by(Escalation.id)).all()


def _inbox(factory):
    with factory() as session:
        rows = session.execute(
            sa.select(Officer.username, Notification.kind, Notification.title)
            .join(Officer, Officer.id == Notification.officer_id)
            .order_by(Notification.id)
        ).all()
        return [tuple(r) for r in rows]


# --- the ladder -------------------------------------------------------------------------------


def test_each_level_fires_at_its_moment_to_its_recipient_and_only_once(factory):
    _world(factory)
    code = _receive(factory)
    assert _run(factory, MONDAY + timedelta(hours=2)).fired == 0

    run = _run(factory, PROMPT_TIME)
    assert run.fired_by_level == {"extension_prompt": 1} and run.in_office_hours
    run = _run(factory, AT_RISK_TIME)
    assert run.fired_by_level == {"step_at_risk": 1}
    run = _run(factory, STEP_OVERDUE_TIME)
    assert run.fired_by_level == {"step_overdue": 1}
    run = _run(factory, CASE_OVERDUE_TIME)
    assert run.fired_by_level == {"case_overdue": 1}
    for again in (
        PROMPT_TIME,
        AT_RISK_TIME,
        STEP_OVERDUE_TIME,
        CASE_OVERDUE_TIME + timedelta(days=1),
    ):
        assert _run(factory, again).fired == 0

    inbox = _inbox(factory)
    assert [(user, kind) for user, kind, _ in inbox] == [
        ("head", "extension_prompt"),  # head of the owner's unit (Tư pháp - Hộ tịch)
        ("civ", "step_at_risk"),  # the owner
        ("head", "step_overdue"),
        ("chair", "case_overdue"),  # chair of the receiving commune
    ]
    titles = [title for _, _, title in inbox]
    assert titles[0] == f"Đề nghị xem xét văn bản xin lỗi, gia hạn (Mẫu 04): hồ sơ {code}"
    assert titles[1] == f"Sắp đến hạn: hồ sơ {code}, bước «verify»"
    assert titles[2] == f"Quá hạn bước: hồ sơ {code}, bước «verify» (Phạm Minh Châu)"
    assert titles[3] == f"Hồ sơ quá hạn: {code}"
    with factory() as session:
        prompt = session.scalar(
            sa.select(Notification).where(Notification.kind == "extension_prompt")
        )
        # Form 04 must come one working day before the due (Wednesday 17:00): by Tuesday 17:00.
        assert "chậm nhất 17:00 03/03/2026" in prompt.body
        rows = session.scalars(sa.select(Escalation).order_by(Escalation.id)).all()
        assert [(r.level, r.step_key != 0) for r in rows] == [
            ("extension_prompt", False),
            ("step_at_risk", True),
            ("step_overdue", True),
            ("case_overdue", False),
        ]
        assert all(r.delivered_at == r.fired_at for r in rows)


def test_recipients_are_read_from_the_org_chart_when_the_level_fires(factory):
    _world(factory)
    _receive(factory)
    desk_case = _receive(factory, hand_to=None)  # the desk step (2 h) stays with the desk
    with frozen_at(SUNDAY), factory() as session:
        # The head is away: an acting head holds the post; the chair's post is vacant.
        _officer(session, "head").active = False
        create_officer(
            session,
            "quyen.tp",
            "Lê Văn Quyền",
            unit_code="XA-MP-TP",
            roles=["unit_head"],
            acting=True,
        )
        _officer(session, "chair").active = False
        session.commit()
    _run(factory, STEP_OVERDUE_TIME)
    _run(factory, CASE_OVERDUE_TIME)
    with factory() as session:
        got = {
            (e.case_id, e.level): (
                session.get(lc.Unit, e.recipient_unit_id).code,
                [session.get(Officer, i).username for i in e.recipient_ids],
            )
            for e in session.scalars(sa.select(Escalation))
        }
        desk_id = lc.find_case(session, desk_case).id
    review = {level: value for (case_id, level), value in got.items() if case_id != desk_id}
    assert review["step_overdue"] == ("XA-MP-TP", ["quyen.tp"])  # acting head counts
    assert review["case_overdue"] == ("HN", ["chutich.hn"])  # vacant chair: one level up
    # The desk unit has no head of its own, the commune's head (the chair) is away and the
    # province has no unit head: the chair above heads it.
    assert got[(desk_id, "step_overdue")] == ("HN", ["chutich.hn"])


def test_a_head_is_not_escalated_to_about_their_own_step(session):
    with frozen_at(SUNDAY):
        world = build_world(session)
        create_officer(session, "pho.tp", "Đặng Văn Phó", unit_code="XA-MP-TP", roles=["unit_head"])
    chart = esc.OrgChart(session)
    unit = world.units["XA-MP-TP"].id
    both = chart.holders("unit_head", unit)
    assert both == (unit, sorted([world.head.id, lc.find_officer(session, "pho.tp").id]))
    assert chart.holders("unit_head", unit, exclude=[world.head.id])[1] == [
        lc.find_officer(session, "pho.tp").id
    ]
    # Nobody else in the unit: the post above (the commune's head, the chair).
    assert chart.holders("unit_head", world.units["XA-MP-MC"].id) == (
        world.units["XA-MP"].id,
        [world.chair.id],
    )
    assert chart.holders("chair", world.units["XA-SD"].id) == (None, [])


def test_outside_office_hours_claims_wait_and_the_next_run_in_hours_delivers(factory):
    _world(factory)
    friday = vn(2026, 3, 6, 8, 0)
    _receive(factory, at=friday, hand_to=None)  # desk step due Friday 10:00
    lunch = vn(2026, 3, 6, 12, 30)
    run = _run(factory, lunch)
    assert (run.in_office_hours, run.fired, run.delivered) == (False, 1, 0)
    assert _inbox(factory) == []
    saturday = vn(2026, 3, 7, 10, 0)
    run = _run(factory, saturday)
    assert (run.fired, run.delivered) == (0, 0)
    with factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    monday = vn(2026, 3, 9, 8, 0)
    run = _run(factory, monday)
    assert run.in_office_hours and run.delivered >= 1
    assert ("chair", "step_overdue") in [(u, k) for u, k, _ in _inbox(factory)]
    [claim] = [e for e in _escalations(factory) if e.level == "step_overdue"]
    assert (claim.fired_at, claim.delivered_at) == (lunch, monday)


def test_a_reassigned_step_does_not_fire_again_but_a_step_sent_back_does(factory):
    _world(factory)
    code = _receive(factory)
    _run(factory, AT_RISK_TIME)
    with frozen_at(AT_RISK_TIME + timedelta(minutes=10)), factory() as session:
        case = lc.find_case(session, code)
        lc.reassign(session, case, _officer(session, "head"), _officer(session, "civ2"))
        session.commit()
    assert _run(factory, AT_RISK_TIME + timedelta(minutes=20)).fired_by_level == {}
    with frozen_at(AT_RISK_TIME + timedelta(minutes=30)) as clock, factory() as session:
        case = lc.find_case(session, code)
        lc.hand_over(session, case, _officer(session, "civ2"), _officer(session, "desk"), to_step=1)
        clock.set(AT_RISK_TIME + timedelta(minutes=40))
        lc.hand_over(session, case, _officer(session, "desk"), _officer(session, "civ"))
        session.commit()
    # A new 16-hour review step: at risk again when a quarter of it is left.
    assert _run(factory, vn(2026, 3, 5, 14, 30)).fired_by_level.get("step_at_risk") == 1
    levels = [e.level for e in _escalations(factory)]
    assert levels.count("step_at_risk") == 2


def test_paused_and_extended_cases_are_not_prompted(factory):
    _world(factory)
    paused = _receive(factory)
    extended = _receive(factory)
    with frozen_at(MONDAY + timedelta(hours=3)), factory() as session:
        lc.request_supplement(
            session, lc.find_case(session, paused), _officer(session, "civ"), "Thiếu bản sao CCCD"
        )
        lc.extend(
            session,
            lc.find_case(session, extended),
            _officer(session, "head"),
            "Cần xác minh thêm",
            vn(2026, 3, 9, 17, 0),
        )
        session.commit()
    run = _run(factory, PROMPT_TIME)
    assert run.fired_by_level == {}
    # The extended case is still overdue against its original due instant (RULES.md section 3).
    assert _run(factory, CASE_OVERDUE_TIME).fired_by_level == {"step_overdue": 1, "case_overdue": 1}


def test_sql_candidates_agree_with_the_classification_at_every_hour(session):
    with frozen_at(SUNDAY):
        world = build_world(session)
    with frozen_at(MONDAY) as clock:
        plain = world.receive("HT-XNHN")
        clock.set(MONDAY + timedelta(hours=1))
        lc.hand_over(session, plain, world.desk, world.civ)
        paused = world.receive("CA-TT", desk="desk")
        clock.set(MONDAY + timedelta(hours=2))
        lc.request_supplement(session, paused, world.desk, "Thiếu giấy tờ")
        clock.set(vn(2026, 3, 4, 10, 0))
        lc.receive_supplement(session, paused, world.desk)  # the desk step's budget grew
        same_day = world.receive("HT-KS")
    calendar = work_calendar(session)
    policy = Policy()
    cases = [plain, paused, same_day]
    instant = MONDAY
    while instant < vn(2026, 3, 12, 8, 0):
        got = {(c.case_id, c.level) for c in find_candidates(session, instant, policy=policy)}
        for case in cases:
            step = case.current_assignment
            step_state = classify_assignment(step, calendar, instant, policy)
            assert ((case.id, "step_at_risk") in got) == (step_state == "at_risk"), (case, instant)
            assert ((case.id, "step_overdue") in got) == (step_state == "overdue"), (case, instant)
            overdue = classify_case(case, calendar, instant, policy) == "overdue"
            assert ((case.id, "case_overdue") in got) == overdue, (case, instant)
        instant += timedelta(minutes=43)


# --- delivery by e-mail, concurrency and crashes ------------------------------------------------


def test_escalations_are_mailed_in_vietnamese_with_a_stable_message_id(factory, server):
    _world(factory)
    code = _receive(factory)
    run = _run(factory, CASE_OVERDUE_TIME, settings=server.settings)
    assert (run.fired, run.emails_queued, run.emails_sent, run.emails_pending) == (2, 2, 2, 0)
    by_id = {m.message_id: m for m in server.messages}
    for escalation in _escalations(factory):
        received = by_id[f"<escalation-{escalation.id}-{escalation.level}@onestop.local>"]
        assert received.message["Subject"].startswith("[Một cửa] ")
        assert code in received.message["Subject"]
        assert received.message.get_body(("plain",)).get_content_charset() == "utf-8"
    chair_mail = next(m for m in server.messages if "case_overdue" in m.message_id)
    assert chair_mail.recipients == ["chair@hanoi.gov.vn"]
    assert (
        "đã quá hạn trả kết quả 17:00 04/03/2026"
        in chair_mail.message.get_body(("plain",)).get_content()
    )


def test_without_email_addresses_the_inbox_still_gets_it(factory, server):
    _world(factory, emails=False)
    _receive(factory)
    run = _run(factory, CASE_OVERDUE_TIME, settings=server.settings)
    assert run.fired == 2 and run.notifications == 2 and run.emails_queued == 0
    assert server.messages == []


def _busy_morning(factory) -> None:
    _world(factory)
    for _ in range(3):
        _receive(factory)
    for _ in range(2):
        _receive(factory, hand_to=None)
    _receive(factory, at=vn(2026, 3, 3, 8, 0))  # due Thursday 17:00: prompt and step at risk


def test_two_concurrent_runs_make_one_claim_one_notification_one_email_each(factory, server):
    _busy_morning(factory)
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def run():
        try:
            barrier.wait()
            _run(factory, CASE_OVERDUE_TIME, settings=server.settings)
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    rows = _escalations(factory)
    keys = [(e.case_id, e.step_key, e.level) for e in rows]
    assert len(keys) == len(set(keys)) == 5 * 2 + 2  # five overdue cases (step + case), one at risk
    with factory() as session:
        notifications = session.scalars(sa.select(Notification)).all()
    assert len(notifications) == sum(len(e.recipient_ids) for e in rows) == len(rows)
    ids = [m.message_id for m in server.messages]
    assert len(ids) == len(set(ids)) == len(rows)


def _assert_all_arrived_once(factory, server):
    rows = _escalations(factory)
    with factory() as session:
        inbox = session.execute(
            sa.select(Notification.escalation_id, Notification.officer_id)
        ).all()
    assert rows and all(e.delivered_at is not None for e in rows)
    assert sorted(inbox) == sorted({(e.id, r) for e in rows for r in e.recipient_ids})  # none twice
    ids = {m.message_id for m in server.messages}
    assert ids == {e.message_id for e in rows}  # every escalation mailed, one Message-ID each
    with factory() as session:
        assert mail.pending_count(session) == 0


def test_killed_between_claim_and_send_the_rerun_delivers_everything(factory, server, monkeypatch):
    _busy_morning(factory)
    real = esc.deliver_escalations

    def killed(*args, **kwargs):
        raise RuntimeError("killed between claim and send")

    monkeypatch.setattr(esc, "deliver_escalations", killed)
    with pytest.raises(RuntimeError):
        _run(factory, CASE_OVERDUE_TIME, settings=server.settings)
    assert len(_escalations(factory)) == 12 and _inbox(factory) == [] and server.messages == []
    monkeypatch.setattr(esc, "deliver_escalations", real)
    run = _run(factory, CASE_OVERDUE_TIME + timedelta(minutes=15), settings=server.settings)
    assert (run.fired, run.delivered) == (0, 12)
    _assert_all_arrived_once(factory, server)
    assert len(server.messages) == 12


def test_killed_inside_the_delivery_transaction_nothing_half_done_stays(
    factory, server, monkeypatch
):
    _busy_morning(factory)
    real = esc._queue_mails

    def killed(*args, **kwargs):
        # The batch's inbox entries are written, its e-mails not yet, nothing committed.
        raise RuntimeError("killed before the delivery commit")

    monkeypatch.setattr(esc, "_queue_mails", killed)
    with pytest.raises(RuntimeError):
        _run(factory, CASE_OVERDUE_TIME, settings=server.settings)
    assert _inbox(factory) == [] and server.messages == []  # the batch rolled back as a whole
    monkeypatch.setattr(esc, "_queue_mails", real)
    _run(factory, CASE_OVERDUE_TIME + timedelta(minutes=15), settings=server.settings)
    _assert_all_arrived_once(factory, server)


def test_killed_between_send_and_commit_resends_only_the_same_message_id(
    factory, server, monkeypatch
):
    _busy_morning(factory)
    real = mail._mark_sent

    def killed(*args, **kwargs):
        raise RuntimeError("killed between send and commit")

    monkeypatch.setattr(mail, "_mark_sent", killed)
    with pytest.raises(RuntimeError):
        _run(factory, CASE_OVERDUE_TIME, settings=server.settings)
    assert len(server.messages) == 1  # sent, not recorded
    monkeypatch.setattr(mail, "_mark_sent", real)
    _run(factory, CASE_OVERDUE_TIME + timedelta(minutes=15), settings=server.settings)
    _assert_all_arrived_once(factory, server)
    ids = [m.message_id for m in server.messages]
    assert len(ids) == 13 and len(set(ids)) == 12  # one message twice, same Message-ID
