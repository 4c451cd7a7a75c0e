"""Reads for cashless fees: an applicant's payment, staff lists and daily reconciliation."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.core.exceptions import NotFound
from machi.core.models import Role, User
from machi.core.selectors import visible_municipality_codes
from machi.payments.fees import FeeQuote, fee_quote
from machi.payments.models import (
    LIVE_STATUSES,
    PAID_STATUSES,
    Payment,
    PaymentStatus,
)
from machi.payments.providers import (
    COUNTER_PROVIDERS,
    ProviderError,
    ProviderPayment,
    default_provider_id,
    get_provider,
)
from machi.procedures.selectors import application_get_for_applicant
from machi.procedures.states import ApplicationStatus, PaymentTiming

if TYPE_CHECKING:
    from machi.procedures.selectors import Application

STAFF_ROLES = (Role.MUNICIPALITY_ADMIN, Role.APPROVER)
# Provider records this close to the day's edges are fetched too, so a payment opened at
# 23:59:59 and charged at 00:00:01 still matches.
DAY_MARGIN = timedelta(hours=1)


def failure_text(code: str) -> str:
    """A failure code as a sentence for the payer."""
    texts = {
        "card_declined": _("カードが使えませんでした。別のカードをお試しください。"),
        "expired_card": _("カードの有効期限が切れています。"),
        "invalid_cvc": _("セキュリティコードが正しくありません。"),
        "incorrect_card_data": _("カード情報が正しくありません。"),
        "processing_error": _("決済処理中にエラーが発生しました。時間をおいてお試しください。"),
        "three_d_secure_failed": _("本人認証（3Dセキュア）に失敗しました。"),
    }
    return str(texts.get(code, _("お支払いを完了できませんでした。")))


# --- The applicant's side ----------------------------------------------------------------------


def payment_get_for_applicant(
    *, payment_id: str, user: User | None, session_ids: list[str]
) -> Payment:
    """A payment of an application the requester may see as its applicant, or ``NotFound``."""
    try:
        wanted = uuid.UUID(str(payment_id))
    except ValueError as exc:
        raise NotFound(_("お支払いが見つかりません。"), code="payment_not_found") from exc
    payment = Payment.objects.filter(pk=wanted).first()
    if payment is None:
        raise NotFound(_("お支払いが見つかりません。"), code="payment_not_found")
    application = application_get_for_applicant(
        application_id=str(payment.application_id), user=user, session_ids=session_ids
    )
    payment.application = application
    return payment


def paid_yen(application: Application) -> int:
    """What the applicant has paid for ``application`` and Machi still holds."""
    payments = Payment.objects.filter(application_id=application.pk, status__in=PAID_STATUSES)
    return sum(p.net_paid_yen for p in payments)


@dataclass(frozen=True)
class PaymentSummary:
    """What an application's pages show about its fee."""

    quote: FeeQuote
    timing: str
    paid_yen: int
    latest: Payment | None

    @property
    def due_yen(self) -> int:
        return max(0, self.quote.amount_yen - self.paid_yen)

    @property
    def is_paid(self) -> bool:
        return self.quote.amount_yen > 0 and self.due_yen == 0


def payment_summary(application: Application) -> PaymentSummary:
    """The fee, what was paid and the latest payment of an application."""
    latest = Payment.objects.filter(application_id=application.pk).order_by("-created_at").first()
    return PaymentSummary(
        quote=fee_quote(application),
        timing=application.procedure.payment_timing,
        paid_yen=paid_yen(application),
        latest=latest,
    )


def payment_can_start(application: Application) -> bool:
    """Whether the applicant may pay online now (for showing the pay button)."""
    timing = application.procedure.payment_timing
    if timing == PaymentTiming.BEFORE_SUBMISSION:
        open_now = application.status == ApplicationStatus.DRAFT
    elif timing == PaymentTiming.BEFORE_ISSUANCE:
        open_now = application.status in (
            ApplicationStatus.SUBMITTED,
            ApplicationStatus.IN_REVIEW,
            ApplicationStatus.CORRECTION_REQUESTED,
            ApplicationStatus.APPROVING,
        )
    else:
        open_now = False
    return open_now and payment_summary(application).due_yen > 0


