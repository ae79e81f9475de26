"""What every page of the app shares: the signed-in officer, the language, template helpers
and the HTML error pages. Attached once, by the `auth` blueprint. (Security headers, cookie
flags and the refusal of NUL characters are `onestop.web.security`'s.)"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Flask, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup

from onestop.accounts import session_fingerprint
from onestop.i18n import CLASSIFICATION_LABELS, STEP_LABELS, label
from onestop.models import Officer
from onestop.web import db_session, ui_text

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")

login_manager = LoginManager()
login_manager.session_protection = "strong"


class SignedIn(UserMixin):
    """The flask-login view of an officer. The session id carries a fingerprint of the password
    hash, so a new password or a disabled account ends the old sessions."""

    def __init__(self, officer: Officer) -> None:
        self.officer = officer

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return bool(self.officer.active)

    def get_id(self) -> str:
        return f"{self.officer.id}:{session_fingerprint(self.officer)}"


@login_manager.user_loader
def _load(user_id: str) -> SignedIn | None:
    officer_id, _, fingerprint = user_id.partition(":")
    if not officer_id.isdigit():
        return None
    officer = db_session().get(Officer, int(officer_id))
    if officer is None or not officer.active or session_fingerprint(officer) != fingerprint:
        return None
    return SignedIn(officer)


def current_officer() -> Officer | None:
    user = current_user
    if user is None or not user.is_authenticated:
        return None
    return user.officer


def error_page(status: int, message: str) -> tuple[str, int]:
    return render_template("error.html", status=status, message=message), status


def nav_links() -> list[dict]:
    officer = current_officer()
    if officer is None:
        return []
    held = {r.role for r in officer.roles}
    links = []
    for endpoint, text, roles, key in ui_text.NAV_LINKS:
        if endpoint not in _app_endpoints():
            continue
        if roles is not None and not held.intersection(roles):
            continue
        links.append({
            "href": url_for(endpoint), "text": ui_text.translate(text), "key": key,
            "current": request.endpoint == endpoint,
        })
    return links


def _app_endpoints():
    from flask import current_app

    return current_app.view_functions


def _vndate(instant) -> str:
    if instant is None:
        return ""
    if hasattr(instant, "astimezone") and hasattr(instant, "hour"):
        instant = instant.astimezone(VIETNAM)
    return instant.strftime("%d/%m/%Y")


def _vnlong(instant) -> str:
    """The forms' way of writing an instant: "08 giờ 30 phút, ngày 02/03/2026"."""
    if instant is None:
        return ""
    local = instant.astimezone(VIETNAM)
    return f"{local:%H} giờ {local:%M} phút, ngày {local:%d/%m/%Y}"


def _place_date(instant) -> str:
    """ "ngày 02 tháng 03 năm 2026", as the forms date themselves."""
    local = instant.astimezone(VIETNAM)
    return f"ngày {local:%d} tháng {local:%m} năm {local:%Y}"


def _lines(text: str | None) -> Markup:
    """Multi-line text, escaped, with its line breaks kept."""
    from markupsafe import escape

    return Markup("<br>").join(escape(text or "").splitlines())


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    # A working day signed in; a form left open since the morning still submits (flask-wtf's
    # default gives CSRF tokens one hour).
    if app.config.get("PERMANENT_SESSION_LIFETIME") == timedelta(days=31):  # Flask's default
        app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=12)
    if app.config.get("WTF_CSRF_TIME_LIMIT") == 3600:  # flask-wtf's default
        app.config["WTF_CSRF_TIME_LIMIT"] = 12 * 3600

    app.jinja_env.globals.update(
        _=ui_text.gettext,
        status_label=ui_text.status_label,
        state_label=ui_text.state_label,
        step_label=ui_text.step_label,
        role_label=ui_text.role_label,
        working_time=ui_text.working_time,
        mask=ui_text.mask,
        nav_links=nav_links,
        word=ui_text.word,
        state_vi=lambda code: label(CLASSIFICATION_LABELS, code, "vi") if code else "",
        weekday=ui_text.weekday,
        EVENT_LABELS=ui_text.EVENT_LABELS,
        CHANNEL_LABELS=ui_text.CHANNEL_LABELS,
        END_KIND_LABELS=ui_text.END_KIND_LABELS,
        DAY_KINDS=ui_text.DAY_KINDS,
        DURATION_UNITS=ui_text.DURATION_UNITS,
    )
    app.jinja_env.filters.update(vndate=_vndate, lines=_lines, vnlong=_vnlong, place_date=_place_date)
    # The printed forms are Vietnamese whatever the screen's language.
    app.jinja_env.filters["step_vi"] = lambda name: label(STEP_LABELS, name, "vi") if name else ""

    @app.context_processor
    def _context() -> dict:
        return {"lang": ui_text.current_language(), "me": current_officer()}

    @app.errorhandler(413)
    def _too_large(_error):
        return error_page(413, ui_text.translate("Dữ liệu gửi lên quá lớn."))

    @app.errorhandler(CSRFError)
    def _csrf(_error: CSRFError):
        return error_page(400, ui_text.translate(
            "Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ. Vui lòng tải lại trang và thử lại."
        ))
