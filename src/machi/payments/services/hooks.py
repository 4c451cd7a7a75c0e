"""Payments' part in the life of an application (registered in ``PaymentsConfig.ready``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from machi.core.exceptions import Conflict, InvalidInput
from machi.payments.fees import fee_quote
from machi.payments.models import LIVE_STATUSES, OPEN_STATUSES, PAID_STATUSES, Payment
from machi.payments.providers import COUNTER_PROVIDERS
from machi.payments.selectors import paid_yen
from machi.payments.services.recording import logger
from machi.payments.services.refunds import refund_request
from machi.payments.services.starting import payment_cancel
from machi.procedures.extensions import ApplicationHooks
from machi.procedures.states import ApplicationStatus, PaymentTiming

if TYPE_CHECKING:
    from machi.procedures.selectors import Application

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
    for payment in Payment.objects.filter(
        application_id=application.pk, status__in=LIVE_STATUSES
    ).exclude(provider__in=COUNTER_PROVIDERS):  # cash paid at the counter is refunded there
        try:
            if payment.status in OPEN_STATUSES:
                payment = payment_cancel(payment=payment)
            if payment.status in PAID_STATUSES:
                refund_request(payment=payment, reason=reason, key=f"auto-{to_status}")
        except Exception:  # never break the caller's request after its commit
            logger.exception("automatic refund failed", extra={"payment": str(payment.pk)})


class PaymentHooks(ApplicationHooks):
    """Payments' hooks on the one ``procedures.extensions.application_hooks`` protocol.

    Pay before submission (``check_submission``), pay before issuance (``check_transition``),
    and after a withdrawal or a rejection close open payments and refund paid ones
    (``after_commit``: a provider is never called inside the status change's transaction).
    """

    def check_submission(self, application: Application, cleaned: dict[str, Any]) -> None:
        check_submission(application, cleaned)

    def check_transition(self, application: Application, to_status: str, outcome: str) -> None:
        check_transition(application, to_status, outcome)

    def after_commit(self, application: Application, from_status: str, to_status: str) -> None:
        on_transition(application, from_status, to_status)
