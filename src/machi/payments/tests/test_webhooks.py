"""Webhooks: signatures checked before anything, the same event twice changes nothing."""

from __future__ import annotations

import json
import time

import pytest
from django.urls import reverse

from machi.core.models import AuditEntry
from machi.payments import services
from machi.payments.models import Payment, PaymentEvent, PaymentStatus
from machi.payments.providers.sandbox import SIGNATURE_HEADER, sign

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.payments.tests.urls")]
SITE = "http://testserver"


@pytest.fixture
def pending(make_procedure, make_application):
    application = make_application(make_procedure(fee=300))
    return services.payment_start(application=application, actor=None, site_url=SITE)


def _event(payment, status="succeeded", event_id="sbxevt_1"):
    body = {
        "id": event_id,
        "type": f"payment.{status}",
        "data": {
            "ref": payment.provider_ref,
            "status": status,
            "amount": payment.amount_yen,
            "metadata": {"machi_payment": str(payment.pk)},
        },
    }
    return json.dumps(body).encode()


def _post(client, body, signature, provider="sandbox"):
    return client.post(
        reverse("payments:webhook", args=[provider]),
        data=body,
        content_type="application/json",
        headers={SIGNATURE_HEADER: signature} if signature is not None else {},
    )


def test_signed_webhook_updates_the_payment(client, pending):
    body = _event(pending)
    response = _post(client, body, sign(body))
    assert response.status_code == 200
    assert response.json() == {"received": True, "result": "processed"}
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.SUCCEEDED


def _wrong_secret(body, settings):
    settings.MACHI_PAYMENT_SANDBOX_SECRET = "another-secret"
    signature = sign(body)
    settings.MACHI_PAYMENT_SANDBOX_SECRET = "test-sandbox-secret"
    return signature


SIGNATURES = {
    "missing": lambda body, settings: None,
    "empty": lambda body, settings: "",
    "malformed": lambda body, settings: "t=abc,v1=00",
    "wrong digest": lambda body, settings: f"t={int(time.time())},v1={'0' * 64}",
    "replayed (old timestamp)": lambda body, settings: sign(
        body, timestamp=int(time.time()) - 3600
    ),
    "other secret": _wrong_secret,
}


@pytest.mark.parametrize("kind", SIGNATURES)
def test_bad_signature_is_refused_logged_audited_and_changes_nothing(
    client, pending, kind, caplog, settings
):
    body = _event(pending)
    signature = SIGNATURES[kind](body, settings)
    with caplog.at_level("WARNING"):
        response = _post(client, body, signature)
    assert response.status_code == 400
    assert "payment webhook rejected" in caplog.text
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.PENDING
    assert not PaymentEvent.objects.exists()
    assert AuditEntry.objects.filter(action="payment.webhook_rejected").count() == 1


def test_tampered_body_is_refused(client, pending):
    body = _event(pending)
    signature = sign(body)
    tampered = body.replace(b'"amount": 600', b'"amount": 1')
    assert _post(client, tampered, signature).status_code == 400


def test_the_same_event_twice_changes_nothing(client, pending):
    body = _event(pending)
    assert _post(client, body, sign(body)).json()["result"] == "processed"
    audits = AuditEntry.objects.count()
    updated_at = Payment.objects.get(pk=pending.pk).updated_at
    second = _post(client, body, sign(body))
    assert second.status_code == 200
    assert second.json()["result"] == "duplicate"
    assert PaymentEvent.objects.count() == 1
    assert AuditEntry.objects.count() == audits
    assert Payment.objects.get(pk=pending.pk).updated_at == updated_at


def test_a_late_failure_event_never_undoes_a_success(client, pending):
    ok = _event(pending, "succeeded", "evt-a")
    late = _event(pending, "failed", "evt-b")
    _post(client, ok, sign(ok))
    assert _post(client, late, sign(late)).status_code == 200
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.SUCCEEDED


def test_amount_differing_from_the_payment_is_not_accepted_as_paid(client, pending):
    body = json.loads(_event(pending))
    body["data"]["amount"] = 1
    raw = json.dumps(body).encode()
    assert _post(client, raw, sign(raw)).status_code == 200
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.PENDING
    assert AuditEntry.objects.filter(action="payment.amount_mismatch").exists()


def test_unknown_payment_is_acknowledged_and_audited(client, pending):
    body = json.dumps(
        {
            "id": "e9",
            "type": "payment.succeeded",
            "data": {"ref": "sbx_unknown", "status": "succeeded", "amount": 5},
        }
    ).encode()
    response = _post(client, body, sign(body))
    assert response.json()["result"] == "unmatched"
    assert AuditEntry.objects.filter(action="payment.webhook_unmatched").exists()


def test_unknown_provider_is_404(client):
    assert _post(client, b"{}", "x", provider="nope").status_code == 404


def test_webhook_is_csrf_exempt(pending):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    body = _event(pending)
    assert _post(strict, body, sign(body)).status_code == 200


def test_webhook_before_the_ref_was_recorded_finds_the_payment_by_metadata(
    client, make_procedure, make_application, sandbox
):
    """A crash after the provider call: the webhook still lands on the right payment."""
    application = make_application(make_procedure(fee=300))
    payment = services.payment_start(application=application, actor=None, site_url=SITE)
    ref = payment.provider_ref
    Payment.objects.filter(pk=payment.pk).update(provider_ref="", status=PaymentStatus.CREATED)
    payment.provider_ref = ref
    body = _event(payment)
    assert _post(client, body, sign(body)).json()["result"] == "processed"
    payment.refresh_from_db()
    assert payment.provider_ref == ref
    assert payment.status == PaymentStatus.SUCCEEDED
