"""The payer's return from the provider: read the outcome, and submit when paying came first.

Moved out of the view so the workflow (refresh from the provider, submit a draft whose fee is
now paid, decide what to show) is one service with its own tests; the view only renders.
"""

from __future__ import annotations

from dataclasses import dataclass

from machi.core.exceptions import ApplicationError
from machi.core.models import User
from machi.payments.models import OPEN_STATUSES, PAID_STATUSES, Payment
from machi.payments.services.starting import payment_refresh
from machi.procedures import services as procedure_services
from machi.procedures.states import ApplicationStatus, AssuranceLevel, PaymentTiming


@dataclass(frozen=True)
class ReturnOutcome:
    """What the return page shows.

    ``submitted``: the application is (now, or already was) submitted: show its receipt.
    ``submit_error``: paid, but the submission was refused (the message to show).
    ``needs_signature``: paid, but a card signature must come before submitting.
    """

    payment: Payment
    paid: bool
    before_submission: bool
    submitted: bool = False
    submit_error: str = ""
    needs_signature: bool = False


def payment_return(*, payment: Payment, actor: User | None) -> ReturnOutcome:
    """Bring ``payment`` up to date (never from the query string) and act on the outcome.

    For procedures paid before submission a successful payment submits the draft (with the
    attachment checks of a normal submission), unless a card signature is still needed.
    """
    if payment.status in OPEN_STATUSES:
        payment = payment_refresh(payment=payment)
    application = payment.application
    procedure = application.procedure
    paid = payment.status in PAID_STATUSES
    before_submission = procedure.payment_timing == PaymentTiming.BEFORE_SUBMISSION
    needs_signature = procedure.assurance_level == AssuranceLevel.CARD_SIGNATURE
    outcome = ReturnOutcome(payment=payment, paid=paid, before_submission=before_submission)
    if not (paid and before_submission):
        return outcome
    if application.status != ApplicationStatus.DRAFT:
        return ReturnOutcome(payment=payment, paid=paid, before_submission=True, submitted=True)
    if needs_signature:
        return ReturnOutcome(
            payment=payment, paid=paid, before_submission=True, needs_signature=True
        )
    try:
        procedure_services.application_submit(
            application=application,
            actor=actor,
            file_lookup=procedure_services.file_lookup_for(application),
        )
    except ApplicationError as exc:
        return ReturnOutcome(
            payment=payment, paid=paid, before_submission=True, submit_error=str(exc.message)
        )
    return ReturnOutcome(payment=payment, paid=paid, before_submission=True, submitted=True)
