"""The e-mail outbox: enqueue once per Message-ID, send over a real SMTP server, never lose one."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from onestop import mail
from onestop.clock import frozen_at
from onestop.db import make_engine, make_session_factory
from onestop.errors import ValidationError
from onestop.mail import OutboxMessage, deliver_outbox, enqueue_mail
from tests.conftest import vn
from tests.smtp_server import smtp_server

NOW = vn(2026, 3, 2, 9, 0)
SUBJECT = "[Một cửa] Hồ sơ quá hạn: XA-MP-260302-0001"
BODY = (
    "Hồ sơ của bà Nguyễn Thị Hoa đã quá hạn trả kết quả 17:00 04/03/2026.\nĐề nghị chỉ đạo xử lý."
)


@pytest.fixture
def factory(database_url):
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def server():
    with smtp_server() as running:
        yield running


def _enqueue(
    factory,
    message_id="<escalation-1-case_overdue@onestop.local>",
    to="truong.phong@xa-mp.gov.vn",
    **kw,
):
    with frozen_at(NOW), factory() as session, session.begin():
        return enqueue_mail(
            session, to=to, subject=SUBJECT, body=BODY, message_id=message_id, **kw
        ).id


def test_enqueue_is_idempotent_on_the_message_id(session):
    with frozen_at(NOW):
        first = enqueue_mail(
            session,
            to="a@xa-mp.gov.vn",
            subject=SUBJECT,
            body=BODY,
            message_id="report-2026-w10@onestop.local",
        )
        again = enqueue_mail(
            session,
            to="b@xa-mp.gov.vn",
            subject="khác",
            body="khác",
            message_id="<report-2026-w10@onestop.local>",
        )
    assert again.id == first.id and again.to_addrs == "a@xa-mp.gov.vn"
    assert first.message_id == "<report-2026-w10@onestop.local>"
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1
    assert first.status == "pending"


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("to", {"to": "not an address"}),
        ("to", {"to": []}),
        ("message_id", {"message_id": "no-domain"}),
        ("subject", {"subject": "two\nlines"}),
    ],
)
def test_enqueue_refuses_malformed_messages(session, field, kwargs):
    values = {
        "to": "a@xa-mp.gov.vn",
        "subject": SUBJECT,
        "body": BODY,
        "message_id": "x@onestop.local",
        **kwargs,
    }
    with frozen_at(NOW), pytest.raises(ValidationError) as refused:
        enqueue_mail(session, **values)
    assert refused.value.params["field"] == field


def test_delivery_sends_vietnamese_utf8_mail_with_its_stable_message_id(factory, server):
    _enqueue(
        factory,
        to=["truong.phong@xa-mp.gov.vn", "chu.tich@xa-mp.gov.vn"],
        attachments=[
            (
                "Báo cáo tuần.xlsx",
                b"PK\x03\x04 excel",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        ],
    )
    with frozen_at(NOW):
        assert deliver_outbox(factory, server.settings) == 1
        assert deliver_outbox(factory, server.settings) == 0  # nothing left to send
    [received] = server.messages
    assert received.recipients == ["truong.phong@xa-mp.gov.vn", "chu.tich@xa-mp.gov.vn"]
    assert received.sender == "mot-cua@xa-mp.gov.vn"
    message = received.message
    assert message["Subject"] == SUBJECT
    assert message["Message-ID"] == "<escalation-1-case_overdue@onestop.local>"
    text = message.get_body(("plain",))
    assert text.get_content_charset() == "utf-8"
    assert text.get_content().strip() == BODY
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "Báo cáo tuần.xlsx"
    assert attachment.get_content() == b"PK\x03\x04 excel"
    with factory() as session:
        row = session.scalar(sa.select(OutboxMessage))
        assert (row.status, row.sent_at, row.attempts) == ("sent", NOW, 1)


def test_without_smtp_settings_messages_stay_pending_and_the_log_says_so(
    factory, monkeypatch, caplog
):
    monkeypatch.delenv("ONESTOP_SMTP_HOST", raising=False)
    _enqueue(factory)
    with caplog.at_level(logging.WARNING, logger="onestop.mail"):
        assert deliver_outbox(factory) == 0
    assert "not configured" in caplog.text and "1 message" in caplog.text
    with factory() as session:
        assert session.scalar(sa.select(OutboxMessage.status)) == "pending"


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("ONESTOP_SMTP_HOST", "smtp.hanoi.gov.vn")
    monkeypatch.setenv("ONESTOP_SMTP_PORT", "587")
    monkeypatch.setenv("ONESTOP_SMTP_USER", "mot-cua")
    monkeypatch.setenv("ONESTOP_SMTP_PASSWORD", "bí mật")
    monkeypatch.setenv("ONESTOP_SMTP_STARTTLS", "1")
    monkeypatch.setenv("ONESTOP_SMTP_FROM", "mot-cua@hanoi.gov.vn")
    settings = mail.SmtpSettings.from_env()
    assert settings == mail.SmtpSettings(
        host="smtp.hanoi.gov.vn",
        port=587,
        user="mot-cua",
        password="bí mật",
        starttls=True,
        sender="mot-cua@hanoi.gov.vn",
    )
    monkeypatch.setenv("ONESTOP_SMTP_PORT", "abc")
    with pytest.raises(ValueError):
        mail.SmtpSettings.from_env()


def test_a_permanently_refused_recipient_marks_the_message_failed_and_others_still_go(
    factory, server
):
    _enqueue(factory, message_id="bad@onestop.local", to="nobody@refused.invalid")
    _enqueue(factory, message_id="good@onestop.local")
    with frozen_at(NOW):
        assert deliver_outbox(factory, server.settings) == 1
    with factory() as session:
        rows = {m.message_id: m for m in session.scalars(sa.select(OutboxMessage))}
    assert rows["<bad@onestop.local>"].status == "failed"
    assert "550" in rows["<bad@onestop.local>"].last_error
    assert rows["<good@onestop.local>"].status == "sent"
    assert [m.message_id for m in server.messages] == ["<good@onestop.local>"]


def test_an_unreachable_server_raises_and_keeps_the_message_for_the_retry(factory, server):
    _enqueue(factory)
    down = mail.SmtpSettings(host="127.0.0.1", port=1, timeout=2)
    with frozen_at(NOW), pytest.raises(OSError):
        deliver_outbox(factory, down)
    with factory() as session:
        row = session.scalar(sa.select(OutboxMessage))
        assert (row.status, row.locked_until) == ("pending", None)
    with frozen_at(NOW):
        assert deliver_outbox(factory, server.settings) == 1  # the retry, at once


def test_a_crash_after_sending_resends_the_same_message_id_after_the_lease(
    factory, server, monkeypatch
):
    _enqueue(factory)
    real_mark_sent = mail._mark_sent

    def crash(*args, **kwargs):
        raise RuntimeError("killed between send and commit")

    monkeypatch.setattr(mail, "_mark_sent", crash)
    with pytest.raises(RuntimeError):
        deliver_outbox(factory, server.settings, now=NOW)
    monkeypatch.setattr(mail, "_mark_sent", real_mark_sent)
    assert deliver_outbox(factory, server.settings, now=NOW + timedelta(minutes=5)) == 0  # leased
    assert deliver_outbox(factory, server.settings, now=NOW + timedelta(minutes=15)) == 1
    ids = [m.message_id for m in server.messages]
    assert ids == ["<escalation-1-case_overdue@onestop.local>"] * 2
    with factory() as session:
        assert session.scalar(sa.select(OutboxMessage.status)) == "sent"


def test_two_concurrent_deliveries_send_each_message_once(factory, server):
    for number in range(6):
        _enqueue(factory, message_id=f"m{number}@onestop.local")
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def deliver():
        barrier.wait()
        counts.append(deliver_outbox(factory, server.settings, now=NOW))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(counts) == 6
    ids = [m.message_id for m in server.messages]
    assert sorted(ids) == sorted(f"<m{n}@onestop.local>" for n in range(6))
