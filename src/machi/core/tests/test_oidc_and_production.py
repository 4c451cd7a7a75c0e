"""OIDC sign-in for municipalities with their own provider; production settings are strict."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY
from django.test import Client

from machi.core.oidc import StaffOIDCBackend
from machi.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_oidc_matches_only_existing_active_staff_by_verified_email(kakogawa_admin):
    backend = StaffOIDCBackend.__new__(StaffOIDCBackend)  # no provider settings needed here
    found = backend.filter_users_by_claims({"email": "KAKOGAWA-ADMIN@example.jp"})
    assert list(found) == [kakogawa_admin]
    assert not backend.filter_users_by_claims(
        {"email": "kakogawa-admin@example.jp", "email_verified": False}
    ).exists()
    assert not backend.filter_users_by_claims({"email": "stranger@example.jp"}).exists()
    resident = UserFactory(username="resident", email="resident@example.jp", is_staff=False)
    assert not backend.filter_users_by_claims({"email": resident.email}).exists()
    # the provider never creates accounts: municipality admins provision them in Machi
    assert backend.create_user({"email": "new@example.jp"}) is None


def test_oidc_session_counts_as_verified_staff_without_totp(kakogawa_admin, settings):
    settings.AUTHENTICATION_BACKENDS = [
        *settings.AUTHENTICATION_BACKENDS,
        "machi.core.oidc.StaffOIDCBackend",
    ]
    settings.OIDC_RP_CLIENT_ID = "machi"
    settings.OIDC_RP_CLIENT_SECRET = "secret"
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "https://idp.example.lg.jp/auth"
    settings.OIDC_OP_TOKEN_ENDPOINT = "https://idp.example.lg.jp/token"
    settings.OIDC_OP_USER_ENDPOINT = "https://idp.example.lg.jp/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = "https://idp.example.lg.jp/jwks"
    client = Client()
    client.force_login(kakogawa_admin, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/staff/").status_code == 302  # password session without TOTP
    session = client.session
    session[BACKEND_SESSION_KEY] = "machi.core.oidc.StaffOIDCBackend"
    session.save()
    assert client.get("/staff/").status_code == 200


def _settings_in_subprocess(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k) for k in ('SESSION_COOKIE_SECURE', "
        "'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', 'SECURE_SSL_REDIRECT', 'DEBUG')}))"
    )
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "machi.settings", **env}
    full_env.pop("MACHI_TEST_DATABASE_URL", None)
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=False
    )


def test_production_settings_are_secure():
    result = _settings_in_subprocess(
        {"MACHI_PRODUCTION": "1", "MACHI_SECRET_KEY": "x" * 50, "MACHI_AUDIT_KEY": "y" * 50}
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_SSL_REDIRECT": True,
        "DEBUG": False,
    }


def test_production_refuses_to_start_without_secret_key():
    env = {"MACHI_PRODUCTION": "1", "MACHI_SECRET_KEY": ""}
    result = _settings_in_subprocess(env)
    assert result.returncode != 0
    assert "MACHI_SECRET_KEY must be set in production" in result.stderr


def test_enabling_oidc_without_provider_settings_is_refused():
    result = _settings_in_subprocess({"MACHI_OIDC_ENABLED": "1"})
    assert result.returncode != 0
    assert "MACHI_OIDC_ENABLED needs" in result.stderr
