"""Recording what a provider says about a payment: the one place payment states change.

Every change is audited, states only move forward (``TRANSITIONS``), and rows are locked while
they change. Shared by the other services modules; not part of the public surface.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.core.exceptions import ApplicationError
from machi.core.models import User
from machi.core.services import audit_record
from machi.payments.models import (
    LIVE_STATUSES,
    OPEN_STATUSES,
    PAID_STATUSES,
    Payment,
    PaymentStatus,
)
from machi.payments.providers import (
    PaymentProvider,
    ProviderError,
    ProviderPayment,
    get_provider,
)

logger = logging.getLogger("machi.payments.services")

REFUND_OUTBOX_KIND = "payments.refund"
# An open payment untouched this long is checked with the provider by the reconcile command.
STALE_AFTER = timedelta(minutes=30)
TRANSITIONS: dict[str, set[str]] = {
    PaymentStatus.CREATED: {
        PaymentStatus.PENDING,
        PaymentStatus.SUCCEEDED,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELLED,
        PaymentStatus.EXPIRED,
    },
    PaymentStatus.PENDING: {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELLED,
        PaymentStatus.EXPIRED,
    },
    PaymentStatus.SUCCEEDED: {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED},
    PaymentStatus.PARTIALLY_REFUNDED: {PaymentStatus.REFUNDED},
    # The provider took the money after all (e.g. paid just as the checkout expired).
    PaymentStatus.FAILED: {PaymentStatus.SUCCEEDED},
    PaymentStatus.CANCELLED: {PaymentStatus.SUCCEEDED},
    PaymentStatus.EXPIRED: {PaymentStatus.SUCCEEDED},
    PaymentStatus.REFUNDED: set(),
}


class ProviderUnavailable(ApplicationError):
    """The payment provider could not be reached; the same request may be retried."""

    status = 503
    default_code = "provider_unavailable"


def _audit(
    payment: Payment,
    action: str,
    *,
    actor: User | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    audit_record(
        action=f"payment.{action}",
        actor=actor,
        municipality_code=payment.municipality_id,
        target_type="payment",
        target_id=str(payment.pk),
        detail={"application": str(payment.application_id), **(detail or {})},
    )


# --- Recording what the provider says -------------------------------------------------------


def _apply_locked(
    payment: Payment, state: ProviderPayment, *, source: str, actor: User | None = None
) -> bool:
    """Move a locked payment to the provider's state where allowed. True when it changed."""
    changed_fields: set[str] = set()
    if state.provider_ref and not payment.provider_ref:
        payment.provider_ref = state.provider_ref
        changed_fields.add("provider_ref")
    if state.redirect_url and state.redirect_url != payment.redirect_url:
        payment.redirect_url = state.redirect_url[:500]
        changed_fields.add("redirect_url")
    if state.refunded_amount > payment.refunded_yen:
        payment.refunded_yen = min(state.refunded_amount, payment.amount_yen)
        changed_fields.add("refunded_yen")
    target = state.status
    old = payment.status
    if target in PAID_STATUSES or target == PaymentStatus.REFUNDED:
        if state.amount and state.amount != payment.amount_yen:
            logger.error("provider amount differs", extra={"payment": str(payment.pk)})
            _audit(
                payment,
                "amount_mismatch",
                detail={"machi": payment.amount_yen, "provider": state.amount, "source": source},
            )
            target = old
        elif old in (PaymentStatus.CREATED, PaymentStatus.PENDING) and target != (
            PaymentStatus.SUCCEEDED
        ):
            # Paid and refunded (outside Machi) before Machi heard of the payment: record both.
            _set_status(payment, PaymentStatus.SUCCEEDED, source=source, actor=actor)
            changed_fields.add("status")
            old = payment.status
    if target != old:
        if target not in TRANSITIONS.get(old, set()):
            logger.info("ignored payment transition %s -> %s", old, target)
        elif (
            target == PaymentStatus.SUCCEEDED
            and old not in OPEN_STATUSES
            and Payment.objects.filter(
                application_id=payment.application_id, status__in=LIVE_STATUSES
            )
            .exclude(pk=payment.pk)
            .exists()
        ):
            # Money taken on an abandoned payment while another is live: staff must refund.
            logger.error("late success on a closed payment", extra={"payment": str(payment.pk)})
            _audit(payment, "late_success_conflict", detail={"source": source})
        else:
            _set_status(
                payment,
                target,
                source=source,
                actor=actor,
                failure_code=state.failure_code,
                failure_message=state.failure_message,
            )
            changed_fields.add("status")
    if changed_fields:
        payment.save()
    return bool(changed_fields)


def _set_status(
    payment: Payment,
    status: str,
    *,
    source: str,
    actor: User | None = None,
    failure_code: str = "",
    failure_message: str = "",
) -> None:
    old = payment.status
    payment.status = status
    if status == PaymentStatus.SUCCEEDED:
        payment.succeeded_at = payment.succeeded_at or timezone.now()
        payment.failure_code = payment.failure_message = ""
    elif status == PaymentStatus.FAILED:
        payment.failure_code = (failure_code or "failed")[:60]
        payment.failure_message = failure_message[:300]
    payment.save()
    _audit(
        payment,
        "status",
        actor=actor,
        detail={
            "from": old,
            "to": status,
            "source": source,
            **({"failure_code": payment.failure_code} if status == PaymentStatus.FAILED else {}),
        },
    )


def _apply(payment_id: Any, state: ProviderPayment, *, source: str) -> Payment:
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        _apply_locked(payment, state, source=source)
        return payment


def _fail(payment_id: Any, error: ProviderError, *, source: str) -> Payment:
    state = ProviderPayment(
        provider_ref="",
        status=PaymentStatus.FAILED,
        failure_code=error.code,
        failure_message=error.message[:300],
    )
    return _apply(payment_id, state, source=source)


def _provider_for(payment: Payment) -> PaymentProvider:
    return get_provider(payment.provider)


def _metadata(payment: Payment) -> dict[str, str]:
    return {
        "machi_payment": str(payment.pk),
        "machi_municipality": payment.municipality_id,
        "machi_application": str(payment.application_id),
    }


def _open_at_provider(payment: Payment) -> Payment:
    """Ask the provider to open ``payment`` (idempotent: replays return the same payment)."""
    provider = _provider_for(payment)
    application = payment.application
    try:
        state = provider.create_payment(
            amount=payment.amount_yen,
            reference=application.receipt_number or str(application.pk),
            description=payment.description,
            return_url=payment.return_url,
            cancel_url=payment.return_url,
            idempotency_key=payment.idempotency_key,
            metadata=_metadata(payment),
        )
    except ProviderError as exc:
        if exc.retryable:  # stays "created": the next attempt replays the same key
            logger.warning("payment provider unavailable", extra={"code": exc.code})
            raise ProviderUnavailable(
                _("決済サービスに接続できませんでした。しばらくしてからもう一度お試しください。")
            ) from exc
        return _fail(payment.pk, exc, source="create")
    return _apply(payment.pk, state, source="create")
