"""A corpus of malicious and malformed input against every form field, API field, query
parameter and upload: oversized (10 MB), NUL and control characters, invalid UTF-8, NFD
Vietnamese, HTML and SQL, absurd dates, negative numbers and unknown codes.

Every request must end below 500. A refusal must say why (a JSON `error.message`, or the page's
`flash error` line). An accepted value must be stored safely: as typed but NFC, never with a NUL
or control character, never in NFD, and shown escaped. Each request runs in a transaction that
is rolled back, so the corpus neither grows the world nor depends on its order.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from onestop.clock import frozen_at
from onestop.schema import metadata
from onestop.web import create_app
from tests.web.support import PASSWORD
from tests.web.test_authorization_matrix import CAST, PROBED_AT, RolledBack, _seed

MB10 = 10 * 1024 * 1024


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# --- the corpus ---------------------------------------------------------------------------------

TEXT = {
    "oversized 10 MB": "A" * MB10,
    "over every length limit": "Ư" * 25_000,
    "NUL byte": "Nguyễn\x00Hoa",
    "control characters": "Hoa\x1b[2J\x07",
    "HTML": '<script>alert("onestop")</script><img src=x onerror=alert(1)>',
    "SQL": "Hoa'); DROP TABLE cases; --",
    "NFD Vietnamese": nfd("Nguyễn Thị Hoà Ước"),
    "blank": "   ",
}
CODE = {
    "unknown": "NOPE-404",
    "HTML": "<b>HT-XNHN</b>",
    "SQL": "' OR '1'='1",
    "NUL byte": "HT\x00XNHN",
    "NFD Vietnamese": nfd("XÃ-MỚI"),
    "path traversal": "../../etc/passwd",
    "over every length limit": "X" * 25_000,
    "oversized 10 MB": "X" * MB10,
    "blank": " ",
}
NUMBER = {
    "negative": "-1",
    "zero": "0",
    "huge": "9" * 40,
    "fraction": "1.5",
    "NaN": "NaN",
    "exponent": "1e9",
    "HTML": "<b>1</b>",
    "NUL byte": "1\x00",
    "blank": "",
}
DATE = {
    "year 1": "0001-01-01",
    "year 9999": "9999-12-31",
    "31 February": "2026-02-31",
    "31/02/2026": "31/02/2026",
    "month 13": "2026-13-01",
    "hour 25": "2026-03-10T25:00",
    "negative year": "-0001-01-01",
    "year 275760": "+275760-09-13",
    "words": "ngày mai",
    "NUL byte": "2026-03-10\x00",
    "HTML": "<i>2026-03-10</i>",
    "blank": "",
    "oversized 10 MB": "9" * MB10,
}
# The same kinds as JSON values, for the API.
JSON_NUMBER = {
    "negative": -1, "zero": 0, "2**64": 2**64, "fraction": 1.5, "string": "3", "boolean": True,
    "list": [3], "object": {"n": 3},
}
JSON_DATE = {
    **{k: v for k, v in DATE.items() if k != "oversized 10 MB"},
    "year 9999 with zone": "9999-12-31T23:59:59+07:00",
    "year 1 with zone": "0001-01-01T00:00:00+00:00",
    "far offset": "2026-03-10T17:00:00+14:00",
    "naive": "2026-03-10T17:00:00",
    "number": 20260310,
}
JSON_TEXT = {**TEXT, "lone surrogate": "Hoa\ud800", "number": 42, "list": ["Hoa"], "null": None}
KINDS = {"text": TEXT, "code": CODE, "number": NUMBER, "date": DATE}
JSON_KINDS = {"text": JSON_TEXT, "code": {**CODE, "number": 7, "list": ["x"]},
              "number": JSON_NUMBER, "date": JSON_DATE}
# Query strings travel in the request line: gunicorn refuses lines over 4094 bytes (414), so
# the in-process corpus sends 64 KB there instead of 10 MB.
QUERY_KINDS = {
    kind: {k: ("A" * 65_536 if k.startswith("oversized") else v) for k, v in values.items()}
    for kind, values in KINDS.items()
}
RAW_HTML = '<script>alert("onestop")'
MUST_NOT_BE_STORED = {"NUL byte", "control characters", "oversized 10 MB", "lone surrogate"}
STORED_AS_TYPED = {"HTML", "SQL", "NFD Vietnamese"}
CHECKED_WHEN_STORED = MUST_NOT_BE_STORED | STORED_AS_TYPED | {"over every length limit"}


# --- the targets --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    name: str
    actor: str  # a CAST key, or "anonymous"
    method: str
    path: str  # formatted with the world's codes
    base: dict[str, Any]  # a valid request
    fields: dict[str, str]  # field -> kind; "a.b" and "a.0.b" reach into JSON
    api: bool = False
    query: bool = False  # the fields go in the query string
    stored: frozenset[str] = frozenset()  # fields an accepted value must be found stored under
    shown_on: str | None = None  # a page that shows an accepted value (escaped)


APPLICANT = {
    "name": "Đặng Thị Thu", "id_number": "001190099999", "phone": "0912345678",
    "address": "Thôn Đông, xã Minh Phú", "email": "thu@example.vn",
}
WEB = [
    Target("desk intake", "desk@same", "POST", "/desk/intake/HT-XNHN",
           {"outcome": "receive", **APPLICANT, "doc_1": "on", "doc_2": "on"},
           {"name": "text", "id_number": "code", "phone": "code", "address": "text",
            "email": "text", "extra_documents": "text", "doc_1_count": "number",
            "doc_1_form": "code", "unit_code": "code", "channel": "code", "outcome": "code"},
           stored=frozenset({"name", "address", "extra_documents"})),
    Target("desk intake, guide", "desk@same", "POST", "/desk/intake/HT-XNHN",
           {"outcome": "guide", **APPLICANT, "doc_1": "on", "reason": "Thiếu giấy tờ",
            "missing": "Bản sao Căn cước"},
           {"reason": "text", "missing": "text"}, stored=frozenset({"reason", "missing"})),
    Target("request a supplement", "civil_status_officer@same", "POST",
           "/cases/{progress}/actions/request_supplement",
           {"reason": "Thiếu bản sao", "documents": "Bản sao Căn cước", "expected_version": "{v_progress}"},
           {"reason": "text", "documents": "text", "expected_version": "number"},
           stored=frozenset({"reason", "documents"}), shown_on="/cases/{progress}"),
    Target("hand over", "civil_status_officer@same", "POST", "/cases/{progress}/actions/hand_over",
           {"target": "3:{vice_id}", "note": "Chuyển ký", "expected_version": "{v_progress}"},
           {"target": "code", "note": "text"}, stored=frozenset({"note"}),
           shown_on="/cases/{progress}"),
    Target("extend", "unit_head@same", "POST", "/cases/{progress}/actions/extend",
           {"reason": "Chờ xác minh", "new_due_at": "2026-03-12T17:00", "expected_version": "{v_progress}"},
           {"reason": "text", "new_due_at": "date"}, stored=frozenset({"reason"}),
           shown_on="/cases/{progress}"),
    Target("stop", "civil_status_officer@same", "POST", "/cases/{progress}/actions/stop",
           {"reason": "Dừng", "legal_ground": "Điều 5", "expected_version": "{v_progress}"},
           {"reason": "text", "legal_ground": "text"}, stored=frozenset({"reason"})),
    Target("withdraw", "desk@same", "POST", "/cases/{progress}/actions/withdraw",
           {"reason": "Công dân rút hồ sơ", "expected_version": "{v_progress}"},
           {"reason": "text", "expected_version": "number"}, stored=frozenset({"reason"}),
           shown_on="/cases/{progress}"),
    Target("refuse", "civil_status_officer@same", "POST", "/cases/{progress}/actions/refuse",
           {"reason": "Không đủ điều kiện", "expected_version": "{v_progress}"},
           {"reason": "text", "expected_version": "number"}, stored=frozenset({"reason"}),
           shown_on="/cases/{progress}"),
    Target("resolve", "civil_status_officer@same", "POST", "/cases/{progress}/actions/resolve",
           {"outcome": "approved", "note": "Đã ký", "expected_version": "{v_progress}"},
           {"outcome": "code", "note": "text", "to_officer": "number", "expected_version": "number"},
           stored=frozenset({"note"}), shown_on="/cases/{progress}"),
    Target("return", "desk@same", "POST", "/cases/{resolved}/actions/return",
           {"note": "Đã trả", "satisfied": "yes", "comment": "Nhanh", "expected_version": "{v_resolved}"},
           {"note": "text", "satisfied": "code", "comment": "text", "expected_version": "number"},
           stored=frozenset({"note", "comment"}), shown_on="/cases/{resolved}"),
    Target("pause for payment", "civil_status_officer@same", "POST",
           "/cases/{progress}/actions/pause_payment",
           {"note": "Nộp lệ phí", "expected_version": "{v_progress}"},
           {"note": "text", "expected_version": "number"}, stored=frozenset({"note"}),
           shown_on="/cases/{progress}"),
    Target("resume after payment", "civil_status_officer@same", "POST",
           "/cases/{payment}/actions/resume_payment",
           {"note": "Đã nộp", "expected_version": "{v_payment}"},
           {"note": "text", "expected_version": "number"}, stored=frozenset({"note"}),
           shown_on="/cases/{payment}"),
    Target("reassign", "unit_head@same", "POST", "/cases/{progress}/actions/reassign",
           {"to_officer": "{civ2_id}", "note": "Nghỉ phép", "expected_version": "{v_progress}"},
           {"to_officer": "number", "note": "text"}),
    Target("complaint at the desk", "desk@same", "POST", "/cases/{progress}/actions/complaint",
           {"text": "Chậm", "expected_version": "{v_progress}"}, {"text": "text"},
           stored=frozenset({"text"})),
    Target("rating at the desk", "desk@same", "POST", "/cases/{returned}/actions/rate",
           {"satisfied": "yes", "comment": "Tốt", "expected_version": "{v_returned}"},
           {"satisfied": "code", "comment": "text"}, stored=frozenset({"comment"})),
    Target("unknown action", "desk@same", "POST", "/cases/{progress}/actions/{value}",
           {"expected_version": "{v_progress}"}, {"action": "code"}),
    Target("look-up", "anonymous", "POST", "/lookup", {"code": "{progress}", "phone4": "5678"},
           {"code": "code", "phone4": "number"}),
    Target("look-up complaint", "anonymous", "POST", "/lookup/complaint",
           {"code": "{progress}", "phone4": "5678", "text": "Chậm quá"}, {"text": "text"},
           stored=frozenset({"text"})),
    Target("look-up rating", "anonymous", "POST", "/lookup/rate",
           {"code": "{returned}", "phone4": "5678", "satisfied": "no", "comment": "Lâu"},
           {"comment": "text", "satisfied": "code"}, stored=frozenset({"comment"})),
    Target("log in", "anonymous", "POST", "/login", {"username": "desk", "password": PASSWORD},
           {"username": "text", "password": "text"}),
    Target("add a unit", "admin@parent", "POST", "/admin/units",
           {"code": "XA-MP-VH", "name": "Văn hóa", "kind": "department", "parent_code": "XA-MP"},
           {"code": "code", "name": "text", "kind": "code", "parent_code": "code",
            "effective_from": "date", "effective_to": "date"},
           stored=frozenset({"name"}), shown_on="/admin/units"),
    Target("add an officer", "admin@parent", "POST", "/admin/officers",
           {"username": "moi", "full_name": "Cán Bộ Mới", "unit_code": "XA-MP-MC", "role": "desk",
            "password": "mật-khẩu-mới-123", "email": "moi@example.vn"},
           {"username": "code", "full_name": "text", "unit_code": "code", "role": "code",
            "password": "text", "email": "text"},
           stored=frozenset({"full_name"}), shown_on="/admin/officers"),
    Target("grant a role", "admin@parent", "POST", "/admin/officers/desk2/grant",
           {"unit_code": "XA-MP-TP", "role": "civil_status_officer"},
           {"unit_code": "code", "role": "code"}),
    Target("set a password", "admin@parent", "POST", "/admin/officers/desk2/password",
           {"password": "mật-khẩu-mới-456"}, {"password": "text"}),
    Target("set a checklist", "admin@parent", "POST", "/admin/procedures/HT-XNHN/checklist",
           {"documents": "Tờ khai | bản chính\nBản sao Căn cước | bản sao | 2"},
           {"documents": "text"}, stored=frozenset({"documents"})),
    Target("add a day off", "admin@parent", "POST", "/admin/calendar",
           {"day": "2026-12-31", "kind": "day_off", "legal_reference": "Thông báo 1/TB-BNV"},
           {"day": "date", "kind": "code", "legal_reference": "text"},
           stored=frozenset({"legal_reference"}), shown_on="/admin/calendar"),
    Target("find a case", "desk@same", "GET", "/cases", {"q": "Hoa"}, {"q": "text"}, query=True),
    Target("case book", "desk@same", "GET", "/casebook", {"unit": "XA-MP"},
           {"unit": "code", "from": "date", "to": "date"}, query=True),
    Target("case book export", "desk@same", "GET", "/casebook/export.xlsx", {"unit": "XA-MP"},
           {"unit": "code", "from": "date", "to": "date"}, query=True),
    Target("public look-up page", "anonymous", "GET", "/lookup", {}, {"code": "code"}, query=True),
    Target("procedure picker", "desk@same", "GET", "/desk/intake", {}, {"q": "text"}, query=True),
    Target("a case page", "desk@same", "GET", "/cases/{value}", {}, {"code": "code"}),
    Target("an intake form", "desk@same", "GET", "/desk/intake/{value}", {}, {"procedure": "code"}),
    Target("a form", "desk@same", "GET", "/cases/{progress}/forms/{value}", {}, {"number": "code"}),
]
API = [
    Target("API receive", "desk@same", "POST", "/api/v1/cases",
           {"procedure_code": "HT-XNHN", "applicant": APPLICANT,
            "documents": [{"name": "Tờ khai", "form": "original", "count": 1}]},
           {"procedure_code": "code", "unit": "code", "channel": "code",
            "applicant.name": "text", "applicant.address": "text", "applicant.id_number": "code",
            "applicant.phone": "code", "applicant.email": "text", "documents.0.name": "text",
            "documents.0.form": "code", "documents.0.count": "number"},
           api=True, stored=frozenset({"applicant.name", "applicant.address", "documents.0.name"})),
    Target("API supplement request", "civil_status_officer@same", "POST",
           "/api/v1/cases/{progress}/supplement-request", {"reason": "Thiếu bản sao"},
           {"reason": "text", "documents.0.name": "text", "expected_version": "number"},
           api=True, stored=frozenset({"reason"})),
    Target("API hand over", "civil_status_officer@same", "POST", "/api/v1/cases/{progress}/handover",
           {"to_officer": "vice", "to_step": 3},
           {"to_officer": "code", "to_step": "number", "note": "text"}, api=True,
           stored=frozenset({"note"})),
    Target("API extension", "unit_head@same", "POST", "/api/v1/cases/{progress}/extension",
           {"reason": "Chờ xác minh", "new_due_at": "2026-03-12"},
           {"reason": "text", "new_due_at": "date"}, api=True, stored=frozenset({"reason"})),
    Target("API stop", "civil_status_officer@same", "POST", "/api/v1/cases/{progress}/stop",
           {"reason": "Dừng"}, {"reason": "text", "legal_ground": "text"}, api=True,
           stored=frozenset({"reason"})),
    Target("API resolve", "civil_status_officer@same", "POST", "/api/v1/cases/{progress}/resolve",
           {"outcome": "approved"}, {"outcome": "code", "note": "text", "to_officer": "code"},
           api=True),
    Target("API list", "desk@same", "GET", "/api/v1/cases", {},
           {"status": "code", "unit": "code", "owner": "code", "overdue": "code",
            "limit": "number", "offset": "number"}, api=True, query=True),
    Target("API read", "desk@same", "GET", "/api/v1/cases/{value}", {}, {"code": "code"}, api=True),
]


# --- the harness ----------------------------------------------------------------------------------

@dataclass
class Bench:
    app: Any
    db: RolledBack
    values: dict[str, str]
    tokens: dict[str, str]
    clients: dict[str, Any] = field(default_factory=dict)
    seeded: set[str] | None = None

    def baseline(self, connection) -> set[str]:
        """The strings of the world as seeded: every request starts from it (rolled back)."""
        if self.seeded is None:
            with self.db.engine.connect() as fresh:
                self.seeded = set(stored_strings(fresh))
        return self.seeded

    def client(self, actor: str):
        if actor not in self.clients:
            client = self.app.test_client()
            if actor != "anonymous":
                with self.db.request():
                    response = client.post("/login", data={"username": CAST[actor][0], "password": PASSWORD})
                assert response.status_code == 303, actor
            self.clients[actor] = client
        return self.clients[actor]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def bench(request, tmp_path_factory):
    if request.param == "sqlite":
        import shutil

        path = tmp_path_factory.mktemp("bad-input") / "onestop.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_schema_factory")()
    world = _seed(url)
    app = create_app({
        "DATABASE_URL": url, "TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
    })
    db = RolledBack(app, url)
    values = dict(world.values)
    values.update({f"v_{name}": str(version) for name, version in world.versions.items()})
    with frozen_at(PROBED_AT):
        yield Bench(app, db, values, world.tokens)
    db.close()


def _set(body: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A deep copy of `body` with the field at `dotted` ("a.0.b") set to `value`."""
    import copy

    body = copy.deepcopy(body)
    keys = dotted.split(".")
    node: Any = body
    for key in keys[:-1]:
        if key.isdigit():
            node = node[int(key)]
        else:
            node = node.setdefault(key, {} if not keys[keys.index(key) + 1].isdigit() else [{}])
    last = keys[-1]
    node[int(last) if last.isdigit() else last] = value
    return body


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str) and "{" in value and len(value) < 200:
        return value.format(**values)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


