"""Daily reconciliation: each kind of discrepancy, per municipality, and the command."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from machi.payments import selectors, services
from machi.payments.models import Payment, PaymentStatus, SandboxTransaction
from machi.payments.selectors import Discrepancy
from machi.procedures.models import ApplicationStatus, PaymentTiming

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.payments.tests.urls")]
SITE = "http://testserver"


@pytest.fixture
def paid(make_procedure, make_application, sandbox):
    procedure = make_procedure(fee=300, timing=PaymentTiming.BEFORE_ISSUANCE)

    def make(municipality=None, outcome="pay"):
        application = make_application(
            make_procedure(fee=300, timing=PaymentTiming.BEFORE_ISSUANCE, municipality=municipality)
            if municipality
            else procedure,
            status=ApplicationStatus.SUBMITTED,
        )
        payment = services.payment_start(application=application, actor=None, site_url=SITE)
        if outcome:
            _tx, headers, body = sandbox.complete(payment.provider_ref, outcome=outcome)
            services.webhook_receive(provider_id="sandbox", headers=headers, body=body)
        payment.refresh_from_db()
        return payment

    return make


def _report(code="282103"):
    return selectors.reconciliation_report(municipality_code=code, day=timezone.localdate())


def test_everything_matches(paid):
    paid()
    paid(outcome="decline")
    paid(outcome=None)  # still open at the checkout
    report = _report()
    assert report.ok
    assert [i.kind for i in report.items] == [Discrepancy.MATCHED] * 3


def test_each_kind_of_discrepancy_is_found(paid, kakogawa, make_procedure, make_application):
    matched = paid()
    amount = paid()
    SandboxTransaction.objects.filter(ref=amount.provider_ref).update(amount=999)
    refunded_outside = paid()
    SandboxTransaction.objects.filter(ref=refunded_outside.provider_ref).update(
        refunded_amount=600, status=PaymentStatus.REFUNDED
    )
    status = paid(outcome=None)
    SandboxTransaction.objects.filter(ref=status.provider_ref).update(
        status=PaymentStatus.SUCCEEDED
    )
    missing_at_provider = paid()
    SandboxTransaction.objects.filter(ref=missing_at_provider.provider_ref).delete()
    SandboxTransaction.objects.create(
        ref="sbx_orphan",
        idempotency_key="orphan",
        amount=450,
        return_url="/",
        cancel_url="/",
        status=PaymentStatus.SUCCEEDED,
        metadata={"machi_municipality": kakogawa.code, "machi_payment": "unknown"},
    )
    SandboxTransaction.objects.create(
        ref="sbx_unpaid_orphan",
        idempotency_key="unpaid-orphan",
        amount=450,
        return_url="/",
        cancel_url="/",
        status=PaymentStatus.PENDING,
        metadata={"machi_municipality": kakogawa.code},
    )
    report = _report()
    kinds = {item.provider_ref: item.kind for item in report.items}
    assert kinds == {
        matched.provider_ref: Discrepancy.MATCHED,
        amount.provider_ref: Discrepancy.AMOUNT_MISMATCH,
        refunded_outside.provider_ref: Discrepancy.AMOUNT_MISMATCH,
        status.provider_ref: Discrepancy.STATUS_MISMATCH,
        missing_at_provider.provider_ref: Discrepancy.MISSING_AT_PROVIDER,
        "sbx_orphan": Discrepancy.MISSING_IN_MACHI,
    }
    assert not report.ok
    assert len(report.discrepancies) == 5
    orphan = next(i for i in report.items if i.provider_ref == "sbx_orphan")
    assert orphan.provider_amount == 450 and orphan.machi_amount is None


def test_other_municipalities_are_not_mixed_in(paid, kobe):
    paid(municipality=kobe)
    SandboxTransaction.objects.create(
        ref="sbx_kobe_orphan",
        idempotency_key="kobe-orphan",
        amount=450,
        return_url="/",
        cancel_url="/",
        status=PaymentStatus.SUCCEEDED,
        metadata={"machi_municipality": kobe.code},
    )
    kakogawa_report = _report("282103")
    assert kakogawa_report.items == []
    kobe_report = _report(kobe.code)
    assert {i.kind for i in kobe_report.items} == {
        Discrepancy.MATCHED,
        Discrepancy.MISSING_IN_MACHI,
    }


def test_a_payment_of_another_day_is_not_missing_in_machi(paid):
    payment = paid()
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(days=3))
    assert _report().items == []


def test_command_prints_discrepancies_and_strict_fails(paid):
    paid()
    broken = paid()
    SandboxTransaction.objects.filter(ref=broken.provider_ref).update(amount=1)
    out = StringIO()
    today = timezone.localdate().isoformat()
    call_command("payments_reconcile", "--date", today, stdout=out)
    text = out.getvalue()
    assert "282103" in text
    assert "1 discrepancies" in text
    assert f"amount_mismatch: sandbox:{broken.provider_ref}" in text
    with pytest.raises(CommandError):
        call_command("payments_reconcile", "--date", today, "--strict", stdout=StringIO())


def test_command_rejects_a_bad_date():
    with pytest.raises(CommandError):
        call_command("payments_reconcile", "--date", "2026/04/01", stdout=StringIO())


def test_command_on_a_quiet_day(db):
    out = StringIO()
    call_command("payments_reconcile", "--date", "2026-01-01", "--strict", stdout=out)
    assert "refreshed stale payments: 0 changed" in out.getvalue()
