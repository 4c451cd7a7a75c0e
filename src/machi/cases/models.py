"""Case processing (案件): the staff side of an application, its timings and electronic approval.

A :class:`Case` mirrors a few fields of its :class:`~machi.procedures.models.Application`
(status, procedure, channel, dates) so the queue can filter and sort one table with covering
indexes even at a million cases. The application stays the source of truth: its status only
changes through ``procedures.services.application_transition`` and the case follows
(``cases.services.case_sync``). The optimistic lock is ``Application.lock_version``.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from machi.core.models import Department, Role, TenantOwnedModel
from machi.procedures.states import ApplicationOutcome, ApplicationStatus, Channel

OPEN_STATUSES: tuple[str, ...] = (
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.IN_REVIEW,
    ApplicationStatus.CORRECTION_REQUESTED,
    ApplicationStatus.APPROVING,
)
CLOSED_STATUSES: tuple[str, ...] = (ApplicationStatus.COMPLETED, ApplicationStatus.WITHDRAWN)


class ApprovalState(models.TextChoices):
    """Where the case's latest approval request (決裁) stands; blank when none was started."""

    NONE = "", _("なし")
    PENDING = "pending", _("決裁中")
    APPROVED = "approved", _("決裁済み")
    SENT_BACK = "sent_back", _("差戻し")
    REJECTED = "rejected", _("否決")


