"""Core models: municipalities (tenants), departments, staff, roles and the audit log."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from machi.core.validators import validate_local_government_code


class TimeStampedModel(models.Model):
    """Adds created/updated timestamps."""

    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        abstract = True


class MunicipalityKind(models.TextChoices):
    PREFECTURE = "prefecture", _("都道府県")
    CITY = "city", _("市")
    TOWN = "town", _("町")
    VILLAGE = "village", _("村")
    WARD = "ward", _("区")


class Municipality(TimeStampedModel):
    """A tenant: the prefecture or one of its municipalities (地方公共団体).

    Keyed by the 6-digit 全国地方公共団体コード, whose last digit is a check digit.
    """

    code = models.CharField(
        _("地方公共団体コード"),
        max_length=6,
        primary_key=True,
        validators=[validate_local_government_code],
    )
    name = models.CharField(_("名称"), max_length=100)
    name_kana = models.CharField(_("名称（かな）"), max_length=200)
    name_en = models.CharField(_("名称（英語）"), max_length=200, blank=True)
    kind = models.CharField(_("種別"), max_length=20, choices=MunicipalityKind.choices)
    prefecture = models.ForeignKey(
        "self",
        verbose_name=_("都道府県"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        limit_choices_to={"kind": MunicipalityKind.PREFECTURE},
    )
    is_active = models.BooleanField(_("利用中"), default=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["code"]
        verbose_name = _("地方公共団体")
        verbose_name_plural = _("地方公共団体")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind=MunicipalityKind.PREFECTURE, prefecture__isnull=True)
                    | (
                        ~models.Q(kind=MunicipalityKind.PREFECTURE)
                        & models.Q(prefecture__isnull=False)
                    )
                ),
                name="municipality_prefecture_parent",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    def clean(self) -> None:
        if self.kind == MunicipalityKind.PREFECTURE and self.prefecture_id:
            raise ValidationError({"prefecture": _("都道府県は上位の都道府県を持てません。")})
        if self.kind != MunicipalityKind.PREFECTURE and not self.prefecture_id:
            raise ValidationError({"prefecture": _("市区町村には都道府県が必要です。")})


class TenantOwnedModel(TimeStampedModel):
    """Base for every record that belongs to one municipality.

    Staff queries on such records go through ``core.selectors.visible_municipality_codes``.
    """

    # No index of its own (and so no varchar_pattern_ops twin): every query by municipality is
    # served by a composite index that starts with it (see docs/indexes.md); a model that needs
    # one declares it in Meta.indexes.
    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("地方公共団体"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )

    class Meta:
        abstract = True


class Department(TenantOwnedModel):
    """A department (課) of one municipality."""

    code = models.SlugField(_("課コード"), max_length=40)
    name = models.CharField(_("課名"), max_length=100)
    name_kana = models.CharField(_("課名（かな）"), max_length=200, blank=True)
    phone = models.CharField(_("電話番号"), max_length=20, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["municipality_id", "code"]
        verbose_name = _("課")
        verbose_name_plural = _("課")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["municipality", "code"], name="department_code_unique")
        ]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person who signs in to Machi (staff now; residents join with the procedures issue)."""

    display_name = models.CharField(_("表示名"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("利用者")
        verbose_name_plural = _("利用者")

    def __str__(self) -> str:
        return self.display_name or self.username


class Role(models.TextChoices):
    """What a staff member may do within one municipality."""

    MUNICIPALITY_ADMIN = "municipality_admin", _("団体管理者")
    CASE_HANDLER = "case_handler", _("担当者")
    APPROVER = "approver", _("決裁者")
    COUNTER_CLERK = "counter_clerk", _("窓口担当")
    DATA_PUBLISHER = "data_publisher", _("データ公開担当")
    DISASTER_COORDINATOR = "disaster_coordinator", _("防災担当")
    PREFECTURE_ADMIN = "prefecture_admin", _("県管理者")


class Membership(TimeStampedModel):
    """A role a user holds in one municipality (optionally within one department)."""

    # indexed as the prefix of membership_unique_role
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(_("役割"), max_length=30, choices=Role.choices)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering: ClassVar[list[str]] = ["municipality_id", "role"]
        verbose_name = _("所属・役割")
        verbose_name_plural = _("所属・役割")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["user", "municipality", "role"], name="membership_unique_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} / {self.municipality_id} / {self.role}"


class AuditChainHead(models.Model):
    """The last link of one audit chain; locked while an entry is appended so links never fork.

    Each municipality (``-`` for platform-wide events) has a few chains (``282103.0`` …
    ``282103.7``; see ``core.services.audit_chain_for``), so neither tenants nor the worker
    processes of one tenant queue behind each other's writes, and every chain verifies on its own.
    Database triggers (migration 0004) refuse DELETE and let an UPDATE only move the head one
    entry forward, so the head cannot be rewound to hide removed entries.
    """

    chain = models.CharField(max_length=16, primary_key=True)
    last_sequence = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"{self.chain}@{self.last_sequence}"


class AuditEntry(models.Model):
    """One append-only, HMAC-chained audit record (監査ログ).

    Records every access to personal data and every state change: who, what, when, which
    municipality, which record, and why. ``entry_hash`` (the link) is an HMAC under the key
    ``key_id`` names (``MACHI_AUDIT_KEY``, not in the database) over every field and the previous
    entry's link, so a changed, deleted or forged entry breaks the chain
    (``python -m machi verify-audit``). Database triggers refuse UPDATE and DELETE on this table.
    """

    chain = models.CharField(max_length=16)
    sequence = models.BigIntegerField(help_text="Position in its chain, from 1.")
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    actor_username = models.CharField(max_length=150, blank=True)
    municipality_code = models.CharField(max_length=6, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    target_type = models.CharField(max_length=80, blank=True)
    target_id = models.CharField(max_length=80, blank=True)
    purpose = models.CharField(max_length=200, blank=True)
    personal_data = models.BooleanField(default=False)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.CharField(max_length=45, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)
    key_id = models.CharField(max_length=16, default="", help_text="Which chain key linked it.")

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        verbose_name = _("監査ログ")
        verbose_name_plural = _("監査ログ")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["chain", "sequence"], name="audit_chain_sequence_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.chain}#{self.sequence} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValidationError(_("監査ログは変更できません。"))
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValidationError(_("監査ログは削除できません。"))


class AuditCheckpoint(models.Model):
    """Every chain head at one moment, hashed together and time-stamped by a TSA (RFC 3161).

    Append-only (database triggers refuse UPDATE and DELETE). ``verify-audit`` checks each token
    and that every chain still holds the checkpointed entry with that link; ``audit-export``
    hands them to the prefecture, so even someone holding the chain key cannot rewrite history
    from before a checkpoint unseen. Numbered from 1, each naming its predecessor's digest.
    """

    number = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField()
    previous_digest = models.CharField(max_length=64)
    heads = models.JSONField(help_text="[[chain, sequence, link], …] sorted by chain.")
    digest = models.CharField(max_length=64, unique=True)
    token = models.BinaryField(help_text="DER RFC 3161 TimeStampToken over the digest.")
    tsa = models.CharField(max_length=200)
    timestamped_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar[list[str]] = ["number"]
        verbose_name = _("監査ログのチェックポイント")
        verbose_name_plural = _("監査ログのチェックポイント")

    def __str__(self) -> str:
        return f"checkpoint {self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValidationError(_("監査ログは変更できません。"))
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValidationError(_("監査ログは削除できません。"))


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("送信待ち")
    SENT = "sent", _("送信済み")
    FAILED = "failed", _("送信失敗（再試行打ち切り）")


class OutboxMessage(models.Model):
    """A side effect (e-mail, push, webhook…) saved with the change that caused it.

    Written in the same transaction as the change, delivered after commit and retried with
    back-off until it succeeds, so a failing mail server never loses or blocks an application.
    """

    kind = models.CharField(max_length=60)  # no query selects by kind
    payload = models.JSONField(default=dict)
    municipality_code = models.CharField(max_length=6, blank=True)
    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()  # indexed in outbox_due, after status
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"