# --- Staff ---------------------------------------------------------------------------------------


def staff_municipality_codes(user: User) -> set[str]:
    """Municipalities whose payments ``user`` may see (団体管理者, 決裁者; 県管理者: all theirs)."""
    return visible_municipality_codes(user, roles=STAFF_ROLES, prefecture_wide=True)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Start and end of a local (Japan) calendar day."""
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, start + timedelta(days=1)


def payments_for_day(*, municipality_code: str, day: date) -> QuerySet[Payment]:
    """A municipality's payments opened on ``day`` (the caller checked the staff's access)."""
    start, end = day_bounds(day)
    return (
        Payment.objects.filter(
            municipality_id=municipality_code, created_at__gte=start, created_at__lt=end
        )
        .select_related("application", "application__procedure")
        .order_by("created_at")
    )


class Discrepancy:
    """Kinds of reconciliation line."""

    MATCHED = "matched"
    MISSING_AT_PROVIDER = "missing_at_provider"
    MISSING_IN_MACHI = "missing_in_machi"
    AMOUNT_MISMATCH = "amount_mismatch"
    STATUS_MISMATCH = "status_mismatch"


@dataclass(frozen=True)
class ReconciliationItem:
    """One line of the reconciliation: a Machi payment and/or a provider record."""

    kind: str
    provider: str
    provider_ref: str
    payment_id: str = ""
    receipt_number: str = ""
    machi_amount: int | None = None
    provider_amount: int | None = None
    machi_status: str = ""
    provider_status: str = ""
    note: str = ""

    @property
    def label(self) -> str:
        labels = {
            Discrepancy.MATCHED: _("一致"),
            Discrepancy.MISSING_AT_PROVIDER: _("決済事業者に記録なし"),
            Discrepancy.MISSING_IN_MACHI: _("Machiに記録なし"),
            Discrepancy.AMOUNT_MISMATCH: _("金額の不一致"),
            Discrepancy.STATUS_MISMATCH: _("状態の不一致"),
        }
        return str(labels.get(self.kind, self.kind))


@dataclass(frozen=True)
class ReconciliationReport:
    """Machi's payments of one municipality and day against the providers' records."""

    municipality_code: str
    day: date
    items: list[ReconciliationItem] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[ReconciliationItem]:
        return [item for item in self.items if item.kind == kind]

    @property
    def discrepancies(self) -> list[ReconciliationItem]:
        return [item for item in self.items if item.kind != Discrepancy.MATCHED]

    @property
    def ok(self) -> bool:
        return not self.discrepancies and not self.errors


_MONEY_TAKEN = {*PAID_STATUSES, PaymentStatus.REFUNDED}


def _money_taken(status: str) -> bool:
    return status in _MONEY_TAKEN


def provider_records_for_day(
    day: date, provider_ids: Iterable[str]
) -> tuple[dict[str, list[ProviderPayment]], list[str]]:
    """Each provider's payments around ``day`` (one call per provider), and any errors."""
    start, end = day_bounds(day)
    records: dict[str, list[ProviderPayment]] = {}
    errors: list[str] = []
    for provider_id in sorted(set(provider_ids)):
        try:
            provider = get_provider(provider_id)
            records[provider_id] = provider.list_payments(
                since=start - DAY_MARGIN, until=end + DAY_MARGIN
            )
        except (ProviderError, NotFound) as exc:
            errors.append(f"{provider_id}: {exc}")
    return records, errors


def _compare(payment: Payment, record: ProviderPayment) -> ReconciliationItem:
    kind = Discrepancy.MATCHED
    note = ""
    if record.amount != payment.amount_yen:
        kind, note = Discrepancy.AMOUNT_MISMATCH, _("支払額が異なります。")
    elif record.refunded_amount != payment.refunded_yen:
        kind, note = Discrepancy.AMOUNT_MISMATCH, _("返金額が異なります。")
    elif _money_taken(record.status) != _money_taken(payment.status):
        kind, note = Discrepancy.STATUS_MISMATCH, _("支払いの成否が異なります。")
    return ReconciliationItem(
        kind=kind,
        provider=payment.provider,
        provider_ref=payment.provider_ref,
        payment_id=str(payment.pk),
        receipt_number=payment.application.receipt_number or "",
        machi_amount=payment.amount_yen,
        provider_amount=record.amount,
        machi_status=payment.status,
        provider_status=record.status,
        note=str(note),
    )


