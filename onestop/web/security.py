"""Security headers on every response, session cookie settings, and personal data out of logs.

Registered by `create_app` through `init_app(app)`. The Content Security Policy allows no inline
script or style: every script and style sheet is a file under /static, so an injected
`<script>` or `onclick=` in stored text would not run even if escaping were ever missed.
"""

from __future__ import annotations

import os

from flask import Flask, jsonify, request
from werkzeug.datastructures import MultiDict

from onestop.i18n import translate
from onestop.privacy import install_log_redaction

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
])

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000"
SECURE_COOKIES_ENV = "ONESTOP_SECURE_COOKIES"


def secure_cookies() -> bool:
    """Cookies only over HTTPS: set ONESTOP_SECURE_COOKIES=1 behind TLS (the default is off so
    the app works on http://127.0.0.1 during set-up)."""
    return os.environ.get(SECURE_COOKIES_ENV, "") == "1"


def init_app(app: Flask) -> None:
    secure = secure_cookies()
    # Flask's session cookie and Flask-Login's remember cookie. Flask presets these keys, so a
    # stricter value given to create_app is kept and the lax defaults are raised.
    for prefix in ("SESSION_COOKIE", "REMEMBER_COOKIE"):
        app.config[f"{prefix}_HTTPONLY"] = True
        if app.config.get(f"{prefix}_SAMESITE") not in ("Lax", "Strict"):
            app.config[f"{prefix}_SAMESITE"] = "Lax"
        app.config[f"{prefix}_SECURE"] = bool(app.config.get(f"{prefix}_SECURE")) or secure
    install_log_redaction()

    @app.before_request
    def _refuse_nul():
        """A NUL character has no place in any path, query or form field of the app, and
        PostgreSQL refuses it even in a look-up: refuse the request at the door, clearly."""
        if not _carries_nul():
            return None
        from onestop.web.ui_text import current_language

        message = translate("invalid_value", current_language(), field="*", detail="NUL (\\0)")
        if request.path.startswith("/api/"):
            response = jsonify(error={"code": "invalid_value", "message": message})
            response.status_code = 400
            return response
        from onestop.web.shell import error_page

        return error_page(400, message)

    @app.after_request
    def _security_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if response.mimetype == "text/html" or response.headers.get("Set-Cookie"):
            # Officers' pages carry personal data: no copy in shared or browser caches.
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _carries_nul() -> bool:
    if "\x00" in request.path:
        return True
    form = request.form if request.mimetype != "application/json" else MultiDict()
    for values in (request.args, form):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                return True
    return False
