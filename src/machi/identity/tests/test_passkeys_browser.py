"""Passkeys in a real Chromium with a virtual authenticator (DevTools WebAuthn domain).

Checks the page script end to end: the hidden panels appear, ``navigator.credentials``
round-trips through the JSON endpoints, and the strict CSP reports nothing.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from tests.e2e.a11y import axe_violations, blocking, describe
from tests.e2e.conftest import browser, page, screenshot  # noqa: F401 - fixtures

from machi.identity import services
from machi.identity.models import Passkey

pytestmark = [pytest.mark.e2e, pytest.mark.urls("machi.identity.tests.urls")]

EMAIL = "hanako@example.jp"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def verified_resident(db):
    user = services.resident_sign_up(email=EMAIL, password=PASSWORD)
    services.resident_email_verify(token=services.email_verification_token(user=user))
    return user


def assert_accessible(tab: Page) -> None:
    found = blocking(axe_violations(tab))
    assert not found, f"axe-core on {tab.url}:\n{describe(found)}"


def add_virtual_authenticator(tab: Page) -> None:
    cdp = tab.context.new_cdp_session(tab)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def test_add_a_passkey_then_sign_in_with_it(page: Page, live_server, verified_resident):  # noqa: F811
    base = live_server.url  # http://localhost:…: a host name, as WebAuthn needs
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    add_virtual_authenticator(page)

    page.goto(f"{base}/account/sign-in/")
    page.fill("#id_email", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.locator("form.form").get_by_role("button", name="サインイン").click()
    expect(page).to_have_url(f"{base}/account/")

    page.get_by_label("パスキーの名前（省略できます）").fill("テスト端末")
    page.get_by_role("button", name="パスキーを追加する").click()
    expect(page.locator(".messages")).to_contain_text("パスキー「テスト端末」を登録しました。")
    expect(page.get_by_role("cell", name="テスト端末", exact=True)).to_be_visible()
    assert_accessible(page)
    screenshot(page, "passkey-account")
    assert Passkey.objects.filter(user=verified_resident, name="テスト端末").exists()

    page.get_by_role("button", name="サインアウト").click()
    expect(page).to_have_url(f"{base}/account/sign-in/")
    assert_accessible(page)
    screenshot(page, "passkey-sign-in")
    page.get_by_role("button", name="パスキーでサインイン").click()
    expect(page).to_have_url(f"{base}/account/")
    expect(page.get_by_role("heading", level=1)).to_have_text("アカウント")
    assert Passkey.objects.get(user=verified_resident).last_used_at is not None
    assert not problems, problems


def test_no_passkey_button_at_an_ip_address(page: Page, live_server):  # noqa: F811
    url = live_server.url.replace("localhost", "127.0.0.1")
    page.goto(f"{url}/account/sign-in/")
    expect(page.get_by_role("button", name="パスキーでサインイン")).to_have_count(0)
    expect(page.get_by_role("link", name="localhost のアドレスで開く")).to_be_visible()
