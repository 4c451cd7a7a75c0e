"""PAY.JP adapter against recorded API responses (no network): requests sent, statuses, errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.urls import reverse
from responses import matchers

from machi.payments import services
from machi.payments.models import Payment, PaymentStatus
from machi.payments.providers import ProviderError, WebhookVerificationError, get_provider
from machi.payments.providers.payjp import PayjpProvider, charge_status
from machi.payments.tests import payjp_recorded as recorded
from machi.procedures.models import ApplicationStatus, PaymentTiming

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.payments.tests.urls")]
API = "https://api.pay.jp/v1"
SECRET = "sk_test_c62fade9d045b54cd76d7036"
PUBLIC = "pk_test_0383a1b8f91e8a6e3ea0e2a9"
TOKEN = "whook_test_token_123"
CHARGE_ID = recorded.CHARGE["id"]


@pytest.fixture(autouse=True)
def _payjp_settings(settings):
    settings.MACHI_PAYMENT_PROVIDER = "payjp"
    settings.MACHI_PAYJP_SECRET_KEY = SECRET
    settings.MACHI_PAYJP_PUBLIC_KEY = PUBLIC
    settings.MACHI_PAYJP_WEBHOOK_TOKEN = TOKEN


@pytest.fixture
def payjp() -> PayjpProvider:
    provider = get_provider("payjp")
    assert isinstance(provider, PayjpProvider)
    return provider


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def payment(make_procedure, make_application):
    procedure = make_procedure(fee=300, timing=PaymentTiming.BEFORE_ISSUANCE)
    application = make_application(procedure, status=ApplicationStatus.SUBMITTED)
    return services.payment_start(
        application=application, actor=None, site_url="https://machi.example.jp"
    )


def _form(request) -> dict[str, list[str]]:
    return parse_qs(request.body if isinstance(request.body, str) else request.body.decode())


def _basic_auth_ok(request) -> bool:
    expected = "Basic " + base64.b64encode(f"{SECRET}:".encode()).decode()
    return request.headers["Authorization"] == expected


def test_start_sends_the_payer_to_machis_card_page_without_calling_payjp(payment, api):
    assert payment.status == PaymentStatus.PENDING
    assert payment.provider_ref == ""
    assert payment.redirect_url == reverse("payments:payjp-checkout", args=[payment.pk])
    assert len(api.calls) == 0


def test_charge_with_token_sends_amount_jpy_capture_3ds_and_idempotency(payment, api):
    api.post(
        f"{API}/charges",
        json=recorded.charge(
            paid=False, captured=False, captured_at=None, three_d_secure_status="unverified"
        ),
        match=[matchers.header_matcher({"Idempotency-Key": payment.idempotency_key})],
    )
    result = services.payment_confirm_card(
        payment=payment, token="tok_76e202b409f3da51a0706605ac81"
    )
    request = api.calls[0].request
    form = _form(request)
    assert _basic_auth_ok(request)
    assert form["amount"] == ["600"]
    assert form["currency"] == ["jpy"]
    assert form["card"] == ["tok_76e202b409f3da51a0706605ac81"]
    assert form["capture"] == ["True"]
    assert form["three_d_secure"] == ["True"]
    assert form["metadata[machi_payment]"] == [str(payment.pk)]
    assert form["metadata[machi_municipality]"] == ["282103"]
    assert result.status == PaymentStatus.PENDING
    assert result.provider_ref == CHARGE_ID
    # The payer goes on to PAY.JP's 3-D Secure with a signed return address (back_url JWS).
    url = urlsplit(result.redirect_url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{API}/tds/{CHARGE_ID}/start"
    query = parse_qs(url.query)
    assert query["publickey"] == [PUBLIC]
    header, body, signature = query["back_url"][0].split(".")
    padded = body + "=" * (-len(body) % 4)
    assert json.loads(base64.urlsafe_b64decode(padded)) == {
        "url": "https://machi.example.jp" + reverse("payments:payjp-tds", args=[payment.pk])
    }
    expected = hmac.new(SECRET.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected


def test_3ds_return_finishes_the_charge(payment, api, client):
    Payment.objects.filter(pk=payment.pk).update(provider_ref=CHARGE_ID)
    api.get(
        f"{API}/charges/{CHARGE_ID}",
        json=recorded.charge(paid=False, captured=False, three_d_secure_status="verified"),
    )
    api.post(
        f"{API}/charges/{CHARGE_ID}/tds_finish",
        json=recorded.charge(three_d_secure_status="verified"),
    )
    payment.refresh_from_db()
    result = services.payment_finish_authentication(payment=payment)
    assert result.status == PaymentStatus.SUCCEEDED
    assert result.succeeded_at is not None


def test_card_declined_marks_the_payment_failed(payment, api):
    api.post(f"{API}/charges", json=recorded.CARD_DECLINED, status=402)
    result = services.payment_confirm_card(payment=payment, token="tok_declined")
    assert result.status == PaymentStatus.FAILED
    assert result.failure_code == "card_declined"


def test_adapter_errors_map_to_provider_errors(payjp, api):
    api.post(f"{API}/charges", json=recorded.CARD_DECLINED, status=402)
    with pytest.raises(ProviderError) as declined:
        payjp.charge_with_token(
            token="t", amount=600, description="x", idempotency_key="k", return_url="https://x/"
        )
    assert declined.value.code == "card_declined"
    assert not declined.value.retryable
    api.get(f"{API}/charges/ch_x", json=recorded.INVALID_KEY, status=401)
    with pytest.raises(ProviderError) as auth:
        payjp.fetch("ch_x")
    assert auth.value.code == "authentication_failed"
    api.get(f"{API}/charges/ch_y", json={"error": {"message": "server"}}, status=500)
    with pytest.raises(ProviderError) as server:
        payjp.fetch("ch_y")
    assert server.value.retryable


def test_network_failure_is_retryable(payjp, api):
    import requests

    api.get(f"{API}/charges/ch_z", body=requests.ConnectionError("down"))
    with pytest.raises(ProviderError) as excinfo:
        payjp.fetch("ch_z")
    assert excinfo.value.code == "connection_error"
    assert excinfo.value.retryable


def test_charge_without_3ds_is_paid_at_once(payjp, api):
    api.post(f"{API}/charges", json=recorded.charge())
    result = payjp.charge_with_token(
        token="t", amount=600, description="x", idempotency_key="k", return_url="https://x/"
    )
    assert result.status == PaymentStatus.SUCCEEDED
    assert result.redirect_url == ""
    assert result.created_at == datetime.fromtimestamp(1767225600, tz=UTC)


def test_refund_posts_amount_reason_and_idempotency_key(payjp, api):
    api.get(f"{API}/charges/{CHARGE_ID}", json=recorded.charge())
    api.post(
        f"{API}/charges/{CHARGE_ID}/refund",
        json=recorded.charge(amount_refunded=300, refund_reason="申請の取下げ"),
        match=[matchers.header_matcher({"Idempotency-Key": "machi-refund-1"})],
    )
    refund = payjp.refund(
        CHARGE_ID, amount=300, idempotency_key="machi-refund-1", reason="申請の取下げ"
    )
    form = _form(api.calls[1].request)
    assert form["amount"] == ["300"]
    assert form["refund_reason"] == ["申請の取下げ"]
    assert refund.amount == 300
    assert refund.payment is not None
    assert refund.payment.status == PaymentStatus.PARTIALLY_REFUNDED


def test_full_refund_through_the_service(payment, api, django_capture_on_commit_callbacks):
    Payment.objects.filter(pk=payment.pk).update(
        provider_ref=CHARGE_ID, status=PaymentStatus.SUCCEEDED
    )
    payment.refresh_from_db()
    api.get(f"{API}/charges/{CHARGE_ID}", json=recorded.charge())
    api.post(
        f"{API}/charges/{CHARGE_ID}/refund",
        json=recorded.charge(amount_refunded=600, refunded=True),
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.refund_request(payment=payment, reason="取下げ")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.refunded_yen == 600


@pytest.mark.parametrize(
    ("charge", "status"),
    [
        (recorded.charge(), PaymentStatus.SUCCEEDED),
        (recorded.charge(amount_refunded=100), PaymentStatus.PARTIALLY_REFUNDED),
        (recorded.charge(amount_refunded=600, refunded=True), PaymentStatus.REFUNDED),
        (
            recorded.charge(paid=False, captured=False, failure_code="card_declined"),
            PaymentStatus.FAILED,
        ),
        (
            recorded.charge(paid=False, captured=False, three_d_secure_status="unverified"),
            PaymentStatus.PENDING,
        ),
        (
            recorded.charge(paid=False, captured=False, three_d_secure_status="failed"),
            PaymentStatus.FAILED,
        ),
    ],
)
def test_charge_status_mapping(charge, status):
    assert charge_status(charge) == status


def _webhook(client, body: dict, token: str | None):
    headers = {"X-Payjp-Webhook-Token": token} if token is not None else {}
    return client.post(
        reverse("payments:webhook", args=["payjp"]),
        data=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def test_webhook_with_the_wrong_token_is_refused(client, payment, api):
    Payment.objects.filter(pk=payment.pk).update(provider_ref=CHARGE_ID)
    body = recorded.event(recorded.charge())
    assert _webhook(client, body, "wrong").status_code == 400
    assert _webhook(client, body, None).status_code == 400
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert len(api.calls) == 0


def test_webhook_with_the_token_refetches_and_records(client, payment, api):
    Payment.objects.filter(pk=payment.pk).update(provider_ref=CHARGE_ID)
    api.get(f"{API}/charges/{CHARGE_ID}", json=recorded.charge())
    body = recorded.event(recorded.charge())
    response = _webhook(client, body, TOKEN)
    assert response.status_code == 200
    assert response.json()["result"] == "processed"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert _webhook(client, body, TOKEN).json()["result"] == "duplicate"


def test_webhook_token_unset_refuses_everything(payjp, settings):
    settings.MACHI_PAYJP_WEBHOOK_TOKEN = ""
    with pytest.raises(WebhookVerificationError):
        payjp.verify_webhook({"X-Payjp-Webhook-Token": ""}, b"{}")


def test_non_charge_events_are_acknowledged(payjp):
    event = payjp.verify_webhook(
        {"x-payjp-webhook-token": TOKEN},
        json.dumps(
            recorded.event({"object": "customer", "id": "cus_1"}, event_type="customer.created")
        ).encode(),
    )
    assert event.provider_ref == "" and event.payment is None


def test_list_payments_pages_through_charges(payjp, api):
    first = [recorded.charge(id=f"ch_{i}") for i in range(100)]
    api.get(
        f"{API}/charges",
        json=recorded.charge_list(first, has_more=True),
        match=[
            matchers.query_param_matcher(
                {"limit": "100", "offset": "0", "since": "1767193200", "until": "1767279599"}
            )
        ],
    )
    api.get(
        f"{API}/charges",
        json=recorded.charge_list([recorded.charge(id="ch_last")], has_more=False),
        match=[
            matchers.query_param_matcher(
                {"limit": "100", "offset": "100", "since": "1767193200", "until": "1767279599"}
            )
        ],
    )
    found = payjp.list_payments(
        since=datetime(2025, 12, 31, 15, tzinfo=UTC), until=datetime(2026, 1, 1, 15, tzinfo=UTC)
    )
    assert len(found) == 101
    assert found[-1].provider_ref == "ch_last"


def test_card_page_posts_the_token_and_redirects_to_3ds(payment, api, applicant_client):
    client = applicant_client(payment.application)
    page = client.get(reverse("payments:payjp-checkout", args=[payment.pk]))
    assert page.status_code == 200
    assert PUBLIC in page.content.decode()
    assert "https://js.pay.jp" in page["Content-Security-Policy"]
    api.post(
        f"{API}/charges",
        json=recorded.charge(paid=False, captured=False, three_d_secure_status="unverified"),
    )
    response = client.post(
        reverse("payments:payjp-checkout", args=[payment.pk]), {"payjp-token": "tok_1"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(f"{API}/tds/{CHARGE_ID}/start?")


def test_not_configured_payjp_refuses_to_start(
    settings, make_procedure, make_application, applicant_client
):
    settings.MACHI_PAYJP_SECRET_KEY = ""
    application = make_application(make_procedure(fee=300))
    response = applicant_client(application).post(reverse("payments:start", args=[application.pk]))
    assert response.status_code == 503
