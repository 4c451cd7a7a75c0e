"""The sandbox provider through the resident pages: success, failure, cancel, double click."""

from __future__ import annotations

import pytest
from django.urls import reverse

from machi.core.models import AuditEntry
from machi.payments.models import Payment, PaymentEvent, PaymentStatus, SandboxTransaction
from machi.procedures.models import ApplicationStatus, AssuranceLevel, PaymentTiming

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.payments.tests.urls")]


def _start(client, application):
    return client.post(reverse("payments:start", args=[application.pk]))


def _checkout(client, application, outcome, **extra):
    response = _start(client, application)
    assert response.status_code == 302
    checkout_url = response["Location"]
    assert checkout_url.startswith("/payments/sandbox/sbx_")
    page = client.get(checkout_url)
    assert page.status_code == 200
    return client.post(checkout_url, {"outcome": outcome, **extra})


@pytest.fixture
def draft(make_procedure, make_application):
    return make_application(make_procedure(fee=300), answers={"request": {"copies": "2"}})


def test_pay_page_shows_the_statement(draft, applicant_client):
    client = applicant_client(draft)
    page = client.get(reverse("payments:pay", args=[draft.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "600円" in html and "お支払いへ進む" in html
    assert html.count("<h1") == 1


def test_success_submits_the_application_and_shows_the_receipt(draft, applicant_client, settings):
    # The return address is built from the one public base URL, not from the request's host.
    settings.MACHI_PUBLIC_BASE_URL = "http://127.0.0.1:8765"
    client = applicant_client(draft)
    back = _checkout(client, draft, "pay")
    payment = Payment.objects.get(application=draft)
    assert back.status_code == 302
    assert back["Location"] == f"http://127.0.0.1:8765/payments/return/{payment.pk}/"
    assert payment.return_url == back["Location"]
    result = client.get(f"/payments/return/{payment.pk}/")
    assert result.status_code == 302
    assert result["Location"] == reverse("procedures:done", kwargs={"application_id": draft.pk})
    payment.refresh_from_db()
    draft.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.amount_yen == 600 and payment.currency == "JPY"
    assert payment.succeeded_at is not None
    assert draft.status == ApplicationStatus.SUBMITTED
    assert draft.fee_yen == 600  # the submission check snapshots the quote
    assert PaymentEvent.objects.filter(payment=payment, event_type="payment.succeeded").exists()
    actions = list(
        AuditEntry.objects.filter(target_type="payment", target_id=str(payment.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["payment.create", "payment.status", "payment.status"]
    # Coming back to the return page again is harmless: straight to the receipt.
    again = client.get(reverse("payments:return", args=[payment.pk]))
    assert again.status_code == 302


def test_failure_shows_the_reason_and_allows_a_new_attempt(draft, applicant_client):
    client = applicant_client(draft)
    back = _checkout(client, draft, "decline", failure_code="expired_card")
    page = client.get(back["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "お支払いができませんでした" in html
    assert "カードの有効期限が切れています" in html
    assert "もう一度お支払いする" in html
    failed = Payment.objects.get(application=draft)
    assert failed.status == PaymentStatus.FAILED and failed.failure_code == "expired_card"
    draft.refresh_from_db()
    assert draft.status == ApplicationStatus.DRAFT
    back = _checkout(client, draft, "pay")
    client.get(back["Location"])
    statuses = sorted(Payment.objects.filter(application=draft).values_list("status", flat=True))
    assert statuses == [PaymentStatus.FAILED, PaymentStatus.SUCCEEDED]


def test_cancel_is_shown_and_nothing_is_charged(draft, applicant_client):
    client = applicant_client(draft)
    back = _checkout(client, draft, "cancel")
    page = client.get(back["Location"])
    assert "お支払いを取り消しました" in page.content.decode()
    payment = Payment.objects.get(application=draft)
    assert payment.status == PaymentStatus.CANCELLED
    assert SandboxTransaction.objects.get(ref=payment.provider_ref).status == "cancelled"


def test_double_click_on_start_opens_one_payment(draft, applicant_client):
    client = applicant_client(draft)
    first = _start(client, draft)
    second = _start(client, draft)
    assert first["Location"] == second["Location"]
    assert Payment.objects.filter(application=draft).count() == 1
    assert SandboxTransaction.objects.count() == 1


def test_start_after_paying_goes_to_the_result(draft, applicant_client, sandbox):
    draft.procedure.payment_timing = PaymentTiming.BEFORE_ISSUANCE
    draft.procedure.save()
    draft.status = ApplicationStatus.SUBMITTED
    draft.save()
    client = applicant_client(draft)
    _checkout(client, draft, "pay")
    response = _start(client, draft)
    payment = Payment.objects.get(application=draft)
    assert response["Location"] == reverse("payments:return", args=[payment.pk])
    page = client.get(response["Location"])
    assert "お支払いが完了しました" in page.content.decode()
    assert Payment.objects.filter(application=draft).count() == 1


def test_changed_fee_closes_the_open_payment(draft, applicant_client):
    client = applicant_client(draft)
    _start(client, draft)
    draft.answers = {"request": {"copies": "3"}}
    draft.save()
    _start(client, draft)
    payments = {p.amount_yen: p.status for p in Payment.objects.filter(application=draft)}
    assert payments == {600: PaymentStatus.CANCELLED, 900: PaymentStatus.PENDING}


def test_card_signature_procedures_go_back_to_review_after_paying(
    make_procedure, make_application, applicant_client
):
    procedure = make_procedure(fee=300, assurance_level=AssuranceLevel.CARD_SIGNATURE)
    application = make_application(procedure)
    client = applicant_client(application)
    back = _checkout(client, application, "pay")
    page = client.get(back["Location"])
    assert page.status_code == 200
    assert reverse("procedures:review", args=[application.pk]) in page.content.decode()
    application.refresh_from_db()
    assert application.status == ApplicationStatus.DRAFT


def test_pending_return_page_reads_the_provider_not_the_query(draft, applicant_client):
    client = applicant_client(draft)
    _start(client, draft)
    payment = Payment.objects.get(application=draft)
    page = client.get(reverse("payments:return", args=[payment.pk]) + "?status=succeeded")
    assert page.status_code == 200
    assert "お支払いを確認しています" in page.content.decode()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_only_the_applicant_can_start_or_see_a_payment(draft, applicant_client, client):
    owner = applicant_client(draft)
    _start(owner, draft)
    payment = Payment.objects.get(application=draft)
    assert _start(client, draft).status_code == 404
    assert client.get(reverse("payments:return", args=[payment.pk])).status_code == 404
    assert client.get(reverse("payments:pay", args=[draft.pk])).status_code == 404


def test_nothing_to_pay_is_explained(make_procedure, make_application, applicant_client):
    free = make_application(make_procedure(fee=0))
    client = applicant_client(free)
    response = _start(client, free)
    assert response.status_code == 422
    assert "手数料のお支払いが不要です" in response.content.decode()
    assert not Payment.objects.exists()


def test_unknown_sandbox_checkout_is_404(client):
    assert client.get(reverse("payments:sandbox-checkout", args=["sbx_nope"])).status_code == 404


def test_checkout_already_completed_changes_nothing(draft, applicant_client):
    client = applicant_client(draft)
    url = _start(client, draft)["Location"]
    client.post(url, {"outcome": "pay"})
    again = client.post(url, {"outcome": "cancel"})
    assert again.status_code == 200
    assert "処理済み" in again.content.decode()
    assert Payment.objects.get(application=draft).status == PaymentStatus.SUCCEEDED


def test_sandbox_disabled_refuses_to_start(draft, applicant_client, settings):
    settings.MACHI_PAYMENT_SANDBOX_ENABLED = False
    response = _start(applicant_client(draft), draft)
    assert response.status_code == 503
    assert not Payment.objects.exists()
