"""Staff sign-in in a real browser: typing, clicking, errors and keyboard focus."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot, sign_in, wrong_totp_code

pytestmark = pytest.mark.e2e


def test_password_and_totp_reach_the_console(page: Page, live_server, kakogawa_admin):
    sign_in(page, live_server.url, "kakogawa-admin")

    expect(page).to_have_url(f"{live_server.url}/staff/")
    main = page.locator("main")
    expect(main.get_by_role("heading", level=1)).to_have_text("職員ホーム")
    expect(main.get_by_role("cell", name=re.compile("加古川市"))).to_be_visible()
    expect(main.get_by_role("cell", name="団体管理者")).to_be_visible()
    screenshot(page, "console-home")


def test_wrong_totp_reads_like_a_wrong_password(page: Page, live_server, kakogawa_admin):
    """No password oracle: a right password with a wrong code gets the wrong-password message."""
    sign_in(page, live_server.url, "kakogawa-admin", code=wrong_totp_code())

    expect(page).to_have_url(f"{live_server.url}/staff/login/")
    message = "ユーザー名、パスワードまたは確認コードが違います。"
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("listitem")).to_have_text([message])
    # No field is singled out: that would say which part was wrong.
    expect(page.locator("#id_otp_token_error")).to_have_count(0)
    expect(page.locator("#id_otp_token")).not_to_have_attribute("aria-invalid", "true")
    # The other fields keep their value where it is safe to: the username, not the password.
    expect(page.locator("#id_username")).to_have_value("kakogawa-admin")
    expect(page.locator("#id_password")).to_have_value("")
    screenshot(page, "sign-in-error")


def test_first_tab_reaches_the_skip_link(page: Page, live_server):
    page.goto(f"{live_server.url}/staff/login/")
    page.keyboard.press("Tab")

    focused = page.locator(":focus")
    expect(focused).to_have_text("本文へ移動")
    expect(focused).to_have_attribute("href", "#main")
    expect(focused).to_be_in_viewport()  # shown on focus, not left off-screen
