"""The procedures API: catalog, form definitions, submission with idempotency, status."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from machi.procedures import services
from machi.procedures.models import Application, ApplicationStatus, Channel
from machi.procedures.tests.conftest import JUMINHYO_ANSWERS

pytestmark = pytest.mark.django_db


def test_catalog_search_api(juminhyo, simple_procedure):
    body = Client().get("/api/v1/procedures", {"q": "ジュウミンヒョウ"}).json()
    assert [p["slug"] for p in body] == ["juminhyo"]
    assert body[0]["municipality_code"] == "282103"
    assert body[0]["assurance_level"] == "card_signature"
    assert body[0]["form_version"] == 1


def test_form_definition_api(juminhyo):
    body = Client().get("/api/v1/procedures/282103/juminhyo/form").json()
    assert body["version"] == 1
    assert [s["key"] for s in body["definition"]["steps"]] == ["applicant", "request"]


def test_unknown_procedure_is_json_404(db):
    response = Client().get("/api/v1/procedures/282103/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "procedure_not_found"


def test_openapi_lists_procedure_endpoints(db):
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/procedures",
        "/api/v1/procedures/{code}/{slug}/form",
        "/api/v1/applications",
        "/api/v1/applications/{application_id}",
        "/api/v1/applications/signing-data",
    ):
        assert path in paths


def _payload(**extra):
    return {
        "municipality_code": "282103",
        "procedure": "simple",
        "answers": {"main": {"name": "API 太郎", "copies": 2}, "confirm": {"agree": True}},
        "contact_email": "api@example.jp",
        **extra,
    }


def test_submit_via_api_is_idempotent(simple_procedure):
    client = Client()
    first = client.post(
        "/api/v1/applications",
        _payload(),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="retry-1",
    )
    assert first.status_code == 201, first.content
    second = client.post(
        "/api/v1/applications",
        _payload(),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="retry-1",
    )
    assert second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert Application.objects.exclude(status=ApplicationStatus.DRAFT).count() == 1
    application = Application.objects.get(pk=first.json()["id"])
    assert application.channel == Channel.API
    assert first.json()["receipt_number"] == application.receipt_number


def test_submit_via_api_with_errors_saves_nothing(simple_procedure):
    response = Client().post(
        "/api/v1/applications",
        _payload(answers={"main": {"name": "", "copies": 99}}),
        content_type="application/json",
    )
    assert response.status_code == 422
    fields = response.json()["error"]["fields"]
    assert "main.name" in fields and "main.copies" in fields and "confirm.agree" in fields
    assert not Application.objects.exists()  # not even a draft is left behind


def test_status_api_for_the_session_that_submitted(simple_procedure):
    client = Client()
    created = client.post(
        "/api/v1/applications", _payload(), content_type="application/json"
    ).json()
    # anonymous API submissions are not bound to a session: only signed-in owners read them
    assert client.get(f"/api/v1/applications/{created['id']}").status_code == 404


def test_api_card_signature_round_trip(juminhyo, resident, card_settings):
    pki = card_settings
    client = Client()
    client.force_login(resident)
    signing = client.post(
        "/api/v1/applications/signing-data",
        {"municipality_code": "282103", "procedure": "juminhyo", "answers": JUMINHYO_ANSWERS},
        content_type="application/json",
    )
    assert signing.status_code == 200, signing.content
    data = base64.b64decode(signing.json()["data_b64"])
    response = client.post(
        "/api/v1/applications",
        {
            "municipality_code": "282103",
            "procedure": "juminhyo",
            "answers": JUMINHYO_ANSWERS,
            "signature": {
                "signature_b64": base64.b64encode(pki.good.sign(data)).decode(),
                "certificate_pem": pki.good.certificate_pem("sign"),
            },
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    status = client.get(f"/api/v1/applications/{response.json()['id']}").json()
    assert status["status"] == "submitted"
    assert [h["to_status"] for h in status["history"]] == ["submitted"]
    mine = client.get("/api/v1/my/applications").json()
    assert [a["id"] for a in mine] == [response.json()["id"]]


def test_api_card_procedure_without_signature_is_refused(juminhyo, resident):
    client = Client()
    client.force_login(resident)
    response = client.post(
        "/api/v1/applications",
        {"municipality_code": "282103", "procedure": "juminhyo", "answers": JUMINHYO_ANSWERS},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "signature_required"


def test_my_applications_needs_sign_in(db):
    response = Client().get("/api/v1/my/applications")
    assert response.status_code == 401


def test_catalog_api_query_count_does_not_grow_with_results(
    simple_procedure, juminhyo, django_assert_max_num_queries
):
    for n in range(10):
        services.procedure_create(
            actor=None,
            municipality_code="282103",
            slug=f"extra-{n}",
            name=f"証明書の交付 {n}",
            is_published=True,
            channels=["counter"],
        )
    client = Client()
    client.get("/api/v1/procedures")  # warm up (session, translations)
    with django_assert_max_num_queries(3):
        body = client.get("/api/v1/procedures").json()
    assert len(body) == 12
