"""Writes for cashless fees: start a payment, record provider outcomes, webhooks, refunds.

Rules every function here keeps:

* a provider is never called inside a database transaction (an outbox retry is the one
  exception: ``core.outbox`` delivers inside its own transaction; idempotency keys make that
  safe). The payment row is saved before the call with the idempotency key the provider sees,
  and completed after it, so a crash in between is recovered by replaying the call;
* at most one live payment per application (a partial unique constraint plus a row lock);
* state only moves forward (``_TRANSITIONS``), every change is audited, and the same webhook
  event twice changes nothing (``PaymentEvent``).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.core import outbox
from machi.core.exceptions import ApplicationError, Conflict, InvalidInput, NotFound
from machi.core.models import User
from machi.core.services import audit_record
from machi.payments.fees import FeeLine as FeeLine
from machi.payments.fees import FeeQuote as FeeQuote
from machi.payments.fees import fee_quote as fee_quote
from machi.payments.models import (
    LIVE_STATUSES,
    OPEN_STATUSES,
    PAID_STATUSES,
    Payment,
    PaymentEvent,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from machi.payments.providers import (
    PaymentProvider,
    ProviderError,
    ProviderPayment,
    WebhookVerificationError,
    default_provider_id,
    get_provider,
)
from machi.payments.providers.payjp import PayjpProvider
from machi.payments.selectors import paid_yen
from machi.procedures.models import Application, ApplicationStatus, PaymentTiming

logger = logging.getLogger(__name__)

REFUND_OUTBOX_KIND = "payments.refund"
# An open payment untouched this long is checked with the provider by the reconcile command.
STALE_AFTER = timedelta(minutes=30)
PAYABLE_BEFORE_ISSUANCE = (
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.IN_REVIEW,
    ApplicationStatus.CORRECTION_REQUESTED,
    ApplicationStatus.APPROVING,
)
_TRANSITIONS: dict[str, set[str]] = {
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
        if target not in _TRANSITIONS.get(old, set()):
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


# --- Starting a payment ----------------------------------------------------------------------


def _check_payable(application: Application, quote: FeeQuote) -> None:
    timing = application.procedure.payment_timing
    if timing == PaymentTiming.NONE:
        raise InvalidInput(
            _("この手続はオンラインでのお支払いに対応していません。"), code="payment_not_offered"
        )
    if quote.amount_yen == 0:
        raise InvalidInput(_("この申請は手数料のお支払いが不要です。"), code="payment_not_required")
    if timing == PaymentTiming.BEFORE_SUBMISSION and application.status != ApplicationStatus.DRAFT:
        raise Conflict(_("この申請はすでに提出されています。"), code="already_submitted")
    if (
        timing == PaymentTiming.BEFORE_ISSUANCE
        and application.status not in PAYABLE_BEFORE_ISSUANCE
    ):
        raise Conflict(_("この申請は現在お支払いを受け付けていません。"), code="payment_not_open")


def _live_or_new(
    application: Application,
    quote: FeeQuote,
    *,
    provider_id: str,
    actor: User | None,
    site_url: str,
) -> Payment:
    """The application's live payment, or a new one saved (status created) before any call."""
    try:
        with transaction.atomic():
            Application.objects.select_for_update().filter(pk=application.pk).first()
            live = (
                Payment.objects.select_for_update()
                .filter(application_id=application.pk, status__in=LIVE_STATUSES)
                .first()
            )
            if live is not None:
                return live
            payment = Payment(
                municipality_id=application.municipality_id,
                application=application,
                amount_yen=quote.amount_yen,
                provider=provider_id,
                description=str(application.procedure.name)[:200],
                lines=[line.as_dict() for line in quote.lines],
            )
            payment.idempotency_key = f"machi-pay-{payment.pk}"
            payment.return_url = site_url.rstrip("/") + reverse(
                "payments:return", kwargs={"payment_id": payment.pk}
            )
            payment.save(force_insert=True)
            _audit(
                payment,
                "create",
                actor=actor,
                detail={"amount": payment.amount_yen, "provider": provider_id},
            )
            return payment
    except IntegrityError:
        # A concurrent request (a double click) created it first: that one is the payment.
        winner = Payment.objects.filter(
            application_id=application.pk, status__in=LIVE_STATUSES
        ).first()
        if winner is None:
            raise
        return winner


