"""The public API: OpenAPI document, municipality directory, error format and language."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from machi.core.models import AuditEntry, Municipality

pytestmark = pytest.mark.django_db


def test_openapi_document_lists_the_endpoints():
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    for path in (
        "/api/v1/municipalities",
        "/api/v1/municipalities/{code}",
        "/api/v1/staff/departments",
        "/api/v1/staff/memberships",
        "/api/v1/staff/audit",
    ):
        assert path in document["paths"], path


def test_municipality_directory_lists_prefecture_and_members(kakogawa, kobe, osaka):
    body = Client().get("/api/v1/municipalities?prefecture=280003").json()
    assert [m["code"] for m in body] == ["280003", "281000", "282103"]
    assert body[2] == {
        "code": "282103",
        "name": "加古川市",
        "name_kana": "かこがわし",
        "name_en": "",
        "kind": "city",
        "prefecture_code": "280003",
    }


def test_mistyped_code_gets_japanese_error_with_stable_code(kakogawa):
    response = Client().get("/api/v1/municipalities/282104")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_municipality_code"
    assert "検査数字" in error["message"]


def test_unknown_code_is_404_json(kakogawa):
    response = Client().get("/api/v1/municipalities/281000")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "municipality_not_found"


def test_errors_follow_accept_language_english(kakogawa):
    response = Client().get("/api/v1/municipalities/282104", HTTP_ACCEPT_LANGUAGE="en")
    message = response.json()["error"]["message"]
    assert "check digit" in message.lower()


def test_bad_filter_value_is_422_with_field(kakogawa):
    response = Client().get("/api/v1/municipalities?kind=metropolis")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert "kind" in error["fields"]


def test_unknown_api_path_is_json_404():
    response = Client().get("/api/v2/anything")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_prefecture_admin_onboards_a_municipality(prefecture_admin, staff_client):
    client = staff_client(prefecture_admin)
    payload = {
        "code": "283819",
        "name": "稲美町",
        "name_kana": "いなみちょう",
        "kind": "town",
        "prefecture_code": "280003",
    }
    response = client.post("/api/v1/staff/municipalities", payload, content_type="application/json")
    assert response.status_code == 201, response.content
    assert Municipality.objects.get(code="283819").prefecture_id == "280003"
    assert AuditEntry.objects.filter(
        action="municipality.create", actor_username="hyogo-admin"
    ).exists()


def test_municipality_admin_cannot_onboard(kakogawa_admin, staff_client):
    payload = {
        "code": "283819",
        "name": "稲美町",
        "name_kana": "いなみちょう",
        "kind": "town",
        "prefecture_code": "280003",
    }
    response = staff_client(kakogawa_admin).post(
        "/api/v1/staff/municipalities", payload, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert not Municipality.objects.filter(code="283819").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            '{"code": "283810", "name": "x", "name_kana": "x", "kind": "town", "prefecture_code": "280003"}',
            "code",
        ),
        ('{"code": "283819", "name": "", "name_kana": "x", "kind": "town"}', "name"),
        ('{"code": "283819", "name": "x", "name_kana": "x", "kind": "metropolis"}', "kind"),
    ],
)
def test_malformed_onboarding_is_422_and_nothing_saved(body, field, prefecture_admin, staff_client):
    before = Municipality.objects.count()
    response = staff_client(prefecture_admin).post(
        "/api/v1/staff/municipalities", body, content_type="application/json"
    )
    assert response.status_code == 422, response.content
    assert field in response.json()["error"]["fields"]
    assert Municipality.objects.count() == before


def test_unparseable_json_is_a_clear_error(prefecture_admin, staff_client):
    response = staff_client(prefecture_admin).post(
        "/api/v1/staff/municipalities", "{not json", content_type="application/json"
    )
    assert response.status_code in (400, 422)
    assert json.loads(response.content)["error"]["message"]


def test_writes_need_csrf_token(prefecture_admin, staff_client):
    client = staff_client(prefecture_admin)
    client.handler.enforce_csrf_checks = True
    response = client.post(
        "/api/v1/staff/departments",
        {"municipality_code": "280003", "code": "x", "name": "x"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


def test_healthz_reports_database():
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] in ("sqlite", "postgresql")
