"""What payments adds to lower apps' pages (registered in ``PaymentsConfig.ready``).

Application page sections (``procedures.extensions.application_sections``):

- ``review``: the "pay the fee" panel when the fee must be paid before submitting;
- ``resident_detail``: the fee panel with the pay / status link before issuance;
- ``withdraw_confirm``: what happens to the fee when the applicant withdraws.

Case links (``cases.extensions.case_links``): 「現金での納付を記録する」 on the case page.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from machi.cases.extensions import CaseLink, CaseLinkTarget, case_links
from machi.core.models import User
from machi.core.selectors import user_has_role
from machi.payments.models import OPEN_STATUSES, PAID_STATUSES, Payment
from machi.payments.providers import COUNTER_PROVIDERS
from machi.payments.selectors import cash_fee_due
from machi.payments.services.counter import CASH_ROLES
from machi.payments.services.starting import PAYABLE_BEFORE_ISSUANCE
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
    case_links.register("payments.cash", CASH_LINK, order=20)


def _cash_link(user: User, case: object) -> CaseLinkTarget | None:
    """「現金での納付を記録する」 on the case page, while a cash fee can be recorded.

    Checks what the case page already loaded first (the case's application and procedure), so
    a procedure without a fee before issuance costs the page no query at all.
    """
    application = getattr(case, "application", None)
    if application is None:
        return None
    if (
        application.procedure.payment_timing != PaymentTiming.BEFORE_ISSUANCE
        or application.status not in PAYABLE_BEFORE_ISSUANCE
        or not user_has_role(
            user,
            municipality_code=application.municipality_id,
            roles=CASH_ROLES,
            prefecture_wide=False,
        )
        or not cash_fee_due(application)
    ):
        return None
    return CaseLinkTarget(
        label=_("現金での納付を記録する"),
        url=reverse("payments-staff:cash", kwargs={"application_id": application.pk}),
    )


CASH_LINK = CaseLink(target=_cash_link)
