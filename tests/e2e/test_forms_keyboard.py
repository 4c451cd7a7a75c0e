"""Pressing Enter in a field of the application form means "next" on every step.

It used to run the postal look-up (overwriting the typed address) on the address step and to go
back a step on the others, because those buttons came first in the form.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from machi.procedures.models import Application
from machi.procedures.tests.conftest import juminhyo, shimin  # noqa: F401 - fixtures
from tests.e2e.test_resident_path import (  # noqa: F401 - fixture
    RESIDENT_EMAIL,
    RESIDENT_PASSWORD,
    verified_resident,
)

pytestmark = pytest.mark.e2e


def test_enter_goes_to_the_next_step(
    page: Page,
    live_server,
    juminhyo,  # noqa: F811 - the fixture imported above
    verified_resident,  # noqa: F811
):
    base = live_server.url
    page.goto(f"{base}/account/sign-in/")
    page.fill("#id_email", RESIDENT_EMAIL)
    page.fill("#id_password", RESIDENT_PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()
    page.goto(f"{base}/procedures/282103/juminhyo/")
    page.get_by_role("button", name="オンラインで申請する").click()

    # The address step: the postal look-up button comes before "next" in the form.
    expect(page.get_by_role("heading", level=1)).to_have_text("申請者")
    page.fill("#f-applicant-name-family", "加古川")
    page.fill("#f-applicant-name-given", "花子")
    page.fill("#f-applicant-name-family_kana", "カコガワ")
    page.fill("#f-applicant-name-given_kana", "ハナコ")
    page.fill("#f-applicant-birth_date", "平成2年1月2日")
    page.fill("#f-applicant-address-postal_code", "6750031")
    page.select_option("#f-applicant-address-prefecture", "兵庫県")
    page.fill("#f-applicant-address-city", "加古川市")
    page.fill("#f-applicant-address-town", "手で入れた町名")
    page.fill("#f-applicant-address-street", "2000")
    page.fill("#f-applicant-phone", "079-421-2000")
    page.locator("#f-applicant-address-street").press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("請求の内容")
    application = Application.objects.get(procedure=juminhyo)
    address = application.answers["applicant"]["address"]
    assert address["town"] == "手で入れた町名"  # not overwritten by a look-up

    # The next step has a "back" button before "next": Enter still goes forward.
    page.get_by_label("本人", exact=True).check()
    page.get_by_label("世帯全員").check()
    page.fill("#f-request-copies", "1")
    page.fill("#f-request-purpose", "勤務先への提出")
    page.locator("#f-request-purpose").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("入力内容の確認")
    application.refresh_from_db()
    assert application.answers["request"]["purpose"] == "勤務先への提出"
