"""PAY.JP adapter, through PAY.JP's official Python client (``payjp``, API v1).

Flow (PAY.JP v1 has no hosted checkout page; card numbers never reach Machi):

1. ``create_payment`` only reserves the payment: the payer is sent to Machi's card page
   (``payments:payjp-checkout``), where PAY.JP's own payjp.js turns the card into a token;
2. ``charge_with_token`` creates the charge: ``POST /v1/charges`` with ``amount``,
   ``currency=jpy``, ``card=<token>``, ``capture=true``, ``three_d_secure=true`` and the
   payment's ``Idempotency-Key`` header; the charge waits for 3-D Secure (``unverified``);
3. the payer is sent to PAY.JP's 3-D Secure start URL (``/v1/tds/<charge>/start`` with
   ``back_url``: a JWS (HS256, secret key) of Machi's return URL), then comes back and
   ``finish_authentication`` calls ``POST /v1/charges/<id>/tds_finish``.

Refunds: ``POST /v1/charges/<id>/refund`` (what ``Charge.refund`` sends) with an
``Idempotency-Key``. Webhooks carry the ``X-Payjp-Webhook-Token`` header, compared with
``settings.MACHI_PAYJP_WEBHOOK_TOKEN``; the charge is then re-fetched, since the token is a
static shared secret rather than a signature over the body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import payjp
from django.conf import settings
from django.urls import reverse
from payjp import error as payjp_error

from machi.payments.models import PaymentStatus
from machi.payments.providers import (
    PaymentProvider,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
    WebhookEvent,
    WebhookVerificationError,
)

WEBHOOK_TOKEN_HEADER = "X-Payjp-Webhook-Token"  # noqa: S105 (a header name)
LIST_PAGE_SIZE = 100
T = TypeVar("T")


def _setting(name: str) -> str:
    return str(getattr(settings, name, "") or "")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def back_url_token(url: str, secret_key: str) -> str:
    """The ``back_url`` PAY.JP's 3-D Secure start expects: a JWS (HS256) of ``{"url": url}``."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps({"url": url}, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(secret_key.encode("utf-8"), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def charge_status(charge: Mapping[str, Any]) -> str:
    """A PAY.JP charge object's state as a ``PaymentStatus`` value."""
    amount = int(charge.get("amount") or 0)
    refunded = int(charge.get("amount_refunded") or 0)
    if charge.get("paid"):
        if charge.get("refunded") or (amount and refunded >= amount):
            return PaymentStatus.REFUNDED
        if refunded:
            return PaymentStatus.PARTIALLY_REFUNDED
        if charge.get("captured"):
            return PaymentStatus.SUCCEEDED
        return PaymentStatus.PENDING  # authorised only (Machi always captures)
    if charge.get("failure_code") or charge.get("three_d_secure_status") in ("failed", "error"):
        return PaymentStatus.FAILED
    if charge.get("refunded"):  # an unpaid charge released before payment
        return PaymentStatus.CANCELLED
    return PaymentStatus.PENDING


def _created(charge: Mapping[str, Any]) -> datetime | None:
    created = charge.get("created")
    return datetime.fromtimestamp(int(created), tz=UTC) if created else None


