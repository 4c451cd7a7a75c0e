"""The built-in sandbox provider: behaves like a hosted-checkout provider, moves no money.

``create_payment`` opens a transaction in the sandbox's own ledger (``SandboxTransaction``) and
sends the payer to a Machi-hosted checkout page (``payments:sandbox-checkout``) where a tester
chooses 支払う / カードが使えない / キャンセル. The page then delivers a webhook signed with
HMAC-SHA256 (``settings.MACHI_PAYMENT_SANDBOX_SECRET``) to the same processing, and the same
signature check, as a real provider's webhook, and sends the payer back to ``return_url``.

Signature header: ``X-Machi-Sandbox-Signature: t=<unix time>,v1=<hex HMAC of "<t>.<body>">``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from machi.payments.models import PaymentStatus, SandboxRefund, SandboxTransaction
from machi.payments.providers import (
    PaymentProvider,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
    WebhookEvent,
    WebhookVerificationError,
)

SIGNATURE_HEADER = "X-Machi-Sandbox-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300
CHECKOUT_LIFETIME = timedelta(hours=1)
# What the checkout page offers for "カードが使えない" (codes as card networks/PAY.JP use them).
DECLINE_CODES = ("card_declined", "expired_card", "processing_error")


def sandbox_enabled() -> bool:
    """The sandbox never runs in production unless explicitly enabled."""
    default = not getattr(settings, "PRODUCTION", False)
    return bool(getattr(settings, "MACHI_PAYMENT_SANDBOX_ENABLED", default))


def sandbox_secret() -> bytes:
    """The webhook signing secret; derived from SECRET_KEY when not set (demo)."""
    configured = str(getattr(settings, "MACHI_PAYMENT_SANDBOX_SECRET", "") or "")
    if configured:
        return configured.encode("utf-8")
    return hmac.new(
        settings.SECRET_KEY.encode("utf-8"), b"machi.payments.sandbox", hashlib.sha256
    ).digest()


def sign(body: bytes, *, timestamp: int | None = None) -> str:
    """The signature header value for ``body``."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(sandbox_secret(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return str(value or "")


