"""Refunds: recorded first, then asked of the provider; retried through the outbox."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.core import outbox
from machi.core.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from machi.core.models import Role, User
from machi.core.selectors import user_has_role
from machi.payments.models import PAID_STATUSES, Payment, PaymentStatus, Refund, RefundStatus
from machi.payments.providers import COUNTER_PROVIDERS, ProviderError
from machi.payments.services.recording import (
    REFUND_OUTBOX_KIND,
    TRANSITIONS,
    _audit,
    _provider_for,
    _set_status,
    logger,
)

# --- Refunds ---------------------------------------------------------------------------------

REFUND_ROLES = (Role.MUNICIPALITY_ADMIN, Role.APPROVER)


def refund_request(
    *,
    payment: Payment,
    reason: str,
    amount_yen: int | None = None,
    actor: User | None = None,
    key: str = "",
) -> Refund:
    """Record a refund (the rest of the payment by default) and ask the provider for it.

    A staff ``actor`` must be 団体管理者 or 決裁者 of the payment's municipality (the 県管理者
    refunds nothing); ``actor=None`` is Machi itself (automatic refunds). Cash taken at the
    counter is refunded there, not through a provider.

    ``key`` makes repeated requests for the same cause idempotent (automatic refunds use the
    application's transition). The provider is asked after the record is committed; when that
    fails for a passing reason the refund is retried through the outbox.
    """
    if actor is not None and not user_has_role(
        actor,
        municipality_code=payment.municipality_id,
        roles=REFUND_ROLES,
        prefecture_wide=False,
    ):
        raise Forbidden(_("この支払いを返金する権限がありません。"))
    if payment.provider in COUNTER_PROVIDERS:
        raise Conflict(
            _("窓口で現金で受け取った手数料は、窓口で返金してください。"), code="counter_refund"
        )
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        idempotency_key = f"machi-refund-{locked.pk}-{key}" if key else ""
        if idempotency_key:
            earlier = Refund.objects.filter(idempotency_key=idempotency_key).first()
            if earlier is not None:
                return earlier
        if locked.status not in PAID_STATUSES:
            raise Conflict(_("この支払いは返金できる状態ではありません。"), code="not_refundable")
        reserved = (
            Refund.objects.filter(payment=locked, status=RefundStatus.PENDING).aggregate(
                total=Sum("amount_yen")
            )["total"]
            or 0
        )
        remaining = locked.amount_yen - locked.refunded_yen - reserved
        amount = remaining if amount_yen is None else amount_yen
        if amount <= 0 or amount > remaining:
            raise InvalidInput(_("返金額が正しくありません。"), code="invalid_refund_amount")
        refund = Refund(
            municipality_id=locked.municipality_id,
            payment=locked,
            amount_yen=amount,
            reason=reason[:200],
        )
        refund.idempotency_key = idempotency_key or f"machi-refund-{refund.pk}"
        refund.save(force_insert=True)
        _audit(
            locked,
            "refund_requested",
            actor=actor,
            detail={"refund": str(refund.pk), "amount": amount, "reason": reason[:200]},
        )
        transaction.on_commit(lambda: _refund_now_or_later(refund.pk))
    return refund


def _refund_now_or_later(refund_id: Any) -> None:
    """First attempt right after commit (outside any transaction); outbox retries after that."""
    try:
        refund_execute(refund_id=refund_id)
    except ProviderError as exc:
        if not exc.retryable:
            return  # recorded as failed and audited: staff refund by hand
        refund = Refund.objects.get(pk=refund_id)
        with transaction.atomic():
            outbox.enqueue(
                REFUND_OUTBOX_KIND,
                {"refund_id": str(refund_id)},
                municipality_code=refund.municipality_id,
            )


def refund_execute(*, refund_id: Any) -> Refund:
    """Ask the provider for a recorded refund (idempotent by the refund's key) and record it.

    Raises ``ProviderError`` when the provider refuses or cannot be reached (the attempt and
    the error are recorded; a non-retryable refusal marks the refund failed).
    """
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != RefundStatus.PENDING:
        return refund
    payment = refund.payment
    try:
        result = _provider_for(payment).refund(
            payment.provider_ref,
            amount=refund.amount_yen,
            idempotency_key=refund.idempotency_key,
            reason=refund.reason,
        )
    except ProviderError as exc:
        with transaction.atomic():
            locked_refund = Refund.objects.select_for_update().get(pk=refund_id)
            locked_refund.attempts += 1
            locked_refund.last_error = f"{exc.code}: {exc.message}"[:300]
            if not exc.retryable:
                locked_refund.status = RefundStatus.FAILED
                _audit(
                    payment, "refund_failed", detail={"refund": str(refund_id), "code": exc.code}
                )
            locked_refund.save()
        logger.warning("refund attempt failed", extra={"refund": str(refund_id), "code": exc.code})
        raise
    with transaction.atomic():
        locked_refund = Refund.objects.select_for_update().get(pk=refund_id)
        if locked_refund.status != RefundStatus.PENDING:
            return locked_refund
        locked_refund.status = RefundStatus.SUCCEEDED
        locked_refund.provider_ref = result.provider_ref[:100]
        locked_refund.attempts += 1
        locked_refund.last_error = ""
        locked_refund.succeeded_at = timezone.now()
        locked_refund.save()
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        ours = (
            Refund.objects.filter(payment=locked, status=RefundStatus.SUCCEEDED).aggregate(
                total=Sum("amount_yen")
            )["total"]
            or 0
        )
        reported = result.payment.refunded_amount if result.payment else 0
        locked.refunded_yen = min(locked.amount_yen, max(locked.refunded_yen, ours, reported))
        new_status = (
            PaymentStatus.REFUNDED
            if locked.refunded_yen >= locked.amount_yen
            else PaymentStatus.PARTIALLY_REFUNDED
        )
        locked.save(update_fields=["refunded_yen", "updated_at"])
        _audit(
            locked,
            "refunded",
            detail={
                "refund": str(refund_id),
                "amount": refund.amount_yen,
                "attempts": locked_refund.attempts,
            },
        )
        if new_status != locked.status and new_status in TRANSITIONS.get(locked.status, set()):
            _set_status(locked, new_status, source="refund")
    return locked_refund


def deliver_refund(payload: dict[str, Any]) -> None:
    """Outbox handler for ``payments.refund``: retry until the provider accepts or refuses."""
    try:
        refund_execute(refund_id=payload["refund_id"])
    except ProviderError as exc:
        if exc.retryable:
            raise
    except Refund.DoesNotExist as exc:
        raise NotFound(_("返金の記録が見つかりません。")) from exc