_FLASH_ERROR = re.compile(r'<p class="flash error"[^>]*>\s*([^<]+?)\s*</p>')


def refusal_message(response) -> str | None:
    """The clear message a refusal must carry: the JSON error's, or the page's error line."""
    if response.mimetype == "application/json":
        error = (response.get_json(silent=True) or {}).get("error") or {}
        return error.get("message") if error.get("code") else None
    page = response.get_data(as_text=True)
    match = _FLASH_ERROR.search(page)
    if match:
        return match.group(1)
    # The router's own pages (no route matched the path or method) say so in plain words.
    router = re.search(r"<h1>(Not Found|Method Not Allowed)</h1>", page)
    return router.group(1) if router else None


def stored_strings(connection) -> list[str]:
    """Every string in every text and JSON column of the database, as this transaction sees it."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (sa.String, sa.Text, sa.JSON))]
        if columns:
            for row in connection.execute(sa.select(*columns)):
                for value in row:
                    walk(value)
    return found


def send(bench: Bench, target: Target, field_name: str | None, value: Any):
    """The target's valid request with `field_name` set to `value` (None: the request as is)."""
    from urllib.parse import quote

    values = bench.values
    base = _fill(target.base, values)
    if "{value}" in target.path:  # the value is a path segment
        head, tail = target.path.split("{value}")
        path = _fill(head, values) + quote(str(value), safe="") + _fill(tail, values)
        field_name = None
    else:
        path = _fill(target.path, values)
    if target.api:
        client = bench.app.test_client()
        headers = {"Authorization": f"Bearer {bench.tokens[target.actor]}"}
        if target.query:
            query = {**base, field_name: value} if field_name else base
            return client.open(path, method=target.method, query_string=query, headers=headers)
        body = _set(base, field_name, value) if field_name else base
        return client.open(path, method=target.method, json=body, headers=headers)
    client = bench.client(target.actor)
    data = {**base, field_name: value} if field_name else base
    if target.query:
        return client.open(path, method=target.method, query_string=data)
    return client.open(path, method=target.method, data=data)


