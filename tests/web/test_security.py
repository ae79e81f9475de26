"""Web security: headers on every response, cookies, CSRF on every form, personal data masked in
lists and kept out of logs, log-in limits shared through Redis, and no secret in the repository."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from werkzeug.routing import Rule

from onestop.privacy import (
    RedactingFilter,
    install_log_redaction,
    mask_id_number,
    mask_phone,
    redact,
)
from onestop.web.security import CONTENT_SECURITY_POLICY
from tests.factories import APPLICANT
from tests.web.support import csrf_token, login, make_client, seed, text

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "onestop" / "web" / "templates"
REDIS_URL = os.environ.get("ONESTOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")

EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": EXPECTED_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@pytest.fixture
def seeded(database_url):
    return seed(database_url, {"hoa": {"procedure_code": "HT-XNHN"}})


def _sample_url(rule: Rule) -> str:
    """The rule's path with a plausible value in each argument."""
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name].__class__.__name__
        values[name] = 1 if converter in ("IntegerConverter", "NumberConverter") else "x"
    path = rule.build(values, append_unknown=False)
    assert path is not None
    return path[1]


# --- headers -----------------------------------------------------------------------------------

def test_the_policy_is_the_documented_one():
    assert CONTENT_SECURITY_POLICY == EXPECTED_CSP


@pytest.mark.parametrize("backend", ["sqlite"])
def test_every_route_answers_with_the_security_headers(seeded):
    """Every GET route, signed in and not, including errors, redirects, JSON and static files."""
    client = make_client(seeded.url)
    rules = [r for r in client.application.url_map.iter_rules() if "GET" in (r.methods or ())]
    assert len(rules) > 10
    checked = 0
    for signed_in in (False, True):
        if signed_in:
            assert login(client, "desk").status_code == 303
        for rule in rules:
            path = _sample_url(rule)
            if rule.endpoint == "static":
                path = "/static/app.css"
            response = client.get(path)
            assert response.status_code < 500, (path, response.status_code)
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name) == value, (path, name, response.headers.get(name))
            assert "Permissions-Policy" in response.headers
            checked += 1
    assert checked == 2 * len(rules)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_html_pages_are_not_cached(seeded):
    client = make_client(seeded.url)
    assert client.get("/login").headers["Cache-Control"] == "no-store"
    login(client, "desk")
    assert client.get("/queue").headers["Cache-Control"] == "no-store"


def test_templates_carry_no_inline_script_or_style():
    """The policy forbids inline script and style: a template that used them would break."""
    problems = []
    inline = [
        (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE), "inline <script>"),
        (re.compile(r"<style\b", re.IGNORECASE), "<style> block"),
        (re.compile(r"\sstyle\s*=", re.IGNORECASE), "style= attribute"),
        (re.compile(r"\son[a-z]+\s*=", re.IGNORECASE), "event handler attribute"),
        (re.compile(r"javascript:", re.IGNORECASE), "javascript: URL"),
    ]
    for template in sorted(TEMPLATES.rglob("*.html")):
        source = template.read_text("utf-8")
        for pattern, what in inline:
            for match in pattern.finditer(source):
                # JSON data blocks do not execute and are allowed by the policy.
                if what == "inline <script>" and 'type="application/json"' in match.group(0):
                    continue
                line = source.count("\n", 0, match.start()) + 1
                problems.append(f"{template.relative_to(ROOT)}:{line}: {what}")
    assert problems == []


# --- cookies -----------------------------------------------------------------------------------

