"""Malformed and unknown input on the dashboards (`/dashboards/*` and the Excel export): every
request ends below 500 with a clear message on the page (the `flash error` line) that names
what was wrong, and changes nothing."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from onestop.clock import frozen_at
from tests.conftest import vn
from tests.web.support import login, seeded_world, text

NOW = vn(2026, 3, 10, 10, 0)
MARCH = "from=2026-03-01&to=2026-03-31"
PAGES = ("/dashboards/", "/dashboards/laggards", "/dashboards/heatmap", "/dashboards/drill",
         "/dashboards/escalations")
EXPORT = "/dashboards/export.xlsx"
UNITS = {
    "unknown": "NOPE-404",
    "HTML": "<b>XA-MP</b>",
    "SQL": "' OR '1'='1",
    "NUL byte": "XA-MP\x00",
    "path traversal": "../../etc/passwd",
    "oversized": "X" * 10_000,
    "a unit outside the chair's": "XA-SD",
}
DATES = {
    "30 February": "2026-02-30",
    "words": "abc",
    "month 13": "2026-13-01",
    "day first": "31/03/2026",
    "year 1": "0001-01-01",
    "year 9999": "9999-12-31",
    "NUL byte": "2026-03-01\x00",
    "HTML": "<script>1</script>",
}


@pytest.fixture
def chair(request, backend, tmp_path):
    world = seeded_world(request, backend, tmp_path, {"a": {}})
    client = world.client()
    login(client, "chair")
    return client


def refused(response, status: int | tuple[int, ...], *words: str) -> str:
    """The response is `status` (or one of them) and its page says why (each of `words`
    appears in the message line)."""
    allowed = status if isinstance(status, tuple) else (status,)
    assert response.status_code in allowed, (response.status_code, text(response)[:300])
    page = text(response)
    message = re.search(r'<p class="flash error" role="alert">(.*?)</p>', page, re.S)
    assert message and message.group(1).strip(), "no message on the page"
    for word in words:
        assert word in message.group(1), (word, message.group(1))
    return message.group(1)


def test_malformed_or_foreign_unit_codes_are_refused_with_a_message(chair):
    with frozen_at(NOW):
        for code in UNITS.values():
            # A NUL byte anywhere in a request is refused before the view (400).
            status = 400 if "\x00" in code else 403
            words = () if status == 400 else ("không được xem bảng điều hành",)
            for path in PAGES:
                refused(chair.get(f"{path}?unit={quote(code)}&{MARCH}"), status, *words)
            refused(chair.get(f"{EXPORT}?page=overview&table=overdue&unit={quote(code)}"),
                    status)


@pytest.mark.parametrize("field", ["from", "to"])
def test_malformed_dates_are_refused_with_the_value_named(chair, field):
    with frozen_at(NOW):
        for name, value in DATES.items():
            other = "to=2026-03-31" if field == "from" else "from=2026-03-01"
            query = f"unit=XA-MP&{other}&{field}={quote(value)}"
            shown = value.replace("\x00", "")[:10]
            status = 400 if "\x00" in value else 422  # NUL: refused before the view
            words = () if status == 400 else ("Ngày không hợp lệ",)
            for path in (*PAGES, "/dashboards/officers/civ"):
                message = refused(chair.get(f"{path}?{query}"), status, *words)
                assert "<script>" not in message, name  # the value is shown escaped
                if status == 422 and shown.isascii() and "<" not in shown:
                    assert shown.strip() in message, (name, message)
            refused(chair.get(f"{EXPORT}?page=laggards&table=procedure&{query}"), status)


def test_a_period_running_backwards_or_over_the_cap_says_so(chair):
    with frozen_at(NOW):
        for path in (*PAGES, "/dashboards/officers/civ"):
            refused(chair.get(f"{path}?unit=XA-MP&from=2026-03-31&to=2026-03-01"), 422,
                    "31/03/2026", "01/03/2026")
            refused(chair.get(f"{path}?unit=XA-MP&from=2019-01-01&to=2026-03-01"), 422,
                    "1098 ngày")
        refused(chair.get(f"{EXPORT}?page=overview&table=classes&unit=XA-MP"
                          "&from=2026-03-31&to=2026-03-01"), 422)


def test_unknown_procedures_steps_officers_and_filters_are_refused_by_name(chair):
    drill = f"/dashboards/drill?unit=XA-MP&{MARCH}"
    with frozen_at(NOW):
        refused(chair.get(f"{drill}&procedure=NOPE-404"), 404, "NOPE-404")
        refused(chair.get(f"{drill}&procedure={quote('<b>HT</b>')}"), 404, "&lt;b&gt;HT&lt;/b&gt;")
        refused(chair.get(f"{drill}&procedure=HT-XNHN&step=99"), 404, "99")
        refused(chair.get(f"{drill}&step=9999"), 404, "9999")
        refused(chair.get(f"{drill}&officer=nobody"), 404, "nobody")
        refused(chair.get(f"{drill}&officer={quote(chr(0))}x"), 400)
        for value in ("x", "-1", "1.5", "99999", "1e3"):
            refused(chair.get(f"{drill}&step={quote(value)}"), 422, "Giá trị không hợp lệ")
        for name, value in (("class", "late"), ("level", "urgent"), ("age", "old"),
                            ("sign", "lazy"), ("class", "<i>x</i>")):
            message = refused(chair.get(f"/dashboards/escalations?unit=XA-MP&{MARCH}"
                                        f"&{name}={quote(value)}"), 422, "Giá trị không hợp lệ")
            assert "<i>" not in message
        refused(chair.get("/dashboards/officers/nobody"), 404, "Không có cán bộ này")
        refused(chair.get(f"/dashboards/officers/{'x' * 500}"), 404)
        # Known names are still fine.
        assert chair.get(f"{drill}&procedure=HT-XNHN&step=2&officer=civ").status_code == 200


def test_unknown_export_pages_and_tables_are_refused(chair):
    with frozen_at(NOW):
        for query in ("page=nope&table=overdue", "page=overview&table=nope", "page=&table=",
                      "table=overdue", f"page={quote('<b>')}&table=x",
                      "page=officer&table=summary&officer=nobody",
                      "page=officer&table=nope&officer=civ",
                      "page=drill&table=ranking&procedure=NOPE"):
            response = chair.get(f"{EXPORT}?unit=XA-MP&{MARCH}&{query}")
            assert response.status_code in (404, 422), query
            refused(response, response.status_code)
        assert chair.get(f"{EXPORT}?page=overview&table=classes&unit=XA-MP&{MARCH}"
                         ).status_code == 200
