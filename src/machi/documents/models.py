"""Documents Machi issues: per-procedure templates and the records of the signed PDFs.

The signed PDF itself is a file in the ``documents`` storage (see ``storage.py``: a private
folder, or S3-compatible object storage); the row keeps its storage name, size and SHA-256,
and every read checks them (``services.document_read``). The file is written before the
row's transaction and removed if that transaction rolls back, so a committed row always names
bytes that were written (see docs/decisions/0005-pdf-documents-pades.md).
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from machi.core.models import TenantOwnedModel
from machi.procedures.states import ApplicationOutcome


class DocumentKind(models.TextChoices):
    PERMIT = "permit", _("許可書")
    CERTIFICATE = "certificate", _("証明書")
    NOTICE = "notice", _("通知書")


# The application's outcome when a document of this kind completes it.
KIND_OUTCOME: dict[str, str] = {
    DocumentKind.PERMIT: ApplicationOutcome.GRANTED,
    DocumentKind.CERTIFICATE: ApplicationOutcome.ISSUED,
    DocumentKind.NOTICE: ApplicationOutcome.REJECTED,
}


class DocumentStatus(models.TextChoices):
    ISSUED = "issued", _("発行済み")
    REVOKED = "revoked", _("取消し")


class DocumentTemplate(TenantOwnedModel):
    """The wording of one kind of document for one procedure.

    ``title`` and ``body`` are Django template text rendered with plain data only (see
    ``rendering.template_context``): ``{{ applicant_name }}``, ``{{ receipt_number }}``,
    ``{{ issue_date }}`` (和暦), ``{{ answers.<step>.<field> }}``, ``{{ display.<step>.<field> }}``,
    ``{% for row in rows %}…``. Procedures without one use ``defaults.DEFAULT_TEMPLATES``.
    """

    # indexed as the prefix of document_template_one_per_kind
    procedure = models.ForeignKey(
        "procedures.Procedure",
        verbose_name=_("手続"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    kind = models.CharField(_("文書の種類"), max_length=20, choices=DocumentKind.choices)
    title = models.CharField(_("表題"), max_length=200)
    body = models.TextField(_("本文"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering: ClassVar[list[str]] = ["procedure_id", "kind"]
        verbose_name = _("文書テンプレート")
        verbose_name_plural = _("文書テンプレート")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["procedure", "kind"], name="document_template_one_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.procedure_id} {self.kind}: {self.title}"


class IssuedDocument(TenantOwnedModel):
    """One signed and time-stamped PDF issued for an application.

    ``verification_id`` (12 characters of Crockford base32, 60 random bits) is printed on the
    document with a QR code to ``/verify/<id>/``. ``sha256`` is the digest of the exact bytes
    issued: an uploaded copy is Machi's document only if its digest matches, and the stored
    file (``storage_name``) is served only while its size and digest still match.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # indexed as the prefix of issued_document_by_app
    application = models.ForeignKey(
        "procedures.Application",
        verbose_name=_("申請"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    kind = models.CharField(_("文書の種類"), max_length=20, choices=DocumentKind.choices)
    title = models.CharField(_("表題"), max_length=200)
    verification_id = models.CharField(_("検証ID"), max_length=12, unique=True)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveIntegerField(_("サイズ（バイト）"))
    # Where the PDF is in the "documents" storage (random, never reused).
    storage_name = models.CharField(_("保存名"), max_length=200, unique=True, editable=False)
    pades_level = models.CharField(max_length=10, default="B-LT")
    signer_subject = models.CharField(_("署名者"), max_length=300)
    signer_serial = models.CharField(max_length=64)
    signed_at = models.DateTimeField(_("署名日時"))
    timestamp_at = models.DateTimeField(_("タイムスタンプの時刻"))
    tsa_name = models.CharField(_("時刻認証局"), max_length=300)
    note = models.TextField(_("備考"), blank=True)
    status = models.CharField(
        _("状態"), max_length=10, choices=DocumentStatus.choices, default=DocumentStatus.ISSUED
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(_("取消日時"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revocation_reason = models.TextField(_("取消しの理由"), blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at"]
        verbose_name = _("発行文書")
        verbose_name_plural = _("発行文書")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # At most one valid document of a kind per application (issuing is idempotent).
            models.UniqueConstraint(
                fields=["application", "kind"],
                condition=models.Q(status="issued"),
                name="issued_document_one_per_kind",
            )
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["application", "kind"], name="issued_document_by_app"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.display_verification_id})"

    @property
    def display_verification_id(self) -> str:
        """``ABCD-EFGH-JKMN``: the id as printed."""
        return format_verification_id(self.verification_id)

    @property
    def outcome(self) -> str:
        return KIND_OUTCOME[self.kind]


def format_verification_id(value: str) -> str:
    """Group a verification id in fours for reading aloud and typing."""
    return "-".join(value[i : i + 4] for i in range(0, len(value), 4))
