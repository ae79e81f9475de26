"""Schemathesis against /api/v1/openapi.json, with the app in-process (WSGI): requests generated
from the document (valid ones, and deliberately invalid ones), on real cases and random codes,
as a desk officer and as the officer who holds the cases' steps. Zero server errors allowed.

Bounded: a fixed number of examples per operation and mode, so a run takes well under two
minutes per backend. State accumulates across examples (cases get received, handed over and
closed), which is what a client does too.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from onestop.clock import frozen_at
from onestop.web import create_app
from tests.web.test_authorization_matrix import PROBED_AT, _seed

EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 12}
ACTORS = ("desk@same", "civil_status_officer@same")


@pytest.fixture
def api_schema(database_url):
    world = _seed(database_url)
    app = create_app({
        "DATABASE_URL": database_url, "TESTING": True, "RATELIMIT_ENABLED": False,
    })
    with frozen_at(PROBED_AT):
        yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app), world


def test_the_api_never_answers_with_a_server_error(api_schema):
    schema, world = api_schema
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    codes = [world.values[name]
             for name in ("progress", "supplement", "payment", "resolved", "returned", "submitted")]
    calls: dict[str, int] = {}
    statuses: dict[int, int] = {}

    for operation in operations:
        has_code = any(p.name == "code" for p in operation.path_parameters)
        for mode, examples in EXAMPLES.items():
            strategies = [operation.as_strategy(generation_mode=mode)]
            if has_code:  # half the time on a real case, so the bodies reach the domain
                strategies += [operation.as_strategy(generation_mode=mode, path_parameters={"code": code})
                               for code in codes]

            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=st.one_of(*strategies), actor=st.sampled_from(ACTORS))
            def run(case, actor):
                headers = {"Authorization": f"Bearer {world.tokens[actor]}"}
                response = case.call(headers=headers)
                case.validate_response(response, checks=[not_a_server_error], headers=headers)
                label = case.operation.label
                calls[label] = calls.get(label, 0) + 1
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

            run()

    print(f"schemathesis: {sum(calls.values())} requests over {len(calls)} operations, "
          f"statuses {dict(sorted(statuses.items()))}")
    assert set(calls) == {op.label for op in operations}
    # The corpus reached the domain, not only the validation at the door.
    assert any(200 <= status < 300 for status in statuses), statuses
    assert not any(status >= 500 for status in statuses), statuses
