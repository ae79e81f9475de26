"""The in-app inbox: escalations and other notices addressed to the signed-in officer."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select, update

from onestop import clock
from onestop.errors import NotFound
from onestop.escalation import Notification, inbox, mark_read, unread_count
from onestop.models import Case
from onestop.web import db_session, ui_text
from onestop.web.auth import login_required
from onestop.web.shell import current_officer, error_page

bp = Blueprint("notifications", __name__)

if not any(link[0] == "notifications.index" for link in ui_text.NAV_LINKS):
    ui_text.NAV_LINKS.append(("notifications.index", "Thông báo", None, None))
ui_text.EN.setdefault("Thông báo", "Notifications")
ui_text.EN.setdefault("Chưa đọc: {n}", "Unread: {n}")
ui_text.EN.setdefault("Không có thông báo nào.", "No notifications.")
ui_text.EN.setdefault("Đánh dấu đã đọc", "Mark as read")
ui_text.EN.setdefault("Đánh dấu tất cả đã đọc", "Mark all as read")
ui_text.EN.setdefault("Chỉ xem chưa đọc", "Unread only")
ui_text.EN.setdefault("Xem tất cả", "Show all")
ui_text.EN.setdefault("Mở hồ sơ", "Open the case")


@bp.get("/notifications")
@login_required
def index():
    session = db_session()
    officer = current_officer()
    unread_only = request.args.get("unread") == "1"
    entries = inbox(session, officer, unread_only=unread_only, limit=200)
    ids = {e.case_id for e in entries if e.case_id}
    codes = (
        dict(session.execute(select(Case.id, Case.receipt_code).where(Case.id.in_(ids))).all())
        if ids
        else {}
    )
    return render_template(
        "notifications/index.html",
        entries=entries,
        codes=codes,
        unread_only=unread_only,
        unread=unread_count(session, officer),
    )


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def read(notification_id: int):
    session = db_session()
    try:
        mark_read(session, current_officer(), notification_id)
    except NotFound as exc:
        return error_page(404, exc.message(ui_text.current_language()))
    session.commit()
    return redirect(url_for("notifications.index"), 303)


@bp.post("/notifications/read-all")
@login_required
def read_all():
    session = db_session()
    session.execute(
        update(Notification)
        .where(Notification.officer_id == current_officer().id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
    )
    session.commit()
    return redirect(url_for("notifications.index"), 303)
