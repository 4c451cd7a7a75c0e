"""Starting a payment and bringing it up to date: start, refresh, cancel, card, 3-D Secure."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.core.exceptions import Conflict, InvalidInput
from machi.core.models import User
from machi.payments.fees import FeeQuote, fee_quote
from machi.payments.models import (
    LIVE_STATUSES,
    OPEN_STATUSES,
    PAID_STATUSES,
    Payment,
    PaymentStatus,
)
from machi.payments.providers import (
    ProviderError,
    ProviderPayment,
    default_provider_id,
    get_provider,
)
from machi.payments.providers.payjp import PayjpProvider
from machi.payments.services.recording import (
    STALE_AFTER,
    ProviderUnavailable,
    _apply,
    _apply_locked,
    _audit,
    _fail,
    _metadata,
    _open_at_provider,
    _provider_for,
    logger,
)
from machi.procedures.services import application_get_for_update
from machi.procedures.states import ApplicationStatus, PaymentTiming

if TYPE_CHECKING:
    from machi.procedures.selectors import Application

PAYABLE_BEFORE_ISSUANCE = (
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.IN_REVIEW,
    ApplicationStatus.CORRECTION_REQUESTED,
    ApplicationStatus.APPROVING,
)

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
            application_get_for_update(application_id=application.pk)
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
