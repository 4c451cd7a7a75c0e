"""Fees (手数料) and cashless payments: fee rules, payments, refunds, webhook events.

A ``Payment`` is Machi's record of one attempt to collect an application's fee through a
provider (``payments.providers``). The provider is called outside database transactions; the
row is written before the call (status ``created``, with the idempotency key the provider sees)
and completed after it, so a crash in between is recovered by asking the provider again.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from machi.core.models import TenantOwnedModel, TimeStampedModel


class FeeKind(models.TextChoices):
    FIXED = "fixed", _("定額")
    PER_COPY = "per_copy", _("1通ごと")


class FeeRule(TimeStampedModel):
    """How a procedure's fee is computed from the answers.

    ``exemptions`` is a list of ``{"field": "step.field", "equals": value, "reason": "…"}``:
    when the answer at ``field`` equals ``value`` the fee is 0 for ``reason`` (e.g. 生活保護受給者).
    Without a rule the fee comes from ``Procedure.fee_yen`` / ``fee_per_copy``.
    """

    procedure = models.OneToOneField(
        "procedures.Procedure",
        verbose_name=_("手続"),
        on_delete=models.CASCADE,
        related_name="fee_rule",
    )
    kind = models.CharField(_("種類"), max_length=20, choices=FeeKind.choices)
    amount_yen = models.PositiveIntegerField(_("金額（円）"))
    label = models.CharField(_("明細の名称"), max_length=100, blank=True)
    copies_field = models.CharField(
        _("通数の項目"), max_length=120, blank=True, help_text=_("例: request.copies")
    )
    max_copies = models.PositiveIntegerField(_("通数の上限"), default=100)
    exemptions = models.JSONField(_("免除の条件"), default=list, blank=True)

    class Meta:
        verbose_name = _("手数料の規則")
        verbose_name_plural = _("手数料の規則")

    def __str__(self) -> str:
        return f"{self.procedure_id}: {self.kind} {self.amount_yen}"


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("作成")
    PENDING = "pending", _("支払い待ち")
    SUCCEEDED = "succeeded", _("支払い済み")
    FAILED = "failed", _("失敗")
    CANCELLED = "cancelled", _("取消し")
    EXPIRED = "expired", _("期限切れ")
    REFUNDED = "refunded", _("返金済み")
    PARTIALLY_REFUNDED = "partially_refunded", _("一部返金済み")


# A payment that may still take or already holds the applicant's money: at most one per application.
LIVE_STATUSES = (
    PaymentStatus.CREATED,
    PaymentStatus.PENDING,
    PaymentStatus.SUCCEEDED,
    PaymentStatus.PARTIALLY_REFUNDED,
)
OPEN_STATUSES = (PaymentStatus.CREATED, PaymentStatus.PENDING)
PAID_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED)


class Payment(TenantOwnedModel):
    """One attempt to collect an application's fee through a provider."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    application = models.ForeignKey(
        "procedures.Application", verbose_name=_("申請"), on_delete=models.PROTECT, related_name="+"
    )
    amount_yen = models.PositiveIntegerField(_("金額（円）"))
    currency = models.CharField(_("通貨"), max_length=3, default="JPY")
    provider = models.CharField(_("決済事業者"), max_length=30)
    provider_ref = models.CharField(_("決済事業者の番号"), max_length=100, blank=True)
    status = models.CharField(
        _("状態"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.CREATED
    )
    idempotency_key = models.CharField(max_length=80, unique=True)
    description = models.CharField(_("内容"), max_length=200, blank=True)
    redirect_url = models.CharField(max_length=500, blank=True)
    # Where the provider sends the payer back; kept so a lost provider call can be replayed.
    return_url = models.CharField(max_length=500, blank=True)
    lines = models.JSONField(_("明細"), default=list, blank=True)
    refunded_yen = models.PositiveIntegerField(_("返金額（円）"), default=0)
    failure_code = models.CharField(_("失敗の理由コード"), max_length=60, blank=True)
    failure_message = models.CharField(_("失敗の理由"), max_length=300, blank=True)
    succeeded_at = models.DateTimeField(_("支払日時"), null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at"]
        verbose_name = _("支払い")
        verbose_name_plural = _("支払い")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["application"],
                condition=models.Q(status__in=[str(s) for s in LIVE_STATUSES]),
                name="payment_one_live_per_application",
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["provider", "provider_ref"], name="payment_provider_ref"),
            models.Index(fields=["municipality", "created_at"], name="payment_by_day"),
            models.Index(fields=["status", "updated_at"], name="payment_stale"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_ref or self.pk} {self.amount_yen}円 ({self.status})"

    @property
    def net_paid_yen(self) -> int:
        """What Machi holds from this payment now (paid minus refunded)."""
        if self.status in PAID_STATUSES:
            return max(0, self.amount_yen - self.refunded_yen)
        return 0


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("返金待ち")
    SUCCEEDED = "succeeded", _("返金済み")
    FAILED = "failed", _("返金失敗")


class Refund(TenantOwnedModel):
    """One refund of (part of) a payment; recorded before the provider is asked."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount_yen = models.PositiveIntegerField(_("返金額（円）"))
    reason = models.CharField(_("理由"), max_length=200, blank=True)
    status = models.CharField(
        _("状態"), max_length=20, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    provider_ref = models.CharField(max_length=100, blank=True)
    idempotency_key = models.CharField(max_length=80, unique=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at"]
        verbose_name = _("返金")
        verbose_name_plural = _("返金")

    def __str__(self) -> str:
        return f"refund {self.amount_yen}円 of {self.payment_id} ({self.status})"


class PaymentEvent(models.Model):
    """A webhook event already processed; the same event id twice changes nothing."""

    provider = models.CharField(max_length=30)
    event_id = models.CharField(max_length=100)
    event_type = models.CharField(max_length=60)
    payment = models.ForeignKey(
        Payment, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-received_at"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="payment_event_unique")
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_id} {self.event_type}"


class SandboxTransaction(models.Model):
    """The built-in sandbox provider's own ledger (what "the provider" knows).

    Kept apart from ``Payment`` on purpose, so reconciliation compares two independent records.
    """

    ref = models.CharField(max_length=60, unique=True)
    idempotency_key = models.CharField(max_length=80, unique=True)
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="JPY")
    description = models.CharField(max_length=200, blank=True)
    reference = models.CharField(max_length=100, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    return_url = models.CharField(max_length=500)
    cancel_url = models.CharField(max_length=500)
    status = models.CharField(max_length=20, default=PaymentStatus.PENDING)
    refunded_amount = models.PositiveIntegerField(default=0)
    failure_code = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["created_at"]

    def __str__(self) -> str:
        return f"{self.ref} {self.amount} ({self.status})"


class SandboxRefund(models.Model):
    """A refund in the sandbox ledger, keyed by the caller's idempotency key."""

    ref = models.CharField(max_length=60, unique=True)
    transaction = models.ForeignKey(
        SandboxTransaction, on_delete=models.CASCADE, related_name="refunds"
    )
    idempotency_key = models.CharField(max_length=80, unique=True)
    amount = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.ref} {self.amount}"
