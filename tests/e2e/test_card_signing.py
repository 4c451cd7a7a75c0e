"""Signing without a terminal: the demo card in one click, and the smartphone hand-off protocol.

The browser test fills the 住民票 form as a resident and signs with the demo card without
leaving the browser. The protocol tests drive the hand-off as the companion app would
(docs/signing-handoff.md) and show that replayed, expired or wrong answers change nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from machi.core.models import AuditEntry
from machi.identity import services as identity_services
from machi.identity.models import CertificateEvidence, SigningHandoff
from machi.identity.tests.conftest import Pki, card_settings, pki  # noqa: F401 - fixtures
from machi.procedures import services
from machi.procedures.models import Application, ApplicationStatus
from machi.procedures.tests.conftest import (  # noqa: F401 - fixtures
    JUMINHYO_ANSWERS,
    juminhyo,
    resident,
    shimin,
)
from machi.testing_pki.companion import answer_request
from machi.testing_pki.wallet import wallet_save
from tests.e2e.conftest import screenshot

RESIDENT_PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def demo_wallet(settings, tmp_path, card_settings: Pki, resident):  # noqa: F811
    """The resident's demo card (the session's good card) in a wallet of this test's own."""
    settings.VAR_DIR = tmp_path  # the demo wallet is VAR_DIR/demo-cards
    wallet_save(email=resident.email, card=card_settings.good)
    return card_settings


def _draft(client: Client, procedure) -> Application:
    response = client.post(f"/procedures/{procedure.municipality_id}/{procedure.slug}/start/")
    assert response.status_code == 302, response.content
    application = Application.objects.latest("created_at")
    for step in ("applicant", "request"):
        services.application_save_step(
            application=application, step_key=step, step_answers=JUMINHYO_ANSWERS[step]
        )
    return application


def _signing_bytes(application: Application) -> bytes:
    application.refresh_from_db()
    cleaned = services.validate_answers(
        services.FormDefinition.from_json(application.form_version.definition), application.answers
    ).cleaned
    return services.submission_signing_bytes(application, cleaned)