def _cases() -> list[tuple[Target, str, str]]:
    return [(t, name, kind) for t in WEB + API for name, kind in t.fields.items()]


@pytest.mark.parametrize(
    ("target", "field_name", "kind"), _cases(),
    ids=[f"{t.name}: {name}" for t, name, _ in _cases()],
)
def test_every_field_survives_the_corpus(bench, target, field_name, kind):
    corpus = (JSON_KINDS if target.api and not target.query else QUERY_KINDS if target.query else KINDS)[kind]
    problems = []
    for label, value in corpus.items():
        with bench.db.request() as connection:
            response = send(bench, target, field_name, value)
            status = response.status_code
            if status >= 500:
                problems.append(f"{label}: {status}")
                continue
            if status >= 400:
                if not refusal_message(response):
                    problems.append(f"{label}: {status} without a clear message")
                continue
            if label in CHECKED_WHEN_STORED:
                before = bench.baseline(connection)
                new = [s for s in stored_strings(connection) if s not in before]
                problems += _check_stored(label, value, field_name, target, new)
            if target.shown_on:  # the page that shows the accepted value still works, escaped
                page = bench.client(target.actor).get(_fill(target.shown_on, bench.values))
                if page.status_code >= 500:
                    problems.append(f"{label}: {target.shown_on} answers {page.status_code}")
                if RAW_HTML in page.get_data(as_text=True):
                    problems.append(f"{label}: not escaped on {target.shown_on}")
    assert problems == [], f"{target.method} {target.path} field {field_name}"


