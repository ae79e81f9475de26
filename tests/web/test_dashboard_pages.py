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


def _links(page: str, path: str) -> list[dict[str, list[str]]]:
    """The query arguments of every link to `path` on the page (tables and figure JSON)."""
    import html
    import re
    from urllib.parse import parse_qs, urlsplit

    page = page.replace("\\u002f", "/").replace("\\u0026", "&")  # as figure JSON writes them
    found = re.findall(r'(?:href="|")(' + re.escape(path) + r'\?[^"]+)"', page)
    return [parse_qs(urlsplit(html.unescape(u)).query) for u in found]


def test_the_overview_leads_from_a_class_to_its_cases_and_from_a_week_to_that_week(world):
    client = signed_in(world, "chair")
    with frozen_at(NOW):
        page = text(client.get(f"/dashboards/?unit=XA-MP&{MARCH}"))
        classes = [a for a in _links(page, "/dashboards/drill") if "class" in a]
        assert {a["class"][0] for a in classes} >= {"resolved_late", "open_overdue"}
        assert all(a["unit"] == ["XA-MP"] and a["from"] == ["2026-03-01"] for a in classes)
        weeks = [a for a in _links(page, "/dashboards/") if a["from"] != ["2026-03-01"]]
        assert ["2026-03-02"] in [a["from"] for a in weeks]
        assert all(a["unit"] == ["XA-MP"] for a in weeks)
        late = text(client.get(f"/dashboards/drill?unit=XA-MP&{MARCH}&class=resolved_late"))
        assert f'href="/cases/{world.codes["a"]}"' in late
        assert f'href="/cases/{world.codes["b"]}"' not in late
        overdue = text(client.get(f"/dashboards/drill?unit=XA-MP&{MARCH}&class=open_overdue"))
        assert f'href="/cases/{world.codes["b"]}"' in overdue and "Quá hạn (đang giải quyết)" in overdue
        assert client.get(f"/dashboards/drill?unit=XA-MP&{MARCH}&class=late").status_code == 422


def test_escalations_and_signs_lead_to_their_cases_with_readable_evidence(world):
    from datetime import date

    from sqlalchemy import select

    from onestop.escalation import Escalation
    from onestop.models import Case
    from onestop.signals import Signal

    with world.session() as session:
        stuck = session.scalar(select(Case).where(Case.receipt_code == world.codes["b"]))
        handover = next(e for e in stuck.events if e.kind == "handed_over")
        session.add(Escalation(case_id=stuck.id, step_key=stuck.assignments[-1].id,
                               level="step_overdue", step_position=2, due_at=stuck.due_at,
                               owner_id=stuck.assignments[-1].owner_id, fired_at=NOW))
        session.add(Signal(
            day=date(2026, 3, 9), sign="passing_ball", kind="sent_back",
            subject=f"case:{stuck.id}", case_id=stuck.id, unit_id=stuck.unit_id,
            officer_id=stuck.assignments[-1].owner_id, computed_at=NOW,
            evidence={"events": [{"id": handover.id, "seq": handover.seq, "kind": handover.kind,
                                  "at": handover.at.isoformat()}],
                      "count": 2, "due_at": stuck.due_at.isoformat(), "holders": [1, 2]}))
        session.commit()
    client = signed_in(world, "chair")
    with frozen_at(NOW):
        page = text(client.get(f"/dashboards/escalations?unit=XA-MP&{MARCH}"))
        assert f'href="/cases/{world.codes["b"]}"' in page  # the escalated case, the sign's case
        levels = _links(page, "/dashboards/escalations")
        assert {"level": ["step_overdue"], "age": ["< 1"]}.items() <= {
            k: v for a in levels if "level" in a for k, v in a.items()}.items()
        assert any(a.get("sign") == ["passing_ball"] for a in levels)
        # Evidence in words: the handover, when, from whom to whom; no raw keys or ids.
        assert "Chuyển hồ sơ 02/03/2026 09:00, Trần Văn An → Phạm Minh Châu (bước 1 → 2)" in page
        assert "Số lần: 2" in page and "Hạn: " in page
        assert "due_at" not in page and "holders" not in page
        assert "Chuyển đi rồi trả lại (A→B→A)" in page and "Chỉ để tham khảo" in page
        narrowed = text(client.get(
            f"/dashboards/escalations?unit=XA-MP&{MARCH}&level=case_overdue&age=%3C+1"))
        assert narrowed.count(f'href="/cases/{world.codes["b"]}"') == 1  # the sign's only
        assert client.get("/dashboards/escalations?unit=XA-MP&age=old").status_code == 422
        client.set_cookie("lang", "en")
        english = text(client.get(f"/dashboards/escalations?unit=XA-MP&{MARCH}"))
        assert "Sent back (A→B→A)" in english and "Times: 2" in english
        assert "Trần Văn An → Phạm Minh Châu (step 1 → 2)" in english


def test_a_chair_drills_from_a_scorecard_step_and_an_officer_reads_their_own_plainly(world):
    with frozen_at(NOW):
        chair = text(signed_in(world, "chair").get(f"/dashboards/officers/civ?unit=XA-MP&{MARCH}"))
        drills = _links(chair, "/dashboards/drill")
        assert drills and all(a["officer"] == ["civ"] and a["step"] for a in drills)
        own = text(signed_in(world, "civ").get(f"/dashboards/officers/civ?{MARCH}"))
        assert "plotly-graph-div" in own and _links(own, "/dashboards/drill") == []


def test_a_period_over_the_cap_is_refused_with_the_maximum_in_words(world):
    client = signed_in(world, "chair")
    with frozen_at(NOW):
        long = client.get("/dashboards/?unit=XA-MP&from=2020-01-01&to=2026-03-31")
        assert long.status_code == 422
        assert "Khoảng thời gian dài nhất có thể xem là 1098 ngày (khoảng 3 năm)" in text(long)
        assert client.get("/dashboards/?unit=XA-MP&from=2023-04-01&to=2026-03-31"
                          ).status_code == 200  # three years fit
        card = client.get("/dashboards/officers/civ?from=2010-01-01&to=2026-03-31")
        assert card.status_code == 422 and "1098" in text(card)
        client.set_cookie("lang", "en")
        english = text(client.get("/dashboards/laggards?unit=XA-MP&from=2020-01-01&to=2026-03-31"))
        assert "The longest period that can be shown is 1098 days (about 3 years)" in english
        backwards = text(client.get("/dashboards/?unit=XA-MP&from=2026-03-31&to=2026-03-01"))
        assert "The start date (31/03/2026) is after the end date (01/03/2026)" in backwards