class Case(TenantOwnedModel):
    """The staff's record of one submitted application (one-to-one)."""

    application = models.OneToOneField(
        "procedures.Application",
        verbose_name=_("申請"),
        on_delete=models.CASCADE,
        related_name="case",
    )
    # The composite indexes below lead with these keys, so no single-column indexes.
    procedure = models.ForeignKey(
        "procedures.Procedure",
        verbose_name=_("手続"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("担当課"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("担当者"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # Mirrors of the application (kept in step by services.case_sync).
    status = models.CharField(_("状態"), max_length=30, choices=ApplicationStatus.choices)
    is_open = models.BooleanField(_("処理中"), default=True)
    outcome = models.CharField(
        _("結果"), max_length=20, choices=ApplicationOutcome.choices, blank=True
    )
    channel = models.CharField(_("受付方法"), max_length=20, choices=Channel.choices)
    receipt_number = models.CharField(_("受付番号"), max_length=32, blank=True)
    submitted_at = models.DateTimeField(_("申請日時"))
    completed_at = models.DateTimeField(_("完了日時"), null=True, blank=True)
    due_date = models.DateField(_("処理期限（標準処理期間）"), null=True, blank=True)
    approval_state = models.CharField(
        _("決裁"), max_length=20, choices=ApprovalState.choices, blank=True, default=""
    )
    correction_count = models.PositiveIntegerField(_("補正依頼の回数"), default=0)
    # Last procedures.StatusChange folded into the timings, so syncing is idempotent.
    history_applied_id = models.BigIntegerField(default=0)

    class Meta:
        ordering: ClassVar[list[str]] = ["due_date", "id"]
        verbose_name = _("案件")
        verbose_name_plural = _("案件")
        indexes: ClassVar[list[models.Index]] = [
            # Default queue: open cases of a municipality, most urgent first. The tab counts
            # walk these four (per status, and open for 期限超過); the assignee rides along
            # (PostgreSQL INCLUDE) so "unassigned" counts stay index-only scans.
            models.Index(
                fields=["municipality", "is_open", "due_date", "id"],
                name="case_queue",
                include=["assignee"],
            ),
            models.Index(
                fields=["municipality", "status", "due_date", "id"],
                name="case_status",
                include=["assignee"],
            ),
            models.Index(
                fields=["department", "is_open", "due_date", "id"],
                name="case_department",
                include=["assignee"],
            ),
            models.Index(
                fields=["department", "status", "due_date", "id"],
                name="case_department_status",
                include=["assignee"],
            ),
            models.Index(fields=["assignee", "is_open", "due_date", "id"], name="case_assignee"),
            models.Index(fields=["municipality", "submitted_at"], name="case_submitted"),
            models.Index(fields=["procedure", "status"], name="case_procedure"),
            # Prefecture-wide views: open cases (or one status) in due order across
            # municipalities, without sorting every matching row.
            models.Index(fields=["is_open", "due_date", "id"], name="case_open_due"),
            models.Index(fields=["status", "due_date", "id"], name="case_status_due"),
        ]

    def __str__(self) -> str:
        return self.receipt_number or str(self.application_id)


class CaseNote(models.Model):
    """An internal note (メモ) on a case; never shown to the applicant."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    text = models.TextField(_("メモ"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.text[:20]}"


class CaseEventKind(models.TextChoices):
    CREATED = "created", _("案件を作成")
    ASSIGNED = "assigned", _("担当者を変更")
    NOTE = "note", _("メモを追加")
    APPROVAL_STARTED = "approval_started", _("決裁を起案")
    APPROVAL_DECIDED = "approval_decided", _("決裁の判断")
    APPROVAL_COMPLETED = "approval_completed", _("決裁が完了")
    INTAKE = "intake", _("窓口・紙の受付")


class CaseEvent(models.Model):
    """A staff-side event in a case's history (status changes live in procedures.StatusChange)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=CaseEventKind.choices)
    # Not indexed: no query selects by actor; users are deactivated, not deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    at = models.DateTimeField(auto_now_add=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.kind}"


class StepTiming(models.Model):
    """Time a case spent in one state (受付, 審査中, 補正依頼中, 決裁中), for reporting."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="timings")
    # indexed as the prefix of steptiming_procedure
    procedure = models.ForeignKey(
        "procedures.Procedure", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    step = models.CharField(max_length=30, choices=ApplicationStatus.choices)
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    # Not indexed: no query selects by actor; users are deactivated, not deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering: ClassVar[list[str]] = ["entered_at", "id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["procedure", "step"], name="steptiming_procedure"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.step}"


# --- Electronic approval (電子決裁) -------------------------------------------------------------


class ApprovalRoute(TenantOwnedModel):
    """A procedure's approval route. Without one, the default route applies (one 決裁者 step).

    ``approval_required=False`` marks procedures completed without 決裁 (e.g. routine copies).
    """

    procedure = models.OneToOneField(
        "procedures.Procedure", verbose_name=_("手続"), on_delete=models.CASCADE, related_name="+"
    )
    approval_required = models.BooleanField(_("決裁が必要"), default=True)

    class Meta:
        verbose_name = _("決裁ルート")
        verbose_name_plural = _("決裁ルート")

    def __str__(self) -> str:
        return f"{self.procedure_id}"


class ApproverSpec(models.Model):
    """Who may decide a step: a named user, or holders of a role (optionally in a department)."""

    position = models.PositiveSmallIntegerField(_("順番"))
    label = models.CharField(_("名称"), max_length=60)
    role = models.CharField(_("役割"), max_length=30, choices=Role.choices, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("課"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("決裁者（指名）"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        abstract = True


class ApprovalRouteStep(ApproverSpec):
    """One step of a route. Steps sharing a ``position`` form a parallel group (合議)."""

    route = models.ForeignKey(ApprovalRoute, on_delete=models.CASCADE, related_name="steps")

    class Meta:
        ordering: ClassVar[list[str]] = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.position}: {self.label}"


class ApprovalRequestStatus(models.TextChoices):
    PENDING = "pending", _("決裁中")
    APPROVED = "approved", _("決裁済み")
    SENT_BACK = "sent_back", _("差戻し")
    REJECTED = "rejected", _("否決")


class ApprovalRequest(TenantOwnedModel):
    """One run of the route for a case (起案). The route is copied into its steps."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="approval_requests")
    status = models.CharField(
        max_length=20,
        choices=ApprovalRequestStatus.choices,
        default=ApprovalRequestStatus.PENDING,
    )
    proposed_outcome = models.CharField(
        _("起案する結果"), max_length=20, choices=ApplicationOutcome.choices
    )
    drafted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("起案者"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    comment = models.TextField(_("起案の理由"), blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.case_id} ({self.status})"


class ApprovalStepStatus(models.TextChoices):
    WAITING = "waiting", _("未到達")
    PENDING = "pending", _("判断待ち")
    APPROVED = "approved", _("承認")
    SENT_BACK = "sent_back", _("差戻し")
    REJECTED = "rejected", _("否決")
    CANCELLED = "cancelled", _("取消")


class ApprovalDecision(models.TextChoices):
    APPROVE = "approve", _("承認する")
    SEND_BACK = "send_back", _("差し戻す")
    REJECT = "reject", _("否決する")


class ApprovalStep(ApproverSpec):
    """One step of a request and its decision; ``acting_for`` is set for 代決."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="steps")
    status = models.CharField(
        max_length=20, choices=ApprovalStepStatus.choices, default=ApprovalStepStatus.WAITING
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acting_for = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("代決（本来の決裁者）"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    comment = models.TextField(_("意見"), blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.request_id}/{self.position}: {self.label} ({self.status})"


# --- Counter (書かない窓口) and paper intake ------------------------------------------------------


class IdentityDocument(models.TextChoices):
    MY_NUMBER_CARD = "my_number_card", _("マイナンバーカード")
    DRIVERS_LICENSE = "drivers_license", _("運転免許証")
    OTHER = "other", _("その他")


class ConfirmationMethod(models.TextChoices):
    TABLET_SIGNATURE = "tablet_signature", _("タブレットで本人が確認・署名")
    SIGNED_SUMMARY_SCAN = "signed_summary_scan", _("署名した控えをスキャン")
    PAPER_SCAN = "paper_scan", _("紙の申請書をスキャン")


class Intake(TenantOwnedModel):
    """How a counter or paper application was taken in: the clerk, identity check, confirmation."""

    application = models.OneToOneField(
        "procedures.Application", on_delete=models.CASCADE, related_name="intake"
    )
    channel = models.CharField(_("受付方法"), max_length=20, choices=Channel.choices)
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("受付職員"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    identity_document = models.CharField(
        _("確認した本人確認書類"), max_length=30, choices=IdentityDocument.choices, blank=True
    )
    identity_document_note = models.CharField(_("書類の名称（その他）"), max_length=100, blank=True)
    confirmed_name = models.CharField(_("確認した氏名"), max_length=200, blank=True)
    confirmed_birth_date = models.DateField(_("確認した生年月日"), null=True, blank=True)
    confirmed_address = models.CharField(_("確認した住所"), max_length=300, blank=True)
    scan_file_id = models.UUIDField(_("紙の申請書のスキャン"), null=True, blank=True)
    confirmation_method = models.CharField(
        _("本人確認の方法"), max_length=30, choices=ConfirmationMethod.choices, blank=True
    )
    confirmation_name = models.CharField(_("署名した氏名"), max_length=200, blank=True)
    confirmation_file_id = models.UUIDField(_("署名した控えのスキャン"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("確認日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("窓口・紙の受付記録")
        verbose_name_plural = _("窓口・紙の受付記録")

    def __str__(self) -> str:
        return f"{self.channel}: {self.application_id}"