def _check_stored(label: str, value: Any, field_name: str, target: Target, new: list[str]) -> list[str]:
    if not isinstance(value, str):
        return []
    problems = []
    if label in MUST_NOT_BE_STORED or label == "over every length limit":
        if any(value in s or (len(value) > 20 and value[:20] in s) for s in new):
            problems.append(f"{label}: accepted and stored")
        if any("\x00" in s or "\x1b" in s for s in new):
            problems.append(f"{label}: a control character was stored")
    if label == "NFD Vietnamese" and any(value in s for s in new):
        problems.append(f"{label}: stored in NFD, not NFC")
    if label in STORED_AS_TYPED and field_name in target.stored:
        typed = unicodedata.normalize("NFC", value).strip()
        if not any(typed in s for s in new):
            problems.append(f"{label}: accepted but not stored as typed (NFC)")
    return problems


@pytest.mark.parametrize("target", [t for t in WEB + API if "{value}" not in t.path],
                         ids=lambda t: t.name)
def test_every_base_request_is_accepted(bench, target):
    """Otherwise the corpus would only ever meet a refusal it did not cause."""
    with bench.db.request():
        response = send(bench, target, None, None)
    assert response.status_code < 400, (response.status_code, refusal_message(response))


# --- transport-level malformations -------------------------------------------------------------------