class PayjpProvider(PaymentProvider):
    """PAY.JP (https://pay.jp), card payments with 3-D Secure."""

    id = "payjp"
    label = "PAY.JP"
    refetch_on_webhook = True

    def is_configured(self) -> bool:
        return bool(_setting("MACHI_PAYJP_SECRET_KEY") and _setting("MACHI_PAYJP_PUBLIC_KEY"))

    @property
    def public_key(self) -> str:
        return _setting("MACHI_PAYJP_PUBLIC_KEY")

    def _secret(self) -> str:
        key = _setting("MACHI_PAYJP_SECRET_KEY")
        if not key:
            raise ProviderError(
                "MACHI_PAYJP_SECRET_KEY is not set", code="not_configured", retryable=False
            )
        return key

    @staticmethod
    def _call(operation: Callable[[], T]) -> T:
        """Run a client call, mapping the client's errors onto ``ProviderError``."""
        try:
            return operation()
        except payjp_error.CardError as exc:
            raise ProviderError(
                str(exc), code=str(exc.code or "card_error"), retryable=False
            ) from exc
        except payjp_error.InvalidRequestError as exc:
            code = "not_found" if exc.http_status == 404 else "invalid_request"
            raise ProviderError(str(exc), code=code, retryable=False) from exc
        except payjp_error.AuthenticationError as exc:
            raise ProviderError(str(exc), code="authentication_failed", retryable=False) from exc
        except payjp_error.APIConnectionError as exc:
            raise ProviderError(str(exc), code="connection_error", retryable=True) from exc
        except payjp_error.PayjpException as exc:
            raise ProviderError(str(exc), code="provider_error", retryable=True) from exc

    def _to_payment(self, charge: Mapping[str, Any], *, redirect_url: str = "") -> ProviderPayment:
        metadata = charge.get("metadata") or {}
        return ProviderPayment(
            provider_ref=str(charge["id"]),
            status=charge_status(charge),
            redirect_url=redirect_url,
            amount=int(charge.get("amount") or 0),
            refunded_amount=int(charge.get("amount_refunded") or 0),
            currency=str(charge.get("currency") or "jpy").upper(),
            failure_code=str(charge.get("failure_code") or ""),
            failure_message=str(charge.get("failure_message") or ""),
            created_at=_created(charge),
            metadata={str(k): str(v) for k, v in dict(metadata).items()},
        )

    # --- the provider interface ---------------------------------------------------------------

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
        """Reserve the payment; the charge is created once payjp.js has tokenised the card."""
        self._secret()
        payment_id = (metadata or {}).get("machi_payment", "")
        if not payment_id:
            raise ProviderError(
                "metadata machi_payment is required", code="invalid_request", retryable=False
            )
        return ProviderPayment(
            provider_ref="",
            status=PaymentStatus.PENDING,
            redirect_url=reverse("payments:payjp-checkout", kwargs={"payment_id": payment_id}),
            amount=amount,
            metadata=dict(metadata or {}),
        )

    def charge_with_token(
        self,
        *,
        token: str,
        amount: int,
        description: str,
        idempotency_key: str,
        return_url: str,
        metadata: Mapping[str, str] | None = None,
    ) -> ProviderPayment:
        """Create the charge for a payjp.js card token (with 3-D Secure)."""
        secret = self._secret()
        charge = self._call(
            lambda: payjp.Charge.create(
                api_key=secret,
                headers={"Idempotency-Key": idempotency_key},
                amount=amount,
                currency="jpy",
                card=token,
                capture=True,
                three_d_secure=True,
                description=description[:255],
                metadata=dict(metadata or {}),
            )
        )
        redirect = ""
        if charge.get("three_d_secure_status") == "unverified" and not charge.get("paid"):
            query = urlencode(
                {"publickey": self.public_key, "back_url": back_url_token(return_url, secret)}
            )
            redirect = f"{payjp.api_base}/v1/tds/{charge['id']}/start?{query}"
        return self._to_payment(charge, redirect_url=redirect)

    def finish_authentication(self, provider_ref: str) -> ProviderPayment:
        """Complete a charge after 3-D Secure (``tds_finish``); already finished: fetch it."""
        secret = self._secret()
        charge = self._call(lambda: payjp.Charge.retrieve(provider_ref, api_key=secret))
        if charge.get("three_d_secure_status") in ("verified", "attempted") and not charge.get(
            "paid"
        ):
            charge = self._call(charge.tds_finish)
        return self._to_payment(charge)

    def fetch(self, provider_ref: str) -> ProviderPayment:
        secret = self._secret()
        charge = self._call(lambda: payjp.Charge.retrieve(provider_ref, api_key=secret))
        return self._to_payment(charge)

    def refund(
        self, provider_ref: str, *, amount: int, idempotency_key: str, reason: str = ""
    ) -> ProviderRefund:
        secret = self._secret()
        charge = self._call(lambda: payjp.Charge.retrieve(provider_ref, api_key=secret))
        params: dict[str, Any] = {"amount": amount}
        if reason:
            params["refund_reason"] = reason[:255]
        # Charge.refund() plus an Idempotency-Key: a retried refund is never applied twice.
        updated = self._call(
            lambda: charge.request(
                "post",
                f"{charge.instance_url()}/refund",
                params,
                {"Idempotency-Key": idempotency_key},
            )
        )
        charge.refresh_from(updated, api_key=secret)
        state = self._to_payment(charge)
        return ProviderRefund(
            provider_ref=f"{state.provider_ref}:{idempotency_key}", amount=amount, payment=state
        )

    def cancel(self, provider_ref: str) -> ProviderPayment:
        if not provider_ref:  # no charge yet: nothing exists at PAY.JP
            return ProviderPayment(provider_ref="", status=PaymentStatus.CANCELLED)
        state = self.fetch(provider_ref)
        if state.status == PaymentStatus.PENDING:
            # An unverified 3-D Secure charge is never captured: it lapses at PAY.JP.
            return ProviderPayment(
                provider_ref=provider_ref,
                status=PaymentStatus.CANCELLED,
                amount=state.amount,
                metadata=state.metadata,
            )
        return state

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        expected = _setting("MACHI_PAYJP_WEBHOOK_TOKEN")
        received = headers.get(WEBHOOK_TOKEN_HEADER) or next(
            (v for k, v in headers.items() if k.lower() == WEBHOOK_TOKEN_HEADER.lower()), ""
        )
        if not expected:
            raise WebhookVerificationError("MACHI_PAYJP_WEBHOOK_TOKEN is not set")
        if not hmac.compare_digest(expected.encode("utf-8"), str(received).encode("utf-8")):
            raise WebhookVerificationError("webhook token mismatch")
        try:
            event = json.loads(body)
            data = event.get("data") or {}
            is_charge = isinstance(data, dict) and data.get("object") == "charge"
            payment = self._to_payment(data) if is_charge else None
            return WebhookEvent(
                event_id=str(event["id"]),
                event_type=str(event.get("type", "")),
                provider_ref=payment.provider_ref if payment else "",
                payment=payment,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookVerificationError("malformed event body") from exc

    def list_payments(self, *, since: datetime, until: datetime) -> list[ProviderPayment]:
        secret = self._secret()
        found: list[ProviderPayment] = []
        offset = 0
        while True:
            page = self._call(
                lambda offset=offset: payjp.Charge.all(  # type: ignore[misc]
                    api_key=secret,
                    limit=LIST_PAGE_SIZE,
                    offset=offset,
                    since=int(since.timestamp()),
                    until=int(until.timestamp()) - 1,
                )
            )
            data = list(page.get("data") or [])
            found.extend(self._to_payment(charge) for charge in data)
            if not page.get("has_more") or not data:
                return found
            offset += len(data)
