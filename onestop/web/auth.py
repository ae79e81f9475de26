"""Signing in and out, the language switch, and the checks every officer page makes.

For the other areas of the app: `current_officer()`, `login_required`, `role_required(*roles)`
and `officer_can_see_case(officer, case)`.
"""

from __future__ import annotations

import functools
import logging
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import login_user, logout_user

from onestop.accounts import authenticate, normalise_username
from onestop.i18n import LANGUAGES
from onestop.queue import officer_can_see_case
from onestop.web import db_session, shell
from onestop.web.extensions import limiter
from onestop.web.shell import SignedIn, current_officer, error_page
from onestop.web.ui_text import LANG_COOKIE, translate

__all__ = [
    "bp", "current_officer", "login_required", "officer_can_see_case", "role_required",
]

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

# Only failed attempts count, so a whole office signing in at 08:00 behind one address is fine.
LOGIN_LIMIT_PER_ADDRESS = "30/minute"
LOGIN_LIMIT_PER_USERNAME = "10/minute"


@bp.record_once
def _attach(state) -> None:
    shell.init_app(state.app)


def _failed(response) -> bool:
    return response.status_code == 401


def _username_key() -> str:
    return "login:" + normalise_username(request.form.get("username"))


def safe_next(target: str | None) -> str | None:
    """A local path to go back to after signing in; anything pointing elsewhere is dropped."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def home_url() -> str:
    return url_for("cases.queue")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT_PER_ADDRESS, methods=["POST"], deduct_when=_failed)
@limiter.limit(LOGIN_LIMIT_PER_USERNAME, methods=["POST"], key_func=_username_key, deduct_when=_failed)
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_officer() is not None:
            return redirect(next_url or home_url())
        return render_template("auth/login.html", next=next_url, username="")
    username = normalise_username(request.form.get("username"))
    officer = authenticate(db_session(), username, request.form.get("password"))
    if officer is None:
        log.warning("failed sign-in for %r from %s", username, request.remote_addr)
        error = translate("Tên đăng nhập hoặc mật khẩu không đúng.")
        return render_template("auth/login.html", next=next_url, username=username, error=error), 401
    session.clear()  # a fresh session on sign-in: nothing carried over from before
    login_user(SignedIn(officer))
    session.permanent = True
    return redirect(next_url or home_url(), 303)


@bp.errorhandler(429)
def _too_many(_error):
    message = translate("Quá nhiều lần đăng nhập không thành công. Vui lòng thử lại sau ít phút.")
    return render_template("auth/login.html", next=None, username="", error=message), 429


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    flash(translate("Bạn đã đăng xuất."), "info")
    return redirect(url_for("auth.login"), 303)


@bp.get("/lang/<code>")
def set_language(code: str):
    if code not in LANGUAGES:
        return error_page(404, translate("Không có ngôn ngữ này."))
    target = safe_next(request.args.get("next"))
    if target is None and request.referrer:
        ref = urlsplit(request.referrer)
        if ref.netloc == request.host:
            target = safe_next(ref.path + (f"?{ref.query}" if ref.query else ""))
    response = make_response(redirect(target or url_for("public.index"), 303))
    response.set_cookie(
        LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
        secure=request.is_secure,
    )
    return response


def login_required(view):
    """The page needs a signed-in officer; others are sent to the sign-in page and back."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_officer() is None:
            target = request.full_path if request.method == "GET" else request.path
            return redirect(url_for("auth.login", next=target.rstrip("?")), 303)
        return view(*args, **kwargs)

    return wrapped


def role_required(*roles: str):
    """The page needs one of `roles`, held in any unit (views check the unit themselves)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            officer = current_officer()
            if officer is None:
                return login_required(view)(*args, **kwargs)
            if not any(r.role in roles for r in officer.roles):
                return error_page(403, translate("Trang này cần vai trò: {roles}.", roles=", ".join(roles)))
            return view(*args, **kwargs)

        return wrapped

    return decorate
