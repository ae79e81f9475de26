"""The Flask app: thin views over the domain. `create_app` is the factory."""

from __future__ import annotations

import importlib
import os
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, g
from werkzeug.middleware.proxy_fix import ProxyFix

from onestop.db import instance_path, make_engine, make_session_factory
from onestop.web.extensions import csrf, limiter

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")

# Each area of the app is one blueprint ("module:attribute"), registered in this order.
BLUEPRINTS = [
    "onestop.web.public:bp",
    "onestop.web.auth:bp",
    "onestop.web.desk:bp",
    "onestop.web.case_views:bp",
    "onestop.web.admin:bp",
    "onestop.web.api:bp",
    "onestop.web.casebook:bp",
    "onestop.web.notifications:bp",
    "onestop.web.inspections:bp",
    "dashboards.views:bp",
]


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        DATABASE_URL=os.environ.get("ONESTOP_DATABASE_URL"),
        SECRET_KEY=os.environ.get("ONESTOP_SECRET_KEY") or _instance_secret(),
        JSON_AS_ASCII=False,
    )
    app.config.update(config or {})
    proxies = _trusted_proxies(app.config.get("TRUSTED_PROXIES"))
    if proxies:
        # Behind N reverse proxies the client's address and scheme are in their X-Forwarded-*
        # headers; the per-address rate limits must see the client, not the proxy. Never trust
        # those headers without a proxy: a client could pick its own address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["onestop.sessions"] = make_session_factory(engine)

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    @app.template_filter("vntime")
    def vietnam_time(instant):
        return instant.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y") if instant else ""

    csrf.init_app(app)
    # flask-limiter keeps `enabled` on its one shared object and defaults it to the last app's
    # setting: say it for every app, or one app created with limits off leaves them off for all.
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)
    for name in BLUEPRINTS:
        module_name, attribute = name.split(":")
        app.register_blueprint(getattr(importlib.import_module(module_name), attribute))
    # Last, so its after_request runs first: its headers and cookie settings are the ones used.
    from onestop.web import security

    security.init_app(app)
    return app


def _trusted_proxies(configured: object) -> int:
    raw = configured if configured is not None else os.environ.get("ONESTOP_TRUSTED_PROXIES", "0")
    try:
        count = int(str(raw).strip() or "0")
    except ValueError:
        raise ValueError(f"ONESTOP_TRUSTED_PROXIES must be a whole number, got {raw!r}") from None
    if not 0 <= count <= 5:
        raise ValueError(f"ONESTOP_TRUSTED_PROXIES must be between 0 and 5, got {count}")
    return count


def _instance_secret() -> bytes:
    """A signing key kept in the instance folder, so every worker and restart shares it."""
    path = instance_path() / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker won the race
            return path.read_bytes()
        with os.fdopen(descriptor, "wb") as file:
            file.write(os.urandom(32))
    return path.read_bytes()


def db_session():
    """The request's session (one per request, closed at teardown)."""
    from flask import current_app

    if "db_session" not in g:
        g.db_session = current_app.extensions["onestop.sessions"]()
    return g.db_session
