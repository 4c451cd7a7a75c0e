"""Writes for fees: start a payment, record provider outcomes, webhooks, refunds, cash.

Rules every function here keeps:

* a provider is never called inside a database transaction (an outbox retry is the one
  exception: ``core.outbox`` delivers inside its own transaction; idempotency keys make that
  safe). The payment row is saved before the call with the idempotency key the provider sees,
  and completed after it, so a crash in between is recovered by replaying the call;
* at most one live payment per application (a partial unique constraint plus a row lock);
* state only moves forward (``recording.TRANSITIONS``), every change is audited, and the same
  webhook event twice changes nothing (``PaymentEvent``).

Modules: ``recording`` (state changes, shared), ``starting`` (start, refresh, cancel, card),
``webhooks``, ``refunds``, ``counter`` (fees paid in cash at the counter), ``returning`` (the
payer's return from the provider), ``hooks`` (the procedure hooks). Every public name is
importable from ``machi.payments.services``.
"""

from machi.payments.fees import FeeLine, FeeQuote, fee_quote
from machi.payments.services.counter import payment_record_cash
from machi.payments.services.hooks import (
    REMOTE_CHANNELS,
    PaymentHooks,
    check_submission,
    check_transition,
    on_transition,
)
from machi.payments.services.recording import (
    REFUND_OUTBOX_KIND,
    STALE_AFTER,
    TRANSITIONS,
    ProviderUnavailable,
)
from machi.payments.services.refunds import deliver_refund, refund_execute, refund_request
from machi.payments.services.returning import ReturnOutcome, payment_return
from machi.payments.services.starting import (
    PAYABLE_BEFORE_ISSUANCE,
    payment_cancel,
    payment_confirm_card,
    payment_finish_authentication,
    payment_refresh,
    payment_start,
    payments_refresh_stale,
)
from machi.payments.services.webhooks import webhook_receive

__all__ = [
    "PAYABLE_BEFORE_ISSUANCE",
    "REFUND_OUTBOX_KIND",
    "REMOTE_CHANNELS",
    "STALE_AFTER",
    "TRANSITIONS",
    "FeeLine",
    "FeeQuote",
    "PaymentHooks",
    "ProviderUnavailable",
    "ReturnOutcome",
    "check_submission",
    "check_transition",
    "deliver_refund",
    "fee_quote",
    "on_transition",
    "payment_cancel",
    "payment_confirm_card",
    "payment_finish_authentication",
    "payment_record_cash",
    "payment_refresh",
    "payment_return",
    "payment_start",
    "payments_refresh_stale",
    "refund_execute",
    "refund_request",
    "webhook_receive",
]