def _session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_session_cookie_is_http_only_and_same_site(seeded, monkeypatch):
    monkeypatch.delenv("ONESTOP_SECURE_COOKIES", raising=False)
    client = make_client(seeded.url)
    cookie = _session_cookie(login(client, "desk"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http://127.0.0.1 during set-up still works


@pytest.mark.parametrize("backend", ["sqlite"])
def test_secure_cookies_and_hsts_behind_tls(seeded, monkeypatch):
    monkeypatch.setenv("ONESTOP_SECURE_COOKIES", "1")
    client = make_client(seeded.url)
    response = login(client, "desk")
    cookie = _session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert client.application.config["REMEMBER_COOKIE_SECURE"] is True


# --- CSRF --------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite"])
def test_every_form_post_without_a_csrf_token_is_refused(seeded):
    """Generated from the route list: a new form route is covered the day it is added."""
    client = make_client(seeded.url, csrf=True)
    assert login(client, "desk").status_code == 303
    posts = [
        r for r in client.application.url_map.iter_rules()
        if "POST" in (r.methods or ()) and not r.rule.startswith("/api/")
    ]
    assert posts
    for rule in posts:
        response = client.post(_sample_url(rule), data={"anything": "1"})
        assert response.status_code == 400, (rule.rule, response.status_code)
        assert "CSRF" in text(response) or "phiên" in text(response).lower(), rule.rule
    # and the session is still signed in: the refusals changed nothing
    assert client.get("/queue").status_code == 200


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_token_from_another_session_is_refused(seeded):
    mine, theirs = make_client(seeded.url, csrf=True), make_client(seeded.url, csrf=True)
    token = csrf_token(text(theirs.get("/login")))
    response = mine.post("/login", data={"username": "desk", "password": "x", "csrf_token": token})
    assert response.status_code == 400


# --- personal data -----------------------------------------------------------------------------

def test_masks_keep_only_the_last_digits():
    assert mask_id_number("001190012345") == "*********345"
    assert mask_id_number("012345678") == "******678"
    assert mask_phone("0912 345 678") == "0******678"
    assert mask_phone("+84 912 345 678") == "+84******678"
    assert mask_id_number(None) is None and mask_phone("") == ""
    assert mask_phone("12") == "**"


@pytest.mark.parametrize("text_in, hidden", [
    ("CCCD 001190012345 của bà Hoa", "001190012345"),
    ("CMND 012345678.", "012345678"),
    ("gọi 0912 345 678 hoặc 0912.345.678", "345"),
    ("phone=+84912345678&x=1", "912345678"),
    ("[parameters: ('Nguyễn Thị Hoa', '001190012345', '0912345678')]", "0011900"),
])
def test_redaction_hides_id_numbers_and_phones(text_in, hidden):
    out = redact(text_in)
    assert hidden not in out
    assert "[id " in out or "[phone " in out


@pytest.mark.parametrize("text_in", [
    "case XA-MP-260302-0001 received at 2026-03-02 08:00:00,123",
    "GET /api/v1/cases?limit=50 200 1534 0.012",
    "due 17:00 02/03/2026, 12345678 bytes",
])
def test_redaction_leaves_codes_dates_and_sizes_alone(text_in):
    assert redact(text_in) == text_in


def test_a_logged_record_and_its_traceback_lose_personal_data(caplog):
    install_log_redaction()
    log = logging.getLogger("onestop.test.privacy")
    with caplog.at_level(logging.INFO, logger="onestop.test.privacy"):
        log.info("applicant %s phone %s", APPLICANT["id_number"], APPLICANT["phone"])
        try:
            raise ValueError(f"duplicate id_number {APPLICANT['id_number']}")
        except ValueError:
            log.exception("insert failed for %r", APPLICANT)
    logged = caplog.text
    assert "applicant [id *********345] phone [phone 0******678]" in logged
    assert "ValueError: duplicate id_number [id *********345]" in logged
    for secret in (APPLICANT["id_number"], APPLICANT["phone"], "0912345678"):
        assert secret not in logged


def test_the_filter_also_works_on_a_handler_of_its_own():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "id %s", ("079203001234",), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "id [id *********234]"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_sign_in_with_an_id_number_as_username_is_not_logged_in_clear(seeded, caplog):
    client = make_client(seeded.url)
    with caplog.at_level(logging.WARNING):
        response = client.post("/login", data={"username": "001190012345", "password": "wrong"})
    assert response.status_code == 401
    assert "failed sign-in" in caplog.text
    assert "001190012345" not in caplog.text


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("username, pages", [
    ("desk", ["/queue", "/cases?q=Hoa", "/desk/intake"]),
    ("head", ["/queue/unit", "/cases?q=Hoa"]),
    ("chair", ["/queue/unit", "/cases?q=Hoa"]),
])
def test_lists_show_id_numbers_and_phones_masked(seeded, username, pages):
    client = make_client(seeded.url)
    assert login(client, username).status_code == 303
    shown = 0
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        body = text(response)
        assert APPLICANT["id_number"] not in body and APPLICANT["phone"] not in body, page
        assert "0912345678" not in body, page
        shown += APPLICANT["name"] in body
    assert shown  # the case is in at least one list, masked


# --- rate limits shared through Redis ----------------------------------------------------------

_ATTEMPTS = r"""
import json, re, sys
from onestop.web import create_app
url, prefix, username, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
app = create_app({"DATABASE_URL": url, "TESTING": True, "RATELIMIT_ENABLED": True,
                  "RATELIMIT_KEY_PREFIX": prefix})
client = app.test_client()
codes = []
for _ in range(count):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    codes.append(client.post("/login", data={"username": username, "password": "wrong-password",
                                             "csrf_token": token}).status_code)
print(json.dumps(codes))
"""


def _redis_or_skip() -> None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {REDIS_URL} is unreachable: {exc}", pytrace=False)
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")


def _attempts(url: str, storage: str, prefix: str, count: int) -> list[int]:
    """`count` failed sign-ins for "desk" from a separate app instance in its own process."""
    env = {**os.environ, "ONESTOP_RATELIMIT_STORAGE_URI": storage}
    done = subprocess.run(
        [sys.executable, "-c", _ATTEMPTS, url, prefix, "desk", str(count)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("backend", ["sqlite"])
def test_two_app_instances_share_the_log_in_limit_through_redis(seeded):
    """Like two gunicorn workers: the per-username limit (10 failures a minute) is one budget."""
    _redis_or_skip()
    prefix = f"onestop-test-{uuid.uuid4().hex[:8]}"
    first = _attempts(seeded.url, REDIS_URL, prefix, 6)
    second = _attempts(seeded.url, REDIS_URL, prefix, 6)
    assert first == [401] * 6
    assert second == [401] * 4 + [429] * 2


@pytest.mark.parametrize("backend", ["sqlite"])
def test_without_shared_storage_each_instance_counts_alone(seeded):
    """The control: with per-process memory storage the second instance starts from zero."""
    prefix = f"onestop-test-{uuid.uuid4().hex[:8]}"
    first = _attempts(seeded.url, "memory://", prefix, 6)
    second = _attempts(seeded.url, "memory://", prefix, 6)
    assert first == second == [401] * 6


# --- no secret in the repository ---------------------------------------------------------------

SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    "JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+"),
    "bearer token": re.compile(r"Bearer\s+[A-Za-z0-9_\-]{30,}"),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:([^/\s@'\"{}<>]+)@"),
    "password literal": re.compile(
        r"(?i)(?<![a-z])(?:password|passwd|pwd|secret|secret_key|api_key|apikey|access_token)"
        r"(?![a-z])[\"']?\s*[:=]\s*[rbf]?[\"']([^\"'\s]{6,})[\"']"
    ),
}
# The documented demo password (README, `onestop seed --demo`) is public on purpose.
ALLOWED_VALUES = {"demo-onestop"}
# Tests and benchmarks sign in with throw-away passwords on databases they create; they guard
# nothing.
FIXTURE_FOLDERS = ("tests/", "bench/")


def _repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    return [ROOT / name for name in listed if name and (ROOT / name).is_file()]


def test_no_secret_is_in_the_repository():
    files = _repository_files()
    assert any(f.name == "README.md" for f in files)
    found = []
    for path in files:
        relative = path.relative_to(ROOT).as_posix()
        if path.suffix in (".pem", ".key", ".p12", ".pfx") or path.name in (".env", "secret_key", "id_rsa"):
            found.append(f"{relative}: a key or environment file")
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue  # binary
        content = data.decode("utf-8", "replace")
        for kind, pattern in SECRET_PATTERNS.items():
            for match in pattern.finditer(content):
                value = match.group(1) if pattern.groups else match.group(0)
                if value in ALLOWED_VALUES:
                    continue
                if kind in ("password literal", "password in a URL") and relative.startswith(FIXTURE_FOLDERS):
                    continue
                line = content.count("\n", 0, match.start()) + 1
                found.append(f"{relative}:{line}: {kind}")
    assert found == []


def test_the_secret_detector_would_catch_one(tmp_path):
    """The patterns above are not vacuous."""
    samples = {
        # assembled here so that this file does not trip its own check
        "private key": "-----BEGIN RSA " + "PRIVATE KEY-----",
        "password in a URL": "ONESTOP_DATABASE_URL=postgresql://onestop:S3cr3t-pw@db/onestop",
        "password literal": 'SMTP_PASSWORD = "hunter2-real"',
        "bearer token": "Authorization: Bearer " + "Zm9vYmFyYmF6cXV4" * 3,
    }
    for kind, sample in samples.items():
        assert SECRET_PATTERNS[kind].search(sample), kind
    assert not SECRET_PATTERNS["password literal"].search('password = os.environ["X"]')


def test_instance_folder_with_the_secret_key_is_ignored_by_git():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "instance/secret_key"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0
