"""The OpenAPI document names exactly the API blueprint's routes, with their methods."""

from __future__ import annotations

import re

import pytest

from onestop.web import create_app
from onestop.web.openapi import OPENAPI

PREFIX = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    path = tmp_path_factory.mktemp("openapi") / "onestop.db"
    return create_app({"DATABASE_URL": f"sqlite:///{path}", "TESTING": True})


def blueprint_operations(app) -> set[tuple[str, str]]:
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] != "api":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule).removeprefix(PREFIX)
        for method in rule.methods - IGNORED_METHODS:
            operations.add((method.lower(), path))
    return operations


def document_operations(document) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item}


def test_every_route_is_documented_and_every_documented_route_exists(app):
    assert blueprint_operations(app) == document_operations(OPENAPI)


def test_the_served_document_is_the_one_in_the_code(app):
    served = app.test_client().get(f"{PREFIX}/openapi.json").get_json()
    assert served == OPENAPI
    assert served["openapi"].startswith("3.1")


def test_every_path_parameter_is_declared(app):
    for path, item in OPENAPI["paths"].items():
        names = set(re.findall(r"{([a-z_]+)}", path))
        for operation in item.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (path, declared)


def test_every_schema_reference_resolves():
    schemas = OPENAPI["components"]["schemas"]
    text = repr(OPENAPI)
    for name in re.findall(r"#/components/schemas/([A-Za-z]+)", text):
        assert name in schemas


def test_action_bodies_allow_expected_version_and_nothing_unknown():
    for path, item in OPENAPI["paths"].items():
        if path.count("/") != 3:
            continue
        schema = item["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert schema["additionalProperties"] is False
        assert "expected_version" in schema["properties"], path