INVALID_UTF8 = [b"name=%FF%FE%C3%28", b"name=Nguy%E1%BB%85n%C0%AF", b"\xff\xfe\x00name=x"]


@pytest.mark.parametrize("body", INVALID_UTF8, ids=["percent-escaped", "overlong", "raw bytes"])
def test_invalid_utf8_in_a_form_is_refused_or_replaced_never_stored_raw(bench, body):
    client = bench.client("desk@same")
    with bench.db.request() as connection:
        before = set(stored_strings(connection))
        base = "&".join(f"{k}={v}" for k, v in {
            "outcome": "receive", "id_number": "001190099999", "phone": "0912345678",
            "doc_1": "on", "address": "x",
        }.items()).encode()
        response = client.post(
            "/desk/intake/HT-XNHN", data=base + b"&" + body,
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code < 500
        if response.status_code >= 400:
            assert refusal_message(response)
        new = [s for s in stored_strings(connection) if s not in before]
        assert not any("\ud800" <= ch <= "\udfff" for s in new for ch in s)


@pytest.mark.parametrize("body", [
    b'{"reason": "\xff\xfe"}', b'{"reason": "Nguy\xe1\xbb"}', b"\xc0\xaf{}", b'{"reason": "\\ud800"}',
])
def test_invalid_utf8_in_an_api_body_is_a_clear_400_or_422(bench, body):
    client = bench.app.test_client()
    with bench.db.request():
        response = client.post(
            _fill("/api/v1/cases/{progress}/supplement-request", bench.values), data=body,
            headers={"Authorization": f"Bearer {bench.tokens['civil_status_officer@same']}",
                     "Content-Type": "application/json"},
        )
    assert response.status_code in (400, 422)
    assert refusal_message(response)


@pytest.mark.parametrize("path", [
    "/cases/%00", "/cases/%FF%FE", "/cases/" + "A" * 5000, "/cases/%2e%2e%2f%2e%2e%2fetc",
    "/desk/intake/%00", "/admin/officers/%00", "/admin/procedures/%FF", "/lang/%00",
    "/cases/x/forms/%00.pdf", "/api/v1/cases/%00/handover", "/static/%2e%2e/%2e%2e/onestop/db.py",
])
def test_odd_paths_are_clean_refusals(bench, path):
    client = bench.client("admin@parent")
    with bench.db.request():
        response = client.post(path) if "handover" in path else client.get(path)
    assert response.status_code < 500
    assert response.status_code in (302, 303, 400, 401, 403, 404, 405, 413, 422)


# --- uploads: the case book and the catalogue ----------------------------------------------------------

BOOK_HEADER = (
    'STT,Mã hồ sơ,Tên thủ tục hành chính,"Tên tổ chức, cá nhân","Địa chỉ, số điện thoại",'
    "Cơ quan chủ trì giải quyết,Ngày nhận hồ sơ,Ngày hẹn trả kết quả,Ngày trả kết quả,Ký nhận,Ghi chú"
)


def _book_row(**cells: str) -> str:
    row = {"no": "1", "code": "MP-OLD-1", "procedure": "HT-XNHN", "applicant": "Lê Văn Tám",
           "address": "", "agency": "", "received": "03/02/2026", "due": "06/02/2026",
           "returned": "05/02/2026", "signature": "", "note": "", **cells}
    return ",".join('"' + v.replace('"', '""') + '"' for v in row.values())


BAD_BOOKS: dict[str, bytes] = {
    "empty file": b"",
    "header only": BOOK_HEADER.encode(),
    "not a book": b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
    "invalid UTF-8": (BOOK_HEADER + "\n").encode() + b"1,MP-1,HT-XNHN,L\xff\xfe,,,03/02/2026,06/02/2026,,,\n",
    "UTF-16": (BOOK_HEADER + "\n" + _book_row()).encode("utf-16"),
    "NUL in a name": (BOOK_HEADER + "\n" + _book_row(applicant="Lê\x00Tám")).encode(),
    "HTML and SQL in names": (BOOK_HEADER + "\n" + _book_row(
        applicant="<script>alert(1)</script>", note="'); DROP TABLE cases; --")).encode(),
    "NFD names": (BOOK_HEADER + "\n" + _book_row(applicant=nfd("Lê Văn Tám Ước"))).encode(),
    "31 February": (BOOK_HEADER + "\n" + _book_row(received="31/02/2026")).encode(),
    "year 1": (BOOK_HEADER + "\n" + _book_row(received="01/01/0001", due="02/01/0001", returned="")).encode(),
    "year 9999": (BOOK_HEADER + "\n" + _book_row(received="31/12/9999", due="31/12/9999", returned="")).encode(),
    "returned before received": (BOOK_HEADER + "\n" + _book_row(returned="01/01/2026")).encode(),
    "unknown procedure": (BOOK_HEADER + "\n" + _book_row(procedure="NOPE-404")).encode(),
    "oversized cell": (BOOK_HEADER + "\n" + _book_row(note="A" * 100_000)).encode(),
    "cell over the csv module's 128 KiB": (BOOK_HEADER + "\n" + _book_row(note="A" * 200_000)).encode(),
    "a million columns": (BOOK_HEADER + "," * 1_000_000 + "\n").encode(),
    "duplicate codes": (BOOK_HEADER + "\n" + _book_row() + "\n" + _book_row(no="2")).encode(),
    "code of an existing case": (BOOK_HEADER + "\n" + _book_row(code="{progress}")).encode(),
}


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_header() -> list[str]:
    from onestop.casebook import COLUMNS

    return [c.header for c in COLUMNS]


BAD_WORKBOOKS: dict[str, Any] = {
    "a date cell in year 1": lambda: _xlsx([_xlsx_header(), [1, "MP-X-1", "HT-XNHN", "Tám", "", "",
                                            __import__("datetime").datetime(1, 1, 1), None, None, "", ""]]),
    "numbers where text belongs": lambda: _xlsx([_xlsx_header(), [1, 12345, 3.5, 7, "", "", 45000, -1, None, "", ""]]),
    "a formula": lambda: _xlsx([_xlsx_header(), [1, "MP-X-2", "HT-XNHN", '=HYPERLINK("http://x","y")', "",
                               "", "03/02/2026", "06/02/2026", "", "", "=1+1"]]),
    "truncated zip": lambda: _xlsx([_xlsx_header()])[:200],
}


@pytest.mark.parametrize("name", list(BAD_BOOKS) + list(BAD_WORKBOOKS))
def test_bad_case_books_are_refused_with_the_line_or_stored_safely(bench, name):
    client = bench.client("desk@same")
    if name in BAD_BOOKS:
        content, filename = BAD_BOOKS[name].replace(b"{progress}", bench.values["progress"].encode()), "so.csv"
    else:
        content, filename = BAD_WORKBOOKS[name](), "so.xlsx"
    with bench.db.request() as connection:
        before = set(stored_strings(connection))
        response = client.post("/casebook/import", data={
            "unit": "XA-MP", "book": (io.BytesIO(content), filename),
        }, content_type="multipart/form-data")
        assert response.status_code < 500, name
        if response.status_code >= 400:
            assert refusal_message(response), name
            return
        new = [s for s in stored_strings(connection) if s not in before]
    assert not any("\x00" in s for s in new)
    assert not any(unicodedata.normalize("NFC", s) != s for s in new), "stored in NFD"


CATALOGUE_HEADER = (
    "code,name_vi,name_en,field,level,duration_unit,duration_amount,same_day_cutoff,legal_basis,steps_hours"
)
BAD_CATALOGUES = {
    "negative duration": "HT-NEG,Thủ tục,Proc,Hộ tịch,commune,working_days,-3,,Luật,receive:desk:2;return:desk:2",
    "negative step hours": "HT-NEG,Thủ tục,Proc,Hộ tịch,commune,working_days,3,,Luật,receive:desk:-2;return:desk:2",
    "absurd duration": "HT-BIG,Thủ tục,Proc,Hộ tịch,commune,working_days,99999999999,,Luật,receive:desk:2",
    "unknown unit of time": "HT-X,Thủ tục,Proc,Hộ tịch,commune,fortnights,3,,Luật,receive:desk:2",
    "cut-off at 25:00": "HT-X,Thủ tục,Proc,Hộ tịch,commune,same_day,0,25:00,Luật,receive:desk:2",
    "HTML name": "HT-X,<script>alert(1)</script>,Proc,Hộ tịch,commune,working_days,3,,Luật,receive:desk:2",
    "NUL in a name": "HT-X,Thủ\x00tục,Proc,Hộ tịch,commune,working_days,3,,Luật,receive:desk:2",
    "no steps": "HT-X,Thủ tục,Proc,Hộ tịch,commune,working_days,3,,Luật,",
    "field over the csv module's 128 KiB": "HT-X," + "A" * 200_000 + ",Proc,x,commune,working_days,3,,x,a:desk:1",
}


@pytest.mark.parametrize("name", list(BAD_CATALOGUES))
def test_bad_catalogues_are_refused_with_the_line(bench, name):
    client = bench.client("admin@parent")
    content = (CATALOGUE_HEADER + "\n" + BAD_CATALOGUES[name] + "\n").encode()
    with bench.db.request():
        response = client.post("/admin/procedures", data={
            "catalogue": (io.BytesIO(content), "procedures.csv"),
        }, content_type="multipart/form-data")
    assert response.status_code < 500
    if name != "HTML name":
        assert response.status_code >= 400, name
        assert refusal_message(response), name
