"""Payment providers (決済事業者): the interface every adapter implements, and the registry.

``payment_providers`` is a ``machi.core.registry.Registry``; ``PaymentsConfig.ready()`` registers
the sandbox and PAY.JP, and a deployment may register its own adapter under a new id.

An adapter speaks to one provider's API and maps it onto Machi's vocabulary
(``PaymentStatus`` values, amounts in yen). Adapters never touch ``Payment`` rows: the services
call them outside database transactions and record the outcome afterwards.

Contract every adapter keeps:

* ``create_payment`` is idempotent by ``idempotency_key``: calling it again with the same key
  returns the same provider payment (so a crash after the call is recovered by calling again);
* ``refund`` is idempotent by its ``idempotency_key`` in the same way;
* ``verify_webhook`` authenticates the request (signature or token) before parsing anything
  and raises ``WebhookVerificationError`` otherwise;
* errors are raised as ``ProviderError`` with a stable ``code`` (card errors keep the
  provider's code, e.g. ``card_declined``) and ``retryable`` telling whether to try again later.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from django.conf import settings
from django.utils.translation import gettext as _

from machi.core.exceptions import NotFound
from machi.core.registry import Registry


class ProviderError(Exception):
    """The provider refused or could not be reached."""

    def __init__(
        self, message: str, *, code: str = "provider_error", retryable: bool = True
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class WebhookVerificationError(Exception):
    """A webhook whose signature or token does not check out (never acted upon)."""


@dataclass(frozen=True)
class ProviderPayment:
    """A payment as the provider sees it. ``status`` is a ``PaymentStatus`` value."""

    provider_ref: str
    status: str
    redirect_url: str = ""
    amount: int = 0
    refunded_amount: int = 0
    currency: str = "JPY"
    failure_code: str = ""
    failure_message: str = ""
    created_at: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderRefund:
    """A refund the provider accepted."""

    provider_ref: str
    amount: int
    payment: ProviderPayment | None = None


@dataclass(frozen=True)
class WebhookEvent:
    """An authenticated webhook: ``event_id`` is unique per provider (for idempotency).

    ``payment`` carries the payment's state when the event includes it; services re-fetch it
    from the provider when the adapter's ``refetch_on_webhook`` says the event alone is not
    authoritative.
    """

    event_id: str
    event_type: str
    provider_ref: str
    payment: ProviderPayment | None = None


class PaymentProvider(ABC):
    """Base class of provider adapters. Settings are read when used, never at import."""

    id: ClassVar[str]
    label: ClassVar[str]
    refetch_on_webhook: ClassVar[bool] = True

    def is_configured(self) -> bool:
        """Whether the settings this adapter needs are present."""
        return True

    @abstractmethod
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
        """Open a payment of ``amount`` yen; ``redirect_url`` is where the payer goes to pay.

        ``return_url`` / ``cancel_url`` are where the payer comes back (absolute URLs).
        ``metadata`` (``machi_payment``, ``machi_municipality``…) is stored with the payment and
        given back by ``fetch``/``list_payments`` so reconciliation can attribute it.
        """

    @abstractmethod
    def fetch(self, provider_ref: str) -> ProviderPayment:
        """The provider's current state of one payment."""

    @abstractmethod
    def refund(
        self, provider_ref: str, *, amount: int, idempotency_key: str, reason: str = ""
    ) -> ProviderRefund:
        """Refund ``amount`` yen of a succeeded payment (partial refunds allowed)."""

    @abstractmethod
    def cancel(self, provider_ref: str) -> ProviderPayment:
        """Abandon an unpaid payment; returns the state after (``succeeded`` if it was paid)."""

    @abstractmethod
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Authenticate and parse a webhook, or raise ``WebhookVerificationError``."""

    @abstractmethod
    def list_payments(self, *, since: datetime, until: datetime) -> list[ProviderPayment]:
        """Every payment created in ``[since, until)``, for reconciliation."""


payment_providers: Registry[PaymentProvider] = Registry(
    "payments.providers",
    description="payment provider adapters (決済事業者), by provider id",
)
# Payments recorded by staff at the counter (窓口での現金納付): no adapter, no provider calls,
# never refunded automatically and left out of the provider reconciliation.
CASH_PROVIDER = "cash"
COUNTER_PROVIDERS = frozenset({CASH_PROVIDER})


def register_provider(provider: PaymentProvider) -> None:
    """Make ``provider`` available under ``provider.id`` (replaces an earlier one)."""
    payment_providers.register(provider.id, provider, replace=True)


def unregister_provider(provider_id: str) -> None:
    """Remove a provider (tests)."""
    payment_providers.unregister(provider_id)


def provider_ids() -> list[str]:
    """Ids of the registered providers."""
    return sorted(payment_providers.ids())


def get_provider(provider_id: str) -> PaymentProvider:
    """The registered provider ``provider_id``, or ``NotFound``."""
    if provider_id not in payment_providers:
        raise NotFound(
            _("決済事業者 %(id)s は登録されていません。") % {"id": provider_id},
            code="provider_not_found",
        )
    return payment_providers.get(provider_id)


def default_provider_id() -> str:
    """The provider new payments use (``settings.MACHI_PAYMENT_PROVIDER``, default sandbox)."""
    return str(getattr(settings, "MACHI_PAYMENT_PROVIDER", "sandbox") or "sandbox")
