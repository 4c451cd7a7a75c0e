"""The whole resident path in a real browser, checked with axe-core on every page.

Find 住民票 by typing じゅうみんひょう, fill the form (address completed from the postal code
without JavaScript), sign with the simulated My Number card, submit, see the receipt and
the status.
"""

from __future__ import annotations

import base64

import pytest
from playwright.sync_api import Page, expect

from machi.identity import services as identity_services
from machi.identity.tests.conftest import card_settings, pki  # noqa: F401 - fixtures
from machi.procedures.models import Application, ApplicationStatus
from machi.procedures.tests.conftest import juminhyo, shimin  # noqa: F401 - fixtures
from tests.e2e.a11y import axe_violations, blocking, describe

pytestmark = pytest.mark.e2e

RESIDENT_EMAIL = "hanako@example.jp"
RESIDENT_PASSWORD = "correct-horse-battery-staple"


def assert_accessible(page: Page) -> None:
    found = blocking(axe_violations(page))
    assert not found, f"axe-core on {page.url}:\n{describe(found)}"


@pytest.fixture
def verified_resident(db):
    user = identity_services.resident_sign_up(
        email=RESIDENT_EMAIL, password=RESIDENT_PASSWORD, display_name="加古川 花子"
    )
    identity_services.resident_email_verify(
        token=identity_services.email_verification_token(user=user)
    )
    return user


def test_resident_applies_for_juminhyo_with_card_signature(
    page: Page,
    live_server,
    juminhyo,  # noqa: F811 - the fixture imported above
    verified_resident,
    card_settings,  # noqa: F811
):
    base = live_server.url
    card = card_settings.good

    # Sign in as a resident.
    page.goto(f"{base}/account/sign-in/")
    assert_accessible(page)
    page.fill("#id_email", RESIDENT_EMAIL)
    page.fill("#id_password", RESIDENT_PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()

    # Find the procedure by typing its reading in hiragana.
    page.goto(f"{base}/")
    page.fill("#home-q", "じゅうみんひょう")
    page.locator("form[role=search] button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("手続をさがす")
    assert_accessible(page)
    page.get_by_role("link", name="住民票の写しの交付請求").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("住民票の写しの交付請求")
    assert_accessible(page)
    page.get_by_role("button", name="オンラインで申請する").click()

    # Step 1: the applicant. The address is completed from the postal code (no JavaScript).
    expect(page.get_by_role("heading", level=1)).to_have_text("申請者")
    assert_accessible(page)
    page.fill("#f-applicant-name-family", "加古川")
    page.fill("#f-applicant-name-given", "花子")
    page.fill("#f-applicant-name-family_kana", "カコガワ")
    page.fill("#f-applicant-name-given_kana", "ハナコ")
    page.fill("#f-applicant-birth_date", "平成2年1月2日")
    page.fill("#f-applicant-address-postal_code", "6750031")
    page.locator("button[name='_postal:applicant.address']").click()
    page.wait_for_load_state()
    expect(page.locator("#f-applicant-address-city")).to_have_value("加古川市")
    page.fill("#f-applicant-address-street", "2000")
    page.fill("#f-applicant-phone", "079-421-2000")
    page.get_by_role("button", name="次へ進む").click()

    # Step 2: what is requested. First a mistake, shown next to the field and at the top.
    expect(page.get_by_role("heading", level=1)).to_have_text("請求の内容")
    page.get_by_role("button", name="確認画面へ").click()
    expect(page.locator("#error-summary")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("本人", exact=True).check()
    page.get_by_label("世帯全員").check()
    page.fill("#f-request-copies", "1")
    page.fill("#f-request-purpose", "勤務先への提出")
    page.get_by_role("button", name="確認画面へ").click()

    # Review, then sign the shown data with the simulated card.
    expect(page.get_by_role("heading", level=1)).to_have_text("入力内容の確認")
    expect(page.locator("#summary")).to_contain_text("加古川")
    assert_accessible(page)
    page.locator("details.signing-paste summary").click()  # the expert fallback
    signing_data = base64.b64decode(page.locator("#id_signing_data").input_value())
    page.fill("#id_signature", base64.b64encode(card.sign(signing_data)).decode())
    page.fill("#id_certificate", card.certificate_pem("sign"))
    page.get_by_role("button", name="貼り付けた署名で申請する").click()

    # The receipt.
    expect(page.get_by_role("heading", level=1)).to_have_text("申請を受け付けました")
    application = Application.objects.get(procedure=juminhyo)
    assert application.status == ApplicationStatus.SUBMITTED
    expect(page.locator(".receipt-number")).to_contain_text(application.receipt_number)
    assert_accessible(page)

    # The status.
    page.get_by_role("link", name="申請の状況を見る").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("住民票の写しの交付請求")
    expect(page.locator("main")).to_contain_text("受付")
    expect(page.locator("main")).to_contain_text(application.receipt_number)
    assert_accessible(page)
    page.goto(f"{base}/my/applications/")
    expect(page.locator("main")).to_contain_text(application.receipt_number)
    assert_accessible(page)
