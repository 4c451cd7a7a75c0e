"""axe-core finds no serious or critical WCAG 2.x A/AA problems on the main pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.a11y import axe_violations, blocking, describe
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def assert_no_serious_violations(page: Page) -> None:
    found = blocking(axe_violations(page))
    assert not found, f"axe-core on {page.url}:\n{describe(found)}"


def test_portal_home(page: Page, live_server, kakogawa, kobe):
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("link", name="加古川市")).to_be_visible()
    assert_no_serious_violations(page)


def test_municipality_page(page: Page, live_server, departments):
    page.goto(f"{live_server.url}/m/282103/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("加古川市")
    assert_no_serious_violations(page)


def test_sign_in_page(page: Page, live_server):
    page.goto(f"{live_server.url}/staff/login/")
    assert_no_serious_violations(page)


def test_sign_in_page_with_errors(page: Page, live_server):
    page.goto(f"{live_server.url}/staff/login/")
    page.get_by_role("button", name="サインイン").click()
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("[aria-invalid=true]")).to_have_count(3)
    assert_no_serious_violations(page)


def test_staff_console_home(page: Page, live_server, kakogawa_admin, departments):
    sign_in(page, live_server.url, "kakogawa-admin")
    expect(page.get_by_role("heading", level=1)).to_have_text("職員ホーム")
    assert_no_serious_violations(page)


def test_audit_search(page: Page, live_server, kakogawa_admin):
    sign_in(page, live_server.url, "kakogawa-admin")
    page.goto(f"{live_server.url}/staff/audit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("監査ログ")
    expect(page.locator("tbody tr").first).to_be_visible()  # at least the sign-in itself
    assert_no_serious_violations(page)


def test_portal_home_in_english(page: Page, live_server, kakogawa):
    page.goto(f"{live_server.url}/")
    # The language switch is a plain POST form: no JavaScript involved.
    page.get_by_label("Language").select_option("en")
    page.get_by_role("button", name="切り替え").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert_no_serious_violations(page)


def test_the_check_itself_reports_a_broken_page(page: Page, live_server):
    """Guards against a check that passes because axe did not really run."""
    page.goto(f"{live_server.url}/staff/login/")
    page.evaluate("document.querySelector('label[for=id_username]').remove()")
    found = blocking(axe_violations(page))
    assert [v["id"] for v in found] == ["label"]
    assert "label [critical]" in describe(found)
    assert "#id_username" in describe(found)