def payment_start(
    *, application: Application, actor: User | None, site_url: str | None = None
) -> Payment:
    """Open (or reuse) the application's payment for its current fee.

    Idempotent: a double click, a reload or a second tab gets the same live payment; a paid
    application gets its succeeded payment back. ``site_url`` (``https://host``, default
    ``settings.MACHI_PUBLIC_BASE_URL``) makes the absolute return address the provider sends the
    payer back to.
    """
    site_url = site_url or str(settings.MACHI_PUBLIC_BASE_URL)
    quote = fee_quote(application)
    _check_payable(application, quote)
    provider_id = default_provider_id()
    provider = get_provider(provider_id)
    if not provider.is_configured():
        raise ProviderUnavailable(_("現在、オンラインでのお支払いを利用できません。"))
    for _attempt in range(3):
        live = _live_or_new(
            application, quote, provider_id=provider_id, actor=actor, site_url=site_url
        )
        if live.status in PAID_STATUSES:
            return live
        if live.amount_yen != quote.amount_yen or live.provider != provider_id:
            # The fee (or the provider) changed since this payment opened: close it first.
            closed = payment_cancel(payment=live, actor=actor)
            if closed.status in PAID_STATUSES:
                return closed
            continue
        if live.status == PaymentStatus.CREATED or not live.redirect_url:
            return _open_at_provider(live)
        refreshed = payment_refresh(payment=live)
        if refreshed.status in LIVE_STATUSES:
            return refreshed
    raise Conflict(_("お支払いを開始できませんでした。もう一度お試しください。"))


def payment_refresh(*, payment: Payment) -> Payment:
    """Bring an open payment up to date by asking the provider (the return page, reconcile).

    A payment still ``created`` (the provider call may have been lost) is opened again with the
    same idempotency key, which gives back the same provider payment if there was one.
    """
    if payment.status not in OPEN_STATUSES:
        return payment
    provider = _provider_for(payment)
    try:
        if payment.provider_ref:
            return _apply(payment.pk, provider.fetch(payment.provider_ref), source="fetch")
        if payment.status == PaymentStatus.CREATED:
            return _open_at_provider(payment)
    except (ProviderError, ProviderUnavailable) as exc:
        logger.warning(
            "payment refresh failed", extra={"payment": str(payment.pk), "error": str(exc)}
        )
    if not payment.provider_ref and payment.updated_at < timezone.now() - STALE_AFTER:
        # Nothing was ever charged (e.g. the card page was left): the payment lapses.
        state = ProviderPayment(provider_ref="", status=PaymentStatus.EXPIRED)
        return _apply(payment.pk, state, source="stale")
    return payment


def payment_cancel(*, payment: Payment, actor: User | None = None) -> Payment:
    """Abandon an unpaid payment at the provider, then here (a paid one comes back paid)."""
    if payment.status not in OPEN_STATUSES:
        return payment
    provider = _provider_for(payment)
    if payment.provider_ref:
        try:
            state = provider.cancel(payment.provider_ref)
        except ProviderError as exc:
            raise ProviderUnavailable(
                _("決済サービスに接続できませんでした。しばらくしてからもう一度お試しください。")
            ) from exc
    else:
        state = ProviderPayment(provider_ref="", status=PaymentStatus.CANCELLED)
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        _apply_locked(locked, state, source="cancel", actor=actor)
        return locked


