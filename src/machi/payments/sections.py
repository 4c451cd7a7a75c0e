"""What payments adds to procedures' application pages (registered in ``PaymentsConfig``).

- ``review``: the "pay the fee" panel when the fee must be paid before submitting;
- ``resident_detail``: the fee panel with the pay / status link before issuance;
- ``withdraw_confirm``: what happens to the fee when the applicant withdraws.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from machi.payments.models import OPEN_STATUSES, PAID_STATUSES, Payment
from machi.payments.providers import COUNTER_PROVIDERS
from machi.procedures import extensions
from machi.procedures.extensions import ApplicationSection
from machi.procedures.states import ApplicationStatus, PaymentTiming

# procfront adds this place with the withdrawal confirmation page.
WITHDRAW_CONFIRM = str(getattr(extensions, "WITHDRAW_CONFIRM", "withdraw_confirm"))


def _review_pay(
    request: HttpRequest | None, application: Any, page: dict[str, Any]
) -> dict[str, Any] | None:
    if page.get("incomplete") or not page.get("payment_required"):
        return None
    return {"application": application}


def _detail_fee(
    request: HttpRequest | None, application: Any, page: dict[str, Any]
) -> dict[str, Any] | None:
    if (
        application.procedure.payment_timing != PaymentTiming.BEFORE_ISSUANCE
        or not application.fee_yen
        or application.status in (ApplicationStatus.WITHDRAWN, ApplicationStatus.COMPLETED)
    ):
        return None
    return {"application": application}


def withdraw_fee_context(
    request: HttpRequest | None, application: Any, page: dict[str, Any]
) -> dict[str, Any] | None:
    """What withdrawing does to the fee: refunded automatically (how much), or nothing to pay."""
    payments = list(Payment.objects.filter(application_id=application.pk))
    online = [p for p in payments if p.provider not in COUNTER_PROVIDERS]
    counter = [p for p in payments if p.provider in COUNTER_PROVIDERS]
    refund_yen = sum(p.net_paid_yen for p in online if p.status in PAID_STATUSES)
    counter_yen = sum(p.net_paid_yen for p in counter if p.status in PAID_STATUSES)
    open_payment = any(p.status in OPEN_STATUSES for p in online)
    if not (refund_yen or counter_yen or open_payment or application.fee_yen):
        return None
    return {
        "refund_yen": refund_yen,
        "refund_amount": f"{refund_yen:,}",
        "counter_yen": counter_yen,
        "counter_amount": f"{counter_yen:,}",
        "open_payment": open_payment,
        "fee_yen": application.fee_yen,
    }


REVIEW_PAY = ApplicationSection(
    place="review", template_name="payments/sections/review_pay.html", context=_review_pay
)
DETAIL_FEE = ApplicationSection(
    place="resident_detail",
    template_name="payments/sections/detail_fee.html",
    context=_detail_fee,
)


def withdraw_section() -> ApplicationSection | None:
    """The withdrawal section, when procedures offers the place (None before it does)."""
    if WITHDRAW_CONFIRM not in extensions.PLACES:
        return None
    return ApplicationSection(
        place=WITHDRAW_CONFIRM,
        template_name="payments/sections/withdraw_fee.html",
        context=withdraw_fee_context,
    )


def register_sections() -> None:
    sections = extensions.application_sections
    sections.register("payments.review_pay", REVIEW_PAY, order=20)
    sections.register("payments.detail_fee", DETAIL_FEE, order=20)
    withdraw = withdraw_section()
    if withdraw is not None:
        sections.register("payments.withdraw_fee", withdraw, order=20)
