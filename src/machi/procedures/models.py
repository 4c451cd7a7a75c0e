"""Procedures (手続), their versioned forms, shared templates (横展開) and applications (申請)."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from machi.core.models import Department, Municipality, TenantOwnedModel, TimeStampedModel
from machi.procedures.formengine.cache import cached_definition
from machi.procedures.formengine.definition import FormDefinition
from machi.procedures.search import SearchGramsField
from machi.procedures.states import (
    ApplicationOutcome,
    ApplicationStatus,
    AssuranceLevel,
    Audience,
    Channel,
    LifeEvent,
    PaymentTiming,
)


class Procedure(TenantOwnedModel):
    """One administrative procedure a municipality offers (e.g. 住民票の写しの交付請求)."""

    # looked up with its municipality only: indexed by procedure_slug_unique
    slug = models.SlugField(_("URL名"), max_length=80, db_index=False)
    name = models.CharField(_("手続名"), max_length=200)
    name_kana = models.CharField(_("手続名（かな）"), max_length=400, blank=True)
    name_en = models.CharField(_("手続名（英語）"), max_length=300, blank=True)
    description = models.TextField(_("説明"), blank=True)
    description_easy = models.TextField(_("説明（やさしい日本語）"), blank=True)
    description_en = models.TextField(_("説明（英語）"), blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("担当課"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    audience = models.CharField(
        pgettext_lazy("procedure audience", "対象"),
        max_length=20,
        choices=Audience.choices,
        default=Audience.RESIDENT,
    )
    legal_basis = models.CharField(_("根拠法令"), max_length=300, blank=True)
    assurance_level = models.CharField(
        _("本人確認"), max_length=20, choices=AssuranceLevel.choices, default=AssuranceLevel.NONE
    )
    fee_yen = models.PositiveIntegerField(_("手数料（円）"), default=0)
    fee_per_copy = models.BooleanField(_("1通ごとの手数料"), default=False)
    fee_note = models.CharField(_("手数料の説明"), max_length=300, blank=True)
    payment_timing = models.CharField(
        _("支払いの時期"), max_length=20, choices=PaymentTiming.choices, default=PaymentTiming.NONE
    )
    standard_processing_days = models.PositiveIntegerField(
        _("標準処理期間（日）"), null=True, blank=True
    )
    annual_case_count = models.PositiveIntegerField(_("年間取扱件数"), null=True, blank=True)
    channels = models.JSONField(_("受付方法"), default=list, blank=True)
    attachments_note = models.TextField(_("添付書類"), blank=True)
    life_events = models.JSONField(_("ライフイベント"), default=list, blank=True)
    keywords = models.CharField(_("キーワード"), max_length=500, blank=True)
    is_published = models.BooleanField(_("公開"), default=False)
    # Normalised text for search (core.japanese.search_key of names, readings and keywords).
    search_text = models.TextField(editable=False, blank=True)
    # Its unigrams and bigrams (procedures.search): GIN-indexed on PostgreSQL, so one- and
    # two-character queries (転出, ごみ) need no scan. Derived from search_text on every save.
    search_grams = SearchGramsField(source="search_text")
    origin_template = models.ForeignKey(
        "ProcedureTemplate",
        verbose_name=_("元のテンプレート"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="adoptions",
    )
    origin_template_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["municipality_id", "name_kana", "name"]
        verbose_name = _("手続")
        verbose_name_plural = _("手続")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # a public address (procedure_get_public, adoption and staff look-ups by slug)
            models.UniqueConstraint(fields=["municipality", "slug"], name="procedure_slug_unique")
        ]
        indexes: ClassVar[list[models.Index]] = [
            # catalog search and staff lists in their order: a common key (み, 税) walks this
            # and stops at the page's 50th match instead of sorting every match
            models.Index(
                fields=["municipality", "name_kana", "name"], name="procedure_catalog_order"
            ),
        ]
        # Not declared here: procedure_search_grams, GIN on search_grams (PostgreSQL only,
        # migration 0004), for keys rare enough to fetch every match.

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "search_text" in update_fields:
            kwargs["update_fields"] = {*update_fields, "search_grams"}
        super().save(*args, **kwargs)

    @property
    def offers_online(self) -> bool:
        return Channel.ONLINE in self.channels


class FormVersion(TimeStampedModel):
    """One version of a procedure's form definition (see ``procedures.formengine``).

    Published versions never change: applications keep the version they were made with.
    """

    # indexed as the prefix of form_version_unique
    procedure = models.ForeignKey(
        Procedure, on_delete=models.CASCADE, related_name="form_versions", db_index=False
    )
    number = models.PositiveIntegerField(_("版"))
    definition = models.JSONField(_("様式定義"))
    definition_sha256 = models.CharField(max_length=64)
    published_at = models.DateTimeField(_("公開日時"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering: ClassVar[list[str]] = ["procedure_id", "-number"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["procedure", "number"], name="form_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.procedure} v{self.number}"

    @property
    def version_id(self) -> str:
        """Stable identifier of this exact definition, included in signed submissions."""
        return f"{self.procedure_id}:{self.number}:{self.definition_sha256[:16]}"

    @property
    def form(self) -> FormDefinition:
        """The parsed definition, parsed once per process (keyed by id and definition hash)."""
        if self.pk is None or not self.definition_sha256:
            return FormDefinition.from_json(self.definition)
        return cached_definition((self.pk, self.definition_sha256), self.definition)


class ProcedureTemplate(TenantOwnedModel):
    """A procedure published for other municipalities to adopt (横展開).

    ``municipality`` is the publisher (a municipality or the prefecture).
    """

    source = models.ForeignKey(
        Procedure, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    name = models.CharField(_("テンプレート名"), max_length=200)
    version = models.PositiveIntegerField(default=1)
    snapshot = models.JSONField(_("手続と様式の内容"))
    published_at = models.DateTimeField(_("公開日時"), auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]
        verbose_name = _("手続テンプレート")
        verbose_name_plural = _("手続テンプレート")

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Application(TenantOwnedModel):
    """A resident's application (申請) for one procedure, from draft to completion."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Not indexed: no query selects applications by procedure or form version (drafts are
    # found by applicant or id); only deleting a procedure or version would scan, to refuse.
    procedure = models.ForeignKey(
        Procedure, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    form_version = models.ForeignKey(
        FormVersion, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # indexed as the prefix of application_by_applicant
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    contact_email = models.EmailField(_("連絡先メールアドレス"), blank=True)
    status = models.CharField(
        _("状態"), max_length=30, choices=ApplicationStatus.choices, default=ApplicationStatus.DRAFT
    )
    outcome = models.CharField(
        _("結果"), max_length=20, choices=ApplicationOutcome.choices, blank=True
    )
    channel = models.CharField(_("受付方法"), max_length=20, choices=Channel.choices)
    answers = models.JSONField(_("入力内容"), default=dict, blank=True)
    cleaned = models.JSONField(_("確定した内容"), default=dict, blank=True)
    current_step = models.CharField(max_length=80, blank=True)
    receipt_number = models.CharField(_("受付番号"), max_length=32, null=True, blank=True)
    submitted_at = models.DateTimeField(_("申請日時"), null=True, blank=True)
    completed_at = models.DateTimeField(_("完了日時"), null=True, blank=True)
    idempotency_key = models.CharField(max_length=80, null=True, blank=True)
    resume_token_hash = models.CharField(max_length=64, blank=True)
    fee_yen = models.PositiveIntegerField(_("手数料（円）"), default=0)
    # Language the applicant used, so notifications reach them in it (not in the staff's).
    language = models.CharField(max_length=10, blank=True)
    signature_evidence_id = models.CharField(max_length=64, blank=True)
    signer_name = models.CharField(_("署名者"), max_length=200, blank=True)
    # Optimistic lock: every write bumps it; a stale writer gets a clear conflict.
    lock_version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at"]
        verbose_name = _("申請")
        verbose_name_plural = _("申請")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # one 受付番号 per municipality; also serves every query by municipality
            models.UniqueConstraint(
                fields=["municipality", "receipt_number"], name="application_receipt_unique"
            ),
            # a retried API submission finds the first one (_submitted_with_key)
            models.UniqueConstraint(
                fields=["municipality", "idempotency_key"], name="application_idempotency_unique"
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            # a resident's applications, newest first (application_list_for_applicant, drafts)
            models.Index(fields=["applicant", "-created_at"], name="application_by_applicant"),
            # a resume link's draft (application_resume); only drafts with a live link
            models.Index(
                fields=["resume_token_hash"],
                name="application_resume_link",
                condition=~models.Q(resume_token_hash=""),
            ),
        ]

    def __str__(self) -> str:
        return self.receipt_number or str(self.id)


class StatusChange(models.Model):
    """One step in an application's history, shown to the applicant unless internal."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=30, choices=ApplicationStatus.choices, blank=True)
    to_status = models.CharField(max_length=30, choices=ApplicationStatus.choices)
    at = models.DateTimeField(auto_now_add=True)
    # Not indexed: no query selects by actor; users are deactivated, not deleted (a deletion
    # would scan once to clear it).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class CorrectionRequest(models.Model):
    """A request to the applicant to correct fields or files (補正依頼)."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="corrections"
    )
    message = models.TextField(_("補正の内容"))
    fields = models.JSONField(_("修正する項目"), default=list, blank=True)
    deadline = models.DateField(_("期限"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answer_note = models.TextField(_("回答"), blank=True)
    # The cleaned value of each flagged field before and after the answer:
    # [{"path": "request.purpose", "before": ..., "after": ...}] (shown to staff as a diff).
    changes = models.JSONField(_("補正前後の内容"), default=list, blank=True)
    # The new card signature's evidence when the answer changed a card-signed application.
    signature_evidence_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-requested_at"]

    def __str__(self) -> str:
        return f"補正 {self.application_id} ({self.deadline})"


class ReceiptCounter(models.Model):
    """Next receipt number (受付番号) per municipality and year; locked while taken."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["municipality", "year"], name="receipt_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.municipality_id}/{self.year}: {self.last_number}"


__all__ = [
    "Application",
    "ApplicationOutcome",
    "ApplicationStatus",
    "AssuranceLevel",
    "Audience",
    "Channel",
    "CorrectionRequest",
    "FormVersion",
    "LifeEvent",
    "PaymentTiming",
    "Procedure",
    "ProcedureTemplate",
    "ReceiptCounter",
    "StatusChange",
]
