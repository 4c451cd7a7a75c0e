"""Fees paid in cash at the counter (窓口での現金納付), recorded by staff.

No provider is called: the staff member took the money and gives the 領収書番号 (the counter's
receipt number). The payment is recorded as paid at once (provider ``cash``, the receipt
number as its reference), so the application's fee counts as paid and issuance can proceed.
Cash is never refunded automatically: a withdrawal tells the applicant to ask at the counter.
"""

from __future__ import annotations

import re
import uuid
from typing import Final

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.core.exceptions import Conflict, Forbidden, InvalidInput
from machi.core.models import Role, User
from machi.core.selectors import user_has_role
from machi.payments.fees import fee_quote
from machi.payments.models import LIVE_STATUSES, PAID_STATUSES, Payment, PaymentStatus
from machi.payments.providers import CASH_PROVIDER
from machi.payments.services.recording import _audit
from machi.payments.services.starting import PAYABLE_BEFORE_ISSUANCE
from machi.procedures.services import application_get_for_update
from machi.procedures.states import PaymentTiming

# Who takes money at the counter: the 窓口担当, the 担当者, the 決裁者 and the 団体管理者 of the
# municipality (never the 県管理者, who runs no counter).
CASH_ROLES: Final = (
    Role.COUNTER_CLERK,
    Role.CASE_HANDLER,
    Role.APPROVER,
    Role.MUNICIPALITY_ADMIN,
)
RECEIPT_NUMBER: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z\-/]{0,39}")


def payment_record_cash(
    *,
    application_id: uuid.UUID | str,
    actor: User,
    amount_yen: int,
    receipt_number: str,
) -> Payment:
    """Record that the applicant paid ``amount_yen`` in cash; returns the paid ``Payment``.

    Refused (nothing written) unless the actor is counter staff of the application's
    municipality, the procedure is paid before issuance and the application is at a stage
    where the fee is due, nothing is paid or being paid already, ``amount_yen`` is exactly the
    fee and the receipt number is well-formed and not used for another cash payment there.
    """
    receipt = (receipt_number or "").strip()
    if not RECEIPT_NUMBER.fullmatch(receipt):
        raise InvalidInput(
            _("領収書番号は英数字とハイフン・スラッシュで40文字以内で入力してください。"),
            code="invalid_receipt_number",
            field_errors={
                "receipt_number": [_("領収書番号を正しく入力してください（例: R-2026-0001）。")]
            },
        )
    with transaction.atomic():
        application = application_get_for_update(application_id=application_id)
        if not user_has_role(
            actor,
            municipality_code=application.municipality_id,
            roles=CASH_ROLES,
            prefecture_wide=False,
        ):
            raise Forbidden(_("この申請の手数料を記録する権限がありません。"))
        if application.procedure.payment_timing != PaymentTiming.BEFORE_ISSUANCE:
            raise Conflict(
                _("この手続は交付前に手数料を支払う手続ではありません。"),
                code="cash_not_applicable",
            )
        if application.status not in PAYABLE_BEFORE_ISSUANCE:
            raise Conflict(
                _("この申請は現在、手数料を受け付けていません。"), code="payment_not_open"
            )
        quote = fee_quote(application)
        if quote.amount_yen == 0:
            raise Conflict(_("この申請は手数料のお支払いが不要です。"), code="payment_not_required")
        if amount_yen != quote.amount_yen:
            message = _("受け取った金額が手数料（%(amount)s円）と一致しません。") % {
                "amount": f"{quote.amount_yen:,}"
            }
            raise InvalidInput(
                message, code="cash_amount_mismatch", field_errors={"amount_yen": [message]}
            )
        live = Payment.objects.filter(
            application_id=application.pk, status__in=LIVE_STATUSES
        ).first()
        if live is not None:
            raise Conflict(
                _("この申請の手数料はすでに支払われています。")
                if live.status in PAID_STATUSES
                else _("オンラインでの支払いが進行中です。完了または取消しを待ってください。"),
                code="payment_exists",
            )
        if Payment.objects.filter(
            municipality_id=application.municipality_id,
            provider=CASH_PROVIDER,
            provider_ref=receipt,
        ).exists():
            message = _("この領収書番号はすでに別の申請で使われています。")
            raise InvalidInput(
                message, code="receipt_number_used", field_errors={"receipt_number": [message]}
            )
        payment = Payment(
            municipality_id=application.municipality_id,
            application_id=application.pk,
            amount_yen=quote.amount_yen,
            provider=CASH_PROVIDER,
            provider_ref=receipt,
            status=PaymentStatus.SUCCEEDED,
            succeeded_at=timezone.now(),
            description=str(application.procedure.name)[:200],
            lines=[line.as_dict() for line in quote.lines],
        )
        payment.idempotency_key = f"machi-cash-{payment.pk}"
        try:
            with transaction.atomic():
                payment.save(force_insert=True)
        except IntegrityError as exc:  # a concurrent payment won the one live slot
            raise Conflict(
                _("この申請の手数料はすでに支払われています。"), code="payment_exists"
            ) from exc
        _audit(
            payment,
            "cash_recorded",
            actor=actor,
            detail={
                "amount": payment.amount_yen,
                "receipt_number": receipt,
                "receipt": application.receipt_number or "",
            },
        )
    return payment