def _fill_juminhyo_in_the_browser(page: Page, base: str, resident) -> None:  # noqa: F811
    """Sign in as the resident and fill the 住民票 form up to the review step."""
    identity_services.resident_email_verify(
        token=identity_services.email_verification_token(user=resident)
    )
    page.goto(f"{base}/account/sign-in/")
    page.fill("#id_email", resident.email)
    page.fill("#id_password", RESIDENT_PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()

    page.goto(f"{base}/procedures/282103/juminhyo/")
    page.get_by_role("button", name="オンラインで申請する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("申請者")
    page.fill("#f-applicant-name-family", "加古川")
    page.fill("#f-applicant-name-given", "花子")
    page.fill("#f-applicant-name-family_kana", "カコガワ")
    page.fill("#f-applicant-name-given_kana", "ハナコ")
    page.fill("#f-applicant-birth_date", "平成2年1月2日")
    page.fill("#f-applicant-address-postal_code", "6750031")
    page.locator("button[name='_postal:applicant.address']").click()
    page.wait_for_load_state()
    page.fill("#f-applicant-address-street", "2000")
    page.fill("#f-applicant-phone", "079-421-2000")
    page.get_by_role("button", name="次へ進む").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("請求の内容")
    page.get_by_label("本人", exact=True).check()
    page.get_by_label("世帯全員").check()
    page.fill("#f-request-copies", "1")
    page.fill("#f-request-purpose", "勤務先への提出")
    page.get_by_role("button", name="確認画面へ").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("入力内容の確認")


@pytest.mark.e2e
def test_resident_signs_with_the_demo_card_in_one_click(
    page: Page,
    live_server,
    juminhyo,  # noqa: F811
    demo_wallet,
    resident,  # noqa: F811
):
    base = live_server.url
    _fill_juminhyo_in_the_browser(page, base, resident)

    # The review offers the demo card, the smartphone, and the paste form folded away.
    expect(page.locator("#id_signature")).to_be_hidden()
    expect(page.locator("details.signing-paste summary")).to_have_text(
        "上級者向け: 署名と電子証明書を貼り付ける"
    )
    screenshot(page, "card-signing-review")
    page.get_by_role("button", name="デモ用カードで署名して申請する", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("申請を受け付けました")
    application = Application.objects.get(procedure=juminhyo)
    assert application.status == ApplicationStatus.SUBMITTED
    expect(page.locator(".receipt-number")).to_contain_text(application.receipt_number)
    evidence = CertificateEvidence.objects.get(pk=application.signature_evidence_id)
    assert evidence.serial == f"{demo_wallet.good.sign_certificate.serial_number:x}"
    assert evidence.holder_name == "加古川　花子"
    assert evidence.revocation_method == "crl"
    assert evidence.target_id == str(application.pk)
    assert application.signer_name == "加古川　花子"


@pytest.mark.e2e
def test_smartphone_handoff_completes_in_the_browser_by_itself(
    page: Page,
    live_server,
    juminhyo,  # noqa: F811
    resident,  # noqa: F811
    card_settings: Pki,  # noqa: F811
    settings,
):
    """The QR code's request answered by the (simulated) app: the page notices and submits."""
    base = live_server.url
    settings.MACHI_PUBLIC_BASE_URL = base  # the QR code carries the public address
    _fill_juminhyo_in_the_browser(page, base, resident)
    page.get_by_role("button", name="QRコードを表示する").click()
    expect(page.locator(".handoff-qr svg")).to_be_visible()
    page.locator("details.handoff-url summary").click()
    url = page.locator("details.handoff-url code").inner_text()
    assert url.startswith(f"{base}/api/v1/identity/signing-requests/")

    phone = Client()  # the companion app, outside the browser
    path = url.removeprefix(base)
    request = phone.get(path).json()
    answered = phone.post(
        f"{path}/response",
        json.dumps(answer_request(request, card_settings.good)),
        content_type="application/json",
    )
    assert answered.status_code == 200

    # handoff.js polls and presses 「確認する」 itself.
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "申請を受け付けました", timeout=15_000
    )
    application = Application.objects.get(procedure=juminhyo)
    assert application.status == ApplicationStatus.SUBMITTED
    evidence = CertificateEvidence.objects.get(pk=application.signature_evidence_id)
    assert evidence.serial == f"{card_settings.good.sign_certificate.serial_number:x}"


def _start_handoff(client: Client, application: Application) -> tuple[str, SigningHandoff]:
    """Press 「QRコードを表示する」 and read the request URL the QR code carries."""
    page = client.post(f"/apply/{application.pk}/review/", {"signing_client": "smartphone:restart"})
    assert page.status_code == 200
    html = page.content.decode()
    assert '<svg width="' in html  # the QR code, inline
    url = re.search(
        rf"<code>({re.escape(settings.MACHI_PUBLIC_BASE_URL)}/api/v1/identity/signing-requests/[^<]+)</code>",
        html,
    )
    assert url is not None, html
    return url.group(1), SigningHandoff.objects.get()


def _confirm(client: Client, application: Application):
    return client.post(f"/apply/{application.pk}/review/", {"signing_client": "smartphone"})


def test_handoff_request_answered_by_the_app_completes_the_submission(
    juminhyo,  # noqa: F811
    resident,  # noqa: F811
    card_settings: Pki,  # noqa: F811
):
    browser = Client()
    browser.force_login(resident)
    application = _draft(browser, juminhyo)
    url, handoff = _start_handoff(browser, application)
    data = _signing_bytes(application)

    # Before the app has answered, 「確認する」 says so and submits nothing.
    waiting = _confirm(browser, application)
    assert waiting.status_code == 400
    assert "スマートフォンからの署名をまだ受け取っていません" in waiting.content.decode()
    assert Application.objects.get(pk=application.pk).status == ApplicationStatus.DRAFT

    phone = Client()  # the companion app: no session, the URL's token is the credential
    request = phone.get(url.removeprefix(settings.MACHI_PUBLIC_BASE_URL)).json()
    assert request["protocol"] == "machi-signing-handoff/1"
    assert request["purpose"] == "sign"
    assert base64.b64decode(request["data"]) == data
    assert request["data_sha256"] == hashlib.sha256(data).hexdigest()
    response_path = request["response_url"].removeprefix(settings.MACHI_PUBLIC_BASE_URL)
    assert response_path == url.removeprefix(settings.MACHI_PUBLIC_BASE_URL) + "/response"
    body = answer_request(request, card_settings.good)
    answered = phone.post(response_path, json.dumps(body), content_type="application/json")
    assert answered.status_code == 200, answered.content
    assert answered.json()["status"] == "accepted"

    done = _confirm(browser, application)
    assert done.status_code == 302
    assert done["Location"] == f"/apply/{application.pk}/done/"
    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED
    evidence = CertificateEvidence.objects.get(pk=application.signature_evidence_id)
    assert evidence.serial == f"{card_settings.good.sign_certificate.serial_number:x}"
    handoff.refresh_from_db()
    assert handoff.used_at is not None

    # Replayed: the request is answered already, both for the app and for the browser.
    replay = phone.post(response_path, json.dumps(body), content_type="application/json")
    assert replay.status_code == 409
    assert replay.json()["error"]["code"] == "handoff_answered"
    assert phone.get(url.removeprefix(settings.MACHI_PUBLIC_BASE_URL)).status_code == 409
    assert CertificateEvidence.objects.count() == 1


def test_handoff_signature_over_other_bytes_is_refused_and_changes_nothing(
    juminhyo,  # noqa: F811
    resident,  # noqa: F811
    card_settings: Pki,  # noqa: F811
):
    browser = Client()
    browser.force_login(resident)
    application = _draft(browser, juminhyo)
    url, handoff = _start_handoff(browser, application)
    path = url.removeprefix(settings.MACHI_PUBLIC_BASE_URL)
    forged = {
        "signature": base64.b64encode(card_settings.good.sign(b"other bytes")).decode(),
        "certificate": card_settings.good.certificate_pem("sign"),
    }
    refused = Client().post(f"{path}/response", json.dumps(forged), content_type="application/json")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "bad_signature"
    handoff.refresh_from_db()
    assert handoff.answered_at is None
    assert bytes(handoff.signature) == b""
    assert handoff.certificate_pem == ""
    assert AuditEntry.objects.filter(action="identity.handoff_refused").count() == 1

    # The 利用者証明用 certificate cannot answer a signing (署名用) request either.
    data = _signing_bytes(application)
    wrong_key = {
        "signature": base64.b64encode(card_settings.good.sign_for("auth", data)).decode(),
        "certificate": card_settings.good.certificate_pem("auth"),
    }
    refused = Client().post(
        f"{path}/response", json.dumps(wrong_key), content_type="application/json"
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "wrong_purpose"

    assert _confirm(browser, application).status_code == 400
    application.refresh_from_db()
    assert application.status == ApplicationStatus.DRAFT
    assert application.receipt_number is None
    assert CertificateEvidence.objects.count() == 0


def test_expired_handoff_is_refused(
    juminhyo,  # noqa: F811
    resident,  # noqa: F811
    card_settings: Pki,  # noqa: F811
):
    browser = Client()
    browser.force_login(resident)
    application = _draft(browser, juminhyo)
    url, handoff = _start_handoff(browser, application)
    path = url.removeprefix(settings.MACHI_PUBLIC_BASE_URL)
    request = Client().get(path).json()
    SigningHandoff.objects.filter(pk=handoff.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    late = Client().post(
        f"{path}/response",
        json.dumps(answer_request(request, card_settings.good)),
        content_type="application/json",
    )
    assert late.status_code == 410
    assert late.json()["error"]["code"] == "handoff_expired"
    assert Client().get(path).status_code == 410
    handoff.refresh_from_db()
    assert handoff.answered_at is None
    refused = _confirm(browser, application)
    assert refused.status_code == 400
    assert "有効期限" in refused.content.decode()
    assert Application.objects.get(pk=application.pk).status == ApplicationStatus.DRAFT


def test_handoff_answer_is_refused_once_the_answers_change(
    juminhyo,  # noqa: F811
    resident,  # noqa: F811
    card_settings: Pki,  # noqa: F811
):
    """The request is bound to the canonical bytes' hash: editing after signing needs a new one."""
    browser = Client()
    browser.force_login(resident)
    application = _draft(browser, juminhyo)
    url, _handoff = _start_handoff(browser, application)
    path = url.removeprefix(settings.MACHI_PUBLIC_BASE_URL)
    request = Client().get(path).json()
    answered = Client().post(
        f"{path}/response",
        json.dumps(answer_request(request, card_settings.good)),
        content_type="application/json",
    )
    assert answered.status_code == 200
    services.application_save_step(
        application=application,
        step_key="request",
        step_answers={**JUMINHYO_ANSWERS["request"], "copies": "3"},
    )
    stale = _confirm(browser, application)
    assert stale.status_code == 400
    assert "署名したあとで内容が変わりました" in stale.content.decode()
    application.refresh_from_db()
    assert application.status == ApplicationStatus.DRAFT
    assert CertificateEvidence.objects.count() == 0


def test_handoff_status_is_only_for_the_session_that_started_it(
    juminhyo,  # noqa: F811
    resident,  # noqa: F811
    card_settings: Pki,  # noqa: F811
):
    browser = Client()
    browser.force_login(resident)
    application = _draft(browser, juminhyo)
    _url, handoff = _start_handoff(browser, application)
    status = browser.get(f"/account/signing/handoffs/{handoff.pk}/status/")
    assert status.status_code == 200
    assert status.json() == {"answered": False, "expired": False}
    other = Client()
    other.force_login(resident)  # the same resident in another browser
    assert other.get(f"/account/signing/handoffs/{handoff.pk}/status/").status_code == 404


def test_unknown_handoff_token_is_404(db):
    response = Client().get("/api/v1/identity/signing-requests/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "handoff_unknown"


def test_demo_card_is_never_offered_in_production(
    settings,
    juminhyo,  # noqa: F811
    demo_wallet,
    resident,  # noqa: F811
):
    browser = Client()
    browser.force_login(resident)
    application = _draft(browser, juminhyo)
    review = browser.get(f"/apply/{application.pk}/review/").content.decode()
    assert review.count('value="demo-card:') == 1
    settings.PRODUCTION = True
    review = browser.get(f"/apply/{application.pk}/review/").content.decode()
    assert 'value="demo-card' not in review
    refused = browser.post(
        f"/apply/{application.pk}/review/", {"signing_client": "demo-card:" + "0" * 20}
    )
    assert refused.status_code == 400
    assert "この署名の方法は使えません" in refused.content.decode()
    assert Application.objects.get(pk=application.pk).status == ApplicationStatus.DRAFT