def payment_confirm_card(*, payment: Payment, token: str) -> Payment:
    """PAY.JP: charge the card payjp.js tokenised; may need 3-D Secure (``redirect_url``)."""
    provider = _provider_for(payment)
    if not isinstance(provider, PayjpProvider):
        raise InvalidInput(_("この支払いではカード番号の入力は使えません。"))
    if payment.status not in OPEN_STATUSES or payment.provider_ref:
        return payment
    if not token.strip():
        raise InvalidInput(
            _("カード情報を確認できませんでした。もう一度入力してください。"), code="token_missing"
        )
    tds_return = payment.return_url.replace(
        reverse("payments:return", kwargs={"payment_id": payment.pk}),
        reverse("payments:payjp-tds", kwargs={"payment_id": payment.pk}),
    )
    try:
        state = provider.charge_with_token(
            token=token.strip(),
            amount=payment.amount_yen,
            description=payment.description,
            idempotency_key=payment.idempotency_key,
            return_url=tds_return,
            metadata=_metadata(payment),
        )
    except ProviderError as exc:
        if exc.retryable:
            raise ProviderUnavailable(
                _("決済サービスに接続できませんでした。しばらくしてからもう一度お試しください。")
            ) from exc
        return _fail(payment.pk, exc, source="charge")
    return _apply(payment.pk, state, source="charge")


def payment_finish_authentication(*, payment: Payment) -> Payment:
    """PAY.JP: complete the charge after the payer came back from 3-D Secure."""
    provider = _provider_for(payment)
    if not isinstance(provider, PayjpProvider) or not payment.provider_ref:
        return payment_refresh(payment=payment)
    if payment.status not in OPEN_STATUSES:
        return payment
    try:
        state = provider.finish_authentication(payment.provider_ref)
    except ProviderError as exc:
        if exc.retryable:
            raise ProviderUnavailable(
                _("決済サービスに接続できませんでした。しばらくしてからもう一度お試しください。")
            ) from exc
        return _fail(payment.pk, exc, source="tds_finish")
    return _apply(payment.pk, state, source="tds_finish")


def payments_refresh_stale(*, older_than: timedelta = STALE_AFTER) -> int:
    """Check every open payment untouched for ``older_than`` with its provider; count changes."""
    cutoff = timezone.now() - older_than
    changed = 0
    for payment in Payment.objects.filter(status__in=OPEN_STATUSES, updated_at__lt=cutoff):
        before = payment.status
        if payment_refresh(payment=payment).status != before:
            changed += 1
    return changed


# --- Webhooks --------------------------------------------------------------------------------


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def webhook_receive(*, provider_id: str, headers: Mapping[str, str], body: bytes) -> str:
    """Process one webhook: ``processed``, ``duplicate``, ``unmatched`` or ``ignored``.

    Raises ``WebhookVerificationError`` (after logging and auditing it) when the signature or
    token is wrong: nothing is changed then. Raises ``ProviderUnavailable`` when the payment
    could not be re-fetched, so the provider delivers the event again later.
    """
    provider = get_provider(provider_id)
    try:
        event = provider.verify_webhook(headers, body)
    except WebhookVerificationError as exc:
        logger.warning(
            "payment webhook rejected", extra={"provider": provider_id, "reason": str(exc)}
        )
        audit_record(
            action="payment.webhook_rejected",
            target_type="payment_provider",
            target_id=provider_id,
            detail={"reason": str(exc), "body_sha256": hashlib.sha256(body).hexdigest()},
        )
        raise
    if PaymentEvent.objects.filter(provider=provider_id, event_id=event.event_id).exists():
        return "duplicate"
    state = event.payment
    if event.provider_ref and provider.refetch_on_webhook:
        try:
            state = provider.fetch(event.provider_ref)
        except ProviderError as exc:
            raise ProviderUnavailable(_("決済サービスに接続できませんでした。")) from exc
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = PaymentEvent.objects.create(
                    provider=provider_id, event_id=event.event_id, event_type=event.event_type[:60]
                )
        except IntegrityError:
            return "duplicate"
        if state is None:
            return "ignored"
        payment = None
        if state.provider_ref:
            payment = (
                Payment.objects.select_for_update()
                .filter(provider=provider_id, provider_ref=state.provider_ref)
                .first()
            )
        machi_id = _uuid_or_none(state.metadata.get("machi_payment", ""))
        if payment is None and machi_id is not None:
            # The charge exists but Machi never recorded it (crash after the provider call).
            payment = (
                Payment.objects.select_for_update()
                .filter(provider=provider_id, pk=machi_id, provider_ref="")
                .first()
            )
        if payment is None:
            audit_record(
                action="payment.webhook_unmatched",
                target_type="payment_provider",
                target_id=provider_id,
                detail={"event": event.event_id, "ref": state.provider_ref},
            )
            return "unmatched"
        record.payment = payment
        record.save(update_fields=["payment"])
        _apply_locked(payment, state, source=f"webhook:{event.event_type}"[:60])
    return "processed"


