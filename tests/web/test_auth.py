"""Signing in and out (with CSRF protection on), rate limits, sessions, language, headers."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from onestop.accounts import set_active, set_password
from onestop.models import Officer
from tests.web.support import PASSWORD, csrf_token, login, seeded_world, text


@pytest.fixture
def world(request, backend, tmp_path):
    return seeded_world(request, backend, tmp_path)


@pytest.fixture
def client(world):
    return world.client(csrf=True)


def _change_officer(world, username, change):
    with world.session() as session:
        officer = session.scalar(select(Officer).where(Officer.username == username))
        change(officer)
        session.commit()


def test_login_page_is_vietnamese_and_carries_a_csrf_token(client):
    response = client.get("/login")
    page = text(response)
    assert response.status_code == 200
    assert "Đăng nhập" in page and "Mật khẩu" in page
    assert csrf_token(page)


def test_signing_in_goes_to_my_queue_and_shows_my_name(client):
    response = login(client, "desk")
    assert response.status_code == 303
    assert response.headers["Location"] == "/queue"
    page = text(client.get("/queue"))
    assert "Trần Văn An" in page
    assert "Hồ sơ của tôi" in page


def test_username_is_case_insensitive(client):
    assert login(client, "  DESK ").status_code == 303


def test_wrong_password_and_unknown_user_get_the_same_generic_refusal(client):
    wrong = login(client, "desk", "not-the-password")
    unknown = login(client, "nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    message = "Tên đăng nhập hoặc mật khẩu không đúng."
    assert message in text(wrong) and message in text(unknown)
    assert "nobody" not in text(unknown).replace('value="nobody"', "")
    assert client.get("/queue").status_code == 303  # still signed out


def test_disabled_account_cannot_sign_in(client, world):
    _change_officer(world, "desk", lambda o: set_active(o, False))
    response = login(client, "desk")
    assert response.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in text(response)


def test_sign_in_without_csrf_token_is_refused(client):
    client.get("/login")
    response = client.post("/login", data={"username": "desk", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/queue").status_code == 303


def test_next_goes_back_to_a_local_page_only(client):
    page = text(client.get("/login"))
    token = csrf_token(page)
    local = client.post("/login", data={
        "username": "desk", "password": PASSWORD, "csrf_token": token, "next": "/desk/intake",
    })
    assert local.headers["Location"] == "/desk/intake"
    client.post("/logout", data={"csrf_token": csrf_token(text(client.get("/queue")))})
    token = csrf_token(text(client.get("/login")))
    away = client.post("/login", data={
        "username": "desk", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x",
    })
    assert away.headers["Location"] == "/queue"


def test_pages_need_a_signed_in_officer(client):
    for path in ("/queue", "/queue/unit", "/desk/intake", "/admin/", "/cases/XA-MP-1"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["Location"].startswith("/login?next=")


def test_logout_needs_post_with_csrf_and_ends_the_session(client):
    login(client, "desk")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    token = csrf_token(text(client.get("/queue")))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert client.get("/queue").status_code == 303


def test_a_new_password_ends_sessions_signed_in_with_the_old_one(client, world):
    login(client, "desk")
    assert client.get("/queue").status_code == 200
    _change_officer(world, "desk", lambda o: set_password(o, "another-password-2"))
    assert client.get("/queue").status_code == 303


def test_disabling_an_account_ends_its_sessions(client, world):
    login(client, "desk")
    _change_officer(world, "desk", lambda o: set_active(o, False))
    assert client.get("/queue").status_code == 303


def test_roles_guard_the_desk_and_administration(client):
    login(client, "civ")
    assert client.get("/desk/intake").status_code == 403
    assert client.get("/admin/").status_code == 403
    assert client.get("/queue/unit").status_code == 403
    assert client.get("/queue").status_code == 200


@pytest.mark.parametrize("backend", ["sqlite"])  # the limiter, not the database
def test_failed_sign_ins_are_limited_per_username(world):
    client = world.client(csrf=True, RATELIMIT_ENABLED=True)
    for _ in range(10):
        assert login(client, "desk", "wrong-password").status_code == 401
    blocked = login(client, "desk")  # even the right password waits now
    assert blocked.status_code == 429
    assert "Quá nhiều lần đăng nhập" in text(blocked)
    assert login(client, "civ").status_code == 303  # another username is not blocked


@pytest.mark.parametrize("backend", ["sqlite"])  # the limiter, not the database
def test_successful_sign_ins_do_not_count_towards_the_limit(world):
    client = world.client(csrf=True, RATELIMIT_ENABLED=True)
    for _ in range(12):
        assert login(client, "desk").status_code == 303
        client.post("/logout", data={"csrf_token": csrf_token(text(client.get("/queue")))})


@pytest.mark.parametrize("backend", ["sqlite"])  # the limiter, not the database
def test_failed_sign_ins_are_limited_per_address(world):
    client = world.client(csrf=True, RATELIMIT_ENABLED=True)
    usernames = ["desk2", "civ", "civ2", "head", "vice", "chair", "land", "desk_sd", "civ_sd", "admin"]
    for i in range(30):  # three failures each: below the per-username limit
        assert login(client, usernames[i % 10], "wrong-password").status_code == 401
    assert login(client, "desk").status_code == 429


def test_session_cookie_is_http_only_and_same_site(client):
    response = login(client, "desk")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_secure_cookies_when_configured(world, monkeypatch):
    monkeypatch.setenv("ONESTOP_SECURE_COOKIES", "1")
    client = world.client(csrf=True)
    cookie = login(client, "desk").headers["Set-Cookie"]
    assert "Secure" in cookie


def test_english_switch_sets_a_cookie_and_translates_the_pages(client):
    response = client.get("/lang/en?next=/login")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "lang=en" in response.headers["Set-Cookie"]
    page = text(client.get("/login"))
    assert "Log in" in page and "Password" in page
    login(client, "desk")
    assert "My cases" in text(client.get("/queue"))
    client.get("/lang/vi")
    assert "Hồ sơ của tôi" in text(client.get("/queue"))


def test_language_switch_refuses_unknown_languages_and_foreign_targets(client):
    assert client.get("/lang/fr").status_code == 404
    response = client.get("/lang/en?next=https://evil.example/")
    assert response.headers["Location"] == "/"


def test_pages_carry_a_strict_content_security_policy_and_no_inline_script(client):
    login(client, "desk")
    for path in ("/login", "/queue", "/desk/intake"):
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        page = text(response)
        assert "<script>" not in page and "<style" not in page and " style=" not in page
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/queue").headers["Cache-Control"] == "no-store"


def test_every_text_of_the_officers_pages_has_an_english_reading():
    """Every template folder (the app's and the dashboards'), and the texts the views translate
    in Python, have an English reading."""
    import importlib
    from pathlib import Path

    import dashboards
    from onestop import web
    from onestop.web import BLUEPRINTS, ui_text

    for name in BLUEPRINTS:  # their English entries are added when they are imported
        importlib.import_module(name.split(":")[0])
    pattern = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
    folders = (Path(web.__file__).parent / "templates", Path(dashboards.__file__).parent / "templates")
    templates = [p for folder in folders for p in folder.rglob("*.html")]
    assert {p.parent.name for p in templates} >= {
        "admin", "auth", "casebook", "cases", "desk", "forms", "inspections", "notifications",
        "dashboards", "templates"}
    texts = {m.group(1) or m.group(2) for p in templates for m in pattern.finditer(p.read_text())}
    # In Python: ui_text.translate("…"), and bare translate("…") / _t("…") where the module
    # takes them from ui_text (onestop.i18n.translate takes message keys, not texts).
    literal = r"""\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')"""
    for source in (Path(web.__file__).parent.glob("*.py"), Path(dashboards.__file__).parent.glob("*.py")):
        for path in source:
            code = path.read_text()
            if path.name == "ui_text.py":
                continue
            calls = [r"ui_text\.translate"]
            if re.search(r"from onestop\.web\.ui_text import [^\n]*\btranslate\b", code):
                calls += [r"(?<![.\w])translate", r"(?<![.\w])_t"]
            found = re.compile(f"(?:{'|'.join(calls)})" + literal)
            texts |= {m.group(1) or m.group(2) for m in found.finditer(code)}
    tables = (ui_text.EVENT_LABELS, ui_text.CHANNEL_LABELS, ui_text.END_KIND_LABELS,
              ui_text.DAY_KINDS, ui_text.DURATION_UNITS, ui_text.FIELD_LABELS)
    texts |= {value for table in tables for value in table.values()} | set(ui_text.WEEKDAYS)
    from dashboards.views import TITLES
    from onestop.web.inspections import VERDICT_LABELS

    texts |= set(TITLES.values()) | set(VERDICT_LABELS.values())  # looked up as _(table[key])
    assert len(texts) > 400
    assert sorted(t for t in texts if t not in ui_text.EN) == []
