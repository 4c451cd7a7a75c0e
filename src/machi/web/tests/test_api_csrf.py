"""CSRF on the resident API: session writes need the token; API tokens are the credential for
programs (kiosks, LINE mini-apps) and need none."""

from __future__ import annotations

import importlib
import json
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from ninja.security import SessionAuth

from machi.core.auth import (
    API_TOKEN_PREFIX,
    ApiTokenAuth,
    ResidentSessionAuth,
    api_token_issue,
    api_token_user,
)
from machi.core.models import AuditEntry, User
from machi.procedures.models import Application

pytestmark = pytest.mark.django_db

PAYLOAD = {
    "municipality_code": "282103",
    "procedure": "simple",
    "answers": {"main": {"name": "API 太郎", "copies": 2}, "confirm": {"agree": True}},
    "contact_email": "api@example.jp",
}


def _signed_in(user: User) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _csrf(client: Client) -> str:
    response = client.get("/api/v1/csrf-token")
    token = response.json()["csrf_token"]
    assert client.cookies[django_settings.CSRF_COOKIE_NAME].value
    return str(token)


def test_cross_site_text_plain_post_with_the_session_cookie_is_refused(simple_procedure, resident):
    client = _signed_in(resident)
    response = client.post(
        "/api/v1/applications",
        json.dumps(PAYLOAD),
        content_type="text/plain",
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": "csrf_failed",
            "message": "CSRFトークンが確認できませんでした。",
            "fields": {},
        }
    }
    assert Application.objects.count() == 0  # not even a draft


def test_json_post_with_the_session_but_no_token_is_refused(simple_procedure, resident):
    response = _signed_in(resident).post(
        "/api/v1/applications", PAYLOAD, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert Application.objects.count() == 0


def test_session_post_with_the_csrf_token_is_accepted(simple_procedure, resident):
    client = _signed_in(resident)
    response = client.post(
        "/api/v1/applications",
        PAYLOAD,
        content_type="application/json",
        HTTP_X_CSRFTOKEN=_csrf(client),
    )
    assert response.status_code == 201, response.content
    application = Application.objects.get()
    assert application.applicant_id == resident.pk


def test_anonymous_session_writes_need_the_token_too(simple_procedure):
    client = Client(enforce_csrf_checks=True)
    client.cookies[django_settings.SESSION_COOKIE_NAME] = "some-anonymous-session"
    response = client.post("/api/v1/applications", PAYLOAD, content_type="application/json")
    assert response.status_code == 403
    assert Application.objects.count() == 0


def test_a_cookieless_anonymous_client_acts_for_nobody_and_needs_no_token(simple_procedure):
    response = Client(enforce_csrf_checks=True).post(
        "/api/v1/applications", PAYLOAD, content_type="application/json"
    )
    assert response.status_code == 201
    assert Application.objects.get().applicant_id is None


def test_a_kiosk_posts_with_a_bearer_token_and_no_csrf_token(simple_procedure, resident):
    client = _signed_in(resident)
    issued = client.post("/api/v1/tokens", HTTP_X_CSRFTOKEN=_csrf(client))
    assert issued.status_code == 201, issued.content
    token = issued.json()["token"]
    assert token.startswith(API_TOKEN_PREFIX)
    assert AuditEntry.objects.filter(action="api_token.issue", actor_id=resident.pk).count() == 1
    kiosk = Client(enforce_csrf_checks=True)  # no cookies at all
    response = kiosk.post(
        "/api/v1/applications",
        PAYLOAD,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 201, response.content
    assert Application.objects.get().applicant_id == resident.pk
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    mine = kiosk.get("/api/v1/my/applications", **bearer)
    assert [a["id"] for a in mine.json()] == [response.json()["id"]]
    application_id = response.json()["id"]
    status = kiosk.get(f"/api/v1/applications/{application_id}", **bearer)
    assert (status.status_code, status.json()["id"]) == (200, application_id)
    payment = kiosk.get(f"/api/v1/payments/applications/{application_id}/payment", **bearer)
    assert (payment.status_code, payment.json()["application_id"]) == (200, application_id)
    # Without the token the same program is nobody: the application is not shown.
    assert kiosk.get(f"/api/v1/applications/{application_id}").status_code == 404


def test_issuing_a_token_needs_the_csrf_token_and_a_resident(simple_procedure, resident):
    assert _signed_in(resident).post("/api/v1/tokens").status_code == 403
    anonymous = Client(enforce_csrf_checks=True)
    assert anonymous.post("/api/v1/tokens").status_code == 401
    assert not AuditEntry.objects.filter(action="api_token.issue").exists()


def test_a_bad_bearer_token_is_refused_not_treated_as_anonymous(simple_procedure, resident):
    good = api_token_issue(user=resident).token
    for token in ("nonsense", good[:-3] + "abc", API_TOKEN_PREFIX + "x"):
        response = Client().post(
            "/api/v1/applications",
            PAYLOAD,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert response.status_code == 401, token
        assert response.json()["error"]["code"] == "not_authenticated"
    assert Application.objects.count() == 0


def test_tokens_expire_and_die_with_a_password_change(resident, settings):
    token = api_token_issue(user=resident).token
    assert api_token_user(token) == resident
    settings.MACHI_API_TOKEN_SECONDS = -1
    assert api_token_user(token) is None
    settings.MACHI_API_TOKEN_SECONDS = 3600
    issued = api_token_issue(user=resident)
    assert timezone.now() + timedelta(seconds=3590) < issued.expires_at
    resident.set_password("another-horse-battery-staple")
    resident.save()
    assert api_token_user(issued.token) is None


def test_staff_accounts_get_no_tokens(kakogawa_admin):
    from machi.core.exceptions import Forbidden

    with pytest.raises(Forbidden):
        api_token_issue(user=kakogawa_admin)


def test_every_write_endpoint_checks_csrf_or_an_explicit_credential():
    unchecked = []
    for bound in _assembled_api()._get_bound_routers():
        prefix = bound.prefix
        for path, path_view in bound.path_operations.items():
            for operation in path_view.operations:
                writes = set(operation.methods) & {"POST", "PUT", "PATCH", "DELETE"}
                if not writes:
                    continue
                callbacks = operation.auth_callbacks
                safe = bool(callbacks) and all(
                    isinstance(cb, ApiTokenAuth | ResidentSessionAuth)
                    or (isinstance(cb, SessionAuth) and cb.csrf)
                    for cb in callbacks
                )
                if not safe:
                    unchecked.append(f"{sorted(writes)} {prefix}{path}")
    assert unchecked == []


def _assembled_api() -> Any:
    """The project's NinjaAPI with every app's routers (imported by name: it sits above every
    app in the layers, and this test is about what the assembled API accepts)."""
    return importlib.import_module("machi.api").api