class SandboxProvider(PaymentProvider):
    """Hosted-checkout simulator with its own ledger, refunds and signed webhooks."""

    id = "sandbox"
    label = "サンドボックス（テスト用）"
    refetch_on_webhook = False  # the signed event carries the authoritative state

    def is_configured(self) -> bool:
        return sandbox_enabled()

    def _require_enabled(self) -> None:
        if not sandbox_enabled():
            raise ProviderError(
                "sandbox provider is disabled", code="sandbox_disabled", retryable=False
            )

    @staticmethod
    def _state(tx: SandboxTransaction) -> ProviderPayment:
        return ProviderPayment(
            provider_ref=tx.ref,
            status=tx.status,
            redirect_url=reverse("payments:sandbox-checkout", kwargs={"ref": tx.ref}),
            amount=tx.amount,
            refunded_amount=tx.refunded_amount,
            currency=tx.currency,
            failure_code=tx.failure_code,
            created_at=tx.created_at,
            metadata=dict(tx.metadata),
        )

    @staticmethod
    def _expire_if_due(tx: SandboxTransaction) -> None:
        if (
            tx.status == PaymentStatus.PENDING
            and tx.created_at < timezone.now() - CHECKOUT_LIFETIME
        ):
            SandboxTransaction.objects.filter(pk=tx.pk, status=PaymentStatus.PENDING).update(
                status=PaymentStatus.EXPIRED, updated_at=timezone.now()
            )
            tx.refresh_from_db()

    def _get(self, ref: str) -> SandboxTransaction:
        tx = SandboxTransaction.objects.filter(ref=ref).first()
        if tx is None:
            raise ProviderError(
                f"no such sandbox payment: {ref}", code="not_found", retryable=False
            )
        return tx

    def create_payment(
        self,
        *,
        amount: int,
        reference: str,
        description: str,
        return_url: str,
        cancel_url: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> ProviderPayment:
        self._require_enabled()
        if amount <= 0:
            raise ProviderError("amount must be positive", code="invalid_amount", retryable=False)
        defaults: dict[str, Any] = {
            "ref": f"sbx_{secrets.token_urlsafe(18)}",
            "amount": amount,
            "description": description[:200],
            "reference": reference[:100],
            "metadata": dict(metadata or {}),
            "return_url": return_url,
            "cancel_url": cancel_url,
            "status": PaymentStatus.PENDING,
        }
        try:
            with transaction.atomic():
                tx, _created = SandboxTransaction.objects.get_or_create(
                    idempotency_key=idempotency_key, defaults=defaults
                )
        except IntegrityError:  # a concurrent call with the same key won the race
            tx = SandboxTransaction.objects.get(idempotency_key=idempotency_key)
        if tx.amount != amount:
            raise ProviderError(
                "idempotency key reused with another amount",
                code="idempotency_key_reused",
                retryable=False,
            )
        return self._state(tx)

    def fetch(self, provider_ref: str) -> ProviderPayment:
        tx = self._get(provider_ref)
        self._expire_if_due(tx)
        return self._state(tx)

    def cancel(self, provider_ref: str) -> ProviderPayment:
        tx = self._get(provider_ref)
        SandboxTransaction.objects.filter(
            pk=tx.pk, status__in=[PaymentStatus.PENDING, PaymentStatus.CREATED]
        ).update(status=PaymentStatus.CANCELLED, updated_at=timezone.now())
        tx.refresh_from_db()
        return self._state(tx)

    def refund(
        self, provider_ref: str, *, amount: int, idempotency_key: str, reason: str = ""
    ) -> ProviderRefund:
        self._require_enabled()
        with transaction.atomic():
            tx = SandboxTransaction.objects.select_for_update().filter(ref=provider_ref).first()
            if tx is None:
                raise ProviderError(
                    f"no such sandbox payment: {provider_ref}", code="not_found", retryable=False
                )
            earlier = SandboxRefund.objects.filter(idempotency_key=idempotency_key).first()
            if earlier is not None:
                return ProviderRefund(earlier.ref, earlier.amount, self._state(tx))
            if tx.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
                raise ProviderError(
                    "payment is not refundable", code="not_refundable", retryable=False
                )
            if amount <= 0 or amount > tx.amount - tx.refunded_amount:
                raise ProviderError(
                    "refund exceeds the amount paid", code="refund_exceeds", retryable=False
                )
            refund = SandboxRefund.objects.create(
                ref=f"sbxre_{secrets.token_urlsafe(12)}",
                transaction=tx,
                idempotency_key=idempotency_key,
                amount=amount,
            )
            tx.refunded_amount += amount
            tx.status = (
                PaymentStatus.REFUNDED
                if tx.refunded_amount >= tx.amount
                else PaymentStatus.PARTIALLY_REFUNDED
            )
            tx.save(update_fields=["refunded_amount", "status", "updated_at"])
        return ProviderRefund(refund.ref, refund.amount, self._state(tx))

    def list_payments(self, *, since: datetime, until: datetime) -> list[ProviderPayment]:
        return [
            self._state(tx)
            for tx in SandboxTransaction.objects.filter(created_at__gte=since, created_at__lt=until)
        ]

    # --- the hosted checkout page's side ------------------------------------------------------

    def checkout_get(self, ref: str) -> SandboxTransaction | None:
        """The transaction a checkout page shows (None when unknown or sandbox disabled)."""
        if not sandbox_enabled():
            return None
        tx = SandboxTransaction.objects.filter(ref=ref).first()
        if tx is not None:
            self._expire_if_due(tx)
        return tx

    def complete(
        self, ref: str, *, outcome: str, failure_code: str = ""
    ) -> tuple[SandboxTransaction, dict[str, str], bytes] | None:
        """The tester's choice on the checkout page: ``pay``, ``decline`` or ``cancel``.

        Returns the transaction and the signed webhook (headers, body) to deliver, or None
        when the transaction was not waiting for payment any more (nothing changes then).
        """
        self._require_enabled()
        new_status = {
            "pay": PaymentStatus.SUCCEEDED,
            "decline": PaymentStatus.FAILED,
            "cancel": PaymentStatus.CANCELLED,
        }.get(outcome)
        if new_status is None:
            raise ProviderError("unknown outcome", code="invalid_outcome", retryable=False)
        code = ""
        if new_status == PaymentStatus.FAILED:
            code = failure_code if failure_code in DECLINE_CODES else DECLINE_CODES[0]
        with transaction.atomic():
            tx = SandboxTransaction.objects.select_for_update().filter(ref=ref).first()
            if tx is None or tx.status != PaymentStatus.PENDING:
                return None
            tx.status = new_status
            tx.failure_code = code
            tx.save(update_fields=["status", "failure_code", "updated_at"])
        headers, body = self.webhook_for(tx)
        return tx, headers, body

    def webhook_for(self, tx: SandboxTransaction) -> tuple[dict[str, str], bytes]:
        """A signed ``payment.<status>`` event describing ``tx`` as it is now."""
        event = {
            "id": f"sbxevt_{secrets.token_urlsafe(12)}",
            "object": "event",
            "type": f"payment.{tx.status}",
            "created": int(time.time()),
            "data": {
                "ref": tx.ref,
                "status": tx.status,
                "amount": tx.amount,
                "refunded_amount": tx.refunded_amount,
                "currency": tx.currency,
                "failure_code": tx.failure_code,
                "metadata": tx.metadata,
            },
        }
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return {SIGNATURE_HEADER: sign(body), "Content-Type": "application/json"}, body

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        header = _header(headers, SIGNATURE_HEADER)
        parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        try:
            timestamp = int(parts.get("t", ""))
        except ValueError as exc:
            raise WebhookVerificationError("missing or malformed signature header") from exc
        if abs(time.time() - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
            raise WebhookVerificationError("signature timestamp outside tolerance")
        expected = sign(body, timestamp=timestamp).split("v1=", 1)[1]
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            raise WebhookVerificationError("signature mismatch")
        try:
            event = json.loads(body)
            data = event["data"]
            payment = ProviderPayment(
                provider_ref=str(data["ref"]),
                status=str(data["status"]),
                amount=int(data["amount"]),
                refunded_amount=int(data.get("refunded_amount", 0)),
                currency=str(data.get("currency", "JPY")),
                failure_code=str(data.get("failure_code", "")),
                metadata=dict(data.get("metadata") or {}),
            )
            return WebhookEvent(str(event["id"]), str(event["type"]), payment.provider_ref, payment)
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookVerificationError("malformed event body") from exc
