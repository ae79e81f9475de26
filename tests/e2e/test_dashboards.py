"""The chairs' dashboards on the demo data, in a real browser: every page draws its charts from
the locally served plotly.js, a click on a chart lands on the narrower view, and nothing leaves
127.0.0.1 (the `page` fixture aborts and fails on any other host, and on console errors)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from onestop import clock
from onestop.calendar_store import work_calendar
from onestop.db import make_engine
from onestop.demo import DEMO_PASSWORD, seed_demo
from onestop.escalation import claim_escalations
from onestop.metrics import refresh_metrics
from onestop.migrate import upgrade
from onestop.signals import run_signals
from onestop.web import create_app
from tests.e2e.conftest import screenshot, sign_in

CHART = ".plotly-graph-div .main-svg"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[str]:
    """The app over a small demo world ending now, with its snapshots, signs and escalations
    (replaces the factory world's server for this module)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dash') / 'demo.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        seed_demo(session, seed=7, months=1, cases_per_month=80)
        refresh_metrics(session, full=True)
        today = clock.now().astimezone(work_calendar(session).zone).date()
        run_signals(session, today)
        session.commit()
    claim_escalations(sessionmaker(engine))
    engine.dispose()
    app = create_app({"DATABASE_URL": url, "TESTING": False, "WTF_CSRF_ENABLED": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="dash-e2e", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def _charts(page) -> int:
    page.wait_for_selector(CHART)
    return page.locator(".dash-figure").count()


def test_a_province_chair_opens_every_dashboard_and_drills_down_from_the_heat_map(page):
    base = page.base_url
    sign_in(page, "chutich.hanoi", DEMO_PASSWORD)
    pages = (("/dashboards/", "overview"), ("/dashboards/laggards", "laggards"),
             ("/dashboards/heatmap", "heatmap"), ("/dashboards/escalations", "escalations"))
    for path, name in pages:
        page.goto(f"{base}{path}")
        assert _charts(page) >= 1, name
        # Every figure box drew its chart.
        drawn = page.locator(".dash-figure .main-svg").count()
        assert drawn >= page.locator(".dash-figure").count()
        screenshot(page, f"40-dashboard-{name}")

    # A heat-map cell opens that sub-unit and week in the drill-down view.
    page.goto(f"{base}/dashboards/heatmap")
    page.wait_for_selector(CHART)
    cell = page.evaluate("""() => {
        const box = document.querySelector('.dash-figure');
        const trace = box.data[0];
        for (let i = 0; i < trace.z.length; i++)
            for (let j = 0; j < trace.z[i].length; j++)
                if (trace.z[i][j] !== null) return [i, j, trace.customdata[i][j]];
        return null;
    }""")
    assert cell is not None
    row, column, link = cell
    box = page.locator(".dash-figure .nsewdrag").first.bounding_box()
    weeks = len(page.evaluate("() => document.querySelector('.dash-figure').data[0].x"))
    rows = len(page.evaluate("() => document.querySelector('.dash-figure').data[0].y"))
    with page.expect_navigation():
        page.mouse.click(box["x"] + box["width"] * (column + 0.5) / weeks,
                         box["y"] + box["height"] * (row + 0.5) / rows)
    query = parse_qs(urlsplit(page.url).query)
    assert urlsplit(page.url).path == "/dashboards/drill"
    assert page.url.endswith(link)
    assert query["unit"] and query["from"] and query["to"]
    assert _charts(page) >= 1
    screenshot(page, "41-dashboard-drill-unit")

    # A bar of the procedure ranking narrows to that procedure's steps; the filters stay.
    first = page.evaluate("() => document.querySelector('.dash-figure').data[0].customdata[0]")
    bar = page.locator(".dash-figure .bars .point path").first.bounding_box()
    with page.expect_navigation():
        page.mouse.click(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
    narrower = parse_qs(urlsplit(page.url).query)
    assert page.url.endswith(first)
    assert narrower["procedure"] and narrower["unit"] == query["unit"]
    assert narrower["from"] == query["from"]
    screenshot(page, "42-dashboard-drill-procedure")


def test_a_classification_bar_lands_on_the_cases_of_that_class(page):
    base = page.base_url
    sign_in(page, "chutich.hanoi", DEMO_PASSWORD)
    page.goto(f"{base}/dashboards/")
    page.wait_for_selector(CHART)
    chart = page.locator(".dash-figure").nth(1)  # after the gauge
    index, link = chart.evaluate("""box => {
        const bar = box.data[0];
        const i = bar.y.indexOf(Math.max(...bar.y));
        return [i, bar.customdata[i]];
    }""")
    target = chart.locator(".bars .point").nth(index).locator("path").bounding_box()
    with page.expect_navigation():
        page.mouse.click(target["x"] + target["width"] / 2, target["y"] + target["height"] / 2)
    assert page.url.endswith(link) and parse_qs(urlsplit(page.url).query)["class"]
    assert "Chi tiết" in page.inner_text("h1")
    assert page.locator("table a[href^='/cases/']").count() >= 1  # its cases, each linked
    screenshot(page, "45-dashboard-class-cases")


def test_a_bar_of_the_laggards_lands_on_the_narrower_view_with_the_filters_kept(page):
    base = page.base_url
    sign_in(page, "chutich.hanoi", DEMO_PASSWORD)
    page.goto(f"{base}/dashboards/laggards")
    page.wait_for_selector(CHART)
    # The first ranking (sub-units, worst first): its top bar and the link it carries.
    first = page.locator(".dash-figure").first
    link = first.evaluate("box => box.data[0].customdata[0]")
    label = first.evaluate("box => box.data[0].y[0]")
    origin = parse_qs(urlsplit(link).query)
    bar = first.locator(".bars .point path").first.bounding_box()
    with page.expect_navigation():
        page.mouse.click(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
    landed = urlsplit(page.url)
    assert landed.path == "/dashboards/drill" and page.url.endswith(link)
    query = parse_qs(landed.query)
    assert query["unit"] == origin["unit"] and query["from"] and query["to"]
    assert "Chi tiết" in page.inner_text("h1")  # the drill-down's heading
    assert label in page.inner_text(".dash-about")  # for the sub-unit that was clicked
    assert _charts(page) >= 1
    screenshot(page, "44-dashboard-laggards-drill")


def test_an_officer_prints_their_own_scorecard_and_sees_no_unit_dashboard(page):
    base = page.base_url
    sign_in(page, "tp.minhphu", DEMO_PASSWORD)
    # Their own scorecard is one click from the navigation bar.
    with page.expect_navigation():
        page.click("nav.nav a:has-text('Phiếu đánh giá của tôi')")
    assert urlsplit(page.url).path == "/dashboards/officers/tp.minhphu"
    # Over the demo's months (the default is this year so far, maybe only days old).
    since = (date.today() - timedelta(days=62)).isoformat()
    page.goto(f"{base}/dashboards/officers/tp.minhphu?from={since}")
    assert "Phiếu đánh giá cán bộ" in page.inner_text("h1")
    assert "Tỷ lệ bước đúng hạn" in page.inner_text("main")
    assert _charts(page) >= 1  # the chart of their steps drew
    assert page.locator(".dash-figure .main-svg").count() >= page.locator(".dash-figure").count()
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.locator("form.dash-filter").is_visible()
    screenshot(page, "43-dashboard-scorecard-print")
    page.emulate_media(media="screen")
    response = page.goto(f"{base}/dashboards/")
    assert response.status == 403
