"""The public overview and the health check."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from onestop.clock import frozen_at
from onestop.db import make_engine
from onestop.web import create_app
from tests.conftest import vn
from tests.factories import build_world


@pytest.fixture
def client(database_url):
    engine = make_engine(database_url)
    with frozen_at(vn(2026, 3, 2, 8, 0)), Session(engine) as session:
        world = build_world(session)
        world.receive("HT-XNHN", name="<script>alert(1)</script> Hoa")
        session.commit()
    engine.dispose()
    app = create_app({"DATABASE_URL": database_url, "TESTING": True})
    return app.test_client()


def test_health_answers_ok(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_overview_counts_cases_per_receiving_unit_and_offers_the_lookup(client):
    page = client.get("/").get_data(as_text=True)
    assert "UBND xã Minh Phú" in page
    assert '<td class="num">1</td>' in page
    assert 'action="/lookup"' in page
    assert "&lt;script&gt;" not in page and "<script>alert" not in page  # no names on it at all
