"""Provider webhooks: authenticate, de-duplicate, attribute, record."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from machi.core.services import audit_record
from machi.payments.models import Payment, PaymentEvent
from machi.payments.providers import ProviderError, WebhookVerificationError, get_provider
from machi.payments.services.recording import ProviderUnavailable, _apply_locked, logger

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
