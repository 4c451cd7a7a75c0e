"""Staff sign-in: password + TOTP, clear errors, lockout and rate limiting."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django_otp.oath import TOTP

from machi.core.models import AuditEntry
from machi.core.tests.factories import TEST_PASSWORD, TEST_TOTP_KEY

pytestmark = pytest.mark.django_db


def current_code(offset_steps: int = 0) -> str:
    totp = TOTP(bytes.fromhex(TEST_TOTP_KEY))
    totp.time = time.time() + 30 * offset_steps
    return f"{totp.token():06d}"


def sign_in(client: Client, username: str, password: str, code: str, **extra: object):
    return client.post(
        "/staff/login/",
        {"username": username, "password": password, "otp_token": code, **extra},
    )


def test_password_and_totp_reach_the_console(kakogawa_admin):
    client = Client()
    response = sign_in(client, "kakogawa-admin", TEST_PASSWORD, current_code())
    assert response.status_code == 302
    assert response["Location"] == "/staff/"
    page = client.get("/staff/")
    assert page.status_code == 200
    assert "加古川市" in page.content.decode()
    assert AuditEntry.objects.filter(
        action="auth.sign_in", actor_username="kakogawa-admin"
    ).exists()


def test_full_width_code_is_accepted(kakogawa_admin):
    full_width = current_code().translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    response = sign_in(Client(), "kakogawa-admin", TEST_PASSWORD, full_width)
    assert response.status_code == 302


def test_missing_totp_code_is_a_field_error_in_japanese(kakogawa_admin):
    client = Client()
    response = sign_in(client, "kakogawa-admin", TEST_PASSWORD, "")
    assert response.status_code == 400
    html = response.content.decode()
    assert "確認コードを入力してください。" in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_otp_token_error id_otp_token_helptext"' in html
    assert client.get("/staff/").status_code == 302  # still not signed in


def test_missing_totp_code_in_english(kakogawa_admin):
    client = Client()
    client.cookies["django_language"] = "en"
    response = sign_in(client, "kakogawa-admin", TEST_PASSWORD, "")
    assert "Enter the confirmation code." in response.content.decode()


def test_wrong_totp_code_is_refused(kakogawa_admin):
    client = Client()
    wrong = f"{(int(current_code()) + 1) % 1_000_000:06d}"
    response = sign_in(client, "kakogawa-admin", TEST_PASSWORD, wrong)
    assert response.status_code == 400
    assert "ユーザー名、パスワードまたは確認コードが違います。" in response.content.decode()
    assert client.get("/staff/").status_code == 302
    assert AuditEntry.objects.filter(action="auth.sign_in_failed").count() == 1


def test_wrong_password_does_not_say_which_part_was_wrong(kakogawa_admin):
    response = sign_in(Client(), "kakogawa-admin", "wrong-password", current_code())
    assert response.status_code == 400
    assert "ユーザー名、パスワードまたは確認コードが違います。" in response.content.decode()


def test_password_alone_does_not_open_the_console(kakogawa_admin):
    client = Client()
    client.force_login(kakogawa_admin)
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")


def test_lockout_after_repeated_failures_even_with_right_credentials(kakogawa_admin, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "kakogawa-admin", "wrong-password", current_code())
    response = sign_in(client, "kakogawa-admin", TEST_PASSWORD, current_code())
    assert response.status_code == 429
    assert "停止しました" in response.content.decode()
    assert client.get("/staff/").status_code == 302


def test_wrong_totp_codes_count_towards_lockout(kakogawa_admin, settings):
    client = Client()
    wrong = f"{(int(current_code()) + 7) % 1_000_000:06d}"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "kakogawa-admin", TEST_PASSWORD, wrong)
    assert sign_in(client, "kakogawa-admin", TEST_PASSWORD, current_code()).status_code == 429


def test_lockout_of_one_account_leaves_colleagues_alone(kakogawa_admin, kakogawa_handler, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "kakogawa-admin", "wrong-password", current_code())
    response = sign_in(client, "kakogawa-handler", TEST_PASSWORD, current_code())
    assert response.status_code == 302


def test_rate_limit_per_address(kakogawa_admin, settings):
    settings.LOGIN_RATE_LIMIT = "3/m"
    client = Client()
    statuses = [sign_in(client, f"nobody{i}", "x", "123456").status_code for i in range(4)]
    assert statuses == [400, 400, 400, 429]


def test_next_parameter_cannot_redirect_off_site(kakogawa_admin):
    response = sign_in(
        Client(), "kakogawa-admin", TEST_PASSWORD, current_code(), next="https://evil.example/"
    )
    assert response["Location"] == "/staff/"


def test_next_parameter_within_site_is_followed(kakogawa_admin):
    response = sign_in(
        Client(), "kakogawa-admin", TEST_PASSWORD, current_code(), next="/staff/audit/"
    )
    assert response["Location"] == "/staff/audit/"


def test_sign_out(kakogawa_admin, staff_client):
    client = staff_client(kakogawa_admin)
    assert client.get("/staff/").status_code == 200
    client.post("/staff/logout/")
    assert client.get("/staff/").status_code == 302
