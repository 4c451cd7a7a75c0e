"""JSON API for an application's fee and payment status (the lead mounts ``router``)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema

from machi.core.auth import resident_api_auth
from machi.core.models import User
from machi.payments import selectors
from machi.procedures.selectors import application_get_for_applicant

SESSION_APPLICATIONS_KEY = "machi_applications"


class FeeLineOut(Schema):
    label: str
    unit_yen: int
    quantity: int
    amount_yen: int


class PaymentOut(Schema):
    id: str
    status: str
    amount_yen: int
    refunded_yen: int
    provider: str
    failure_code: str
    created_at: datetime
    succeeded_at: datetime | None


class PaymentStatusOut(Schema):
    application_id: str
    timing: str
    fee_yen: int
    exempt_reason: str
    lines: list[FeeLineOut]
    paid_yen: int
    due_yen: int
    can_pay_now: bool
    latest_payment: PaymentOut | None


def _user(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def build_router() -> Router:
    """A new router with the payment endpoints (a router can be mounted on one API only)."""
    router = Router(tags=["payments"])

    @router.get(
        "/applications/{application_id}/payment",
        response=PaymentStatusOut,
        auth=resident_api_auth(),
    )
    def application_payment(request: HttpRequest, application_id: str) -> PaymentStatusOut:
        """The fee of an application, what was paid and its latest payment (its applicant)."""
        application = application_get_for_applicant(
            application_id=application_id,
            user=_user(request),
            session_ids=list(request.session.get(SESSION_APPLICATIONS_KEY, [])),
        )
        summary = selectors.payment_summary(application)
        latest = summary.latest
        return PaymentStatusOut(
            application_id=str(application.pk),
            timing=summary.timing,
            fee_yen=summary.quote.amount_yen,
            exempt_reason=summary.quote.exempt_reason,
            lines=[FeeLineOut(**line.as_dict()) for line in summary.quote.lines],
            paid_yen=summary.paid_yen,
            due_yen=summary.due_yen,
            can_pay_now=selectors.payment_can_start(application),
            latest_payment=(
                PaymentOut(
                    id=str(latest.pk),
                    status=latest.status,
                    amount_yen=latest.amount_yen,
                    refunded_yen=latest.refunded_yen,
                    provider=latest.provider,
                    failure_code=latest.failure_code,
                    created_at=latest.created_at,
                    succeeded_at=latest.succeeded_at,
                )
                if latest is not None
                else None
            ),
        )

    return router


router = build_router()
