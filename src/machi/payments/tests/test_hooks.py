"""Procedure hooks: pay before submission, pay before issuance, automatic refunds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from machi.core import outbox
from machi.core.exceptions import Conflict, InvalidInput
from machi.core.models import AuditEntry, OutboxMessage, OutboxStatus
from machi.payments import services
from machi.payments.models import Payment, PaymentStatus, Refund, RefundStatus
from machi.payments.providers import ProviderError
from machi.payments.providers.sandbox import SandboxProvider
from machi.procedures import services as procedure_services
from machi.procedures.models import ApplicationStatus, PaymentTiming

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.payments.tests.urls")]
SITE = "http://testserver"


def _pay(application, sandbox, outcome="pay"):
    payment = services.payment_start(application=application, actor=None, site_url=SITE)
    _tx, headers, body = sandbox.complete(payment.provider_ref, outcome=outcome)
    services.webhook_receive(provider_id="sandbox", headers=headers, body=body)
    payment.refresh_from_db()
    return payment


def _submit(application):
    return procedure_services.application_submit(application=application, actor=None)


# --- before submission -------------------------------------------------------------------------


def test_unpaid_submission_is_refused(make_procedure, make_application):
    application = make_application(make_procedure(fee=300))
    with pytest.raises(InvalidInput) as excinfo:
        _submit(application)
    assert excinfo.value.code == "payment_required"
    message = "手数料（600円）のお支払いが済んでいないため、申請できません。"
    assert str(excinfo.value.message) == message
    assert excinfo.value.field_errors == {"payment": [message]}
    application.refresh_from_db()
    assert application.status == ApplicationStatus.DRAFT


def test_paid_submission_goes_through(make_procedure, make_application, sandbox):
    application = make_application(make_procedure(fee=300))
    _pay(application, sandbox)
    submitted = _submit(application)
    assert submitted.status == ApplicationStatus.SUBMITTED
    assert submitted.fee_yen == 600


def test_payment_for_fewer_copies_does_not_cover(make_procedure, make_application, sandbox):
    application = make_application(make_procedure(fee=300))
    _pay(application, sandbox)
    application.answers = {"request": {"copies": "3"}}
    application.save()
    with pytest.raises(InvalidInput):
        _submit(application)


def test_failed_payment_does_not_count(make_procedure, make_application, sandbox):
    application = make_application(make_procedure(fee=300))
    _pay(application, sandbox, outcome="decline")
    with pytest.raises(InvalidInput):
        _submit(application)


def test_exempt_and_counter_applications_need_no_online_payment(make_procedure, make_application):
    exempt_procedure = make_procedure(fee=0)
    assert _submit(make_application(exempt_procedure)).status == ApplicationStatus.SUBMITTED
    counter = make_application(make_procedure(fee=300), channel="counter")
    assert _submit(counter).status == ApplicationStatus.SUBMITTED


# --- before issuance ---------------------------------------------------------------------------


@pytest.fixture
def submitted(make_procedure, make_application):
    procedure = make_procedure(fee=300, timing=PaymentTiming.BEFORE_ISSUANCE)
    return make_application(procedure, status=ApplicationStatus.IN_REVIEW)


def _complete(application, outcome):
    return procedure_services.application_transition(
        application=application, to_status=ApplicationStatus.COMPLETED, actor=None, outcome=outcome
    )


@pytest.mark.parametrize("outcome", ["issued", "granted"])
def test_issuing_unpaid_is_refused_with_a_clear_message(submitted, outcome):
    with pytest.raises(Conflict) as excinfo:
        _complete(submitted, outcome)
    assert excinfo.value.code == "payment_required"
    assert str(excinfo.value.message) == (
        "手数料（600円）のお支払いが確認できていないため、交付・許可で完了できません。"
        "申請者のお支払いを確認してから完了してください。"
    )
    submitted.refresh_from_db()
    assert submitted.status == ApplicationStatus.IN_REVIEW


def test_issuing_after_payment_works(submitted, sandbox):
    _pay(submitted, sandbox)
    assert _complete(submitted, "issued").status == ApplicationStatus.COMPLETED


def test_rejecting_unpaid_is_allowed(submitted):
    assert _complete(submitted, "rejected").outcome == "rejected"


# --- automatic refunds -------------------------------------------------------------------------


def test_withdrawal_refunds_automatically(submitted, sandbox, django_capture_on_commit_callbacks):
    payment = _pay(submitted, sandbox)
    with django_capture_on_commit_callbacks(execute=True):
        procedure_services.application_transition(
            application=submitted, to_status=ApplicationStatus.WITHDRAWN, actor=None
        )
    payment.refresh_from_db()
    refund = Refund.objects.get(payment=payment)
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.amount_yen == 600
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.refunded_yen == 600
    assert sandbox.fetch(payment.provider_ref).refunded_amount == 600
    assert AuditEntry.objects.filter(action="payment.refunded").count() == 1


def test_rejection_refunds_automatically(submitted, sandbox, django_capture_on_commit_callbacks):
    payment = _pay(submitted, sandbox)
    with django_capture_on_commit_callbacks(execute=True):
        _complete(submitted, "rejected")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED


def test_issuance_does_not_refund(submitted, sandbox, django_capture_on_commit_callbacks):
    payment = _pay(submitted, sandbox)
    with django_capture_on_commit_callbacks(execute=True):
        _complete(submitted, "issued")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert not Refund.objects.exists()


def test_withdrawal_cancels_an_open_payment(submitted, django_capture_on_commit_callbacks):
    payment = services.payment_start(application=submitted, actor=None, site_url=SITE)
    with django_capture_on_commit_callbacks(execute=True):
        procedure_services.application_transition(
            application=submitted, to_status=ApplicationStatus.WITHDRAWN, actor=None
        )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED


def test_refund_provider_error_is_retried_through_the_outbox(
    submitted, sandbox, monkeypatch, django_capture_on_commit_callbacks, run_tasks
):
    payment = _pay(submitted, sandbox)
    real_refund = SandboxProvider.refund
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ProviderError("timeout", code="connection_error", retryable=True)
        return real_refund(self, *args, **kwargs)

    monkeypatch.setattr(SandboxProvider, "refund", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        procedure_services.application_transition(
            application=submitted, to_status=ApplicationStatus.WITHDRAWN, actor=None
        )
    refund = Refund.objects.get(payment=payment)
    assert refund.attempts == 1  # right after commit; the outbox message waits for a worker
    assert run_tasks() == 1
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING
    assert refund.attempts == 2  # right after commit, and the worker's first delivery
    message = OutboxMessage.objects.get(kind=services.REFUND_OUTBOX_KIND)
    assert message.status == OutboxStatus.PENDING
    assert "connection_error" in message.last_error
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    # Later, the worker delivers due messages: the provider answers now.
    OutboxMessage.objects.filter(pk=message.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert outbox.deliver_due() == (1, 0)
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert payment.status == PaymentStatus.REFUNDED
    assert sandbox.fetch(payment.provider_ref).refunded_amount == 600
    # A repeated delivery of the same refund does nothing more.
    services.refund_execute(refund_id=refund.pk)
    assert sandbox.fetch(payment.provider_ref).refunded_amount == 600


def test_refund_replay_with_the_same_key_is_not_applied_twice(submitted, sandbox):
    payment = _pay(submitted, sandbox)
    first = sandbox.refund(payment.provider_ref, amount=100, idempotency_key="k1")
    again = sandbox.refund(payment.provider_ref, amount=100, idempotency_key="k1")
    assert first.provider_ref == again.provider_ref
    assert sandbox.fetch(payment.provider_ref).refunded_amount == 100


def test_refused_refund_is_marked_failed_and_not_retried(
    submitted, sandbox, monkeypatch, django_capture_on_commit_callbacks
):
    payment = _pay(submitted, sandbox)

    def refuse(self, *args, **kwargs):
        raise ProviderError("too old", code="refund_period_expired", retryable=False)

    monkeypatch.setattr(SandboxProvider, "refund", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        services.refund_request(payment=payment, reason="test")
    refund = Refund.objects.get(payment=payment)
    assert refund.status == RefundStatus.FAILED
    assert not OutboxMessage.objects.filter(kind=services.REFUND_OUTBOX_KIND).exists()
    assert AuditEntry.objects.filter(action="payment.refund_failed").exists()


def test_partial_refund(submitted, sandbox, django_capture_on_commit_callbacks):
    payment = _pay(submitted, sandbox)
    with django_capture_on_commit_callbacks(execute=True):
        services.refund_request(payment=payment, reason="1通分", amount_yen=300)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    assert payment.net_paid_yen == 300
    with pytest.raises(InvalidInput):
        services.refund_request(payment=payment, reason="too much", amount_yen=301)


def test_lost_provider_call_is_recovered_by_replaying_it(make_procedure, make_application):
    """A crash after the provider call: the same idempotency key gives the same payment."""
    application = make_application(make_procedure(fee=300))
    payment = services.payment_start(application=application, actor=None, site_url=SITE)
    ref = payment.provider_ref
    Payment.objects.filter(pk=payment.pk).update(
        provider_ref="", redirect_url="", status=PaymentStatus.CREATED
    )
    again = services.payment_start(application=application, actor=None, site_url=SITE)
    assert again.pk == payment.pk
    assert again.provider_ref == ref
    assert again.status == PaymentStatus.PENDING


def test_one_live_payment_per_application_is_enforced_by_the_database(
    make_procedure, make_application
):
    from django.db import IntegrityError, transaction

    application = make_application(make_procedure(fee=300))
    payment = services.payment_start(application=application, actor=None, site_url=SITE)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            municipality_id=payment.municipality_id,
            application=application,
            amount_yen=600,
            provider="sandbox",
            idempotency_key="another",
        )


def test_stale_open_payments_are_refreshed(make_procedure, make_application, sandbox):
    application = make_application(make_procedure(fee=300))
    payment = services.payment_start(application=application, actor=None, site_url=SITE)
    from machi.payments.models import SandboxTransaction

    SandboxTransaction.objects.filter(ref=payment.provider_ref).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    Payment.objects.filter(pk=payment.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    assert services.payments_refresh_stale() == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.EXPIRED