def reconciliation_report(
    *,
    municipality_code: str,
    day: date,
    provider_records: dict[str, list[ProviderPayment]] | None = None,
) -> ReconciliationReport:
    """Compare a municipality's payments of ``day`` with what each provider recorded.

    Lines: matched, missing at the provider, missing in Machi (money taken by the provider for
    this municipality but no Machi payment), amount and status mismatches. ``provider_records``
    lets a caller reconcile many municipalities with one listing per provider.
    """
    start, end = day_bounds(day)
    payments = [
        p
        for p in payments_for_day(municipality_code=municipality_code, day=day)
        if (p.provider_ref or _money_taken(p.status)) and p.provider not in COUNTER_PROVIDERS
    ]
    errors: list[str] = []
    if provider_records is None:
        provider_ids = {p.provider for p in payments} | {default_provider_id()}
        provider_records, errors = provider_records_for_day(day, provider_ids)
    items: list[ReconciliationItem] = []
    seen: set[tuple[str, str]] = set()
    for payment in payments:
        records = provider_records.get(payment.provider)
        if records is None:
            continue  # that provider could not be listed: reported in errors
        record = next((r for r in records if r.provider_ref == payment.provider_ref), None)
        if record is None and payment.provider_ref:
            try:  # outside the listed window (e.g. charged days later): ask for it directly
                record = get_provider(payment.provider).fetch(payment.provider_ref)
            except (ProviderError, NotFound):
                record = None
        if record is None:
            items.append(
                ReconciliationItem(
                    kind=Discrepancy.MISSING_AT_PROVIDER,
                    provider=payment.provider,
                    provider_ref=payment.provider_ref,
                    payment_id=str(payment.pk),
                    receipt_number=payment.application.receipt_number or "",
                    machi_amount=payment.amount_yen,
                    machi_status=payment.status,
                )
            )
            continue
        seen.add((payment.provider, record.provider_ref))
        items.append(_compare(payment, record))
    for provider_id, records in sorted(provider_records.items()):
        candidates = [
            r
            for r in records
            if r.metadata.get("machi_municipality") == municipality_code
            and (provider_id, r.provider_ref) not in seen
            and _money_taken(r.status)
            and (r.created_at is None or start <= r.created_at < end)
        ]
        known = set(
            Payment.objects.filter(
                provider=provider_id, provider_ref__in=[r.provider_ref for r in candidates]
            ).values_list("provider_ref", flat=True)
        )
        for record in candidates:
            if record.provider_ref in known:
                continue  # a Machi payment of another day
            items.append(
                ReconciliationItem(
                    kind=Discrepancy.MISSING_IN_MACHI,
                    provider=provider_id,
                    provider_ref=record.provider_ref,
                    payment_id=record.metadata.get("machi_payment", ""),
                    provider_amount=record.amount,
                    provider_status=record.status,
                    note=str(_("決済事業者だけに記録があります。")),
                )
            )
    return ReconciliationReport(municipality_code, day, items, errors)


def municipalities_with_payments(day: date) -> list[str]:
    """Municipalities that opened a payment on ``day`` (for the daily command)."""
    start, end = day_bounds(day)
    return sorted(
        set(
            Payment.objects.filter(created_at__gte=start, created_at__lt=end).values_list(
                "municipality_id", flat=True
            )
        )
    )


def live_payment(application: Application) -> Payment | None:
    """The application's live payment (open or paid), if any."""
    return Payment.objects.filter(application_id=application.pk, status__in=LIVE_STATUSES).first()


def cash_fee_due(application: Application) -> int:
    """The fee staff may record as paid in cash now (0: nothing to record).

    Before issuance only, at a stage where the fee is due, with nothing paid or being paid.
    """
    from machi.payments.services.starting import PAYABLE_BEFORE_ISSUANCE

    if (
        application.procedure.payment_timing != PaymentTiming.BEFORE_ISSUANCE
        or application.status not in PAYABLE_BEFORE_ISSUANCE
        or live_payment(application) is not None
    ):
        return 0
    return fee_quote(application).amount_yen
