"""Guessing at staff sign-in: no password oracle, limits that count the real client, and a
second factor that accepts the right code right after a wrong one."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from machi.core.models import AuditEntry
from machi.core.tests.factories import TEST_PASSWORD
from machi.web.tests.test_sign_in import current_code, sign_in

pytestmark = pytest.mark.django_db


def _errors(html: str) -> list[str]:
    """The texts of the form's error summary and field errors, in page order."""
    return [
        re.sub(r"\s+", " ", text).strip()
        for text in re.findall(r'class="[^"]*error[^"]*"[^>]*>(.*?)</', html, re.S)
        if text.strip()
    ]


def _wrong(code: str, by: int = 1) -> str:
    return f"{(int(code) + by) % 1_000_000:06d}"


def test_right_password_with_wrong_code_reads_like_a_wrong_password(kakogawa_admin):
    wrong_password = sign_in(Client(), "kakogawa-admin", "wrong-password", current_code())
    wrong_code = sign_in(Client(), "kakogawa-admin", TEST_PASSWORD, _wrong(current_code()))
    unknown_user = sign_in(Client(), "nobody-here", "wrong-password", current_code())
    assert wrong_password.status_code == wrong_code.status_code == unknown_user.status_code == 400
    pages = [r.content.decode() for r in (wrong_password, wrong_code, unknown_user)]
    errors = [_errors(html) for html in pages]
    assert errors[0] == errors[1] == errors[2]
    assert "ユーザー名、パスワードまたは確認コードが違います。" in pages[1]
    assert "確認コードが正しくないか" not in pages[1]
    assert 'id="id_otp_token_error"' not in pages[1]  # no hint on the code field either


def test_right_code_right_after_a_wrong_one_is_accepted(kakogawa_admin):
    client = Client()
    assert sign_in(client, "kakogawa-admin", TEST_PASSWORD, _wrong(current_code())).status_code
    response = sign_in(client, "kakogawa-admin", TEST_PASSWORD, current_code())
    assert response.status_code == 302
    assert response["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200


def _from(address: str) -> Client:
    # The proxy (127.0.0.1) appends the address it saw; the client may prepend anything.
    return Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"198.51.100.77, {address}")


def test_behind_a_proxy_one_clients_burst_does_not_block_another(kakogawa_admin, settings):
    settings.MACHI_PROXY_COUNT = 1
    noisy = _from("203.0.113.10")
    statuses = [sign_in(noisy, f"nobody{i}", "x", "123456").status_code for i in range(31)]
    assert statuses[:30] == [400] * 30
    assert statuses[30] == 429  # the noisy client itself is limited…
    response = sign_in(_from("203.0.113.20"), "kakogawa-admin", TEST_PASSWORD, current_code())
    assert response.status_code == 302  # …and a colleague behind the same proxy is not


def test_behind_a_proxy_the_lockout_counts_the_client_address(kakogawa_admin, settings):
    settings.MACHI_PROXY_COUNT = 1
    guesser = _from("203.0.113.10")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(guesser, "kakogawa-admin", "wrong-password", current_code())
    assert sign_in(guesser, "kakogawa-admin", TEST_PASSWORD, current_code()).status_code == 429
    # The owner at another address behind the same proxy still signs in.
    owner = sign_in(_from("203.0.113.20"), "kakogawa-admin", TEST_PASSWORD, current_code())
    assert owner.status_code == 302


def test_audit_entries_record_the_client_behind_the_proxy(kakogawa_admin, settings):
    settings.MACHI_PROXY_COUNT = 1
    sign_in(_from("203.0.113.20"), "kakogawa-admin", TEST_PASSWORD, current_code())
    entry = AuditEntry.objects.get(action="auth.sign_in")
    assert entry.ip_address == "203.0.113.20"


def test_without_a_proxy_setting_forwarded_for_is_ignored(kakogawa_admin, settings):
    settings.MACHI_PROXY_COUNT = 0
    settings.LOGIN_RATE_LIMIT = "3/m"
    statuses = [
        sign_in(_from(f"203.0.113.{i}"), f"nobody{i}", "x", "123456").status_code for i in range(4)
    ]
    assert statuses == [400, 400, 400, 429]  # all from the one peer address


def test_failures_for_one_account_from_many_addresses_lock_it(kakogawa_admin, settings):
    settings.MACHI_PROXY_COUNT = 1
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 6
    assert settings.AXES_FAILURE_LIMIT == 5  # each address stays below its own lockout
    for i in range(6):
        response = sign_in(_from(f"203.0.113.{i}"), "kakogawa-admin", "guess", current_code())
        assert response.status_code == (400 if i < 5 else 429)
    # Every failure is in the audit log, the one that locked the account included.
    failures_before = AuditEntry.objects.filter(action="auth.sign_in_failed").count()
    assert failures_before == 6
    # Now even the right password from a fresh address is refused, without being checked.
    refused = sign_in(_from("192.0.2.1"), "kakogawa-admin", TEST_PASSWORD, current_code())
    assert refused.status_code == 429
    assert "停止しました" in refused.content.decode()
    assert not AuditEntry.objects.filter(action="auth.sign_in").exists()
    assert AuditEntry.objects.filter(action="auth.sign_in_failed").count() == failures_before


def test_the_account_lock_leaves_colleagues_alone(kakogawa_admin, kakogawa_handler, settings):
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 3
    settings.MACHI_PROXY_COUNT = 1
    for i in range(3):
        sign_in(_from(f"203.0.113.{i}"), "kakogawa-admin", "guess", current_code())
    colleague = sign_in(_from("203.0.113.1"), "kakogawa-handler", TEST_PASSWORD, current_code())
    assert colleague.status_code == 302


def test_account_names_are_counted_whatever_their_width_or_case(kakogawa_admin, settings):
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 2
    settings.MACHI_PROXY_COUNT = 1
    sign_in(_from("203.0.113.1"), "KAKOGAWA-ADMIN", "guess", current_code())
    sign_in(_from("203.0.113.2"), "ｋａｋｏｇａｗａ-admin", "guess", current_code())
    refused = sign_in(_from("203.0.113.3"), "kakogawa-admin", TEST_PASSWORD, current_code())
    assert refused.status_code == 429


def test_api_throttles_do_not_trust_a_forged_forwarded_for(rf):
    from ninja.throttling import AnonRateThrottle

    request = rf.post(
        "/api/v1/identity/card-login", REMOTE_ADDR="192.0.2.9", HTTP_X_FORWARDED_FOR="203.0.113.5"
    )
    assert AnonRateThrottle("5/m").get_ident(request) == "192.0.2.9"
