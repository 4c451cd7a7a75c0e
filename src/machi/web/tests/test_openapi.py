"""The OpenAPI document: committed without drift, valid, and listing every error response."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from machi.openapi import (
    ERROR_BODY_SCHEMA,
    ERROR_DESCRIPTIONS,
    EXTRA_ERRORS,
    committed_path,
    document,
    render,
)

WRITES = {"post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def doc():
    return document()


def _operations(doc):
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _error_statuses(operation) -> set[int]:
    return {int(status) for status in operation["responses"] if int(status) >= 400}


def test_committed_document_matches_the_api(doc):
    committed = committed_path().read_text(encoding="utf-8")
    assert committed == render(doc), "docs/openapi.json has drifted: run `make openapi`"


def test_served_document_is_the_committed_one(doc):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json() == doc


def test_document_is_valid_openapi(doc):
    validate(doc)  # raises on any violation of the OpenAPI 3.1 schema
    assert doc["openapi"] == "3.1.0"
    assert doc["components"]["schemas"]["Error"] == ERROR_BODY_SCHEMA


def test_every_operation_lists_the_errors_it_can_return(doc):
    throttled = {
        ("post", "/api/v1/identity/card-login"),
        ("get", "/api/v1/identity/signing-requests/{token}"),
        ("post", "/api/v1/identity/signing-requests/{token}/response"),
    }
    for path, method, operation in _operations(doc):
        expected: set[int] = set()
        if operation.get("security"):
            expected.add(401)
        if any("StaffSessionAuth" in scheme for scheme in operation.get("security", [])):
            expected.add(403)
        if method in WRITES:
            expected |= {403, 409}
        if "{" in path:
            expected.add(404)
        if operation.get("parameters") or "requestBody" in operation:
            expected.add(422)
        if "requestBody" in operation:
            expected.add(413)
        if (method, path) in throttled:
            expected.add(429)
        expected |= EXTRA_ERRORS.get(f"{method.upper()} {path}", frozenset())
        assert _error_statuses(operation) == expected, f"{method.upper()} {path}"
        for status in expected:
            response = operation["responses"][str(status)]
            assert response == {
                "description": ERROR_DESCRIPTIONS[status],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }


def test_error_responses_of_some_operations_exactly(doc):
    paths = doc["paths"]
    exact = {
        ("post", "/api/v1/staff/municipalities"): {401, 403, 409, 413, 422},
        ("get", "/api/v1/staff/me"): {401, 403},
        ("post", "/api/v1/identity/card-login"): {401, 403, 409, 413, 422, 429},
        ("get", "/api/v1/municipalities/{code}"): {404, 422},
        ("get", "/api/v1/my/applications"): {401},
        ("post", "/api/v1/applications"): {401, 403, 404, 409, 413, 422},
    }
    assert {key: _error_statuses(paths[key[1]][key[0]]) for key in exact} == exact
    # Success responses stay as ninja declares them.
    assert sorted(paths["/api/v1/applications"]["post"]["responses"])[:2] == ["200", "201"]


def test_extra_errors_name_real_operations(doc):
    known = {f"{method.upper()} {path}" for path, method, _ in _operations(doc)}
    assert set(EXTRA_ERRORS) <= known


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url", "body", "path", "status", "headers"),
    [
        ("get", "/api/v1/municipalities/282103", None, "/api/v1/municipalities/{code}", 404, {}),
        ("get", "/api/v1/procedures?limit=0", None, "/api/v1/procedures", 422, {}),
        ("get", "/api/v1/staff/me", None, "/api/v1/staff/me", 401, {}),
        ("get", "/api/v1/my/applications", None, "/api/v1/my/applications", 401, {}),
        (
            "post",
            "/api/v1/applications",
            {"municipality_code": "999999", "procedure": "none", "answers": {}},
            "/api/v1/applications",
            404,
            {},
        ),
        ("post", "/api/v1/applications", {"answers": 1}, "/api/v1/applications", 422, {}),
        # A bad API token is refused, never read as anonymous.
        (
            "get",
            "/api/v1/my/applications",
            None,
            "/api/v1/my/applications",
            401,
            {"authorization": "Bearer machi1.forged"},
        ),
        # A session write without the CSRF token.
        (
            "post",
            "/api/v1/applications",
            {"municipality_code": "282103", "procedure": "none", "answers": {}},
            "/api/v1/applications",
            403,
            {"cookie-session": "1"},
        ),
    ],
)
def test_errors_the_api_returns_are_documented_with_their_shape(
    doc, method, url, body, path, status, headers
):
    headers = dict(headers)
    with_session = headers.pop("cookie-session", None)
    client = Client(enforce_csrf_checks=True, headers=headers)
    if with_session:
        client.cookies["sessionid"] = "not-a-session"
    if body is None:
        response = getattr(client, method)(url)
    else:
        response = getattr(client, method)(
            url, data=json.dumps(body), content_type="application/json"
        )
    assert response.status_code == status
    assert str(status) in doc["paths"][path][method]["responses"]
    errors = list(Draft202012Validator(ERROR_BODY_SCHEMA).iter_errors(response.json()))
    assert errors == []
    assert response.json()["error"]["message"]
