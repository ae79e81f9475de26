"""Browser tests: Playwright driving Debian's Chromium against the app served in a thread.

Fixtures for every browser test (the officers' pages, the case book, the citizen look-up):
- `e2e_world`: the file SQLite database behind the server (`.url`), seeded with the factory
  world, passwords (`PASSWORD`), the HT-XNHN checklist and a few cases (`.codes`).
- `live_server`: the app's base URL (http://127.0.0.1:PORT), CSRF protection on.
- `browser`: one Chromium for the session; `page`: a fresh context and page per test that
  aborts, and fails the test on, any request not bound for 127.0.0.1, and fails it on any
  console error (a Content-Security-Policy violation shows up there).
- `sign_in(page, username)`, `screenshot(page, name)` (to test-artifacts/screenshots/).

Run apart from the other tests (`python -m tests` does): Playwright's sync API keeps an event
loop running. The browser is Debian's (`apt-get install chromium`), never one Playwright downloads.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from onestop.admin import create_officer
from onestop.db import make_engine
from onestop.intake import set_checklist
from onestop.migrate import upgrade
from onestop.models import Officer
from onestop.web import create_app
from tests.factories import build_world
from tests.web.support import CHECKLIST, PASSWORD, password_hash

CHROMIUM = os.environ.get("ONESTOP_CHROMIUM", "/usr/bin/chromium")
LAUNCH_FLAGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-sandbox",  # CI runs as root
    "--disable-dev-shm-usage",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
TIMEOUT_MS = 15_000

__all__ = ["PASSWORD", "screenshot", "sign_in"]


@dataclass
class E2EWorld:
    url: str
    codes: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="session")
def e2e_world(tmp_path_factory) -> E2EWorld:
    path = tmp_path_factory.mktemp("e2e") / "onestop.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    world_info = E2EWorld(url)
    with Session(engine) as session:
        world = build_world(session)
        create_officer(session, "admin", "Quản Trị Viên", unit_code="HN", roles=["admin"])
        for officer in session.query(Officer):
            officer.password_hash = password_hash()
        set_checklist(session, "HT-XNHN", CHECKLIST)
        world_info.codes["waiting"] = world.receive("HT-KH", name="Đặng Thu Trang").receipt_code
        world_info.codes["land"] = world.receive("DD-GCN", name="Trịnh Văn Cường").receipt_code
        world_info.codes["other_commune"] = world.receive(
            "HT-KS", desk="desk_sd", unit="XA-SD", name="Mạc Thị Yến"
        ).receipt_code
        session.commit()
    engine.dispose()
    return world_info


@pytest.fixture(scope="session")
def live_server(e2e_world) -> Iterator[str]:
    app = create_app({"DATABASE_URL": e2e_world.url, "TESTING": False, "WTF_CSRF_ENABLED": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="onestop-e2e", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=LAUNCH_FLAGS, headless=True,
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    foreign: list[str] = []
    errors: list[str] = []

    def route(request_route):
        host = urlsplit(request_route.request.url).hostname
        if host == "127.0.0.1":
            request_route.continue_()
        else:
            foreign.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    def console(message) -> None:
        # An HTTP error the test asked for is not a page fault; a refused script or style is.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations of irreversible actions
    page.base_url = live_server  # type: ignore[attr-defined]
    yield page
    context.close()
    assert foreign == [], f"requests left 127.0.0.1: {foreign}"
    assert errors == [], f"console errors (a CSP violation?): {errors}"


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{page.base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{page.base_url}/queue")


def sign_out(page) -> None:
    page.click("form[action='/logout'] button")
    page.wait_for_url(f"{page.base_url}/login")


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
