"""The dashboard pages over HTTP: who may open them, the Excel exports, plotly.js served
locally with long caching, and the page policy that keeps scripts to 'self'."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from dashboards.views import PLOTLY_JS
from onestop import lifecycle as lc
from onestop.clock import frozen_at
from onestop.metrics import refresh_metrics
from tests.conftest import vn
from tests.web.support import login, seeded_world, text

NOW = vn(2026, 3, 10, 10, 0)
MARCH = "from=2026-03-01&to=2026-03-31"
PAGES = ("/dashboards/", "/dashboards/laggards", "/dashboards/heatmap", "/dashboards/drill",
         "/dashboards/escalations")


@pytest.fixture
def world(request, backend, tmp_path):
    world = seeded_world(request, backend, tmp_path, {"a": {}, "b": {}})
    with frozen_at(vn(2026, 3, 2, 9, 0)) as clock, world.session() as session:
        from sqlalchemy import select

        from onestop.models import Case, Officer

        desk, civ = (session.scalar(select(Officer).where(Officer.username == u))
                     for u in ("desk", "civ"))
        cases = {c.receipt_code: c for c in session.scalars(select(Case))}
        for case in cases.values():
            lc.hand_over(session, case, desk, civ)
        clock.set(vn(2026, 3, 9, 9, 0))
        lc.resolve(session, cases[world.codes["a"]], civ)  # late: due Thu 5 March
        clock.set(NOW)
        refresh_metrics(session, full=True)
        session.commit()
    return world


def signed_in(world, username):
    client = world.client()
    login(client, username)
    return client


def test_a_chair_opens_every_page_of_their_commune_with_charts_and_links(world):
    client = signed_in(world, "chair")
    with frozen_at(NOW):
        for path in PAGES:
            response = client.get(f"{path}?unit=XA-MP&{MARCH}")
            assert response.status_code == 200, path
            page = text(response)
            assert 'class="dash-figure plotly-graph-div"' in page or path.endswith("escalations")
            assert f"/dashboards/plotly/{PLOTLY_JS}" in page
            assert "cdn" not in page.lower()
            policy = response.headers["Content-Security-Policy"]
            assert "script-src 'self';" in policy and "unsafe-eval" not in policy
        overview = text(client.get(f"/dashboards/?unit=XA-MP&{MARCH}"))
        assert f'href="/cases/{world.codes["b"]}"' in overview  # the open overdue case
        drill = text(client.get(f"/dashboards/drill?unit=XA-MP&{MARCH}&procedure=HT-XNHN&step=2"))
        assert "procedure=HT-XNHN" in drill and "step=2" in drill  # filters kept in the links


def test_others_are_refused_and_a_unit_head_sees_only_their_unit(world):
    with frozen_at(NOW):
        desk = signed_in(world, "desk")
        for path in PAGES:
            assert desk.get(path).status_code == 403
        chair = signed_in(world, "chair")  # chair of XA-MP
        assert chair.get("/dashboards/?unit=HN").status_code == 403
        assert chair.get("/dashboards/?unit=XA-SD").status_code == 403
        assert chair.get("/dashboards/?unit=XA-MP-TP").status_code == 200
        head = signed_in(world, "head")  # head of XA-MP-TP
        assert head.get("/dashboards/").status_code == 200
        assert head.get("/dashboards/?unit=XA-MP").status_code == 403
        assert chair.get("/dashboards/?from=2026-13-01").status_code == 422
        assert chair.get("/dashboards/drill?step=x").status_code == 422
        anonymous = world.client()
        assert anonymous.get("/dashboards/").status_code in (302, 303)


def test_an_officer_sees_their_own_scorecard_and_not_a_colleagues(world):
    with frozen_at(NOW):
        civ = signed_in(world, "civ")
        own = civ.get(f"/dashboards/officers/civ?{MARCH}")
        assert own.status_code == 200 and "Phạm Minh Châu" in text(own)
        assert civ.get("/dashboards/officers/civ2").status_code == 403
        assert civ.get("/dashboards/officers/nobody").status_code == 404
        chair = signed_in(world, "chair")
        assert chair.get(f"/dashboards/officers/civ?{MARCH}").status_code == 200
        assert chair.get("/dashboards/officers/civ_sd").status_code == 403


def test_each_table_downloads_as_a_workbook_with_its_rows(world):
    client = signed_in(world, "chair")
    with frozen_at(NOW):
        export = "/dashboards/export.xlsx"
        response = client.get(f"{export}?page=laggards&table=procedure&unit=XA-MP&{MARCH}")
        assert response.status_code == 200
        assert response.headers["Content-Disposition"].endswith('-20260301-20260331.xlsx"')
        sheet = load_workbook(io.BytesIO(response.data)).active
        assert sheet["A4"].value == "Tên" and sheet["D4"].value == "Tỷ lệ"
        assert sheet["B5"].value == 0 and sheet["C5"].value == 2  # 0 on time of 2
        assert sheet["E5"].number_format == "0.0%"
        overdue = client.get(f"{export}?page=overview&table=overdue&unit=XA-MP&{MARCH}")
        sheet = load_workbook(io.BytesIO(overdue.data)).active
        rows = list(sheet.iter_rows(min_row=5, values_only=True))
        assert [r[0] for r in rows] == [world.codes["b"]]
        card = client.get(f"/dashboards/export.xlsx?page=officer&table=summary&officer=civ&{MARCH}")
        assert card.status_code == 200
        assert client.get("/dashboards/export.xlsx?page=overview&table=nope").status_code == 404
        assert client.get("/dashboards/export.xlsx?page=nope&table=x").status_code == 404
        desk = signed_in(world, "desk")
        assert desk.get("/dashboards/export.xlsx?page=overview&table=overdue").status_code == 403


def test_plotly_js_is_served_locally_and_cached_for_a_year(world):
    client = world.client()
    response = client.get(f"/dashboards/plotly/{PLOTLY_JS}")
    assert response.status_code == 200 and len(response.data) > 1_000_000
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert "no-store" not in response.headers["Cache-Control"]
    assert client.get("/dashboards/plotly/plotly-0.0.0.min.js").status_code == 404


def test_a_granted_dashboard_viewer_reads_their_unit_and_below_and_nothing_else(world):
    admin = signed_in(world, "admin")
    granted = admin.post("/admin/officers/desk2/grant",
                         data={"unit_code": "XA-MP", "role": "dashboard_viewer"})
    assert granted.status_code == 303  # assignable where roles are assigned
    with frozen_at(NOW):
        viewer = signed_in(world, "desk2")
        assert 'href="/dashboards/"' in text(viewer.get("/queue"))  # the nav shows the dashboards
        for path in PAGES:
            assert viewer.get(f"{path}?unit=XA-MP&{MARCH}").status_code == 200, path
        assert viewer.get(f"/dashboards/?unit=XA-MP-TP&{MARCH}").status_code == 200
        assert viewer.get(f"/dashboards/?unit=XA-SD&{MARCH}").status_code == 403
        assert viewer.get(f"/dashboards/?unit=HN&{MARCH}").status_code == 403
        assert viewer.get(f"/dashboards/officers/civ?{MARCH}").status_code == 200
        assert viewer.get("/dashboards/officers/civ_sd").status_code == 403
        export = (f"/dashboards/export.xlsx?page=laggards&table=procedure&unit=XA-MP&{MARCH}")
        assert viewer.get(export).status_code == 200
        # Not granted: the desk officer next to them still sees no dashboard.
        desk = signed_in(world, "desk")
        assert desk.get(f"/dashboards/?unit=XA-MP&{MARCH}").status_code == 403
        assert 'href="/dashboards/"' not in text(desk.get("/queue"))


def test_every_officer_has_a_link_to_their_own_scorecard(world):
    with frozen_at(NOW):
        for username in ("civ", "desk", "chair"):
            client = signed_in(world, username)
            queue = text(client.get("/queue"))
            assert 'href="/dashboards/my-scorecard"' in queue and "Phiếu đánh giá của tôi" in queue
            mine = client.get("/dashboards/my-scorecard")
            assert mine.status_code in (302, 303)
            assert mine.headers["Location"].endswith(f"/dashboards/officers/{username}")
            assert client.get(mine.headers["Location"]).status_code == 200
        english = signed_in(world, "civ")
        english.set_cookie("lang", "en")
        assert "My scorecard" in text(english.get("/queue"))
        assert world.client().get("/dashboards/my-scorecard").status_code in (302, 303)
