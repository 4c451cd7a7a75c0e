"""A correction (補正) of a card-signed application, in real browsers.

The 担当者 asks for a correction of one answer (使いみち); the resident sees it named in words,
can change only that answer (the name stays read-only), and changing it asks for a new card
signature before anything is sent.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page, expect

from machi.identity.tests.conftest import card_settings, pki  # noqa: F401 - fixtures
from machi.procedures import services
from machi.procedures.states import ApplicationStatus
from machi.procedures.tests.conftest import JUMINHYO_ANSWERS, juminhyo, shimin  # noqa: F401
from machi.testing_pki.wallet import wallet_save
from tests.e2e.a11y import axe_violations, blocking, describe
from tests.e2e.conftest import sign_in
from tests.e2e.test_resident_path import (  # noqa: F401 - fixture
    RESIDENT_EMAIL,
    RESIDENT_PASSWORD,
    verified_resident,
)

pytestmark = pytest.mark.e2e


def assert_accessible(page: Page) -> None:
    found = blocking(axe_violations(page))
    assert not found, f"axe-core on {page.url}:\n{describe(found)}"


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    contexts: list[BrowserContext] = []

    def make() -> Page:
        context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def demo_wallet(settings, tmp_path, card_settings, verified_resident):  # noqa: F811
    """The resident's demo card (the session's good card) in a wallet of this test's own."""
    settings.MACHI_DEMO_WALLET_DIR = tmp_path / "wallet"
    wallet_save(email=verified_resident.email, card=card_settings.good)


@pytest.fixture
def signed_application(juminhyo, verified_resident, card_settings):  # noqa: F811
    started = services.application_start(procedure=juminhyo, applicant=verified_resident)
    application = started.application
    for step, answers in JUMINHYO_ANSWERS.items():
        services.application_save_step(application=application, step_key=step, step_answers=answers)
    cleaned = services.validate_answers(
        services.FormDefinition.from_json(application.form_version.definition), application.answers
    ).cleaned
    data = services.submission_signing_bytes(application, cleaned)
    return services.application_submit(
        application=application,
        actor=verified_resident,
        signature=services.CardSignature(
            signature_b64=base64.b64encode(card_settings.good.sign(data)).decode(),
            certificate_pem=card_settings.good.certificate_pem("sign"),
        ),
    )


def test_resident_answers_a_correction_of_one_signed_field(
    page: Page,
    new_page: Callable[[], Page],
    live_server,
    signed_application,
    kakogawa_handler,
    demo_wallet,
):
    base = live_server.url
    application = signed_application
    evidence = application.signature_evidence_id

    # The 担当者 starts the review and asks for a correction of 使いみち only.
    handler = new_page()
    sign_in(handler, base, "kakogawa-handler")
    handler.goto(f"{base}/staff/cases/{application.pk}/")
    handler.get_by_role("button", name="審査中にする").click()
    handler.wait_for_load_state()
    details = handler.locator("details.action", has=handler.locator("form[action$='/correction/']"))
    details.locator("summary").click()
    handler.fill("#id_correction-message", "使いみちを具体的に書いてください。")
    handler.locator("input[name='correction-targets'][value='request.purpose']").check()
    deadline = timezone.localdate() + dt.timedelta(days=10)
    handler.fill("#id_correction-deadline", deadline.isoformat())
    handler.locator("form[action$='/correction/'] button[type=submit]").click()
    handler.wait_for_load_state()
    application.refresh_from_db()
    assert application.status == ApplicationStatus.CORRECTION_REQUESTED
    assert application.corrections.get().fields == ["request.purpose"]

    # The resident sees what was flagged, in words, and can change only that.
    resident = page
    resident.goto(f"{base}/account/sign-in/")
    resident.fill("#id_email", RESIDENT_EMAIL)
    resident.fill("#id_password", RESIDENT_PASSWORD)
    resident.locator("main form button[type=submit]").first.click()
    resident.wait_for_load_state()
    resident.goto(f"{base}/my/applications/{application.pk}/correction/")
    expect(resident.get_by_role("heading", level=1)).to_have_text("補正に回答する")
    expect(resident.locator("ul.flagged-fields li")).to_have_text(["請求の内容：使いみち"])
    expect(resident.locator("main")).not_to_contain_text("request.purpose")
    expect(resident.locator("#f-request-purpose")).to_have_value("勤務先への提出")
    expect(resident.locator("#f-applicant-name-given")).to_have_count(0)  # not editable
    unchanged = resident.locator("#unchanged")
    expect(unchanged).to_contain_text("加古川　花子")
    assert_accessible(resident)

    resident.fill("#f-request-purpose", "年金の手続")
    resident.get_by_role("button", name="補正して再提出する").click()

    # A signed answer changed: a new signature is asked for before anything is sent.
    expect(resident.get_by_role("heading", level=1)).to_have_text("補正した内容に署名する")
    expect(resident.locator("#changes tbody tr")).to_have_count(1)
    expect(resident.locator("#changes tbody tr")).to_contain_text("使いみち")
    expect(resident.locator("#changes tbody tr td").nth(0)).to_have_text("勤務先への提出")
    expect(resident.locator("#changes tbody tr td").nth(1)).to_have_text("年金の手続")
    assert_accessible(resident)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.CORRECTION_REQUESTED
    assert application.answers["request"]["purpose"] == "勤務先への提出"
    assert application.answers["applicant"]["name"]["given"] == "花子"
    assert application.signature_evidence_id == evidence

    # Sign with the demo card in one click: the correction is sent, newly signed.
    resident.get_by_role("button", name="デモ用カードで署名して補正を送る").click()
    expect(resident).to_have_url(f"{base}/my/applications/{application.pk}/")
    expect(resident.locator("main")).to_contain_text("補正に回答しました。担当課が確認します。")
    application.refresh_from_db()
    assert application.status == ApplicationStatus.IN_REVIEW
    assert application.answers["request"]["purpose"] == "年金の手続"
    assert application.answers["applicant"]["name"]["given"] == "花子"
    assert application.signature_evidence_id not in ("", evidence)
