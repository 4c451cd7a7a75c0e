"""Drafts and withdrawal in a real browser: resume the open draft, delete it, withdraw with a
confirmation page that says what happens to the fee. axe-core checks the new pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from machi.procedures import services
from machi.procedures.models import Application
from machi.procedures.states import ApplicationStatus
from machi.procedures.tests.conftest import shimin, simple_procedure  # noqa: F401 - fixtures
from tests.e2e.a11y import axe_violations, blocking, describe

pytestmark = pytest.mark.e2e


def assert_accessible(page: Page) -> None:
    found = blocking(axe_violations(page))
    assert not found, f"axe-core on {page.url}:\n{describe(found)}"


def test_resume_then_delete_a_draft(page: Page, live_server, simple_procedure):  # noqa: F811
    base = live_server.url
    detail = f"{base}/procedures/282103/simple/"
    page.goto(detail)
    page.get_by_role("button", name="オンラインで申請する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("申込内容")
    page.fill("#f-main-name", "加古川 太郎")
    page.fill("#f-main-copies", "2")
    page.get_by_role("button", name="次へ進む").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("確認")

    # A second click on 「オンラインで申請する」 opens the same draft with what was typed.
    page.goto(detail)
    page.get_by_role("button", name="オンラインで申請する").click()
    expect(page.locator("main")).to_contain_text("入力途中の下書きを開きました。")
    assert Application.objects.count() == 1
    draft = Application.objects.get()
    page.goto(f"{base}/apply/{draft.pk}/main/")
    expect(page.locator("#f-main-name")).to_have_value("加古川 太郎")

    page.get_by_role("link", name="この下書きを削除する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("下書きを削除しますか")
    assert_accessible(page)
    assert Application.objects.count() == 1  # not before confirming
    page.get_by_role("button", name="下書きを削除する").click()
    expect(page).to_have_url(detail)
    expect(page.locator("main")).to_contain_text("下書きを削除しました。")
    assert Application.objects.count() == 0


def test_withdraw_after_confirming(page: Page, live_server, simple_procedure):  # noqa: F811
    base = live_server.url
    page.goto(f"{base}/procedures/282103/simple/")
    page.get_by_role("button", name="オンラインで申請する").click()
    application = Application.objects.get()
    application.answers = {"main": {"name": "太郎", "copies": "1"}, "confirm": {"agree": True}}
    application.save()
    services.application_submit(application=application, actor=None)

    page.goto(f"{base}/my/applications/{application.pk}/")
    page.get_by_role("link", name="取り下げの手続へ").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("申請を取り下げますか")
    expect(page.locator("#withdraw-fee-heading")).to_have_text("手数料")
    expect(page.locator("main")).to_contain_text("この申請に手数料はかかりません。")
    assert_accessible(page)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED

    page.fill("#id_reason", "不要になりました")
    page.get_by_role("button", name="取り下げる").click()
    expect(page).to_have_url(f"{base}/my/applications/{application.pk}/")
    expect(page.locator("main")).to_contain_text("申請を取り下げました。")
    application.refresh_from_db()
    assert application.status == ApplicationStatus.WITHDRAWN