# --- Refunds ---------------------------------------------------------------------------------


def refund_request(
    *,
    payment: Payment,
    reason: str,
    amount_yen: int | None = None,
    actor: User | None = None,
    key: str = "",
) -> Refund:
    """Record a refund (the rest of the payment by default) and ask the provider for it.

    ``key`` makes repeated requests for the same cause idempotent (automatic refunds use the
    application's transition). The provider is asked after the record is committed; when that
    fails for a passing reason the refund is retried through the outbox.
    """
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
        if new_status != locked.status and new_status in _TRANSITIONS.get(locked.status, set()):
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


# --- Procedure hooks (registered in PaymentsConfig.ready) ------------------------------------

REMOTE_CHANNELS = ("online", "api")


def check_submission(application: Application, cleaned: dict[str, Any]) -> None:
    """Snapshot the fee; before submission, refuse unless a payment covers it."""
    quote = fee_quote(application, answers=cleaned)
    application.fee_yen = quote.amount_yen
    if (
        application.procedure.payment_timing != PaymentTiming.BEFORE_SUBMISSION
        or application.channel not in REMOTE_CHANNELS
        or quote.amount_yen == 0
    ):
        return
    if paid_yen(application) < quote.amount_yen:
        message = _("手数料（%(amount)s円）のお支払いが済んでいないため、申請できません。") % {
            "amount": f"{quote.amount_yen:,}"
        }
        raise InvalidInput(message, code="payment_required", field_errors={"payment": [message]})


def check_transition(application: Application, to_status: str, outcome: str) -> None:
    """Before issuance: refuse completing as 交付/許可 until the fee is paid."""
    if (
        to_status != ApplicationStatus.COMPLETED
        or outcome not in ("issued", "granted")
        or application.procedure.payment_timing != PaymentTiming.BEFORE_ISSUANCE
        or application.channel not in REMOTE_CHANNELS
    ):
        return
    quote = fee_quote(application)
    if quote.amount_yen and paid_yen(application) < quote.amount_yen:
        raise Conflict(
            _(
                "手数料（%(amount)s円）のお支払いが確認できていないため、交付・許可で完了できません。"
                "申請者のお支払いを確認してから完了してください。"
            )
            % {"amount": f"{quote.amount_yen:,}"},
            code="payment_required",
        )


def on_transition(application: Application, from_status: str, to_status: str) -> None:
    """After a withdrawal or a rejection: close open payments and refund paid ones."""
    rejected = to_status == ApplicationStatus.COMPLETED and application.outcome == "rejected"
    if to_status != ApplicationStatus.WITHDRAWN and not rejected:
        return
    reason = _("申請の却下による返金") if rejected else _("申請の取下げによる返金")
    for payment in Payment.objects.filter(application_id=application.pk, status__in=LIVE_STATUSES):
        try:
            if payment.status in OPEN_STATUSES:
                payment = payment_cancel(payment=payment)
            if payment.status in PAID_STATUSES:
                refund_request(payment=payment, reason=reason, key=f"auto-{to_status}")
        except Exception:  # never break the caller's request after its commit
            logger.exception("automatic refund failed", extra={"payment": str(payment.pk)})
